/**
 * WebSocket attacks through serve() over TLS, each while a well-behaved `ws` client keeps echoing on another
 * connection: unmasked frames, an oversized frame header, a fragment flood, a ping flood, a deflate bomb and a
 * client that never reads. Every attacker is closed with the RFC 6455 code its attack calls for, the legit client
 * never fails, and the counters return to zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { once } from 'node:events';
import WebSocket from 'ws';
import type { ServeInfo } from '../../src/server/types.js';
import { makeCertificate } from '../support/certs.js';
import { startServer, waitFor } from '../support/server.js';
import { closePayload, concatBytes, frame, parseFrames } from '../ws/wire.js';

const MAX_MESSAGE = 1024 * 1024;

function app(request: Request, info: ServeInfo): Response {
  if (new URL(request.url).pathname === '/ws') return info.upgradeWebSocket!(request);
  return new Response('not a websocket', { status: 426 });
}

/** A raw TLS client that completes the handshake, then sends `attack` and returns the close code the server sent. */
async function attack(port: number, send: (socket: tls.TLSSocket) => void): Promise<number | undefined> {
  const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: makeCertificate().cert });
  await once(socket, 'secureConnect');
  socket.write('GET /ws HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  await waitFor(() => Buffer.concat(chunks).includes('\r\n\r\n'), 'the 101', 30_000);
  assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1.1 101 /);
  send(socket);
  await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, 30_000))]);
  socket.destroy();
  const all = Buffer.concat(chunks);
  const frames = parseFrames(all.subarray(all.indexOf('\r\n\r\n') + 4));
  const close = frames.find((f) => f.opcode === 0x8);
  return close && close.payload.length >= 2 ? (close.payload[0]! << 8) | close.payload[1]! : undefined;
}

/** A legit client echoing one message at a time until stopped; counts round trips and failures. */
function legitClient(port: number) {
  const ws = new WebSocket(`wss://localhost:${port}/ws`, { ca: makeCertificate().cert, perMessageDeflate: false });
  const state = { roundTrips: 0, errors: [] as string[], stopped: false };
  let counter = 0;
  const next = () => {
    if (!state.stopped) ws.send(`ping ${++counter}`);
  };
  ws.on('open', next);
  ws.on('message', (data) => {
    if (data.toString() !== `ping ${counter}`) state.errors.push(`unexpected echo ${data.toString()}`);
    state.roundTrips++;
    setTimeout(next, 5);
  });
  ws.on('error', (error) => state.errors.push(error.message));
  ws.on('close', (code) => {
    if (!state.stopped) state.errors.push(`closed with ${code}`);
  });
  return {
    state,
    async stop() {
      state.stopped = true;
      ws.close(1000);
      await once(ws, 'close');
    },
  };
}

test('WebSocket attacks are closed with their RFC 6455 codes while a legit client keeps being served', { timeout: 300_000 }, async () => {
  const server = await startServer(app, {
    websocket: { message: (ws, data) => void ws.send(data), maxMessageSize: MAX_MESSAGE, perMessageDeflate: true, maxBufferedBytes: 4 * 1024 * 1024 },
  });
  const legit = legitClient(server.port);
  try {
    await waitFor(() => legit.state.roundTrips > 0, 'the legit client', 30_000);
    const cases: [string, (socket: tls.TLSSocket) => void, number][] = [
      ['unmasked frames (§5.1)', (s) => s.write(frame({ opcode: 0x1, payload: 'x', mask: false })), 1002],
      ['a 2^40-byte frame header (§7.4.1 1009, before any payload)', (s) => s.write(frame({ opcode: 0x2, lengthOverride: { code: 127, extended: [0, 0, 1, 0, 0, 0, 0, 0] } })), 1009],
      [
        'a flood of empty continuation frames',
        (s) => {
          const empty = frame({ opcode: 0x0, payload: '', fin: false });
          s.write(frame({ opcode: 0x1, payload: '', fin: false }));
          for (let batch = 0; batch < 40; batch++) s.write(concatBytes(...Array.from({ length: 5000 }, () => empty)));
        },
        1009,
      ],
      ['a ping flood', (s) => s.write(concatBytes(...Array.from({ length: 20_000 }, () => frame({ opcode: 0x9, payload: 'p' })))), 1008],
      ['a close with a reserved code', (s) => s.write(frame({ opcode: 0x8, payload: closePayload(1004) })), 1002],
    ];
    for (const [name, send, code] of cases) {
      const before = legit.state.roundTrips;
      assert.equal(await attack(server.port, send), code, name);
      await waitFor(() => legit.state.roundTrips > before, `the legit client after ${name}`, 30_000);
    }

    // A deflate bomb: 64 MiB of zeros compress to about 64 KiB; the server inflates no more than maxMessageSize.
    const bomber = new WebSocket(`wss://localhost:${server.port}/ws`, { ca: makeCertificate().cert, perMessageDeflate: true, maxPayload: 0 });
    await once(bomber, 'open');
    assert.match(bomber.extensions, /permessage-deflate/);
    const bombClosed = once(bomber, 'close');
    bomber.send(Buffer.alloc(64 * 1024 * 1024), { compress: true });
    const [bombCode] = (await bombClosed) as [number];
    assert.equal(bombCode, 1009, 'deflate bomb');

    // A client that asks for echoes and never reads: the server buffers at most maxBufferedBytes for it.
    const slow = tls.connect({ port: server.port, host: '127.0.0.1', servername: 'localhost', ca: makeCertificate().cert });
    await once(slow, 'secureConnect');
    slow.write('GET /ws HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n');
    slow.on('error', () => {});
    const message = frame({ opcode: 0x2, payload: new Uint8Array(512 * 1024) });
    for (let i = 0; i < 64; i++) slow.write(message); // 32 MiB of echoes requested, never read
    slow.pause();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const pending = server.server.stats().pendingOutputBytes;
    assert.ok(pending < 8 * 1024 * 1024, `output held for a client that does not read: ${pending} bytes`);
    slow.destroy();

    assert.deepEqual(legit.state.errors, []);
  } finally {
    await legit.stop();
    await waitFor(() => server.server.stats().webSockets === 0, 'every socket closed', 30_000);
    await server.close();
  }
});
