/** TLS 1.3 handshake engine for QUIC (RFC 8446, RFC 9001 §4): sans-IO, crypto injected. See docs/quic-tls.md. */
export { TlsServer } from './server.js';
export { TlsClient } from './client.js';
export { Alert, CIPHER_SUITES, TransportError, cipherSuite } from './constants.js';
export type {
  CertificateSelection,
  CipherSuite,
  EncryptionLevel,
  TlsClientConfig,
  TlsEvent,
  TlsServerConfig,
} from './types.js';
export type { CryptoProvider, KeyExchangeGroup, SigningKey } from '../crypto.js';
