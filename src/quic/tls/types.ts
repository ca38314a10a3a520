/**
 * The contract between the TLS 1.3 handshake engine (RFC 8446 as used by QUIC, RFC 9001 §4) and the QUIC engine
 * above it: handshake bytes in per encryption level, events out. There is no record layer: handshake messages
 * travel in CRYPTO frames (RFC 9001 §4.1.3), secrets are handed to QUIC for packet protection (RFC 9001 §5).
 */
import type { AeadName, CryptoProvider, HashName, KeyExchangeGroup, SigningKey } from '../crypto.js';

export type EncryptionLevel = 'initial' | 'early' | 'handshake' | 'application';

/** RFC 8446 §B.4: the three TLS 1.3 cipher suites QUIC can use (RFC 9001 §5.3; CCM_8 has a short tag and is not). */
export interface CipherSuite {
  readonly code: 0x1301 | 0x1302 | 0x1303;
  readonly hash: HashName;
  readonly aead: AeadName;
  readonly keyLength: 16 | 32;
}

export type TlsEvent =
  /** Bytes to send in CRYPTO frames at that level. */
  | { type: 'cryptoData'; level: 'initial' | 'handshake' | 'application'; data: Uint8Array }
  /** A traffic secret for QUIC packet protection (RFC 9001 §5.1 derives "quic key", "quic iv", "quic hp" from it). */
  | { type: 'keysReady'; level: 'early' | 'handshake' | 'application'; direction: 'read' | 'write'; suite: CipherSuite; secret: Uint8Array }
  /** The peer's quic_transport_parameters (extension 0x39), raw; emitted as soon as known. */
  | { type: 'peerTransportParameters'; data: Uint8Array }
  /**
   * Client only, when it attempts 0-RTT: the server transport parameters remembered with the ticket, which bound
   * what the client may send in 0-RTT (RFC 9000 §7.4.1).
   */
  | { type: 'rememberedTransportParameters'; data: Uint8Array }
  | { type: 'handshakeComplete'; alpn: string; serverName: string | undefined; resumed: boolean; earlyDataAccepted: boolean }
  /** Client only: an opaque blob to pass back as TlsClientConfig.sessionTicket to resume. */
  | { type: 'sessionTicket'; ticket: Uint8Array }
  /** An NSS key-log line ("SSLKEYLOGFILE" format). */
  | { type: 'keyLog'; line: string }
  /**
   * Fatal. The QUIC engine closes with CRYPTO_ERROR 0x0100 + description (RFC 9001 §4.8), or, when
   * transportError is set, with that QUIC transport error code instead (RFC 9001 §8.3, §8.4 and §4.6.1 name
   * PROTOCOL_VIOLATION for some TLS-level violations; an oversize handshake message is CRYPTO_BUFFER_EXCEEDED).
   */
  | { type: 'alert'; description: number; reason: string; transportError?: number };

export interface CertificateSelection {
  /** DER certificates, leaf first. */
  chain: Uint8Array[];
  key: SigningKey;
}

export interface TlsServerConfig {
  crypto: CryptoProvider;
  /** The certificate for an SNI name (undefined when the client sent none); undefined refuses the handshake. */
  selectCertificate(serverName: string | undefined): CertificateSelection | undefined;
  /** ALPN protocol ids in server preference order; no overlap with the client's is alert 120 (RFC 9001 §8.1). */
  alpn: readonly string[];
  /** Our encoded transport parameters, sent in EncryptedExtensions (RFC 9001 §8.2). */
  transportParameters: Uint8Array;
  /** 32 bytes; enables NewSessionTicket and PSK resumption. Rotating it invalidates every outstanding ticket. */
  ticketKey?: Uint8Array;
  /** Ticket lifetime in seconds (default 86,400; RFC 8446 §4.6.1 caps it at 604,800). */
  ticketLifetime?: number;
  /**
   * 0-RTT (off when absent). maxSize is recorded in each ticket and 0-RTT is accepted only for tickets issued with
   * a non-zero value; on the wire max_early_data_size is always 0xffffffff (RFC 9001 §4.6.1) because QUIC bounds
   * 0-RTT with its own flow control.
   */
  earlyData?: { maxSize: number };
  /** Milliseconds since the epoch (ticket issue time and age checks). */
  now(): number;
  /** Key-exchange groups in server preference order (default x25519, secp256r1). */
  groups?: KeyExchangeGroup[];
  /** Cipher suites in server preference order (default 0x1301, 0x1302, 0x1303). */
  cipherSuites?: Array<CipherSuite['code']>;
}

export interface TlsClientConfig {
  crypto: CryptoProvider;
  serverName?: string;
  alpn: string[];
  transportParameters: Uint8Array;
  /** Certificate check (chain DER leaf first). Absent means every certificate is refused: fail closed. */
  verifyCertificate?(chain: Uint8Array[], serverName: string | undefined): boolean;
  /** A blob from an earlier 'sessionTicket' event, to resume with. */
  sessionTicket?: Uint8Array;
  /** Send 0-RTT when the ticket allows it (default false). */
  earlyData?: boolean;
  /** Groups to offer, best first (default x25519, secp256r1); a key share is sent for the first only. */
  groups?: KeyExchangeGroup[];
  /** Key shares to send up front (default 1: the first group only; 2 also sends secp256r1's). */
  keyShareCount?: number;
  cipherSuites?: Array<CipherSuite['code']>;
  /** Milliseconds since the epoch (ticket age). Default Date.now. */
  now?(): number;
}
