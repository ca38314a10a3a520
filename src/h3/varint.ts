/**
 * QUIC variable-length integers (RFC 9000 §16), the integer encoding of every HTTP/3 frame header, stream type,
 * setting and identifier (RFC 9114 §1.2). Values up to 2^62 - 1; JavaScript numbers are exact up to 2^53, so values
 * above Number.MAX_SAFE_INTEGER are decoded approximately — no legitimate HTTP/3 field needs them (lengths and ids
 * are bounded far below by our limits), and every caller compares them against such limits.
 */

/**
 * Largest value a variable-length integer can carry, 2^62 - 1. As a double it rounds to 2^62, so range checks
 * compare with `< VARINT_LIMIT` (2^62, exact) instead.
 */
export const MAX_VARINT = 2 ** 62 - 1;
const VARINT_LIMIT = 2 ** 62;

/** Result slot of readVarint: a value and the position after it, or next = -1 when the input is truncated. */
export const varintResult = { value: 0, next: 0 };

/**
 * Reads the varint at buf[pos]; sets varintResult. next = -1 when buf[pos, end) holds only part of it (or nothing).
 * Decoding is synchronous, so one module-level result object is safe and allocation-free.
 */
export function readVarint(buf: Uint8Array, pos: number, end: number): void {
  if (pos >= end) {
    varintResult.next = -1;
    return;
  }
  const first = buf[pos]!;
  const length = 1 << (first >> 6);
  if (pos + length > end) {
    varintResult.next = -1;
    return;
  }
  let value = first & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + buf[pos + i]!;
  varintResult.value = value;
  varintResult.next = pos + length;
}

/** Bytes needed to encode `value` (RFC 9000 §16 Table 4). */
export function varintLength(value: number): number {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x40000000) return 4;
  if (value < VARINT_LIMIT) return 8;
  throw new RangeError(`varint out of range: ${value}`);
}

/** Writes `value` at out[pos] using the shortest encoding; returns the position after it. */
export function writeVarint(out: Uint8Array, pos: number, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`varint must be a non-negative integer: ${value}`);
  const length = varintLength(value);
  let rest = value;
  for (let i = length - 1; i > 0; i--) {
    out[pos + i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  out[pos] = rest | ((31 - Math.clz32(length)) << 6);
  return pos + length;
}

/** `value` as its own varint byte string. */
export function encodeVarint(value: number): Uint8Array {
  const out = new Uint8Array(varintLength(value));
  writeVarint(out, 0, value);
  return out;
}
