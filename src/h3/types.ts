/**
 * Public types of the sans-IO HTTP/3 engine (RFC 9114, RFC 9204, RFC 9218 signals, RFC 9220).
 * No `node:` imports anywhere under src/h3.
 */
import type { H3Limits } from './limits.js';
import type { RequestPseudoHeaders } from './fields.js';

/** A field list as a flat array: [name0, value0, name1, value1, ...], names lowercase. */
export type FieldList = string[];

/** HTTP/3 settings (RFC 9114 §7.2.4.1, RFC 9204 §5, RFC 9220 §5, RFC 9297 §2.1.1). */
export interface H3Settings {
  qpackMaxTableCapacity: number;
  /** Infinity when not sent (RFC 9114 §7.2.4.1: unlimited by default). */
  maxFieldSectionSize: number;
  qpackBlockedStreams: number;
  enableConnectProtocol: boolean;
  h3Datagram: boolean;
}

/** A frame decoded for tracing (the CLI's --trace-frames). */
export interface TracedH3Frame {
  type: number;
  typeName: string;
  streamId: number;
  length: number;
  /** Decoded fields, e.g. { settings: {...} }, { id: 4 }, { headers: [...] }, { dataLength: 5 }. */
  fields: Record<string, unknown>;
}

export interface H3ConnectionOptions {
  role: 'server' | 'client';
  /** Partial override of DEFAULT_H3_LIMITS. */
  limits?: Partial<H3Limits>;
  /** RFC 9220 extended CONNECT (e.g. WebSockets over HTTP/3): off by default. */
  enableConnectProtocol?: boolean;
  /** RFC 9297 HTTP Datagrams: advertised only when true (no datagram API yet, so off by default). */
  h3Datagram?: boolean;
  /** false: the QPACK encoder uses the static table and literals only (default true). */
  qpackDynamicTable?: boolean;
  /** Milliseconds clock for the rate budgets; injectable for tests. Default: Date.now. */
  now?: () => number;
  /** Frame trace hook: every frame in and out on every stream, decoded. No cost when absent. */
  onFrame?: (direction: 'in' | 'out', frame: TracedH3Frame) => void;
}

export type { RequestPseudoHeaders };

export type H3Event =
  | RequestEvent
  | ResponseEvent
  | InformationalEvent
  | DataEvent
  | TrailersEvent
  | StreamEndedEvent
  | StreamResetEvent
  | StreamWritableEvent
  | SettingsEvent
  | PriorityUpdateEvent
  | GoawayEvent
  | ConnectionTerminatedEvent;

/** Server: a request's header section arrived and is valid. */
export interface RequestEvent {
  type: 'request';
  streamId: number;
  pseudo: RequestPseudoHeaders;
  /** Regular fields only, in wire order. */
  headers: FieldList;
  /** True when the stream ended right after HEADERS: there is no body. */
  endStream: boolean;
  /** Parsed content-length, or -1. */
  contentLength: number;
}

/** Client: the final response's header section. */
export interface ResponseEvent {
  type: 'response';
  streamId: number;
  status: number;
  headers: FieldList;
  endStream: boolean;
  contentLength: number;
}

/** Client: a 1xx response (e.g. 103 Early Hints). */
export interface InformationalEvent {
  type: 'informational';
  streamId: number;
  status: number;
  headers: FieldList;
}

export interface DataEvent {
  type: 'data';
  streamId: number;
  /** A view of received bytes (no copy); do not keep it past the next handleEvents() call without copying. */
  data: Uint8Array;
  /** Pass data.length to consume() once the bytes are used: that reopens QUIC flow control. */
  endStream: boolean;
}

export interface TrailersEvent {
  type: 'trailers';
  streamId: number;
  headers: FieldList;
}

/** The peer's side of the stream ended (FIN) cleanly after a complete message. */
export interface StreamEndedEvent {
  type: 'streamEnded';
  streamId: number;
}

export interface StreamResetEvent {
  type: 'streamReset';
  streamId: number;
  code: number;
  /** true: RESET_STREAM or STOP_SENDING from the peer. false: the engine reset it (a stream error it detected). */
  byPeer: boolean;
}

/** A stream for which sendData() returned false can take more data. */
export interface StreamWritableEvent {
  type: 'streamWritable';
  streamId: number;
}

/** The peer's SETTINGS arrived. */
export interface SettingsEvent {
  type: 'settings';
  settings: H3Settings;
}

/** RFC 9218 §7: PRIORITY_UPDATE for a request stream; `value` is the raw Priority Field Value, e.g. "u=1, i". */
export interface PriorityUpdateEvent {
  type: 'priorityUpdate';
  streamId: number;
  value: string;
}

/** RFC 9114 §5.2: the peer is shutting down. Client: requests on streams >= id were not and will not be processed. */
export interface GoawayEvent {
  type: 'goaway';
  id: number;
}

export interface ConnectionTerminatedEvent {
  type: 'connectionTerminated';
  code: number;
  reason: string;
  /** true: the peer (or the QUIC layer) closed it. false: the engine closed it for a connection error. */
  byPeer: boolean;
}
