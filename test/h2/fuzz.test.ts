/**
 * Property tests: random and mutated frame sequences after a valid preface never make receive() throw, never
 * loop, keep output and buffered state bounded, and end either healthy or with a GOAWAY carrying a valid code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  CONNECTION_PREFACE,
  ErrorCode,
  FrameType,
  H2Connection,
  HpackEncoder,
  encodeContinuationFrame,
  encodeDataFrame,
  encodeFrame,
  encodeGoawayFrame,
  encodeHeadersFrame,
  encodePingFrame,
  encodePriorityFrame,
  encodePriorityUpdateFrame,
  encodeRstStreamFrame,
  encodeSettingsFrame,
  encodeWindowUpdateFrame,
  formatFrame,
  splitFrames,
} from '../../src/h2/index.js';
import { concat } from './helpers.js';

const VALID_CODES = new Set(Object.values(ErrorCode));
const HANDSHAKE = concat([CONNECTION_PREFACE, encodeSettingsFrame([])]);

/** Feeds chunks, driving the engine like a server would (respond to requests, consume data, drain output). */
function drive(chunks: Uint8Array[]): { conn: H2Connection; output: number; input: number } {
  let clock = 0;
  const conn = new H2Connection({ now: () => clock });
  let output = conn.dataToSend()?.length ?? 0;
  let input = 0;
  for (const chunk of chunks) {
    input += chunk.length;
    clock += 1;
    const events = conn.receive(chunk);
    for (const e of events) {
      if (e.type === 'request') {
        conn.sendHeaders(e.streamId, [':status', '200', 'content-type', 'text/plain'], false);
        conn.sendData(e.streamId, new Uint8Array(100), e.streamId % 3 === 0);
        if (e.streamId % 3 === 1) conn.sendTrailers(e.streamId, ['x-trailer', '1']);
      } else if (e.type === 'data') {
        conn.consume(e.streamId, e.flowControlledLength);
      }
    }
    const out = conn.dataToSend();
    if (out) {
      output += out.length;
      assert.equal(splitFrames(out).rest.length, 0, 'output must be whole frames');
    }
    assert.ok(conn.bufferedBytes <= 100 * 1024 + 1000 * 200, `bufferedBytes ${conn.bufferedBytes}`);
    assert.ok(conn.openStreamCount <= 100);
  }
  return { conn, output, input };
}

function checkOutcome(conn: H2Connection, allOutput: Uint8Array[]): void {
  if (!conn.isClosing) return;
  const frames = allOutput.flatMap((b) => splitFrames(b).frames);
  const goaways = frames.filter((f) => f.type === FrameType.GOAWAY);
  for (const g of goaways) {
    const code = new DataView(g.payload.buffer, g.payload.byteOffset).getUint32(4);
    assert.ok(VALID_CODES.has(code as never), `GOAWAY code ${code}`);
  }
}

const encoder = new HpackEncoder();
const headerBlock = fc
  .array(fc.tuple(fc.constantFrom(':method', ':path', ':scheme', ':authority', 'content-length', 'te', 'x-a', 'Upper', 'cookie', ':status'), fc.string({ maxLength: 20 })), { maxLength: 8 })
  .map((pairs) => {
    const list = [':method', 'GET', ':scheme', 'https', ':path', '/', ...pairs.flat()];
    return encoder.encode(list).slice();
  });

const streamId = fc.oneof(fc.constantFrom(0, 1, 3, 5, 7, 2), fc.integer({ min: 0, max: 0x7fffffff }));
const frame: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.tuple(streamId, fc.uint8Array({ maxLength: 64 }), fc.boolean(), fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined })).map(([id, data, end, pad]) =>
    encodeDataFrame(id, data, { endStream: end, padLength: pad }),
  ),
  fc.tuple(streamId, headerBlock, fc.boolean(), fc.boolean()).map(([id, block, end, endHeaders]) =>
    encodeHeadersFrame(id, block, { endStream: end, endHeaders }),
  ),
  fc.tuple(streamId, fc.uint8Array({ maxLength: 32 }), fc.boolean()).map(([id, b, eh]) => encodeContinuationFrame(id, b, eh)),
  fc.tuple(streamId, streamId, fc.integer({ min: 1, max: 256 })).map(([id, dep, weight]) =>
    encodePriorityFrame(id, { exclusive: false, dependency: dep, weight }),
  ),
  fc.tuple(streamId, fc.integer({ min: 0, max: 20 })).map(([id, code]) => encodeRstStreamFrame(id, code)),
  fc.array(fc.tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 0xffffffff })), { maxLength: 6 }).map((s) => encodeSettingsFrame(s)),
  fc.constant(encodeSettingsFrame([], true)),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => encodePingFrame(b)),
  fc.tuple(streamId, fc.integer({ min: 0, max: 0x7fffffff })).map(([id, inc]) => encodeWindowUpdateFrame(id, inc)),
  fc.tuple(streamId, fc.integer({ min: 0, max: 20 })).map(([id, code]) => encodeGoawayFrame(id, code)),
  fc.tuple(streamId, fc.string({ maxLength: 10 })).map(([id, v]) => encodePriorityUpdateFrame(id, v)),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), streamId, fc.uint8Array({ maxLength: 40 })).map(
    ([type, flags, id, payload]) => encodeFrame(type, flags, id, payload),
  ),
);

