// Tests of the WebSocket load client (bench/lib/ws-client.mjs, bench/clients/ws-load.mjs): its handshake parsing and
// frame handling against httpsd's engine in server role, and real round trips with the `ws` package peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketConnection, acceptValue, connectWebSocket, handshakeRequest, maskKeySource, parseHandshakeResponse } from '../lib/ws-client.mjs';
import { makeCert } from './support.mjs';
import { startChild, stopChild, freePort, waitForPort } from '../lib/proc.mjs';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sha1 = (data) => createHash('sha1').update(data).digest();

test('masking keys are 4 bytes and not repeated from one frame to the next', () => {
  const next = maskKeySource(16);
  const keys = Array.from({ length: 12 }, () => Buffer.from(next()).toString('hex'));
  assert.ok(keys.every((key) => key.length === 8));
  assert.ok(new Set(keys).size >= 11, 'keys repeat');
});

test('handshake answer: incomplete, refused, wrong accept, and frames right after the head', () => {
  const { request, expectedAccept } = handshakeRequest('127.0.0.1:1', '/ws');
  const key = /Sec-WebSocket-Key: (\S+)/.exec(request)[1];
  assert.equal(expectedAccept, acceptValue(key, sha1));
  const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${expectedAccept}\r\n\r\n`;
  assert.equal(parseHandshakeResponse(Buffer.from(head.slice(0, 40)), expectedAccept), undefined);
  assert.match(parseHandshakeResponse(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), expectedAccept).error, /400/);
  assert.match(parseHandshakeResponse(Buffer.from(head.replace(expectedAccept, 'x')), expectedAccept).error, /Accept/);

  // Two server messages arrive in the same read as the head; the client engine gets exactly the bytes after it.
  const server = new WebSocketConnection({ role: 'server' });
  server.sendMessage(new Uint8Array([1, 2, 3]));
  server.sendMessage('second');
  const answer = parseHandshakeResponse(Buffer.concat([Buffer.from(head), server.dataToSend()]), expectedAccept);
  const client = new WebSocketConnection({ role: 'client', maskKey: maskKeySource() });
  const events = client.receive(answer.rest);
  assert.deepEqual(events.map((event) => (typeof event.data === 'string' ? event.data : [...event.data])), [[1, 2, 3], 'second']);

  // What the client sends is masked (the server engine refuses unmasked frames) and decodes to the same message.
  client.sendMessage(new Uint8Array(20).fill(7));
  const received = server.receive(client.dataToSend());
  assert.deepEqual(received.map((event) => event.type), ['message']);
  assert.deepEqual([...received[0].data], new Array(20).fill(7));
});

async function withWsPeer(run) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-ws-test-'));
  const { cert, key } = makeCert(dir);
  const port = await freePort();
  const child = startChild(process.execPath, [path.join(benchDir, 'servers', 'ws-node.mjs'), '--port', String(port), '--cert', cert, '--key', key]);
  try {
    assert.ok(await waitForPort(port, child), 'ws-node.mjs did not listen');
    await run(port);
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

test('echo round trips and a broadcast through the ws package over TLS', { timeout: 60_000 }, async () => {
  await withWsPeer(async (port) => {
    const echoes = [];
    let done;
    const allBack = new Promise((resolve) => { done = resolve; });
    const client = await connectWebSocket({ port, target: '/ws', maskKey: maskKeySource(),
      onMessage(data) { echoes.push(Buffer.from(data).toString()); if (echoes.length === 3) done(); } });
    for (const text of ['a', 'bb', 'x'.repeat(5000)]) client.send(Buffer.from(text));
    client.flush();
    await allBack;
    assert.deepEqual(echoes.map((text) => text.length), [1, 2, 5000]);
    client.close();

    // The load client end to end: both modes print "start" and a result with messages counted and none failed.
    for (const mode of [['--mode', 'echo', '--connections', '4'], ['--mode', 'broadcast', '--subscribers', '5']]) {
      const run = spawnSync(process.execPath, [path.join(benchDir, 'clients', 'ws-load.mjs'), '--port', String(port),
        '--duration', '0.3', '--warmup', '0.1', ...mode], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 0, run.stderr);
      const lines = run.stdout.trim().split('\n');
      assert.equal(lines[0], 'start');
      const result = JSON.parse(lines[1].replace(/^result /, ''));
      assert.ok(result.messages > 0, `${mode[1]}: no message counted`);
      assert.equal(result.failed, 0);
      assert.ok(result.clientCpu > 0);
    }
  });
});
