/** Property tests: messages round-trip through any fragmentation and read chunking; random bytes never throw. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WebSocketConnection, type WebSocketEvent } from '../../src/ws/index.js';
import { concatBytes, frame } from './wire.js';

let keyCounter = 0;
const client = () => new WebSocketConnection({ role: 'client', maskKey: () => Uint8Array.of(keyCounter++ & 0xff, 0x5a, 0xa5, 0x3c) });

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let last = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(last, point));
    last = point;
  }
  chunks.push(bytes.subarray(last));
  return chunks;
}

const message = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 300 }).map((s) => ({ data: s as string | Uint8Array })),
  fc.uint8Array({ maxLength: 3000 }).map((b) => ({ data: b as string | Uint8Array })),
);

test('client → server: messages split into random fragments and read in random chunks arrive intact', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(message, fc.array(fc.nat(), { maxLength: 4 })), { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, cuts) => {
      const server = new WebSocketConnection({ role: 'server' });
      const frames: Uint8Array[] = [];
      for (const [{ data }, fragmentCuts] of messages) {
        const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
        // Fragment at byte positions (for text possibly inside a UTF-8 sequence: §5.4 allows that).
        const pieces = split(bytes, fragmentCuts);
        pieces.forEach((piece, i) => {
          frames.push(frame({ opcode: i === 0 ? (typeof data === 'string' ? 1 : 2) : 0, payload: piece, fin: i === pieces.length - 1 }));
        });
      }
      const events: WebSocketEvent[] = [];
      for (const chunk of split(concatBytes(...frames), cuts)) events.push(...server.receive(chunk));
      assert.deepEqual(
        events.map((e) => (e.type === 'message' ? e.data : e)),
        messages.map(([{ data }]) => data),
      );
    }),
    { numRuns: 300 },
  );
});

test('server → client and client → server through the engine on both ends', () => {
  fc.assert(
    fc.property(fc.array(message, { maxLength: 10 }), (messages) => {
      const server = new WebSocketConnection({ role: 'server' });
      const peer = client();
      for (const { data } of messages) {
        server.sendMessage(data);
        peer.sendMessage(data);
      }
      const toClient = server.dataToSend();
      const toServer = peer.dataToSend();
      const atClient = toClient ? peer.receive(toClient) : [];
      const atServer = toServer ? server.receive(toServer) : [];
      const expected = messages.map(({ data }) => data);
      assert.deepEqual(atClient.map((e) => e.type === 'message' && e.data), expected);
      assert.deepEqual(atServer.map((e) => e.type === 'message' && e.data), expected);
    }),
    { numRuns: 200 },
  );
});

test('random bytes never throw; at most one closed event, and nothing after it', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), fc.boolean(), (chunks, deflate) => {
      const server = new WebSocketConnection({ role: 'server', perMessageDeflate: deflate, limits: { maxMessageSize: 4096 } });
      const events: WebSocketEvent[] = [];
      for (const chunk of chunks) events.push(...server.receive(chunk));
      const closedAt = events.findIndex((e) => e.type === 'closed');
      if (closedAt !== -1) assert.equal(closedAt, events.length - 1);
      const out = server.dataToSend();
      if (out !== null) assert.ok(out.byteLength > 0);
    }),
    { numRuns: 2000 },
  );
});
