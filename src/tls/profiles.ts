/**
 * TLS profiles after Mozilla's Server Side TLS guidelines (https://wiki.mozilla.org/Security/Server_Side_TLS, v5.7),
 * expressed as node:tls / OpenSSL settings.
 */
import type { SecureVersion } from 'node:tls';
import type { TlsProfileName } from './types.js';

export interface TlsProfile {
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  /** OpenSSL cipher string for TLS 1.2 and below (TLS 1.3 suites are separate, see ciphersuites). */
  ciphers: string;
  /** TLS 1.3 cipher suites (RFC 8446 §B.4), in preference order. */
  ciphersuites: string;
  /** Key exchange groups, in preference order (OpenSSL names). */
  curves: string[];
  /** Server cipher preference (SSL_OP_CIPHER_SERVER_PREFERENCE). Mozilla: only for "old". */
  honorCipherOrder: boolean;
  /** One-line summary for --help and the banner. */
  summary: string;
}

const TLS13_SUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/**
 * "intermediate": ECDHE key exchange with AEAD ciphers only. No CBC suites (Lucky13, RFC 7457 §2.6; BEAST; POODLE-style
 * padding oracles), no static-RSA key exchange (no forward secrecy; ROBOT), no SHA-1 MACs. Mozilla's list also carries
 * DHE-RSA suites; they are left out because finite-field DHE needs large custom groups to be safe (Logjam,
 * RFC 7919 §1) and every client that supports TLS 1.2 AEAD suites also supports ECDHE.
 */
const INTERMEDIATE_TLS12 = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * "old": Mozilla's list for clients back to IE 8 / Java 6. TLS 1.0 and 1.1 need OpenSSL security level 0 on OpenSSL 3
 * (SHA-1 handshake signatures), hence @SECLEVEL=0. Only ever used when asked for by name.
 */
const OLD_TLS12 = [
  INTERMEDIATE_TLS12,
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-RSA-AES128-SHA256',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-RSA-AES256-SHA384',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
  'DHE-RSA-AES128-SHA256',
  'DHE-RSA-AES256-SHA256',
  'AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-SHA256',
  'AES256-SHA256',
  'AES128-SHA',
  'AES256-SHA',
  'DES-CBC3-SHA',
  '@SECLEVEL=0',
].join(':');

export const PROFILES: Record<TlsProfileName, TlsProfile> = {
  modern: {
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    // TLS 1.3 only: the TLS 1.2 list is irrelevant but must still be AEAD-only should --tls-min lower the floor.
    ciphers: INTERMEDIATE_TLS12,
    ciphersuites: TLS13_SUITES,
    curves: ['X25519', 'prime256v1', 'secp384r1'],
    honorCipherOrder: false,
    summary: 'TLS 1.3 only',
  },
  intermediate: {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: INTERMEDIATE_TLS12,
    ciphersuites: TLS13_SUITES,
    curves: ['X25519', 'prime256v1', 'secp384r1'],
    honorCipherOrder: false,
    summary: 'TLS 1.2 + 1.3, ECDHE + AEAD only',
  },
  old: {
    minVersion: 'TLSv1',
    maxVersion: 'TLSv1.3',
    ciphers: OLD_TLS12,
    ciphersuites: TLS13_SUITES,
    curves: ['X25519', 'prime256v1', 'secp384r1'],
    honorCipherOrder: true,
    summary: 'TLS 1.0 – 1.3 incl. CBC and static RSA (legacy clients only)',
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as TlsProfileName[];

export function isProfileName(value: string): value is TlsProfileName {
  return Object.hasOwn(PROFILES, value);
}

const VERSION_ORDER: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export function compareVersions(a: SecureVersion, b: SecureVersion): number {
  return VERSION_ORDER.indexOf(a) - VERSION_ORDER.indexOf(b);
}

/** Accepts "1.2", "TLSv1.2", "tls1.2", "tlsv1_2", "1" … and returns node's spelling, or undefined. */
export function parseTlsVersion(value: string): SecureVersion | undefined {
  const m = /^(?:tls\s*v?)?1(?:[._]([0-3]))?$/i.exec(value.trim());
  if (!m) return undefined;
  const minor = m[1] ?? '0';
  return minor === '0' ? 'TLSv1' : (`TLSv1.${minor}` as SecureVersion);
}

export const TLS_VERSION_NAMES = VERSION_ORDER;
