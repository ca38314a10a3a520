// Resource limits under hostile but authenticated peers: ACK-range tracking with gaps, CID retirement loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { injectFromClient, Pair } from './support/harness.js';

test('a peer skipping every other packet number cannot grow the tracked ACK ranges beyond maxAckRanges', () => {
  const pair = new Pair({ serverLimits: { maxAckRanges: 16 } });
  assert.ok(pair.handshake());
  const client = pair.client as unknown as { spaces: { application: { nextPacketNumber: number } } };
  for (let i = 0; i < 500; i++) {
    client.spaces.application.nextPacketNumber++; // leave a gap
    injectFromClient(pair, [{ type: 'ping' }]);
  }
  const server = pair.server as unknown as { spaces: { application: { received: { length: number } } } };
  assert.ok(server.spaces.application.received.length <= 16, `${server.spaces.application.received.length} ranges`);
  assert.equal(pair.server.isClosed, false);
  // The ACKs the server sends stay within one packet and the connection keeps working.
  pair.run(() => false, 200);
  assert.equal(pair.clientEvents.some((e) => e.type === 'connectionTerminated'), false);
});

test('retiring connection IDs in a loop stops yielding new ones after maxIssuedConnectionIds', () => {
  const pair = new Pair({ serverLimits: { maxIssuedConnectionIds: 10, activeConnectionIdLimit: 4 }, clientLimits: { activeConnectionIdLimit: 4 } });
  assert.ok(pair.handshake());
  let issued = pair.serverEvents.filter((e) => e.type === 'connectionIdIssued').length;
  assert.equal(issued, 3);
  for (let sequence = 1; sequence < 30; sequence++) {
    const events = injectFromClient(pair, [{ type: 'retireConnectionId', sequence }]);
    issued += events.filter((e) => e.type === 'connectionIdIssued').length;
    if (events.some((e) => e.type === 'connectionTerminated')) break;
  }
  // Sequence 0 plus nine more: ten CIDs over the connection's life, then no replacements.
  assert.equal(issued, 9);
  assert.ok(pair.server.localConnectionIds.length >= 1);
});

test('forged 1-RTT packets count against the AEAD integrity limit (RFC 9001 §6.6) → AEAD_LIMIT_REACHED', () => {
  const pair = new Pair();
  assert.ok(pair.handshake());
  // The real limit (2^52 for AES-GCM) cannot be reached in a test; lower it to exercise the accounting.
  (pair.server as unknown as { integrityLimit: number }).integrityLimit = 5;
  const cid = pair.server.localConnectionIds[0]!;
  const forged = new Uint8Array(60);
  forged[0] = 0x40;
  forged.set(cid, 1);
  for (let i = 0; i < 5; i++) pair.server.receiveDatagram(forged, pair.clientAddress, pair.now);
  assert.equal(pair.server.pollEvents().some((e) => e.type === 'connectionTerminated'), false);
  pair.server.receiveDatagram(forged, pair.clientAddress, pair.now);
  const ended = pair.server.pollEvents().find((e) => e.type === 'connectionTerminated');
  assert.equal(ended?.type === 'connectionTerminated' && ended.code, 0x0f);
});

test('a client silent after its first Initial is forgotten at handshakeTimeout, not after the 30 s idle timeout', () => {
  const pair = new Pair({ serverLimits: { handshakeTimeout: 4000 } });
  const start = pair.now;
  for (const datagram of pair.client.datagramsToSend(pair.now)) pair.server.receiveDatagram(datagram.data, pair.clientAddress, pair.now);
  assert.ok(pair.server.datagramsToSend(pair.now).length > 0, 'the server answered the Initial');
  // Nothing more from the client: the server only runs its timers.
  while (!pair.server.isClosed && pair.now < start + 60_000) {
    pair.now = pair.server.nextDeadline() ?? pair.now + 1000;
    pair.server.onTimeout(pair.now);
    pair.server.datagramsToSend(pair.now);
  }
  assert.ok(pair.server.isClosed);
  assert.ok(pair.now - start >= 4000 && pair.now - start <= 4000 + 3000, `closed after ${pair.now - start} ms`);
  const terminated = pair.server.pollEvents().find((e) => e.type === 'connectionTerminated');
  assert.equal(terminated?.type === 'connectionTerminated' && terminated.reason, 'handshake timeout');
});
