/**
 * HTTP/3 frames (RFC 9114 §7): type and length as QUIC varints, then the payload. The codec here is pure; which frame
 * may appear on which stream is the connection's business (connection.ts), except that a frame whose payload does not
 * parse is H3_FRAME_ERROR (§7.1) wherever it is.
 */
import { H3Error, H3ErrorCode } from './errors.js';
import { readVarint, varintLength, varintResult, writeVarint } from './varint.js';

/** RFC 9114 §7.2 frame types, plus PRIORITY_UPDATE (RFC 9218 §7.2). */
export const FrameType = {
  DATA: 0x00,
  HEADERS: 0x01,
  CANCEL_PUSH: 0x03,
  SETTINGS: 0x04,
  PUSH_PROMISE: 0x05,
  GOAWAY: 0x07,
  MAX_PUSH_ID: 0x0d,
  PRIORITY_UPDATE_REQUEST: 0xf0700,
  PRIORITY_UPDATE_PUSH: 0xf0701,
} as const;

/** RFC 9114 §7.2.8 / §11.2.1: HTTP/2 frame types with no HTTP/3 meaning (PRIORITY, PING, WINDOW_UPDATE, CONTINUATION). */
export const HTTP2_ONLY_FRAME_TYPES: ReadonlySet<number> = new Set([0x02, 0x06, 0x08, 0x09]);

/** RFC 9114 §6.2 unidirectional stream types (§4.6 push, RFC 9204 §4.2 QPACK streams). */
export const StreamType = { CONTROL: 0x00, PUSH: 0x01, QPACK_ENCODER: 0x02, QPACK_DECODER: 0x03 } as const;

/** RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220 §5, RFC 9297 §2.1.1 setting identifiers. */
export const SettingId = {
  QPACK_MAX_TABLE_CAPACITY: 0x01,
  MAX_FIELD_SECTION_SIZE: 0x06,
  QPACK_BLOCKED_STREAMS: 0x07,
  ENABLE_CONNECT_PROTOCOL: 0x08,
  H3_DATAGRAM: 0x33,
} as const;

/** RFC 9114 §7.2.4.1 / §11.2.2: HTTP/2 setting identifiers reserved in HTTP/3; receiving one is H3_SETTINGS_ERROR. */
export const HTTP2_RESERVED_SETTINGS: ReadonlySet<number> = new Set([0x00, 0x02, 0x03, 0x04, 0x05]);

/** RFC 9114 §7.2.8, §6.2.3, §7.2.4.1: reserved ("grease") identifiers are 0x1f * N + 0x21. */
export function isReservedIdentifier(value: number): boolean {
  return value >= 0x21 && (value - 0x21) % 0x1f === 0;
}

/** Frame header (type + length) followed by `payloadLength` bytes to come. */
export function encodeFrameHeader(type: number, payloadLength: number): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(payloadLength));
  writeVarint(out, writeVarint(out, 0, type), payloadLength);
  return out;
}

/** A whole frame. */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const headerLength = varintLength(type) + varintLength(payload.length);
  const out = new Uint8Array(headerLength + payload.length);
  writeVarint(out, writeVarint(out, 0, type), payload.length);
  out.set(payload, headerLength);
  return out;
}

/** A frame whose payload is one varint: GOAWAY, MAX_PUSH_ID, CANCEL_PUSH (RFC 9114 §7.2.3, §7.2.6, §7.2.7). */
export function encodeIdFrame(type: number, id: number): Uint8Array {
  const payload = new Uint8Array(varintLength(id));
  writeVarint(payload, 0, id);
  return encodeFrame(type, payload);
}

/** The payload of a one-varint frame; anything but exactly one varint is H3_FRAME_ERROR (RFC 9114 §7.1). */
export function decodeIdPayload(payload: Uint8Array, what: string): number {
  readVarint(payload, 0, payload.length);
  if (varintResult.next !== payload.length) {
    throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, `${what} payload must be exactly one variable-length integer (RFC 9114 §7.1)`);
  }
  return varintResult.value;
}

/** SETTINGS (RFC 9114 §7.2.4): [identifier, value] pairs in the order given. */
export function encodeSettingsFrame(entries: ReadonlyArray<readonly [number, number]>): Uint8Array {
  let length = 0;
  for (const [id, value] of entries) length += varintLength(id) + varintLength(value);
  const payload = new Uint8Array(length);
  let pos = 0;
  for (const [id, value] of entries) pos = writeVarint(payload, writeVarint(payload, pos, id), value);
  return encodeFrame(FrameType.SETTINGS, payload);
}

