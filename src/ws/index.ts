/**
 * httpsd/ws: a sans-IO WebSocket engine (RFC 6455, RFC 7692 negotiation, RFC 8441/9220 handshake rules).
 * No I/O and no `node:` imports: feed bytes to receive(), act on the events, write what dataToSend() returns.
 */
export * from './types.js';
export { WebSocketConnection, encodeServerMessage, decodeUtf8, type WebSocketOptions } from './connection.js';
export { encodeFrame, applyMask, encodeClosePayload, opcodeName, frameHeaderLength, writeFrameHeader } from './frames.js';
export {
  WEBSOCKET_GUID,
  WEBSOCKET_VERSION,
  acceptValue,
  listElements,
  negotiatePerMessageDeflate,
  parseExtensions,
  selectSubprotocol,
  validateExtendedConnect,
  validateHttp1Upgrade,
  type ExtensionOffer,
  type HandshakeResult,
  type HeaderLookup,
  type PerMessageDeflateAgreement,
  type PerMessageDeflateOptions,
} from './handshake.js';
