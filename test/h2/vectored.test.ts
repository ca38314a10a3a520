import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameType, encodePingFrame, encodeWindowUpdateFrame, splitFrames } from '../../src/h2/index.js';
import { Peer, REQUEST, concat } from './helpers.js';

// dataToSendv() must put exactly the bytes of dataToSend() on the wire, in the same order, while handing large DATA
// payloads out as views of the application's buffers (no copy) and never overwriting a view it already returned.

function ready(): Peer {
  // Large client windows so bodies are not held back by flow control unless a test asks for it.
  const peer = new Peer({});
  peer.handshake([[0x4, 1 << 24]]);
  peer.send(encodeWindowUpdateFrame(0, (1 << 30) - 65535));
  peer.read();
  return peer;
}

interface Step {
  stream: number;
  size: number;
  end: boolean;
}

function play(peer: Peer, steps: Step[], vectored: boolean, maxBytes: number | undefined, pingEvery: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const opened = new Set<number>();
  let counter = 0;
  const drain = () => {
    for (;;) {
      if (vectored) {
        const parts = peer.conn.dataToSendv(maxBytes);
        if (parts === null) break;
        out.push(...parts);
      } else {
        const bytes = peer.conn.dataToSend(maxBytes);
        if (bytes === null) break;
        out.push(bytes);
      }
    }
  };
  for (const step of steps) {
    if (!opened.has(step.stream)) {
      opened.add(step.stream);
      peer.request(step.stream, REQUEST, true);
      peer.conn.sendHeaders(step.stream, [':status', '200'], false);
    }
    const body = new Uint8Array(step.size);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7 + step.stream + counter) & 0xff;
    peer.conn.sendData(step.stream, body, step.end);
    if (step.end) opened.delete(step.stream);
    if (++counter % pingEvery === 0) peer.send(encodePingFrame(new Uint8Array(8).fill(counter & 0xff)));
    if (counter % 3 === 0) drain();
  }
  drain();
  return out;
}

describe('dataToSendv', () => {
  test('same bytes as dataToSend for random streams, chunk sizes, control frames and write budgets', () => {
    const step = fc.record({
      stream: fc.constantFrom(1, 3, 5, 7),
      size: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1000, max: 5000 }), fc.integer({ min: 15000, max: 70000 })),
      end: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(step, { minLength: 1, maxLength: 25 }),
        fc.option(fc.integer({ min: 1, max: 200000 }), { nil: undefined }),
        fc.integer({ min: 1, max: 6 }),
        (steps, maxBytes, pingEvery) => {
          const plain = concat(play(ready(), steps, false, maxBytes, pingEvery));
          const vectored = play(ready(), steps, true, maxBytes, pingEvery);
          // Compare after everything was written: earlier parts must not have been overwritten by later output.
          assert.deepEqual(concat(vectored), plain);
          assert.equal(splitFrames(plain).rest.length, 0);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('large DATA payloads are views of the buffer given to sendData (no copy); small ones are copied', () => {
    const peer = ready();
    peer.request(1, REQUEST, true);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    const big = new Uint8Array(6 * 16384 + 5000).fill(0x61);
    peer.conn.sendData(1, big, false);
    const parts = peer.conn.dataToSendv()!;
    const views = parts.filter((part) => part.buffer === big.buffer);
    // Frames of the default SETTINGS_MAX_FRAME_SIZE (16,384): 6 full + 5,000 bytes, each payload a view.
    assert.equal(views.length, 7);
    assert.equal(views.reduce((n, v) => n + v.length, 0), big.length);
    const frames = splitFrames(concat(parts)).frames;
    assert.deepEqual(
      frames.map((f) => [f.type, f.length]),
      [[FrameType.HEADERS, frames[0]!.length], ...Array.from({ length: 6 }, () => [FrameType.DATA, 16384]), [FrameType.DATA, 5000]],
    );

    const small = new Uint8Array(100).fill(0x62);
    peer.conn.sendData(1, small, true);
    const tail = peer.conn.dataToSendv()!;
    assert.ok(tail.every((part) => part.buffer !== small.buffer));
    assert.equal(concat(tail).length, 9 + 100);
  });

  test('with a frame trace hook the output is contiguous (every frame is traced) and still identical', () => {
    const traced: number[] = [];
    const peer = new Peer({ onFrame: (direction, frame) => direction === 'out' && traced.push(frame.type) });
    peer.handshake([[0x4, 1 << 24]]);
    peer.read();
    traced.length = 0;
    peer.request(1, REQUEST, true);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    peer.conn.sendData(1, new Uint8Array(40_000), true);
    const parts = peer.conn.dataToSendv()!;
    assert.equal(parts.length, 1);
    assert.deepEqual(traced, [FrameType.HEADERS, FrameType.DATA, FrameType.DATA, FrameType.DATA]);
  });
});