/**
 * SETTINGS payload -> [identifier, value] pairs. Truncated: H3_FRAME_ERROR. RFC 9114 §7.2.4: an HTTP/2 identifier
 * or an identifier given twice is H3_SETTINGS_ERROR. Unknown (and reserved) identifiers are kept: callers ignore them.
 */
export function decodeSettingsPayload(payload: Uint8Array): Array<[number, number]> {
  const entries: Array<[number, number]> = [];
  const seen = new Set<number>();
  let pos = 0;
  while (pos < payload.length) {
    readVarint(payload, pos, payload.length);
    if (varintResult.next < 0) throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, 'truncated SETTINGS identifier (RFC 9114 §7.1)');
    const id = varintResult.value;
    readVarint(payload, varintResult.next, payload.length);
    if (varintResult.next < 0) throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, 'truncated SETTINGS value (RFC 9114 §7.1)');
    pos = varintResult.next;
    if (HTTP2_RESERVED_SETTINGS.has(id)) {
      throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `HTTP/2 setting identifier 0x${id.toString(16)} in SETTINGS (RFC 9114 §7.2.4.1)`);
    }
    if (seen.has(id)) throw new H3Error(H3ErrorCode.H3_SETTINGS_ERROR, `setting 0x${id.toString(16)} given twice (RFC 9114 §7.2.4)`);
    seen.add(id);
    entries.push([id, varintResult.value]);
  }
  return entries;
}

/** PRIORITY_UPDATE payload (RFC 9218 §7.2): Prioritized Element ID, then the Priority Field Value (ASCII). */
export function encodePriorityUpdateFrame(type: number, elementId: number, value: string): Uint8Array {
  const payload = new Uint8Array(varintLength(elementId) + value.length);
  const pos = writeVarint(payload, 0, elementId);
  for (let i = 0; i < value.length; i++) payload[pos + i] = value.charCodeAt(i) & 0xff;
  return encodeFrame(type, payload);
}

export function decodePriorityUpdatePayload(payload: Uint8Array): { elementId: number; value: string } {
  readVarint(payload, 0, payload.length);
  if (varintResult.next < 0) throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, 'PRIORITY_UPDATE without a Prioritized Element ID (RFC 9218 §7.2)');
  const elementId = varintResult.value;
  let value = '';
  for (let i = varintResult.next; i < payload.length; i++) {
    const c = payload[i]!;
    // RFC 9218 §7.2: the Priority Field Value is ASCII text (a Structured Field Dictionary).
    if (c < 0x20 || c > 0x7e) throw new H3Error(H3ErrorCode.H3_FRAME_ERROR, 'PRIORITY_UPDATE value is not printable ASCII (RFC 9218 §7.2)');
    value += String.fromCharCode(c);
  }
  return { elementId, value };
}

/** One step of FrameParser.next(). */
export type ParsedItem =
  /** A frame header was read; for streamed types the payload follows as 'payload' items. */
  | { kind: 'header'; type: number; length: number }
  /** A piece of a streamed frame's payload (DATA, unknown types). `end`: the frame is complete. */
  | { kind: 'payload'; type: number; chunk: Uint8Array; end: boolean }
  /** A whole buffered frame (every known non-DATA type). */
  | { kind: 'frame'; type: number; payload: Uint8Array };

/** Types whose payloads are passed on as they arrive instead of buffered: DATA (body) and anything we do not know. */
function isStreamed(type: number): boolean {
  return type === FrameType.DATA || !BUFFERED_TYPES.has(type);
}
const BUFFERED_TYPES: ReadonlySet<number> = new Set([
  FrameType.HEADERS,
  FrameType.CANCEL_PUSH,
  FrameType.SETTINGS,
  FrameType.PUSH_PROMISE,
  FrameType.GOAWAY,
  FrameType.MAX_PUSH_ID,
  FrameType.PRIORITY_UPDATE_REQUEST,
  FrameType.PRIORITY_UPDATE_PUSH,
  ...HTTP2_ONLY_FRAME_TYPES,
]);

const EMPTY = new Uint8Array(0);

/**
 * Incremental frame parser for one stream: append() bytes as they arrive, then call next() until it returns null.
 * Buffered frames larger than `maxBufferedFrameBytes` are H3_EXCESSIVE_LOAD (RFC 9114 §7.1 lets an endpoint limit
 * frame sizes) as soon as their header is read, before any payload is kept. `overheadBytes` counts the bytes parsed
 * that are not DATA payload: the connection returns those to QUIC flow control itself, the application returns the
 * DATA payload bytes through consume().
 */
