// The optional frame-trace hook (H2ConnectionOptions.onFrame, the CLI's --trace-frames) must observe without
// changing anything: for malformed and valid frames of every type, the engine's reaction (frames written, events)
// is identical with and without the hook, receive() never throws, and the hook sees every frame written.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TracedFrame } from '../../src/h2/types.js';
import { Client, describe as describeFrames, req } from './harness.js';

const TYPES = [0x0, 0x1, 0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0x8, 0x9, 0x10, 0xfa];
const FLAGS = [0x0, 0x1, 0x4, 0x8, 0x20, 0x2d, 0xff];
const STREAMS = [0, 1, 2, 3];
const LENGTHS = [0, 1, 3, 4, 5, 6, 7, 8, 9, 12];

function outcome(type: number, flags: number, streamId: number, length: number, trace: boolean): { frames: string; events: string; traced: TracedFrame[] } {
  const traced: TracedFrame[] = [];
  const c = Client.connect({ app: 'none', engine: trace ? { onFrame: (_dir, f) => traced.push(f) } : {} });
  c.sendHeaders(1, req('/', [], 'POST'));
  c.readFrames();
  const payload = Uint8Array.from({ length }, (_, i) => (i * 37 + length + type) & 0xff);
  c.sendFrame(type, flags, streamId, payload);
  const frames = describeFrames(c.readFrames());
  const events = JSON.stringify(c.events.map((e) => e.type));
  return { frames, events, traced };
}

describe('frame-trace hook', () => {
  test('RFC 9113 §4.1/§6 every frame type, flag set, stream and length: identical reaction with and without the trace hook', () => {
    let cases = 0;
    for (const type of TYPES) {
      for (const flags of FLAGS) {
        for (const streamId of STREAMS) {
          for (const length of LENGTHS) {
            const plain = outcome(type, flags, streamId, length, false);
            const traced = outcome(type, flags, streamId, length, true);
            const label = `type 0x${type.toString(16)} flags 0x${flags.toString(16)} stream ${streamId} length ${length}`;
            assert.equal(traced.frames, plain.frames, label);
            assert.equal(traced.events, plain.events, label);
            assert.ok(traced.traced.some((f) => f.type === type || type === 0xfa), `the hook saw the frame: ${label}`);
            cases++;
          }
        }
      }
    }
    assert.equal(cases, TYPES.length * FLAGS.length * STREAMS.length * LENGTHS.length);
  });

  test('the trace hook reports every frame written, in order', () => {
    const out: TracedFrame[] = [];
    const c = Client.connect({ engine: { onFrame: (dir, f) => dir === 'out' && out.push(f) } });
    c.request(1);
    c.request(3);
    c.sendPing();
    assert.deepEqual(
      out.map((f) => [f.type, f.streamId, f.flags]),
      c.frames.map((f) => [f.type, f.streamId, f.flags]),
    );
  });
});
