/**
 * Every RFC 9000 §19 frame: decoding with the §12.4 per-packet-type permission table, and encoding.
 * Decoding errors surface as QuicError with the RFC's code: FRAME_ENCODING_ERROR for malformed or unknown frames
 * (§12.4), PROTOCOL_VIOLATION for a frame not allowed in its packet type (§12.4, Table 3) or an empty packet.
 */
import { BufferReader, BufferUnderflowError, BufferWriter, MAX_VARINT, varintLength } from './buffer.js';
import { QuicError, TransportError } from './errors.js';
import type { PacketType } from './packet.js';

export const FrameType = {
  PADDING: 0x00, PING: 0x01, ACK: 0x02, ACK_ECN: 0x03, RESET_STREAM: 0x04, STOP_SENDING: 0x05, CRYPTO: 0x06,
  NEW_TOKEN: 0x07, STREAM: 0x08, MAX_DATA: 0x10, MAX_STREAM_DATA: 0x11, MAX_STREAMS_BIDI: 0x12, MAX_STREAMS_UNI: 0x13,
  DATA_BLOCKED: 0x14, STREAM_DATA_BLOCKED: 0x15, STREAMS_BLOCKED_BIDI: 0x16, STREAMS_BLOCKED_UNI: 0x17,
  NEW_CONNECTION_ID: 0x18, RETIRE_CONNECTION_ID: 0x19, PATH_CHALLENGE: 0x1a, PATH_RESPONSE: 0x1b,
  CONNECTION_CLOSE: 0x1c, CONNECTION_CLOSE_APP: 0x1d, HANDSHAKE_DONE: 0x1e,
} as const;

/** RFC 9000 §4.6: stream counts cannot exceed 2^60 (a stream ID must fit in a varint). */
export const MAX_STREAM_COUNT = 2 ** 60;

export interface AckFrame {
  type: 'ack';
  /** Acknowledged ranges, descending, each [smallest, largest] inclusive. */
  ranges: [number, number][];
  /** Encoded ack delay (before the exponent is applied). */
  ackDelay: number;
  ecn?: { ect0: number; ect1: number; ce: number };
}

export type Frame =
  | { type: 'padding'; length: number }
  | { type: 'ping' }
  | AckFrame
  | { type: 'resetStream'; streamId: number; code: number; finalSize: number }
  | { type: 'stopSending'; streamId: number; code: number }
  | { type: 'crypto'; offset: number; data: Uint8Array }
  | { type: 'newToken'; token: Uint8Array }
  | { type: 'stream'; streamId: number; offset: number; data: Uint8Array; fin: boolean }
  | { type: 'maxData'; maximum: number }
  | { type: 'maxStreamData'; streamId: number; maximum: number }
  | { type: 'maxStreams'; bidirectional: boolean; maximum: number }
  | { type: 'dataBlocked'; limit: number }
  | { type: 'streamDataBlocked'; streamId: number; limit: number }
  | { type: 'streamsBlocked'; bidirectional: boolean; limit: number }
  | { type: 'newConnectionId'; sequence: number; retirePriorTo: number; connectionId: Uint8Array; resetToken: Uint8Array }
  | { type: 'retireConnectionId'; sequence: number }
  | { type: 'pathChallenge'; data: Uint8Array }
  | { type: 'pathResponse'; data: Uint8Array }
  | { type: 'connectionClose'; application: boolean; code: number; frameType: number; reason: string }
  | { type: 'handshakeDone' };

/** A decoded frame with its wire type, for error reporting (CONNECTION_CLOSE's Frame Type field). */
export interface DecodedFrame {
  frame: Frame;
  wireType: number;
}

/**
 * RFC 9000 §12.4 Table 3: which frames each packet type may carry. Initial/Handshake: PADDING, PING, ACK, CRYPTO,
 * CONNECTION_CLOSE (0x1c only). 0-RTT: everything except ACK, CRYPTO, NEW_TOKEN, PATH_RESPONSE,
 * RETIRE_CONNECTION_ID and HANDSHAKE_DONE. 1-RTT: everything.
 */
