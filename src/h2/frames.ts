/**
 * HTTP/2 frame codec (RFC 9113 §4, §6): constants, a growable output writer used by the connection, and pure
 * encode/decode helpers for every frame type (used by tests, tracing and anyone scripting raw frames).
 * The connection's receive path parses frames inline for speed; `decodeFramePayload` here implements the same
 * size and padding rules independently, so the two can be tested against each other.
 */
import { concatBytes } from '../common/bytes.js';
import { ErrorCode, FrameType, SettingId } from './types.js';

export const FRAME_HEADER_LENGTH = 9;
/** RFC 9113 §3.4: the client connection preface. */
export const CONNECTION_PREFACE = new Uint8Array([
  0x50, 0x52, 0x49, 0x20, 0x2a, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x32, 0x2e, 0x30, 0x0d, 0x0a, 0x0d, 0x0a, 0x53,
  0x4d, 0x0d, 0x0a, 0x0d, 0x0a,
]); // "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

export const FLAG_END_STREAM = 0x1;
export const FLAG_ACK = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

/** RFC 9113 §6.9.1: the largest flow-control window, 2^31-1. */
export const MAX_WINDOW_SIZE = 0x7fffffff;
/** RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE bounds. */
export const MIN_MAX_FRAME_SIZE = 16384;
export const MAX_MAX_FRAME_SIZE = 16777215;
/** RFC 9113 §6.9.2: initial window of every stream and of the connection. */
export const DEFAULT_INITIAL_WINDOW_SIZE = 65535;

const FRAME_TYPE_NAMES: Record<number, string> = {};
for (const [name, value] of Object.entries(FrameType)) FRAME_TYPE_NAMES[value] = name;
const ERROR_CODE_NAMES: Record<number, string> = {};
for (const [name, value] of Object.entries(ErrorCode)) ERROR_CODE_NAMES[value] = name;
const SETTING_NAMES: Record<number, string> = {};
for (const [name, value] of Object.entries(SettingId)) SETTING_NAMES[value] = name;

export function frameTypeName(type: number): string {
  return FRAME_TYPE_NAMES[type] ?? `UNKNOWN(0x${type.toString(16)})`;
}
export function errorCodeName(code: number): string {
  return ERROR_CODE_NAMES[code] ?? `UNKNOWN(0x${code.toString(16)})`;
}
export function settingName(id: number): string {
  return SETTING_NAMES[id] ?? `UNKNOWN(0x${id.toString(16)})`;
}

/** Names of the flags defined for a frame type (RFC 9113 §6); undefined flags are ignored (§4.1). */
export function flagNames(type: number, flags: number): string[] {
  const names: string[] = [];
  switch (type) {
    case FrameType.DATA:
      if (flags & FLAG_END_STREAM) names.push('END_STREAM');
      if (flags & FLAG_PADDED) names.push('PADDED');
      break;
    case FrameType.HEADERS:
      if (flags & FLAG_END_STREAM) names.push('END_STREAM');
      if (flags & FLAG_END_HEADERS) names.push('END_HEADERS');
      if (flags & FLAG_PADDED) names.push('PADDED');
      if (flags & FLAG_PRIORITY) names.push('PRIORITY');
      break;
    case FrameType.PUSH_PROMISE:
      if (flags & FLAG_END_HEADERS) names.push('END_HEADERS');
      if (flags & FLAG_PADDED) names.push('PADDED');
      break;
    case FrameType.CONTINUATION:
      if (flags & FLAG_END_HEADERS) names.push('END_HEADERS');
      break;
    case FrameType.SETTINGS:
    case FrameType.PING:
      if (flags & FLAG_ACK) names.push('ACK');
      break;
  }
  return names;
}

// ---------------------------------------------------------------------------------------------------------------
// Output writer: one contiguous growable buffer per connection.
// ---------------------------------------------------------------------------------------------------------------

