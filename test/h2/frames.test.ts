import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  ErrorCode,
  FrameError,
  FrameType,
  decodeFramePayload,
  encodeContinuationFrame,
  encodeDataFrame,
  encodeFrame,
  encodeGoawayFrame,
  encodeHeadersFrame,
  encodePingFrame,
  encodePriorityFrame,
  encodePriorityUpdateFrame,
  encodePushPromiseFrame,
  encodeRstStreamFrame,
  encodeSettingsFrame,
  encodeWindowUpdateFrame,
  splitFrames,
} from '../../src/h2/index.js';
import type { DecodedFrame } from '../../src/h2/index.js';

function roundTrip(bytes: Uint8Array): DecodedFrame {
  const { frames, rest } = splitFrames(bytes);
  assert.equal(frames.length, 1);
  assert.equal(rest.length, 0);
  return decodeFramePayload(frames[0]!);
}

function decodeRaw(type: number, flags: number, streamId: number, payload: number[]): DecodedFrame {
  return roundTrip(encodeFrame(type, flags, streamId, new Uint8Array(payload)));
}

function assertFrameError(fn: () => unknown, code: number, connection: boolean): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof FrameError, String(error));
    assert.equal(error.code, code);
    assert.equal(error.connection, connection);
    return true;
  });
}

describe('frame header', () => {
  test('9-octet header: 24-bit length, type, flags, 31-bit stream id', () => {
    const bytes = encodeFrame(0xfa, 0xff, 0x7fffffff, new Uint8Array(3));
    assert.deepEqual([...bytes.subarray(0, 9)], [0, 0, 3, 0xfa, 0xff, 0x7f, 0xff, 0xff, 0xff]);
  });

  test('the reserved bit is ignored when reading the stream id (RFC 9113 §4.1)', () => {
    const bytes = encodeFrame(FrameType.DATA, 0, 5, new Uint8Array(0), true);
    assert.equal(bytes[5]! & 0x80, 0x80);
    assert.equal(splitFrames(bytes).frames[0]!.streamId, 5);
  });

  test('splitFrames keeps an incomplete tail', () => {
    const a = encodePingFrame(new Uint8Array(8));
    const b = encodePingFrame(new Uint8Array(8), true);
    const joined = new Uint8Array(a.length + b.length - 3);
    joined.set(a);
    joined.set(b.subarray(0, b.length - 3), a.length);
    const { frames, rest } = splitFrames(joined);
    assert.equal(frames.length, 1);
    assert.equal(rest.length, b.length - 3);
  });
});

