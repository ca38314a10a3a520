// Client ↔ server in memory over the fake TLS: handshake, key discarding, multi-stream multi-megabyte transfer,
// flow-control window growth, MAX_STREAMS, resets, close, idle timeout, key update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Pair, patternBytes, StreamCollector, StreamWriter } from './support/harness.js';

const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

test('handshake completes over the fake TLS; both sides report it', () => {
  const pair = new Pair();
  assert.ok(pair.handshake());
  const client = pair.clientEvents.find((e) => e.type === 'handshakeComplete');
  assert.deepEqual(client, { type: 'handshakeComplete', alpn: 'h3', resumed: false });
  // The client's first datagram is padded to 1200 bytes (RFC 9000 §14.1).
  assert.ok(pair.clientSent[0]!.size >= 1200);
  // HANDSHAKE_DONE reaches the client and both sides go quiet: no pending deadlines but idle.
  pair.run(() => false, 2000);
  assert.equal(pair.client.isClosed, false);
});

/** Client opens `sizes.length` streams and uploads `upload` bytes on each; the server answers each with sizes[i] bytes. */
function transfer(pair: Pair, sizes: number[], upload = 1000, maxTime = 120_000): { ok: boolean; clientData: StreamCollector; serverData: StreamCollector } {
  const clientData = new StreamCollector(pair.client);
  const serverData = new StreamCollector(pair.server);
  const writers: StreamWriter[] = [];
  const responses = new Map<number, number>();
  pair.onClientEvent = (event) => {
    clientData.handle(event);
    if (event.type === 'streamWritable') writers.forEach((w) => w.pump());
  };
  pair.onServerEvent = (event) => {
    serverData.handle(event);
    if (event.type === 'streamData' && event.end) {
      const index = responses.get(event.streamId)!;
      const writer = new StreamWriter(pair.server, event.streamId, patternBytes(sizes[index]!, index + 100));
      writers.push(writer);
      writer.pump();
    }
    if (event.type === 'streamWritable') writers.forEach((w) => w.pump());
  };
  assert.ok(pair.handshake(), 'handshake');
  const ids: number[] = [];
  sizes.forEach((_, index) => {
    const id = pair.client.openStream(false);
    assert.ok(id >= 0);
    responses.set(id, index);
    ids.push(id);
    const writer = new StreamWriter(pair.client, id, patternBytes(upload, index));
    writers.push(writer);
    writer.pump();
  });
  const ok = pair.run(() => ids.every((id) => clientData.ended.has(id)), maxTime);
  if (ok) {
    ids.forEach((id, index) => {
      assert.equal(digest(serverData.bytes(id)), digest(patternBytes(upload, index)), `upload on stream ${id}`);
      assert.equal(digest(clientData.bytes(id)), digest(patternBytes(sizes[index]!, index + 100)), `download on stream ${id}`);
    });
  }
  return { ok, clientData, serverData };
}

test('several MB over multiple streams arrive byte-identical; flow-control windows grow', () => {
  const pair = new Pair({ channel: { latency: 10 } });
  const { ok } = transfer(pair, [1_000_000, 2_000_000, 3_000_000], 300_000);
  assert.ok(ok, 'transfer finished');
  // The client's connection window started at 1 MiB and auto-tuned upward (RFC 9000 §4.2, quic-go style).
  assert.ok(pair.client.connectionReceiveWindow > 1024 * 1024, `window ${pair.client.connectionReceiveWindow}`);
  assert.ok(!pair.client.isClosed && !pair.server.isClosed);
});
