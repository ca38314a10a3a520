/**
 * HTTP/2 frames for the test suites (RFC 9113 §4.1, §6): a builder that writes whatever it is told to (including
 * frames no conforming client would send), typed builders for the common frames, and readers for what a server
 * writes. Written from the RFC, sharing no code with the engine under test, so a bug in the engine's codec cannot hide
 * a bug in how it reacts to input.
 */
import { type Bytes, bytes, concat, latin1, u16, u32 } from './bytes.js';
import { Flag, FrameType } from './constants.js';

/**
 * One frame: 9-octet header + payload. `streamId` is written as a full 32-bit value so tests can set the reserved bit.
 * `lengthOverride` writes a Length field that disagrees with the payload actually appended.
 */
export function frame(type: number, flags: number, streamId: number, payload: Bytes = [], lengthOverride?: number): Uint8Array {
  const body = bytes(payload);
  const length = lengthOverride ?? body.length;
  const out = new Uint8Array(9 + body.length);
  out[0] = (length >>> 16) & 0xff;
  out[1] = (length >>> 8) & 0xff;
  out[2] = length & 0xff;
  out[3] = type;
  out[4] = flags;
  out.set(u32(streamId >>> 0), 5);
  out.set(body, 9);
  return out;
}

export function settingsPayload(pairs: ReadonlyArray<readonly [number, number]>): Uint8Array {
  return concat(...pairs.map(([id, value]) => [...u16(id), ...u32(value)]));
}

/** RFC 9113 §6.1/§6.2 padding: Pad Length octet + body + zero padding. */
export function padded(body: Bytes, padLength: number): Uint8Array {
  return concat([padLength], body, new Uint8Array(padLength));
}

export function priorityFields(dependsOn: number, weight: number, exclusive = false): number[] {
  return [...u32(((exclusive ? 0x80000000 : 0) | dependsOn) >>> 0), (weight - 1) & 0xff];
}

export function settingsFrame(entries: ReadonlyArray<readonly [number, number]> = []): Uint8Array {
  return frame(FrameType.SETTINGS, 0, 0, settingsPayload(entries));
}

export function settingsAck(): Uint8Array {
  return frame(FrameType.SETTINGS, Flag.ACK, 0);
}

export function headersFrame(streamId: number, block: Bytes, options: { endStream?: boolean; endHeaders?: boolean } = {}): Uint8Array {
  let flags = 0;
  if (options.endStream) flags |= Flag.END_STREAM;
  if (options.endHeaders ?? true) flags |= Flag.END_HEADERS;
  return frame(FrameType.HEADERS, flags, streamId, block);
}

export function continuationFrame(streamId: number, block: Bytes, endHeaders: boolean): Uint8Array {
  return frame(FrameType.CONTINUATION, endHeaders ? Flag.END_HEADERS : 0, streamId, block);
}

export function dataFrame(streamId: number, data: Bytes, endStream = false): Uint8Array {
  return frame(FrameType.DATA, endStream ? Flag.END_STREAM : 0, streamId, data);
}

export function rstStreamFrame(streamId: number, code: number): Uint8Array {
  return frame(FrameType.RST_STREAM, 0, streamId, u32(code));
}

export function pingFrame(opaque: Bytes = new Uint8Array(8), ack = false): Uint8Array {
  return frame(FrameType.PING, ack ? Flag.ACK : 0, 0, opaque);
}

export function windowUpdateFrame(streamId: number, increment: number): Uint8Array {
  return frame(FrameType.WINDOW_UPDATE, 0, streamId, u32(increment));
}

export function goawayFrame(lastStreamId: number, code: number, debug: Bytes = []): Uint8Array {
  return frame(FrameType.GOAWAY, 0, 0, concat(u32(lastStreamId), u32(code), debug));
}

/** The 9-octet header of the frame at `pos` (RFC 9113 §4.1); the caller checked that 9 octets are there. */
export function readFrameHeader(buf: Uint8Array, pos: number): { length: number; type: number; flags: number; streamId: number; reservedBit: boolean } {
  return {
    length: (buf[pos]! << 16) | (buf[pos + 1]! << 8) | buf[pos + 2]!,
    type: buf[pos + 3]!,
    flags: buf[pos + 4]!,
    streamId: ((buf[pos + 5]! << 24) | (buf[pos + 6]! << 16) | (buf[pos + 7]! << 8) | buf[pos + 8]!) & 0x7fffffff,
    reservedBit: (buf[pos + 5]! & 0x80) !== 0,
  };
}

/** A 32-bit big-endian value inside a payload. */
export function readU32(payload: Uint8Array, offset = 0): number {
  return ((payload[offset]! << 24) | (payload[offset + 1]! << 16) | (payload[offset + 2]! << 8) | payload[offset + 3]!) >>> 0;
}

export interface Goaway {
  lastStreamId: number;
  code: number;
  debug: string;
}

/** RFC 9113 §6.8 GOAWAY payload. */
export function parseGoaway(payload: Uint8Array): Goaway {
  return { lastStreamId: readU32(payload, 0) & 0x7fffffff, code: readU32(payload, 4), debug: latin1(payload.subarray(8)) };
}

export interface ReadFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
}

/**
 * Splits a byte stream into frames as it arrives. DATA payloads are not retained (a big response would otherwise be
 * buffered by the test itself); their length is still reported. Other payloads are copies.
 */
export class FrameReader {
  private buffer: Uint8Array = new Uint8Array(0);

  push(chunk: Uint8Array): { frame: ReadFrame; length: number }[] {
    this.buffer = this.buffer.length === 0 ? chunk : concat(this.buffer, chunk);
    const out: { frame: ReadFrame; length: number }[] = [];
    let offset = 0;
    while (this.buffer.length - offset >= 9) {
      const { length, type, flags, streamId } = readFrameHeader(this.buffer, offset);
      if (this.buffer.length - offset < 9 + length) break;
      const payload = type === FrameType.DATA ? new Uint8Array(0) : this.buffer.slice(offset + 9, offset + 9 + length);
      out.push({ frame: { type, flags, streamId, payload }, length });
      offset += 9 + length;
    }
    this.buffer = offset === this.buffer.length ? new Uint8Array(0) : this.buffer.subarray(offset);
    return out;
  }
}