/** Splits bytes into chunks at arbitrary points (TCP segmentation). */
function segment(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

/**
 * Plausible sessions: mostly valid operations on a few streams (new requests on increasing ids, bodies, trailers,
 * resets, window updates, settings), with occasional invalid header fields, so the fuzzer reaches deep states
 * instead of dying on the first frame. Encoded in order with one HPACK encoder per run.
 */
type Op =
  | { op: 'open'; end: boolean; split: boolean; extra: number }
  | { op: 'data'; stream: number; length: number; end: boolean; pad: number | undefined }
  | { op: 'trailers'; stream: number; end: boolean }
  | { op: 'rst'; stream: number }
  | { op: 'window'; stream: number; increment: number }
  | { op: 'settings'; window: number }
  | { op: 'ping' }
  | { op: 'priority'; stream: number; dependency: number };
const EXTRA_FIELDS: string[][] = [[], ['content-length', '10'], ['te', 'trailers'], ['te', 'gzip'], ['x-a', ' bad'], ['connection', 'close'], ['cookie', 'a=b']];
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('open' as const), end: fc.boolean(), split: fc.boolean(), extra: fc.nat(EXTRA_FIELDS.length - 1) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('data' as const), stream: fc.nat(7), length: fc.nat(20000), end: fc.boolean(), pad: fc.option(fc.nat(255), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('trailers' as const), stream: fc.nat(7), end: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rst' as const), stream: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('window' as const), stream: fc.nat(8), increment: fc.oneof(fc.integer({ min: 1, max: 1 << 20 }), fc.constant(0), fc.constant(0x7fffffff)) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('settings' as const), window: fc.oneof(fc.nat(1 << 20), fc.constant(0)) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('ping' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('priority' as const), stream: fc.nat(8), dependency: fc.nat(8) }) },
);

function encodeSession(ops: Op[]): Uint8Array[] {
  const enc = new HpackEncoder();
  const out: Uint8Array[] = [HANDSHAKE];
  let opened = 0;
  const id = (index: number) => (opened === 0 ? 1 : 2 * (index % opened) + 1);
  for (const o of ops) {
    // Frames for streams that cannot exist yet would only end every run at once.
    if (opened === 0 && o.op !== 'open' && o.op !== 'ping' && o.op !== 'settings') continue;
    switch (o.op) {
      case 'open': {
        const sid = 2 * opened++ + 1;
        const block = enc.encode([':method', 'POST', ':scheme', 'https', ':path', `/${sid}`, ':authority', 'h', ...EXTRA_FIELDS[o.extra]!]).slice();
        if (o.split && block.length > 2) {
          out.push(encodeHeadersFrame(sid, block.subarray(0, 2), { endStream: o.end, endHeaders: false }), encodeContinuationFrame(sid, block.subarray(2)));
        } else {
          out.push(encodeHeadersFrame(sid, block, { endStream: o.end }));
        }
        break;
      }
      case 'data':
        out.push(encodeDataFrame(id(o.stream), new Uint8Array(Math.min(o.length, 16384 - 256)), { endStream: o.end, padLength: o.pad }));
        break;
      case 'trailers':
        out.push(encodeHeadersFrame(id(o.stream), enc.encode(['x-checksum', '1']).slice(), { endStream: o.end }));
        break;
      case 'rst':
        out.push(encodeRstStreamFrame(id(o.stream), ErrorCode.CANCEL));
        break;
      case 'window':
        out.push(encodeWindowUpdateFrame(o.stream === 8 ? 0 : id(o.stream), o.increment));
        break;
      case 'settings':
        out.push(encodeSettingsFrame([[0x4, o.window]]));
        break;
      case 'ping':
        out.push(encodePingFrame());
        break;
      case 'priority':
        out.push(encodePriorityFrame(id(o.stream), { exclusive: false, dependency: id(o.dependency), weight: 16 }));
        break;
    }
  }
  return out;
}

test('plausible sessions reach deep states and never throw', { timeout: 60_000 }, () => {
  let requests = 0;
  fc.assert(
    fc.property(fc.array(op, { minLength: 10, maxLength: 60 }), (ops) => {
      const { conn } = drive(encodeSession(ops));
      assert.ok(conn.openStreamCount <= 100);
      requests += conn.lastStreamId > 0 ? 1 : 0;
    }),
    { numRuns: 300 },
  );
  // The generator is useful only if most runs get requests through.
  assert.ok(requests > 150, `only ${requests} runs had a request`);
});

test('random bytes after the preface never throw', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), (chunks) => {
      const { conn } = drive([HANDSHAKE, ...chunks]);
      assert.equal(typeof conn.isClosing, 'boolean');
    }),
    { numRuns: 300 },
  );
});

