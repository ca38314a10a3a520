/**
 * Handshake message framing (RFC 8446 §4: msg_type u8, length u24, body) over the CRYPTO stream of one encryption
 * level (RFC 9001 §4.1.3). Messages may arrive split across calls or several in one; the buffer is bounded so a
 * peer cannot make us hold an unbounded message.
 */
import { Alert, TransportError } from './constants.js';
import { fail } from './wire.js';

/**
 * Largest handshake message, header included (a 64 KiB certificate chain is already unusual). Complete messages
 * are consumed as they arrive, so what stays buffered per level is at most one incomplete message of this size.
 */
export const MAX_HANDSHAKE_BUFFER = 65_536;

export interface HandshakeMessage {
  type: number;
  body: Uint8Array;
  /** Header and body: what the transcript hash covers (RFC 8446 §4.4.1). */
  raw: Uint8Array;
}

/**
 * One level's CRYPTO stream cut into handshake messages. Bytes are copied once into a growable buffer (amortised
 * linear: a peer sending a message one byte per frame costs no more than sending it whole) and once out as the
 * complete message.
 */
export class HandshakeReassembler {
  private buffer: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;

  get pending(): number {
    return this.end - this.start;
  }

  push(data: Uint8Array): void {
    if (data.byteLength === 0) return;
    if (this.end + data.byteLength > this.buffer.byteLength) {
      const pending = this.end - this.start;
      const needed = pending + data.byteLength;
      if (needed > this.buffer.byteLength) {
        const grown = new Uint8Array(Math.max(needed, this.buffer.byteLength * 2, 1024));
        grown.set(this.buffer.subarray(this.start, this.end), 0);
        this.buffer = grown;
      } else {
        this.buffer.copyWithin(0, this.start, this.end);
      }
      this.start = 0;
      this.end = pending;
    }
    this.buffer.set(data, this.end);
    this.end += data.byteLength;
  }

  next(): HandshakeMessage | undefined {
    if (this.pending < 4) return undefined;
    const at = this.start;
    const length = (this.buffer[at + 1]! << 16) | (this.buffer[at + 2]! << 8) | this.buffer[at + 3]!;
    if (length + 4 > MAX_HANDSHAKE_BUFFER) {
      fail(Alert.unexpectedMessage, `handshake message of ${length} bytes exceeds the ${MAX_HANDSHAKE_BUFFER}-byte limit`, TransportError.cryptoBufferExceeded);
    }
    if (this.pending < 4 + length) return undefined;
    const raw = this.buffer.slice(at, at + 4 + length);
    this.start += 4 + length;
    if (this.start === this.end) this.start = this.end = 0;
    return { type: raw[0]!, body: raw.subarray(4), raw };
  }
}

export function handshakeMessage(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.byteLength);
  out[0] = type;
  out[1] = (body.byteLength >>> 16) & 0xff;
  out[2] = (body.byteLength >>> 8) & 0xff;
  out[3] = body.byteLength & 0xff;
  out.set(body, 4);
  return out;
}
