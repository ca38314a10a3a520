/**
 * An independent RFC 6455 frame builder for the WebSocket tests (it does not use src/ws), so the engine is checked
 * against bytes written from the RFC, not against itself.
 */
import { concatBytes as joinBytes } from '../../src/common/bytes.js';

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  fin?: boolean;
  rsv?: number; // bits 0x40 | 0x20 | 0x10
  /** Mask the payload (a client frame): a key, or true for a fixed key. Default true. */
  mask?: Uint8Array | boolean;
  /** Force the 7-bit length field (126/127 select extended lengths) and the extended value. */
  lengthOverride?: { code: number; extended: number[] };
}

export function frame(spec: FrameSpec): Uint8Array {
  const payload = typeof spec.payload === 'string' ? new TextEncoder().encode(spec.payload) : (spec.payload ?? new Uint8Array(0));
  const key = spec.mask === false ? undefined : spec.mask === undefined || spec.mask === true ? Uint8Array.of(0x37, 0xfa, 0x21, 0x3d) : spec.mask;
  const bytes: number[] = [];
  bytes.push(((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode);
  const maskBit = key ? 0x80 : 0;
  if (spec.lengthOverride) {
    bytes.push(maskBit | spec.lengthOverride.code, ...spec.lengthOverride.extended);
  } else if (payload.length < 126) {
    bytes.push(maskBit | payload.length);
  } else if (payload.length < 65536) {
    bytes.push(maskBit | 126, payload.length >> 8, payload.length & 0xff);
  } else {
    const n = payload.length;
    bytes.push(maskBit | 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
  if (key) bytes.push(...key);
  const out = new Uint8Array(bytes.length + payload.length);
  out.set(bytes, 0);
  for (let i = 0; i < payload.length; i++) out[bytes.length + i] = key ? payload[i]! ^ key[i % 4]! : payload[i]!;
  return out;
}

export function closePayload(code: number, reason: string | Uint8Array = ''): Uint8Array {
  const reasonBytes = typeof reason === 'string' ? new TextEncoder().encode(reason) : reason;
  const out = new Uint8Array(2 + reasonBytes.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(reasonBytes, 2);
  return out;
}

export interface ParsedFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Uint8Array;
}

/** Parses a byte string of frames (server output): every byte must belong to a whole frame. */
export function parseFrames(bytes: Uint8Array): ParsedFrame[] {
  const frames: ParsedFrame[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1]!;
    let length = b1 & 0x7f;
    let p = i + 2;
    if (length === 126) {
      length = (bytes[p]! << 8) | bytes[p + 1]!;
      p += 2;
    } else if (length === 127) {
      length = 0;
      for (let k = 0; k < 8; k++) length = length * 256 + bytes[p + k]!;
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key: Uint8Array | undefined;
    if (masked) {
      key = bytes.subarray(p, p + 4);
      p += 4;
    }
    if (p + length > bytes.length) throw new Error('truncated frame in output');
    const payload = bytes.slice(p, p + length);
    if (key) for (let k = 0; k < payload.length; k++) payload[k]! ^= key[k % 4]!;
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, payload });
    i = p + length;
  }
  return frames;
}

export function closeCodeOf(frame: ParsedFrame): number | undefined {
  return frame.payload.length >= 2 ? (frame.payload[0]! << 8) | frame.payload[1]! : undefined;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  return joinBytes(parts);
}
