/**
 * A sans-IO WebSocket endpoint (RFC 6455 §5–§7): bytes in → events out, frames to send out. No I/O, no timers, no
 * `node:` imports. The HTTP handshake (HTTP/1.1 Upgrade or RFC 8441 extended CONNECT) happens before, in
 * handshake.ts and the server; after it, both sides speak only frames, over any byte stream.
 *
 * permessage-deflate (RFC 7692) is handled at the edges: with `perMessageDeflate`, RSV1 is accepted on the first
 * frame of a data message and the message is delivered with `compressed: true` and its raw DEFLATE bytes, for the
 * caller to inflate (bounded by maxMessageSize); sendMessage(..., { compressed: true }) sends bytes the caller
 * deflated. The engine itself never inflates, so it never allocates more than maxMessageSize per message.
 */
import { CloseCode, DEFAULT_WEBSOCKET_LIMITS, Opcode, isValidCloseCode, type ReadyState, type WebSocketEvent, type WebSocketLimits } from './types.js';
import { ByteQueue, concatBytes } from '../common/bytes.js';
import { TokenBucket } from '../common/token-bucket.js';
import { FIN, MASK, MAX_CONTROL_PAYLOAD, RSV1, RSV2, RSV3, applyMask, encodeClosePayload, encodeFrame, frameHeaderLength, writeFrameHeader } from './frames.js';

export interface WebSocketOptions {
  /** 'server' requires masked frames from the peer and sends unmasked ones; 'client' the reverse (§5.1). */
  role: 'server' | 'client';
  limits?: Partial<WebSocketLimits>;
  /** permessage-deflate was negotiated (RFC 7692 §6): RSV1 marks compressed messages. */
  perMessageDeflate?: boolean;
  /** Clock in ms for the control-frame budget. */
  now?: () => number;
  /** Client role: a fresh unpredictable 4-byte masking key per frame (§5.3: "MUST be unpredictable"). */
  maskKey?: () => Uint8Array;
}

class ProtocolFailure {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {}
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Strict UTF-8 decoding (§8.1: invalid UTF-8 in a text message fails the connection with 1007). Null if invalid. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

const enum ParseState {
  Header,
  Payload,
}

export class WebSocketConnection {
  readonly role: 'server' | 'client';
  readonly limits: Readonly<WebSocketLimits>;
  readonly perMessageDeflate: boolean;
  private readonly now: () => number;
  private readonly maskKey: (() => Uint8Array) | undefined;

  private state: ReadyState = 'open';
  /** We sent a Close frame (§5.5.1: after it, no more data frames). */
  private closeSent = false;
  private closeReceived = false;
  /** Who started the closing handshake, for the 'closed' event. */
  private closeStartedByPeer = false;

  // Output
  private readonly output = new ByteQueue();

  // Input: frame header being assembled
  private parseState = ParseState.Header;
  private readonly header = new Uint8Array(14);
  private headerFilled = 0;
  // Current frame
  private frameOpcode = 0;
  private frameFin = false;
  private frameMask = new Uint8Array(4);
  private frameMasked = false;
  private frameRemaining = 0;
  private framePosition = 0;
  /** Payload of the current control frame (≤ 125 bytes). */
  private controlPayload = new Uint8Array(MAX_CONTROL_PAYLOAD);
  // Current data message
  private messageOpcode = 0;
  private messageCompressed = false;
  private messageInProgress = false;
  private messageSize = 0;
  private messageFragments = 0;
  private readonly messageChunks: Uint8Array[] = [];
  private textDecoder: TextDecoder | undefined;
  private readonly textPieces: string[] = [];
  /** Ping and pong budget: each ping queues a pong (the h2 PING-flood family). */
  private readonly controlFrames: TokenBucket;

  constructor(options: WebSocketOptions) {
    this.role = options.role;
    this.limits = Object.freeze({ ...DEFAULT_WEBSOCKET_LIMITS, ...options.limits });
    this.perMessageDeflate = options.perMessageDeflate ?? false;
    this.now = options.now ?? Date.now;
    this.maskKey = options.maskKey;
    if (this.role === 'client' && this.maskKey === undefined) throw new TypeError('a client WebSocketConnection needs a maskKey source');
    this.controlFrames = new TokenBucket(this.limits.controlFrameBurst, this.limits.controlFrameRatePerSecond, this.now());
  }

  get readyState(): ReadyState {
    return this.state;
  }

