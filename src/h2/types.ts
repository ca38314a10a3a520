/**
 * Public types of the sans-IO HTTP/2 engine (RFC 9113, RFC 7541).
 *
 * This file is the contract between the engine (src/h2), the server's driver (src/server/h2-driver.ts),
 * the conformance suite (test/conformance) and the attack suite (test/attacks). Extend it; do not break it.
 * No `node:` imports anywhere under src/h2: the engine runs on any JavaScript runtime.
 */

/** RFC 9113 §7 error codes. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;
export type ErrorCodeName = keyof typeof ErrorCode;

/** RFC 9113 §6 frame types, plus PRIORITY_UPDATE (RFC 9218 §7.1). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
  PRIORITY_UPDATE: 0x10,
} as const;

/** RFC 9113 §6.5.2 setting identifiers (+ RFC 8441 ENABLE_CONNECT_PROTOCOL, RFC 9218 NO_RFC7540_PRIORITIES). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
  NO_RFC7540_PRIORITIES: 0x9,
} as const;

export interface Settings {
  headerTableSize: number;
  enablePush: boolean;
  /** Infinity when the peer did not send it (RFC 9113 §6.5.2: initially unlimited). */
  maxConcurrentStreams: number;
  initialWindowSize: number;
  maxFrameSize: number;
  /** Infinity when the peer did not send it. */
  maxHeaderListSize: number;
  enableConnectProtocol: boolean;
}

/**
 * A header list as a flat array: [name0, value0, name1, value1, ...].
 * Names are lowercase. Flat arrays avoid one tuple allocation per field on the hot path.
 */
export type HeaderList = string[];

/** DoS limits. Every field documents the attack it bounds; defaults live in limits.ts (DEFAULT_LIMITS). */
export interface H2Limits {
  maxConcurrentStreams: number;
  maxHeaderListSize: number;
  maxHeaderBlockBytes: number;
  maxContinuationFrames: number;
  headerTableSize: number;
  maxSettingsEntriesPerFrame: number;
  maxPendingSettingsAcks: number;
  maxPendingPingAcks: number;
  rapidResetBurst: number;
  rapidResetRatePerSecond: number;
  serverResetBurst: number;
  serverResetRatePerSecond: number;
  emptyFrameBurst: number;
  emptyFrameRatePerSecond: number;
  controlFrameBurst: number;
  controlFrameRatePerSecond: number;
  maxClosedStreamsRemembered: number;
  outputHighWaterMark: number;
  streamHighWaterMark: number;
  settingsAckTimeout: number;
  shutdownPingTimeout: number;
  [extra: string]: number;
}

export interface H2ConnectionOptions {
  /** Only 'server' is implemented now; the shape keeps 'client' possible. */
  role?: 'server';
  /** Partial override of DEFAULT_LIMITS. */
  limits?: Partial<H2Limits>;
  /** Settings this endpoint advertises (merged over defaults derived from limits). */
  settings?: Partial<Settings>;
  /** Initial connection-level receive window we grant (sent as a WINDOW_UPDATE on stream 0 right after our SETTINGS). */
  connectionWindowSize?: number;
  /** Milliseconds clock for the rate budgets and timers (nextDeadline/onTimeout); injectable for tests. Default: Date.now. */
  now?: () => number;
  /** Optional frame trace hook (the CLI's --trace-frames): every frame in and out, decoded. No cost when absent. */
  onFrame?: (direction: 'in' | 'out', frame: TracedFrame) => void;
}

/** A decoded frame for tracing. `headers` is present for HEADERS/PUSH_PROMISE once the whole block is decoded. */
export interface TracedFrame {
  type: number;
  typeName: string;
  flags: number;
  streamId: number;
  length: number;
  /** Human-oriented decoded fields: e.g. { errorCode: 'CANCEL' }, { settings: {...} }, { increment: 1 }, { headers: [...] }. */
  fields: Record<string, unknown>;
}