describe('every frame type round-trips', () => {
  test('DATA, plain and padded', () => {
    const plain = roundTrip(encodeDataFrame(1, new Uint8Array([1, 2, 3]), { endStream: true }));
    assert.deepEqual(plain.type === 'DATA' && [plain.endStream, [...plain.data], plain.padLength], [true, [1, 2, 3], 0]);
    const padded = roundTrip(encodeDataFrame(3, new Uint8Array([9]), { padLength: 7 }));
    assert.ok(padded.type === 'DATA');
    assert.deepEqual([...padded.data], [9]);
    assert.equal(padded.padLength, 7);
    assert.equal(padded.endStream, false);
  });

  test('HEADERS with padding and priority', () => {
    const f = roundTrip(
      encodeHeadersFrame(5, new Uint8Array([0x82, 0x84]), {
        endStream: true,
        padLength: 3,
        priority: { exclusive: true, dependency: 3, weight: 256 },
      }),
    );
    assert.ok(f.type === 'HEADERS');
    assert.deepEqual([...f.fragment], [0x82, 0x84]);
    assert.deepEqual(f.priority, { exclusive: true, dependency: 3, weight: 256 });
    assert.equal(f.endHeaders, true);
    assert.equal(f.endStream, true);
    assert.equal(f.padLength, 3);
  });

  test('PRIORITY', () => {
    const f = roundTrip(encodePriorityFrame(7, { exclusive: false, dependency: 1, weight: 16 }));
    assert.deepEqual(f, { type: 'PRIORITY', streamId: 7, priority: { exclusive: false, dependency: 1, weight: 16 } });
  });

  test('RST_STREAM', () => {
    assert.deepEqual(roundTrip(encodeRstStreamFrame(9, ErrorCode.CANCEL)), {
      type: 'RST_STREAM',
      streamId: 9,
      errorCode: ErrorCode.CANCEL,
    });
  });

  test('SETTINGS and its ACK', () => {
    assert.deepEqual(roundTrip(encodeSettingsFrame([[3, 100], [4, 0x7fffffff]])), {
      type: 'SETTINGS',
      ack: false,
      settings: [[3, 100], [4, 0x7fffffff]],
    });
    assert.deepEqual(roundTrip(encodeSettingsFrame([], true)), { type: 'SETTINGS', ack: true, settings: [] });
  });

  test('PUSH_PROMISE', () => {
    const f = roundTrip(encodePushPromiseFrame(1, 2, new Uint8Array([0x82]), { padLength: 2 }));
    assert.ok(f.type === 'PUSH_PROMISE');
    assert.equal(f.promisedStreamId, 2);
    assert.deepEqual([...f.fragment], [0x82]);
  });

  test('PING and PING ACK', () => {
    const opaque = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const f = roundTrip(encodePingFrame(opaque, true));
    assert.ok(f.type === 'PING');
    assert.equal(f.ack, true);
    assert.deepEqual([...f.opaque], [...opaque]);
  });

  test('GOAWAY with debug data', () => {
    const f = roundTrip(encodeGoawayFrame(11, ErrorCode.ENHANCE_YOUR_CALM, new Uint8Array([0x61])));
    assert.ok(f.type === 'GOAWAY');
    assert.equal(f.lastStreamId, 11);
    assert.equal(f.errorCode, ErrorCode.ENHANCE_YOUR_CALM);
    assert.deepEqual([...f.debugData], [0x61]);
  });

  test('WINDOW_UPDATE ignores the reserved bit of the increment', () => {
    const f = roundTrip(encodeWindowUpdateFrame(0, 0x80000001));
    assert.deepEqual(f, { type: 'WINDOW_UPDATE', streamId: 0, increment: 1 });
  });

  test('CONTINUATION', () => {
    const f = roundTrip(encodeContinuationFrame(1, new Uint8Array([1]), false));
    assert.deepEqual(f.type === 'CONTINUATION' && [f.endHeaders, [...f.fragment]], [false, [1]]);
  });

  test('PRIORITY_UPDATE (RFC 9218 §7.1)', () => {
    assert.deepEqual(roundTrip(encodePriorityUpdateFrame(5, 'u=1, i')), {
      type: 'PRIORITY_UPDATE',
      prioritizedStreamId: 5,
      value: 'u=1, i',
    });
  });

  test('unknown types are returned as UNKNOWN (RFC 9113 §5.5: ignored by the connection)', () => {
    const f = decodeRaw(0xfe, 0xff, 3, [1, 2]);
    assert.equal(f.type, 'UNKNOWN');
  });
});