  /** Bytes queued for the transport and not yet taken by dataToSend(). */
  get bufferedAmount(): number {
    return this.output.length;
  }

  /** The connection is over and nothing is left to write: close the transport. */
  get isDone(): boolean {
    return this.state === 'closed' && this.output.length === 0;
  }

  // ---------------------------------------------------------------- input

  /** Feeds bytes read from the transport. Never throws on peer input: violations fail the connection (§7.1.7). */
  receive(bytes: Uint8Array): WebSocketEvent[] {
    const events: WebSocketEvent[] = [];
    if (this.state === 'closed') return events;
    try {
      this.parse(bytes, events);
    } catch (error) {
      if (!(error instanceof ProtocolFailure)) throw error;
      this.fail(error.code, error.reason, events);
    }
    return events;
  }

  private parse(bytes: Uint8Array, events: WebSocketEvent[]): void {
    let offset = 0;
    const length = bytes.byteLength;
    while (offset < length && this.state !== 'closed') {
      if (this.parseState === ParseState.Header) {
        offset = this.readHeader(bytes, offset);
        // A frame with an empty payload ends as soon as its header does.
        if ((this.parseState as ParseState) === ParseState.Payload && this.frameRemaining === 0) this.endFrame(events);
        continue;
      }
      const take = Math.min(this.frameRemaining, length - offset);
      this.takePayload(bytes.subarray(offset, offset + take));
      offset += take;
      this.frameRemaining -= take;
      if (this.frameRemaining === 0) this.endFrame(events);
    }
  }

  /** Assembles the frame header byte by byte across reads; validates it as soon as it is complete. */
  private readHeader(bytes: Uint8Array, offset: number): number {
    const header = this.header;
    while (offset < bytes.byteLength) {
      header[this.headerFilled++] = bytes[offset++]!;
      if (this.headerFilled < 2) continue;
      const lengthCode = header[1]! & 0x7f;
      const needed = 2 + (lengthCode === 126 ? 2 : lengthCode === 127 ? 8 : 0) + (header[1]! & MASK ? 4 : 0);
      if (this.headerFilled === needed) {
        this.startFrame();
        return offset;
      }
    }
    return offset;
  }

  private startFrame(): void {
    const header = this.header;
    this.headerFilled = 0;
    const first = header[0]!;
    const second = header[1]!;
    const fin = (first & FIN) !== 0;
    const rsv1 = (first & RSV1) !== 0;
    const opcode = first & 0x0f;
    const masked = (second & MASK) !== 0;
    let payloadLength = second & 0x7f;
    let cursor = 2;
    if (payloadLength === 126) {
      payloadLength = (header[2]! << 8) | header[3]!;
      cursor = 4;
    } else if (payloadLength === 127) {
      // §5.2: "the most significant bit MUST be 0". Anything at or above 2^53 is beyond every limit anyway.
      if (header[2]! & 0x80) throw new ProtocolFailure(CloseCode.protocolError, 'frame length has its most significant bit set');
      const high = ((header[2]! << 24) | (header[3]! << 16) | (header[4]! << 8) | header[5]!) >>> 0;
      const low = ((header[6]! << 24) | (header[7]! << 16) | (header[8]! << 8) | header[9]!) >>> 0;
      payloadLength = high * 0x1_0000_0000 + low;
      cursor = 10;
    }
    if (masked) this.frameMask.set(header.subarray(cursor, cursor + 4));

    // §5.1: "a server MUST close the connection upon receiving a frame that is not masked" (1002, §7.4.1), and a
    // client MUST close the connection if it detects a masked frame.
    if (this.role === 'server' && !masked) throw new ProtocolFailure(CloseCode.protocolError, 'client frames must be masked');
    if (this.role === 'client' && masked) throw new ProtocolFailure(CloseCode.protocolError, 'server frames must not be masked');
    // §5.2: RSV bits MUST be 0 unless an extension defines them; RFC 7692 §6 defines RSV1 on the first frame of a
    // data message only ("MUST NOT set the RSV1 bit" on continuation and control frames).
    if ((first & (RSV2 | RSV3)) !== 0) throw new ProtocolFailure(CloseCode.protocolError, 'reserved bits RSV2/RSV3 set');
    const isControl = (opcode & 0x08) !== 0;
    if (rsv1 && (!this.perMessageDeflate || isControl || opcode === Opcode.continuation)) {
      throw new ProtocolFailure(CloseCode.protocolError, 'reserved bit RSV1 set');
    }

    if (isControl) {
      // §5.5: control frames have a payload ≤ 125 bytes and MUST NOT be fragmented.
      if (opcode !== Opcode.close && opcode !== Opcode.ping && opcode !== Opcode.pong) {
        throw new ProtocolFailure(CloseCode.protocolError, `reserved control opcode 0x${opcode.toString(16)}`);
      }
      if (!fin) throw new ProtocolFailure(CloseCode.protocolError, 'fragmented control frame');
      if (payloadLength > MAX_CONTROL_PAYLOAD) throw new ProtocolFailure(CloseCode.protocolError, 'control frame payload over 125 bytes');
    } else if (opcode === Opcode.continuation) {
      // §5.4: a continuation frame only continues a started message.
      if (!this.messageInProgress) throw new ProtocolFailure(CloseCode.protocolError, 'continuation frame without a message to continue');
    } else if (opcode === Opcode.text || opcode === Opcode.binary) {
      // §5.4: the fragments of one message are not interleaved with another data message.
      if (this.messageInProgress) throw new ProtocolFailure(CloseCode.protocolError, 'new data frame inside a fragmented message');
      this.beginMessage(opcode, rsv1);
    } else {
      throw new ProtocolFailure(CloseCode.protocolError, `reserved data opcode 0x${opcode.toString(16)}`);
    }

    if (!isControl) {
      this.messageSize += payloadLength;
      if (this.messageSize > this.limits.maxMessageSize) {
        throw new ProtocolFailure(CloseCode.messageTooBig, `message over ${this.limits.maxMessageSize} bytes`);
      }
      if (++this.messageFragments > this.limits.maxFragmentsPerMessage) {
        throw new ProtocolFailure(CloseCode.messageTooBig, `message in over ${this.limits.maxFragmentsPerMessage} fragments`);
      }
    }

    this.frameOpcode = opcode;
    this.frameFin = fin;
    this.frameMasked = masked;
    this.frameRemaining = payloadLength;
    this.framePosition = 0;
    this.parseState = ParseState.Payload;
  }

