/**
 * RFC 7541 §5.1 integer representation with an N-bit prefix.
 */
import { HpackError } from './errors.js';

/**
 * Largest integer the decoder accepts. Every HPACK integer is an index, a string length or a table size, all far below
 * this; rejecting bigger ones bounds the work (at most 5 continuation bytes) and keeps arithmetic exact.
 * 2^32 - 1 also matches what other implementations accept, so no legitimate peer is refused.
 */
export const MAX_HPACK_INTEGER = 0xffffffff;

/**
 * Result slot for decodeInteger: returning two numbers without allocating an object per call.
 * Decoding is synchronous, so module-level state is safe.
 */
export const integerResult = { value: 0, next: 0 };

/**
 * Decode an integer whose prefix occupies the low `prefixBits` bits of block[pos]. Sets integerResult.value and
 * integerResult.next (position after the integer). Throws HpackError when truncated or above MAX_HPACK_INTEGER.
 */
export function decodeInteger(block: Uint8Array, pos: number, end: number, prefixBits: number): void {
  const prefixMax = (1 << prefixBits) - 1;
  let value = block[pos++]! & prefixMax;
  if (value < prefixMax) {
    integerResult.value = value;
    integerResult.next = pos;
    return;
  }
  let multiplier = 1;
  for (;;) {
    if (pos >= end) throw new HpackError('truncated integer (RFC 7541 §5.1)');
    const byte = block[pos++]!;
    value += (byte & 0x7f) * multiplier;
    if (value > MAX_HPACK_INTEGER) throw new HpackError('integer overflow (RFC 7541 §5.1)');
    if ((byte & 0x80) === 0) break;
    multiplier *= 128;
    // 2^35 > MAX_HPACK_INTEGER: a sixth continuation byte can only add zeros (over-long encoding) or overflow.
    if (multiplier > 2 ** 28) throw new HpackError('integer uses too many continuation bytes (RFC 7541 §5.1)');
  }
  integerResult.value = value;
  integerResult.next = pos;
}

/**
 * Encode `value` with an N-bit prefix into out at pos; `firstByteFlags` are the representation's pattern bits above
 * the prefix. Returns the new position. The caller reserved 6 bytes (enough for any 32-bit value).
 */
export function encodeInteger(out: Uint8Array, pos: number, firstByteFlags: number, prefixBits: number, value: number): number {
  const prefixMax = (1 << prefixBits) - 1;
  if (value < prefixMax) {
    out[pos++] = firstByteFlags | value;
    return pos;
  }
  out[pos++] = firstByteFlags | prefixMax;
  value -= prefixMax;
  while (value >= 128) {
    out[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}
