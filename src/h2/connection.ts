/**
 * H2Connection: the sans-IO HTTP/2 server engine (RFC 9113). Bytes in through receive(), events out; responses in
 * through sendHeaders()/sendData()/sendTrailers(), bytes out through dataToSend(); timers as data (nextDeadline(),
 * onTimeout()). No sockets, no timers of its own.
 *
 * This module is the connection: frame dispatch, header block assembly, stream lifecycle, receive flow control,
 * shutdown and errors. Its parts live beside it, one concern each: the frame rules (frames.ts checkFrame), the stream
 * state machine (stream-state.ts) and per-stream state (stream.ts), HTTP field rules (src/http/fields.ts), SETTINGS
 * (settings.ts), the DoS rate budgets (rate-budgets.ts) and the DATA scheduler (data-scheduler.ts).
 *
 * Receive path: frames are parsed in place as views into the received buffer; only an incomplete frame is copied
 * across receive() calls. Send path: control frames and HEADERS are serialised at once into one growable output
 * buffer; DATA waits in per-stream queues and is framed by dataToSend().
 */
import { HpackDecoder, HpackEncoder } from './hpack/index.js';
import {
  CONNECTION_PREFACE,
  DEFAULT_INITIAL_WINDOW_SIZE,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PRIORITY,
  FRAME_HEADER_LENGTH,
  FrameWriter,
  MAX_WINDOW_SIZE,
  MIN_MAX_FRAME_SIZE,
  checkFrame,
  latin1,
  splitFrames,
  type FrameProblem,
} from './frames.js';
import { DataScheduler, type DataSchedulerHost } from './data-scheduler.js';
import { DEFAULT_LIMITS, resolveLimits } from './limits.js';
import { RateBudgets } from './rate-budgets.js';
import {
  LocalSettingsNegotiation,
  defaultRemoteSettings,
  remoteSettingError,
  settingsEntries,
  validateLocalSettings,
} from './settings.js';
import { Stream } from './stream.js';
import {
  ALLOW,
  CONNECTION_ERROR_PROTOCOL,
  CONNECTION_ERROR_STREAM_CLOSED,
  IGNORE,
  RECV_DATA,
  RECV_HEADERS,
  RECV_RST_STREAM,
  RECV_WINDOW_UPDATE,
  STREAM_CLOSED,
  STREAM_CLOSED_FORGOTTEN,
  STREAM_CLOSED_RESET_BY_PEER,
  STREAM_CLOSED_RESET_BY_US,
  STREAM_ERROR_STREAM_CLOSED,
  STREAM_HALF_CLOSED_REMOTE,
  STREAM_IDLE,
  afterLocalEnd,
  afterRemoteEnd,
  canReceive,
  canSend,
  receiveReaction,
} from './stream-state.js';
import { traceFrame } from './trace.js';
import type { H2ConnectionOptions, H2Engine, H2Event, H2Limits, HeaderList, Settings, TracedFrame } from './types.js';
import { ErrorCode, FrameType, SettingId } from './types.js';
import {
  isFinalStatus,
  isValidTrailerSection,
  stripConnectionSpecific,
  validateRequestFields,
} from '../http/fields.js';

/** Opaque data of the PING that completes a graceful shutdown (RFC 9113 §6.8). */
const SHUTDOWN_PING = new Uint8Array([0x68, 0x74, 0x74, 0x70, 0x73, 0x64, 0x47, 0x41]); // "httpsdGA"
const EMPTY = new Uint8Array(0);
/** The stream map of every connection with no open stream: empty and never written (see openStream()). */
const NO_STREAMS: Map<number, Stream> = new Map();
const textEncoder = new TextEncoder();

/** Default stream receive window we advertise: 1 MiB (a 64 KiB window caps throughput at 64 KiB per round trip). */
export const DEFAULT_STREAM_WINDOW_SIZE = 1024 * 1024;
/** Default connection receive window: 8 MiB, shared by all streams. */
export const DEFAULT_CONNECTION_WINDOW_SIZE = 8 * 1024 * 1024;

export class H2Connection implements H2Engine, DataSchedulerHost {
  readonly limits: H2Limits;
  readonly localSettings: Settings;
  readonly remoteSettings: Settings = defaultRemoteSettings();

  private readonly now: () => number;
  private readonly onFrame: ((direction: 'in' | 'out', frame: TracedFrame) => void) | undefined;
  private readonly decoder: HpackDecoder;
  private readonly encoder: HpackEncoder;
  private readonly writer = new FrameWriter();
  private readonly scheduler: DataScheduler;
  private events: H2Event[] = [];

  // Receive state.
  private prefaceBytesMatched = 0;
  private awaitingPeerSettings = true;
  /** The start of a frame whose rest has not arrived yet (copied: the receive buffer is only valid during receive()). */
  /** A frame received in part: its bytes so far (`partialFilled` of them), see startPartialFrame(). */
  private partialFrame: Uint8Array | null = null;
  private partialFilled = 0;
  /** The partial frame is DATA a stream can take (see isWelcomeData()): its bytes count as receivedDataBytes. */
  private partialIsData = false;
  receivedDataBytes = 0;
  /** The frame being processed lies in a buffer of the engine's own (DATA events say so: `owned`). */
  private receivingOwned = false;
  /** Connection error or engine-initiated termination: input is ignored from now on. */
  private terminated = false;
  /** Tracing: the current frame ends a field block and is traced after decoding. */
  private deferredTrace: { type: number; flags: number; sid: number; payload: Uint8Array } | null = null;

  // Header block assembly (RFC 9113 §4.3): while non-zero, only CONTINUATION on this stream is allowed.
  private headerBlockStreamId = 0;
  private headerBlockFlags = 0;
  private headerBlockPriorityDependency = -1;
  private headerBlockChunks: Uint8Array[] = [];
  private headerBlockBytes = 0;
  private headerBlockContinuations = 0;

  // Streams. A connection without open streams shares NO_STREAMS (memory per idle connection); openStream() gives it
  // a Map of its own and closeStream() lets it go with the last stream.
  private streams = NO_STREAMS;
  /** Recently closed streams and how they closed, oldest first (a Map iterates in insertion order). */
  private readonly closedStreams = new Map<number, number>();
  private openStreams = 0;
  /** Highest client stream id seen, refused and ignored ones included: new ids must be higher (§5.1.1). */
  private highestSeenStreamId = 0;
  /** Highest stream id handed to the application or answered by the engine: GOAWAY's Last-Stream-ID (§6.8). */
  private lastAcceptedStreamId = 0;
  /** Streams above this id are not processed: the Last-Stream-ID of the GOAWAY we sent (§6.8), 2^31-1 before. */
  private goawayStreamLimit = MAX_WINDOW_SIZE;

  // Receive flow control.
  private connectionRecvWindow: number;
  private connectionRecvUnacked = 0;
  private readonly connectionWindowTarget: number;
  /** Receive window of a new stream (RFC 9113 §6.5.3: the largest of the acknowledged and pending values). */
  private streamRecvWindowTarget = DEFAULT_INITIAL_WINDOW_SIZE;
  /** Largest frame we accept: the acknowledged SETTINGS_MAX_FRAME_SIZE or a larger pending one (§6.5.3). */
  private recvMaxFrameSize = MIN_MAX_FRAME_SIZE;

  // Settings negotiation and control-frame answers not yet handed out.
  private readonly localSettingsNegotiation = new LocalSettingsNegotiation();
  private pendingSettingsAcks = 0;
  private pendingPingAcks = 0;

  // Shutdown.
  private goawaySent = false;
  private goawayReceived = false;
  /** When the shutdown PING went out (first step of the graceful shutdown, §6.8); -1 when none is outstanding. */
  private shutdownPingSentAt = -1;

