/**
 * H2Connection: the sans-IO HTTP/2 server engine (RFC 9113). Bytes in through receive(), events out; responses in
 * through sendHeaders()/sendData()/sendTrailers(), bytes out through dataToSend(). No timers, no sockets.
 *
 * Receive path: frames are parsed in place as views into the received buffer; only an incomplete tail is copied
 * across receive() calls. Send path: control frames and HEADERS are serialised at once into one growable output
 * buffer; DATA waits in per-stream queues (references, no copies) and is framed by dataToSend(), round-robin across
 * streams within the connection and stream flow-control windows.
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
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  MIN_MAX_FRAME_SIZE,
  latin1,
  splitFrames,
} from './frames.js';
import { resolveLimits } from './limits.js';
import { traceFrame } from './trace.js';
import type {
  H2ConnectionOptions,
  H2Engine,
  H2Event,
  H2Limits,
  HeaderList,
  RequestPseudoHeaders,
  Settings,
  TracedFrame,
} from './types.js';
import { ErrorCode, FrameType, SettingId } from './types.js';

// ---------------------------------------------------------------------------------------------------------------
// Stream states (RFC 9113 §5.1). A server without push never uses the "reserved" states. "Closed" is split by how
// the stream closed, because §5.1 prescribes different reactions to late frames for each.
// ---------------------------------------------------------------------------------------------------------------
/** Smallest DATA payload dataToSendv() hands out as a view: below it a copy is cheaper than another write buffer. */
const ZERO_COPY_MIN_FRAME = 2048;

const IDLE = 0;
const OPEN = 1;
/** We sent END_STREAM; the peer may still send. */
const HALF_CLOSED_LOCAL = 2;
/** The peer sent END_STREAM; we are still responding. */
const HALF_CLOSED_REMOTE = 3;
/** Both sides ended normally (the peer's END_STREAM was received). */
const CLOSED = 4;
const CLOSED_RESET_BY_PEER = 5;
/** We sent RST_STREAM (or refused/ignored the stream): late frames are ignored (§5.1). */
const CLOSED_RESET_BY_US = 6;
/** Closed so long ago it was forgotten (beyond maxClosedStreamsRemembered), or skipped over (§5.1.1). */
const CLOSED_FORGOTTEN = 7;
const STATE_COUNT = 8;

// Frame kinds the state table distinguishes.
const K_DATA = 0;
const K_HEADERS = 1;
const K_RST_STREAM = 2;
const K_WINDOW_UPDATE = 3;
const K_PRIORITY = 4;
const KIND_COUNT = 5;

// Reactions.
const ALLOW = 0;
const IGNORE = 1;
const STREAM_ERROR_STREAM_CLOSED = 2;
const CONNECTION_ERROR_STREAM_CLOSED = 3;
const CONNECTION_ERROR_PROTOCOL = 4;

/** RFC 9113 §5.1 as a table, built once: RECEIVE_RULES[state * KIND_COUNT + kind]. */
const RECEIVE_RULES = (() => {
  const t = new Uint8Array(STATE_COUNT * KIND_COUNT);
  const set = (state: number, rules: [number, number, number, number, number]) => {
    for (let kind = 0; kind < KIND_COUNT; kind++) t[state * KIND_COUNT + kind] = rules[kind]!;
  };
  //                        DATA                             HEADERS                          RST_STREAM  WINDOW_UPDATE PRIORITY
  // §5.1 idle: only HEADERS and PRIORITY; anything else is a connection PROTOCOL_ERROR.
  set(IDLE, [CONNECTION_ERROR_PROTOCOL, ALLOW, CONNECTION_ERROR_PROTOCOL, CONNECTION_ERROR_PROTOCOL, ALLOW]);
  set(OPEN, [ALLOW, ALLOW, ALLOW, ALLOW, ALLOW]);
  // §5.1 half-closed (local): the peer may send any frame.
  set(HALF_CLOSED_LOCAL, [ALLOW, ALLOW, ALLOW, ALLOW, ALLOW]);
  // §5.1 half-closed (remote): frames other than WINDOW_UPDATE, PRIORITY, RST_STREAM → stream error STREAM_CLOSED.
  set(HALF_CLOSED_REMOTE, [STREAM_ERROR_STREAM_CLOSED, STREAM_ERROR_STREAM_CLOSED, ALLOW, ALLOW, ALLOW]);
  // §5.1 closed: frames after the peer's END_STREAM → connection error STREAM_CLOSED; WINDOW_UPDATE/RST_STREAM can
  // legitimately arrive shortly after our END_STREAM and are ignored; PRIORITY is allowed in every state.
  set(CLOSED, [CONNECTION_ERROR_STREAM_CLOSED, CONNECTION_ERROR_STREAM_CLOSED, IGNORE, IGNORE, IGNORE]);
  // §5.1 closed: after receiving RST_STREAM, frames other than PRIORITY → stream error STREAM_CLOSED.
  set(CLOSED_RESET_BY_PEER, [STREAM_ERROR_STREAM_CLOSED, STREAM_ERROR_STREAM_CLOSED, IGNORE, IGNORE, IGNORE]);
  // §5.1 closed: "An endpoint MUST ignore frames that it receives on closed streams after it has sent a RST_STREAM".
  set(CLOSED_RESET_BY_US, [IGNORE, IGNORE, IGNORE, IGNORE, IGNORE]);
  // Forgotten or skipped: DATA becomes a stream error (as Go and nghttp2 do); a HEADERS frame would reuse or go
  // back below a used id (§5.1.1: connection PROTOCOL_ERROR).
  set(CLOSED_FORGOTTEN, [STREAM_ERROR_STREAM_CLOSED, CONNECTION_ERROR_PROTOCOL, IGNORE, IGNORE, IGNORE]);
  return t;
})();

/** What our local END_STREAM and the peer's END_STREAM do to a state (RFC 9113 §5.1 transitions). */
const AFTER_LOCAL_END = new Uint8Array([IDLE, HALF_CLOSED_LOCAL, HALF_CLOSED_LOCAL, CLOSED, CLOSED, 5, 6, 7]);
const AFTER_REMOTE_END = new Uint8Array([IDLE, HALF_CLOSED_REMOTE, CLOSED, HALF_CLOSED_REMOTE, CLOSED, 5, 6, 7]);

/** Opaque data of the PING that completes a graceful shutdown (RFC 9113 §6.8). */
const SHUTDOWN_PING = new Uint8Array([0x68, 0x74, 0x74, 0x70, 0x73, 0x64, 0x47, 0x41]); // "httpsdGA"
const EMPTY = new Uint8Array(0);
const textEncoder = new TextEncoder();

class Stream {
  state: number = OPEN;
  /** Our send window (RFC 9113 §6.9): may go negative after a SETTINGS_INITIAL_WINDOW_SIZE decrease (§6.9.2). */
  sendWindow: number;
  /** What the peer may still send us on this stream. */
  recvWindow: number;
  /** Consumed by the application but not yet returned with WINDOW_UPDATE. */
  recvUnacked = 0;
  /** Delivered in 'data' events and not yet consumed: returned to the connection window if the stream is reset. */
  recvUnconsumed = 0;
  /** content-length of the request, -1 if absent (RFC 9113 §8.1.1). */
  contentLength = -1;
  receivedBodyBytes = 0;
  /** The application saw a 'request' event for it: engine resets are reported as 'streamReset'. */
  known = false;
  /** A CONNECT request (RFC 9113 §8.5, RFC 8441): the stream carries only DATA and stream management frames. */
  tunnel = false;
  /** The final (non-1xx) response HEADERS went out: only DATA and trailers may follow (RFC 9113 §8.1). */
  finalSent = false;

