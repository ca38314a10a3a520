// QPACK round trips with fast-check: random field lists through an encoder with a dynamic table and a decoder,
// with the encoder stream delivered late and in random pieces (sections block, then unblock), the decoder stream
// fed back so references are released; plus random bytes into every decoder entry point (never anything but
// QpackError).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QpackDecoder, QpackEncoder } from '../../src/h3/qpack/index.js';
import { H3Error } from '../../src/h3/errors.js';

const names = fc.oneof(
  fc.constantFrom(':status', 'content-type', 'server', 'cache-control', 'vary', 'user-agent', ':authority', 'set-cookie', 'cookie', 'x-custom', 'etag'),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/),
);
const values = fc.oneof(
  fc.constantFrom('200', 'text/html', 'httpsd', 'no-cache', 'accept-encoding', ''),
  fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x')),
  fc.uint8Array({ maxLength: 30 }).map((b) => String.fromCharCode(...b)),
);
const fieldList = fc.array(fc.tuple(names, values), { maxLength: 12 }).map((pairs) => pairs.flat());

test('round trip with late, split encoder-stream delivery', () => {
  let blockedSeen = 0;
  let dynamicReferences = 0;
  fc.assert(
    fc.property(
      fc.array(fieldList, { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 0, max: 4 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
      fc.constantFrom(0, 256, 1024, 4096),
      (sections, blockedStreams, splits, capacity) => {
        const encoder = new QpackEncoder({ maxTableCapacity: capacity });
        encoder.applyPeerSettings(capacity, blockedStreams);
        const decoder = new QpackDecoder({ maxTableCapacity: capacity, maxBlockedStreams: blockedStreams, maxFieldSectionSize: 1 << 20 });
        const decoded = new Map<number, string[]>();
        let pendingEncoderStream: number[] = [];
        let splitIndex = 0;
        const deliverSome = (all: boolean) => {
          while (pendingEncoderStream.length > 0) {
            const n = all ? pendingEncoderStream.length : Math.min(pendingEncoderStream.length, splits[splitIndex++ % splits.length]!);
            const chunk = Uint8Array.from(pendingEncoderStream.slice(0, n));
            pendingEncoderStream = pendingEncoderStream.slice(n);
            for (const { streamId, result } of decoder.receiveEncoderStream(chunk)) {
              assert.equal(result.status, 'done');
              if (result.status === 'done') decoded.set(streamId, result.fields);
            }
            if (!all) break;
          }
          const feedback = decoder.takeInstructions();
          if (feedback !== null) encoder.receiveDecoderStream(feedback);
        };
        sections.forEach((fields, i) => {
          const streamId = 4 * i;
          const block = encoder.encode(streamId, fields);
          const instructions = encoder.takeInstructions();
          if (instructions !== null) pendingEncoderStream.push(...instructions);
          // The section overtakes the encoder stream: it may block (within the limit the encoder respects).
          const result = decoder.decodeFieldSection(streamId, block);
          if (result.status === 'done') decoded.set(streamId, result.fields);
          else {
            assert.equal(result.status, 'blocked');
            blockedSeen++;
          }
          if (block[0] !== 0) dynamicReferences++;
          assert.ok(decoder.blockedStreamCount <= blockedStreams);
          deliverSome(false);
        });
        deliverSome(true);
        sections.forEach((fields, i) => assert.deepEqual(decoded.get(4 * i), fields, `stream ${4 * i}`));
        assert.equal(decoder.blockedStreamCount, 0);
        assert.equal(encoder.blockingStreamCount, 0, 'every section acknowledged');
        for (let abs = encoder.table.oldest; abs < encoder.table.insertCount; abs++) assert.equal(encoder.table.get(abs)!.refs, 0);
        assert.equal(decoder.table.insertCount, encoder.table.insertCount);
        assert.ok(decoder.table.size <= capacity);
      },
    ),
    { numRuns: 300 },
  );
  assert.ok(blockedSeen > 0, 'some sections were blocked');
  assert.ok(dynamicReferences > blockedSeen, 'some dynamic references were decoded without blocking');
});

test('random bytes never throw anything but a QPACK error', () => {
  const onlyQpackErrors = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof H3Error, String(error));
      assert.ok(error.code >= 0x200 && error.code <= 0x202);
    }
  };
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }), fc.uint8Array({ maxLength: 64 }), (encoderChunks, section) => {
      const decoder = new QpackDecoder({ maxTableCapacity: 512, maxBlockedStreams: 4, maxFieldSectionSize: 4096 });
      onlyQpackErrors(() => {
        for (const chunk of encoderChunks) decoder.receiveEncoderStream(chunk);
      });
      onlyQpackErrors(() => decoder.decodeFieldSection(0, section));
      onlyQpackErrors(() => new QpackEncoder().receiveDecoderStream(section));
    }),
    { numRuns: 2000 },
  );
});
