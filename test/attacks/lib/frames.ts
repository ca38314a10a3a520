/**
 * A deliberately independent HTTP/2 frame writer and reader for the attack suite (RFC 9113 §4.1). It shares no code
 * with the engine under test, so a bug in the engine's codec cannot hide a bug in how it reacts to hostile input.
 * It writes whatever it is told to — including frames no conforming client would send.
 */

import { ErrorCode as ErrorCodes, Flag, FrameType, Setting, errorName } from '../../support/h2-wire-constants.js';

// RFC 9113 tables shared with the conformance harness; like this file, they owe nothing to the engine.
export { ErrorCodes, Flag, FrameType, Setting, errorName };

/** RFC 9113 §3.4. */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const EMPTY = Buffer.alloc(0);

/** One frame: 9-octet header (24-bit length, type, flags, R + 31-bit stream id) then the payload, verbatim. */
export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = EMPTY, declaredLength?: number): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.byteLength);
  const length = declaredLength ?? payload.byteLength;
  out[0] = (length >>> 16) & 0xff;
  out[1] = (length >>> 8) & 0xff;
  out[2] = length & 0xff;
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId >>> 0, 5);
  out.set(payload, 9);
  return out;
}

export function settingsFrame(entries: [number, number][] = []): Buffer {
  const payload = Buffer.allocUnsafe(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

export function settingsAck(): Buffer {
  return frame(FrameType.SETTINGS, Flag.ACK, 0);
}

export function headersFrame(streamId: number, block: Uint8Array, options: { endStream?: boolean; endHeaders?: boolean } = {}): Buffer {
  let flags = 0;
  if (options.endStream) flags |= Flag.END_STREAM;
  if (options.endHeaders ?? true) flags |= Flag.END_HEADERS;
  return frame(FrameType.HEADERS, flags, streamId, block);
}

export function continuationFrame(streamId: number, block: Uint8Array, endHeaders: boolean): Buffer {
  return frame(FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, streamId, block);
}

export function dataFrame(streamId: number, data: Uint8Array, endStream = false): Buffer {
  return frame(FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId, data);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code >>> 0);
  return frame(FrameType.RST_STREAM, 0, streamId, payload);
}

export function pingFrame(opaque: Uint8Array = Buffer.alloc(8), ack = false): Buffer {
  return frame(FrameType.PING, ack ? Flag.ACK : 0, 0, opaque);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment >>> 0);
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

export function goawayFrame(lastStreamId: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(lastStreamId >>> 0);
  payload.writeUInt32BE(code >>> 0, 4);
  return frame(FrameType.GOAWAY, 0, 0, payload);
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export interface Goaway {
  lastStreamId: number;
  code: number;
  debug: string;
}

export function parseGoaway(payload: Buffer): Goaway {
  return {
    lastStreamId: payload.readUInt32BE(0) & 0x7fffffff,
    code: payload.readUInt32BE(4),
    debug: payload.subarray(8).toString('latin1'),
  };
}

/**
 * Splits received bytes into frames. Payloads larger than `keepPayloadLimit` are not retained (DATA of big responses
 * would otherwise be buffered by the test itself); their length is still reported.
 */
export class FrameReader {
  private buffer: Buffer = EMPTY;

  push(chunk: Buffer): { frame: Frame; length: number }[] {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const out: { frame: Frame; length: number }[] = [];
    let offset = 0;
    while (this.buffer.length - offset >= 9) {
      const length = this.buffer.readUIntBE(offset, 3);
      if (this.buffer.length - offset < 9 + length) break;
      const type = this.buffer[offset + 3]!;
      const flags = this.buffer[offset + 4]!;
      const streamId = this.buffer.readUInt32BE(offset + 5) & 0x7fffffff;
      // DATA payloads are dropped (the length is enough); control payloads are copied out of the shared buffer.
      const payload = type === FrameType.DATA ? EMPTY : Buffer.from(this.buffer.subarray(offset + 9, offset + 9 + length));
      out.push({ frame: { type, flags, streamId, payload }, length });
      offset += 9 + length;
    }
    this.buffer = offset === this.buffer.length ? EMPTY : this.buffer.subarray(offset);
    return out;
  }
}
