/**
 * H3Connection: the HTTP/3 connection layer (RFC 9114) over a QUIC transport, server or client role. Sans-IO: it
 * reads QUIC events (handleEvents) and calls the transport's stream methods; it owns no sockets, timers or crypto.
 *
 *   const h3 = new H3Connection(quic, { role: 'server' });
 *   for (const event of h3.handleEvents(quic.pollEvents())) { ... h3.sendHeaders(...); h3.sendData(...) }
 *
 * Streams (RFC 9114 §6): request streams are client-initiated bidirectional; each side opens one control stream
 * (SETTINGS first) and one QPACK encoder and decoder stream (RFC 9204 §4.2). Errors: a violation the RFC scopes to
 * one request is a stream error (RESET_STREAM + STOP_SENDING with the code); everything else closes the connection
 * with the code the RFC names (CONNECTION_CLOSE, application). Peer input never makes handleEvents() throw.
 */
import { H3Error, H3ErrorCode } from './errors.js';
import {
  FrameParser,
  FrameType,
  HTTP2_ONLY_FRAME_TYPES,
  SettingId,
  StreamType,
  decodeIdPayload,
  decodePriorityUpdatePayload,
  decodeSettingsPayload,
  encodeFrame,
  encodeFrameHeader,
  encodeIdFrame,
  encodePriorityUpdateFrame,
  encodeSettingsFrame,
} from './frames.js';
import {
  isValidFieldName,
  isValidFieldValue,
  validateRequest,
  validateResponse,
  validateTrailers,
  withoutConnectionSpecificFields,
} from './fields.js';
import { resolveH3Limits, type H3Limits } from './limits.js';
import { TokenBucket } from '../common/token-bucket.js';
import { QpackDecoder } from './qpack/decoder.js';
import type { FieldSectionResult } from './qpack/decoder.js';
import { QpackEncoder } from './qpack/encoder.js';
import { ENTRY_OVERHEAD } from './qpack/dynamic-table.js';
import { appendPending } from './qpack/primitives.js';
import { PeerStreamIds } from './stream-ids.js';
import { traceFrame } from './trace.js';
import { isClientBidirectional, isClientInitiated, isUnidirectional, type H3Transport, type TransportEvent } from './transport.js';
import type { FieldList, H3ConnectionOptions, H3Event, H3Settings, TracedH3Frame } from './types.js';
import { readVarint, varintResult, encodeVarint } from './varint.js';

const E = H3ErrorCode;
const EMPTY = new Uint8Array(0);

/** Where a message stands on its request stream (RFC 9114 §4.1: HEADERS, DATA*, trailing HEADERS?). */
const AWAITING_HEADERS = 0;
const IN_BODY = 1;
const AFTER_TRAILERS = 2;

/** A stream error: the stream is reset with `code`, the connection lives on. */
class StreamError extends H3Error {
  override name = 'StreamError';
}

interface RequestStream {
  readonly id: number;
  readonly parser: FrameParser;
  phase: number;
  /** Waiting for QPACK encoder-stream inserts (RFC 9204 §2.1.2): no further frame is read meanwhile. */
  blocked: boolean;
  blockedLength: number;
  finReceived: boolean;
  /** The peer's half is over: message complete, or the stream was reset/abandoned. */
  remoteEnded: boolean;
  /** Our half is over: FIN or RESET_STREAM sent. */
  localEnded: boolean;
  contentLength: number;
  receivedBody: number;
  /** CONNECT (RFC 9114 §4.4): after the headers only DATA may follow. */
  tunnel: boolean;
  /** Client: the request was HEAD, so the response has no body whatever its content-length (RFC 9110 §9.3.2). */
  head: boolean;
  /** Server: final response headers sent. Client: final response received. */
  finalDone: boolean;
  wantWritable: boolean;
}

interface UniStream {
  readonly id: number;
  /** Stream type (RFC 9114 §6.2), -1 until its varint has arrived. */
  type: number;
  typeBytes: Uint8Array;
  parser: FrameParser | null;
  ignored: boolean;
}

export class H3Connection {
  readonly role: 'server' | 'client';
  readonly limits: H3Limits;
  private ownSettings: Readonly<H3Settings>;
  /** The peer's SETTINGS, null until they arrive. */
  remoteSettings: Readonly<H3Settings> | null = null;

  private readonly transport: H3Transport;
  private readonly now: () => number;
  private onFrame: ((direction: 'in' | 'out', frame: TracedH3Frame) => void) | undefined;
  private readonly encoder: QpackEncoder;
  private readonly decoder: QpackDecoder;
  private events: H3Event[] = [];
  private started = false;
  private dead = false;

  private controlStreamId = -1;
  private encoderStreamId = -1;
  private decoderStreamId = -1;
  private readonly uniStreams = new Map<number, UniStream>();
  /** Peer unidirectional stream ids seen, including those skipped over by reordering. */
  private readonly peerUniIds: PeerStreamIds;
  private peerControlStream = -1;
  private peerEncoderStream = -1;
  private peerDecoderStream = -1;

  private readonly requests = new Map<number, RequestStream>();
  /** Server: the client's request stream ids seen, including those skipped over by reordering. */
  private readonly peerRequestIds: PeerStreamIds;
  /** Client: the highest request stream id we opened. */
  private highestOwnRequestStream = -1;

  /** Server: the GOAWAY stream id sent; client: the push id sent. Infinity until a GOAWAY is sent. */
  private goawaySentId = Infinity;
  /** The id of the last GOAWAY received (Infinity until one arrives). */
  private goawayReceivedId = Infinity;
  /** Server: the client's MAX_PUSH_ID (-1: none yet). Push is never used, but its ordering rules are checked. */
  private maxPushId = -1;

  private readonly controlFrameBudget: TokenBucket;
  private readonly encoderInstructionBudget: TokenBucket;
  private readonly rapidResetBudget: TokenBucket;
  private readonly streamErrorBudget: TokenBucket;
  private readonly emptyFrameBudget: TokenBucket;

