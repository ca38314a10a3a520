/**
 * The TLS flags of the `httpsd` command and their translation into a TlsConfig (plus the ALPN order, which the server owns).
 */
import type { SecureVersion } from 'node:tls';
import { UsageError } from '../common/errors.js';
import type { CliOption, CliValues } from '../common/options.js';
import { PROFILE_NAMES, isProfileName, parseTlsVersion } from './profiles.js';
import { validateSniPattern } from './sni.js';
import type { CertKeyPair, TlsConfig } from './types.js';

/** ALPN protocol IDs the server speaks (RFC 7301; IANA registry). */
export const ALPN_PROTOCOLS = ['h2', 'http/1.1'] as const;

export const TLS_CLI_OPTIONS: CliOption[] = [
  { name: 'cert', type: 'string', valueName: 'FILE', description: 'Certificate chain (PEM, leaf first). Without --cert/--key/--pfx a local-CA certificate is used.' },
  { name: 'key', type: 'string', valueName: 'FILE', description: 'Private key (PEM: PKCS#1, PKCS#8 or SEC1; may be encrypted).' },
  { name: 'pfx', type: 'string', valueName: 'FILE', description: 'PKCS#12 bundle (.p12/.pfx) instead of --cert and --key.' },
  { name: 'key-passphrase', type: 'string', valueName: 'PASS', description: 'Passphrase of an encrypted key or PKCS#12 file (prefer --key-passphrase-file: arguments are visible to other users).' },
  { name: 'key-passphrase-file', type: 'string', valueName: 'FILE', description: 'File whose first line is the key passphrase.' },
  { name: 'tls-profile', type: 'string', valueName: 'NAME', description: 'Mozilla TLS profile: modern (TLS 1.3 only), intermediate, old (legacy clients; weak ciphers).', defaultText: 'intermediate' },
  { name: 'tls-min', type: 'string', valueName: 'VERSION', description: 'Lowest TLS version: 1.0, 1.1, 1.2, 1.3 (below 1.2 needs --tls-profile old).', defaultText: "profile's" },
  { name: 'tls-max', type: 'string', valueName: 'VERSION', description: 'Highest TLS version: 1.2 or 1.3.', defaultText: "profile's" },
  { name: 'ciphers', type: 'string', valueName: 'LIST', description: 'A profile name or an OpenSSL cipher string (TLS 1.3 suites TLS_* may be included).', defaultText: "profile's" },
  { name: 'curves', type: 'string', valueName: 'LIST', description: 'Key exchange groups in preference order, e.g. X25519,P-256,P-384.', defaultText: 'X25519,P-256,P-384' },
  { name: 'alpn', type: 'string', valueName: 'LIST', description: 'ALPN protocols in server preference order: h2, http/1.1 (e.g. http/1.1,h2 or h2).', defaultText: 'h2,http/1.1' },
  { name: 'sni', type: 'string', multiple: true, valueName: 'NAME=CERT,KEY', description: 'Extra certificate for a server name (wildcards like *.example.test; NAME=FILE.p12 for PKCS#12). Repeatable.' },
  { name: 'client-ca', type: 'string', valueName: 'FILE', description: 'Verify client certificates against this CA bundle (mTLS; implies --client-cert require).' },
  { name: 'client-cert', type: 'string', valueName: 'MODE', description: 'request (ask, let the handler decide) or require (refuse clients without a valid certificate).' },
  { name: 'tls-keylog', type: 'string', valueName: 'FILE', description: 'Append TLS secrets in NSS key log format (Wireshark, as SSLKEYLOGFILE). Debugging only.' },
  { name: 'no-session-tickets', type: 'boolean', description: 'Disable TLS session tickets (stateless resumption).' },
  { name: 'watch-certs', type: 'boolean', description: 'Reload certificates when their files change (SIGHUP always reloads).' },
];

function stringValue(values: CliValues, name: string): string | undefined {
  const value = values[name];
  if (value === undefined || value === false) return undefined;
  if (Array.isArray(value)) {
    const last = value[value.length - 1];
    return typeof last === 'string' ? last : undefined;
  }
  if (typeof value !== 'string') throw new UsageError(`--${name} needs a value.`);
  return value;
}

