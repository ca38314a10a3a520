/**
 * WebSockets over HTTP/3 (RFC 9220) through serve(): SETTINGS_ENABLE_CONNECT_PROTOCOL is advertised only with a
 * websocket handler (as on HTTP/2), an extended CONNECT with :protocol=websocket reaches the fetch handler, and
 * info.upgradeWebSocket() turns the request stream into the WebSocket's tunnel. The client is the project's own
 * QUIC + HTTP/3 client over real UDP (test/quic/support/udp-client.ts) with the WebSocket engine's client role on
 * the stream. Chromium 156 here names no feature or switch for WebSockets over HTTP/3 (its WebSockets go over HTTP/2
 * or HTTP/1.1), and quic-go 0.29's http3 client has no extended CONNECT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ServeInfo } from '../../src/server/types.js';
import type { WebSocketHandler } from '../../src/server/websocket/index.js';
import { WebSocketConnection, type WebSocketEvent } from '../../src/ws/index.js';
import type { H3Settings } from '../../src/h3/index.js';
import { startServer, waitFor } from '../support/server.js';
import { UdpQuicClient } from '../quic/support/udp-client.js';

const echo: WebSocketHandler<{ path: string }> = {
  open(ws) {
    ws.subscribe('news');
  },
  message(ws, data) {
    ws.send(data === 'path?' ? ws.data.path : data);
  },
};

function app(request: Request, info: ServeInfo): Response {
  const url = new URL(request.url);
  if (url.pathname === '/chat') return info.upgradeWebSocket!(request, { protocol: 'chat', data: { path: url.pathname } });
  return new Response(`plain ${request.method} ${url.pathname}`);
}

/** The server's SETTINGS as the client saw them. */
async function serverSettings(client: UdpQuicClient): Promise<H3Settings> {
  await client.waitFor(() => client.h3Events.some((event) => event.type === 'settings'), "the server's SETTINGS");
  const event = client.h3Events.find((e) => e.type === 'settings');
  return (event as { settings: H3Settings }).settings;
}

/** A WebSocket client (the engine's client role) over one HTTP/3 request stream of `client`. */
class H3WebSocket {
  readonly events: WebSocketEvent[] = [];
  readonly conn = new WebSocketConnection({ role: 'client', maskKey: () => randomBytes(4) });
  private seen = 0;

  constructor(
    private readonly client: UdpQuicClient,
    readonly streamId: number,
  ) {}

  /** Feeds the stream's new DATA to the WebSocket engine. */
  private pump(): void {
    const events = this.client.h3Events;
    for (; this.seen < events.length; this.seen++) {
      const event = events[this.seen]!;
      if (event.type === 'data' && event.streamId === this.streamId && event.data.byteLength > 0) {
        this.events.push(...this.conn.receive(event.data));
        this.flush();
      }
    }
  }

  private flush(): void {
    const out = this.conn.dataToSend();
    if (out !== null) this.client.h3!.sendData(this.streamId, out, false);
    this.client.service();
  }

  /** Runs `action` on the WebSocket engine, then sends what it queued on the stream. */
  act(action: (conn: WebSocketConnection) => void): void {
    action(this.conn);
    this.flush();
  }

  until(predicate: () => boolean, what: string): Promise<void> {
    return this.client.waitFor(() => {
      this.pump();
      return predicate();
    }, what);
  }

  messages(): (string | Uint8Array)[] {
    return this.events.flatMap((event) => (event.type === 'message' ? [event.data] : []));
  }
}

const connectFields = (port: number, path: string): string[] => [
  ':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':path', path, ':authority', `localhost:${port}`,
  'sec-websocket-protocol', 'chat, other', 'sec-websocket-version', '13', 'origin', `https://localhost:${port}`,
];

