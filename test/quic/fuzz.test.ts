// Fuzzing the receive path (fast-check, fixed seeds): garbage and mutated datagrams never throw and never close a
// connection (unauthenticated input is dropped, RFC 9000 §12.2 / RFC 9001 §5.5); random frames inside authenticated
// packets close it with a transport error code, never with an exception.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nodeCrypto } from '../../src/crypto/node.js';
import { QuicServerDemux } from '../../src/quic/server.js';
import { TransportError } from '../../src/quic/errors.js';
import { CLIENT_ADDRESS, injectFromClient, Pair } from './support/harness.js';
import { FakeTlsServer } from './support/fake-tls.js';

const KNOWN_CODES = new Set<number>(Object.values(TransportError));

function established(): { pair: Pair; captured: Uint8Array[] } {
  const pair = new Pair();
  const captured: Uint8Array[] = [];
  assert.ok(pair.handshake());
  const id = pair.client.openStream(false);
  pair.client.sendStreamData(id, new Uint8Array(3000).fill(7), true);
  for (const { data } of pair.client.datagramsToSend(pair.now)) captured.push(data);
  return { pair, captured };
}

test('random datagrams never throw and never close an established connection', () => {
  const { pair } = established();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 1400 }), (data) => {
      pair.server.receiveDatagram(data, CLIENT_ADDRESS, pair.now);
      assert.equal(pair.server.isClosed, false);
    }),
    { numRuns: 2000, seed: 1 },
  );
  assert.equal(pair.server.pollEvents().some((e) => e.type === 'connectionTerminated'), false);
});

test('bit-flipped and truncated copies of real packets are dropped (AEAD), the original still works', () => {
  const { pair, captured } = established();
  fc.assert(
    fc.property(fc.constantFrom(...captured), fc.nat(), fc.nat(7), fc.boolean(), (packet, position, bit, truncate) => {
      const copy = packet.slice();
      const index = position % copy.byteLength;
      if (truncate) {
        pair.server.receiveDatagram(copy.subarray(0, index), CLIENT_ADDRESS, pair.now);
      } else {
        copy[index]! ^= 1 << bit;
        pair.server.receiveDatagram(copy, CLIENT_ADDRESS, pair.now);
      }
      assert.equal(pair.server.isClosed, false);
    }),
    { numRuns: 1000, seed: 2 },
  );
  for (const packet of captured) pair.server.receiveDatagram(packet, CLIENT_ADDRESS, pair.now);
  assert.ok(pair.server.pollEvents().some((e) => e.type === 'streamData'));
});

test('random frames in authenticated 1-RTT packets: a transport error code or nothing, never an exception', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (payload) => {
      const { pair } = established();
      for (const event of injectFromClient(pair, payload)) {
        if (event.type === 'connectionTerminated') {
          // byPeer when the random bytes happen to form a valid CONNECTION_CLOSE; otherwise our error code.
          if (!event.byPeer) assert.ok(KNOWN_CODES.has(event.code) || (event.code > 0x100 && event.code < 0x200), `code ${event.code}`);
        }
      }
    }),
    { numRuns: 150, seed: 3 },
  );
});

test('the demux never throws on random datagrams and creates no connection from them', () => {
  const demux = new QuicServerDemux({ crypto: nodeCrypto, tls: (tp) => new FakeTlsServer(tp, {}) });
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 1500 }), fc.boolean(), (data, long) => {
      if (data.byteLength > 0) data[0] = long ? data[0]! | 0xc0 : (data[0]! & 0x7f) | 0x40;
      const result = demux.receiveDatagram(data, CLIENT_ADDRESS, 0);
      assert.ok(['drop', 'reply', 'connection'].includes(result.kind));
      if (result.kind === 'reply') assert.ok(result.data.byteLength < Math.max(data.byteLength, 1200) + 64);
    }),
    { numRuns: 3000, seed: 4 },
  );
  // Random 1200-byte "Initials" fail AEAD under the initial keys: no connection state is kept for them.
  assert.equal(demux.connectionCount, 0);
  assert.equal(demux.handshakesInProgress, 0);
});