function stringList(values: CliValues, name: string): string[] {
  const value = values[name];
  if (value === undefined || value === false) return [];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' ? [value] : [];
}

function booleanValue(values: CliValues, name: string): boolean {
  const value = values[name];
  if (Array.isArray(value)) return value.length > 0 && value[value.length - 1] !== false && value[value.length - 1] !== 'false';
  // Environment variables arrive as strings: HTTPSD_WATCH_CERTS=1.
  if (typeof value === 'string') return !/^(0|false|no|off|)$/i.test(value.trim());
  return value === true;
}

function parseVersionFlag(flag: string, value: string): SecureVersion {
  const version = parseTlsVersion(value);
  if (!version) throw new UsageError(`--${flag} ${value}: unknown TLS version. Accepted: 1.0, 1.1, 1.2, 1.3 (or TLSv1, TLSv1.1, TLSv1.2, TLSv1.3).`);
  return version;
}

export function parseAlpnList(value: string, flag = '--alpn'): string[] {
  const tokens = value.split(',').map((t) => t.trim()).filter((t) => t.length > 0);
  if (tokens.length === 0) throw new UsageError(`${flag} is empty. Accepted: ${ALPN_PROTOCOLS.join(', ')} (comma-separated, in preference order).`);
  const seen = new Set<string>();
  return tokens.map((token) => {
    const normalized = token.toLowerCase() === 'http/1.1' || token.toLowerCase() === 'http1.1' || token === 'h1' ? 'http/1.1' : token.toLowerCase();
    if (!(ALPN_PROTOCOLS as readonly string[]).includes(normalized)) {
      throw new UsageError(`${flag}: unknown protocol "${token}". Accepted: ${ALPN_PROTOCOLS.join(', ')} (comma-separated, in preference order).`);
    }
    if (seen.has(normalized)) throw new UsageError(`${flag}: "${normalized}" is listed twice.`);
    seen.add(normalized);
    return normalized;
  });
}

/** "NAME=CERT,KEY" or "NAME=FILE.p12" → [name, pair]. */
export function parseSniFlag(value: string): [string, CertKeyPair] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UsageError(`--sni ${value}: expected NAME=CERT,KEY (or NAME=FILE.p12), e.g. --sni api.example.test=api.pem,api-key.pem.`);
  const name = value.slice(0, eq).trim();
  const checked = validateSniPattern(name);
  if ('error' in checked) throw new UsageError(`--sni ${checked.error}.`);
  const files = value.slice(eq + 1).split(',').map((f) => f.trim());
  if (files.length === 1 && /\.(p12|pfx)$/i.test(files[0]!)) return [checked.name, { pfx: files[0]! }];
  if (files.length !== 2 || !files[0] || !files[1]) {
    throw new UsageError(`--sni ${value}: expected NAME=CERT,KEY (two files separated by a comma) or NAME=FILE.p12.`);
  }
  return [checked.name, { cert: files[0], key: files[1] }];
}