// An idle connection holds no output buffer (memory per idle connection): the first frame of a turn allocates one,
// and take() lets it go with the turn's bytes (see there). A busy turn grows it to what the turn needs (large outputs
// are presized by ensure()).
const INITIAL_OUTPUT_CAPACITY = 1024;
/** The buffer of a writer that holds nothing: shared, never written (ensure() replaces it before any write). */
const NO_OUTPUT = new Uint8Array(0);

export class FrameWriter {
  buf: Uint8Array = NO_OUTPUT;
  length = 0;
  /**
   * Bytes before `mark` were handed out as views by cut() (vectored output): they must never be overwritten, so the
   * buffer is not reused once anything was cut from it.
   */
  mark = 0;

  /**
   * Room for `extra` more bytes. Grows to at least twice the capacity, or straight to what is needed (callers that
   * know how much they are about to write ask once, so a large output costs one allocation, not a copy per doubling).
   */
  ensure(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.buf.length) return;
    const kept = this.length - this.mark;
    const capacity = Math.max(kept + extra, this.mark > 0 ? INITIAL_OUTPUT_CAPACITY : Math.max(INITIAL_OUTPUT_CAPACITY, this.buf.length * 2));
    const next = new Uint8Array(capacity);
    if (kept > 0) next.set(this.buf.subarray(this.mark, this.length));
    this.buf = next;
    this.length = kept;
    this.mark = 0;
  }

  /** The bytes written since the last cut()/take() as a view (no copy); null if none. */
  cut(): Uint8Array | null {
    if (this.length === this.mark) return null;
    const out = this.buf.subarray(this.mark, this.length);
    this.mark = this.length;
    return out;
  }

  /** Writes a 9-octet frame header (RFC 9113 §4.1). Caller ensured capacity. */
  header(length: number, type: number, flags: number, streamId: number): void {
    const b = this.buf;
    let o = this.length;
    b[o++] = (length >>> 16) & 0xff;
    b[o++] = (length >>> 8) & 0xff;
    b[o++] = length & 0xff;
    b[o++] = type;
    b[o++] = flags;
    b[o++] = (streamId >>> 24) & 0x7f;
    b[o++] = (streamId >>> 16) & 0xff;
    b[o++] = (streamId >>> 8) & 0xff;
    b[o++] = streamId & 0xff;
    this.length = o;
  }

  u32(value: number): void {
    const b = this.buf;
    const o = this.length;
    b[o] = (value >>> 24) & 0xff;
    b[o + 1] = (value >>> 16) & 0xff;
    b[o + 2] = (value >>> 8) & 0xff;
    b[o + 3] = value & 0xff;
    this.length = o + 4;
  }

  bytes(data: Uint8Array): void {
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  settings(entries: ReadonlyArray<readonly [number, number]>): void {
    this.ensure(FRAME_HEADER_LENGTH + entries.length * 6);
    this.header(entries.length * 6, FrameType.SETTINGS, 0, 0);
    for (const [id, value] of entries) {
      this.buf[this.length++] = (id >>> 8) & 0xff;
      this.buf[this.length++] = id & 0xff;
      this.u32(value);
    }
  }

  settingsAck(): void {
    this.ensure(FRAME_HEADER_LENGTH);
    this.header(0, FrameType.SETTINGS, FLAG_ACK, 0);
  }

  ping(opaque: Uint8Array, ack: boolean): void {
    this.ensure(FRAME_HEADER_LENGTH + 8);
    this.header(8, FrameType.PING, ack ? FLAG_ACK : 0, 0);
    this.buf.set(opaque.subarray(0, 8), this.length);
    this.buf.fill(0, this.length + Math.min(8, opaque.length), this.length + 8);
    this.length += 8;
  }

  goaway(lastStreamId: number, code: number, debugData: Uint8Array | undefined): void {
    const debugLength = debugData === undefined ? 0 : debugData.length;
    this.ensure(FRAME_HEADER_LENGTH + 8 + debugLength);
    this.header(8 + debugLength, FrameType.GOAWAY, 0, 0);
    this.u32(lastStreamId & MAX_WINDOW_SIZE);
    this.u32(code);
    if (debugData !== undefined) this.bytes(debugData);
  }

  rstStream(streamId: number, code: number): void {
    this.ensure(FRAME_HEADER_LENGTH + 4);
    this.header(4, FrameType.RST_STREAM, 0, streamId);
    this.u32(code);
  }

  windowUpdate(streamId: number, increment: number): void {
    this.ensure(FRAME_HEADER_LENGTH + 4);
    this.header(4, FrameType.WINDOW_UPDATE, 0, streamId);
    this.u32(increment & MAX_WINDOW_SIZE);
  }

  /**
   * A field block as HEADERS followed by as many CONTINUATION frames as the peer's SETTINGS_MAX_FRAME_SIZE needs
   * (RFC 9113 §4.3: written contiguously, nothing may interleave).
   */
  headers(streamId: number, block: Uint8Array, endStream: boolean, maxFrameSize: number): void {
    const total = block.length;
    const frames = total === 0 ? 1 : Math.ceil(total / maxFrameSize);
    this.ensure(total + frames * FRAME_HEADER_LENGTH);
    let offset = 0;
    let type: number = FrameType.HEADERS;
    let flags = endStream ? FLAG_END_STREAM : 0;
    for (;;) {
      const size = Math.min(maxFrameSize, total - offset);
      const last = offset + size >= total;
      this.header(size, type, last ? flags | FLAG_END_HEADERS : flags, streamId);
      this.buf.set(block.subarray(offset, offset + size), this.length);
      this.length += size;
      offset += size;
      if (last) return;
      type = FrameType.CONTINUATION;
      flags = 0;
    }
  }

  /**
   * Takes the written bytes out; the writer holds no buffer until the next frame. The bytes leave as a view of the
   * buffer when they fill at least half of it (or views of it are out already, cut()), else as an exact copy: a small
   * output waiting in the socket's queue must not pin a mostly empty buffer, since the output bounds count bytes
   * (a peer that does not read could otherwise hold a buffer per tiny write, CVE-2019-9517).
   */
  take(): Uint8Array | null {
    const length = this.length;
    const mark = this.mark;
    const buf = this.buf;
    this.buf = NO_OUTPUT;
    this.length = 0;
    this.mark = 0;
    if (length === mark) return null;
    return mark > 0 || length * 2 >= buf.length ? buf.subarray(mark, length) : buf.slice(0, length);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Pure codec: building frames (tests, conformance, tools) and decoding them.
// ---------------------------------------------------------------------------------------------------------------

export interface RawFrame {
  length: number;
  type: number;
  flags: number;
  streamId: number;
  /** View into the input (no copy). */
  payload: Uint8Array;
}

/** One frame, header + payload. The reserved bit of the stream id is written as 0 unless `reservedBit` is set. */
export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(0),
  reservedBit = false,
): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LENGTH + payload.length);
  const length = payload.length;
  out[0] = (length >>> 16) & 0xff;
  out[1] = (length >>> 8) & 0xff;
  out[2] = length & 0xff;
  out[3] = type;
  out[4] = flags;
  out[5] = ((streamId >>> 24) & 0x7f) | (reservedBit ? 0x80 : 0);
  out[6] = (streamId >>> 16) & 0xff;
  out[7] = (streamId >>> 8) & 0xff;
  out[8] = streamId & 0xff;
  out.set(payload, FRAME_HEADER_LENGTH);
  return out;
}