  constructor(transport: H3Transport, options: H3ConnectionOptions) {
    this.transport = transport;
    this.role = options.role;
    this.limits = resolveH3Limits(options.limits);
    this.now = options.now ?? Date.now;
    this.onFrame = options.onFrame;
    const limits = this.limits;
    this.ownSettings = Object.freeze({
      qpackMaxTableCapacity: limits.qpackMaxTableCapacity,
      maxFieldSectionSize: limits.maxFieldSectionSize,
      qpackBlockedStreams: limits.qpackBlockedStreams,
      enableConnectProtocol: options.enableConnectProtocol ?? false,
      h3Datagram: options.h3Datagram ?? false,
    });
    this.peerRequestIds = new PeerStreamIds(0, limits.maxConcurrentRequestStreams);
    this.peerUniIds = new PeerStreamIds(this.role === 'server' ? 2 : 3, limits.maxUnidirectionalStreams);
    this.encoder = new QpackEncoder({ maxTableCapacity: limits.qpackMaxTableCapacity, useDynamicTable: options.qpackDynamicTable ?? true });
    this.decoder = new QpackDecoder({
      maxTableCapacity: limits.qpackMaxTableCapacity,
      maxBlockedStreams: limits.qpackBlockedStreams,
      maxFieldSectionSize: limits.maxFieldSectionSize,
    });
    const now = this.now();
    this.controlFrameBudget = new TokenBucket(limits.controlFrameBurst, limits.controlFrameRatePerSecond, now);
    this.encoderInstructionBudget = new TokenBucket(limits.encoderInstructionBurst, limits.encoderInstructionRatePerSecond, now);
    this.rapidResetBudget = new TokenBucket(limits.rapidResetBurst, limits.rapidResetRatePerSecond, now);
    this.streamErrorBudget = new TokenBucket(limits.streamErrorBurst, limits.streamErrorRatePerSecond, now);
    this.emptyFrameBudget = new TokenBucket(limits.emptyFrameBurst, limits.emptyFrameRatePerSecond, now);
  }

  // --- state -------------------------------------------------------------------------------------------------------

  /** The SETTINGS we send (RFC 9114 §7.2.4.1). */
  get localSettings(): Readonly<H3Settings> {
    return this.ownSettings;
  }

  /** Request streams not yet finished in both directions. */
  get openRequestCount(): number {
    return this.requests.size;
  }

  /** True once a GOAWAY was sent or received, or the connection ended. */
  get isClosing(): boolean {
    return this.dead || this.goawaySentId !== Infinity || this.goawayReceivedId !== Infinity;
  }

  /**
   * Closing and no request left (nor, on a server, a request stream below the GOAWAY id that QUIC opened implicitly
   * and whose data has not arrived yet): the driver may close the QUIC connection (close()).
   */
  get isDone(): boolean {
    const pending = this.role === 'server' ? this.peerRequestIds.pendingCount : 0;
    return this.dead || (this.isClosing && this.requests.size === 0 && pending === 0);
  }

  get isTerminated(): boolean {
    return this.dead;
  }

  /** QPACK state for observability and tests: our encoder's inserts and how many the peer acknowledged, our decoder's. */
  get qpackState(): { encoderInsertCount: number; encoderKnownReceivedCount: number; decoderInsertCount: number; blockedStreams: number } {
    return {
      encoderInsertCount: this.encoder.table.insertCount,
      encoderKnownReceivedCount: this.encoder.knownReceivedCount,
      decoderInsertCount: this.decoder.table.insertCount,
      blockedStreams: this.decoder.blockedStreamCount,
    };
  }

  /** Highest request stream id seen (server) or opened (client); -1 before the first. */
  get lastStreamId(): number {
    return this.role === 'server' ? this.peerRequestIds.highestSeen : this.highestOwnRequestStream;
  }

  // --- setup ---------------------------------------------------------------------------------------------------------

  /**
   * Opens our control stream with SETTINGS and our QPACK encoder and decoder streams (RFC 9114 §6.2.1, RFC 9204
   * §4.2). Called on 'handshakeComplete' (or by sendRequest); a server may call it earlier to send in 0.5-RTT.
   */
  start(): void {
    if (this.started || this.dead) return;
    this.started = true;
    this.controlStreamId = this.transport.openStream(true);
    this.encoderStreamId = this.transport.openStream(true);
    this.decoderStreamId = this.transport.openStream(true);
    const settings: Array<[number, number]> = [
      [SettingId.QPACK_MAX_TABLE_CAPACITY, this.localSettings.qpackMaxTableCapacity],
      [SettingId.QPACK_BLOCKED_STREAMS, this.localSettings.qpackBlockedStreams],
      [SettingId.MAX_FIELD_SECTION_SIZE, this.localSettings.maxFieldSectionSize],
    ];
    if (this.localSettings.enableConnectProtocol) settings.push([SettingId.ENABLE_CONNECT_PROTOCOL, 1]);
    if (this.localSettings.h3Datagram) settings.push([SettingId.H3_DATAGRAM, 1]);
    this.transport.sendStreamData(this.controlStreamId, encodeVarint(StreamType.CONTROL), false);
    this.sendControlFrame(encodeSettingsFrame(settings), FrameType.SETTINGS);
    this.transport.sendStreamData(this.encoderStreamId, encodeVarint(StreamType.QPACK_ENCODER), false);
    this.transport.sendStreamData(this.decoderStreamId, encodeVarint(StreamType.QPACK_DECODER), false);
  }

  /**
   * Server: advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3) and accept extended CONNECT, decided after
   * construction (e.g. once the server knows a WebSocket handler exists). Only before start(): SETTINGS go out once
   * (RFC 9114 §7.2.4) and the peer may not learn of it any later.
   */
  enableExtendedConnect(): void {
    if (this.started) throw new Error('enableExtendedConnect() after SETTINGS were sent');
    this.ownSettings = Object.freeze({ ...this.ownSettings, enableConnectProtocol: true });
  }

  /** Sets (or clears) the frame trace hook after construction, like options.onFrame (the CLI's --trace-frames). */
  traceFrames(onFrame: ((direction: 'in' | 'out', frame: TracedH3Frame) => void) | undefined): void {
    this.onFrame = onFrame;
  }

  // --- input ---------------------------------------------------------------------------------------------------------

