/**
 * httpsd/h3: a sans-IO HTTP/3 engine (RFC 9114) with QPACK (RFC 9204), RFC 9218 priority signals and RFC 9220
 * extended CONNECT, over any QUIC transport implementing H3Transport. No I/O and no `node:` imports.
 */
export * from './types.js';
export { H3Connection } from './connection.js';
export { DEFAULT_H3_LIMITS, resolveH3Limits, type H3Limits } from './limits.js';
export { H3Error, H3ErrorCode, QpackError, h3ErrorCodeName, type H3ErrorCodeName } from './errors.js';
export { formatFrame, traceFrame } from './trace.js';
export type { H3Transport, TransportEvent } from './transport.js';
export {
  FrameParser,
  FrameType,
  SettingId,
  StreamType,
  HTTP2_ONLY_FRAME_TYPES,
  HTTP2_RESERVED_SETTINGS,
  decodeIdPayload,
  decodePriorityUpdatePayload,
  decodeSettingsPayload,
  encodeFrame,
  encodeFrameHeader,
  encodeIdFrame,
  encodePriorityUpdateFrame,
  encodeSettingsFrame,
  frameTypeName,
  isReservedIdentifier,
  settingName,
} from './frames.js';
export type { ParsedItem } from './frames.js';
export { QpackDecoder, QpackEncoder, STATIC_TABLE } from './qpack/index.js';
export type { FieldSectionResult, QpackDecoderOptions, QpackEncoderOptions, UnblockedSection } from './qpack/index.js';
export { MAX_VARINT, encodeVarint, readVarint, varintLength, writeVarint } from './varint.js';
