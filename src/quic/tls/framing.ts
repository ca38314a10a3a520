/**
 * Handshake message framing (RFC 8446 §4: msg_type u8, length u24, body) over the CRYPTO stream of one encryption
 * level (RFC 9001 §4.1.3). Messages may arrive split across calls or several in one; the buffer is bounded so a
 * peer cannot make us hold an unbounded message.
 */
import { Alert, TransportError } from './constants.js';
import { concatBytes, fail } from './wire.js';

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

export class HandshakeReassembler {
  private buffer: Uint8Array = new Uint8Array(0);

  get pending(): number {
    return this.buffer.byteLength;
  }

  push(data: Uint8Array): void {
    this.buffer = this.buffer.byteLength === 0 ? data.slice() : concatBytes(this.buffer, data);
  }

  next(): HandshakeMessage | undefined {
    if (this.buffer.byteLength < 4) return undefined;
    const length = (this.buffer[1]! << 16) | (this.buffer[2]! << 8) | this.buffer[3]!;
    if (length + 4 > MAX_HANDSHAKE_BUFFER) {
      fail(Alert.unexpectedMessage, `handshake message of ${length} bytes exceeds the ${MAX_HANDSHAKE_BUFFER}-byte limit`, TransportError.cryptoBufferExceeded);
    }
    if (this.buffer.byteLength < 4 + length) return undefined;
    const raw = this.buffer.subarray(0, 4 + length);
    this.buffer = this.buffer.subarray(4 + length);
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
