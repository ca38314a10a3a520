/**
 * The boundary between the transport and TLS 1.3 (RFC 9001 §4): TLS hands the transport handshake bytes per
 * encryption level, traffic secrets as they become available, the peer's transport parameters and the outcome. The
 * transport only ever calls start() (client) and receive(); everything else flows back as events.
 */
import type { CipherSuite, EncryptionLevel, TlsEvent } from './tls/types.js';

// The event vocabulary is the TLS engine's own (src/quic/tls/types.ts): one definition for both sides.
export type { CipherSuite, EncryptionLevel, TlsEvent };

/** What the transport needs from a TLS 1.3 implementation (TlsServer and TlsClient both fit). */
export interface QuicTls {
  /** Client only: produces the ClientHello. A server's start, if present, is never called. */
  start?(): TlsEvent[];
  receive(level: EncryptionLevel, data: Uint8Array): TlsEvent[];
}

/** RFC 9001 §5.3 / RFC 8446 B.4: the three suites QUIC v1 uses. */
export const CIPHER_SUITES: Readonly<Record<'aes128gcm' | 'aes256gcm' | 'chacha20', CipherSuite>> = Object.freeze({
  aes128gcm: { code: 0x1301, hash: 'sha256', aead: 'aes-128-gcm', keyLength: 16 },
  aes256gcm: { code: 0x1302, hash: 'sha384', aead: 'aes-256-gcm', keyLength: 32 },
  chacha20: { code: 0x1303, hash: 'sha256', aead: 'chacha20-poly1305', keyLength: 32 },
});

/** The IANA name of a TLS 1.3 suite (RFC 8446 B.4), as node:tls reports it in getCipher().standardName. */
export function cipherSuiteName(suite: CipherSuite): string {
  return CIPHER_SUITE_NAMES[suite.code];
}

const CIPHER_SUITE_NAMES: Readonly<Record<CipherSuite['code'], string>> = {
  0x1301: 'TLS_AES_128_GCM_SHA256',
  0x1302: 'TLS_AES_256_GCM_SHA384',
  0x1303: 'TLS_CHACHA20_POLY1305_SHA256',
};