export function frameAllowedIn(wireType: number, packetType: PacketType): boolean {
  if (packetType === 'oneRtt') return true;
  if (packetType === 'initial' || packetType === 'handshake') {
    return wireType <= FrameType.ACK_ECN || wireType === FrameType.CRYPTO || wireType === FrameType.CONNECTION_CLOSE;
  }
  if (packetType === 'zeroRtt') {
    return !(
      wireType === FrameType.ACK || wireType === FrameType.ACK_ECN || wireType === FrameType.CRYPTO ||
      wireType === FrameType.NEW_TOKEN || wireType === FrameType.PATH_RESPONSE ||
      wireType === FrameType.RETIRE_CONNECTION_ID || wireType === FrameType.HANDSHAKE_DONE
    );
  }
  return false;
}

/** ack-eliciting: every frame except ACK, PADDING and CONNECTION_CLOSE (RFC 9002 §2). */
export function isAckEliciting(frame: Frame): boolean {
  return frame.type !== 'ack' && frame.type !== 'padding' && frame.type !== 'connectionClose';
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const utf8Encoder = new TextEncoder();

function encodingError(reason: string, wireType: number): QuicError {
  return new QuicError(TransportError.FRAME_ENCODING_ERROR, reason, wireType);
}

/** Decodes all frames of a decrypted packet payload. */
export function decodeFrames(payload: Uint8Array, packetType: PacketType): DecodedFrame[] {
  const reader = new BufferReader(payload);
  const frames: DecodedFrame[] = [];
  // RFC 9000 §12.4: a packet that contains no frames is a PROTOCOL_VIOLATION.
  if (payload.byteLength === 0) throw new QuicError(TransportError.PROTOCOL_VIOLATION, 'packet without frames');
  while (!reader.eof) {
    let wireType = 0;
    try {
      wireType = reader.varint();
      if (!frameAllowedIn(wireType, packetType) && wireType <= FrameType.HANDSHAKE_DONE) {
        throw new QuicError(TransportError.PROTOCOL_VIOLATION, `frame 0x${wireType.toString(16)} not allowed in ${packetType} packets`, wireType);
      }
      frames.push({ frame: decodeFrameBody(reader, wireType), wireType });
    } catch (error) {
      if (error instanceof BufferUnderflowError) throw encodingError('truncated frame', wireType);
      throw error;
    }
  }
  return frames;
}

function streamCount(reader: BufferReader, wireType: number): number {
  const value = reader.largeVarint();
  // RFC 9000 §19.11/§19.14: a count above 2^60 is a FRAME_ENCODING_ERROR.
  if (value > MAX_STREAM_COUNT) throw encodingError('stream count above 2^60', wireType);
  return value;
}

function decodeFrameBody(reader: BufferReader, wireType: number): Frame {
  switch (wireType) {
    case FrameType.PADDING: {
      let length = 1;
      while (reader.peek() === 0) {
        reader.skip(1);
        length++;
      }
      return { type: 'padding', length };
    }
    case FrameType.PING:
      return { type: 'ping' };
    case FrameType.ACK:
    case FrameType.ACK_ECN: {
      const largest = reader.varint();
      const ackDelay = reader.varint();
      const rangeCount = reader.varint();
      const firstRange = reader.varint();
      // RFC 9000 §19.3.1: a range that would go below zero is a FRAME_ENCODING_ERROR.
      if (firstRange > largest) throw encodingError('ACK range below zero', wireType);
      const ranges: [number, number][] = [[largest - firstRange, largest]];
      let smallest = largest - firstRange;
      for (let i = 0; i < rangeCount; i++) {
        const gap = reader.varint();
        const length = reader.varint();
        const high = smallest - gap - 2;
        if (high < 0 || length > high) throw encodingError('ACK range below zero', wireType);
        ranges.push([high - length, high]);
        smallest = high - length;
      }
      const frame: AckFrame = { type: 'ack', ranges, ackDelay };
      if (wireType === FrameType.ACK_ECN) frame.ecn = { ect0: reader.varint(), ect1: reader.varint(), ce: reader.varint() };
      return frame;
    }
    case FrameType.RESET_STREAM:
      return { type: 'resetStream', streamId: reader.varint(), code: reader.largeVarint(), finalSize: reader.varint() };
    case FrameType.STOP_SENDING:
      return { type: 'stopSending', streamId: reader.varint(), code: reader.largeVarint() };
    case FrameType.CRYPTO: {
      const offset = reader.varint();
      const data = reader.bytesView(reader.varint());
      // RFC 9000 §19.6: offset + length must not exceed 2^62 - 1.
      if (offset + data.byteLength > MAX_VARINT) throw encodingError('CRYPTO beyond 2^62 - 1', wireType);
      return { type: 'crypto', offset, data };
    }
    case FrameType.NEW_TOKEN: {
      const token = reader.bytesView(reader.varint());
      // RFC 9000 §19.7: an empty token is a FRAME_ENCODING_ERROR.
      if (token.byteLength === 0) throw encodingError('empty NEW_TOKEN', wireType);
      return { type: 'newToken', token };
    }
    case FrameType.MAX_DATA:
      return { type: 'maxData', maximum: reader.largeVarint() };
    case FrameType.MAX_STREAM_DATA:
      return { type: 'maxStreamData', streamId: reader.varint(), maximum: reader.largeVarint() };
    case FrameType.MAX_STREAMS_BIDI:
    case FrameType.MAX_STREAMS_UNI:
      return { type: 'maxStreams', bidirectional: wireType === FrameType.MAX_STREAMS_BIDI, maximum: streamCount(reader, wireType) };
    case FrameType.DATA_BLOCKED:
      return { type: 'dataBlocked', limit: reader.largeVarint() };
    case FrameType.STREAM_DATA_BLOCKED:
      return { type: 'streamDataBlocked', streamId: reader.varint(), limit: reader.largeVarint() };
    case FrameType.STREAMS_BLOCKED_BIDI:
    case FrameType.STREAMS_BLOCKED_UNI:
      return { type: 'streamsBlocked', bidirectional: wireType === FrameType.STREAMS_BLOCKED_BIDI, limit: streamCount(reader, wireType) };
    case FrameType.NEW_CONNECTION_ID: {
      const sequence = reader.varint();
      const retirePriorTo = reader.varint();
      const length = reader.uint8();
      // RFC 9000 §19.15: length 1..20, Retire Prior To ≤ Sequence Number, else FRAME_ENCODING_ERROR.
      if (length < 1 || length > 20) throw encodingError('NEW_CONNECTION_ID length outside 1..20', wireType);
      if (retirePriorTo > sequence) throw encodingError('Retire Prior To above Sequence Number', wireType);
      const connectionId = reader.bytesView(length).slice();
      const resetToken = reader.bytesView(16).slice();
      return { type: 'newConnectionId', sequence, retirePriorTo, connectionId, resetToken };
    }
    case FrameType.RETIRE_CONNECTION_ID:
      return { type: 'retireConnectionId', sequence: reader.varint() };
    case FrameType.PATH_CHALLENGE:
      return { type: 'pathChallenge', data: reader.bytesView(8).slice() };
    case FrameType.PATH_RESPONSE:
      return { type: 'pathResponse', data: reader.bytesView(8).slice() };
    case FrameType.CONNECTION_CLOSE:
    case FrameType.CONNECTION_CLOSE_APP: {
      const application = wireType === FrameType.CONNECTION_CLOSE_APP;
      const code = reader.largeVarint();
      const frameType = application ? 0 : reader.largeVarint();
      const reason = utf8.decode(reader.bytesView(reader.varint()));
      return { type: 'connectionClose', application, code, frameType, reason };
    }
    case FrameType.HANDSHAKE_DONE:
      return { type: 'handshakeDone' };
    default:
      if (wireType >= FrameType.STREAM && wireType <= 0x0f) {
        const streamId = reader.varint();
        const offset = (wireType & 0x04) !== 0 ? reader.varint() : 0;
        const data = (wireType & 0x02) !== 0 ? reader.bytesView(reader.varint()) : reader.bytesView(reader.remaining);
        // RFC 9000 §19.8: offset + length must not exceed 2^62 - 1.
        if (offset + data.byteLength > MAX_VARINT) throw encodingError('STREAM beyond 2^62 - 1', wireType);
        return { type: 'stream', streamId, offset, data, fin: (wireType & 0x01) !== 0 };
      }
      // RFC 9000 §12.4: an unknown frame type is a FRAME_ENCODING_ERROR.
      throw encodingError(`unknown frame type 0x${wireType.toString(16)}`, wireType);
  }
}

/** Appends one frame. STREAM frames always carry Offset and Length (so they can be followed by more frames). */
export function encodeFrame(writer: BufferWriter, frame: Frame): void {
  switch (frame.type) {
    case 'padding':
      for (let i = 0; i < frame.length; i++) writer.uint8(0);
      return;
    case 'ping':
      writer.varint(FrameType.PING);
      return;
    case 'ack': {
      writer.varint(frame.ecn ? FrameType.ACK_ECN : FrameType.ACK);
      const [firstLow, firstHigh] = frame.ranges[0]!;
      writer.varint(firstHigh).varint(frame.ackDelay).varint(frame.ranges.length - 1).varint(firstHigh - firstLow);
      let smallest = firstLow;
      for (let i = 1; i < frame.ranges.length; i++) {
        const [low, high] = frame.ranges[i]!;
        writer.varint(smallest - high - 2).varint(high - low);
        smallest = low;
      }
      if (frame.ecn) writer.varint(frame.ecn.ect0).varint(frame.ecn.ect1).varint(frame.ecn.ce);
      return;
    }
    case 'resetStream':
      writer.varint(FrameType.RESET_STREAM).varint(frame.streamId).varint(frame.code).varint(frame.finalSize);
      return;
    case 'stopSending':
      writer.varint(FrameType.STOP_SENDING).varint(frame.streamId).varint(frame.code);
      return;
    case 'crypto':
      writer.varint(FrameType.CRYPTO).varint(frame.offset).varint(frame.data.byteLength).raw(frame.data);
      return;
    case 'newToken':
      writer.varint(FrameType.NEW_TOKEN).varint(frame.token.byteLength).raw(frame.token);
      return;
    case 'stream':
      writer.varint(FrameType.STREAM | 0x04 | 0x02 | (frame.fin ? 0x01 : 0)).varint(frame.streamId).varint(frame.offset);
      writer.varint(frame.data.byteLength).raw(frame.data);
      return;
    case 'maxData':
      writer.varint(FrameType.MAX_DATA).varint(frame.maximum);
      return;
    case 'maxStreamData':
      writer.varint(FrameType.MAX_STREAM_DATA).varint(frame.streamId).varint(frame.maximum);
      return;
    case 'maxStreams':
      writer.varint(frame.bidirectional ? FrameType.MAX_STREAMS_BIDI : FrameType.MAX_STREAMS_UNI).varint(frame.maximum);
      return;
    case 'dataBlocked':
      writer.varint(FrameType.DATA_BLOCKED).varint(frame.limit);
      return;
    case 'streamDataBlocked':
      writer.varint(FrameType.STREAM_DATA_BLOCKED).varint(frame.streamId).varint(frame.limit);
      return;
    case 'streamsBlocked':
      writer.varint(frame.bidirectional ? FrameType.STREAMS_BLOCKED_BIDI : FrameType.STREAMS_BLOCKED_UNI).varint(frame.limit);
      return;
    case 'newConnectionId':
      writer.varint(FrameType.NEW_CONNECTION_ID).varint(frame.sequence).varint(frame.retirePriorTo);
      writer.uint8(frame.connectionId.byteLength).raw(frame.connectionId).raw(frame.resetToken);
      return;
    case 'retireConnectionId':
      writer.varint(FrameType.RETIRE_CONNECTION_ID).varint(frame.sequence);
      return;
    case 'pathChallenge':
      writer.varint(FrameType.PATH_CHALLENGE).raw(frame.data);
      return;
    case 'pathResponse':
      writer.varint(FrameType.PATH_RESPONSE).raw(frame.data);
      return;
    case 'connectionClose': {
      const reason = utf8Encoder.encode(frame.reason).subarray(0, 512);
      writer.varint(frame.application ? FrameType.CONNECTION_CLOSE_APP : FrameType.CONNECTION_CLOSE).varint(frame.code);
      if (!frame.application) writer.varint(frame.frameType);
      writer.varint(reason.byteLength).raw(reason);
      return;
    }
    case 'handshakeDone':
      writer.varint(FrameType.HANDSHAKE_DONE);
      return;
  }
}

/** Bytes a STREAM frame header takes before its data (type, id, offset, length). */
export function streamFrameOverhead(streamId: number, offset: number, length: number): number {
  return 1 + varintLength(streamId) + varintLength(offset) + varintLength(length);
}

/** Bytes a CRYPTO frame header takes before its data. */
export function cryptoFrameOverhead(offset: number, length: number): number {
  return 1 + varintLength(offset) + varintLength(length);
}
