/**
 * WebSockets through serve(): the fetch handler answers the handshake with info.upgradeWebSocket(), the transport
 * turns the exchange into a tunnel (HTTP/1.1 Upgrade → the socket; HTTP/2 extended CONNECT, RFC 8441 → the
 * stream), and the `websocket` handler runs the socket. Peers: the npm `ws` client, node:http2 with the engine's
 * client role over the stream, Python's `websockets`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { ServeInfo } from '../../src/server/types.js';
import type { ServerWebSocket, WebSocketHandler } from '../../src/server/websocket/index.js';
import { WebSocketConnection, type WebSocketEvent } from '../../src/ws/index.js';
import { makeCertificate } from '../support/certs.js';
import { startServer, waitFor } from '../support/server.js';
import { PYTHON_ECHO_TRANSCRIPT, runPythonClient } from './support.js';

const echo: WebSocketHandler<{ path: string }> = {
  open(ws) {
    ws.subscribe('news');
  },
  message(ws: ServerWebSocket<{ path: string }>, data) {
    if (data === 'server ping please') ws.ping('abc');
    if (data === 'path?') ws.send(ws.data.path);
    else ws.send(data);
  },
};

/** A fetch handler that upgrades /chat and answers everything else as plain HTTP. */
function app(request: Request, info: ServeInfo): Response {
  const url = new URL(request.url);
  if (url.pathname === '/chat') return info.upgradeWebSocket!(request, { protocol: 'chat', data: { path: url.pathname } });
  return new Response(`plain ${request.method} ${url.pathname}`);
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    ws.once('message', (data, binary) => resolve(binary ? `binary ${(data as Buffer).byteLength}` : data.toString()));
    ws.once('error', reject);
  });
}

/** Sends a WebSocket handshake request on a plain socket; resolves with everything read until the server closed. */
async function handshakeOnRawSocket(port: number, path: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    `GET ${path} HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
      'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n',
  );
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

for (const secure of [false, true]) {
  test(`the npm ws client over HTTP/1.1 ${secure ? 'TLS' : 'cleartext'}: echo, publish, stats, close with 1001 on shutdown`, async () => {
    const server = await startServer(app, { websocket: echo, ...(secure ? {} : { tls: false }) });
    try {
      const url = `${secure ? 'wss' : 'ws'}://127.0.0.1:${server.port}/chat`;
      const ws = new WebSocket(url, ['chat'], { rejectUnauthorized: false });
      await once(ws, 'open');
      assert.equal(ws.protocol, 'chat');
      ws.send('héllo');
      assert.equal(await nextMessage(ws), 'héllo');
      ws.send(randomBytes(100_000));
      assert.equal(await nextMessage(ws), 'binary 100000');
      ws.send('path?');
      assert.equal(await nextMessage(ws), '/chat');
      assert.equal(server.server.publish('news', 'extra'), 1);
      assert.equal(await nextMessage(ws), 'extra');
      const stats = server.server.stats();
      assert.equal(stats.webSockets, 1);
      assert.equal(stats.webSocketMessagesIn, 3);
      // The exchange that became the WebSocket is finished (logged, not in flight).
      assert.equal(stats.inFlightRequests, 0);
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      await server.close();
      assert.equal(await closed, 1001);
      assert.equal(server.server.stats().webSockets, 0);
      assert.deepEqual(server.errors, []);
    } finally {
      await server.close();
    }
  });
}

test('with a websocket handler, an Upgrade request answered with an ordinary Response gets it whole, then the connection closes', async () => {
  const server = await startServer(app, { websocket: echo, tls: false });
  try {
    const text = await handshakeOnRawSocket(server.port, '/other');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nconnection: close\r\n/i);
    assert.match(text, /\r\n\r\nplain GET \/other$/);
    await waitFor(() => server.server.stats().inFlightRequests === 0, 'the exchange to finish');
    assert.deepEqual(server.errors, []);
  } finally {
    await server.close();
  }
});

test('without a websocket handler, Upgrade requests are served as ordinary requests and the connection closes', async () => {
  const server = await startServer(app, { tls: false });
  try {
    const text = await handshakeOnRawSocket(server.port, '/chat-free');
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\n\r\nplain GET \/chat-free$/);
    // upgradeWebSocket() without a handler is an application error: a 500, logged.
    const refused = await fetch(`http://127.0.0.1:${server.port}/chat`);
    assert.equal(refused.status, 500);
    assert.match(String(server.errors[0]?.error), /needs a websocket handler/);
  } finally {
    await server.close();
  }
});

