/** TLS 1.3 code points (RFC 8446 §B.3, §4.2, §6; RFC 9001 §8.2) and the cipher-suite table. */
import type { KeyExchangeGroup } from '../crypto.js';
import type { CipherSuite } from './types.js';

/** RFC 8446 §6.2 alert descriptions this engine sends. */
export const Alert = {
  unexpectedMessage: 10,
  handshakeFailure: 40,
  badCertificate: 42,
  illegalParameter: 47,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  internalError: 80,
  missingExtension: 109,
  unsupportedExtension: 110,
  unrecognizedName: 112,
  noApplicationProtocol: 120,
} as const;

/** RFC 9000 §20.1 transport error codes used instead of a CRYPTO_ERROR where RFC 9001 says so. */
export const TransportError = {
  protocolViolation: 0x0a,
  cryptoBufferExceeded: 0x0d,
} as const;

/** RFC 8446 §4 HandshakeType. */
export const HandshakeType = {
  clientHello: 1,
  serverHello: 2,
  newSessionTicket: 4,
  endOfEarlyData: 5,
  encryptedExtensions: 8,
  certificate: 11,
  certificateRequest: 13,
  certificateVerify: 15,
  finished: 20,
  keyUpdate: 24,
  messageHash: 254,
} as const;

/** RFC 8446 §4.2 ExtensionType (+ RFC 7301 ALPN, RFC 9001 §8.2 quic_transport_parameters). */
export const Ext = {
  serverName: 0,
  supportedGroups: 10,
  signatureAlgorithms: 13,
  alpn: 16,
  padding: 21,
  preSharedKey: 41,
  earlyData: 42,
  supportedVersions: 43,
  cookie: 44,
  pskKeyExchangeModes: 45,
  keyShare: 51,
  quicTransportParameters: 0x39,
} as const;

export const TLS13 = 0x0304;
export const LEGACY_VERSION = 0x0303;
/** RFC 8446 §4.2.9 psk_dhe_ke: the only PSK mode accepted (psk_ke alone would give up forward secrecy). */
export const PSK_DHE_KE = 1;
/** RFC 9001 §4.6.1: the only max_early_data_size a QUIC NewSessionTicket may carry. */
export const QUIC_MAX_EARLY_DATA = 0xffffffff;
/** RFC 8446 §4.6.1: ticket_lifetime is at most seven days. */
export const MAX_TICKET_LIFETIME = 604_800;

/** RFC 8446 §4.1.3: the ServerHello.random of a HelloRetryRequest, SHA-256("HelloRetryRequest"). */
export const HELLO_RETRY_REQUEST_RANDOM = Uint8Array.from([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

export const CIPHER_SUITES: Readonly<Record<CipherSuite['code'], CipherSuite>> = {
  0x1301: { code: 0x1301, hash: 'sha256', aead: 'aes-128-gcm', keyLength: 16 },
  0x1302: { code: 0x1302, hash: 'sha384', aead: 'aes-256-gcm', keyLength: 32 },
  0x1303: { code: 0x1303, hash: 'sha256', aead: 'chacha20-poly1305', keyLength: 32 },
};
export const DEFAULT_CIPHER_SUITES: ReadonlyArray<CipherSuite['code']> = [0x1301, 0x1302, 0x1303];

export function cipherSuite(code: number): CipherSuite | undefined {
  return code === 0x1301 || code === 0x1302 || code === 0x1303 ? CIPHER_SUITES[code] : undefined;
}

/** RFC 8446 §4.2.7 NamedGroup. */
export const GROUP_CODES: Readonly<Record<KeyExchangeGroup, number>> = { x25519: 0x001d, secp256r1: 0x0017 };
export const DEFAULT_GROUPS: readonly KeyExchangeGroup[] = ['x25519', 'secp256r1'];

export function groupOf(code: number): KeyExchangeGroup | undefined {
  return code === 0x001d ? 'x25519' : code === 0x0017 ? 'secp256r1' : undefined;
}

/**
 * RFC 8446 §4.4.3: CertificateVerify never uses RSASSA-PKCS1-v1_5 or SHA-1 ("RSA signatures MUST use an RSASSA-PSS
 * algorithm"), whatever else a key could sign with.
 */
export const LEGACY_SIGNATURE_SCHEMES: readonly number[] = [0x0201, 0x0203, 0x0401, 0x0501, 0x0601];

/** RFC 7301 §3.1: a protocol id is 1 to 255 bytes; ours are ASCII. */
export function checkAlpnList(protocols: readonly string[], who: string): void {
  if (protocols.length === 0) throw new Error(`a QUIC ${who} needs at least one ALPN protocol (RFC 9001 §8.1)`);
  for (const protocol of protocols) {
    if (protocol.length < 1 || protocol.length > 255 || !/^[\x21-\x7e]+$/.test(protocol)) throw new Error(`invalid ALPN protocol id ${JSON.stringify(protocol)}`);
  }
}

/** Signature schemes the client offers (RFC 8446 §4.2.3; no PKCS#1 v1.5 or SHA-1 for CertificateVerify). */
export const CLIENT_SIGNATURE_SCHEMES: readonly number[] = [0x0403, 0x0804, 0x0805, 0x0806, 0x0503, 0x0807];