describe('size, padding and stream-id errors (RFC 9113 §4.2, §6)', () => {
  test('padding longer than the payload is a connection PROTOCOL_ERROR (§6.1)', () => {
    assertFrameError(() => decodeRaw(FrameType.DATA, 0x8, 1, [5, 1, 2]), ErrorCode.PROTOCOL_ERROR, true);
    assertFrameError(() => decodeRaw(FrameType.HEADERS, 0x8 | 0x4, 1, [3, 0x82]), ErrorCode.PROTOCOL_ERROR, true);
  });

  test('padding exactly filling the payload is allowed (empty body)', () => {
    const f = decodeRaw(FrameType.DATA, 0x8, 1, [2, 0, 0]);
    assert.ok(f.type === 'DATA');
    assert.equal(f.data.length, 0);
  });

  test('PADDED flag with no room for the pad length: FRAME_SIZE_ERROR', () => {
    assertFrameError(() => decodeRaw(FrameType.DATA, 0x8, 1, []), ErrorCode.FRAME_SIZE_ERROR, true);
  });

  test('HEADERS with PRIORITY shorter than 5 octets: FRAME_SIZE_ERROR', () => {
    assertFrameError(() => decodeRaw(FrameType.HEADERS, 0x24, 1, [0, 0, 0]), ErrorCode.FRAME_SIZE_ERROR, true);
  });

  test('PRIORITY with length other than 5 is a STREAM FRAME_SIZE_ERROR (§6.3)', () => {
    assertFrameError(() => decodeRaw(FrameType.PRIORITY, 0, 1, [0, 0, 0, 0]), ErrorCode.FRAME_SIZE_ERROR, false);
  });

  test('RST_STREAM length other than 4 (§6.4)', () => {
    assertFrameError(() => decodeRaw(FrameType.RST_STREAM, 0, 1, [0, 0, 0]), ErrorCode.FRAME_SIZE_ERROR, true);
  });

  test('SETTINGS: length % 6, ACK with payload, non-zero stream (§6.5)', () => {
    assertFrameError(() => decodeRaw(FrameType.SETTINGS, 0, 0, [0, 1, 0, 0, 0]), ErrorCode.FRAME_SIZE_ERROR, true);
    assertFrameError(() => decodeRaw(FrameType.SETTINGS, 1, 0, [0, 1, 0, 0, 0, 0]), ErrorCode.FRAME_SIZE_ERROR, true);
    assertFrameError(() => decodeRaw(FrameType.SETTINGS, 0, 1, []), ErrorCode.PROTOCOL_ERROR, true);
  });

  test('PING: length other than 8, non-zero stream (§6.7)', () => {
    assertFrameError(() => decodeRaw(FrameType.PING, 0, 0, [1, 2, 3]), ErrorCode.FRAME_SIZE_ERROR, true);
    assertFrameError(() => decodeRaw(FrameType.PING, 0, 1, [0, 0, 0, 0, 0, 0, 0, 0]), ErrorCode.PROTOCOL_ERROR, true);
  });

  test('GOAWAY shorter than 8 and on a stream (§6.8)', () => {
    assertFrameError(() => decodeRaw(FrameType.GOAWAY, 0, 0, [0, 0, 0, 0]), ErrorCode.FRAME_SIZE_ERROR, true);
    assertFrameError(() => decodeRaw(FrameType.GOAWAY, 0, 3, [0, 0, 0, 0, 0, 0, 0, 0]), ErrorCode.PROTOCOL_ERROR, true);
  });

  test('WINDOW_UPDATE: length other than 4; zero increment is stream vs connection (§6.9)', () => {
    assertFrameError(() => decodeRaw(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 1]), ErrorCode.FRAME_SIZE_ERROR, true);
    assertFrameError(() => decodeRaw(FrameType.WINDOW_UPDATE, 0, 0, [0, 0, 0, 0]), ErrorCode.PROTOCOL_ERROR, true);
    assertFrameError(() => decodeRaw(FrameType.WINDOW_UPDATE, 0, 1, [0, 0, 0, 0]), ErrorCode.PROTOCOL_ERROR, false);
  });

  test('DATA, HEADERS, PRIORITY, RST_STREAM, CONTINUATION, PUSH_PROMISE on stream 0', () => {
    for (const type of [FrameType.DATA, FrameType.HEADERS, FrameType.PRIORITY, FrameType.RST_STREAM, FrameType.CONTINUATION, FrameType.PUSH_PROMISE]) {
      assertFrameError(() => decodeRaw(type, 0x4, 0, [0, 0, 0, 0, 0]), ErrorCode.PROTOCOL_ERROR, true);
    }
  });

  test('PRIORITY_UPDATE on a stream or too short', () => {
    assertFrameError(() => decodeRaw(FrameType.PRIORITY_UPDATE, 0, 1, [0, 0, 0, 1]), ErrorCode.PROTOCOL_ERROR, true);
    assertFrameError(() => decodeRaw(FrameType.PRIORITY_UPDATE, 0, 0, [0, 0, 1]), ErrorCode.FRAME_SIZE_ERROR, true);
  });
});