  private beginMessage(opcode: number, compressed: boolean): void {
    this.messageInProgress = true;
    this.messageOpcode = opcode;
    this.messageCompressed = compressed;
    this.messageSize = 0;
    this.messageFragments = 0;
    // Text is validated as it arrives (fail fast on the first invalid byte, also across fragments: §8.1).
    this.textDecoder = opcode === Opcode.text && !compressed ? new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }) : undefined;
  }

  private takePayload(slice: Uint8Array): void {
    if (slice.byteLength === 0) return;
    const isControl = (this.frameOpcode & 0x08) !== 0;
    let chunk: Uint8Array;
    if (isControl) {
      chunk = this.controlPayload.subarray(this.framePosition, this.framePosition + slice.byteLength);
      chunk.set(slice);
    } else {
      chunk = slice.slice();
    }
    if (this.frameMasked) applyMask(chunk, this.frameMask, this.framePosition);
    this.framePosition += slice.byteLength;
    if (isControl) return;
    if (this.textDecoder !== undefined) {
      try {
        this.textPieces.push(this.textDecoder.decode(chunk, { stream: true }));
      } catch {
        throw new ProtocolFailure(CloseCode.invalidPayload, 'invalid UTF-8 in a text message');
      }
    } else {
      this.messageChunks.push(chunk);
    }
  }

  private endFrame(events: WebSocketEvent[]): void {
    this.parseState = ParseState.Header;
    const opcode = this.frameOpcode;
    if ((opcode & 0x08) !== 0) {
      this.controlFrame(opcode, this.controlPayload.slice(0, this.framePosition), events);
      return;
    }
    if (this.frameFin) this.endMessage(events);
  }

  private endMessage(events: WebSocketEvent[]): void {
    this.messageInProgress = false;
    const binary = this.messageOpcode === Opcode.binary;
    let data: string | Uint8Array;
    if (this.textDecoder !== undefined) {
      try {
        // The final call reports a sequence cut off at the end of the message.
        this.textPieces.push(this.textDecoder.decode());
      } catch {
        throw new ProtocolFailure(CloseCode.invalidPayload, 'invalid UTF-8 at the end of a text message');
      }
      data = this.textPieces.length === 1 ? this.textPieces[0]! : this.textPieces.join('');
      this.textPieces.length = 0;
      this.textDecoder = undefined;
    } else {
      data = concatBytes(this.messageChunks, this.messageSize);
      this.messageChunks.length = 0;
    }
    events.push({ type: 'message', data, binary, compressed: this.messageCompressed });
  }

  private spendControlToken(): void {
    if (!this.controlFrames.take(this.now())) throw new ProtocolFailure(CloseCode.policyViolation, 'control frame flood');
  }


  private controlFrame(opcode: number, payload: Uint8Array, events: WebSocketEvent[]): void {
    if (opcode === Opcode.ping) {
      this.spendControlToken();
      // §5.5.2: answer with a Pong carrying the same data, unless a Close was already sent.
      if (!this.closeSent) this.queueFrame(Opcode.pong, payload, true, false);
      events.push({ type: 'ping', data: payload });
    } else if (opcode === Opcode.pong) {
      this.spendControlToken();
      events.push({ type: 'pong', data: payload });
    } else {
      this.closeFrame(payload, events);
    }
  }

  private closeFrame(payload: Uint8Array, events: WebSocketEvent[]): void {
    let code: number = CloseCode.noStatus;
    let reason = '';
    if (payload.byteLength === 1) throw new ProtocolFailure(CloseCode.protocolError, 'close frame with a 1-byte payload');
    if (payload.byteLength >= 2) {
      code = (payload[0]! << 8) | payload[1]!;
      // §7.4: codes that must not appear on the wire, and the reserved ranges.
      if (!isValidCloseCode(code)) throw new ProtocolFailure(CloseCode.protocolError, `invalid close code ${code}`);
      const text = decodeUtf8(payload.subarray(2));
      // §5.5.1: the reason is UTF-8; §8.1 makes invalid UTF-8 a 1007 failure.
      if (text === null) throw new ProtocolFailure(CloseCode.invalidPayload, 'invalid UTF-8 in the close reason');
      reason = text;
    }
    this.closeReceived = true;
    if (!this.closeSent) {
      // §5.5.1: answer a Close with a Close, typically echoing the code. 1005 is never sent: answer with no code.
      this.closeStartedByPeer = true;
      this.queueClose(code === CloseCode.noStatus ? undefined : code, '');
    }
    this.state = 'closed';
    this.discardMessage();
    events.push({ type: 'closed', code, reason, byPeer: this.closeStartedByPeer, clean: true });
  }

  /** §7.1.7 "Fail the WebSocket Connection": send a Close with the code (if none was sent) and stop reading. */
  private fail(code: number, reason: string, events: WebSocketEvent[]): void {
    if (!this.closeSent) this.queueClose(code, reason);
    this.state = 'closed';
    this.discardMessage();
    this.parseState = ParseState.Header;
    events.push({ type: 'closed', code, reason, byPeer: true, clean: false });
  }

  private discardMessage(): void {
    this.messageChunks.length = 0;
    this.textPieces.length = 0;
    this.textDecoder = undefined;
    this.messageInProgress = false;
  }

  // --------------------------------------------------------------- output

  /**
   * Queues one message as a single frame. Returns false when the connection is closing or closed (nothing queued).
   * Text is sent as text, bytes as binary. `compressed`: the bytes are already DEFLATE data (RFC 7692: RSV1).
   */
  sendMessage(data: string | Uint8Array, options: { binary?: boolean; compressed?: boolean } = {}): boolean {
    if (this.closeSent || this.state === 'closed') return false;
    const payload = typeof data === 'string' ? encoder.encode(data) : data;
    const binary = options.binary ?? typeof data !== 'string';
    if (options.compressed && !this.perMessageDeflate) throw new TypeError('permessage-deflate was not negotiated');
    this.queueFrame(binary ? Opcode.binary : Opcode.text, payload, true, options.compressed ?? false);
    return true;
  }

  /**
   * Queues a frame encoded once by encodeServerMessage(), to send the same bytes to many sockets (publish/fan-out).
   * Server role only: client frames are masked per frame and cannot be shared.
   */
  sendEncoded(frame: Uint8Array): boolean {
    if (this.role !== 'server') throw new TypeError('only a server can send pre-encoded frames');
    if (this.closeSent || this.state === 'closed') return false;
    this.output.push(frame);
        return true;
  }

  ping(data: Uint8Array = EMPTY): boolean {
    if (data.byteLength > MAX_CONTROL_PAYLOAD) throw new RangeError('a ping carries at most 125 bytes');
    if (this.closeSent || this.state === 'closed') return false;
    this.queueFrame(Opcode.ping, data, true, false);
    return true;
  }

  pong(data: Uint8Array = EMPTY): boolean {
    if (data.byteLength > MAX_CONTROL_PAYLOAD) throw new RangeError('a pong carries at most 125 bytes');
    if (this.closeSent || this.state === 'closed') return false;
    this.queueFrame(Opcode.pong, data, true, false);
    return true;
  }

  /**
   * Starts the closing handshake (§7.1.2). `code` must be 1000 or an application code 3000–4999 (or another code
   * valid on the wire); the reason is at most 123 UTF-8 bytes (§5.5: 125 minus the code). Without a code, the Close
   * frame is empty. Returns false if a Close was already sent.
   */
  close(code?: number, reason = ''): boolean {
    if (code !== undefined && !isValidCloseCode(code)) throw new RangeError(`close code ${code} may not be sent (RFC 6455 §7.4)`);
    if (code === undefined && reason !== '') throw new TypeError('a close reason needs a close code');
    if (encoder.encode(reason).byteLength > MAX_CONTROL_PAYLOAD - 2) throw new RangeError('a close reason is at most 123 UTF-8 bytes');
    if (this.closeSent || this.state === 'closed') return false;
    this.queueClose(code, reason);
    this.state = 'closing';
    return true;
  }

  /**
   * §7.1.7 "Fail the WebSocket Connection" for a reason found outside the engine (a message that does not inflate:
   * 1007; inflates past the limit: 1009; an application error: 1011): queues a Close with the code unless one was
   * sent, and stops reading. Returns the 'closed' event unless the connection was already closed.
   */
  failConnection(code: number, reason = ''): WebSocketEvent | undefined {
    if (this.state === 'closed') return undefined;
    if (!isValidCloseCode(code)) throw new RangeError(`close code ${code} may not be sent (RFC 6455 §7.4)`);
    const events: WebSocketEvent[] = [];
    this.fail(code, reason, events);
    return { ...events[0]!, byPeer: false } as WebSocketEvent;
  }

  /**
   * Ends the connection without a closing handshake, e.g. when the transport closed or a close timeout expired.
   * Returns the 'closed' event (code 1006, §7.1.5) unless the connection was already closed.
   */
  abort(): WebSocketEvent | undefined {
    if (this.state === 'closed') return undefined;
    this.state = 'closed';
    this.discardMessage();
    return { type: 'closed', code: CloseCode.abnormal, reason: '', byPeer: true, clean: false };
  }

  /** Everything queued, as one buffer, or null when nothing is. */
  dataToSend(): Uint8Array | null {
    return this.output.take();
  }

  /** Everything queued, as the list of buffers (for a vectored write), or null. */
  dataToSendv(): Uint8Array[] | null {
    return this.output.takev();
  }

  private queueClose(code: number | undefined, reason: string): void {
    this.closeSent = true;
    this.queueFrame(Opcode.close, encodeClosePayload(code, reason), true, false);
    if (this.closeReceived) this.state = 'closed';
  }

  private queueFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv1: boolean): void {
    const maskKey = this.role === 'client' ? this.maskKey!() : undefined;
    const headerLength = frameHeaderLength(payload.byteLength, maskKey !== undefined);
    if (maskKey === undefined && payload.byteLength > 1024) {
      // Large server payloads go out as their own buffer after a small header: no copy.
      const header = new Uint8Array(headerLength);
      writeFrameHeader(header, 0, opcode, fin, rsv1, payload.byteLength, undefined);
      this.output.push(header);
      this.output.push(payload);
    } else {
      this.output.push(encodeFrame(opcode, payload, { fin, rsv1, ...(maskKey !== undefined ? { maskKey } : {}) }));
    }
  }
}

/** One unmasked server frame holding a whole message, to hand to many connections' sendEncoded(). */
export function encodeServerMessage(data: string | Uint8Array, options: { binary?: boolean; compressed?: boolean } = {}): Uint8Array {
  const payload = typeof data === 'string' ? encoder.encode(data) : data;
  const binary = options.binary ?? typeof data !== 'string';
  return encodeFrame(binary ? Opcode.binary : Opcode.text, payload, { rsv1: options.compressed ?? false });
}