test('WebSockets over HTTP/3 (RFC 9220): advertised with a websocket handler, echo, 300 KB, publish, close code, stats', async () => {
  const closes: number[] = [];
  const server = await startServer(app, { websocket: { ...echo, close: (_ws, code) => void closes.push(code) } });
  const client = await UdpQuicClient.connect({ port: server.port, h3: true });
  try {
    await client.handshake();
    // RFC 9220 §3: the client may send :protocol only after SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
    assert.equal((await serverSettings(client)).enableConnectProtocol, true);
    const streamId = client.h3!.sendRequest(connectFields(server.port, '/chat'), false);
    client.service();
    await client.waitFor(() => client.h3Events.some((e) => e.type === 'response' && e.streamId === streamId), 'the 200');
    const response = client.h3Events.find((e) => e.type === 'response' && e.streamId === streamId)!;
    assert.ok(response.type === 'response');
    assert.equal(response.status, 200);
    assert.equal(response.endStream, false);
    const headers = new Map<string, string>();
    for (let i = 0; i < response.headers.length; i += 2) headers.set(response.headers[i]!, response.headers[i + 1]!);
    assert.equal(headers.get('sec-websocket-protocol'), 'chat');
    assert.equal(headers.get('sec-websocket-accept'), undefined, 'no accept key on extended CONNECT');

    const ws = new H3WebSocket(client, streamId);
    const big = randomBytes(300_000);
    ws.act((conn) => {
      conn.sendMessage('over h3');
      conn.sendMessage(big);
      conn.sendMessage('path?');
    });
    await ws.until(() => ws.messages().length === 3, 'three echoes');
    assert.equal(ws.messages()[0], 'over h3');
    assert.deepEqual(Buffer.from(ws.messages()[1] as Uint8Array), big);
    assert.equal(ws.messages()[2], '/chat');
    assert.equal(server.server.publish('news', 'to all'), 1);
    await ws.until(() => ws.messages().length === 4, 'the published message');
    assert.equal(ws.messages()[3], 'to all');
    const stats = server.server.stats();
    assert.equal(stats.webSockets, 1);
    assert.equal(stats.inFlightRequests, 0, 'the exchange that became the WebSocket is finished');

    ws.act((conn) => conn.close(4001, 'done'));
    await ws.until(() => ws.events.some((event) => event.type === 'closed'), 'the closing handshake');
    await waitFor(() => closes.length === 1, 'the close handler');
    assert.deepEqual(closes, [4001]);
    await waitFor(() => server.server.stats().webSockets === 0, 'the socket to leave the hub');
    // Ordinary requests on the same connection are unaffected.
    const plain = await client.request('/x');
    assert.deepEqual(plain, { status: 200, body: 'plain GET /x' });
    assert.deepEqual(server.errors, []);
  } finally {
    await client.close();
    await server.close();
  }
});

test('HTTP/3 without a websocket handler: extended CONNECT is not advertised; CONNECT without :protocol gets 501 either way', async () => {
  const without = await startServer(app);
  const withHandler = await startServer(app, { websocket: echo });
  const plainClient = await UdpQuicClient.connect({ port: without.port, h3: true });
  const wsClient = await UdpQuicClient.connect({ port: withHandler.port, h3: true });
  try {
    await plainClient.handshake();
    assert.equal((await serverSettings(plainClient)).enableConnectProtocol, false);
    // Our client engine refuses to send :protocol to a server that did not advertise it (RFC 9220 §3).
    assert.throws(() => plainClient.h3!.sendRequest(connectFields(without.port, '/chat'), false), /invalid request/);

    await wsClient.handshake();
    assert.equal((await serverSettings(wsClient)).enableConnectProtocol, true);
    // RFC 9114 §4.4: a plain CONNECT asks for a proxy: 501, never the handler.
    const streamId = wsClient.h3!.sendRequest([':method', 'CONNECT', ':authority', 'example.com:443'], false);
    wsClient.service();
    await wsClient.waitFor(() => wsClient.h3Events.some((e) => e.type === 'response' && e.streamId === streamId), 'the answer to CONNECT');
    const response = wsClient.h3Events.find((e) => e.type === 'response' && e.streamId === streamId)!;
    assert.equal(response.type === 'response' && response.status, 501);
  } finally {
    await plainClient.close();
    await wsClient.close();
    await without.close();
    await withHandler.close();
  }
});
