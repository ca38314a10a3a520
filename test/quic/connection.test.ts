// Client ↔ server in memory over the fake TLS: handshake, key discarding, multi-stream multi-megabyte transfer,
// flow-control window growth, MAX_STREAMS, resets, close, idle timeout, key update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { nodeCrypto } from '../../src/crypto/node.js';
import { encodeRetry, encodeVersionNegotiation, parsePacketHeader } from '../../src/quic/packet.js';
import { Pair, patternBytes, SERVER_ADDRESS, StreamCollector, StreamWriter } from './support/harness.js';

const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

test('handshake completes over the fake TLS; both sides report it', () => {
  const pair = new Pair();
  assert.ok(pair.handshake());
  const client = pair.clientEvents.find((e) => e.type === 'handshakeComplete');
  assert.deepEqual(client, { type: 'handshakeComplete', alpn: 'h3', resumed: false, cipher: 'TLS_AES_128_GCM_SHA256' });
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

test('MAX_STREAMS is raised as streams close: 2,000 request/response streams with a limit of 100', () => {
  const pair = new Pair({ serverLimits: { maxStreamsBidi: 100 } });
  assert.ok(pair.handshake());
  const total = 2000;
  let opened = 0;
  let finished = 0;
  let refused = 0;
  const request = patternBytes(32, 1);
  const openMore = (): void => {
    while (opened < total) {
      const id = pair.client.openStream(false);
      if (id < 0) {
        refused++;
        return;
      }
      opened++;
      pair.client.sendStreamData(id, request, true);
    }
  };
  pair.onServerEvent = (event) => {
    if (event.type === 'streamData') {
      pair.server.consume(event.streamId, event.data.byteLength);
      if (event.end) pair.server.sendStreamData(event.streamId, patternBytes(32, event.streamId), true);
    }
  };
  pair.onClientEvent = (event) => {
    if (event.type === 'streamData') {
      pair.client.consume(event.streamId, event.data.byteLength);
      if (event.end) finished++;
    }
  };
  openMore();
  assert.equal(opened, 100, 'the initial limit allows exactly 100 streams');
  assert.ok(pair.run(() => {
    openMore();
    return finished === total;
  }, 300_000));
  assert.ok(refused > 0, 'the client hit the limit and waited for MAX_STREAMS');
  assert.equal(pair.server.isClosed, false);
});

test('RESET_STREAM and STOP_SENDING reach the peer with their codes', () => {
  const pair = new Pair();
  assert.ok(pair.handshake());
  const a = pair.client.openStream(false);
  const b = pair.client.openStream(false);
  pair.client.sendStreamData(a, patternBytes(5000, 1), false);
  pair.client.sendStreamData(b, patternBytes(10, 2), false);
  assert.ok(pair.run(() => pair.serverEvents.filter((e) => e.type === 'streamOpened').length === 2));
  pair.client.resetStream(a, 0x10c);
  pair.client.stopSending(b, 0x10b);
  assert.ok(pair.run(() => pair.serverEvents.some((e) => e.type === 'streamReset') && pair.serverEvents.some((e) => e.type === 'stopSending')));
  assert.deepEqual(pair.serverEvents.find((e) => e.type === 'streamReset'), { type: 'streamReset', streamId: a, code: 0x10c, finalSize: 5000 });
  assert.deepEqual(pair.serverEvents.find((e) => e.type === 'stopSending'), { type: 'stopSending', streamId: b, code: 0x10b });
  // The server answers STOP_SENDING with RESET_STREAM carrying the same code (RFC 9000 §3.5).
  assert.ok(pair.run(() => pair.clientEvents.some((e) => e.type === 'streamReset' && e.streamId === b && e.code === 0x10b)));
});

test('application close reaches the peer; both sides end after the closing/draining period', () => {
  const pair = new Pair();
  assert.ok(pair.handshake());
  pair.server.close(0x100, 'bye', true);
  assert.ok(pair.run(() => pair.clientEvents.some((e) => e.type === 'connectionTerminated')));
  assert.deepEqual(pair.clientEvents.find((e) => e.type === 'connectionTerminated'), {
    type: 'connectionTerminated', code: 0x100, reason: 'bye', application: true, byPeer: true,
  });
  assert.deepEqual(pair.serverEvents.find((e) => e.type === 'connectionTerminated'), {
    type: 'connectionTerminated', code: 0x100, reason: 'bye', application: true, byPeer: false,
  });
  assert.ok(pair.run(() => pair.client.isClosed && pair.server.isClosed, 10_000));
  assert.throws(() => pair.client.openStream(false), /closed/);
});

test('idle timeout closes both sides silently via onTimeout', () => {
  const pair = new Pair({ clientLimits: { idleTimeout: 5000 }, serverLimits: { idleTimeout: 8000 } });
  assert.ok(pair.handshake());
  const start = pair.now;
  assert.ok(pair.run(() => pair.client.isClosed && pair.server.isClosed, 60_000));
  const event = pair.serverEvents.find((e) => e.type === 'connectionTerminated');
  assert.deepEqual(event, { type: 'connectionTerminated', code: 0, reason: 'idle timeout', application: false, byPeer: false });
  // The effective timeout is the smaller of the two (RFC 9000 §10.1).
  assert.ok(pair.now - start >= 5000 && pair.now - start < 6000, `closed after ${pair.now - start} ms`);
});

test('key update (RFC 9001 §6): initiated by the client, then by the server, during a transfer', () => {
  const pair = new Pair();
  assert.ok(pair.handshake());
  pair.run(() => false, 500); // let HANDSHAKE_DONE arrive (key updates need a confirmed handshake)
  assert.deepEqual(pair.client.keyPhase, { read: 0, write: 0 });
  assert.ok(pair.client.requestKeyUpdate());
  assert.equal(pair.client.requestKeyUpdate(), false, 'no second update before the first is acknowledged');
  const { ok } = transfer(pair, [200_000], 1000);
  assert.ok(ok);
  assert.deepEqual(pair.client.keyPhase, { read: 1, write: 1 });
  assert.deepEqual(pair.server.keyPhase, { read: 1, write: 1 });
  assert.ok(pair.server.requestKeyUpdate());
  const second = transfer(pair, [200_000], 1000);
  assert.ok(second.ok);
  assert.deepEqual(pair.client.keyPhase, { read: 0, write: 0 });
  assert.deepEqual(pair.server.keyPhase, { read: 0, write: 0 });
});

test('a TLS alert closes the connection with CRYPTO_ERROR 0x100 + alert (RFC 9001 §4.8)', () => {
  const pair = new Pair({ serverTls: { alert: 120 } });
  assert.ok(pair.run(() => pair.clientEvents.some((e) => e.type === 'connectionTerminated'), 10_000));
  const event = pair.clientEvents.find((e) => e.type === 'connectionTerminated');
  assert.deepEqual(event, { type: 'connectionTerminated', code: 0x100 + 120, reason: 'fake alert', application: false, byPeer: true });
});

test('missing transport parameters fail the handshake', () => {
  const pair = new Pair({ serverTls: { omitTransportParameters: true } });
  assert.ok(pair.run(() => pair.clientEvents.some((e) => e.type === 'connectionTerminated'), 10_000));
  const event = pair.clientEvents.find((e) => e.type === 'connectionTerminated');
  assert.equal(event?.type === 'connectionTerminated' && event.code, 0x100 + 109);
  assert.equal(pair.clientEvents.some((e) => e.type === 'handshakeComplete'), false);
});

test('writes to a stream the peer stopped are discarded; writes to streams never opened are API misuse', () => {
  const pair = new Pair();
  assert.ok(pair.handshake());
  const id = pair.client.openStream(false);
  pair.client.sendStreamData(id, patternBytes(100, 1), true);
  assert.ok(pair.run(() => pair.serverEvents.some((e) => e.type === 'streamData' && e.end)));
  // The client asks the server to stop sending; the server resets its sending part (RFC 9000 §3.5), and once that
  // is acknowledged the stream is finished on the server and forgotten.
  pair.client.stopSending(id, 7);
  assert.ok(pair.run(() => pair.clientEvents.some((e) => e.type === 'streamReset' && e.streamId === id && e.code === 7)));
  assert.ok(pair.serverEvents.some((e) => e.type === 'stopSending' && e.streamId === id));
  pair.run(() => false, 1000);
  assert.equal(pair.server.sendStreamData(id, patternBytes(10, 3), true), true);
  assert.throws(() => pair.server.sendStreamData(id + 400, patternBytes(1, 1), false), /cannot send/);
  assert.throws(() => pair.client.sendStreamData(3, patternBytes(1, 1), false), /cannot send/);
});

test('a closing endpoint answers each incoming datagram with one CONNECTION_CLOSE and processes nothing else', () => {
  const pair = new Pair();
  assert.ok(pair.handshake());
  const id = pair.client.openStream(false);
  pair.server.close(0, 'done', true);
  assert.equal(pair.server.datagramsToSend(pair.now).length, 1);
  assert.equal(pair.server.datagramsToSend(pair.now).length, 0, 'nothing more until the peer sends again');
  pair.client.sendStreamData(id, patternBytes(10, 1), true);
  for (const { data } of pair.client.datagramsToSend(pair.now)) pair.server.receiveDatagram(data, pair.clientAddress, pair.now);
  assert.equal(pair.server.pollEvents().filter((e) => e.type === 'streamOpened').length, 0);
  assert.equal(pair.server.datagramsToSend(pair.now).length, 1);
});

test('client: Version Negotiation without v1 ends the attempt; one listing v1, or a Retry with a bad tag, is ignored', () => {
  const listingV1 = new Pair();
  const [first] = listingV1.client.datagramsToSend(listingV1.now);
  const header = parsePacketHeader(first!.data, 0, 8);
  listingV1.client.receiveDatagram(encodeVersionNegotiation(header.sourceCid, header.destinationCid, [1, 0x1a2a3a4a], 0), SERVER_ADDRESS, listingV1.now);
  assert.equal(listingV1.client.pollEvents().length, 0);
  listingV1.client.receiveDatagram(encodeRetry(nodeCrypto, header.sourceCid, patternBytes(8, 9), patternBytes(8, 8), patternBytes(20, 1)), SERVER_ADDRESS, listingV1.now);
  assert.ok(listingV1.handshake(), 'the bad Retry changed nothing');

  const other = new Pair();
  other.client.datagramsToSend(other.now);
  other.client.receiveDatagram(encodeVersionNegotiation(header.sourceCid, header.destinationCid, [0xff00001d], 0), SERVER_ADDRESS, other.now);
  const ended = other.client.pollEvents().find((e) => e.type === 'connectionTerminated');
  assert.equal(ended?.type === 'connectionTerminated' && ended.reason, 'version negotiation: no common version');
  assert.ok(other.client.isClosed);
});
