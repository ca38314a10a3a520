/**
 * httpsd/h2: a sans-IO HTTP/2 server engine (RFC 9113, RFC 7541, RFC 8441, RFC 9218 signals).
 * No I/O and no `node:` imports: feed bytes to receive(), act on the events, write what dataToSend() returns.
 */
export * from './types.js';
export { H2Connection, DEFAULT_STREAM_WINDOW_SIZE, DEFAULT_CONNECTION_WINDOW_SIZE } from './connection.js';
export { DEFAULT_LIMITS, resolveLimits } from './limits.js';
export { formatFrame, traceFrame } from './trace.js';
export {
  CONNECTION_PREFACE,
  FRAME_HEADER_LENGTH,
  FLAG_ACK,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  FLAG_PADDED,
  FLAG_PRIORITY,
  MAX_WINDOW_SIZE,
  FrameError,
  decodeFramePayload,
  encodeFrame,
  encodeContinuationFrame,
  encodeDataFrame,
  encodeGoawayFrame,
  encodeHeadersFrame,
  encodePingFrame,
  encodePriorityFrame,
  encodePriorityUpdateFrame,
  encodePushPromiseFrame,
  encodeRstStreamFrame,
  encodeSettingsFrame,
  encodeWindowUpdateFrame,
  errorCodeName,
  frameTypeName,
  settingName,
  splitFrames,
} from './frames.js';
export type { DecodedFrame, PriorityFields, RawFrame } from './frames.js';
export { HpackDecoder, HpackEncoder, HpackError } from './hpack/index.js';