/** Pseudo-header fields of a request (RFC 9113 §8.3.1): shared HTTP semantics, defined in src/http/fields.ts. */
export type { RequestPseudoHeaders } from '../http/fields.js';
import type { RequestPseudoHeaders } from '../http/fields.js';

export type H2Event =
  | RequestReceivedEvent
  | DataReceivedEvent
  | TrailersReceivedEvent
  | StreamEndedEvent
  | StreamResetEvent
  | WindowUpdatedEvent
  | StreamWritableEvent
  | RemoteSettingsChangedEvent
  | SettingsAcknowledgedEvent
  | PingReceivedEvent
  | PingAckReceivedEvent
  | ConnectionTerminatedEvent
  | PriorityUpdateEvent;

export interface RequestReceivedEvent {
  type: 'request';
  streamId: number;
  pseudo: RequestPseudoHeaders;
  /** Regular fields only (no pseudo-headers), in order received. Cookie crumbs are NOT joined here. */
  headers: HeaderList;
  /** True when HEADERS carried END_STREAM: there is no body. */
  endStream: boolean;
  /** Parsed content-length when present and valid, else -1. */
  contentLength: number;
}

export interface DataReceivedEvent {
  type: 'data';
  streamId: number;
  /**
   * A view into the received bytes (no copy). Unless `owned`, valid only until the next receive() call: copy or
   * consume it now.
   */
  data: Uint8Array;
  /**
   * The view lies in a buffer the engine assembled itself (a frame that arrived across several receive() calls)
   * and never touches again: it may be kept without a copy.
   */
  owned: boolean;
  /** Bytes counted against flow control (data + padding + pad length octet). Pass it to consume() once used. */
  flowControlledLength: number;
  endStream: boolean;
}

export interface TrailersReceivedEvent {
  type: 'trailers';
  streamId: number;
  headers: HeaderList;
}

/** The peer's half of the stream ended (END_STREAM seen); emitted right after the request/data/trailers event that ended it. */
export interface StreamEndedEvent {
  type: 'streamEnded';
  streamId: number;
}

export interface StreamResetEvent {
  type: 'streamReset';
  streamId: number;
  code: number;
  /** true: the peer sent RST_STREAM. false: the engine reset the stream itself (a stream error it detected). */
  byPeer: boolean;
}

export interface WindowUpdatedEvent {
  type: 'windowUpdated';
  /** 0 for the connection window. */
  streamId: number;
  increment: number;
}

/** Emitted when a stream that sendData() reported as full (returned false) can take more data again. */
export interface StreamWritableEvent {
  type: 'streamWritable';
  streamId: number;
}

export interface RemoteSettingsChangedEvent {
  type: 'settingsChanged';
  changed: Partial<Settings>;
}

export interface SettingsAcknowledgedEvent {
  type: 'settingsAcknowledged';
}

export interface PingReceivedEvent {
  type: 'ping';
  data: Uint8Array;
}

export interface PingAckReceivedEvent {
  type: 'pingAck';
  data: Uint8Array;
}

export interface ConnectionTerminatedEvent {
  type: 'connectionTerminated';
  code: number;
  lastStreamId: number;
  debugData: Uint8Array;
  /** true: the peer sent GOAWAY. false: the engine ended the connection (protocol error or a DoS budget). */
  byPeer: boolean;
}

export interface PriorityUpdateEvent {
  type: 'priorityUpdate';
  streamId: number;
  /** The Priority Field Value (RFC 9218 §4), unparsed, e.g. "u=1, i". */
  value: string;
}

/**
 * The engine, one per connection. Implemented by H2Connection in connection.ts.
 *
 * Output model: calls that send (sendHeaders, sendData, resetStream, ping, goaway, ...) queue work; dataToSend()
 * serialises queued control frames first, then DATA frames round-robin across streams within the flow-control windows,
 * into one contiguous buffer the caller then owns. The driver calls it once per event-loop turn and writes the result
 * with one socket write.
 */