export class FrameParser {
  /** Received bytes; [pos, end) is not parsed yet, [end, buf.length) is spare room for later appends. */
  private buf: Uint8Array = EMPTY;
  private pos = 0;
  private end = 0;
  /** false while `buf` is the caller's array (kept without copying): it is never written into. */
  private owned = false;
  /** Type of the frame whose payload is being read, or -1 between frames. */
  private type = -1;
  private remaining = 0;
  overheadBytes = 0;

  constructor(private readonly maxBufferedFrameBytes: number) {}

  /**
   * Adds received bytes. With nothing pending, the caller's array is used as is (no copy). Otherwise the bytes go to
   * the spare room at the end, or to a new buffer twice the size: amortised O(1) per byte however small the pieces
   * (a peer trickling one-byte STREAM frames into a blocked stream cannot make us copy quadratically), and bytes
   * already handed out as DATA views are never overwritten (a new buffer is allocated instead of compacting).
   */
  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const pending = this.end - this.pos;
    if (pending === 0) {
      this.buf = bytes;
      this.pos = 0;
      this.end = bytes.length;
      this.owned = false;
      return;
    }
    if (!this.owned || this.end + bytes.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(2 * (pending + bytes.length), 1024));
      grown.set(this.buf.subarray(this.pos, this.end));
      this.buf = grown;
      this.pos = 0;
      this.end = pending;
      this.owned = true;
    }
    this.buf.set(bytes, this.end);
    this.end += bytes.length;
  }

  /** True when bytes of an unfinished frame (header or payload) have been read: a FIN here is H3_FRAME_ERROR. */
  get inFrame(): boolean {
    return this.type >= 0 || this.pos < this.end;
  }

  /** Bytes received and not yet parsed. */
  get bufferedBytes(): number {
    return this.end - this.pos;
  }

  next(): ParsedItem | null {
    const available = this.end - this.pos;
    if (this.type < 0) {
      readVarint(this.buf, this.pos, this.end);
      if (varintResult.next < 0) return null;
      const type = varintResult.value;
      readVarint(this.buf, varintResult.next, this.end);
      if (varintResult.next < 0) return null;
      const length = varintResult.value;
      this.overheadBytes += varintResult.next - this.pos;
      this.pos = varintResult.next;
      if (!isStreamed(type) && length > this.maxBufferedFrameBytes) {
        throw new H3Error(
          H3ErrorCode.H3_EXCESSIVE_LOAD,
          `frame type 0x${type.toString(16)} of ${length} bytes exceeds the ${this.maxBufferedFrameBytes}-byte limit (RFC 9114 §7.1)`,
        );
      }
      this.type = type;
      this.remaining = length;
      return { kind: 'header', type, length };
    }
    const type = this.type;
    if (isStreamed(type)) {
      if (this.remaining > 0 && available === 0) return null;
      const take = Math.min(available, this.remaining);
      const chunk = this.buf.subarray(this.pos, this.pos + take);
      this.pos += take;
      this.remaining -= take;
      if (type !== FrameType.DATA) this.overheadBytes += take;
      const end = this.remaining === 0;
      if (end) this.type = -1;
      return { kind: 'payload', type, chunk, end };
    }
    if (available < this.remaining) return null;
    const payload = this.buf.subarray(this.pos, this.pos + this.remaining);
    this.pos += this.remaining;
    this.overheadBytes += this.remaining;
    this.type = -1;
    return { kind: 'frame', type, payload };
  }

  /** Returns and resets the count of non-DATA bytes parsed since the last call. */
  takeOverhead(): number {
    const n = this.overheadBytes;
    this.overheadBytes = 0;
    return n;
  }
}

const FRAME_NAMES = new Map<number, string>(Object.entries(FrameType).map(([name, type]) => [type, name]));
const HTTP2_NAMES = new Map<number, string>([
  [0x02, 'HTTP2_PRIORITY'],
  [0x06, 'HTTP2_PING'],
  [0x08, 'HTTP2_WINDOW_UPDATE'],
  [0x09, 'HTTP2_CONTINUATION'],
]);

export function frameTypeName(type: number): string {
  return FRAME_NAMES.get(type) ?? HTTP2_NAMES.get(type) ?? (isReservedIdentifier(type) ? `RESERVED(0x${type.toString(16)})` : `UNKNOWN(0x${type.toString(16)})`);
}

const SETTING_NAMES = new Map<number, string>(Object.entries(SettingId).map(([name, id]) => [id, name]));

export function settingName(id: number): string {
  return SETTING_NAMES.get(id) ?? `0x${id.toString(16)}`;
}