export function tlsConfigFromCli(values: CliValues): { tls: TlsConfig | undefined; alpn: string[] | undefined } {
  const alpnText = stringValue(values, 'alpn');
  const alpn = alpnText !== undefined ? parseAlpnList(alpnText) : undefined;

  const cert = stringValue(values, 'cert');
  const key = stringValue(values, 'key');
  const pfx = stringValue(values, 'pfx');
  if (pfx !== undefined && (cert !== undefined || key !== undefined)) {
    throw new UsageError('--pfx cannot be combined with --cert/--key: a PKCS#12 file already holds both. Give one or the other.');
  }
  if (cert !== undefined && key === undefined) throw new UsageError(`--cert ${cert} needs --key FILE (its private key).`);
  if (key !== undefined && cert === undefined) throw new UsageError(`--key ${key} needs --cert FILE (its certificate chain).`);

  const profileText = stringValue(values, 'tls-profile');
  if (profileText !== undefined && !isProfileName(profileText)) {
    throw new UsageError(`--tls-profile ${profileText}: unknown profile. Accepted: ${PROFILE_NAMES.join(', ')}.`);
  }
  const minText = stringValue(values, 'tls-min');
  const maxText = stringValue(values, 'tls-max');
  const minVersion = minText !== undefined ? parseVersionFlag('tls-min', minText) : undefined;
  const maxVersion = maxText !== undefined ? parseVersionFlag('tls-max', maxText) : undefined;
  const ciphers = stringValue(values, 'ciphers');
  if (ciphers !== undefined && ciphers.trim() === '') throw new UsageError('--ciphers is empty. Give a profile name (modern, intermediate, old) or an OpenSSL cipher string.');
  const curvesText = stringValue(values, 'curves');
  const curves = curvesText?.split(/[,:]/).map((c) => c.trim()).filter(Boolean);
  if (curves !== undefined && curves.length === 0) throw new UsageError('--curves is empty. Example: --curves X25519,P-256.');
  const clientCa = stringValue(values, 'client-ca');
  const clientCertText = stringValue(values, 'client-cert');
  if (clientCertText !== undefined && !['request', 'require', 'none'].includes(clientCertText)) {
    throw new UsageError(`--client-cert ${clientCertText}: accepted values are request and require.`);
  }
  const clientCert = clientCertText as 'request' | 'require' | 'none' | undefined;
  if (clientCert !== undefined && clientCert !== 'none' && clientCa === undefined) {
    throw new UsageError(`--client-cert ${clientCert} needs --client-ca FILE (the CA that signs the client certificates).`);
  }
  const sniEntries = stringList(values, 'sni').map(parseSniFlag);
  const passphrase = stringValue(values, 'key-passphrase');
  const passphraseFile = stringValue(values, 'key-passphrase-file');
  if (passphrase !== undefined && passphraseFile !== undefined) {
    throw new UsageError('--key-passphrase and --key-passphrase-file cannot both be given. Keep one (the file is safer).');
  }

  if (cert === undefined && pfx === undefined) {
    // No certificate of our own: the CLI falls back to the local CA. Flags that only make sense with one are an error
    // rather than silently ignored.
    if (sniEntries.length > 0) throw new UsageError('--sni needs a default certificate: add --cert and --key (or --pfx).');
    if (passphrase !== undefined || passphraseFile !== undefined) throw new UsageError('--key-passphrase applies to --key or --pfx, which were not given.');
  }

  const policy: TlsConfig = {
    ...(profileText !== undefined ? { profile: profileText as TlsConfig['profile'] } : {}),
    ...(minVersion ? { minVersion } : {}),
    ...(maxVersion ? { maxVersion } : {}),
    ...(ciphers !== undefined ? { ciphers: ciphers.trim() } : {}),
    ...(curves ? { curves } : {}),
    ...(clientCa !== undefined ? { clientCa } : {}),
    ...(clientCert !== undefined ? { clientCert } : {}),
    ...(stringValue(values, 'tls-keylog') !== undefined ? { keylogFile: stringValue(values, 'tls-keylog') } : {}),
    ...(booleanValue(values, 'no-session-tickets') ? { sessionTickets: false } : {}),
    ...(booleanValue(values, 'watch-certs') ? { watch: true } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(passphraseFile !== undefined ? { passphraseFile } : {}),
    ...(sniEntries.length > 0 ? { sni: Object.fromEntries(sniEntries) } : {}),
  };
  if (minVersion && maxVersion) {
    const order = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
    if (order.indexOf(minVersion) > order.indexOf(maxVersion)) throw new UsageError(`--tls-min ${minText} is above --tls-max ${maxText}.`);
  }
  if (cert === undefined && pfx === undefined) return { tls: undefined, alpn };
  return { tls: { ...policy, ...(pfx !== undefined ? { pfx } : { cert, key }) }, alpn };
}

/**
 * The policy flags alone (profile, versions, ciphers, mTLS, key log…) for the CLI to merge into a local-CA
 * certificate's TlsConfig when no --cert/--pfx was given.
 */
export function tlsPolicyFromCli(values: CliValues): Omit<TlsConfig, 'cert' | 'key' | 'pfx' | 'passphrase' | 'passphraseFile' | 'sni'> {
  const withDummy = tlsConfigFromCli({ ...values, cert: 'cert', key: 'key', pfx: undefined, 'key-passphrase': undefined, 'key-passphrase-file': undefined, sni: undefined });
  const { cert: _cert, key: _key, ...policy } = withDummy.tls!;
  return policy;
}
