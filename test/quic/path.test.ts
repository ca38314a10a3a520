// Anti-amplification (RFC 9000 §8.1), path validation on a peer address change (§8.2, §9), connection IDs (§5.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuicError, TransportError } from '../../src/quic/errors.js';
import { LocalConnectionIds, PeerConnectionIds } from '../../src/quic/connection-ids.js';
import { Pair, patternBytes, SERVER_ADDRESS, serveDownloads } from './support/harness.js';
import { sealAsClient } from './support/inject.js';

/** Wraps flush() to check, after every send, that an unvalidated server stayed within 3× what it received. */
function watchAmplification(pair: Pair, received: () => number, sent: () => number): { checks: number; blocked: number } {
  const watch = { checks: 0, blocked: 0 };
  const flush = pair.flush.bind(pair);
  pair.flush = () => {
    flush();
    if (!pair.server.pathValidated) {
      watch.checks++;
      assert.ok(sent() <= 3 * received(), `sent ${sent()} > 3 × received ${received()}`);
      if (sent() + 1200 > 3 * received()) watch.blocked++;
    }
  };
  return watch;
}

test('anti-amplification: a large server flight is held to 3× the bytes received until the client is validated', () => {
  // 8,000 bytes of handshake CRYPTO (like a long certificate chain) cannot fit in 3 × 1,200; the client's
  // second and third datagrams are lost, so the server must stall until the client's PTO probes arrive.
  const pair = new Pair({
    serverTls: { certificateBytes: 8000 },
    channel: { dropIf: (direction, index) => direction === 'toServer' && (index === 1 || index === 2) },
  });
  const serverSent = (): number => pair.serverSent.reduce((n, d) => n + d.size, 0);
  const watch = watchAmplification(pair, () => pair.stats.toServer, serverSent);
  assert.ok(pair.handshake(30_000));
  assert.ok(watch.checks > 0 && watch.blocked > 0, 'the server was amplification-limited at least once');
  assert.ok(serverSent() > 8000);
});

for (const [kind, moved] of [
  ['port (NAT rebinding)', { address: '10.0.0.1', port: 5555 }],
  ['address', { address: '10.0.0.9', port: 4433 }],
] as const) {
  test(`a peer ${kind} change triggers path validation; data keeps flowing on the new path`, () => {
    const pair = new Pair({ channel: { latency: 10 } });
    const received = serveDownloads(pair, 2_000_000, 3);
    assert.ok(pair.handshake());
    const id = pair.client.openStream(false);
    pair.client.sendStreamData(id, patternBytes(10, 1), true);
    assert.ok(pair.run(() => (received.received.get(id) ?? 0) > 200_000));
    // The client's packets now come from elsewhere.
    pair.clientAddress = moved;
    let sawUnvalidated = false;
    assert.ok(pair.run(() => {
      if (!pair.server.pathValidated) sawUnvalidated = true;
      return received.ended.has(id);
    }));
    assert.ok(sawUnvalidated, 'the new path started unvalidated');
    assert.deepEqual(pair.server.currentRemote, moved);
    assert.ok(pair.server.pathValidated, 'PATH_RESPONSE validated the new path');
    assert.equal(received.bytes(id).byteLength, 2_000_000);
  });
}

