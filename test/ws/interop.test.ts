/**
 * The engine against a real client: Python's `websockets` (Debian python3-websockets, run with /usr/bin/python3)
 * over plain TCP and TLS, with and without permessage-deflate. The server here is a minimal driver written for the
 * test: it reads the HTTP/1.1 request head, checks it with validateHttp1Upgrade, answers 101 and then runs
 * WebSocketConnection over the socket, inflating and deflating with PerMessageDeflate when negotiated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { WebSocketConnection, decodeUtf8, type WebSocketEvent, acceptValue, negotiatePerMessageDeflate, selectSubprotocol, validateHttp1Upgrade } from '../../src/ws/index.js';
import { makeCertificate } from '../support/certs.js';
import { PYTHON_ECHO_TRANSCRIPT, runPythonClient } from './support.js';
import { PerMessageDeflate } from '../../src/server/websocket/deflate.js';

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

const MAX_MESSAGE = 2 * 1024 * 1024;

interface Seen {
  clientNoContextTakeover?: boolean;
  deflateAgreement?: string;
  pings: number;
  closes: { code: number; reason: string; clean: boolean }[];
}

function serveWebSocket(socket: net.Socket, seen: Seen): void {
  let head = Buffer.alloc(0);
  let conn: WebSocketConnection | undefined;
  let deflate: PerMessageDeflate | undefined;
  let pending: Promise<void> = Promise.resolve();
  const closed = (event: WebSocketEvent) => {
    if (event.type === 'closed') seen.closes.push({ code: event.code, reason: event.reason, clean: event.clean });
  };
  const handleMessage = async (data: string | Uint8Array, binary: boolean, compressed: boolean) => {
    if (conn!.readyState === 'closed') return;
    if (compressed) {
      try {
        const inflated = await deflate!.inflate(data as Uint8Array);
        if (binary) data = inflated;
        else {
          const text = decodeUtf8(inflated);
          if (text === null) return closed(conn!.failConnection(1007, 'invalid UTF-8')!);
          data = text;
        }
      } catch (error) {
        return closed(conn!.failConnection((error as { closeCode?: number }).closeCode ?? 1002, 'bad compressed message')!);
      }
    }
    if (data === 'server ping please') conn!.ping(Uint8Array.of(1, 2, 3));
    if (deflate) {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
      conn!.sendMessage(deflate.deflate(bytes), { binary: typeof data !== 'string', compressed: true });
    } else conn!.sendMessage(data);
  };
  const flush = () => {
    const out = conn!.dataToSend();
    if (out !== null) socket.write(out);
    if (conn!.isDone) socket.end();
  };
  socket.on('data', (chunk: Buffer) => {
    if (conn === undefined) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const [requestLine, ...lines] = head.subarray(0, end).toString('latin1').split('\r\n');
      const [method, , version] = requestLine!.split(' ');
      const fields = new Map<string, string>();
      for (const line of lines) {
        const colon = line.indexOf(':');
        const name = line.slice(0, colon).toLowerCase();
        const value = line.slice(colon + 1).trim();
        fields.set(name, fields.has(name) ? `${fields.get(name)}, ${value}` : value);
      }
      const result = validateHttp1Upgrade(method!, version!.replace('HTTP/', ''), (name) => fields.get(name));
      if (!result.ok) {
        socket.end(`HTTP/1.1 ${result.status} Bad\r\ncontent-length: 0\r\n\r\n`);
        return;
      }
      const agreement = negotiatePerMessageDeflate(result.extensions, { serverNoContextTakeover: true, clientNoContextTakeover: seen.clientNoContextTakeover });
      seen.deflateAgreement = agreement?.response;
      if (agreement) deflate = new PerMessageDeflate(agreement, MAX_MESSAGE);
      const protocol = selectSubprotocol(result.protocols, 'chat');
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n' +
          `sec-websocket-accept: ${acceptValue(result.key!, sha1)}\r\n` +
          (protocol ? `sec-websocket-protocol: ${protocol}\r\n` : '') +
          (agreement ? `sec-websocket-extensions: ${agreement.response}\r\n` : '') +
          '\r\n',
      );
      conn = new WebSocketConnection({ role: 'server', perMessageDeflate: deflate !== undefined, limits: { maxMessageSize: MAX_MESSAGE } });
      chunk = head.subarray(end + 4);
      if (chunk.byteLength === 0) return;
    }
    for (const event of conn!.receive(chunk)) {
      if (event.type === 'message') {
        // Messages are handled in arrival order, also when some need asynchronous inflation.
        const message = event;
        pending = pending.then(() => handleMessage(message.data, message.binary, message.compressed));
      } else if (event.type === 'ping') seen.pings++;
      else pending = pending.then(() => closed(event));
    }
    pending = pending.then(flush);
  });
  socket.on('close', () => deflate?.close());
  socket.on('error', () => {});
}

for (const secure of [false, true]) {
  for (const compression of ['none', 'deflate', 'deflate-no-context'] as const) {
    test(`python websockets over ${secure ? 'TLS' : 'TCP'}, compression: ${compression}`, async () => {
      const certificate = makeCertificate();
      const seen: Seen = { pings: 0, closes: [], clientNoContextTakeover: compression === 'deflate-no-context' };
      const server = secure
        ? tls.createServer({ cert: certificate.cert, key: certificate.key }, (socket) => serveWebSocket(socket, seen))
        : net.createServer((socket) => serveWebSocket(socket, seen));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      try {
        assert.deepEqual(await runPythonClient(`${secure ? 'wss' : 'ws'}://localhost:${port}/chat`, compression === 'none' ? 'none' : 'deflate'), PYTHON_ECHO_TRANSCRIPT);
        assert.equal(seen.pings, 1);
        // websockets 10 offers permessage-deflate with client_max_window_bits.
        assert.equal(
          seen.deflateAgreement,
          {
            none: undefined,
            deflate: 'permessage-deflate; server_no_context_takeover; client_max_window_bits=15',
            'deflate-no-context': 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15',
          }[compression],
        );
        assert.deepEqual(seen.closes, [{ code: 4000, reason: 'bye', clean: true }]);
      } finally {
        server.close();
      }
    });
  }
}

test('a deflate bomb: 64 MiB of zeros in a few KiB fails with 1009 and the inflater stops at the limit', async () => {
  const seen: Seen = { pings: 0, closes: [] };
  const server = net.createServer((socket) => serveWebSocket(socket, seen));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const before = process.memoryUsage().rss;
  try {
    assert.deepEqual(await runPythonClient(`ws://localhost:${port}/`, 'bomb'), ['close 1009']);
    assert.deepEqual(seen.closes, [{ code: 1009, reason: 'bad compressed message', clean: false }]);
    // Far less than the 64 MiB the message inflates to (the limit is 2 MiB).
    assert.ok(process.memoryUsage().rss - before < 48 * 1024 * 1024);
  } finally {
    server.close();
  }
});
