/**
 * httpsd's sans-IO QUIC v1 transport (RFC 9000, 9001, 9002). See docs/quic.md for the RFC section → module map.
 */
export { QuicConnection } from './connection.js';
export { QuicServerDemux } from './server.js';
export type { DemuxResult, QuicServerOptions } from './server.js';
export type { PacketTrace, PathAddress, QuicConnectionOptions, QuicEvent } from './types.js';
export { DEFAULT_QUIC_LIMITS } from './limits.js';
export type { QuicLimits } from './limits.js';
export { TransportError, QuicError } from './errors.js';
export { CIPHER_SUITES } from './tls-interface.js';
export type { CipherSuite, EncryptionLevel, QuicTls, TlsEvent } from './tls-interface.js';
export type { CryptoProvider } from './crypto.js';
