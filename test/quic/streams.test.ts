// Stream buffers as units: reassembly of out-of-order, duplicated and overlapping data (RFC 9000 §2.2), the send
// buffer's retransmission bookkeeping, and receive-window auto-tuning (§4.2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { concatBytes } from '../../src/quic/buffer.js';
import { ReceiveWindow } from '../../src/quic/flow-control.js';
import { ReassemblyBuffer } from '../../src/quic/reassembly.js';
import { SendBuffer } from '../../src/quic/stream-sender.js';
import { injectFromClient, Pair, patternBytes } from './support/harness.js';

test('reassembly delivers the original bytes in order whatever the chunking, order and duplication', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3000 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 400 })), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 0, max: 1000 }),
      (length, pieces, seed) => {
        const data = patternBytes(length, seed);
        const buffer = new ReassemblyBuffer();
        const out: Uint8Array[] = [];
        // Random overlapping pieces first, then the whole range in 100-byte pieces in reverse so it completes.
        for (const [start, size] of pieces) {
          const offset = start % length;
          out.push(...buffer.insert(offset, data.subarray(offset, Math.min(length, offset + size))));
        }
        for (let offset = Math.floor((length - 1) / 100) * 100; offset >= 0; offset -= 100) {
          out.push(...buffer.insert(offset, data.subarray(offset, Math.min(length, offset + 100))));
        }
        assert.deepEqual(concatBytes(out), data);
        assert.equal(buffer.delivered, length);
        assert.equal(buffer.bufferedBytes, 0);
      },
    ),
    { numRuns: 300, seed: 11 },
  );
});

test('send buffer: lost ranges are resent (not the acknowledged parts), FIN rides the last chunk', () => {
  const send = new SendBuffer();
  const data = patternBytes(1000, 1);
  send.write(data.subarray(0, 600), false);
  send.write(data.subarray(600), true);
  const a = send.nextChunk(400, Number.MAX_SAFE_INTEGER)!;
  const b = send.nextChunk(400, 700)!; // flow control stops it at 700
  assert.deepEqual([a.offset, a.data.byteLength, a.fin, b.offset, b.data.byteLength, b.fin], [0, 400, false, 400, 300, false]);
  assert.equal(send.nextChunk(400, 700), undefined, 'blocked by flow control');
  const c = send.nextChunk(400, 1000)!;
  assert.deepEqual([c.offset, c.data.byteLength, c.fin], [700, 300, true]);
  assert.deepEqual(concatBytes([a.data, b.data, c.data]), data);
  send.onAcked(0, 400, false);
  send.onAcked(500, 100, false);
  send.onLost(400, 300, false); // 400..700 lost, but 500..600 was acknowledged by another copy
  const r1 = send.nextChunk(1000, 1000)!;
  const r2 = send.nextChunk(1000, 1000)!;
  assert.deepEqual([r1.offset, r1.data.byteLength, r2.offset, r2.data.byteLength], [400, 100, 600, 100]);
  assert.deepEqual(r1.data, data.subarray(400, 500));
  send.onLost(700, 300, true);
  assert.equal(send.nextChunk(1000, 1000)!.fin, true);
  for (const [offset, length] of [[400, 100], [600, 100], [700, 300]] as const) send.onAcked(offset, length, offset === 700);
  assert.ok(send.allAcked);
  assert.equal(send.hasPending, false);
});

test('receive windows double when consumed within two round trips, up to the maximum', () => {
  const window = new ReceiveWindow(1000, 4000);
  assert.equal(window.exceeds(1000), false);
  assert.equal(window.exceeds(1001), true);
  window.highestReceived = 900;
  window.consumed = 600;
  assert.ok(window.wantsUpdate);
  assert.equal(window.advance(0, 100), 1600); // first update: no history, same window
  window.consumed = 1200;
  assert.equal(window.advance(150, 100), 1200 + 2000); // 150 ms later < 2 RTT: doubled
  window.consumed = 2500;
  assert.equal(window.advance(200, 100), 2500 + 4000);
  window.consumed = 5000;
  assert.equal(window.advance(250, 100), 5000 + 4000, 'capped at the maximum');
  window.consumed = 8000;
  assert.equal(window.advance(10_000, 100), 8000 + 4000, 'slow consumption does not grow it');
});

test('a frame that fills a gap ends the stream only with the last chunk it releases (FIN arrived first)', () => {
  const pair = new Pair();
  assert.ok(pair.handshake());
  const data = patternBytes(300, 7);
  // The end of the stream (with FIN) and its middle arrive before its start, as after a loss and a retransmission.
  injectFromClient(pair, [{ type: 'stream', streamId: 0, offset: 200, data: data.subarray(200), fin: true }]);
  injectFromClient(pair, [{ type: 'stream', streamId: 0, offset: 100, data: data.subarray(100, 200), fin: false }]);
  const events = injectFromClient(pair, [{ type: 'stream', streamId: 0, offset: 0, data: data.subarray(0, 100), fin: false }]);
  const chunks = events.flatMap((e) => (e.type === 'streamData' && e.streamId === 0 ? [e] : []));
  assert.equal(chunks.length, 3, 'the filling frame and the two buffered chunks behind it');
  assert.deepEqual(chunks.map((c) => c.end), [false, false, true], 'only the last chunk ends the stream');
  assert.deepEqual(concatBytes(chunks.map((c) => c.data)), data);
});