  // Outbound DATA queue: references to the application's chunks.
  chunks: Uint8Array[] = [];
  chunkIndex = 0;
  chunkOffset = 0;
  queuedBytes = 0;
  /** END_STREAM (or trailers) is to follow the queued data. */
  endQueued = false;
  trailers: HeaderList | null = null;
  /** In the connection's send queue. */
  scheduled = false;
  /** sendData() returned false: emit 'streamWritable' once the queue drains below the high-water mark. */
  wantWritable = false;

  constructor(
    readonly id: number,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }
}

/** Token bucket: `burst` events at once, refilled at `ratePerSecond`. */
class Budget {
  private tokens: number;
  private last: number;
  private readonly ratePerMs: number;
  constructor(
    private readonly burst: number,
    ratePerSecond: number,
    now: number,
  ) {
    this.tokens = burst;
    this.ratePerMs = ratePerSecond / 1000;
    this.last = now;
  }
  take(now: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.ratePerMs);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

// Field validation tables (RFC 9113 §8.2.1, RFC 9110 §5.1 token characters, lowercase only).
const NAME_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

/** RFC 9113 §8.2.2: connection-specific fields are malformed in HTTP/2. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function validName(name: string, start: number): boolean {
  const n = name.length;
  if (n <= start) return false;
  for (let i = start; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c > 255 || NAME_CHAR[c] === 0) return false;
  }
  return true;
}

/** RFC 9113 §8.2.1: no NUL, CR or LF anywhere; no leading or trailing whitespace (SP, HTAB). */
function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  let c = value.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return false;
  c = value.charCodeAt(n - 1);
  if (c === 0x20 || c === 0x09) return false;
  for (let i = 0; i < n; i++) {
    c = value.charCodeAt(i);
    if (c === 0x00 || c === 0x0a || c === 0x0d) return false;
  }
  return true;
}

/** Parses a content-length value: digits only (RFC 9110 §8.6); -2 when invalid. */
function parseContentLength(value: string): number {
  const n = value.length;
  if (n === 0 || n > 15) return -2;
  let result = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -2;
    result = result * 10 + c;
  }
  return result;
}

function defaultRemoteSettings(): Settings {
  // RFC 9113 §6.5.2 initial values.
  return {
    headerTableSize: 4096,
    enablePush: true,
    maxConcurrentStreams: Infinity,
    initialWindowSize: DEFAULT_INITIAL_WINDOW_SIZE,
    maxFrameSize: MIN_MAX_FRAME_SIZE,
    maxHeaderListSize: Infinity,
    enableConnectProtocol: false,
  };
}

/** Default stream receive window we advertise: 1 MiB (a 64 KiB window caps throughput at 64 KiB per round trip). */
export const DEFAULT_STREAM_WINDOW_SIZE = 1024 * 1024;
/** Default connection receive window: 8 MiB, shared by all streams. */
export const DEFAULT_CONNECTION_WINDOW_SIZE = 8 * 1024 * 1024;

interface RequestValidation {
  pseudo: RequestPseudoHeaders;
  regularStart: number;
  contentLength: number;
}

export class H2Connection implements H2Engine {
  readonly limits: H2Limits;
  readonly localSettings: Settings;
  readonly remoteSettings: Settings = defaultRemoteSettings();

  private readonly now: () => number;
  private readonly onFrame: ((direction: 'in' | 'out', frame: TracedFrame) => void) | undefined;
  private readonly decoder: HpackDecoder;
  private readonly encoder: HpackEncoder;
  private readonly writer = new FrameWriter();
  /** Set while dataToSendv() frames DATA: large payloads are appended here as views instead of copied. */
  private vector: Uint8Array[] | null = null;
  private events: H2Event[] = [];

  // Receive state.
  private prefaceMatched = 0;
  private awaitingPeerSettings = true;
  private tail: Uint8Array | null = null;
  /** Connection error or engine-initiated termination: input is ignored from now on. */
  private dead = false;
  /** Tracing: the current frame ends a field block and is traced after decoding. */
  private deferredTrace: { type: number; flags: number; sid: number; payload: Uint8Array } | null = null;

  // Header block assembly (RFC 9113 §4.3): while non-zero, only CONTINUATION on this stream is allowed.
  private headerBlockStreamId = 0;
  private headerBlockFlags = 0;
  private headerBlockPriorityDependency = -1;
  private headerBlockChunks: Uint8Array[] = [];
  private headerBlockBytes = 0;
  private headerBlockContinuations = 0;

  // Streams.
  private readonly streams = new Map<number, Stream>();
  private readonly closedStreams = new Map<number, number>();
  private readonly closedOrder: number[] = [];
  private closedOrderHead = 0;
  private openStreams = 0;
  /** Highest client stream id seen (refused and ignored ones included): ids must increase (§5.1.1). */
  private maxClientStreamId = 0;
  private processedStreamId = 0;

  // Flow control.
  private connectionSendWindow = DEFAULT_INITIAL_WINDOW_SIZE;
  private connectionRecvWindow: number;
  private connectionRecvUnacked = 0;
  private readonly connectionWindowTarget: number;
  /**
   * Receive window of a new stream. RFC 9113 §6.5.3: until the peer acknowledges a SETTINGS frame it may use the
   * old or the new value, so we enforce the largest of the acknowledged and the pending values.
   */
  private streamRecvWindowTarget = DEFAULT_INITIAL_WINDOW_SIZE;
  /** Largest frame we accept: the acknowledged SETTINGS_MAX_FRAME_SIZE or a larger pending one (§6.5.3). */
  private recvMaxFrameSize = MIN_MAX_FRAME_SIZE;
  private sendQueue: Stream[] = [];
  /** A scheduled stream has only END_STREAM/trailers to send: writable even with no connection window. */
  private controlOnlyScheduled = false;
  private totalQueuedData = 0;

  // Settings negotiation.
  private readonly pendingLocalSettings: Array<Partial<Settings>> = [];
  /** Our settings as the peer has acknowledged them (RFC 9113 §6.5.2 defaults until the first ACK). */
  private readonly ackedLocalSettings = { initialWindowSize: DEFAULT_INITIAL_WINDOW_SIZE, maxFrameSize: MIN_MAX_FRAME_SIZE };
  private pendingSettingsAcks = 0;
  private pendingPingAcks = 0;

  // Shutdown.
  private goawaySent = false;
  private goawayReceived = false;
  private goawayLastStreamId = MAX_WINDOW_SIZE;
  private shutdownPingOutstanding = false;

  // Budgets (token buckets).
  private readonly rapidResetBudget: Budget;
  private readonly serverResetBudget: Budget;
  private readonly emptyFrameBudget: Budget;
  private readonly controlFrameBudget: Budget;

  constructor(options: H2ConnectionOptions = {}) {
    if (options.role !== undefined && options.role !== 'server') throw new RangeError('only the server role exists');
    const limits = resolveLimits(options.limits);
    this.limits = limits;
    this.now = options.now ?? Date.now;
    this.onFrame = options.onFrame;
    const now = this.now();
    this.rapidResetBudget = new Budget(limits.rapidResetBurst, limits.rapidResetRatePerSecond, now);
    this.serverResetBudget = new Budget(limits.serverResetBurst, limits.serverResetRatePerSecond, now);
    this.emptyFrameBudget = new Budget(limits.emptyFrameBurst, limits.emptyFrameRatePerSecond, now);
    this.controlFrameBudget = new Budget(limits.controlFrameBurst, limits.controlFrameRatePerSecond, now);

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
    this.encoder = new HpackEncoder({ maxTableSize: 4096 });

    const connectionWindow = options.connectionWindowSize ?? DEFAULT_CONNECTION_WINDOW_SIZE;
    if (!Number.isInteger(connectionWindow) || connectionWindow < 1 || connectionWindow > MAX_WINDOW_SIZE) {
      throw new RangeError(`connectionWindowSize must be an integer in 1..2^31-1, got ${connectionWindow}`);
    }
    // RFC 9113 §6.9.2: the connection window starts at 65535 and can only grow; a smaller target is not enforceable.
    this.connectionWindowTarget = Math.max(connectionWindow, DEFAULT_INITIAL_WINDOW_SIZE);
    this.connectionRecvWindow = this.connectionWindowTarget;

    // RFC 9113 §3.4: the server connection preface is a SETTINGS frame, sent first.
    this.outSettings(settingsEntries(local, true));
    this.pendingLocalSettings.push({ ...local });
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
    return (
      this.writer.length > 0 ||
      (this.sendQueue.length > 0 && (this.connectionSendWindow > 0 || this.controlOnlyScheduled))
    );
  }

