// QUIC orders bytes within a stream, not across streams. Property: whatever the interleaving of the client's
// streams (request streams overtaking the QPACK encoder stream, control frames late), every request reaches the
// server intact and every response reaches the client, with both dynamic tables in use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { TransportEvent } from '../../src/h3/transport.js';
import { connectedPair, eventsOf, type Side } from './fake-quic.js';
import { latin1Bytes } from './helpers.js';

/** Interleaves events randomly while keeping each stream's own order (what QUIC guarantees). */
function shuffleAcrossStreams(events: TransportEvent[], random: () => number): TransportEvent[] {
  const queues = new Map<number | string, TransportEvent[]>();
  for (const event of events) {
    const key = 'streamId' in event ? event.streamId : 'connection';
    let queue = queues.get(key);
    if (queue === undefined) queues.set(key, (queue = []));
    queue.push(event);
  }
  const out: TransportEvent[] = [];
  const pending = [...queues.values()];
  while (pending.length > 0) {
    const i = Math.floor(random() * pending.length);
    out.push(pending[i]!.shift()!);
    if (pending[i]!.length === 0) pending.splice(i, 1);
  }
  return out;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Like pump(), but every delivery is reordered across streams. */
function pumpShuffled(a: Side, b: Side, random: () => number, onEvent: (side: Side, event: ReturnType<Side['h3']['pollEvents']>[number]) => void): void {
  for (let round = 0; round < 10000; round++) {
    let moved = false;
    for (const side of [a, b]) {
      const incoming = shuffleAcrossStreams(side.quic.pollEvents(), random);
      const produced = [...side.h3.pollEvents(), ...(incoming.length > 0 ? side.h3.handleEvents(incoming) : [])];
      if (incoming.length > 0 || produced.length > 0) moved = true;
      for (const event of produced) {
        side.events.push(event);
        onEvent(side, event);
      }
    }
    if (!moved) return;
  }
  throw new Error('no quiescence');
}

const value = fc.oneof(fc.constantFrom('a', 'text/html', 'gzip, br', 'en-US,en;q=0.9'), fc.stringMatching(/^[!-~]{1,20}$/));
const request = fc.record({
  path: fc.stringMatching(/^\/[a-z0-9]{0,12}$/),
  fields: fc.array(fc.tuple(fc.constantFrom('accept', 'accept-language', 'user-agent', 'x-trace', 'cookie', 'authorization'), value), { maxLength: 5 }),
});

test('requests and responses survive any cross-stream interleaving', () => {
  fc.assert(
    fc.property(fc.array(request, { minLength: 1, maxLength: 20 }), fc.integer(), fc.constantFrom(0, 2, 16), (requests, seed, blocked) => {
      const random = mulberry32(seed);
      const limits = { qpackBlockedStreams: blocked };
      const { client, server } = connectedPair({ limits }, { limits });
      const sent = new Map<number, string[]>();
      for (const { path, fields } of requests) {
        const all = [':method', 'GET', ':scheme', 'https', ':authority', 'example.test', ':path', path, ...fields.flat()];
        sent.set(client.h3.sendRequest(all, true), all);
      }
      pumpShuffled(client, server, random, (side, event) => {
        if (side !== server || event.type !== 'request') return;
        server.h3.sendHeaders(event.streamId, [':status', '200', 'content-type', 'text/plain', 'server', 'httpsd', 'x-path', event.pseudo.path!], false);
        server.h3.sendData(event.streamId, latin1Bytes(event.pseudo.path!), true);
      });
      assert.ok(!server.h3.isTerminated && !client.h3.isTerminated, JSON.stringify([...server.events, ...client.events].filter((e) => e.type === 'connectionTerminated')));
      const received = eventsOf(server, 'request');
      assert.equal(received.length, requests.length);
      for (const r of received) {
        const expected = sent.get(r.streamId)!;
        assert.deepEqual(r.headers, expected.slice(8));
        assert.equal(r.pseudo.path, expected[7]);
      }
      const responses = eventsOf(client, 'response');
      assert.equal(responses.length, requests.length);
      for (const r of responses) assert.equal(r.headers[5], sent.get(r.streamId)![7]);
      assert.equal(server.h3.qpackState.blockedStreams, 0);
    }),
    { numRuns: 150 },
  );
});
