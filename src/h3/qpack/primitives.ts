/**
 * QPACK's primitive encodings (RFC 9204 §4.1): prefix integers and string literals, both shared with HPACK
 * (RFC 7541 §5.1, §5.2), except that a QPACK string's Huffman flag and length prefix may start at any bit of its
 * first byte (e.g. the 3-bit name length of a Literal Field Line with Literal Name, §4.5.6).
 * The integer and Huffman codes themselves are HPACK's, imported from src/h2/hpack.
 */
import { decodeInteger, encodeInteger, integerResult } from '../../h2/hpack/integer.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from '../../h2/hpack/huffman.js';
import { H3ErrorCode, QpackError } from '../errors.js';

/**
 * Thrown by the readers when the input ends inside a representation. Field sections arrive whole (a truncated one
 * is malformed), but encoder and decoder streams are byte streams: there it means "wait for more bytes".
 */
export const INCOMPLETE: unique symbol = Symbol('incomplete QPACK input');

/** Result slot of the readers: decoding is synchronous, so one module-level object is safe and allocation-free. */
export const readResult = { value: 0, next: 0, text: '' };

/**
 * Prefix integer whose low `prefixBits` bits start at buf[pos]. Sets readResult.value and .next. Throws INCOMPLETE when
 * truncated, QpackError(code) when above 2^32 - 1 (every QPACK integer is an index, a length, a count or a stream id
 * far below that; bounding it bounds the work, as in HPACK).
 */
export function readInteger(buf: Uint8Array, pos: number, end: number, prefixBits: number, code: number): void {
  if (pos >= end) throw INCOMPLETE;
  try {
    decodeInteger(buf, pos, end, prefixBits);
  } catch (error) {
    if (error instanceof Error && /truncated/.test(error.message)) throw INCOMPLETE;
    throw new QpackError(code, error instanceof Error ? error.message.replace('RFC 7541', 'RFC 9204 §4.1.1, RFC 7541') : 'bad integer');
  }
  readResult.value = integerResult.value;
  readResult.next = integerResult.next;
}

/**
 * String literal whose Huffman flag is bit `prefixBits` of buf[pos] and whose length uses the `prefixBits` bits below
 * it. Sets readResult.text (or '' when `materialize` is false: validated but dropped) and .next. `maxLength`
 * bounds the encoded length (a QpackError(code) above it, before anything is copied).
 */
export function readString(
  buf: Uint8Array,
  pos: number,
  end: number,
  prefixBits: number,
  code: number,
  maxLength: number,
  materialize = true,
): void {
  if (pos >= end) throw INCOMPLETE;
  const huffman = (buf[pos]! & (1 << prefixBits)) !== 0;
  readInteger(buf, pos, end, prefixBits, code);
  const length = readResult.value;
  const start = readResult.next;
  if (length > maxLength) throw new QpackError(code, `string literal of ${length} bytes exceeds the ${maxLength}-byte bound`);
  if (start + length > end) throw INCOMPLETE;
  let text: string;
  if (huffman) {
    try {
      text = huffmanDecode(buf, start, start + length, materialize);
    } catch (error) {
      throw new QpackError(code, `${error instanceof Error ? error.message : 'bad Huffman string'} (RFC 9204 §4.1.2)`);
    }
  } else {
    text = materialize ? latin1(buf, start, start + length) : '';
  }
  readResult.text = text;
  readResult.next = start + length;
}

/** Bytes as a string with one char per octet (0..255): header octets survive unchanged, as fetch's Headers expects. */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  let text = '';
  const CHUNK = 8192;
  for (let i = start; i < end; i += CHUNK) {
    text += String.fromCharCode.apply(null, buf.subarray(i, Math.min(end, i + CHUNK)) as unknown as number[]);
  }
  return text;
}

/** `pending` (the unparsed tail of earlier stream bytes, or null) followed by `bytes`. */
export function appendPending(pending: Uint8Array | null, bytes: Uint8Array): Uint8Array {
  if (pending === null) return bytes;
  const joined = new Uint8Array(pending.length + bytes.length);
  joined.set(pending);
  joined.set(bytes, pending.length);
  return joined;
}

/** Converts "the input ended early" into the error the context demands (a field section is never incomplete). */
export function completeOrFail<T>(parse: () => T, code: number, what: string): T {
  try {
    return parse();
  } catch (error) {
    if (error === INCOMPLETE) throw new QpackError(code, `${what} is truncated`);
    throw error;
  }
}

/** A growable output buffer for representations and instructions. */
export class ByteWriter {
  private buf: Uint8Array;
  length = 0;

  constructor(initialSize = 128) {
    this.buf = new Uint8Array(initialSize);
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }

  byte(value: number): void {
    this.reserve(1);
    this.buf[this.length++] = value;
  }

  /** Prefix integer: `flags` are the pattern bits above the `prefixBits`-bit prefix. */
  integer(flags: number, prefixBits: number, value: number): void {
    this.reserve(6);
    this.length = encodeInteger(this.buf, this.length, flags, prefixBits, value);
  }

  /**
   * String literal with its Huffman flag at bit `prefixBits` of the first byte (RFC 9204 §4.1.2); Huffman coding is
   * used only when strictly shorter (and `huffman` allows it). Throws RangeError for chars above U+00FF (not
   * representable as field octets).
   */
  string(flags: number, prefixBits: number, text: string, huffman = true): void {
    const huffmanLength = huffmanEncodedLength(text);
    if (huffmanLength < 0) throw new RangeError(`field ${JSON.stringify(text.slice(0, 40))} has characters above U+00FF`);
    if (huffman && huffmanLength < text.length) {
      this.integer(flags | (1 << prefixBits), prefixBits, huffmanLength);
      this.reserve(huffmanLength);
      this.length = huffmanEncode(text, this.buf, this.length);
    } else {
      this.integer(flags, prefixBits, text.length);
      this.reserve(text.length);
      for (let i = 0; i < text.length; i++) this.buf[this.length++] = text.charCodeAt(i);
    }
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
  }

  /** A copy of what was written; the writer starts over. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }
}

/** QPACK's decompression error code, the default for field-section parsing. */
export const DECOMPRESSION_FAILED = H3ErrorCode.QPACK_DECOMPRESSION_FAILED;