test('random frame sequences never throw and end healthy or with a valid GOAWAY', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.array(frame, { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 10 }), (frames, cuts) => {
      const bytes = concat([HANDSHAKE, ...frames]);
      const outputs: Uint8Array[] = [];
      let clock = 0;
      const conn = new H2Connection({ now: () => clock++ });
      for (const chunk of segment(bytes, cuts)) {
        for (const e of conn.receive(chunk)) {
          if (e.type === 'request') conn.sendHeaders(e.streamId, [':status', '204'], true);
          if (e.type === 'data') conn.consume(e.streamId, e.flowControlledLength);
        }
        const out = conn.dataToSend();
        if (out) outputs.push(out);
      }
      checkOutcome(conn, outputs);
      // Output stays proportional to input (no amplification loops).
      const outLength = outputs.reduce((n, o) => n + o.length, 0);
      assert.ok(outLength <= 200 + bytes.length * 20, `output ${outLength} for input ${bytes.length}`);
    }),
    { numRuns: 400 },
  );
});

test('tracing every frame of random sequences never throws', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.array(frame, { maxLength: 30 }), (frames) => {
      const lines: string[] = [];
      const conn = new H2Connection({ now: () => 0, onFrame: (direction, f) => lines.push(formatFrame(direction, f)) });
      for (const e of conn.receive(concat([HANDSHAKE, ...frames]))) {
        if (e.type === 'request') conn.sendHeaders(e.streamId, [':status', '200', 'x', 'y'], true);
      }
      conn.dataToSend();
      assert.ok(lines.length >= 2);
      assert.ok(lines.every((l) => /^(recv|send) \S+ frame <length=\d+, flags=0x[0-9a-f]{2}/.test(l)), lines.join('\n'));
    }),
    { numRuns: 200 },
  );
});

test('mutated valid sequences never throw', { timeout: 60_000 }, () => {
  const valid = () => {
    const enc = new HpackEncoder();
    const parts = [HANDSHAKE];
    for (let id = 1; id < 12; id += 2) {
      const block = enc.encode([':method', 'POST', ':scheme', 'https', ':path', `/p${id}`, ':authority', 'h', 'content-length', '4']).slice();
      parts.push(encodeHeadersFrame(id, block, { endStream: false }));
      parts.push(encodeDataFrame(id, new Uint8Array([1, 2, 3, 4]), { endStream: true, padLength: id }));
      parts.push(encodeWindowUpdateFrame(id, 1000));
      parts.push(encodePingFrame());
    }
    return concat(parts);
  };
  const base = valid();
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (mutations, cuts) => {
        const bytes = base.slice();
        for (const [pos, value] of mutations) {
          const at = CONNECTION_PREFACE.length + (pos % (bytes.length - CONNECTION_PREFACE.length));
          bytes[at] = value;
        }
        const outputs: Uint8Array[] = [];
        const conn = new H2Connection({ now: () => 0 });
        for (const chunk of segment(bytes, cuts)) {
          for (const e of conn.receive(chunk)) {
            if (e.type === 'request') {
              conn.sendHeaders(e.streamId, [':status', '200'], false);
              conn.sendData(e.streamId, new Uint8Array(10), true);
            }
          }
          const out = conn.dataToSend();
          if (out) outputs.push(out);
        }
        checkOutcome(conn, outputs);
      },
    ),
    { numRuns: 500 },
  );
});

test('a long random session keeps the engine bounded', { timeout: 60_000 }, () => {
  fc.assert(
    fc.property(fc.array(frame, { minLength: 200, maxLength: 400 }), (frames) => {
      const { conn, output, input } = drive([HANDSHAKE, ...frames]);
      assert.ok(output <= 200 + input * 20 + 300 * 200);
      assert.ok(conn.openStreamCount <= 100);
    }),
    { numRuns: 30 },
  );
});
