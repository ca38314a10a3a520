/**
 * Byte reader and writer for the QUIC wire format, with the RFC 9000 §16 variable-length integer encoding.
 * Values are JavaScript numbers: a QUIC varint holds up to 2^62 - 1, beyond Number.MAX_SAFE_INTEGER, so a value
 * above 2^53 - 1 is refused as a decoding error (no stream offset, limit or code point a real peer sends needs more,
 * and accepting it would silently lose precision).
 */

/** Thrown by BufferReader on truncated or out-of-range input; callers map it to FRAME_ENCODING_ERROR and friends. */
export class BufferUnderflowError extends Error {
  constructor(message = 'truncated input') {
    super(message);
    this.name = 'BufferUnderflowError';
  }
}

export const MAX_VARINT = 2 ** 62 - 1;

/** RFC 9000 §16: the length in bytes of the shortest encoding of value. */
export function varintLength(value: number): 1 | 2 | 4 | 8 {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x40000000) return 4;
  return 8;
}

export class BufferReader {
  private position: number;
  private readonly end: number;

  constructor(private readonly bytes: Uint8Array, start = 0, end = bytes.byteLength) {
    this.position = start;
    this.end = end;
  }

  get offset(): number {
    return this.position;
  }
  get remaining(): number {
    return this.end - this.position;
  }
  get eof(): boolean {
    return this.position >= this.end;
  }

  private need(count: number): void {
    if (count < 0 || this.position + count > this.end) throw new BufferUnderflowError();
  }

  uint8(): number {
    this.need(1);
    return this.bytes[this.position++]!;
  }

  /** The next byte without consuming it, or -1 at the end. */
  peek(): number {
    return this.position < this.end ? this.bytes[this.position]! : -1;
  }

  uint16(): number {
    this.need(2);
    const value = (this.bytes[this.position]! << 8) | this.bytes[this.position + 1]!;
    this.position += 2;
    return value;
  }

  uint32(): number {
    this.need(4);
    const b = this.bytes;
    const p = this.position;
    this.position += 4;
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }

  /** A view (no copy) of the next count bytes. */
  bytesView(count: number): Uint8Array {
    this.need(count);
    const view = this.bytes.subarray(this.position, this.position + count);
    this.position += count;
    return view;
  }

  skip(count: number): void {
    this.need(count);
    this.position += count;
  }

  /** RFC 9000 §16: the two high bits of the first byte give the length (1, 2, 4 or 8 bytes). */
  varint(): number {
    const value = this.largeVarint();
    if (value > Number.MAX_SAFE_INTEGER) throw new BufferUnderflowError('varint exceeds 2^53 - 1');
    return value;
  }

  /**
   * A varint that may exceed 2^53 - 1, as the nearest double: for limits and codes (MAX_DATA, MAX_STREAMS, error
   * codes) where a peer may legitimately send "unlimited" values and only comparisons matter, never for offsets.
   */
  largeVarint(): number {
    this.need(1);
    const first = this.bytes[this.position]!;
    const length = 1 << (first >> 6);
    this.need(length);
    let value = first & 0x3f;
    for (let i = 1; i < length; i++) value = value * 256 + this.bytes[this.position + i]!;
    this.position += length;
    return value;
  }
}

export class BufferWriter {
  private bytes: Uint8Array;
  private position = 0;

  constructor(capacity = 256) {
    this.bytes = new Uint8Array(capacity);
  }

  get length(): number {
    return this.position;
  }

  private reserve(count: number): void {
    if (this.position + count <= this.bytes.byteLength) return;
    let capacity = this.bytes.byteLength * 2;
    while (capacity < this.position + count) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.position));
    this.bytes = grown;
  }

  uint8(value: number): this {
    this.reserve(1);
    this.bytes[this.position++] = value & 0xff;
    return this;
  }

  uint16(value: number): this {
    this.reserve(2);
    this.bytes[this.position++] = (value >>> 8) & 0xff;
    this.bytes[this.position++] = value & 0xff;
    return this;
  }

  uint32(value: number): this {
    this.reserve(4);
    this.bytes[this.position++] = (value >>> 24) & 0xff;
    this.bytes[this.position++] = (value >>> 16) & 0xff;
    this.bytes[this.position++] = (value >>> 8) & 0xff;
    this.bytes[this.position++] = value & 0xff;
    return this;
  }

  raw(data: Uint8Array): this {
    this.reserve(data.byteLength);
    this.bytes.set(data, this.position);
    this.position += data.byteLength;
    return this;
  }

  /** Writes value in exactly `length` bytes (RFC 9000 §16 allows non-minimal encodings; lengths are pre-sized). */
  varint(value: number, length: 1 | 2 | 4 | 8 = varintLength(value)): this {
    if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) throw new RangeError(`not a varint: ${value}`);
    if (length < varintLength(value)) throw new RangeError(`varint ${value} does not fit ${length} bytes`);
    this.reserve(length);
    const prefix = Math.log2(length) << 6;
    let rest = value;
    for (let i = length - 1; i >= 1; i--) {
      this.bytes[this.position + i] = rest % 256;
      rest = Math.floor(rest / 256);
    }
    this.bytes[this.position] = prefix | rest;
    this.position += length;
    return this;
  }

  /** Overwrites bytes already written (used to patch a length field once the payload size is known). */
  patchVarint(at: number, value: number, length: 1 | 2 | 4 | 8): void {
    const saved = this.position;
    this.position = at;
    this.varint(value, length);
    this.position = saved;
  }

  finish(): Uint8Array {
    return this.bytes.subarray(0, this.position);
  }

  /** Empties the writer for reuse (views returned by finish() before are overwritten by later writes). */
  reset(): this {
    this.position = 0;
    return this;
  }
}

export { bytesEqual, concatBytes } from '../common/bytes.js';

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}
