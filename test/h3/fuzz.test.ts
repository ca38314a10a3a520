// Fuzzed HTTP/3 input: random and structured-but-random frames on request, control, QPACK and unknown streams, in
// random pieces, to both roles. The engine must never throw, never fail with H3_INTERNAL_ERROR (a bug), and every
// error it reports must be an HTTP/3 or QPACK code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { H3ErrorCode } from '../../src/h3/errors.js';
import { encodeFrame, encodeSettingsFrame } from '../../src/h3/frames.js';
import { QpackEncoder } from '../../src/h3/qpack/encoder.js';
import { encodeVarint } from '../../src/h3/varint.js';
import { concat } from './helpers.js';
import { RawPeer } from './raw-peer.js';

const KNOWN_CODES = new Set<number>(Object.values(H3ErrorCode));

const frameType = fc.oneof(
  fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0d, 0x21, 0x40, 0xf0700, 0xf0701),
  fc.integer({ min: 0, max: 2 ** 30 }),
);
const qpack = new QpackEncoder();
const fieldSection = fc
  .array(fc.tuple(fc.constantFrom(':method', ':path', ':scheme', ':authority', 'content-length', 'x', 'Host', 'te'), fc.string({ maxLength: 8 })), { maxLength: 6 })
  .map((pairs) => qpack.encode(0, pairs.flat()));
const frame = fc.oneof(
  fc.tuple(frameType, fc.uint8Array({ maxLength: 40 })).map(([type, payload]) => encodeFrame(type, payload)),
  fieldSection.map((section) => encodeFrame(0x01, section)),
  fc.array(fc.tuple(fc.integer({ min: 0, max: 0x40 }), fc.integer({ min: 0, max: 5000 })), { maxLength: 4 }).map((entries) => encodeSettingsFrame(entries)),
  fc.uint8Array({ maxLength: 30 }),
);
const action = fc.record({
  target: fc.constantFrom('request', 'control', 'encoder', 'decoder', 'uni'),
  bytes: fc.array(frame, { minLength: 1, maxLength: 5 }).map((frames) => concat(...frames)),
  split: fc.integer({ min: 1, max: 64 }),
  end: fc.boolean(),
  reset: fc.boolean(),
});

for (const role of ['server', 'client'] as const) {
  test(`fuzzed frames to the ${role} never throw and never end in H3_INTERNAL_ERROR`, () => {
    const outcomes = { closed: 0, open: 0, settings: 0 };
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 10 }), fc.boolean(), (actions, withSettings) => {
        const peer = new RawPeer(role);
        if (withSettings) peer.openControl();
        const streams = new Map<string, number>();
        for (const { target, bytes, split, end, reset } of actions) {
          let id = streams.get(target);
          if (id === undefined) {
            if (target === 'request') id = peer.quic.openStream(false);
            else {
              id = peer.quic.openStream(true);
              const type = { control: 0x00, encoder: 0x02, decoder: 0x03, uni: 0x21 }[target]!;
              peer.send(id, encodeVarint(type));
            }
            streams.set(target, id);
          }
          for (let i = 0; i < bytes.length; i += split) peer.send(id, bytes.subarray(i, i + split), end && i + split >= bytes.length);
          if (reset) peer.quic.resetStream(id, H3ErrorCode.H3_REQUEST_CANCELLED);
          if (end || reset) streams.delete(target);
          assert.doesNotThrow(() => peer.deliver());
        }
        const closed = peer.engineQuic.closed;
        outcomes[closed === null ? 'open' : 'closed']++;
        if (peer.events.some((e) => e.type === 'settings')) outcomes.settings++;
        if (closed !== null) {
          assert.notEqual(closed.code, H3ErrorCode.H3_INTERNAL_ERROR, closed.reason);
          assert.ok(KNOWN_CODES.has(closed.code), `unknown code 0x${closed.code.toString(16)}`);
        }
        for (const r of peer.engineQuic.resets) assert.ok(KNOWN_CODES.has(r.code));
      }),
      { numRuns: 1500 },
    );
    // The inputs reach past the first checks: some runs survive, some get as far as applying SETTINGS.
    assert.ok(outcomes.closed > 0 && outcomes.open > 0 && outcomes.settings > 0, JSON.stringify(outcomes));
  });
}