function u32be(value: number): Uint8Array {
  return new Uint8Array([(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
}


/** Wraps `body` with RFC 9113 §6.1 padding: Pad Length octet + body + padLength zero octets. */
function padded(body: Uint8Array, padLength: number | undefined): { payload: Uint8Array; flag: number } {
  if (padLength === undefined) return { payload: body, flag: 0 };
  return { payload: concatBytes([new Uint8Array([padLength]), body, new Uint8Array(padLength)]), flag: FLAG_PADDED };
}

export interface PriorityFields {
  exclusive: boolean;
  dependency: number;
  /** 1..256 (the wire carries weight-1). */
  weight: number;
}

function priorityBytes(p: PriorityFields): Uint8Array {
  const out = u32be(p.dependency & MAX_WINDOW_SIZE);
  if (p.exclusive) out[0]! |= 0x80;
  return concatBytes([out, new Uint8Array([(p.weight - 1) & 0xff])]);
}

export function encodeDataFrame(
  streamId: number,
  data: Uint8Array,
  options: { endStream?: boolean; padLength?: number } = {},
): Uint8Array {
  const { payload, flag } = padded(data, options.padLength);
  return encodeFrame(FrameType.DATA, flag | (options.endStream ? FLAG_END_STREAM : 0), streamId, payload);
}

export function encodeHeadersFrame(
  streamId: number,
  block: Uint8Array,
  options: { endStream?: boolean; endHeaders?: boolean; padLength?: number; priority?: PriorityFields } = {},
): Uint8Array {
  let body = block;
  let flags = 0;
  if (options.priority) {
    body = concatBytes([priorityBytes(options.priority), block]);
    flags |= FLAG_PRIORITY;
  }
  const { payload, flag } = padded(body, options.padLength);
  flags |= flag;
  if (options.endStream) flags |= FLAG_END_STREAM;
  if (options.endHeaders ?? true) flags |= FLAG_END_HEADERS;
  return encodeFrame(FrameType.HEADERS, flags, streamId, payload);
}

export function encodeContinuationFrame(streamId: number, block: Uint8Array, endHeaders = true): Uint8Array {
  return encodeFrame(FrameType.CONTINUATION, endHeaders ? FLAG_END_HEADERS : 0, streamId, block);
}

export function encodePriorityFrame(streamId: number, priority: PriorityFields): Uint8Array {
  return encodeFrame(FrameType.PRIORITY, 0, streamId, priorityBytes(priority));
}

export function encodeRstStreamFrame(streamId: number, code: number): Uint8Array {
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, u32be(code));
}

export function encodeSettingsFrame(entries: ReadonlyArray<readonly [number, number]> = [], ack = false): Uint8Array {
  const payload = new Uint8Array(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload[i * 6] = (id >>> 8) & 0xff;
    payload[i * 6 + 1] = id & 0xff;
    payload.set(u32be(value), i * 6 + 2);
  });
  return encodeFrame(FrameType.SETTINGS, ack ? FLAG_ACK : 0, 0, payload);
}

export function encodePushPromiseFrame(
  streamId: number,
  promisedStreamId: number,
  block: Uint8Array,
  options: { endHeaders?: boolean; padLength?: number } = {},
): Uint8Array {
  const { payload, flag } = padded(concatBytes([u32be(promisedStreamId & MAX_WINDOW_SIZE), block]), options.padLength);
  return encodeFrame(
    FrameType.PUSH_PROMISE,
    flag | ((options.endHeaders ?? true) ? FLAG_END_HEADERS : 0),
    streamId,
    payload,
  );
}

export function encodePingFrame(opaque: Uint8Array = new Uint8Array(8), ack = false): Uint8Array {
  return encodeFrame(FrameType.PING, ack ? FLAG_ACK : 0, 0, opaque);
}

export function encodeGoawayFrame(lastStreamId: number, code: number, debugData = new Uint8Array(0)): Uint8Array {
  return encodeFrame(FrameType.GOAWAY, 0, 0, concatBytes([u32be(lastStreamId & MAX_WINDOW_SIZE), u32be(code), debugData]));
}

export function encodeWindowUpdateFrame(streamId: number, increment: number): Uint8Array {
  return encodeFrame(FrameType.WINDOW_UPDATE, 0, streamId, u32be(increment));
}

/** RFC 9218 §7.1: PRIORITY_UPDATE on stream 0 carrying the prioritized stream id and a Priority Field Value. */
export function encodePriorityUpdateFrame(prioritizedStreamId: number, value: string): Uint8Array {
  const text = new TextEncoder().encode(value);
  return encodeFrame(FrameType.PRIORITY_UPDATE, 0, 0, concatBytes([u32be(prioritizedStreamId & MAX_WINDOW_SIZE), text]));
}

/** Splits a byte string into complete frames; `rest` is the incomplete tail. No validation beyond the header. */
export function splitFrames(bytes: Uint8Array): { frames: RawFrame[]; rest: Uint8Array } {
  const frames: RawFrame[] = [];
  let offset = 0;
  while (bytes.length - offset >= FRAME_HEADER_LENGTH) {
    const length = (bytes[offset]! << 16) | (bytes[offset + 1]! << 8) | bytes[offset + 2]!;
    if (bytes.length - offset - FRAME_HEADER_LENGTH < length) break;
    const streamId =
      ((bytes[offset + 5]! & 0x7f) << 24) | (bytes[offset + 6]! << 16) | (bytes[offset + 7]! << 8) | bytes[offset + 8]!;
    frames.push({
      length,
      type: bytes[offset + 3]!,
      flags: bytes[offset + 4]!,
      streamId,
      payload: bytes.subarray(offset + FRAME_HEADER_LENGTH, offset + FRAME_HEADER_LENGTH + length),
    });
    offset += FRAME_HEADER_LENGTH + length;
  }
  return { frames, rest: bytes.subarray(offset) };
}

/** A frame-level error found while decoding one payload (RFC 9113 §4.2, §6). */
export class FrameError extends Error {
  constructor(
    readonly code: number,
    /** true: connection error (§5.4.1); false: stream error (§5.4.2). */
    readonly connection: boolean,
    message: string,
  ) {
    super(message);
    this.name = 'FrameError';
  }
}

export type DecodedFrame =
  | { type: 'DATA'; streamId: number; endStream: boolean; data: Uint8Array; padLength: number }
  | {
      type: 'HEADERS';
      streamId: number;
      endStream: boolean;
      endHeaders: boolean;
      priority: PriorityFields | undefined;
      fragment: Uint8Array;
      padLength: number;
    }
  | { type: 'PRIORITY'; streamId: number; priority: PriorityFields }
  | { type: 'RST_STREAM'; streamId: number; errorCode: number }
  | { type: 'SETTINGS'; ack: boolean; settings: Array<[number, number]> }
  | { type: 'PUSH_PROMISE'; streamId: number; promisedStreamId: number; endHeaders: boolean; fragment: Uint8Array }
  | { type: 'PING'; ack: boolean; opaque: Uint8Array }
  | { type: 'GOAWAY'; lastStreamId: number; errorCode: number; debugData: Uint8Array }
  | { type: 'WINDOW_UPDATE'; streamId: number; increment: number }
  | { type: 'CONTINUATION'; streamId: number; endHeaders: boolean; fragment: Uint8Array }
  | { type: 'PRIORITY_UPDATE'; prioritizedStreamId: number; value: string }
  | { type: 'UNKNOWN'; frameType: number; streamId: number; payload: Uint8Array };

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

function readPriority(b: Uint8Array, o: number): PriorityFields {
  return { exclusive: (b[o]! & 0x80) !== 0, dependency: readU32(b, o) & MAX_WINDOW_SIZE, weight: b[o + 4]! + 1 };
}

/** A frame that breaks a rule detectable from the frame alone: its error code and scope (RFC 9113 §5.4). */
export interface FrameProblem {
  readonly code: number;
  /** true: connection error (§5.4.1); false: stream error (§5.4.2). */
  readonly connection: boolean;
  readonly message: string;
}

function problem(code: number, connection: boolean, message: string): FrameProblem {
  return Object.freeze({ code, connection, message });
}

// Built once: checkFrame() allocates nothing.
const DATA_ON_STREAM_0 = problem(ErrorCode.PROTOCOL_ERROR, true, 'DATA on stream 0');
const DATA_NO_PAD_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'padded DATA without pad length');
const DATA_PADDING = problem(ErrorCode.PROTOCOL_ERROR, true, 'DATA padding too long');
const HEADERS_ON_STREAM_0 = problem(ErrorCode.PROTOCOL_ERROR, true, 'HEADERS on stream 0');
const HEADERS_NO_PAD_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'padded HEADERS without pad length');
const HEADERS_NO_PRIORITY = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'HEADERS too short for priority');
const HEADERS_PADDING = problem(ErrorCode.PROTOCOL_ERROR, true, 'HEADERS padding too long');
const PRIORITY_ON_STREAM_0 = problem(ErrorCode.PROTOCOL_ERROR, true, 'PRIORITY on stream 0');
const PRIORITY_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, false, 'PRIORITY length != 5');
const RST_STREAM_ON_STREAM_0 = problem(ErrorCode.PROTOCOL_ERROR, true, 'RST_STREAM on stream 0');
const RST_STREAM_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'RST_STREAM length != 4');
const SETTINGS_ON_STREAM = problem(ErrorCode.PROTOCOL_ERROR, true, 'SETTINGS on a stream');
const SETTINGS_ACK_PAYLOAD = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'SETTINGS ACK with payload');
const SETTINGS_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'SETTINGS length not a multiple of 6');
const PUSH_PROMISE_ON_STREAM_0 = problem(ErrorCode.PROTOCOL_ERROR, true, 'PUSH_PROMISE on stream 0');
const PUSH_PROMISE_NO_PAD_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'padded PUSH_PROMISE without pad length');
const PUSH_PROMISE_SHORT = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'PUSH_PROMISE too short for the promised stream id');
const PUSH_PROMISE_PADDING = problem(ErrorCode.PROTOCOL_ERROR, true, 'PUSH_PROMISE padding too long');
const PING_ON_STREAM = problem(ErrorCode.PROTOCOL_ERROR, true, 'PING on a stream');
const PING_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'PING length != 8');
const GOAWAY_ON_STREAM = problem(ErrorCode.PROTOCOL_ERROR, true, 'GOAWAY on a stream');
const GOAWAY_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'GOAWAY shorter than 8 octets');
const WINDOW_UPDATE_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'WINDOW_UPDATE length != 4');
const WINDOW_UPDATE_ZERO_CONNECTION = problem(ErrorCode.PROTOCOL_ERROR, true, 'WINDOW_UPDATE increment 0');
const WINDOW_UPDATE_ZERO_STREAM = problem(ErrorCode.PROTOCOL_ERROR, false, 'WINDOW_UPDATE increment 0 on a stream');
const CONTINUATION_ON_STREAM_0 = problem(ErrorCode.PROTOCOL_ERROR, true, 'CONTINUATION on stream 0');
const PRIORITY_UPDATE_ON_STREAM = problem(ErrorCode.PROTOCOL_ERROR, true, 'PRIORITY_UPDATE on a stream');
const PRIORITY_UPDATE_LENGTH = problem(ErrorCode.FRAME_SIZE_ERROR, true, 'PRIORITY_UPDATE too short');

