/**
 * The boundary between the transport and TLS 1.3 (RFC 9001 §4): TLS hands the transport handshake bytes per
 * encryption level, traffic secrets as they become available, the peer's transport parameters and the outcome. The
 * transport only ever calls start() (client) and receive(); everything else flows back as events.
 */
import type { AeadName, HashName } from './crypto.js';

export type EncryptionLevel = 'initial' | 'early' | 'handshake' | 'application';

export interface CipherSuite {
  readonly code: 0x1301 | 0x1302 | 0x1303;
  readonly hash: HashName;
  readonly aead: AeadName;
  readonly keyLength: 16 | 32;
}

export type TlsEvent =
  | { type: 'cryptoData'; level: 'initial' | 'handshake' | 'application'; data: Uint8Array }
  | { type: 'keysReady'; level: 'early' | 'handshake' | 'application'; direction: 'read' | 'write'; suite: CipherSuite; secret: Uint8Array }
  | { type: 'peerTransportParameters'; data: Uint8Array }
  /** Client attempting 0-RTT: the server parameters remembered with the ticket (RFC 9000 §7.4.1). */
  | { type: 'rememberedTransportParameters'; data: Uint8Array }
  | { type: 'handshakeComplete'; alpn: string; serverName: string | undefined; resumed: boolean; earlyDataAccepted: boolean }
  | { type: 'sessionTicket'; ticket: Uint8Array }
  | { type: 'keyLog'; line: string }
  /** Fatal: CRYPTO_ERROR 0x0100 + description, or `transportError` when TLS names a QUIC code (RFC 9001 §4.6.1, §8). */
  | { type: 'alert'; description: number; reason: string; transportError?: number };

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