test('Python websockets over wss: the echo transcript through serve()', async () => {
  const closes: [number, string][] = [];
  const server = await startServer(app, {
    hostname: 'localhost',
    websocket: { ...echo, close: (_ws, code, reason) => void closes.push([code, reason]) },
  });
  try {
    assert.deepEqual(await runPythonClient(`wss://localhost:${server.port}/chat`, 'none'), PYTHON_ECHO_TRANSCRIPT);
    await waitFor(() => closes.length === 1, 'the close handler');
    assert.deepEqual(closes, [[4000, 'bye']]);
    assert.deepEqual(server.errors, []);
  } finally {
    await server.close();
  }
});

/** A WebSocket client (the engine's client role) over one node:http2 stream. */
class StreamClient {
  readonly events: WebSocketEvent[] = [];
  readonly conn = new WebSocketConnection({ role: 'client', maskKey: () => randomBytes(4) });
  private waiters: (() => void)[] = [];
  ended = false;

  constructor(readonly stream: http2.ClientHttp2Stream) {
    stream.on('data', (chunk: Buffer) => {
      this.events.push(...this.conn.receive(chunk));
      this.flush();
      this.wake();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake();
    });
    stream.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  flush(): void {
    const out = this.conn.dataToSend();
    if (out !== null && !this.stream.destroyed) this.stream.write(out);
  }

  send(data: string | Uint8Array): void {
    this.conn.sendMessage(data);
    this.flush();
  }

  close(code: number, reason: string): void {
    this.conn.close(code, reason);
    this.flush();
  }

  async until(predicate: (events: WebSocketEvent[]) => boolean): Promise<WebSocketEvent[]> {
    while (!predicate(this.events)) {
      if (this.ended) throw new Error(`stream ended; events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.events;
  }

  messages(): (string | Uint8Array)[] {
    return this.events.flatMap((event) => (event.type === 'message' ? [event.data] : []));
  }
}

test('HTTP/2 extended CONNECT (RFC 8441): advertised with a websocket handler, then WebSocket frames over the stream', async () => {
  const closes: number[] = [];
  const server = await startServer(app, { websocket: { ...echo, close: (_ws, code) => void closes.push(code) } });
  const session = http2.connect(server.origin, { ca: makeCertificate().cert, servername: 'localhost' });
  try {
    // RFC 8441 §3: the client may use :protocol only after the server's SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
    const [settings] = (await once(session, 'remoteSettings')) as [http2.Settings];
    assert.equal(settings.enableConnectProtocol, true);
    // RFC 8441 §5.1: the example request shape.
    const stream = session.request(
      {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':scheme': 'https',
        ':path': '/chat',
        ':authority': `localhost:${server.port}`,
        'sec-websocket-protocol': 'chat, other',
        'sec-websocket-version': '13',
        origin: `https://localhost:${server.port}`,
      },
      { endStream: false },
    );
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(headers[':status'], 200);
    assert.equal(headers['sec-websocket-protocol'], 'chat');
    assert.equal(headers['sec-websocket-accept'], undefined);
    const client = new StreamClient(stream);
    client.send('over h2');
    const big = randomBytes(300_000);
    client.send(big);
    await client.until(() => client.messages().length === 2);
    assert.equal(client.messages()[0], 'over h2');
    assert.deepEqual(Buffer.from(client.messages()[1] as Uint8Array), big);
    assert.equal(server.server.publish('news', 'to all'), 1);
    await client.until(() => client.messages().length === 3);
    assert.equal(client.messages()[2], 'to all');
    client.close(4001, 'done');
    await client.until((events) => events.some((event) => event.type === 'closed'));
    await waitFor(() => closes.length === 1, 'the close handler');
    assert.deepEqual(closes, [4001]);
    await waitFor(() => server.server.stats().webSockets === 0, 'the socket to leave the hub');
    // Ordinary requests on the same connection are unaffected.
    const plain = session.request({ ':path': '/x' });
    let body = '';
    plain.setEncoding('utf8');
    plain.on('data', (chunk: string) => (body += chunk));
    await once(plain, 'end');
    assert.equal(body, 'plain GET /x');
    assert.deepEqual(server.errors, []);
  } finally {
    session.destroy();
    await server.close();
  }
});

test('HTTP/2 CONNECT without :protocol keeps its 501 with a websocket handler; extended CONNECT is not advertised without one', async () => {
  const withHandler = await startServer(app, { websocket: echo });
  try {
    const session = http2.connect(withHandler.origin, { ca: makeCertificate().cert, servername: 'localhost' });
    const stream = session.request({ ':method': 'CONNECT', ':authority': 'example.test:443' }, { endStream: false });
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(headers[':status'], 501);
    session.destroy();
  } finally {
    await withHandler.close();
  }
  const without = await startServer(app);
  try {
    const session = http2.connect(without.origin, { ca: makeCertificate().cert, servername: 'localhost' });
    const [settings] = (await once(session, 'remoteSettings')) as [http2.Settings];
    assert.notEqual(settings.enableConnectProtocol, true);
    session.destroy();
  } finally {
    await without.close();
  }
});