/**
 * Padding of a padded frame with `fixed` octets of fields before the fragment (RFC 9113 §6.1, §6.2, §6.6): the pad
 * length field must exist (§4.2), the fixed fields must fit, and padding must leave room for them (else
 * PROTOCOL_ERROR).
 */
function paddingProblem(
  buf: Uint8Array,
  p: number,
  length: number,
  fixed: number,
  noPadLength: FrameProblem,
  short: FrameProblem,
  tooLong: FrameProblem,
): FrameProblem | null {
  if (length < 1) return noPadLength;
  if (length - 1 < fixed) return short;
  return buf[p]! > length - 1 - fixed ? tooLong : null;
}

/**
 * The one frame parser's rules: RFC 9113's per-type size and stream-identifier rules (§4.2, §6), everything that can
 * be judged from one frame alone; state rules belong to the connection. `buf[p .. p + length)` is the payload.
 * Used by the engine on every received frame and by decodeFramePayload().
 */
export function checkFrame(type: number, flags: number, streamId: number, buf: Uint8Array, p: number, length: number): FrameProblem | null {
  switch (type) {
    case FrameType.DATA:
      // RFC 9113 §6.1: DATA on stream 0 is a connection PROTOCOL_ERROR; padding as long as the payload is one too.
      if (streamId === 0) return DATA_ON_STREAM_0;
      return flags & FLAG_PADDED ? paddingProblem(buf, p, length, 0, DATA_NO_PAD_LENGTH, DATA_NO_PAD_LENGTH, DATA_PADDING) : null;
    case FrameType.HEADERS: {
      // RFC 9113 §6.2: HEADERS on stream 0 is a connection PROTOCOL_ERROR; field blocks: size errors are connection
      // errors (§4.2); padding exceeding the remaining space is a connection PROTOCOL_ERROR.
      if (streamId === 0) return HEADERS_ON_STREAM_0;
      const fixed = flags & FLAG_PRIORITY ? 5 : 0;
      if (flags & FLAG_PADDED) {
        return paddingProblem(buf, p, length, fixed, HEADERS_NO_PAD_LENGTH, HEADERS_NO_PRIORITY, HEADERS_PADDING);
      }
      return length < fixed ? HEADERS_NO_PRIORITY : null;
    }
    case FrameType.PRIORITY:
      // RFC 9113 §6.3: stream 0 → connection PROTOCOL_ERROR; length other than 5 → stream FRAME_SIZE_ERROR.
      if (streamId === 0) return PRIORITY_ON_STREAM_0;
      return length !== 5 ? PRIORITY_LENGTH : null;
    case FrameType.RST_STREAM:
      // RFC 9113 §6.4: stream 0 → connection PROTOCOL_ERROR; length other than 4 → connection FRAME_SIZE_ERROR.
      if (streamId === 0) return RST_STREAM_ON_STREAM_0;
      return length !== 4 ? RST_STREAM_LENGTH : null;
    case FrameType.SETTINGS:
      // RFC 9113 §6.5: stream 0 only; an ACK carries nothing; the length is a multiple of 6.
      if (streamId !== 0) return SETTINGS_ON_STREAM;
      if (flags & FLAG_ACK) return length !== 0 ? SETTINGS_ACK_PAYLOAD : null;
      return length % 6 !== 0 ? SETTINGS_LENGTH : null;
    case FrameType.PUSH_PROMISE:
      // RFC 9113 §6.6: not on stream 0; room for the promised stream id (and padding, as for HEADERS).
      if (streamId === 0) return PUSH_PROMISE_ON_STREAM_0;
      if (flags & FLAG_PADDED) {
        return paddingProblem(buf, p, length, 4, PUSH_PROMISE_NO_PAD_LENGTH, PUSH_PROMISE_SHORT, PUSH_PROMISE_PADDING);
      }
      return length < 4 ? PUSH_PROMISE_SHORT : null;
    case FrameType.PING:
      // RFC 9113 §6.7: stream 0 only; exactly 8 octets.
      if (streamId !== 0) return PING_ON_STREAM;
      return length !== 8 ? PING_LENGTH : null;
    case FrameType.GOAWAY:
      // RFC 9113 §6.8: stream 0 only; at least 8 octets.
      if (streamId !== 0) return GOAWAY_ON_STREAM;
      return length < 8 ? GOAWAY_LENGTH : null;
    case FrameType.WINDOW_UPDATE: {
      // RFC 9113 §6.9: exactly 4 octets (connection FRAME_SIZE_ERROR); a zero increment is a PROTOCOL_ERROR of the
      // connection (stream 0) or of the stream.
      if (length !== 4) return WINDOW_UPDATE_LENGTH;
      const increment = ((buf[p]! & 0x7f) << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
      if (increment !== 0) return null;
      return streamId === 0 ? WINDOW_UPDATE_ZERO_CONNECTION : WINDOW_UPDATE_ZERO_STREAM;
    }
    case FrameType.CONTINUATION:
      // RFC 9113 §6.10: never on stream 0.
      return streamId === 0 ? CONTINUATION_ON_STREAM_0 : null;
    case FrameType.PRIORITY_UPDATE:
      // RFC 9218 §7.1: stream 0 only; at least the 4-octet prioritized stream id.
      if (streamId !== 0) return PRIORITY_UPDATE_ON_STREAM;
      return length < 4 ? PRIORITY_UPDATE_LENGTH : null;
    default:
      // RFC 9113 §4.1, §5.5: unknown frame types are ignored.
      return null;
  }
}

/**
 * Decodes one frame's payload into fields, after checkFrame(): throws FrameError for violations that are
 * detectable from the frame alone (state rules belong to the connection). For tools and tracing; the engine reads
 * the fields it needs in place.
 */
export function decodeFramePayload(frame: RawFrame): DecodedFrame {
  const { type, flags, streamId, payload } = frame;
  const length = payload.length;
  const invalid = checkFrame(type, flags, streamId, payload, 0, length);
  if (invalid !== null) throw new FrameError(invalid.code, invalid.connection, invalid.message);
  // The padded frame types (RFC 9113 §6.1, §6.2, §6.6): the body is what lies between the pad length and the padding.
  const padded = (flags & FLAG_PADDED) !== 0 && (type === FrameType.DATA || type === FrameType.HEADERS || type === FrameType.PUSH_PROMISE);
  const padLength = padded ? payload[0]! : 0;
  const body = padded ? payload.subarray(1, length - padLength) : payload;
  switch (type) {
    case FrameType.DATA:
      return { type: 'DATA', streamId, endStream: (flags & FLAG_END_STREAM) !== 0, data: body, padLength };
    case FrameType.HEADERS: {
      const fixed = flags & FLAG_PRIORITY ? 5 : 0;
      return {
        type: 'HEADERS',
        streamId,
        endStream: (flags & FLAG_END_STREAM) !== 0,
        endHeaders: (flags & FLAG_END_HEADERS) !== 0,
        priority: fixed ? readPriority(body, 0) : undefined,
        fragment: body.subarray(fixed),
        padLength,
      };
    }
    case FrameType.PRIORITY:
      return { type: 'PRIORITY', streamId, priority: readPriority(payload, 0) };
    case FrameType.RST_STREAM:
      return { type: 'RST_STREAM', streamId, errorCode: readU32(payload, 0) };
    case FrameType.SETTINGS: {
      const settings: Array<[number, number]> = [];
      for (let o = 0; o < length; o += 6) settings.push([(payload[o]! << 8) | payload[o + 1]!, readU32(payload, o + 2)]);
      return { type: 'SETTINGS', ack: (flags & FLAG_ACK) !== 0, settings };
    }
    case FrameType.PUSH_PROMISE:
      return {
        type: 'PUSH_PROMISE',
        streamId,
        promisedStreamId: readU32(body, 0) & MAX_WINDOW_SIZE,
        endHeaders: (flags & FLAG_END_HEADERS) !== 0,
        fragment: body.subarray(4),
      };
    case FrameType.PING:
      return { type: 'PING', ack: (flags & FLAG_ACK) !== 0, opaque: payload };
    case FrameType.GOAWAY:
      return {
        type: 'GOAWAY',
        lastStreamId: readU32(payload, 0) & MAX_WINDOW_SIZE,
        errorCode: readU32(payload, 4),
        debugData: payload.subarray(8),
      };
    case FrameType.WINDOW_UPDATE:
      return { type: 'WINDOW_UPDATE', streamId, increment: readU32(payload, 0) & MAX_WINDOW_SIZE };
    case FrameType.CONTINUATION:
      return { type: 'CONTINUATION', streamId, endHeaders: (flags & FLAG_END_HEADERS) !== 0, fragment: payload };
    case FrameType.PRIORITY_UPDATE:
      return {
        type: 'PRIORITY_UPDATE',
        prioritizedStreamId: readU32(payload, 0) & MAX_WINDOW_SIZE,
        value: latin1(payload, 4, length),
      };
    default:
      return { type: 'UNKNOWN', frameType: type, streamId, payload };
  }
}

/** Bytes as a Latin-1 string (field values and priority values are octets; no TextDecoder allocation). */
export function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}