export interface H2Engine {
  /** Feed received bytes (starting with the client connection preface). Returns the events they produced. Never throws for peer input. */
  receive(bytes: Uint8Array): H2Event[];
  /**
   * Of the bytes of the last receive() call, how many belonged to DATA frames for streams that could take them
   * (open for input, frame within the stream's window, judged at the frame header). Their cost is bounded by flow
   * control, so a driver may budget them apart from other input.
   */
  readonly receivedDataBytes: number;
  /** Events produced outside receive() (e.g. streamWritable after dataToSend()). */
  pollEvents(): H2Event[];

  /** Send response headers (regular fields and ':status' first in the list). endStream for a body-less response. */
  sendHeaders(streamId: number, headers: HeaderList, endStream: boolean): void;
  /** 1xx informational response (e.g. 103 Early Hints). Never 101 (RFC 9113 §8.6). */
  sendInformational(streamId: number, status: number, headers?: HeaderList): void;
  /**
   * Queue body bytes. The engine keeps a reference to `data` (no copy): do not mutate it afterwards.
   * Returns false when the stream's queued bytes exceed limits.streamHighWaterMark: wait for 'streamWritable'.
   */
  sendData(streamId: number, data: Uint8Array, endStream: boolean): boolean;
  /** Trailing HEADERS with END_STREAM. */
  sendTrailers(streamId: number, headers: HeaderList): void;
  /** RST_STREAM; drops queued data for the stream. */
  resetStream(streamId: number, code: number): void;
  ping(opaque?: Uint8Array): void;
  /** Immediate GOAWAY with the last processed stream id; the engine closes (no new streams). */
  goaway(code?: number, debugData?: Uint8Array): void;
  /** Graceful two-step shutdown (RFC 9113 §6.8): GOAWAY(2^31-1) + PING, then GOAWAY(last id) on the PING ACK. */
  shutdown(): void;
  updateSettings(settings: Partial<Settings>): void;
  /** The app consumed `bytes` flow-controlled bytes of a stream's request body: reopen windows (WINDOW_UPDATE when worthwhile). */
  consume(streamId: number, bytes: number): void;

  /**
   * All bytes ready to write, or null if none. The returned buffer belongs to the caller. maxBytes bounds DATA framing.
   * Framing DATA can drain stream queues below streamHighWaterMark: the resulting 'streamWritable' events come from
   * pollEvents(); a driver that refills streams on them calls dataToSend() again until both are empty.
   */
  dataToSend(maxBytes?: number): Uint8Array | null;
  /**
   * The same bytes as dataToSend(), as a list to write in order (socket.cork() + write each + uncork(), i.e. one
   * writev): large DATA payloads are views of the buffers given to sendData() instead of copies. The caller must not
   * modify them; the application must not modify a buffer after handing it to sendData() (already the rule).
   */
  dataToSendv(maxBytes?: number): Uint8Array[] | null;
  /** True when dataToSend() would return bytes now. */
  readonly wantsWrite: boolean;
  /** Bytes queued inside the engine not yet handed out by dataToSend() (control + DATA within windows). */
  readonly bufferedBytes: number;

  readonly localSettings: Readonly<Settings>;
  readonly remoteSettings: Readonly<Settings>;
  /** Streams open or half-closed (O(1)). */
  readonly openStreamCount: number;
  /** True once a GOAWAY was sent or received, or a connection error happened. */
  readonly isClosing: boolean;
  /** True once closing and no stream is left open and no output is pending: the driver may close the socket. */
  readonly isDone: boolean;
  /** Highest client stream id processed so far. */
  readonly lastStreamId: number;

  /**
   * Timers as data (the contract every sans-IO engine of the project implements; see docs/engine.md): the earliest
   * time (engine clock, ms) at which onTimeout() has work to do, or undefined when no timer is needed. The driver
   * re-reads it after every call into the engine and keeps one timer armed for it.
   */
  nextDeadline(): number | undefined;
  /** The deadline passed: act on what expired at `now` (engine clock). Output and events follow as usual. */
  onTimeout(now: number): void;
}