test('a lone ~35-byte ACK from a new address mid-download gets a PATH_CHALLENGE within 3× its size (RFC 9000 §8.1, §9.3)', () => {
  const pair = new Pair({ channel: { latency: 10, nat: true } });
  const received = serveDownloads(pair, 2_000_000, 3);
  assert.ok(pair.handshake());
  const id = pair.client.openStream(false);
  pair.client.sendStreamData(id, patternBytes(10, 1), true);
  assert.ok(pair.run(() => (received.received.get(id) ?? 0) > 200_000));
  // What a rebound client that has nothing else to say sends: one ACK-only packet, from its new port.
  const moved = { address: '10.0.0.1', port: 7777 };
  const client = pair.client as unknown as { peerCids: { current: { cid: Uint8Array } }; spaces: { application: { largestReceived: number } } };
  const largest = client.spaces.application.largestReceived;
  const ack = sealAsClient(pair.client, client.peerCids.current.cid, [{ type: 'ack', ranges: [[largest, largest]], ackDelay: 0 }]);
  assert.ok(ack.byteLength < 43, `${ack.byteLength}-byte ACK`); // 3× that is below the long-header send floor
  pair.server.receiveDatagram(ack, moved, pair.now);
  const answer = pair.server.datagramsToSend(pair.now).filter((datagram) => datagram.remote.port === moved.port);
  assert.ok(answer.length > 0, 'the server said nothing on the new path: neither side would ever speak again');
  const sent = answer.reduce((total, datagram) => total + datagram.data.byteLength, 0);
  assert.ok(sent <= 3 * ack.byteLength, `${sent} bytes for a ${ack.byteLength}-byte datagram`);
  // The challenge reaches the client, which answers from its new port; the download then completes there.
  for (const datagram of answer) pair.client.receiveDatagram(datagram.data, SERVER_ADDRESS, pair.now);
  pair.clientAddress = moved;
  assert.ok(pair.run(() => received.ended.has(id), 60_000), `stalled at ${received.received.get(id)} bytes`);
  assert.ok(pair.server.pathValidated);
  assert.equal(received.bytes(id).byteLength, 2_000_000);
});

test('both sides issue connection IDs up to the peer active_connection_id_limit after the handshake', () => {
  const pair = new Pair({ clientLimits: { activeConnectionIdLimit: 3 }, serverLimits: { activeConnectionIdLimit: 5 } });
  assert.ok(pair.handshake());
  // The server may give the client 3 in total (it already has 1), the client may give the server 5, capped by its own limit 3.
  assert.equal(pair.serverEvents.filter((e) => e.type === 'connectionIdIssued').length, 2);
  assert.equal(pair.clientEvents.filter((e) => e.type === 'connectionIdIssued').length, 2);
  assert.equal(pair.server.localConnectionIds.length, 3);
});

function code(fn: () => void, expected: number): void {
  assert.throws(fn, (e: unknown) => e instanceof QuicError && e.code === expected);
}

test('connection-ID bookkeeping enforces RFC 9000 §5.1 limits and retirement rules', () => {
  const token = new Uint8Array(16);
  const peer = new PeerConnectionIds(2, 4);
  peer.setInitial(Uint8Array.of(1));
  peer.add(1, 0, Uint8Array.of(2), token);
  code(() => peer.add(2, 0, Uint8Array.of(3), token), TransportError.CONNECTION_ID_LIMIT_ERROR);
  const again = new PeerConnectionIds(2, 4);
  again.setInitial(Uint8Array.of(1));
  again.add(1, 0, Uint8Array.of(2), token);
  code(() => again.add(1, 0, Uint8Array.of(9), token), TransportError.PROTOCOL_VIOLATION);
  // Retire Prior To retires sequence 0 and 1 and moves to 2.
  again.add(2, 2, Uint8Array.of(3), token);
  assert.equal(again.currentSequence, 2);
  assert.deepEqual([...again.pendingRetire].sort(), [0, 1]);

  const local = new LocalConnectionIds(3);
  local.add(Uint8Array.of(1), token, false);
  local.add(Uint8Array.of(2), token, true);
  code(() => local.retire(5, Uint8Array.of(1)), TransportError.PROTOCOL_VIOLATION);
  code(() => local.retire(0, Uint8Array.of(1)), TransportError.PROTOCOL_VIOLATION);
  assert.deepEqual(local.retire(1, Uint8Array.of(1))?.cid, Uint8Array.of(2));
  local.add(Uint8Array.of(3), token, true);
  assert.equal(local.canIssue, false, 'issuance stops at maxIssuedConnectionIds');
});