  /** Feed QUIC events; returns the HTTP/3 events they produced. Never throws for peer input. */
  handleEvents(events: ReadonlyArray<TransportEvent | { type: string }>): H3Event[] {
    for (const event of events) {
      if (this.dead) break;
      try {
        this.handleEvent(event as TransportEvent);
      } catch (error) {
        if (error instanceof H3Error) this.connectionError(error.code, error.message);
        else this.connectionError(E.H3_INTERNAL_ERROR, `internal error: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.flushDecoderInstructions();
    return this.pollEvents();
  }

  /** Events produced outside handleEvents() (e.g. by a send call), in order. */
  pollEvents(): H3Event[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  private handleEvent(event: TransportEvent): void {
    switch (event.type) {
      case 'handshakeComplete':
        this.start();
        return;
      case 'streamOpened':
        return;
      case 'streamData':
        this.start();
        if (isUnidirectional(event.streamId)) this.onUniData(event.streamId, event.data, event.end);
        else this.onRequestStreamData(event.streamId, event.data, event.end);
        return;
      case 'streamReset':
        this.onPeerReset(event.streamId, event.code);
        return;
      case 'stopSending':
        this.onStopSending(event.streamId, event.code);
        return;
      case 'streamWritable': {
        const stream = this.requests.get(event.streamId);
        if (stream !== undefined && stream.wantWritable) {
          stream.wantWritable = false;
          this.events.push({ type: 'streamWritable', streamId: stream.id });
        }
        return;
      }
      case 'connectionTerminated':
        this.dead = true;
        this.requests.clear();
        this.events.push({ type: 'connectionTerminated', code: event.code, reason: event.reason, byPeer: event.byPeer });
        return;
      default:
        return; // other QUIC events are not HTTP/3's concern
    }
  }

  // --- request streams -------------------------------------------------------------------------------------------------

  private onRequestStreamData(streamId: number, data: Uint8Array, end: boolean): void {
    let stream = this.requests.get(streamId);
    if (stream === undefined) {
      if (this.role === 'client' || !isClientInitiated(streamId)) {
        // RFC 9114 §6.1: a client MUST treat a server-initiated bidirectional stream as H3_STREAM_CREATION_ERROR.
        if (!isClientInitiated(streamId)) throw new H3Error(E.H3_STREAM_CREATION_ERROR, `server-initiated bidirectional stream ${streamId} (RFC 9114 §6.1)`);
        this.transport.consume(streamId, data.length); // late data of a stream we finished
        return;
      }
      if (!this.peerRequestIds.isNew(streamId)) {
        this.transport.consume(streamId, data.length); // late data of a stream we finished or refused
        return;
      }
      // RFC 9114 §5.2: requests on ids at or above our GOAWAY were not processed; the client may retry them.
      // maxConcurrentRequestStreams: QUIC's MAX_STREAMS should already stop these (limits.ts).
      if (streamId >= this.goawaySentId || this.requests.size >= this.limits.maxConcurrentRequestStreams) {
        this.transport.consume(streamId, data.length);
        this.transport.resetStream(streamId, E.H3_REQUEST_REJECTED);
        if (!end) this.transport.stopSending(streamId, E.H3_REQUEST_REJECTED);
        return;
      }
      stream = this.newRequestStream(streamId);
    }
    if (stream.remoteEnded) {
      this.transport.consume(streamId, data.length);
      return;
    }
    stream.parser.append(data);
    if (end) stream.finReceived = true;
    this.processRequestStream(stream);
  }

  private newRequestStream(id: number): RequestStream {
    const stream: RequestStream = {
      id,
      parser: new FrameParser(this.limits.maxBufferedFrameBytes),
      phase: AWAITING_HEADERS,
      blocked: false,
      blockedLength: 0,
      finReceived: false,
      remoteEnded: false,
      localEnded: false,
      contentLength: -1,
      receivedBody: 0,
      tunnel: false,
      head: false,
      finalDone: false,
      wantWritable: false,
    };
    this.requests.set(id, stream);
    return stream;
  }

  /** Reads every complete frame of the stream (until it blocks on QPACK), then handles a FIN. */
  private processRequestStream(stream: RequestStream): void {
    try {
      for (;;) {
        if (stream.blocked || stream.remoteEnded) break;
        const item = stream.parser.next();
        if (item === null) break;
        if (item.kind === 'header') {
          this.checkRequestFrame(stream, item.type);
          const progress = item.type === FrameType.HEADERS || (item.type === FrameType.DATA && item.length > 0);
          if (!progress && !this.emptyFrameBudget.take(this.now())) throw new H3Error(E.H3_EXCESSIVE_LOAD, 'empty or unknown frame flood');
          if (item.type === FrameType.DATA || !isKnownRequestFrame(item.type)) this.trace('in', item.type, stream.id, item.length, null);
        } else if (item.kind === 'payload') {
          if (item.type === FrameType.DATA) this.onBody(stream, item.chunk, item.end);
        } else {
          // Only HEADERS reaches here: checkRequestFrame rejected every other buffered type.
          this.onFieldSection(stream, item.payload);
        }
      }
      this.returnOverhead(stream.id, stream.parser);
      // Every complete frame was read above, so whatever is still buffered at FIN is a truncated frame (onRequestFin).
      if (stream.finReceived && !stream.blocked && !stream.remoteEnded) this.onRequestFin(stream);
    } catch (error) {
      if (!(error instanceof StreamError)) throw error;
      this.streamError(stream, error.code);
    }
  }

  /** RFC 9114 §4.1, §7.2: which frame may come next on a request stream. Violations end the connection. */
  private checkRequestFrame(stream: RequestStream, type: number): void {
    if (HTTP2_ONLY_FRAME_TYPES.has(type)) throw new H3Error(E.H3_FRAME_UNEXPECTED, `HTTP/2 frame type 0x${type.toString(16)} (RFC 9114 §7.2.8)`);
    switch (type) {
      case FrameType.HEADERS:
        if (stream.phase === AFTER_TRAILERS) throw new H3Error(E.H3_FRAME_UNEXPECTED, 'HEADERS after trailers (RFC 9114 §4.1)');
        // RFC 9114 §4.4: once CONNECT is established, only DATA is permitted.
        if (stream.phase === IN_BODY && stream.tunnel) throw new H3Error(E.H3_FRAME_UNEXPECTED, 'HEADERS on a CONNECT tunnel (RFC 9114 §4.4)');
        return;
      case FrameType.DATA:
        if (stream.phase !== IN_BODY) throw new H3Error(E.H3_FRAME_UNEXPECTED, 'DATA outside the message body (RFC 9114 §4.1)');
        return;
      case FrameType.PUSH_PROMISE:
        // RFC 9114 §7.2.5: a client MUST NOT send PUSH_PROMISE; we never send MAX_PUSH_ID, so any push ID exceeds it.
        if (this.role === 'server') throw new H3Error(E.H3_FRAME_UNEXPECTED, 'PUSH_PROMISE from a client (RFC 9114 §7.2.5)');
        throw new H3Error(E.H3_ID_ERROR, 'PUSH_PROMISE without MAX_PUSH_ID (RFC 9114 §4.6)');
      case FrameType.CANCEL_PUSH:
      case FrameType.SETTINGS:
      case FrameType.GOAWAY:
      case FrameType.MAX_PUSH_ID:
      case FrameType.PRIORITY_UPDATE_REQUEST:
      case FrameType.PRIORITY_UPDATE_PUSH:
        // RFC 9114 §7.2.3, §7.2.4, §7.2.6, §7.2.7; RFC 9218 §7.2: control-stream frames only.
        throw new H3Error(E.H3_FRAME_UNEXPECTED, `control frame 0x${type.toString(16)} on request stream ${stream.id} (RFC 9114 §7.2)`);
      default:
        return; // RFC 9114 §9: unknown frame types are ignored
    }
  }

  private onFieldSection(stream: RequestStream, payload: Uint8Array): void {
    const result = this.decoder.decodeFieldSection(stream.id, payload);
    if (result.status === 'blocked') {
      stream.blocked = true;
      stream.blockedLength = payload.length;
      return;
    }
    this.onDecodedSection(stream, result, payload.length);
  }

  private onDecodedSection(stream: RequestStream, result: Exclude<FieldSectionResult, { status: 'blocked' }>, length: number): void {
    const fields = result.status === 'done' ? result.fields : undefined;
    this.trace('in', FrameType.HEADERS, stream.id, length, null, fields);
    if (fields === undefined) {
      // RFC 9114 §4.2.2: a field section above our SETTINGS_MAX_FIELD_SECTION_SIZE. A request gets 431 from the engine.
      if (this.role === 'server' && stream.phase === AWAITING_HEADERS) return this.answerTooLarge(stream);
      throw new StreamError(E.H3_EXCESSIVE_LOAD, 'field section above SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2)');
    }
    if (stream.phase === IN_BODY) return this.onTrailers(stream, fields);
    const endStream = stream.finReceived && stream.parser.bufferedBytes === 0;
    if (this.role === 'server') {
      const request = validateRequest(fields, this.localSettings.enableConnectProtocol);
      // RFC 9114 §4.1.2: a malformed request is a stream error of type H3_MESSAGE_ERROR.
      if (typeof request === 'string') throw new StreamError(E.H3_MESSAGE_ERROR, request);
      if (endStream && request.contentLength > 0) throw new StreamError(E.H3_MESSAGE_ERROR, 'content-length with no body (RFC 9114 §4.1.2)');
      stream.phase = IN_BODY;
      stream.contentLength = request.contentLength;
      stream.tunnel = request.pseudo.method === 'CONNECT';
      this.events.push({ type: 'request', streamId: stream.id, pseudo: request.pseudo, headers: request.headers, endStream, contentLength: request.contentLength });
      return;
    }
    const response = validateResponse(fields);
    if (typeof response === 'string') throw new StreamError(E.H3_MESSAGE_ERROR, response);
    if (response.status < 200) {
      // RFC 9114 §4.1: informational responses precede the final one; 101 does not exist in HTTP/3 (§4.5 of RFC 9114's
      // HTTP/2-to-HTTP/3 notes: no Upgrade).
      if (response.status === 101) throw new StreamError(E.H3_MESSAGE_ERROR, '101 Switching Protocols in HTTP/3 (RFC 9114 §4.5)');
      this.events.push({ type: 'informational', streamId: stream.id, status: response.status, headers: response.headers });
      return;
    }
    stream.phase = IN_BODY;
    stream.finalDone = true;
    // RFC 9110 §8.6: content-length of a HEAD, 204 or 304 response describes no body on this stream.
    const bodyless = stream.head || response.status === 204 || response.status === 304;
    stream.contentLength = bodyless ? -1 : response.contentLength;
    this.events.push({ type: 'response', streamId: stream.id, status: response.status, headers: response.headers, endStream, contentLength: response.contentLength });
  }

  private onTrailers(stream: RequestStream, fields: FieldList): void {
    const problem = validateTrailers(fields);
    if (problem !== null) throw new StreamError(E.H3_MESSAGE_ERROR, problem);
    stream.phase = AFTER_TRAILERS;
    this.checkContentLength(stream);
    this.events.push({ type: 'trailers', streamId: stream.id, headers: fields });
  }

  /** RFC 9114 §4.1.2: a content-length that does not match the DATA received makes the message malformed. */
  private checkContentLength(stream: RequestStream): void {
    if (stream.contentLength >= 0 && stream.receivedBody !== stream.contentLength) {
      throw new StreamError(E.H3_MESSAGE_ERROR, `content-length ${stream.contentLength} but ${stream.receivedBody} bytes of DATA (RFC 9114 §4.1.2)`);
    }
  }

  private onBody(stream: RequestStream, chunk: Uint8Array, frameEnd: boolean): void {
    stream.receivedBody += chunk.length;
    if (stream.contentLength >= 0 && stream.receivedBody > stream.contentLength) {
      throw new StreamError(E.H3_MESSAGE_ERROR, `more DATA than content-length ${stream.contentLength} (RFC 9114 §4.1.2)`);
    }
    const endStream = frameEnd && stream.finReceived && stream.parser.bufferedBytes === 0;
    if (chunk.length > 0 || endStream) this.events.push({ type: 'data', streamId: stream.id, data: chunk, endStream });
  }

  private onRequestFin(stream: RequestStream): void {
    // RFC 9114 §7.1: a stream ending inside a frame is H3_FRAME_ERROR (a connection error).
    if (stream.parser.inFrame) throw new H3Error(E.H3_FRAME_ERROR, `stream ${stream.id} ended inside a frame (RFC 9114 §7.1)`);
    if (stream.phase === AWAITING_HEADERS) {
      // RFC 9114 §4.1.2 / §8.1: the stream ended before a complete request (or final response).
      throw new StreamError(this.role === 'server' ? E.H3_REQUEST_INCOMPLETE : E.H3_MESSAGE_ERROR, 'stream ended before the header section');
    }
    if (stream.phase === IN_BODY) this.checkContentLength(stream);
    stream.remoteEnded = true;
    this.events.push({ type: 'streamEnded', streamId: stream.id });
    this.releaseIfDone(stream);
  }

  /** 431 from the engine itself (the application never sees the request), and the request body is not wanted. */
  private answerTooLarge(stream: RequestStream): void {
    stream.remoteEnded = true;
    stream.finalDone = true;
    if (!stream.finReceived) this.transport.stopSending(stream.id, E.H3_NO_ERROR); // RFC 9114 §4.1.1
    this.transport.consume(stream.id, stream.parser.bufferedBytes);
    try {
      this.writeFieldSection(stream, [':status', '431', 'content-length', '0'], true);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      this.abandon(stream, E.H3_EXCESSIVE_LOAD); // the peer's own limit is too small even for a 431
    }
  }

  /** RESET_STREAM + STOP_SENDING with `code` (RFC 9114 §8: a stream error), and QPACK Stream Cancellation. */
  private streamError(stream: RequestStream, code: number): void {
    // MadeYouReset (CVE-2025-8671): malformed requests make the server reset streams itself, with the same effect
    // as Rapid Reset; past the budget the peer is treated as abusive.
    if (!this.streamErrorBudget.take(this.now())) {
      throw new H3Error(E.H3_EXCESSIVE_LOAD, 'too many malformed requests (stream errors)');
    }
    this.abandon(stream, code);
    this.events.push({ type: 'streamReset', streamId: stream.id, code, byPeer: false });
  }

  private abandon(stream: RequestStream, code: number): void {
    if (!stream.localEnded) this.transport.resetStream(stream.id, code);
    if (!stream.remoteEnded) {
      this.transport.stopSending(stream.id, code);
      // RFC 9204 §4.4.2: reading abandoned; the encoder may release what our unread sections referenced.
      this.decoder.cancelStream(stream.id);
      // Bytes still in the parser were never returned to flow control (a blocked section's bytes already were).
      if (stream.parser.bufferedBytes > 0) this.transport.consume(stream.id, stream.parser.bufferedBytes);
    }
    stream.localEnded = true;
    stream.remoteEnded = true;
    stream.blocked = false;
    this.requests.delete(stream.id);
  }

  private releaseIfDone(stream: RequestStream): void {
    if (stream.localEnded && stream.remoteEnded) this.requests.delete(stream.id);
  }

  private onPeerReset(streamId: number, code: number): void {
    if (this.isCriticalStream(streamId)) {
      throw new H3Error(E.H3_CLOSED_CRITICAL_STREAM, `critical stream ${streamId} reset (RFC 9114 §6.2.1, RFC 9204 §4.2)`);
    }
    if (isUnidirectional(streamId)) {
      this.uniStreams.delete(streamId);
      return;
    }
    const stream = this.requests.get(streamId);
    if (stream === undefined) {
      if (this.role === 'server' && isClientInitiated(streamId) && this.peerRequestIds.isNew(streamId)) {
        // A request stream reset before any of its bytes arrived: the request is cancelled (RFC 9114 §4.1.1), so our
        // half is reset too (RFC 9000 §3.2: otherwise the stream never closes and holds a MAX_STREAMS slot for good).
        // It costs the peer even less than Rapid Reset, and counts against the same budget.
        if (!this.rapidResetBudget.take(this.now())) {
          throw new H3Error(E.H3_EXCESSIVE_LOAD, 'too many requests reset before their response (Rapid Reset)');
        }
        this.transport.resetStream(streamId, E.H3_REQUEST_CANCELLED);
      }
      return;
    }
    // Rapid Reset (CVE-2023-44487): requests cancelled before we answered cost work for nothing. (A STOP_SENDING
    // that came first already counted: our half ended then.)
    if (this.role === 'server' && !stream.finalDone && !stream.localEnded && !this.rapidResetBudget.take(this.now())) {
      throw new H3Error(E.H3_EXCESSIVE_LOAD, 'too many requests reset before their response (Rapid Reset)');
    }
    // The peer's half ended with the reset: QPACK sections still unread are cancelled (RFC 9204 §4.4.2), but no
    // STOP_SENDING is needed. RFC 9114 §4.1.1: the request is cancelled, so our response is abandoned too.
    if (!stream.remoteEnded) {
      this.decoder.cancelStream(streamId);
      stream.remoteEnded = true;
    }
    this.abandon(stream, E.H3_REQUEST_CANCELLED);
    this.events.push({ type: 'streamReset', streamId, code, byPeer: true });
  }

  private onStopSending(streamId: number, code: number): void {
    if (streamId === this.controlStreamId || streamId === this.encoderStreamId || streamId === this.decoderStreamId) {
      // RFC 9114 §6.2.1, RFC 9204 §4.2: the receiver MUST NOT ask to close a critical stream.
      throw new H3Error(E.H3_CLOSED_CRITICAL_STREAM, `STOP_SENDING on our critical stream ${streamId} (RFC 9114 §6.2.1)`);
    }
    const stream = this.requests.get(streamId);
    if (stream === undefined || stream.localEnded) return;
    // Rapid Reset in its HTTP/3 form: a request already complete (FIN received) can no longer be reset (RFC 9000
    // §3.2: RESET_STREAM in "Data Recvd" may be ignored), so a client cancels it with STOP_SENDING. Before our final
    // response that is the same work-for-nothing as CVE-2023-44487, and counts against the same budget.
    if (this.role === 'server' && !stream.finalDone && !this.rapidResetBudget.take(this.now())) {
      throw new H3Error(E.H3_EXCESSIVE_LOAD, 'too many requests cancelled before their response (Rapid Reset, STOP_SENDING)');
    }
    // RFC 9000 §3.5: answer STOP_SENDING with RESET_STREAM; the response is no longer wanted.
    this.transport.resetStream(streamId, code);
    stream.localEnded = true;
    this.events.push({ type: 'streamReset', streamId, code, byPeer: true });
    this.releaseIfDone(stream);
  }

  // --- unidirectional streams ------------------------------------------------------------------------------------------

  private isCriticalStream(streamId: number): boolean {
    return streamId === this.peerControlStream || streamId === this.peerEncoderStream || streamId === this.peerDecoderStream;
  }

  private onUniData(streamId: number, data: Uint8Array, end: boolean): void {
    // RFC 9000 §2.1: our own unidirectional streams never receive data; peer-initiated ones have the peer's parity.
    const peerInitiated = isClientInitiated(streamId) === (this.role === 'server');
    if (!peerInitiated) throw new H3Error(E.H3_STREAM_CREATION_ERROR, `data on our unidirectional stream ${streamId}`);
    let stream = this.uniStreams.get(streamId);
    if (stream === undefined) {
      if (!this.peerUniIds.isNew(streamId)) {
        this.transport.consume(streamId, data.length); // a stream we already stopped reading
        return;
      }
      if (this.uniStreams.size >= this.limits.maxUnidirectionalStreams) {
        throw new H3Error(E.H3_EXCESSIVE_LOAD, `more than ${this.limits.maxUnidirectionalStreams} unidirectional streams`);
      }
      stream = { id: streamId, type: -1, typeBytes: EMPTY, parser: null, ignored: false };
      this.uniStreams.set(streamId, stream);
    }
    let bytes = data;
    if (stream.type < 0) {
      const header = appendPending(stream.typeBytes.length === 0 ? null : stream.typeBytes, data);
      readVarint(header, 0, header.length);
      if (varintResult.next < 0) {
        stream.typeBytes = header.slice();
        if (end) this.uniStreams.delete(streamId); // ended before saying what it is: nothing to do
        this.transport.consume(streamId, data.length);
        return;
      }
      this.transport.consume(streamId, varintResult.next - stream.typeBytes.length);
      bytes = header.subarray(varintResult.next);
      this.assignUniType(stream, varintResult.value);
    }
    this.onUniPayload(stream, bytes);
    if (end && !this.dead) {
      if (this.isCriticalStream(streamId)) {
        throw new H3Error(E.H3_CLOSED_CRITICAL_STREAM, `critical stream ${streamId} closed (RFC 9114 §6.2.1, RFC 9204 §4.2)`);
      }
      this.uniStreams.delete(streamId);
    }
  }

  /** RFC 9114 §6.2: what a new unidirectional stream is. */
  private assignUniType(stream: UniStream, type: number): void {
    stream.type = type;
    switch (type) {
      case StreamType.CONTROL:
        // RFC 9114 §6.2.1: only one control stream per peer.
        if (this.peerControlStream >= 0) throw new H3Error(E.H3_STREAM_CREATION_ERROR, 'second control stream (RFC 9114 §6.2.1)');
        this.peerControlStream = stream.id;
        stream.parser = new FrameParser(this.limits.maxBufferedFrameBytes);
        return;
      case StreamType.QPACK_ENCODER:
        // RFC 9204 §4.2: a second encoder or decoder stream is H3_STREAM_CREATION_ERROR.
        if (this.peerEncoderStream >= 0) throw new H3Error(E.H3_STREAM_CREATION_ERROR, 'second QPACK encoder stream (RFC 9204 §4.2)');
        this.peerEncoderStream = stream.id;
        return;
      case StreamType.QPACK_DECODER:
        if (this.peerDecoderStream >= 0) throw new H3Error(E.H3_STREAM_CREATION_ERROR, 'second QPACK decoder stream (RFC 9204 §4.2)');
        this.peerDecoderStream = stream.id;
        return;
      case StreamType.PUSH:
        // RFC 9114 §6.2.2: only servers push; and a client never allowed any push (no MAX_PUSH_ID sent).
        if (this.role === 'server') throw new H3Error(E.H3_STREAM_CREATION_ERROR, 'push stream from a client (RFC 9114 §6.2.2)');
        throw new H3Error(E.H3_ID_ERROR, 'push stream without MAX_PUSH_ID (RFC 9114 §4.6)');
      default:
        // RFC 9114 §6.2: unknown and reserved types: abort reading with H3_STREAM_CREATION_ERROR, ignore the data.
        stream.ignored = true;
        this.transport.stopSending(stream.id, E.H3_STREAM_CREATION_ERROR);
    }
  }

  private onUniPayload(stream: UniStream, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    switch (stream.type) {
      case StreamType.CONTROL:
        stream.parser!.append(bytes);
        this.processControlStream(stream);
        return;
      case StreamType.QPACK_ENCODER: {
        const before = this.decoder.instructionCount;
        const unblocked = this.decoder.receiveEncoderStream(bytes);
        this.transport.consume(stream.id, bytes.length);
        if (!this.encoderInstructionBudget.take(this.now(), this.decoder.instructionCount - before)) {
          throw new H3Error(E.H3_EXCESSIVE_LOAD, 'QPACK encoder instruction flood');
        }
        for (const { streamId, result } of unblocked) {
          const request = this.requests.get(streamId);
          if (request === undefined || !request.blocked) continue;
          request.blocked = false;
          try {
            if (result.status !== 'blocked') this.onDecodedSection(request, result, request.blockedLength);
          } catch (error) {
            if (!(error instanceof StreamError)) throw error;
            this.streamError(request, error.code);
            continue;
          }
          this.processRequestStream(request);
        }
        return;
      }
      case StreamType.QPACK_DECODER:
        this.encoder.receiveDecoderStream(bytes);
        this.transport.consume(stream.id, bytes.length);
        return;
      default:
        this.transport.consume(stream.id, bytes.length);
    }
  }

  // --- control stream --------------------------------------------------------------------------------------------------

  private processControlStream(stream: UniStream): void {
    const parser = stream.parser!;
    for (;;) {
      const item = parser.next();
      if (item === null) break;
      if (item.kind === 'header') {
        this.checkControlFrame(item.type);
        if (!isKnownControlFrame(item.type)) this.trace('in', item.type, stream.id, item.length, null);
      } else if (item.kind === 'frame') {
        this.trace('in', item.type, stream.id, item.payload.length, item.payload);
        this.onControlFrame(item.type, item.payload);
      }
    }
    this.returnOverhead(stream.id, parser);
  }

  /** RFC 9114 §6.2.1, §7.2: SETTINGS first; no DATA, HEADERS, PUSH_PROMISE or HTTP/2 types; rate-limited. */
  private checkControlFrame(type: number): void {
    if (this.remoteSettings === null && type !== FrameType.SETTINGS) {
      throw new H3Error(E.H3_MISSING_SETTINGS, `first control frame is 0x${type.toString(16)}, not SETTINGS (RFC 9114 §6.2.1)`);
    }
    if (type === FrameType.DATA || type === FrameType.HEADERS || type === FrameType.PUSH_PROMISE || HTTP2_ONLY_FRAME_TYPES.has(type)) {
      throw new H3Error(E.H3_FRAME_UNEXPECTED, `frame type 0x${type.toString(16)} on the control stream (RFC 9114 §7.2)`);
    }
    if (this.remoteSettings !== null && !this.controlFrameBudget.take(this.now())) {
      throw new H3Error(E.H3_EXCESSIVE_LOAD, 'control frame flood');
    }
  }

  private onControlFrame(type: number, payload: Uint8Array): void {
    switch (type) {
      case FrameType.SETTINGS:
        // RFC 9114 §7.2.4: SETTINGS exactly once, as the first frame.
        if (this.remoteSettings !== null) throw new H3Error(E.H3_FRAME_UNEXPECTED, 'second SETTINGS frame (RFC 9114 §7.2.4)');
        return this.applySettings(decodeSettingsPayload(payload));
      case FrameType.GOAWAY:
        return this.onGoaway(decodeIdPayload(payload, 'GOAWAY'));
      case FrameType.MAX_PUSH_ID: {
        // RFC 9114 §7.2.7: only clients send MAX_PUSH_ID, and it never decreases.
        if (this.role === 'client') throw new H3Error(E.H3_FRAME_UNEXPECTED, 'MAX_PUSH_ID from a server (RFC 9114 §7.2.7)');
        const id = decodeIdPayload(payload, 'MAX_PUSH_ID');
        if (id < this.maxPushId) throw new H3Error(E.H3_ID_ERROR, 'MAX_PUSH_ID decreased (RFC 9114 §7.2.7)');
        this.maxPushId = id;
        return;
      }
      case FrameType.CANCEL_PUSH:
        decodeIdPayload(payload, 'CANCEL_PUSH');
        // RFC 9114 §7.2.3: a server never promised this push (we never push); a client never allowed any push ID.
        throw new H3Error(E.H3_ID_ERROR, 'CANCEL_PUSH for a push ID never promised or allowed (RFC 9114 §7.2.3)');
      case FrameType.PRIORITY_UPDATE_REQUEST:
      case FrameType.PRIORITY_UPDATE_PUSH: {
        // RFC 9218 §7.2: only clients send PRIORITY_UPDATE.
        if (this.role === 'client') throw new H3Error(E.H3_FRAME_UNEXPECTED, 'PRIORITY_UPDATE from a server (RFC 9218 §7.2)');
        const update = decodePriorityUpdatePayload(payload);
        if (type === FrameType.PRIORITY_UPDATE_PUSH) throw new H3Error(E.H3_ID_ERROR, 'PRIORITY_UPDATE for a push never promised (RFC 9218 §7.2)');
        if (!isClientBidirectional(update.elementId)) {
          throw new H3Error(E.H3_ID_ERROR, `PRIORITY_UPDATE for ${update.elementId}, not a request stream (RFC 9218 §7.2)`);
        }
        this.events.push({ type: 'priorityUpdate', streamId: update.elementId, value: update.value });
        return;
      }
      default:
        return; // unknown and reserved types are ignored (RFC 9114 §9)
    }
  }

  private applySettings(entries: Array<[number, number]>): void {
    const settings: H3Settings = {
      qpackMaxTableCapacity: 0,
      maxFieldSectionSize: Infinity,
      qpackBlockedStreams: 0,
      enableConnectProtocol: false,
      h3Datagram: false,
    };
    for (const [id, value] of entries) {
      switch (id) {
        case SettingId.QPACK_MAX_TABLE_CAPACITY:
          settings.qpackMaxTableCapacity = value;
          break;
        case SettingId.MAX_FIELD_SECTION_SIZE:
          settings.maxFieldSectionSize = value;
          break;
        case SettingId.QPACK_BLOCKED_STREAMS:
          settings.qpackBlockedStreams = value;
          break;
        case SettingId.ENABLE_CONNECT_PROTOCOL:
        case SettingId.H3_DATAGRAM:
          // RFC 9220 §5 (via RFC 8441 §3), RFC 9297 §2.1.1: the value is 0 or 1.
          if (value > 1) throw new H3Error(E.H3_SETTINGS_ERROR, `setting 0x${id.toString(16)} must be 0 or 1, got ${value}`);
          if (id === SettingId.ENABLE_CONNECT_PROTOCOL) settings.enableConnectProtocol = value === 1;
          else settings.h3Datagram = value === 1;
          break;
        default:
          break; // RFC 9114 §7.2.4: unknown identifiers MUST be ignored
      }
    }
    this.remoteSettings = Object.freeze(settings);
    this.encoder.applyPeerSettings(settings.qpackMaxTableCapacity, settings.qpackBlockedStreams);
    this.events.push({ type: 'settings', settings });
  }

  private onGoaway(id: number): void {
    // RFC 9114 §5.2: a server's GOAWAY carries a client-initiated bidirectional stream id; ids never increase.
    if (this.role === 'client' && !isClientBidirectional(id)) {
      throw new H3Error(E.H3_ID_ERROR, `GOAWAY id ${id} is not a client-initiated bidirectional stream (RFC 9114 §5.2)`);
    }
    if (id > this.goawayReceivedId) throw new H3Error(E.H3_ID_ERROR, `GOAWAY id increased from ${this.goawayReceivedId} to ${id} (RFC 9114 §5.2)`);
    this.goawayReceivedId = id;
    this.events.push({ type: 'goaway', id });
  }

  // --- output ----------------------------------------------------------------------------------------------------------

  private sendable(streamId: number): RequestStream | undefined {
    if (this.dead) return undefined;
    const stream = this.requests.get(streamId);
    return stream === undefined || stream.localEnded ? undefined : stream;
  }

  /** Client: opens a request stream and sends its header section. Returns the stream id. */
  sendRequest(fields: FieldList, endStream: boolean): number {
    if (this.role !== 'client') throw new Error('sendRequest() is for the client role');
    if (this.dead) throw new Error('the connection is closed');
    // RFC 9114 §5.2: after GOAWAY, no new requests on this connection.
    if (this.goawayReceivedId !== Infinity) throw new Error('the server sent GOAWAY: open a new connection');
    const request = validateRequest(fields, this.remoteSettings?.enableConnectProtocol ?? false);
    if (typeof request === 'string') throw new RangeError(`invalid request: ${request}`);
    this.checkOutgoingFields(fields);
    this.start();
    const streamId = this.transport.openStream(false);
    const stream = this.newRequestStream(streamId);
    this.highestOwnRequestStream = streamId;
    stream.tunnel = request.pseudo.method === 'CONNECT';
    stream.head = request.pseudo.method === 'HEAD';
    this.writeFieldSection(stream, withoutConnectionSpecificFields(fields), endStream);
    return streamId;
  }

  /** Server: the final response's header section (':status' first). */
  sendHeaders(streamId: number, fields: FieldList, endStream: boolean): void {
    const stream = this.sendable(streamId);
    if (stream === undefined) return;
    if (this.role === 'client') throw new Error('sendHeaders() is for the server role; use sendRequest()');
    // RFC 9114 §4.1: one final response, after any 1xx. Checked before encoding so misuse never reaches the wire.
    if (stream.finalDone) throw new Error(`stream ${streamId}: the final response headers were already sent`);
    if (fields[0] !== ':status' || !/^[2-9][0-9][0-9]$/.test(fields[1] ?? '')) {
      throw new RangeError(`stream ${streamId}: response headers must start with ':status' and a final (200-999) status`);
    }
    this.writeFieldSection(stream, withoutConnectionSpecificFields(fields), endStream);
    stream.finalDone = true;
  }

  /** Server: a 1xx response such as 103 Early Hints (never 101: RFC 9114 §4.5 has no Upgrade). */
  sendInformational(streamId: number, status: number, fields: FieldList = []): void {
    if (!Number.isInteger(status) || status < 100 || status > 199 || status === 101) {
      throw new RangeError(`informational status must be 1xx other than 101, got ${status}`);
    }
    const stream = this.sendable(streamId);
    if (stream === undefined) return;
    if (stream.finalDone) throw new Error(`stream ${streamId}: informational response after the final response`);
    this.writeFieldSection(stream, [':status', String(status), ...withoutConnectionSpecificFields(fields)], false);
  }

  /**
   * Body bytes in one DATA frame (the transport keeps a reference to `data`: do not modify it afterwards). Returns
   * false when the stream is above its high-water mark: wait for 'streamWritable'.
   */
  sendData(streamId: number, data: Uint8Array, endStream: boolean): boolean {
    const stream = this.sendable(streamId);
    if (stream === undefined) return true;
    if (this.role === 'server' && !stream.finalDone) throw new Error(`stream ${streamId}: sendData() before sendHeaders()`);
    let writable = true;
    if (data.length > 0) {
      this.trace('out', FrameType.DATA, streamId, data.length, null);
      this.transport.sendStreamData(streamId, encodeFrameHeader(FrameType.DATA, data.length), false);
      writable = this.transport.sendStreamData(streamId, data, endStream);
    } else if (endStream) {
      writable = this.transport.sendStreamData(streamId, EMPTY, true);
    }
    if (endStream) this.localEnd(stream);
    else if (!writable) stream.wantWritable = true;
    return writable;
  }

  /** Trailing header section; ends the stream. */
  sendTrailers(streamId: number, fields: FieldList): void {
    const stream = this.sendable(streamId);
    if (stream === undefined) return;
    if (this.role === 'server' && !stream.finalDone) throw new Error(`stream ${streamId}: sendTrailers() before sendHeaders()`);
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i]!.charCodeAt(0) === 0x3a) throw new RangeError(`stream ${streamId}: pseudo-header ${fields[i]} in trailers`);
    }
    this.writeFieldSection(stream, withoutConnectionSpecificFields(fields), true);
  }

  /** Client: RFC 9218 §7.2 PRIORITY_UPDATE for a request stream, e.g. value "u=1, i" (printable ASCII). */
  sendPriorityUpdate(streamId: number, value: string): void {
    if (this.role !== 'client') throw new Error('only clients send PRIORITY_UPDATE (RFC 9218 §7.2)');
    if (!isClientBidirectional(streamId)) throw new RangeError(`stream ${streamId} is not a request stream`);
    if (!/^[\x20-\x7e]*$/.test(value)) throw new RangeError('a Priority Field Value is printable ASCII (RFC 9218 §7.2)');
    if (this.dead) return;
    this.start();
    this.sendControlFrame(encodePriorityUpdateFrame(FrameType.PRIORITY_UPDATE_REQUEST, streamId, value), FrameType.PRIORITY_UPDATE_REQUEST);
  }

  /** Cancels a stream in both directions with `code` (e.g. H3_REQUEST_CANCELLED, RFC 9114 §4.1.1). */
  resetStream(streamId: number, code: number = E.H3_REQUEST_CANCELLED): void {
    if (this.dead) return;
    const stream = this.requests.get(streamId);
    if (stream !== undefined) this.abandon(stream, code);
  }

  /** The application used `bytes` of a stream's received DATA: return them to QUIC flow control. */
  consume(streamId: number, bytes: number): void {
    if (!this.dead && bytes > 0) this.transport.consume(streamId, bytes);
  }

  /**
   * Graceful shutdown (RFC 9114 §5.2). Server: GOAWAY with the first request stream id not yet seen; requests below
   * it finish, later ones are rejected with H3_REQUEST_REJECTED. Client: GOAWAY with push id 0 (we allow no push).
   * isDone turns true once the last request ends; then call close().
   */
  shutdown(): void {
    if (this.dead) return;
    this.start();
    // Server: the first client bidirectional id not yet seen (0 when none was); client: push id 0.
    const highest = this.peerRequestIds.highestSeen;
    const id = this.role === 'server' && highest >= 0 ? highest + 4 : 0;
    // RFC 9114 §5.2: a later GOAWAY MUST NOT carry a larger id.
    if (id >= this.goawaySentId) return;
    this.goawaySentId = id;
    this.sendControlFrame(encodeIdFrame(FrameType.GOAWAY, id), FrameType.GOAWAY);
  }

  /** Closes the connection now (CONNECTION_CLOSE with an application code; H3_NO_ERROR for a normal close). */
  close(code: number = E.H3_NO_ERROR, reason = ''): void {
    if (this.dead) return;
    this.dead = true;
    this.requests.clear();
    this.transport.close(code, reason, true);
    this.events.push({ type: 'connectionTerminated', code, reason, byPeer: false });
  }

  private connectionError(code: number, reason: string): void {
    this.close(code, reason);
  }

  private localEnd(stream: RequestStream): void {
    stream.localEnded = true;
    this.releaseIfDone(stream);
  }

  /**
   * RFC 9114 §4.2.2: an endpoint SHOULD NOT send a section larger than the peer's SETTINGS_MAX_FIELD_SECTION_SIZE.
   * RFC 9114 §4.2: what we send must be well-formed (the peer would reset the stream otherwise): lowercase token
   * names, pseudo-headers only first, values without CR, LF, NUL or surrounding whitespace.
   */
  private checkOutgoingFields(fields: readonly string[]): void {
    if (fields.length % 2 !== 0) throw new RangeError('a field list has an even number of entries: [name, value, ...]');
    const limit = this.remoteSettings?.maxFieldSectionSize ?? Infinity;
    let size = 0;
    let regular = false;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      const pseudo = name.charCodeAt(0) === 0x3a && !regular;
      if (!pseudo) regular = true;
      if (!isValidFieldName(pseudo ? name.slice(1) : name) || !isValidFieldValue(value)) {
        throw new RangeError(`invalid field ${JSON.stringify(name)}: ${JSON.stringify(value.slice(0, 64))} (RFC 9114 §4.2)`);
      }
      size += name.length + value.length + ENTRY_OVERHEAD;
    }
    if (size > limit) throw new RangeError(`field section of ${size} bytes exceeds the peer's SETTINGS_MAX_FIELD_SECTION_SIZE ${limit}`);
  }

  /** Encodes and sends a HEADERS frame; throws (RangeError) before any state changes when the peer would refuse it. */
  private writeFieldSection(stream: RequestStream, fields: readonly string[], endStream: boolean): void {
    this.checkOutgoingFields(fields);
    const block = this.encoder.encode(stream.id, fields);
    // Encoder instructions first, so the peer's decoder is blocked as briefly as possible (RFC 9204 §2.1.2).
    const instructions = this.encoder.takeInstructions();
    if (instructions !== null) this.transport.sendStreamData(this.encoderStreamId, instructions, false);
    this.trace('out', FrameType.HEADERS, stream.id, block.length, null, fields as FieldList);
    const writable = this.transport.sendStreamData(stream.id, encodeFrame(FrameType.HEADERS, block), endStream);
    if (endStream) this.localEnd(stream);
    else if (!writable) stream.wantWritable = true;
  }

  private sendControlFrame(frame: Uint8Array, type: number): void {
    if (this.onFrame !== undefined) {
      readVarint(frame, 0, frame.length);
      readVarint(frame, varintResult.next, frame.length);
      this.trace('out', type, this.controlStreamId, frame.length - varintResult.next, frame.subarray(varintResult.next));
    }
    this.transport.sendStreamData(this.controlStreamId, frame, false);
  }

  private flushDecoderInstructions(): void {
    if (this.dead || this.decoderStreamId < 0) return;
    const bytes = this.decoder.takeInstructions();
    if (bytes !== null) this.transport.sendStreamData(this.decoderStreamId, bytes, false);
  }

  private returnOverhead(streamId: number, parser: FrameParser): void {
    const overhead = parser.takeOverhead();
    if (overhead > 0) this.transport.consume(streamId, overhead);
  }

  private trace(direction: 'in' | 'out', type: number, streamId: number, length: number, payload: Uint8Array | null, headers?: FieldList): void {
    if (this.onFrame !== undefined) this.onFrame(direction, traceFrame(type, streamId, length, payload, headers));
  }
}

/** Buffered request-stream frame types (traced once whole); DATA and unknown types are traced at their header. */
function isKnownRequestFrame(type: number): boolean {
  return type === FrameType.HEADERS;
}

function isKnownControlFrame(type: number): boolean {
  return (
    type === FrameType.SETTINGS ||
    type === FrameType.GOAWAY ||
    type === FrameType.MAX_PUSH_ID ||
    type === FrameType.CANCEL_PUSH ||
    type === FrameType.PRIORITY_UPDATE_REQUEST ||
    type === FrameType.PRIORITY_UPDATE_PUSH
  );
}


