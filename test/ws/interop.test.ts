/**
 * The engine against a real client: Python's `websockets` (Debian python3-websockets, run with /usr/bin/python3)
 * over plain TCP and TLS. The server here is a minimal driver written for the test: it reads the HTTP/1.1 request
 * head, checks it with validateHttp1Upgrade, answers 101 and then runs WebSocketConnection over the socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { WebSocketConnection, acceptValue, negotiatePerMessageDeflate, selectSubprotocol, validateHttp1Upgrade } from '../../src/ws/index.js';
import { makeCertificate } from '../helpers/certs.js';

const CLIENT = fileURLToPath(new URL('./fixtures/client.py', import.meta.url));
const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

interface Seen {
  deflateAgreement?: string;
  pings: number;
  closes: { code: number; reason: string; clean: boolean }[];
}

function serveWebSocket(socket: net.Socket, seen: Seen): void {
  let head = Buffer.alloc(0);
  let conn: WebSocketConnection | undefined;
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
      // The engine leaves inflation to the server, so this driver declines compression (§9.1: the server may
      // accept none of the offered extensions); record what negotiation would have agreed to.
      seen.deflateAgreement = negotiatePerMessageDeflate(result.extensions)?.response;
      const protocol = selectSubprotocol(result.protocols, 'chat');
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n' +
          `sec-websocket-accept: ${acceptValue(result.key!, sha1)}\r\n` +
          (protocol ? `sec-websocket-protocol: ${protocol}\r\n` : '') +
          '\r\n',
      );
      conn = new WebSocketConnection({ role: 'server' });
      chunk = head.subarray(end + 4);
      if (chunk.byteLength === 0) return;
    }
    for (const event of conn!.receive(chunk)) {
      if (event.type === 'message') {
        if (event.data === 'server ping please') conn!.ping(Uint8Array.of(1, 2, 3));
        conn!.sendMessage(event.data);
      } else if (event.type === 'ping') seen.pings++;
      else if (event.type === 'closed') seen.closes.push({ code: event.code, reason: event.reason, clean: event.clean });
    }
    flush();
  });
  socket.on('error', () => {});
}

function runClient(url: string, cafile: string, compression: 'none' | 'deflate'): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/python3', [CLIENT, url, cafile, compression], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const EXPECTED = [
  'subprotocol chat',
  'text héllo ✓',
  'binary True 1048576',
  'fragmented fragmented',
  'pong ok',
  'text server ping please',
  // The server's answering Close echoes the code, not the reason (§5.5.1).
  'close 4000',
];

for (const secure of [false, true]) {
  for (const compression of ['none', 'deflate'] as const) {
    test(`python websockets over ${secure ? 'TLS' : 'TCP'}, compression offered: ${compression}`, async () => {
      const certificate = makeCertificate();
      const seen: Seen = { pings: 0, closes: [] };
      const server = secure
        ? tls.createServer({ cert: certificate.cert, key: certificate.key }, (socket) => serveWebSocket(socket, seen))
        : net.createServer((socket) => serveWebSocket(socket, seen));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      try {
        const output = await runClient(`${secure ? 'wss' : 'ws'}://localhost:${port}/chat`, certificate.certFile, compression);
        assert.deepEqual(output.trim().split('\n'), EXPECTED);
        assert.equal(seen.pings, 1);
        // websockets 10 offers permessage-deflate with client_max_window_bits.
        assert.equal(seen.deflateAgreement, compression === 'deflate' ? 'permessage-deflate; client_max_window_bits=15' : undefined);
        assert.deepEqual(seen.closes, [{ code: 4000, reason: 'bye', clean: true }]);
      } finally {
        server.close();
      }
    });
  }
}