  private readonly budgets: RateBudgets;

  constructor(options: H2ConnectionOptions = {}) {
    if (options.role !== undefined && options.role !== 'server') throw new RangeError('only the server role exists');
    // Without overrides every connection shares the frozen defaults (memory per idle connection).
    const limits = options.limits === undefined ? (DEFAULT_LIMITS as H2Limits) : resolveLimits(options.limits);
    this.limits = limits;
    this.now = options.now ?? Date.now;
    this.onFrame = options.onFrame;
    this.budgets = new RateBudgets(limits, this.now);
    // The connection is the scheduler's host (methods, not closures: nothing more per connection).
    this.scheduler = new DataScheduler(this.writer, this, limits.streamHighWaterMark, this.onFrame !== undefined);

    const local: Settings = {
      headerTableSize: limits.headerTableSize,
      enablePush: false,
      maxConcurrentStreams: limits.maxConcurrentStreams,
      initialWindowSize: DEFAULT_STREAM_WINDOW_SIZE,
      maxFrameSize: MIN_MAX_FRAME_SIZE,
      maxHeaderListSize: limits.maxHeaderListSize,
      enableConnectProtocol: false,
      ...options.settings,
    };
    validateLocalSettings(local);
    this.localSettings = local;
    this.decoder = new HpackDecoder({ maxTableSize: local.headerTableSize, maxHeaderListSize: local.maxHeaderListSize });
    // outHeaders() frames each block at once, so the encoders of all connections can share one output buffer.
    this.encoder = new HpackEncoder({ maxTableSize: 4096, sharedOutput: true });

    const connectionWindow = options.connectionWindowSize ?? DEFAULT_CONNECTION_WINDOW_SIZE;
    if (!Number.isInteger(connectionWindow) || connectionWindow < 1 || connectionWindow > MAX_WINDOW_SIZE) {
      throw new RangeError(`connectionWindowSize must be an integer in 1..2^31-1, got ${connectionWindow}`);
    }
    // RFC 9113 §6.9.2: the connection window starts at 65535 and can only grow; a smaller target is not enforceable.
    this.connectionWindowTarget = Math.max(connectionWindow, DEFAULT_INITIAL_WINDOW_SIZE);
    this.connectionRecvWindow = this.connectionWindowTarget;

    // RFC 9113 §3.4: the server connection preface is a SETTINGS frame, sent first.
    this.outSettings(settingsEntries(local, true));
    this.localSettingsNegotiation.sent(local, this.now());
    this.recomputeReceiveSettings();
    // RFC 9113 §6.9.2: the connection window can only be raised with WINDOW_UPDATE.
    if (connectionWindow > DEFAULT_INITIAL_WINDOW_SIZE) {
      this.outWindowUpdate(0, connectionWindow - DEFAULT_INITIAL_WINDOW_SIZE);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Public state
  // -------------------------------------------------------------------------------------------------------------

  get wantsWrite(): boolean {
    return this.writer.length > 0 || this.scheduler.hasSendable;
  }

  get bufferedBytes(): number {
    return this.writer.length + this.scheduler.sendableBytes;
  }

  get openStreamCount(): number {
    return this.openStreams;
  }

  get isClosing(): boolean {
    return this.goawaySent || this.goawayReceived || this.terminated;
  }

  get isDone(): boolean {
    return (
      this.isClosing &&
      this.shutdownPingSentAt < 0 &&
      this.openStreams === 0 &&
      this.writer.length === 0 &&
      (this.terminated || !this.scheduler.hasQueued)
    );
  }

  get lastStreamId(): number {
    return this.lastAcceptedStreamId;
  }

  /** Connection-level send window (what we may still send), for diagnostics and tests. */
  get connectionSendWindowSize(): number {
    return this.scheduler.connectionSendWindow;
  }

  /** Stream-level send window, or undefined for a stream that is not open. */
  streamSendWindowSize(streamId: number): number | undefined {
    return this.streams.get(streamId)?.sendWindow;
  }

  pollEvents(): H2Event[] {
    const events = this.events;
    if (events.length === 0) return events;
    this.events = [];
    return events;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Receive path
  // -------------------------------------------------------------------------------------------------------------

  receive(bytes: Uint8Array): H2Event[] {
    const events = this.events;
    this.events = events;
    this.receivedDataBytes = 0;
    if (!this.terminated && bytes.length > 0) this.receiveInto(bytes);
    this.events = [];
    return events;
  }

  private receiveInto(bytes: Uint8Array): void {
    const end = bytes.length;
    let offset = 0;

    // RFC 9113 §3.4: the client connection preface, byte for byte; anything else is a connection PROTOCOL_ERROR.
    if (this.prefaceBytesMatched < CONNECTION_PREFACE.length) {
      while (this.prefaceBytesMatched < CONNECTION_PREFACE.length && offset < end) {
        if (bytes[offset] !== CONNECTION_PREFACE[this.prefaceBytesMatched]) {
          this.connectionError(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
          return;
        }
        offset++;
        this.prefaceBytesMatched++;
      }
      if (this.prefaceBytesMatched < CONNECTION_PREFACE.length) return;
    }

    if (this.partialFrame !== null) {
      offset = this.completePartialFrame(bytes, offset);
      if (this.partialFrame !== null || this.terminated) return;
    }

    while (end - offset >= FRAME_HEADER_LENGTH) {
      const length = this.frameLength(bytes, offset);
      if (length < 0) return;
      if (end - offset - FRAME_HEADER_LENGTH < length) break;
      if (this.isWelcomeData(bytes, offset, length)) this.receivedDataBytes += FRAME_HEADER_LENGTH + length;
      offset = this.dispatchFrameAt(bytes, offset, length, false);
      if (this.terminated) return;
    }
    if (offset < end) this.startPartialFrame(bytes, offset);
  }

  /** The payload length of the frame whose header starts at `offset`, or -1 after a FRAME_SIZE_ERROR. */
  private frameLength(buf: Uint8Array, offset: number): number {
    const length = (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
    // RFC 9113 §4.2: checked on the header, before the payload is buffered.
    if (length > this.recvMaxFrameSize) {
      this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'frame larger than SETTINGS_MAX_FRAME_SIZE');
      return -1;
    }
    return length;
  }

  /** Processes the complete frame at `offset` (header included); returns the offset after it. */
  private dispatchFrameAt(buf: Uint8Array, offset: number, length: number, owned: boolean): number {
    const type = buf[offset + 3]!;
    const flags = buf[offset + 4]!;
    // RFC 9113 §4.1: the reserved bit is ignored on receipt.
    const streamId = ((buf[offset + 5]! & 0x7f) << 24) | (buf[offset + 6]! << 16) | (buf[offset + 7]! << 8) | buf[offset + 8]!;
    const start = offset + FRAME_HEADER_LENGTH;
    this.receivingOwned = owned;
    this.processFrame(buf, start, length, type, flags, streamId);
    this.receivingOwned = false;
    return start + length;
  }

  /**
   * Keeps the start of a frame that continues in a later receive(): a buffer of exactly the frame's size once its
   * header is known (the header alone until then), filled by completePartialFrame(). Frames that straddle reads
   * (every DATA frame of a bulk upload, as TLS records and frames differ in size) are copied once, never the rest
   * of the read they arrived with.
   */
  private startPartialFrame(buf: Uint8Array, offset: number): void {
    const available = buf.length - offset;
    let size = FRAME_HEADER_LENGTH;
    this.partialIsData = false;
    if (available >= FRAME_HEADER_LENGTH) {
      // The loop in receiveInto() has checked this header's length.
      const length = (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
      size += length;
      this.partialIsData = this.isWelcomeData(buf, offset, length);
      if (this.partialIsData) this.receivedDataBytes += available;
    }
    this.partialFrame = new Uint8Array(size);
    this.partialFrame.set(buf.subarray(offset));
    this.partialFilled = available;
  }

  /** Whether the frame whose header is at `offset` is DATA that a stream open for input has the window for. */
  private isWelcomeData(buf: Uint8Array, offset: number, length: number): boolean {
    if (buf[offset + 3] !== FrameType.DATA) return false;
    const streamId = ((buf[offset + 5]! & 0x7f) << 24) | (buf[offset + 6]! << 16) | (buf[offset + 7]! << 8) | buf[offset + 8]!;
    const stream = this.streams.get(streamId);
    return stream !== undefined && canReceive(stream.state) && length <= stream.recvWindow && length <= this.connectionRecvWindow;
  }

  /** Adds the bytes from `offset` to the partial frame; processes it once complete. Returns the offset reached. */
  private completePartialFrame(buf: Uint8Array, offset: number): number {
    let frame = this.partialFrame!;
    let take = Math.min(frame.length - this.partialFilled, buf.length - offset);
    frame.set(buf.subarray(offset, offset + take), this.partialFilled);
    this.partialFilled += take;
    offset += take;
    if (this.partialIsData) this.receivedDataBytes += take;
    if (this.partialFilled < frame.length) return offset;
    if (frame.length === FRAME_HEADER_LENGTH && !this.partialIsData) {
      // The header is complete: now the frame's size is known.
      const length = this.frameLength(frame, 0);
      if (length < 0) return offset;
      if (length > 0) {
        const header = frame;
        frame = new Uint8Array(FRAME_HEADER_LENGTH + length);
        frame.set(header);
        this.partialFrame = frame;
        this.partialIsData = this.isWelcomeData(frame, 0, length);
        take = Math.min(length, buf.length - offset);
        frame.set(buf.subarray(offset, offset + take), FRAME_HEADER_LENGTH);
        this.partialFilled += take;
        offset += take;
        if (this.partialIsData) this.receivedDataBytes += take;
        if (this.partialFilled < frame.length) return offset;
      }
    }
    this.partialFrame = null;
    this.partialFilled = 0;
    // The buffer is the engine's own and never reused: DATA views of it may be kept as they are.
    this.dispatchFrameAt(frame, 0, frame.length - FRAME_HEADER_LENGTH, true);
    return offset;
  }

  private processFrame(buf: Uint8Array, p: number, length: number, type: number, flags: number, sid: number): void {
    const onFrame = this.onFrame;
    if (onFrame === undefined) return this.dispatchFrame(buf, p, length, type, flags, sid);
    if ((type === FrameType.HEADERS || type === FrameType.CONTINUATION) && flags & FLAG_END_HEADERS) {
      // A frame that ends a field block is traced once decoded, with its headers (or before an error it causes).
      this.deferredTrace = { type, flags, sid, payload: buf.subarray(p, p + length) };
      this.dispatchFrame(buf, p, length, type, flags, sid);
      this.flushDeferredTrace(undefined);
      return;
    }
    onFrame('in', traceFrame(type, flags, sid, buf.subarray(p, p + length)));
    this.dispatchFrame(buf, p, length, type, flags, sid);
  }

  private flushDeferredTrace(headers: HeaderList | undefined): void {
    const deferred = this.deferredTrace;
    if (deferred === null) return;
    this.deferredTrace = null;
    this.onFrame!('in', traceFrame(deferred.type, deferred.flags, deferred.sid, deferred.payload, headers));
  }

  private dispatchFrame(buf: Uint8Array, p: number, length: number, type: number, flags: number, sid: number): void {
    // RFC 9113 §6.10 / §4.3: a field block must be continued by CONTINUATION frames of the same stream only.
    if (this.headerBlockStreamId !== 0 && type !== FrameType.CONTINUATION) {
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'frame interleaved in a field block');
    }
    // RFC 9113 §3.4: the preface's SETTINGS frame must come first.
    if (this.awaitingPeerSettings && (type !== FrameType.SETTINGS || flags & FLAG_ACK)) {
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'connection preface must start with SETTINGS');
    }
    // RFC 9113 §8.4: a client cannot push (whatever the frame looks like).
    if (type === FrameType.PUSH_PROMISE) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
    // The rules of the frame alone (sizes, stream 0, padding): connection errors end here; the stream errors among
    // them are applied by their handler, after the state and budget rules that come first for that type.
    const invalid = checkFrame(type, flags, sid, buf, p, length);
    if (invalid !== null && invalid.connection) return this.connectionError(invalid.code, invalid.message);
    switch (type) {
      case FrameType.DATA:
        return this.onData(buf, p, length, flags, sid);
      case FrameType.HEADERS:
        return this.onHeaders(buf, p, length, flags, sid);
      case FrameType.PRIORITY:
        return this.onPriority(buf, p, sid, invalid);
      case FrameType.RST_STREAM:
        return this.onRstStream(buf, p, sid);
      case FrameType.SETTINGS:
        return this.onSettings(buf, p, length, flags);
      case FrameType.PING:
        return this.onPing(buf, p, flags);
      case FrameType.GOAWAY:
        return this.onGoaway(buf, p, length);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(buf, p, sid, invalid);
      case FrameType.CONTINUATION:
        return this.onContinuation(buf, p, length, flags, sid);
      case FrameType.PRIORITY_UPDATE:
        return this.onPriorityUpdate(buf, p, length);
      default:
        // RFC 9113 §4.1, §5.5: unknown frame types are ignored (but still cost the peer's control budget).
        if (!this.budgets.controlFrames.take(this.now())) this.budgetExceeded('control frame flood');
        return;
    }
  }

  private stateOf(sid: number): number {
    const stream = this.streams.get(sid);
    if (stream !== undefined) return stream.state;
    const closed = this.closedStreams.get(sid);
    if (closed !== undefined) return closed;
    // RFC 9113 §5.1.1: opening a stream implicitly closes all idle streams with lower ids.
    if (sid % 2 === 1 && sid <= this.highestSeenStreamId) return STREAM_CLOSED_FORGOTTEN;
    return STREAM_IDLE;
  }

  private onData(buf: Uint8Array, p: number, length: number, flags: number, sid: number): void {
    // Stream 0 and padding were checked by checkFrame() (RFC 9113 §6.1).
    let start = p;
    let dataEnd = p + length;
    if (flags & FLAG_PADDED) {
      start = p + 1;
      dataEnd = p + length - buf[p]!;
    }
    // RFC 9113 §6.9.1: the whole payload (padding included) counts against the connection window, in every state.
    if (length > this.connectionRecvWindow) {
      return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA exceeds the connection window');
    }
    this.connectionRecvWindow -= length;
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    // Empty-frame flood (CVE-2019-9518): no data (padding only counts as none) and no END_STREAM.
    if (dataEnd === start && !endStream && !this.budgets.emptyFrames.take(this.now())) {
      return this.budgetExceeded('empty DATA frame flood');
    }

    const stream = this.streams.get(sid);
    const state = stream !== undefined ? stream.state : this.stateOf(sid);
    const rule = receiveReaction(state, RECV_DATA);
    if (rule !== ALLOW || stream === undefined) {
      // Not delivered: the bytes go straight back to the connection window (§6.9: DATA on closed streams counts).
      this.releaseConnectionWindow(length);
      return this.applyRule(rule, sid, stream, 'DATA');
    }
    // RFC 9113 §6.9.1: beyond the stream window is a stream FLOW_CONTROL_ERROR.
    if (length > stream.recvWindow) {
      this.releaseConnectionWindow(length);
      return this.streamError(sid, ErrorCode.FLOW_CONTROL_ERROR, stream);
    }
    stream.recvWindow -= length;
    const dataLength = dataEnd - start;
    stream.receivedBodyBytes += dataLength;
    // RFC 9113 §8.1.1: content-length must equal the sum of DATA payloads (checked as soon as it is exceeded).
    if (
      stream.contentLength >= 0 &&
      (stream.receivedBodyBytes > stream.contentLength ||
        (endStream && stream.receivedBodyBytes !== stream.contentLength))
    ) {
      this.releaseConnectionWindow(length);
      return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
    }
    if (length > 0 || endStream) {
      stream.recvUnconsumed += length;
      this.events.push({
        type: 'data',
        streamId: sid,
        data: buf.subarray(start, dataEnd),
        owned: this.receivingOwned,
        flowControlledLength: length,
        endStream,
      });
    }
    if (endStream) this.remoteEnd(stream);
  }

  /** Reaction to a frame the state table does not allow. */
  private applyRule(rule: number, sid: number, stream: Stream | undefined, what: string): void {
    switch (rule) {
      case IGNORE:
        return;
      case STREAM_ERROR_STREAM_CLOSED:
        return this.streamError(sid, ErrorCode.STREAM_CLOSED, stream);
      case CONNECTION_ERROR_STREAM_CLOSED:
        return this.connectionError(ErrorCode.STREAM_CLOSED, `${what} on a closed stream`);
      case CONNECTION_ERROR_PROTOCOL:
        return this.connectionError(ErrorCode.PROTOCOL_ERROR, `${what} on an idle or reused stream`);
    }
  }

  private onHeaders(buf: Uint8Array, p: number, length: number, flags: number, sid: number): void {
    // Stream 0, padding and the priority fields' room were checked by checkFrame() (RFC 9113 §6.2).
    let start = p;
    let end = p + length;
    if (flags & FLAG_PADDED) {
      end -= buf[p]!;
      start++;
    }
    let dependency = -1;
    if (flags & FLAG_PRIORITY) {
      dependency = ((buf[start]! & 0x7f) << 24) | (buf[start + 1]! << 16) | (buf[start + 2]! << 8) | buf[start + 3]!;
      start += 5;
    }
    const fragmentLength = end - start;
    if (fragmentLength > this.limits.maxHeaderBlockBytes) return this.budgetExceeded('header block too large');
    if (flags & FLAG_END_HEADERS) {
      this.finishHeaderBlock(sid, flags, dependency, buf.subarray(start, end));
      return;
    }
    if (fragmentLength === 0 && !this.budgets.emptyFrames.take(this.now())) return this.budgetExceeded('empty HEADERS flood');
    // Field block continues: copy the fragment (the receive buffer is only valid during this call).
    this.headerBlockStreamId = sid;
    this.headerBlockFlags = flags;
    this.headerBlockPriorityDependency = dependency;
    this.headerBlockChunks = [copyBytes(buf, start, end)];
    this.headerBlockBytes = fragmentLength;
    this.headerBlockContinuations = 0;
  }

  private onContinuation(buf: Uint8Array, p: number, length: number, flags: number, sid: number): void {
    // RFC 9113 §6.10: CONTINUATION only directly after HEADERS/CONTINUATION without END_HEADERS, same stream.
    if (this.headerBlockStreamId === 0 || sid !== this.headerBlockStreamId) {
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    }
    // CONTINUATION flood (CVE-2024-27316 family): bounded in count and bytes BEFORE any decoding.
    if (++this.headerBlockContinuations > this.limits.maxContinuationFrames) return this.budgetExceeded('too many CONTINUATION frames');
    this.headerBlockBytes += length;
    if (this.headerBlockBytes > this.limits.maxHeaderBlockBytes) return this.budgetExceeded('header block too large');
    if (!(flags & FLAG_END_HEADERS)) {
      if (length === 0 && !this.budgets.emptyFrames.take(this.now())) return this.budgetExceeded('empty CONTINUATION flood');
      this.headerBlockChunks.push(copyBytes(buf, p, p + length));
      return;
    }
    const block = new Uint8Array(this.headerBlockBytes);
    let o = 0;
    for (const chunk of this.headerBlockChunks) {
      block.set(chunk, o);
      o += chunk.length;
    }
    block.set(buf.subarray(p, p + length), o);
    const headerFlags = this.headerBlockFlags;
    const dependency = this.headerBlockPriorityDependency;
    this.headerBlockStreamId = 0;
    this.headerBlockChunks = [];
    this.finishHeaderBlock(sid, headerFlags, dependency, block);
  }

  /**
   * A complete field block. Decoded first in every case: HPACK state is shared by the connection (RFC 9113 §4.3),
   * so even blocks of refused or ignored streams must go through the decoder.
   */
  private finishHeaderBlock(
    sid: number,
    flags: number,
    dependency: number,
    block: Uint8Array,
  ): void {
    let headers: HeaderList;
    try {
      headers = this.decoder.decode(block);
    } catch {
      // RFC 9113 §4.3: a field block that cannot be decoded is a connection COMPRESSION_ERROR.
      return this.connectionError(ErrorCode.COMPRESSION_ERROR, 'header block decoding failed');
    }
    const tooLarge = this.decoder.lastBlockTooLarge;
    if (this.onFrame !== undefined) this.flushDeferredTrace(headers);
    const endStream = (flags & FLAG_END_STREAM) !== 0;

    const stream = this.streams.get(sid);
    if (stream !== undefined) {
      const rule = receiveReaction(stream.state, RECV_HEADERS);
      if (rule !== ALLOW) return this.applyRule(rule, sid, stream, 'HEADERS');
      // RFC 9113 §5.3.1: a stream cannot depend on itself.
      if (dependency === sid) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
      return this.onTrailers(stream, headers, endStream, tooLarge);
    }
    const state = this.stateOf(sid);
    if (state !== STREAM_IDLE) return this.applyRule(receiveReaction(state, RECV_HEADERS), sid, undefined, 'HEADERS');
    // RFC 9113 §5.1.1: client-initiated streams use odd identifiers.
    if (sid % 2 === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'even stream id from a client');
    this.highestSeenStreamId = sid;
    // RFC 9113 §6.8: streams above the last id of a GOAWAY we sent are not processed (the client retries them).
    if (this.goawaySent && sid > this.goawayStreamLimit) {
      this.rememberClosed(sid, STREAM_CLOSED_RESET_BY_US);
      return;
    }
    // RFC 9113 §5.3.1: a stream cannot depend on itself.
    if (dependency === sid) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, undefined);
    // RFC 9113 §5.1.2: beyond SETTINGS_MAX_CONCURRENT_STREAMS → stream error REFUSED_STREAM (retryable).
    if (this.openStreams >= this.localSettings.maxConcurrentStreams) {
      return this.streamError(sid, ErrorCode.REFUSED_STREAM, undefined);
    }
    if (tooLarge) return this.answerHeadersTooLarge(sid, endStream);
    const request = validateRequestFields(headers, endStream, this.localSettings.enableConnectProtocol);
    // RFC 9113 §8.1.1: malformed requests are stream errors of type PROTOCOL_ERROR.
    if (request === null) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, undefined);

    const created = this.openStream(sid);
    created.contentLength = request.contentLength;
    created.reportedToApp = true;
    created.tunnel = request.pseudo.method === 'CONNECT';
    this.lastAcceptedStreamId = sid;
    this.events.push({
      type: 'request',
      streamId: sid,
      pseudo: request.pseudo,
      headers: request.regularStart === 0 ? headers : headers.slice(request.regularStart),
      endStream,
      contentLength: request.contentLength,
    });
    if (endStream) this.remoteEnd(created);
  }

  private openStream(sid: number): Stream {
    const stream = new Stream(sid, this.remoteSettings.initialWindowSize, this.streamRecvWindowTarget);
    if (this.streams === NO_STREAMS) this.streams = new Map();
    this.streams.set(sid, stream);
    this.openStreams++;
    return stream;
  }

  /**
   * A request whose field section exceeds SETTINGS_MAX_HEADER_LIST_SIZE: answered by the engine with 431 and
   * END_STREAM (RFC 6585 §5); a body still coming is stopped with RST_STREAM(NO_ERROR) (RFC 9113 §8.1).
   */
  private answerHeadersTooLarge(sid: number, endStream: boolean): void {
    if (!this.budgets.engineResets.take(this.now())) return this.budgetExceeded('too many oversized header lists');
    const stream = this.openStream(sid);
    this.lastAcceptedStreamId = sid;
    if (endStream) stream.state = STREAM_HALF_CLOSED_REMOTE;
    this.outHeaders(sid, [':status', '431', 'content-length', '0'], true);
    this.localEnd(stream);
    if (!endStream) {
      this.outRstStream(sid, ErrorCode.NO_ERROR);
      this.closeStream(stream, STREAM_CLOSED_RESET_BY_US);
    }
  }

  private onTrailers(stream: Stream, headers: HeaderList, endStream: boolean, tooLarge: boolean): void {
    const sid = stream.id;
    if (tooLarge) return this.streamError(sid, ErrorCode.ENHANCE_YOUR_CALM, stream);
    // RFC 9113 §8.5: on a CONNECT stream, frames other than DATA and stream management frames (RST_STREAM,
    // WINDOW_UPDATE, PRIORITY) MUST be treated as a stream error: a tunnel has no trailers.
    if (stream.tunnel) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
    // RFC 9113 §8.1: a HEADERS frame after the initial one must end the stream (trailers).
    if (!endStream) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
    // RFC 9113 §8.1: trailers carry no pseudo-header fields; field rules of §8.2 apply.
    if (!isValidTrailerSection(headers)) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
    // RFC 9113 §8.1.1: the body ends here; content-length must match.
    if (stream.contentLength >= 0 && stream.receivedBodyBytes !== stream.contentLength) {
      return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
    }
    this.events.push({ type: 'trailers', streamId: sid, headers });
    this.remoteEnd(stream);
  }

  private onPriority(buf: Uint8Array, p: number, sid: number, invalid: FrameProblem | null): void {
    if (!this.budgets.controlFrames.take(this.now())) return this.budgetExceeded('PRIORITY flood');
    // RFC 9113 §6.3: a length other than 5 is a stream FRAME_SIZE_ERROR (found by checkFrame()).
    if (invalid !== null) return this.priorityError(sid, invalid.code);
    const dependency = ((buf[p]! & 0x7f) << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    // RFC 9113 §5.3.1: a stream cannot depend on itself.
    if (dependency === sid) return this.priorityError(sid, ErrorCode.PROTOCOL_ERROR);
    // RFC 9113 §5.3.2: the RFC 7540 priority scheme is deprecated; the signal is accepted and not acted on.
  }

  /**
   * A PRIORITY frame that is a stream error (RFC 9113 §5.3.1, §6.3): RST_STREAM on its stream, as the RFC words it
   * (and as h2spec checks), including idle client streams. A PRIORITY naming an even (server-initiated) stream id
   * concerns a stream the client can never own: an RST_STREAM there would be for an idle stream of our own
   * (§6.4 forbids it), so that error is escalated to a connection error (§5.4).
   */
  private priorityError(sid: number, code: number): void {
    const stream = this.streams.get(sid);
    if (sid % 2 === 0) return this.connectionError(code, 'invalid PRIORITY for a server stream id');
    return this.streamError(sid, code, stream);
  }

  private onRstStream(buf: Uint8Array, p: number, sid: number): void {
    const stream = this.streams.get(sid);
    const state = stream !== undefined ? stream.state : this.stateOf(sid);
    const rule = receiveReaction(state, RECV_RST_STREAM);
    if (rule !== ALLOW || stream === undefined) {
      if (rule === IGNORE && !this.budgets.controlFrames.take(this.now())) return this.budgetExceeded('RST_STREAM flood');
      // RFC 9113 §6.4: RST_STREAM on an idle stream is a connection PROTOCOL_ERROR.
      return this.applyRule(rule, sid, stream, 'RST_STREAM');
    }
    const code = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
    this.closeStream(stream, STREAM_CLOSED_RESET_BY_PEER);
    if (stream.reportedToApp) this.events.push({ type: 'streamReset', streamId: sid, code, byPeer: true });
    // HTTP/2 Rapid Reset (CVE-2023-44487): requests opened and cancelled faster than the budget allows.
    if (!this.budgets.peerResets.take(this.now())) this.budgetExceeded('rapid reset');
  }

  private onSettings(buf: Uint8Array, p: number, length: number, flags: number): void {
    // Stream 0 only, an empty ACK, a length that is a multiple of 6: checked by checkFrame() (RFC 9113 §6.5).
    if (flags & FLAG_ACK) {
      if (!this.budgets.controlFrames.take(this.now())) return this.budgetExceeded('SETTINGS ACK flood');
      this.onSettingsAck();
      return;
    }
    if (length / 6 > this.limits.maxSettingsEntriesPerFrame) return this.budgetExceeded('too many SETTINGS entries');
    if (!this.awaitingPeerSettings && !this.budgets.controlFrames.take(this.now())) return this.budgetExceeded('SETTINGS flood');
    this.awaitingPeerSettings = false;
    const changed: Partial<Settings> = {};
    const remote = this.remoteSettings;
    // RFC 9113 §6.5.3: values are processed in the order they appear.
    for (let o = p; o < p + length; o += 6) {
      const id = (buf[o]! << 8) | buf[o + 1]!;
      const value = ((buf[o + 2]! << 24) | (buf[o + 3]! << 16) | (buf[o + 4]! << 8) | buf[o + 5]!) >>> 0;
      const invalid = remoteSettingError(id, value);
      if (invalid !== null) return this.connectionError(invalid.code, invalid.message);
      switch (id) {
        case SettingId.HEADER_TABLE_SIZE:
          remote.headerTableSize = changed.headerTableSize = value;
          this.encoder.setMaxTableSize(value);
          break;
        case SettingId.ENABLE_PUSH:
          remote.enablePush = changed.enablePush = value === 1;
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          remote.maxConcurrentStreams = changed.maxConcurrentStreams = value;
          break;
        case SettingId.INITIAL_WINDOW_SIZE: {
          const delta = value - remote.initialWindowSize;
          remote.initialWindowSize = changed.initialWindowSize = value;
          if (delta !== 0 && !this.applyInitialWindowDelta(delta)) return;
          break;
        }
        case SettingId.MAX_FRAME_SIZE:
          remote.maxFrameSize = changed.maxFrameSize = value;
          break;
        case SettingId.MAX_HEADER_LIST_SIZE:
          remote.maxHeaderListSize = changed.maxHeaderListSize = value;
          break;
        case SettingId.ENABLE_CONNECT_PROTOCOL:
          remote.enableConnectProtocol = changed.enableConnectProtocol = value === 1;
          break;
        default:
        // RFC 9113 §6.5.2: unknown settings are ignored.
      }
    }
    // RFC 9113 §6.5.3: acknowledge. A peer that floods SETTINGS without reading is cut off (CVE-2019-9515).
    if (++this.pendingSettingsAcks > this.limits.maxPendingSettingsAcks) return this.budgetExceeded('SETTINGS ACKs not drained');
    this.outSettingsAck();
    this.events.push({ type: 'settingsChanged', changed });
  }

  /** RFC 9113 §6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE change adjusts every stream window by the difference. */
  private applyInitialWindowDelta(delta: number): boolean {
    for (const stream of this.streams.values()) {
      stream.sendWindow += delta;
      if (stream.sendWindow > MAX_WINDOW_SIZE) {
        this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'stream window above 2^31-1 after SETTINGS');
        return false;
      }
      if (delta > 0 && stream.sendWindow > 0 && (stream.queuedBytes > 0 || stream.endQueued)) this.scheduler.schedule(stream);
    }
    return true;
  }

  private onSettingsAck(): void {
    const acked = this.localSettingsNegotiation.acknowledge();
    if (acked !== undefined) {
      // Decreases take effect once the peer has acknowledged them (RFC 9113 §6.5.3).
      if (acked.headerTableSize !== undefined) this.decoder.setMaxTableSize(acked.headerTableSize);
      this.recomputeReceiveSettings();
    }
    this.events.push({ type: 'settingsAcknowledged' });
  }

  /**
   * RFC 9113 §6.5.3 / §6.9.2: the receive-side limits are the largest of the acknowledged and pending values; when
   * they change, open streams' receive windows move by the difference (and may go negative after a decrease).
   */
  private recomputeReceiveSettings(): void {
    const negotiation = this.localSettingsNegotiation;
    this.recvMaxFrameSize = negotiation.receiveMaxFrameSize;
    const window = negotiation.receiveInitialWindowSize;
    const delta = window - this.streamRecvWindowTarget;
    if (delta !== 0) {
      this.streamRecvWindowTarget = window;
      for (const stream of this.streams.values()) stream.recvWindow += delta;
    }
  }

  private onPing(buf: Uint8Array, p: number, flags: number): void {
    // Stream 0 only, exactly 8 octets: checked by checkFrame() (RFC 9113 §6.7).
    // PING flood (CVE-2019-9512), ACKs included: each one is work and an event.
    if (!this.budgets.controlFrames.take(this.now())) return this.budgetExceeded('PING flood');
    const data = copyBytes(buf, p, p + 8);
    if (flags & FLAG_ACK) {
      // RFC 9113 §6.8: second step of the graceful shutdown, now that in-flight streams have arrived.
      if (this.shutdownPingSentAt >= 0 && equalBytes(data, SHUTDOWN_PING)) this.finishShutdown();
      this.events.push({ type: 'pingAck', data });
      return;
    }
    // ACKs pile up when the peer does not read what we write.
    if (++this.pendingPingAcks > this.limits.maxPendingPingAcks) return this.budgetExceeded('PING ACKs not drained');
    this.outPing(data, true);
    this.events.push({ type: 'ping', data });
  }

  private onGoaway(buf: Uint8Array, p: number, length: number): void {
    // Stream 0 only, at least 8 octets: checked by checkFrame() (RFC 9113 §6.8).
    if (!this.budgets.controlFrames.take(this.now())) return this.budgetExceeded('GOAWAY flood');
    const lastStreamId = ((buf[p]! & 0x7f) << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    const code = ((buf[p + 4]! << 24) | (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!) >>> 0;
    this.goawayReceived = true;
    this.events.push({
      type: 'connectionTerminated',
      code,
      lastStreamId,
      debugData: copyBytes(buf, p + 8, p + length),
      byPeer: true,
    });
  }

  private onWindowUpdate(buf: Uint8Array, p: number, sid: number, invalid: FrameProblem | null): void {
    // The length (4) and a zero increment on stream 0 were checked by checkFrame() (RFC 9113 §6.9).
    const increment = ((buf[p]! & 0x7f) << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    if (sid === 0) {
      // RFC 9113 §6.9.1: a window above 2^31-1 is a connection FLOW_CONTROL_ERROR.
      if (this.scheduler.connectionSendWindow + increment > MAX_WINDOW_SIZE) {
        return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
      }
      this.scheduler.connectionSendWindow += increment;
      this.events.push({ type: 'windowUpdated', streamId: 0, increment });
      return;
    }
    const stream = this.streams.get(sid);
    const state = stream !== undefined ? stream.state : this.stateOf(sid);
    const rule = receiveReaction(state, RECV_WINDOW_UPDATE);
    if (rule !== ALLOW || stream === undefined) {
      if (rule === IGNORE && !this.budgets.controlFrames.take(this.now())) return this.budgetExceeded('WINDOW_UPDATE flood');
      return this.applyRule(rule, sid, stream, 'WINDOW_UPDATE');
    }
    // RFC 9113 §6.9: a zero increment on a stream is a stream PROTOCOL_ERROR (found by checkFrame()).
    if (invalid !== null) return this.streamError(sid, invalid.code, stream);
    // RFC 9113 §6.9.1: a stream window above 2^31-1 is a stream FLOW_CONTROL_ERROR.
    if (stream.sendWindow + increment > MAX_WINDOW_SIZE) return this.streamError(sid, ErrorCode.FLOW_CONTROL_ERROR, stream);
    stream.sendWindow += increment;
    if (stream.sendWindow > 0 && (stream.queuedBytes > 0 || stream.endQueued)) this.scheduler.schedule(stream);
    this.events.push({ type: 'windowUpdated', streamId: sid, increment });
  }

  private onPriorityUpdate(buf: Uint8Array, p: number, length: number): void {
    // Stream 0 only, at least the prioritized stream id: checked by checkFrame() (RFC 9218 §7.1).
    if (!this.budgets.controlFrames.take(this.now())) return this.budgetExceeded('PRIORITY_UPDATE flood');
    const prioritized = ((buf[p]! & 0x7f) << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    // RFC 9218 §7.1: a Prioritized Stream ID of 0 is a connection PROTOCOL_ERROR.
    if (prioritized === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY_UPDATE for stream 0');
    this.events.push({ type: 'priorityUpdate', streamId: prioritized, value: latin1(buf, p + 4, p + length) });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Stream lifecycle
  // -------------------------------------------------------------------------------------------------------------

  private remoteEnd(stream: Stream): void {
    stream.state = afterRemoteEnd(stream.state);
    this.events.push({ type: 'streamEnded', streamId: stream.id });
    if (stream.state === STREAM_CLOSED) this.closeStream(stream, STREAM_CLOSED);
  }

  // DataSchedulerHost (data-scheduler.ts): called by the scheduler while it frames DATA.

  /** @internal */
  schedulerSentEndStream(stream: Stream): void {
    this.localEnd(stream);
  }

  /** @internal */
  schedulerSendTrailers(stream: Stream, trailers: HeaderList): void {
    this.outHeaders(stream.id, trailers, true);
  }

  /** @internal */
  schedulerStreamWritable(stream: Stream): void {
    this.events.push({ type: 'streamWritable', streamId: stream.id });
  }

  /** @internal */
  schedulerTraceWritten(start: number): void {
    this.traceWritten(start);
  }

  private localEnd(stream: Stream): void {
    stream.state = afterLocalEnd(stream.state);
    if (stream.state === STREAM_CLOSED) this.closeStream(stream, STREAM_CLOSED);
  }

  private closeStream(stream: Stream, closedState: number): void {
    if (!this.streams.delete(stream.id)) return;
    if (this.streams.size === 0) this.streams = NO_STREAMS;
    this.openStreams--;
    stream.state = closedState;
    this.scheduler.discard(stream);
    // Data the application never consumed goes back to the connection window (its stream is gone).
    if (closedState !== STREAM_CLOSED && stream.recvUnconsumed > 0) {
      this.releaseConnectionWindow(stream.recvUnconsumed);
      stream.recvUnconsumed = 0;
    }
    this.rememberClosed(stream.id, closedState);
  }

  /** Bounded memory of closed streams (limits.maxClosedStreamsRemembered), oldest forgotten first. */
  private rememberClosed(sid: number, closedState: number): void {
    const capacity = this.limits.maxClosedStreamsRemembered;
    if (capacity <= 0) return;
    if (this.closedStreams.has(sid)) {
      this.closedStreams.set(sid, closedState);
      return;
    }
    // The oldest entry is the Map's first key (updating a remembered stream above keeps its place).
    if (this.closedStreams.size >= capacity) this.closedStreams.delete(this.closedStreams.keys().next().value!);
    this.closedStreams.set(sid, closedState);
  }

  /** RFC 9113 §5.4.2: RST_STREAM for a stream error. Counted against the MadeYouReset budget (CVE-2025-8671). */
  private streamError(sid: number, code: number, stream: Stream | undefined): void {
    if (!this.budgets.engineResets.take(this.now())) return this.budgetExceeded('too many stream errors');
    this.outRstStream(sid, code);
    if (stream !== undefined && this.streams.has(sid)) {
      this.closeStream(stream, STREAM_CLOSED_RESET_BY_US);
      if (stream.reportedToApp) this.events.push({ type: 'streamReset', streamId: sid, code, byPeer: false });
    } else if (sid <= this.highestSeenStreamId || this.closedStreams.has(sid)) {
      this.rememberClosed(sid, STREAM_CLOSED_RESET_BY_US);
    }
  }

  /** RFC 9113 §5.4.1: GOAWAY with the last processed stream id, then nothing more is read. */
  private connectionError(code: number, message: string): void {
    if (this.terminated) return;
    this.terminate(code, textEncoder.encode(message));
  }

  /** A DoS budget was exceeded: GOAWAY(ENHANCE_YOUR_CALM). */
  private budgetExceeded(what: string): void {
    this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, what);
  }

  private terminate(code: number, debugData: Uint8Array): void {
    if (this.onFrame !== undefined) this.flushDeferredTrace(undefined);
    this.terminated = true;
    this.shutdownPingSentAt = -1;
    this.headerBlockStreamId = 0;
    this.headerBlockChunks = [];
    this.partialFrame = null;
    this.outGoaway(this.lastAcceptedStreamId, code, debugData);
    for (const stream of this.streams.values()) {
      stream.state = STREAM_CLOSED_RESET_BY_US;
      stream.chunks = [];
      stream.queuedBytes = 0;
    }
    this.streams = NO_STREAMS;
    this.openStreams = 0;
    this.scheduler.clear();
    this.events.push({
      type: 'connectionTerminated',
      code,
      lastStreamId: this.lastAcceptedStreamId,
      debugData,
      byPeer: false,
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Receive flow control, driven by the application
  // -------------------------------------------------------------------------------------------------------------

  consume(streamId: number, bytes: number): void {
    if (!(bytes > 0) || this.terminated) return;
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      const closed = this.closedStreams.get(streamId);
      // Reset streams already returned their unconsumed bytes to the connection window.
      if (closed === STREAM_CLOSED_RESET_BY_PEER || closed === STREAM_CLOSED_RESET_BY_US) return;
      this.releaseConnectionWindow(bytes);
      return;
    }
    const amount = Math.min(bytes, stream.recvUnconsumed);
    if (amount <= 0) return;
    stream.recvUnconsumed -= amount;
    this.releaseConnectionWindow(amount);
    // No stream WINDOW_UPDATE once the peer finished sending (RFC 9113 §6.9: pointless on half-closed remote).
    if (!canReceive(stream.state)) return;
    stream.recvUnacked += amount;
    // Update once half the window is consumed: neither starving the peer nor flooding it with tiny updates.
    if (stream.recvUnacked >= this.streamRecvWindowTarget / 2 || stream.recvWindow < stream.recvUnacked) {
      const increment = Math.min(stream.recvUnacked, MAX_WINDOW_SIZE - stream.recvWindow);
      stream.recvUnacked = 0;
      if (increment > 0) {
        stream.recvWindow += increment;
        this.outWindowUpdate(streamId, increment);
      }
    }
  }

  private releaseConnectionWindow(bytes: number): void {
    if (bytes <= 0) return;
    this.connectionRecvUnacked += bytes;
    if (this.connectionRecvUnacked >= this.connectionWindowTarget / 2) {
      const increment = Math.min(this.connectionRecvUnacked, MAX_WINDOW_SIZE - this.connectionRecvWindow);
      this.connectionRecvUnacked = 0;
      if (increment > 0 && !this.terminated) {
        this.connectionRecvWindow += increment;
        this.outWindowUpdate(0, increment);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Send path
  // -------------------------------------------------------------------------------------------------------------

  /** The stream can still carry our frames (we have not ended or reset it). */
  private sendable(streamId: number): Stream | undefined {
    if (this.terminated) return undefined;
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.endQueued) return undefined;
    if (!canSend(stream.state)) return undefined;
    return stream;
  }

  sendHeaders(streamId: number, headers: HeaderList, endStream: boolean): void {
    const stream = this.sendable(streamId);
    if (stream === undefined) return;
    // RFC 9113 §8.1, §8.3.2: one final response per stream, starting with a non-1xx :status. Checked before anything
    // is encoded so that a misuse never reaches the wire (or the HPACK state).
    if (stream.finalSent) throw new Error(`stream ${streamId}: the final response headers were already sent`);
    if (headers[0] !== ':status' || !isFinalStatus(headers[1])) {
      throw new RangeError(`stream ${streamId}: response headers must start with ':status' and a final (200-999) status`);
    }
    stream.finalSent = true;
    this.outHeaders(streamId, stripConnectionSpecific(headers), endStream);
    if (endStream) this.localEnd(stream);
  }

  sendInformational(streamId: number, status: number, headers: HeaderList = []): void {
    // RFC 9113 §8.6: 101 (Switching Protocols) does not exist in HTTP/2.
    if (!Number.isInteger(status) || status < 100 || status > 199 || status === 101) {
      throw new RangeError(`informational status must be 1xx other than 101, got ${status}`);
    }
    const stream = this.sendable(streamId);
    if (stream === undefined) return;
    // RFC 9113 §8.1: informational responses only precede the final response.
    if (stream.finalSent) throw new Error(`stream ${streamId}: informational response after the final response`);
    this.outHeaders(streamId, [':status', String(status), ...stripConnectionSpecific(headers)], false);
  }

  sendData(streamId: number, data: Uint8Array, endStream: boolean): boolean {
    const stream = this.sendable(streamId);
    if (stream === undefined) return true;
    // RFC 9113 §8.1: DATA follows the response headers.
    if (!stream.finalSent) throw new Error(`stream ${streamId}: sendData() before sendHeaders()`);
    return this.scheduler.enqueue(stream, data, endStream);
  }

  sendTrailers(streamId: number, headers: HeaderList): void {
    const stream = this.sendable(streamId);
    if (stream === undefined) return;
    // RFC 9113 §8.1: trailers follow the response headers and carry no pseudo-header fields.
    if (!stream.finalSent) throw new Error(`stream ${streamId}: sendTrailers() before sendHeaders()`);
    for (let i = 0; i < headers.length; i += 2) {
      if (headers[i]!.charCodeAt(0) === 0x3a) throw new RangeError(`stream ${streamId}: pseudo-header ${headers[i]} in trailers`);
    }
    // Encoded when written (dataToSend), after the queued DATA: HPACK state must follow wire order.
    stream.trailers = stripConnectionSpecific(headers);
    stream.endQueued = true;
    this.scheduler.schedule(stream);
  }

  resetStream(streamId: number, code: number): void {
    if (this.terminated) return;
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.outRstStream(streamId, code);
    this.closeStream(stream, STREAM_CLOSED_RESET_BY_US);
  }

  ping(opaque: Uint8Array = new Uint8Array(8)): void {
    if (this.terminated) return;
    this.outPing(opaque, false);
  }

  goaway(code: number = ErrorCode.NO_ERROR, debugData?: Uint8Array): void {
    if (this.terminated) return;
    if (code !== ErrorCode.NO_ERROR) {
      this.terminate(code, debugData ?? EMPTY);
      return;
    }
    this.goawaySent = true;
    this.shutdownPingSentAt = -1;
    this.goawayStreamLimit = this.lastAcceptedStreamId;
    this.outGoaway(this.goawayStreamLimit, code, debugData);
  }

  shutdown(): void {
    if (this.terminated || this.goawaySent) return;
    // RFC 9113 §6.8: GOAWAY with 2^31-1 first, then (after a round trip, measured with PING) the real last id.
    this.goawaySent = true;
    this.goawayStreamLimit = MAX_WINDOW_SIZE;
    this.outGoaway(MAX_WINDOW_SIZE, ErrorCode.NO_ERROR, undefined);
    this.shutdownPingSentAt = this.now();
    this.outPing(SHUTDOWN_PING, false);
  }

  /** Second step of the graceful shutdown (RFC 9113 §6.8): GOAWAY with the last stream id actually processed. */
  private finishShutdown(): void {
    this.shutdownPingSentAt = -1;
    this.goawayStreamLimit = this.lastAcceptedStreamId;
    this.outGoaway(this.goawayStreamLimit, ErrorCode.NO_ERROR, undefined);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Timers, as data: the driver arms one timer for nextDeadline() and calls onTimeout() when it fires. Both use the
  // engine's clock (options.now). The rate budgets need none: token buckets refill from elapsed time when used.
  // -------------------------------------------------------------------------------------------------------------

  nextDeadline(): number | undefined {
    if (this.terminated) return undefined;
    let deadline = Infinity;
    const settingsSentAt = this.localSettingsNegotiation.oldestUnackedSentAt;
    if (settingsSentAt !== undefined) deadline = settingsSentAt + this.limits.settingsAckTimeout;
    if (this.shutdownPingSentAt >= 0) deadline = Math.min(deadline, this.shutdownPingSentAt + this.limits.shutdownPingTimeout);
    return deadline === Infinity ? undefined : deadline;
  }

  onTimeout(now: number): void {
    if (this.terminated) return;
    const settingsSentAt = this.localSettingsNegotiation.oldestUnackedSentAt;
    if (settingsSentAt !== undefined && now >= settingsSentAt + this.limits.settingsAckTimeout) {
      // RFC 9113 §6.5.3: a SETTINGS frame not acknowledged within a reasonable time → connection error
      // SETTINGS_TIMEOUT (a peer that never acknowledges may also be ignoring our limits).
      return this.connectionError(ErrorCode.SETTINGS_TIMEOUT, 'SETTINGS not acknowledged');
    }
    // RFC 9113 §6.8: the PING of the graceful shutdown is not answered: the final GOAWAY goes out anyway, so
    // shutting down never waits on the peer.
    if (this.shutdownPingSentAt >= 0 && now >= this.shutdownPingSentAt + this.limits.shutdownPingTimeout) this.finishShutdown();
  }

  updateSettings(settings: Partial<Settings>): void {
    if (this.terminated) return;
    const merged: Settings = { ...this.localSettings, ...settings };
    validateLocalSettings(merged);
    if (settings.maxHeaderListSize !== undefined) this.decoder.maxHeaderListSize = settings.maxHeaderListSize;
    Object.assign(this.localSettings, merged);
    this.outSettings(settingsEntries(settings, false));
    // Increases apply at once (the peer may use them as soon as it reads our SETTINGS); decreases on ACK (§6.5.3).
    this.localSettingsNegotiation.sent(settings, this.now());
    this.recomputeReceiveSettings();
  }

  dataToSend(maxBytes: number = Infinity): Uint8Array | null {
    if (!this.terminated) this.scheduler.write(maxBytes, this.remoteSettings.maxFrameSize, null);
    this.controlAnswersHandedOut();
    return this.writer.take();
  }

  dataToSendv(maxBytes: number = Infinity): Uint8Array[] | null {
    // With a trace hook every frame must be contiguous in the writer (traceWritten re-parses it): no views then.
    const parts: Uint8Array[] = [];
    if (!this.terminated) this.scheduler.write(maxBytes, this.remoteSettings.maxFrameSize, this.onFrame === undefined ? parts : null);
    this.controlAnswersHandedOut();
    const rest = this.writer.take();
    if (rest !== null) parts.push(rest);
    return parts.length > 0 ? parts : null;
  }

  /** Queued ACKs are handed out: the flood counters start again (CVE-2019-9512/9515 bounds). */
  private controlAnswersHandedOut(): void {
    this.pendingSettingsAcks = 0;
    this.pendingPingAcks = 0;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Output frames (+ trace)
  // -------------------------------------------------------------------------------------------------------------

  private outHeaders(sid: number, headers: HeaderList, endStream: boolean): void {
    const block = this.encoder.encode(headers);
    const start = this.writer.length;
    this.writer.headers(sid, block, endStream, this.remoteSettings.maxFrameSize);
    if (this.onFrame !== undefined) this.traceWritten(start, headers);
  }

  private outSettings(entries: Array<[number, number]>): void {
    const start = this.writer.length;
    this.writer.settings(entries);
    if (this.onFrame !== undefined) this.traceWritten(start);
  }

  private outSettingsAck(): void {
    const start = this.writer.length;
    this.writer.settingsAck();
    if (this.onFrame !== undefined) this.traceWritten(start);
  }

  private outWindowUpdate(sid: number, increment: number): void {
    const start = this.writer.length;
    this.writer.windowUpdate(sid, increment);
    if (this.onFrame !== undefined) this.traceWritten(start);
  }

  private outRstStream(sid: number, code: number): void {
    const start = this.writer.length;
    this.writer.rstStream(sid, code);
    if (this.onFrame !== undefined) this.traceWritten(start);
  }

  private outPing(opaque: Uint8Array, ack: boolean): void {
    const start = this.writer.length;
    this.writer.ping(opaque, ack);
    if (this.onFrame !== undefined) this.traceWritten(start);
  }

  private outGoaway(lastStreamId: number, code: number, debugData: Uint8Array | undefined): void {
    const start = this.writer.length;
    this.writer.goaway(lastStreamId, code, debugData);
    if (this.onFrame !== undefined) this.traceWritten(start);
  }

  /** Reports the frames written since `start` to the trace hook. */
  private traceWritten(start: number, headers?: HeaderList): void {
    const onFrame = this.onFrame!;
    const { frames } = splitFrames(this.writer.buf.subarray(start, this.writer.length));
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      const last = i === frames.length - 1;
      onFrame('out', traceFrame(f.type, f.flags, f.streamId, f.payload, last ? headers : undefined));
    }
  }
}

/**
 * A copy of bytes the engine keeps past the current receive() call. Not `buf.slice()`: on a Node.js Buffer that is
 * a view, and drivers may reuse their read buffers.
 */
function copyBytes(buf: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(buf.subarray(start, end));
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