  get bufferedBytes(): number {
    return this.writer.length + Math.min(this.totalQueuedData, Math.max(0, this.connectionSendWindow));
  }

  get openStreamCount(): number {
    return this.openStreams;
  }

  get isClosing(): boolean {
    return this.goawaySent || this.goawayReceived || this.dead;
  }

  get isDone(): boolean {
    return (
      this.isClosing &&
      !this.shutdownPingOutstanding &&
      this.openStreams === 0 &&
      this.writer.length === 0 &&
      (this.dead || this.sendQueue.length === 0)
    );
  }

  get lastStreamId(): number {
    return this.processedStreamId;
  }

  /** Connection-level send window (what we may still send), for diagnostics and tests. */
  get connectionSendWindowSize(): number {
    return this.connectionSendWindow;
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
    if (!this.dead && bytes.length > 0) this.receiveInto(bytes);
    this.events = [];
    return events;
  }

  private receiveInto(bytes: Uint8Array): void {
    let buf = bytes;
    if (this.tail !== null) {
      const joined = new Uint8Array(this.tail.length + bytes.length);
      joined.set(this.tail);
      joined.set(bytes, this.tail.length);
      buf = joined;
      this.tail = null;
    }
    const end = buf.length;
    let offset = 0;

    // RFC 9113 §3.4: the client connection preface, byte for byte; anything else is a connection PROTOCOL_ERROR.
    if (this.prefaceMatched < CONNECTION_PREFACE.length) {
      while (this.prefaceMatched < CONNECTION_PREFACE.length && offset < end) {
        if (buf[offset] !== CONNECTION_PREFACE[this.prefaceMatched]) {
          this.connectionError(ErrorCode.PROTOCOL_ERROR, 'invalid connection preface');
          return;
        }
        offset++;
        this.prefaceMatched++;
      }
      if (this.prefaceMatched < CONNECTION_PREFACE.length) return;
    }

    const maxFrameSize = this.recvMaxFrameSize;
    while (end - offset >= FRAME_HEADER_LENGTH) {
      const length = (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
      // RFC 9113 §4.2: checked on the header, before the payload is buffered.
      if (length > maxFrameSize) {
        this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'frame larger than SETTINGS_MAX_FRAME_SIZE');
        return;
      }
      if (end - offset - FRAME_HEADER_LENGTH < length) break;
      const type = buf[offset + 3]!;
      const flags = buf[offset + 4]!;
      // RFC 9113 §4.1: the reserved bit is ignored on receipt.
      const streamId =
        ((buf[offset + 5]! & 0x7f) << 24) | (buf[offset + 6]! << 16) | (buf[offset + 7]! << 8) | buf[offset + 8]!;
      const start = offset + FRAME_HEADER_LENGTH;
      offset = start + length;
      this.processFrame(buf, start, length, type, flags, streamId);
      if (this.dead) return;
    }
    if (offset < end) this.tail = copyBytes(buf, offset, end);
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
    switch (type) {
      case FrameType.DATA:
        return this.onData(buf, p, length, flags, sid);
      case FrameType.HEADERS:
        return this.onHeaders(buf, p, length, flags, sid);
      case FrameType.PRIORITY:
        return this.onPriority(buf, p, length, sid);
      case FrameType.RST_STREAM:
        return this.onRstStream(buf, p, length, sid);
      case FrameType.SETTINGS:
        return this.onSettings(buf, p, length, flags, sid);
      case FrameType.PUSH_PROMISE:
        // RFC 9113 §8.4: a client cannot push.
        return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE from a client');
      case FrameType.PING:
        return this.onPing(buf, p, length, flags, sid);
      case FrameType.GOAWAY:
        return this.onGoaway(buf, p, length, sid);
      case FrameType.WINDOW_UPDATE:
        return this.onWindowUpdate(buf, p, length, sid);
      case FrameType.CONTINUATION:
        return this.onContinuation(buf, p, length, flags, sid);
      case FrameType.PRIORITY_UPDATE:
        return this.onPriorityUpdate(buf, p, length, sid);
      default:
        // RFC 9113 §4.1, §5.5: unknown frame types are ignored (but still cost the peer's control budget).
        if (!this.controlFrameBudget.take(this.now())) this.calm('control frame flood');
        return;
    }
  }

  private stateOf(sid: number): number {
    const stream = this.streams.get(sid);
    if (stream !== undefined) return stream.state;
    const closed = this.closedStreams.get(sid);
    if (closed !== undefined) return closed;
    // RFC 9113 §5.1.1: opening a stream implicitly closes all idle streams with lower ids.
    if (sid % 2 === 1 && sid <= this.maxClientStreamId) return CLOSED_FORGOTTEN;
    return IDLE;
  }

