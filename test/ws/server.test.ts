/**
 * The server-side WebSocket stack (upgrade Response → hub → ServerWebSocket over a SocketTunnel) against real
 * sockets: the engine's client role and Python's `websockets`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import type { ServerWebSocket } from '../../src/server/websocket/index.js';
import { waitFor } from '../support/server.js';
import { PYTHON_ECHO_TRANSCRIPT, TestClient, runPythonClient, startUpgradeServer } from './support.js';

const echo = {
  message(ws: ServerWebSocket<unknown>, data: string | Uint8Array) {
    if (data === 'server ping please') ws.ping('abc');
    ws.send(data);
  },
};

for (const secure of [false, true]) {
  for (const deflate of [false, true]) {
    test(`python websockets through the hub over ${secure ? 'TLS' : 'TCP'}, permessage-deflate ${deflate ? 'on' : 'off'}`, async () => {
      const closes: [number, string][] = [];
      const server = await startUpgradeServer(
        { ...echo, perMessageDeflate: deflate, close: (_ws, code, reason) => void closes.push([code, reason]) },
        { secure, upgrade: () => ({ protocol: 'chat' }) },
      );
      try {
        assert.deepEqual(await runPythonClient(`${secure ? 'wss' : 'ws'}://localhost:${server.port}/`, deflate ? 'deflate' : 'none'), PYTHON_ECHO_TRANSCRIPT);
        assert.deepEqual(closes, [[4000, 'bye']]);
        assert.equal(server.hub.stats().webSockets, 0);
        assert.deepEqual(server.errors, []);
      } finally {
        await server.close();
      }
    });
  }
}

test('a deflate bomb through the hub closes with 1009 and never inflates past the limit', async () => {
  const closes: number[] = [];
  const server = await startUpgradeServer({ ...echo, perMessageDeflate: true, maxMessageSize: 1024 * 1024, close: (_ws, code) => void closes.push(code) });
  try {
    assert.deepEqual(await runPythonClient(`ws://localhost:${server.port}/`, 'bomb'), ['close 1009']);
    assert.deepEqual(closes, [1009]);
  } finally {
    await server.close();
  }
});

test('the handshake: subprotocol only if offered, user headers, refusals as ordinary responses', async () => {
  const server = await startUpgradeServer(echo, {
    upgrade: (request) =>
      new URL(request.url).pathname === '/forbidden' ? new Response('no', { status: 403 }) : { protocol: 'v2', headers: { 'x-app': '1', 'sec-websocket-accept': 'forged' } },
  });
  try {
    const offered = await TestClient.connect(server.port, { 'sec-websocket-protocol': 'v1, v2' });
    assert.equal(offered.status, 101);
    assert.equal(offered.responseHeaders.get('sec-websocket-protocol'), 'v2');
    assert.equal(offered.responseHeaders.get('x-app'), '1');
    assert.notEqual(offered.responseHeaders.get('sec-websocket-accept'), 'forged');
    const notOffered = await TestClient.connect(server.port, { 'sec-websocket-protocol': 'v1' });
    assert.equal(notOffered.responseHeaders.has('sec-websocket-protocol'), false);
    const refused = await TestClient.connect(server.port, {}, '/forbidden');
    assert.equal(refused.status, 403);
    const oldVersion = await TestClient.connect(server.port, { 'sec-websocket-version': '8' });
    assert.equal(oldVersion.status, 426);
    assert.equal(oldVersion.responseHeaders.get('sec-websocket-version'), '13');
    offered.close(1000);
    notOffered.close(1000);
    await Promise.all([offered.closedEvent(), notOffered.closedEvent()]);
  } finally {
    await server.close();
  }
});

test('topics: publish encodes once and reaches every subscriber but the sender', async () => {
  const server = await startUpgradeServer({
    open: (ws) => ws.subscribe('room'),
    message: (ws, data) => void ws.publish('room', data),
  });
  try {
    const clients = await Promise.all(Array.from({ length: 5 }, () => TestClient.connect(server.port)));
    await waitFor(() => server.hub.subscriberCount('room') === 5, 'five subscribers');
    clients[0]!.send('hi all');
    await Promise.all(clients.slice(1).map((c) => c.until((events) => events.length === 1)));
    for (const client of clients.slice(1)) assert.deepEqual(client.messages(), ['hi all']);
    assert.deepEqual(clients[0]!.messages(), []);
    assert.equal(server.hub.publish('room', new Uint8Array([1, 2])), 5);
    await Promise.all(clients.map((c) => c.until((events) => events.some((e) => e.type === 'message' && e.binary))));
    for (const client of clients) client.close(1000);
    await Promise.all(clients.map((c) => c.closedEvent()));
    await waitFor(() => server.hub.subscriberCount('room') === 0, 'closed sockets to leave their topics');
  } finally {
    await server.close();
  }
});

test('a client that does not read: send() reports backpressure, then drops past maxBufferedBytes; drain() follows reading', async () => {
  let socket: ServerWebSocket<unknown> | undefined;
  let drains = 0;
  const server = await startUpgradeServer({
    maxBufferedBytes: 4 * 1024 * 1024,
    open: (ws) => void (socket = ws),
    drain: () => void drains++,
  });
  try {
    const client = await TestClient.connect(server.port);
    client.socket.pause();
    await waitFor(() => socket !== undefined, 'the socket to open');
    const chunk = new Uint8Array(64 * 1024);
    const results: number[] = [];
    for (let i = 0; i < 200; i++) results.push(socket!.send(chunk));
    assert.ok(results.includes(-1), 'backpressure was reported');
    assert.ok(results.includes(0), 'messages past the limit were dropped');
    assert.ok(socket!.bufferedAmount <= 4 * 1024 * 1024 + 64 * 1024, `bounded: ${socket!.bufferedAmount}`);
    client.socket.resume();
    await client.until((events) => events.length >= results.filter((r) => r !== 0).length);
    assert.ok(drains >= 1, 'drain ran once the client read');
    client.close(1000);
    await client.closedEvent();
  } finally {
    await server.close();
  }
});

test('idle sockets: a quiet peer that answers pings stays; one that answers nothing gets a 1001 Close and is cut', async () => {
  const closes: number[] = [];
  const server = await startUpgradeServer({ idleTimeout: 1, closeTimeout: 1000, close: (_ws, code) => void closes.push(code) });
  try {
    const live = await TestClient.connect(server.port);
    // A raw client that completes the handshake and then never sends a frame (not even a pong).
    const silent = net.connect(server.port, '127.0.0.1');
    await once(silent, 'connect');
    silent.write('GET / HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    silent.on('error', () => {});
    const received: Buffer[] = [];
    silent.on('data', (chunk: Buffer) => received.push(chunk));
    await once(silent, 'close');
    const bytes = Buffer.concat(received);
    const frames = bytes.subarray(bytes.indexOf('\r\n\r\n') + 4);
    // A ping (0x89) went out first, then a Close (0x88) with 1001 (0x03e9).
    assert.equal(frames[0], 0x89);
    const close = frames.indexOf(0x88);
    assert.ok(close > 0 && frames.readUInt16BE(close + 2) === 1001, `frames: ${frames.toString('hex')}`);
    assert.deepEqual(closes, [1006], 'the silent one was closed (its close handshake never came: 1006)');
    assert.ok(live.events.some((e) => e.type === 'ping'), 'the live one was pinged');
    assert.equal(live.socketClosed, false, 'the live one answered and stays open');
    live.close(1000);
    await live.closedEvent();
  } finally {
    await server.close();
  }
});

test('a throwing message handler closes that socket with 1011 and logs it; others are untouched', async () => {
  const server = await startUpgradeServer({
    message(ws, data) {
      if (data === 'boom') throw new Error('app bug');
      ws.send(data);
    },
  });
  try {
    const bad = await TestClient.connect(server.port);
    const good = await TestClient.connect(server.port);
    bad.send('boom');
    assert.equal((await bad.closedEvent()).code, 1011);
    good.send('still here');
    await good.until((events) => events.length === 1);
    assert.deepEqual(good.messages(), ['still here']);
    assert.equal(server.errors.length, 1);
    assert.match(server.errors[0]!, /websocket message handler .*app bug/);
    good.close(1000);
    await good.closedEvent();
  } finally {
    await server.close();
  }
});

test('shutdown sends 1001 to every socket and waits for the closing handshakes', async () => {
  const server = await startUpgradeServer({});
  const clients = await Promise.all(Array.from({ length: 3 }, () => TestClient.connect(server.port)));
  await waitFor(() => server.hub.stats().webSockets === 3, 'three open sockets');
  const closing = server.close();
  const codes = await Promise.all(clients.map(async (c) => (await c.closedEvent()).code));
  await closing;
  assert.deepEqual(codes, [1001, 1001, 1001]);
  assert.equal(server.hub.stats().webSockets, 0);
});

test('maxSockets: the next upgrade is refused with 503 before the handshake', async () => {
  const server = await startUpgradeServer({ maxSockets: 2 });
  try {
    const a = await TestClient.connect(server.port);
    const b = await TestClient.connect(server.port);
    const c = await TestClient.connect(server.port);
    assert.deepEqual([a.status, b.status, c.status], [101, 101, 503]);
    a.close(1000);
    await a.closedEvent();
    await waitFor(() => server.hub.stats().webSockets === 1, 'the closed socket to leave');
    const d = await TestClient.connect(server.port);
    assert.equal(d.status, 101, 'room again once one closed');
    b.close(1000);
    d.close(1000);
    await Promise.all([b.closedEvent(), d.closedEvent()]);
  } finally {
    await server.close();
  }
});
