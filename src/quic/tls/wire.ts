/**
 * The TLS presentation language's integers and length-prefixed vectors (RFC 8446 §3). A short or overlong vector
 * is a decode_error alert (RFC 8446 §6.2), raised as a TlsAlertError the engines turn into an 'alert' event.
 */
import { concatBytes as joinBytes } from '../../common/bytes.js';
import { Alert } from './constants.js';

export class TlsAlertError extends Error {
  constructor(
    readonly description: number,
    readonly reason: string,
    readonly transportError?: number,
  ) {
    super(reason);
  }
}

export function fail(description: number, reason: string, transportError?: number): never {
  throw new TlsAlertError(description, reason, transportError);
}

export class Reader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.byteLength - this.offset;
  }
  get position(): number {
    return this.offset;
  }

  private need(n: number, what: string): void {
    if (this.remaining < n) fail(Alert.decodeError, `truncated ${what}`);
  }
  u8(what = 'uint8'): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }
  u16(what = 'uint16'): number {
    this.need(2, what);
    const value = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return value;
  }
  u24(what = 'uint24'): number {
    this.need(3, what);
    const value = (this.bytes[this.offset]! << 16) | (this.bytes[this.offset + 1]! << 8) | this.bytes[this.offset + 2]!;
    this.offset += 3;
    return value;
  }
  u32(what = 'uint32'): number {
    return this.u16(what) * 0x10000 + this.u16(what);
  }
  bytesOf(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  /** A vector with a 1-, 2- or 3-byte length, checked against its <min..max> bounds. */
  vector(lengthBytes: 1 | 2 | 3, what: string, min = 0, max = Infinity): Uint8Array {
    const length = lengthBytes === 1 ? this.u8(what) : lengthBytes === 2 ? this.u16(what) : this.u24(what);
    if (length < min || length > max) fail(Alert.decodeError, `${what}: length ${length} outside <${min}..${max}>`);
    return this.bytesOf(length, what);
  }
  /** RFC 8446 §4: a message must be consumed exactly. */
  end(what: string): void {
    if (this.remaining !== 0) fail(Alert.decodeError, `${this.remaining} trailing bytes in ${what}`);
  }
}

export class Writer {
  private chunks: number[] = [];

  u8(value: number): this {
    this.chunks.push(value & 0xff);
    return this;
  }
  u16(value: number): this {
    this.chunks.push((value >>> 8) & 0xff, value & 0xff);
    return this;
  }
  u24(value: number): this {
    this.chunks.push((value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
    return this;
  }
  u32(value: number): this {
    return this.u16(Math.floor(value / 0x10000)).u16(value >>> 0);
  }
  bytes(data: Uint8Array): this {
    for (const byte of data) this.chunks.push(byte);
    return this;
  }
  /** A vector whose content the callback writes; its length prefix is filled in after. */
  vector(lengthBytes: 1 | 2 | 3, body: (w: Writer) => void): this {
    const inner = new Writer();
    body(inner);
    const content = inner.finish();
    if (lengthBytes === 1) this.u8(content.byteLength);
    else if (lengthBytes === 2) this.u16(content.byteLength);
    else this.u24(content.byteLength);
    return this.bytes(content);
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return joinBytes(parts);
}

export { bytesEqual } from '../../common/bytes.js';

const HEX_DIGITS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += HEX_DIGITS[byte]!;
  return out;
}