  private onData(buf: Uint8Array, p: number, length: number, flags: number, sid: number): void {
    // RFC 9113 §6.1: DATA on stream 0 is a connection PROTOCOL_ERROR.
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    let start = p;
    let dataEnd = p + length;
    if (flags & FLAG_PADDED) {
      // RFC 9113 §4.2: too small to hold the Pad Length field.
      if (length < 1) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded DATA without pad length');
      const padLength = buf[p]!;
      // RFC 9113 §6.1: padding as long as the payload or longer is a connection PROTOCOL_ERROR.
      if (padLength >= length) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding too long');
      start = p + 1;
      dataEnd = p + length - padLength;
    }
    // RFC 9113 §6.9.1: the whole payload (padding included) counts against the connection window, in every state.
    if (length > this.connectionRecvWindow) {
      return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA exceeds the connection window');
    }
    this.connectionRecvWindow -= length;
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    // Empty-frame flood (CVE-2019-9518): no data (padding only counts as none) and no END_STREAM.
    if (dataEnd === start && !endStream && !this.emptyFrameBudget.take(this.now())) {
      return this.calm('empty DATA frame flood');
    }

    const stream = this.streams.get(sid);
    const state = stream !== undefined ? stream.state : this.stateOf(sid);
    const rule = RECEIVE_RULES[state * KIND_COUNT + K_DATA]!;
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
    // RFC 9113 §6.2: HEADERS on stream 0 is a connection PROTOCOL_ERROR.
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    let start = p;
    let end = p + length;
    let padLength = 0;
    if (flags & FLAG_PADDED) {
      if (length < 1) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'padded HEADERS without pad length');
      padLength = buf[p]!;
      start++;
    }
    let dependency = -1;
    if (flags & FLAG_PRIORITY) {
      // RFC 9113 §4.2: too small for the mandatory priority fields. Field blocks: always a connection error.
      if (end - start < 5) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS too short for priority');
      dependency = ((buf[start]! & 0x7f) << 24) | (buf[start + 1]! << 16) | (buf[start + 2]! << 8) | buf[start + 3]!;
      start += 5;
    }
    // RFC 9113 §6.2: padding exceeding the remaining space is a connection PROTOCOL_ERROR.
    if (padLength > end - start) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding too long');
    end -= padLength;
    const fragmentLength = end - start;
    if (fragmentLength > this.limits.maxHeaderBlockBytes) return this.calm('header block too large');
    if (flags & FLAG_END_HEADERS) {
      this.finishHeaderBlock(sid, flags, dependency, buf.subarray(start, end));
      return;
    }
    if (fragmentLength === 0 && !this.emptyFrameBudget.take(this.now())) return this.calm('empty HEADERS flood');
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
    if (++this.headerBlockContinuations > this.limits.maxContinuationFrames) return this.calm('too many CONTINUATION frames');
    this.headerBlockBytes += length;
    if (this.headerBlockBytes > this.limits.maxHeaderBlockBytes) return this.calm('header block too large');
    if (!(flags & FLAG_END_HEADERS)) {
      if (length === 0 && !this.emptyFrameBudget.take(this.now())) return this.calm('empty CONTINUATION flood');
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
      const rule = RECEIVE_RULES[stream.state * KIND_COUNT + K_HEADERS]!;
      if (rule !== ALLOW) return this.applyRule(rule, sid, stream, 'HEADERS');
      // RFC 9113 §5.3.1: a stream cannot depend on itself.
      if (dependency === sid) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
      return this.onTrailers(stream, headers, endStream, tooLarge);
    }
    const state = this.stateOf(sid);
    if (state !== IDLE) return this.applyRule(RECEIVE_RULES[state * KIND_COUNT + K_HEADERS]!, sid, undefined, 'HEADERS');
    // RFC 9113 §5.1.1: client-initiated streams use odd identifiers.
    if (sid % 2 === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'even stream id from a client');
    this.maxClientStreamId = sid;
    // RFC 9113 §6.8: streams above the last id of a GOAWAY we sent are not processed (the client retries them).
    if (this.goawaySent && sid > this.goawayLastStreamId) {
      this.rememberClosed(sid, CLOSED_RESET_BY_US);
      return;
    }
    // RFC 9113 §5.3.1: a stream cannot depend on itself.
    if (dependency === sid) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, undefined);
    // RFC 9113 §5.1.2: beyond SETTINGS_MAX_CONCURRENT_STREAMS → stream error REFUSED_STREAM (retryable).
    if (this.openStreams >= this.localSettings.maxConcurrentStreams) {
      return this.streamError(sid, ErrorCode.REFUSED_STREAM, undefined);
    }
    if (tooLarge) return this.answerHeadersTooLarge(sid, endStream);
    const request = this.validateRequest(headers, endStream);
    // RFC 9113 §8.1.1: malformed requests are stream errors of type PROTOCOL_ERROR.
    if (request === null) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, undefined);

    const created = this.openStream(sid);
    created.contentLength = request.contentLength;
    created.known = true;
    created.tunnel = request.pseudo.method === 'CONNECT';
    this.processedStreamId = sid;
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
    this.streams.set(sid, stream);
    this.openStreams++;
    return stream;
  }

  /**
   * A request whose field section exceeds SETTINGS_MAX_HEADER_LIST_SIZE: answered by the engine with 431 and
   * END_STREAM (RFC 6585 §5); a body still coming is stopped with RST_STREAM(NO_ERROR) (RFC 9113 §8.1).
   */
  private answerHeadersTooLarge(sid: number, endStream: boolean): void {
    if (!this.serverResetBudget.take(this.now())) return this.calm('too many oversized header lists');
    const stream = this.openStream(sid);
    this.processedStreamId = sid;
    if (endStream) stream.state = HALF_CLOSED_REMOTE;
    this.outHeaders(sid, [':status', '431', 'content-length', '0'], true);
    this.localEnd(stream);
    if (!endStream) {
      this.outRstStream(sid, ErrorCode.NO_ERROR);
      this.closeStream(stream, CLOSED_RESET_BY_US);
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
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (!validName(name, 0) || !validValue(headers[i + 1]!) || CONNECTION_SPECIFIC.has(name)) {
        return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
      }
    }
    // RFC 9113 §8.1.1: the body ends here; content-length must match.
    if (stream.contentLength >= 0 && stream.receivedBodyBytes !== stream.contentLength) {
      return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
    }
    this.events.push({ type: 'trailers', streamId: sid, headers });
    this.remoteEnd(stream);
  }

  /** RFC 9113 §8.2, §8.3.1, §8.5 and RFC 8441 §4. Returns null for a malformed request. */
  private validateRequest(headers: HeaderList, endStream: boolean): RequestValidation | null {
    let method: string | undefined;
    let scheme: string | undefined;
    let authority: string | undefined;
    let path: string | undefined;
    let protocol: string | undefined;
    const n = headers.length;
    let i = 0;
    // RFC 9113 §8.3: pseudo-header fields come first, each at most once, only the defined request ones.
    for (; i < n; i += 2) {
      const name = headers[i]!;
      if (name.charCodeAt(0) !== 0x3a) break;
      const value = headers[i + 1]!;
      if (!validValue(value)) return null;
      switch (name) {
        case ':method':
          if (method !== undefined || value.length === 0 || !validToken(value)) return null;
          method = value;
          break;
        case ':scheme':
          if (scheme !== undefined || value.length === 0) return null;
          scheme = value;
          break;
        case ':authority':
          if (authority !== undefined) return null;
          authority = value;
          break;
        case ':path':
          if (path !== undefined) return null;
          path = value;
          break;
        case ':protocol':
          // RFC 8441 §4: only when we advertised SETTINGS_ENABLE_CONNECT_PROTOCOL.
          if (protocol !== undefined || !this.localSettings.enableConnectProtocol || value.length === 0) return null;
          protocol = value;
          break;
        default:
          // Unknown pseudo-headers and response pseudo-headers (:status) make the request malformed.
          return null;
      }
    }
    const regularStart = i;
    let contentLength = -1;
    let host: string | undefined;
    for (; i < n; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      // RFC 9113 §8.2.1: lowercase token names only (a pseudo-header after a regular field fails here too, §8.3).
      if (!validName(name, 0) || !validValue(value)) return null;
      const c = name.charCodeAt(0);
      if (c === 0x63 /* c */) {
        if (name === 'content-length') {
          const parsed = parseContentLength(value);
          // RFC 9110 §8.6: repeated values must agree.
          if (parsed < 0 || (contentLength >= 0 && parsed !== contentLength)) return null;
          contentLength = parsed;
        } else if (name === 'connection') return null;
      } else if (c === 0x74 /* t */) {
        // RFC 9113 §8.2.2: TE may only carry "trailers"; transfer-encoding is connection-specific.
        if (name === 'te' && value !== 'trailers') return null;
        if (name === 'transfer-encoding') return null;
      } else if (c === 0x6b || c === 0x70 || c === 0x75) {
        if (name === 'keep-alive' || name === 'proxy-connection' || name === 'upgrade') return null;
      } else if (c === 0x68 && name === 'host') {
        host = value;
      }
    }
    if (method === undefined) return null;
    if (method === 'CONNECT' && protocol === undefined) {
      // RFC 9113 §8.5: CONNECT carries :authority only; :scheme and :path are omitted.
      if (scheme !== undefined || path !== undefined || authority === undefined || authority.length === 0) return null;
    } else {
      // RFC 8441 §4: :protocol only with CONNECT.
      if (protocol !== undefined && method !== 'CONNECT') return null;
      // RFC 9113 §8.3.1: :method, :scheme and :path are mandatory; :path is never empty for http(s).
      if (scheme === undefined || path === undefined || path.length === 0) return null;
      // :path is origin-form ("/...") or "*" for OPTIONS (RFC 9113 §8.3.1, RFC 9110 §7.1).
      if (path.charCodeAt(0) !== 0x2f && !(path === '*' && method === 'OPTIONS')) return null;
      if (protocol !== undefined && authority === undefined) return null;
    }
    // RFC 9113 §8.3.1: no userinfo in :authority; a Host that differs from :authority is malformed (SHOULD).
    if (authority !== undefined && authority.includes('@')) return null;
    if (host !== undefined && authority !== undefined && host !== authority && host.toLowerCase() !== authority.toLowerCase()) {
      return null;
    }
    // RFC 9113 §8.1.1: END_STREAM on HEADERS means a zero-length body.
    if (endStream && contentLength > 0) return null;
    return { pseudo: { method, scheme, authority, path, protocol }, regularStart, contentLength };
  }

  private onPriority(buf: Uint8Array, p: number, length: number, sid: number): void {
    // RFC 9113 §6.3: stream 0 → connection PROTOCOL_ERROR; length other than 5 → stream FRAME_SIZE_ERROR.
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
    if (!this.controlFrameBudget.take(this.now())) return this.calm('PRIORITY flood');
    if (length !== 5) return this.priorityError(sid, ErrorCode.FRAME_SIZE_ERROR);
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

  private onRstStream(buf: Uint8Array, p: number, length: number, sid: number): void {
    // RFC 9113 §6.4: stream 0 → connection PROTOCOL_ERROR; length other than 4 → connection FRAME_SIZE_ERROR.
    if (sid === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (length !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM length != 4');
    const stream = this.streams.get(sid);
    const state = stream !== undefined ? stream.state : this.stateOf(sid);
    const rule = RECEIVE_RULES[state * KIND_COUNT + K_RST_STREAM]!;
    if (rule !== ALLOW || stream === undefined) {
      if (rule === IGNORE && !this.controlFrameBudget.take(this.now())) return this.calm('RST_STREAM flood');
      // RFC 9113 §6.4: RST_STREAM on an idle stream is a connection PROTOCOL_ERROR.
      return this.applyRule(rule, sid, stream, 'RST_STREAM');
    }
    const code = ((buf[p]! << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!) >>> 0;
    this.closeStream(stream, CLOSED_RESET_BY_PEER);
    if (stream.known) this.events.push({ type: 'streamReset', streamId: sid, code, byPeer: true });
    // HTTP/2 Rapid Reset (CVE-2023-44487): requests opened and cancelled faster than the budget allows.
    if (!this.rapidResetBudget.take(this.now())) this.calm('rapid reset');
  }

  private onSettings(buf: Uint8Array, p: number, length: number, flags: number, sid: number): void {
    // RFC 9113 §6.5: SETTINGS applies to the connection (stream 0 only).
    if (sid !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & FLAG_ACK) {
      // RFC 9113 §6.5: an ACK with a payload is a connection FRAME_SIZE_ERROR.
      if (length !== 0) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with payload');
      if (!this.controlFrameBudget.take(this.now())) return this.calm('SETTINGS ACK flood');
      this.onSettingsAck();
      return;
    }
    // RFC 9113 §6.5: length must be a multiple of 6.
    if (length % 6 !== 0) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS length not a multiple of 6');
    if (length / 6 > this.limits.maxSettingsEntriesPerFrame) return this.calm('too many SETTINGS entries');
    if (!this.awaitingPeerSettings && !this.controlFrameBudget.take(this.now())) return this.calm('SETTINGS flood');
    this.awaitingPeerSettings = false;
    const changed: Partial<Settings> = {};
    const remote = this.remoteSettings;
    // RFC 9113 §6.5.3: values are processed in the order they appear.
    for (let o = p; o < p + length; o += 6) {
      const id = (buf[o]! << 8) | buf[o + 1]!;
      const value = ((buf[o + 2]! << 24) | (buf[o + 3]! << 16) | (buf[o + 4]! << 8) | buf[o + 5]!) >>> 0;
      switch (id) {
        case SettingId.HEADER_TABLE_SIZE:
          remote.headerTableSize = changed.headerTableSize = value;
          this.encoder.setMaxTableSize(value);
          break;
        case SettingId.ENABLE_PUSH:
          // RFC 9113 §6.5.2: only 0 or 1.
          if (value > 1) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH not 0 or 1');
          remote.enablePush = changed.enablePush = value === 1;
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          remote.maxConcurrentStreams = changed.maxConcurrentStreams = value;
          break;
        case SettingId.INITIAL_WINDOW_SIZE: {
          // RFC 9113 §6.5.2: above 2^31-1 is a connection FLOW_CONTROL_ERROR.
          if (value > MAX_WINDOW_SIZE) {
            return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE too large');
          }
          const delta = value - remote.initialWindowSize;
          remote.initialWindowSize = changed.initialWindowSize = value;
          if (delta !== 0 && !this.applyInitialWindowDelta(delta)) return;
          break;
        }
        case SettingId.MAX_FRAME_SIZE:
          // RFC 9113 §6.5.2: 2^14..2^24-1, else connection PROTOCOL_ERROR.
          if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
            return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_MAX_FRAME_SIZE out of range');
          }
          remote.maxFrameSize = changed.maxFrameSize = value;
          break;
        case SettingId.MAX_HEADER_LIST_SIZE:
          remote.maxHeaderListSize = changed.maxHeaderListSize = value;
          break;
        case SettingId.ENABLE_CONNECT_PROTOCOL:
          // RFC 8441 §3: 0 or 1.
          if (value > 1) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_CONNECT_PROTOCOL not 0 or 1');
          remote.enableConnectProtocol = changed.enableConnectProtocol = value === 1;
          break;
        case SettingId.NO_RFC7540_PRIORITIES:
          // RFC 9218 §2.1: 0 or 1.
          if (value > 1) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_NO_RFC7540_PRIORITIES not 0 or 1');
          break;
        default:
        // RFC 9113 §6.5.2: unknown settings are ignored.
      }
    }
    // RFC 9113 §6.5.3: acknowledge. A peer that floods SETTINGS without reading is cut off (CVE-2019-9515).
    if (++this.pendingSettingsAcks > this.limits.maxPendingSettingsAcks) return this.calm('SETTINGS ACKs not drained');
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
      if (delta > 0 && stream.sendWindow > 0 && (stream.queuedBytes > 0 || stream.endQueued)) this.schedule(stream);
    }
    return true;
  }

  private onSettingsAck(): void {
    const acked = this.pendingLocalSettings.shift();
    if (acked !== undefined) {
      // Decreases take effect once the peer has acknowledged them (RFC 9113 §6.5.3).
      if (acked.headerTableSize !== undefined) this.decoder.setMaxTableSize(acked.headerTableSize);
      if (acked.initialWindowSize !== undefined) this.ackedLocalSettings.initialWindowSize = acked.initialWindowSize;
      if (acked.maxFrameSize !== undefined) this.ackedLocalSettings.maxFrameSize = acked.maxFrameSize;
      this.recomputeReceiveSettings();
    }
    this.events.push({ type: 'settingsAcknowledged' });
  }

  /**
   * RFC 9113 §6.5.3 / §6.9.2: the receive-side limits are the largest of the acknowledged and pending values; when
   * they change, open streams' receive windows move by the difference (and may go negative after a decrease).
   */
  private recomputeReceiveSettings(): void {
    let window = this.ackedLocalSettings.initialWindowSize;
    let frameSize = this.ackedLocalSettings.maxFrameSize;
    for (const pending of this.pendingLocalSettings) {
      if (pending.initialWindowSize !== undefined && pending.initialWindowSize > window) window = pending.initialWindowSize;
      if (pending.maxFrameSize !== undefined && pending.maxFrameSize > frameSize) frameSize = pending.maxFrameSize;
    }
    this.recvMaxFrameSize = frameSize;
    const delta = window - this.streamRecvWindowTarget;
    if (delta !== 0) {
      this.streamRecvWindowTarget = window;
      for (const stream of this.streams.values()) stream.recvWindow += delta;
    }
  }

  private onPing(buf: Uint8Array, p: number, length: number, flags: number, sid: number): void {
    // RFC 9113 §6.7: stream 0 only; exactly 8 octets.
    if (sid !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (length !== 8) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING length != 8');
    // PING flood (CVE-2019-9512), ACKs included: each one is work and an event.
    if (!this.controlFrameBudget.take(this.now())) return this.calm('PING flood');
    const data = copyBytes(buf, p, p + 8);
    if (flags & FLAG_ACK) {
      if (this.shutdownPingOutstanding && equalBytes(data, SHUTDOWN_PING)) {
        // RFC 9113 §6.8: second step of the graceful shutdown, now that in-flight streams have arrived.
        this.shutdownPingOutstanding = false;
        this.goawayLastStreamId = this.processedStreamId;
        this.outGoaway(this.goawayLastStreamId, ErrorCode.NO_ERROR, undefined);
      }
      this.events.push({ type: 'pingAck', data });
      return;
    }
    // ACKs pile up when the peer does not read what we write.
    if (++this.pendingPingAcks > this.limits.maxPendingPingAcks) return this.calm('PING ACKs not drained');
    this.outPing(data, true);
    this.events.push({ type: 'ping', data });
  }

  private onGoaway(buf: Uint8Array, p: number, length: number, sid: number): void {
    // RFC 9113 §6.8: stream 0 only; at least 8 octets.
    if (sid !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (length < 8) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 octets');
    if (!this.controlFrameBudget.take(this.now())) return this.calm('GOAWAY flood');
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

  private onWindowUpdate(buf: Uint8Array, p: number, length: number, sid: number): void {
    // RFC 9113 §6.9: exactly 4 octets, else connection FRAME_SIZE_ERROR.
    if (length !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length != 4');
    const increment = ((buf[p]! & 0x7f) << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    if (sid === 0) {
      // RFC 9113 §6.9: a zero increment on the connection is a connection PROTOCOL_ERROR.
      if (increment === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE increment 0');
      // RFC 9113 §6.9.1: a window above 2^31-1 is a connection FLOW_CONTROL_ERROR.
      if (this.connectionSendWindow + increment > MAX_WINDOW_SIZE) {
        return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
      }
      this.connectionSendWindow += increment;
      this.events.push({ type: 'windowUpdated', streamId: 0, increment });
      return;
    }
    const stream = this.streams.get(sid);
    const state = stream !== undefined ? stream.state : this.stateOf(sid);
    const rule = RECEIVE_RULES[state * KIND_COUNT + K_WINDOW_UPDATE]!;
    if (rule !== ALLOW || stream === undefined) {
      if (rule === IGNORE && !this.controlFrameBudget.take(this.now())) return this.calm('WINDOW_UPDATE flood');
      return this.applyRule(rule, sid, stream, 'WINDOW_UPDATE');
    }
    // RFC 9113 §6.9: a zero increment on a stream is a stream PROTOCOL_ERROR.
    if (increment === 0) return this.streamError(sid, ErrorCode.PROTOCOL_ERROR, stream);
    // RFC 9113 §6.9.1: a stream window above 2^31-1 is a stream FLOW_CONTROL_ERROR.
    if (stream.sendWindow + increment > MAX_WINDOW_SIZE) return this.streamError(sid, ErrorCode.FLOW_CONTROL_ERROR, stream);
    stream.sendWindow += increment;
    if (stream.sendWindow > 0 && (stream.queuedBytes > 0 || stream.endQueued)) this.schedule(stream);
    this.events.push({ type: 'windowUpdated', streamId: sid, increment });
  }

  private onPriorityUpdate(buf: Uint8Array, p: number, length: number, sid: number): void {
    // RFC 9218 §7.1: PRIORITY_UPDATE is sent on stream 0 and carries at least the prioritized stream id.
    if (sid !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY_UPDATE on a stream');
    if (length < 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PRIORITY_UPDATE too short');
    if (!this.controlFrameBudget.take(this.now())) return this.calm('PRIORITY_UPDATE flood');
    const prioritized = ((buf[p]! & 0x7f) << 24) | (buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!;
    // RFC 9218 §7.1: a Prioritized Stream ID of 0 is a connection PROTOCOL_ERROR.
    if (prioritized === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY_UPDATE for stream 0');
    this.events.push({ type: 'priorityUpdate', streamId: prioritized, value: latin1(buf, p + 4, p + length) });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Stream lifecycle
  // -------------------------------------------------------------------------------------------------------------

  private remoteEnd(stream: Stream): void {
    stream.state = AFTER_REMOTE_END[stream.state]!;
    this.events.push({ type: 'streamEnded', streamId: stream.id });
    if (stream.state === CLOSED) this.closeStream(stream, CLOSED);
  }

  private localEnd(stream: Stream): void {
    stream.state = AFTER_LOCAL_END[stream.state]!;
    if (stream.state === CLOSED) this.closeStream(stream, CLOSED);
  }

  private closeStream(stream: Stream, closedState: number): void {
    if (!this.streams.delete(stream.id)) return;
    this.openStreams--;
    stream.state = closedState;
    if (stream.queuedBytes > 0) {
      this.totalQueuedData -= stream.queuedBytes;
      stream.queuedBytes = 0;
    }
    stream.chunks = [];
    stream.trailers = null;
    stream.endQueued = false;
    // Data the application never consumed goes back to the connection window (its stream is gone).
    if (closedState !== CLOSED && stream.recvUnconsumed > 0) {
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
    if (this.closedStreams.size >= capacity) {
      const oldest = this.closedOrder[this.closedOrderHead]!;
      this.closedStreams.delete(oldest);
      this.closedOrder[this.closedOrderHead] = sid;
      this.closedOrderHead = (this.closedOrderHead + 1) % capacity;
    } else {
      this.closedOrder.push(sid);
    }
    this.closedStreams.set(sid, closedState);
  }

  /** RFC 9113 §5.4.2: RST_STREAM for a stream error. Counted against the MadeYouReset budget (CVE-2025-8671). */
  private streamError(sid: number, code: number, stream: Stream | undefined): void {
    if (!this.serverResetBudget.take(this.now())) return this.calm('too many stream errors');
    this.outRstStream(sid, code);
    if (stream !== undefined && this.streams.has(sid)) {
      this.closeStream(stream, CLOSED_RESET_BY_US);
      if (stream.known) this.events.push({ type: 'streamReset', streamId: sid, code, byPeer: false });
    } else if (sid <= this.maxClientStreamId || this.closedStreams.has(sid)) {
      this.rememberClosed(sid, CLOSED_RESET_BY_US);
    }
  }

  /** RFC 9113 §5.4.1: GOAWAY with the last processed stream id, then nothing more is read. */
  private connectionError(code: number, message: string): void {
    if (this.dead) return;
    this.terminate(code, textEncoder.encode(message));
  }

  /** A DoS budget was exceeded: GOAWAY(ENHANCE_YOUR_CALM). */
  private calm(what: string): void {
    this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, what);
  }

  private terminate(code: number, debugData: Uint8Array): void {
    if (this.onFrame !== undefined) this.flushDeferredTrace(undefined);
    this.dead = true;
    this.shutdownPingOutstanding = false;
    this.headerBlockStreamId = 0;
    this.headerBlockChunks = [];
    this.tail = null;
    this.outGoaway(this.processedStreamId, code, debugData);
    for (const stream of this.streams.values()) {
      stream.state = CLOSED_RESET_BY_US;
      stream.chunks = [];
      stream.queuedBytes = 0;
    }
    this.streams.clear();
    this.openStreams = 0;
    this.sendQueue = [];
    this.totalQueuedData = 0;
    this.events.push({
      type: 'connectionTerminated',
      code,
      lastStreamId: this.processedStreamId,
      debugData,
      byPeer: false,
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Receive flow control, driven by the application
  // -------------------------------------------------------------------------------------------------------------

  consume(streamId: number, bytes: number): void {
    if (!(bytes > 0) || this.dead) return;
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      const closed = this.closedStreams.get(streamId);
      // Reset streams already returned their unconsumed bytes to the connection window.
      if (closed === CLOSED_RESET_BY_PEER || closed === CLOSED_RESET_BY_US) return;
      this.releaseConnectionWindow(bytes);
      return;
    }
    const amount = Math.min(bytes, stream.recvUnconsumed);
    if (amount <= 0) return;
    stream.recvUnconsumed -= amount;
    this.releaseConnectionWindow(amount);
    // No stream WINDOW_UPDATE once the peer finished sending (RFC 9113 §6.9: pointless on half-closed remote).
    if (stream.state !== OPEN && stream.state !== HALF_CLOSED_LOCAL) return;
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
      if (increment > 0 && !this.dead) {
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
    if (this.dead) return undefined;
    const stream = this.streams.get(streamId);
    if (stream === undefined || stream.endQueued) return undefined;
    if (stream.state !== OPEN && stream.state !== HALF_CLOSED_REMOTE) return undefined;
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
    if (data.length > 0) {
      stream.chunks.push(data);
      stream.queuedBytes += data.length;
      this.totalQueuedData += data.length;
    }
    if (endStream) stream.endQueued = true;
    if (data.length > 0 || endStream) this.schedule(stream);
    if (stream.queuedBytes > this.limits.streamHighWaterMark) {
      stream.wantWritable = true;
      return false;
    }
    return true;
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
    this.schedule(stream);
  }

  resetStream(streamId: number, code: number): void {
    if (this.dead) return;
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.outRstStream(streamId, code);
    this.closeStream(stream, CLOSED_RESET_BY_US);
  }

  ping(opaque: Uint8Array = new Uint8Array(8)): void {
    if (this.dead) return;
    this.outPing(opaque, false);
  }

  goaway(code: number = ErrorCode.NO_ERROR, debugData?: Uint8Array): void {
    if (this.dead) return;
    if (code !== ErrorCode.NO_ERROR) {
      this.terminate(code, debugData ?? EMPTY);
      return;
    }
    this.goawaySent = true;
    this.shutdownPingOutstanding = false;
    this.goawayLastStreamId = this.processedStreamId;
    this.outGoaway(this.goawayLastStreamId, code, debugData);
  }

  shutdown(): void {
    if (this.dead || this.goawaySent) return;
    // RFC 9113 §6.8: GOAWAY with 2^31-1 first, then (after a round trip, measured with PING) the real last id.
    this.goawaySent = true;
    this.goawayLastStreamId = MAX_WINDOW_SIZE;
    this.outGoaway(MAX_WINDOW_SIZE, ErrorCode.NO_ERROR, undefined);
    this.shutdownPingOutstanding = true;
    this.outPing(SHUTDOWN_PING, false);
  }

  updateSettings(settings: Partial<Settings>): void {
    if (this.dead) return;
    const merged: Settings = { ...this.localSettings, ...settings };
    validateLocalSettings(merged);
    if (settings.maxHeaderListSize !== undefined) this.decoder.maxHeaderListSize = settings.maxHeaderListSize;
    Object.assign(this.localSettings, merged);
    this.outSettings(settingsEntries(settings, false));
    // Increases apply at once (the peer may use them as soon as it reads our SETTINGS); decreases on ACK (§6.5.3).
    this.pendingLocalSettings.push({ ...settings });
    this.recomputeReceiveSettings();
  }

  private schedule(stream: Stream): void {
    if (stream.queuedBytes === 0) this.controlOnlyScheduled = true;
    if (stream.scheduled) return;
    stream.scheduled = true;
    this.sendQueue.push(stream);
  }

  dataToSend(maxBytes: number = Infinity): Uint8Array | null {
    if (this.sendQueue.length > 0 && !this.dead) this.writeData(maxBytes);
    this.controlOnlyScheduled = false;
    // Queued ACKs are now handed out: the flood counters start again (CVE-2019-9512/9515 bounds).
    this.pendingSettingsAcks = 0;
    this.pendingPingAcks = 0;
    return this.writer.take();
  }

  dataToSendv(maxBytes: number = Infinity): Uint8Array[] | null {
    // With a trace hook every frame must be contiguous in the writer (traceWritten re-parses it): no views then.
    const parts: Uint8Array[] = [];
    if (this.sendQueue.length > 0 && !this.dead) {
      this.vector = this.onFrame === undefined ? parts : null;
      try {
        this.writeData(maxBytes);
      } finally {
        this.vector = null;
      }
    }
    this.controlOnlyScheduled = false;
    this.pendingSettingsAcks = 0;
    this.pendingPingAcks = 0;
    const rest = this.writer.take();
    if (rest !== null) parts.push(rest);
    return parts.length > 0 ? parts : null;
  }

  /**
   * DATA framing: one frame per stream per turn, round-robin, within the stream window, the connection window,
   * the peer's SETTINGS_MAX_FRAME_SIZE and maxBytes. Streams blocked by their own window leave the queue until a
   * WINDOW_UPDATE; streams blocked by the connection window or maxBytes keep their place.
   */
  private writeData(maxBytes: number): void {
    const queue = this.sendQueue;
    const blocked: Stream[] = [];
    const maxFrameSize = this.remoteSettings.maxFrameSize;
    const highWaterMark = this.limits.streamHighWaterMark;
    let budget = maxBytes;
    let head = 0;
    if (this.vector === null) {
      // Room for everything this call can frame, reserved once: growing by doubling would copy the output each time.
      let sendable = 0;
      for (let i = 0; i < queue.length; i++) {
        const s = queue[i]!;
        if (s.queuedBytes > 0 && s.sendWindow > 0) sendable += Math.min(s.queuedBytes, s.sendWindow);
      }
      const dataBound = Math.min(budget, sendable, Math.max(0, this.connectionSendWindow));
      if (dataBound > 0) {
        const frameBound = Math.ceil(dataBound / maxFrameSize) + queue.length;
        this.writer.ensure(dataBound + frameBound * FRAME_HEADER_LENGTH);
      }
    }
    while (head < queue.length) {
      const stream = queue[head++]!;
      if (stream.state !== OPEN && stream.state !== HALF_CLOSED_REMOTE) {
        stream.scheduled = false;
        continue;
      }
      if (stream.queuedBytes > 0) {
        if (stream.sendWindow <= 0) {
          // Resumed by WINDOW_UPDATE or a SETTINGS_INITIAL_WINDOW_SIZE increase.
          stream.scheduled = false;
          continue;
        }
        const size = Math.min(stream.queuedBytes, stream.sendWindow, this.connectionSendWindow, maxFrameSize, budget);
        if (size <= 0) {
          blocked.push(stream);
          continue;
        }
        const last = size === stream.queuedBytes && stream.endQueued && stream.trailers === null;
        this.writeDataFrame(stream, size, last);
        stream.sendWindow -= size;
        this.connectionSendWindow -= size;
        this.totalQueuedData -= size;
        budget -= size;
        if (stream.wantWritable && stream.queuedBytes <= highWaterMark) {
          stream.wantWritable = false;
          this.events.push({ type: 'streamWritable', streamId: stream.id });
        }
        if (last) {
          stream.scheduled = false;
          stream.endQueued = false;
          this.localEnd(stream);
          continue;
        }
        if (stream.queuedBytes > 0 || stream.endQueued) queue.push(stream);
        else stream.scheduled = false;
      } else if (stream.endQueued) {
        stream.scheduled = false;
        const trailers = stream.trailers;
        if (trailers !== null) {
          stream.trailers = null;
          this.outHeaders(stream.id, trailers, true);
        } else {
          this.writer.ensure(FRAME_HEADER_LENGTH);
          const start = this.writer.length;
          this.writer.header(0, FrameType.DATA, FLAG_END_STREAM, stream.id);
          if (this.onFrame !== undefined) this.traceWritten(start);
        }
        stream.endQueued = false;
        this.localEnd(stream);
      } else {
        stream.scheduled = false;
      }
    }
    this.sendQueue = blocked;
  }

  /**
   * Hands `size` queued bytes of a stream out as one DATA frame: as views of the application's chunks after a frame
   * header (dataToSendv, large frames: no copy), else copied into the writer.
   */
  private writeDataFrame(stream: Stream, size: number, endStream: boolean): void {
    const vector = this.vector;
    if (vector !== null && size >= ZERO_COPY_MIN_FRAME) {
      this.writeDataFrameViews(vector, stream, size, endStream);
      return;
    }
    const writer = this.writer;
    writer.ensure(FRAME_HEADER_LENGTH + size);
    const start = writer.length;
    writer.header(size, FrameType.DATA, endStream ? FLAG_END_STREAM : 0, stream.id);
    let remaining = size;
    const chunks = stream.chunks;
    while (remaining > 0) {
      const chunk = chunks[stream.chunkIndex]!;
      const available = chunk.length - stream.chunkOffset;
      const n = available < remaining ? available : remaining;
      writer.buf.set(
        n === chunk.length ? chunk : chunk.subarray(stream.chunkOffset, stream.chunkOffset + n),
        writer.length,
      );
      writer.length += n;
      remaining -= n;
      if (n === available) {
        chunks[stream.chunkIndex] = EMPTY; // drop the reference early
        stream.chunkIndex++;
        stream.chunkOffset = 0;
      } else {
        stream.chunkOffset += n;
      }
    }
    this.compactQueue(stream, size);
    if (this.onFrame !== undefined) this.traceWritten(start);
  }

  private writeDataFrameViews(vector: Uint8Array[], stream: Stream, size: number, endStream: boolean): void {
    const writer = this.writer;
    writer.ensure(FRAME_HEADER_LENGTH);
    writer.header(size, FrameType.DATA, endStream ? FLAG_END_STREAM : 0, stream.id);
    // Everything written before (control frames, earlier headers) and this header leave as one view, in order.
    vector.push(writer.cut()!);
    let remaining = size;
    const chunks = stream.chunks;
    while (remaining > 0) {
      const chunk = chunks[stream.chunkIndex]!;
      const offset = stream.chunkOffset;
      const available = chunk.length - offset;
      const n = available < remaining ? available : remaining;
      vector.push(n === chunk.length ? chunk : chunk.subarray(offset, offset + n));
      remaining -= n;
      if (n === available) {
        chunks[stream.chunkIndex] = EMPTY;
        stream.chunkIndex++;
        stream.chunkOffset = 0;
      } else {
        stream.chunkOffset += n;
      }
    }
    this.compactQueue(stream, size);
  }

  /**
   * `size` bytes left the stream's queue (both DATA output paths): release fully sent chunks so the queue array does
   * not keep growing while the stream stays busy. Kept out of the per-chunk walks, which each keep their own loop:
   * one walk shared by the copy and the view paths mixes their type feedback and measurably slows dataToSendv.
   */
  private compactQueue(stream: Stream, size: number): void {
    stream.queuedBytes -= size;
    const chunks = stream.chunks;
    if (stream.chunkIndex === chunks.length) {
      stream.chunks = [];
      stream.chunkIndex = 0;
    } else if (stream.chunkIndex > 64) {
      stream.chunks = chunks.slice(stream.chunkIndex);
      stream.chunkIndex = 0;
    }
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

function validToken(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // RFC 9110 §5.6.2 tchar, uppercase allowed for methods.
    if (c > 255 || (NAME_CHAR[c] === 0 && !(c >= 0x41 && c <= 0x5a))) return false;
  }
  return true;
}

/** A three-digit final status code "200".."999" (RFC 9110 §15; 1xx are informational, RFC 9113 §8.1). */
function isFinalStatus(status: string | undefined): boolean {
  if (status === undefined || status.length !== 3) return false;
  const a = status.charCodeAt(0);
  const b = status.charCodeAt(1);
  const c = status.charCodeAt(2);
  return a >= 0x32 && a <= 0x39 && b >= 0x30 && b <= 0x39 && c >= 0x30 && c <= 0x39;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** RFC 9113 §8.2.2: an endpoint MUST NOT generate connection-specific fields; dropped from our output. */
function stripConnectionSpecific(headers: HeaderList): HeaderList {
  for (let i = 0; i < headers.length; i += 2) {
    if (CONNECTION_SPECIFIC.has(headers[i]!)) {
      const out: HeaderList = [];
      for (let j = 0; j < headers.length; j += 2) {
        if (!CONNECTION_SPECIFIC.has(headers[j]!)) out.push(headers[j]!, headers[j + 1]!);
      }
      return out;
    }
  }
  return headers;
}

function validateLocalSettings(s: Settings): void {
  if (!Number.isInteger(s.initialWindowSize) || s.initialWindowSize < 0 || s.initialWindowSize > MAX_WINDOW_SIZE) {
    throw new RangeError(`initialWindowSize must be an integer in 0..2^31-1, got ${s.initialWindowSize}`);
  }
  if (!Number.isInteger(s.maxFrameSize) || s.maxFrameSize < MIN_MAX_FRAME_SIZE || s.maxFrameSize > MAX_MAX_FRAME_SIZE) {
    throw new RangeError(`maxFrameSize must be an integer in 2^14..2^24-1, got ${s.maxFrameSize}`);
  }
  if (s.enablePush) throw new RangeError('a server cannot enable push (RFC 9113 §6.5.2)');
}

/** SETTINGS entries for our settings; `initial` sends the full set (defaults omitted), otherwise the given keys. */
function settingsEntries(s: Partial<Settings>, initial: boolean): Array<[number, number]> {
  const entries: Array<[number, number]> = [];
  const finite = (v: number) => Math.min(v, 0xffffffff);
  if (s.headerTableSize !== undefined && (!initial || s.headerTableSize !== 4096)) {
    entries.push([SettingId.HEADER_TABLE_SIZE, s.headerTableSize]);
  }
  if (s.maxConcurrentStreams !== undefined && Number.isFinite(s.maxConcurrentStreams)) {
    entries.push([SettingId.MAX_CONCURRENT_STREAMS, finite(s.maxConcurrentStreams)]);
  }
  if (s.initialWindowSize !== undefined && (!initial || s.initialWindowSize !== DEFAULT_INITIAL_WINDOW_SIZE)) {
    entries.push([SettingId.INITIAL_WINDOW_SIZE, s.initialWindowSize]);
  }
  if (s.maxFrameSize !== undefined && (!initial || s.maxFrameSize !== MIN_MAX_FRAME_SIZE)) {
    entries.push([SettingId.MAX_FRAME_SIZE, s.maxFrameSize]);
  }
  if (s.maxHeaderListSize !== undefined && Number.isFinite(s.maxHeaderListSize)) {
    entries.push([SettingId.MAX_HEADER_LIST_SIZE, finite(s.maxHeaderListSize)]);
  }
  if (s.enableConnectProtocol) entries.push([SettingId.ENABLE_CONNECT_PROTOCOL, 1]);
  if (initial) entries.push([SettingId.NO_RFC7540_PRIORITIES, 1]);
  return entries;
}
