/**
 * Loading and validating certificates and keys: PEM chains, PEM keys (PKCS#1, PKCS#8, SEC1, possibly encrypted), PKCS#12.
 * Every failure becomes a TlsConfigError that names the file and says how to fix it.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { TlsConfigError } from './errors.js';
import type { CertKeyPair } from './types.js';

/** RSA moduli under 2048 bits are below every current baseline (NIST SP 800-131A, CA/B Forum BR §6.1.5). */
export const MIN_RSA_BITS = 2048;

const ISSUE_HINT = 'for development, `httpsd cert localhost` issues a trusted one';

/** A certificate/key pair ready for tls.createSecureContext, with what the banner and OCSP need. */
export interface LoadedPair {
  /** What this pair is called in messages: "certificate ./cert.pem", "PKCS#12 ./site.p12". */
  label: string;
  /** Files this pair was read from (for watching). */
  files: string[];
  /** Options for tls.createSecureContext: {cert, key} (key decrypted, PKCS#8 PEM) or {pfx, passphrase}. */
  contextOptions: { cert?: string; key?: string; pfx?: Buffer; passphrase?: string };
  leaf: X509Certificate;
  /** Leaf first, then intermediates as given (empty beyond the leaf for PKCS#12). */
  chain: X509Certificate[];
  warnings: string[];
}

interface Source {
  /** Bytes of the file or the inline value. */
  data: Buffer;
  /** "file ./cert.pem" or "inline certificate". */
  label: string;
  path?: string;
  /** The flag that named it, for messages. */
  flag: string;
}

function looksLikePem(value: string): boolean {
  return value.includes('-----BEGIN ');
}

async function readSource(value: string | Uint8Array, what: string, flag: string): Promise<Source> {
  if (typeof value !== 'string') return { data: Buffer.from(value), label: `the ${what} given as bytes`, flag };
  if (looksLikePem(value)) return { data: Buffer.from(value), label: `the ${what} given as PEM text`, flag };
  try {
    return { data: await readFile(value), label: `${what} file ${value}`, path: value, flag };
  } catch (error) {
    throw new TlsConfigError(`Cannot read the ${what} file ${value}: ${describeFsError(error)}. Fix: ${fsFix(error, value, flag)}.`);
  }
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return (error as Error).message;
  }
}

function fsFix(error: unknown, path: string, flag: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return `make ${path} readable by this user (e.g. \`chmod 0640\` and group membership) or run as its owner`;
  if (code === 'EISDIR') return `give ${flag} the path of a file inside ${path}`;
  // Suggesting a locally issued certificate only helps when the missing file is a certificate or key.
  if (/passphrase/.test(flag)) return `check the path given to ${flag}`;
  return `check the path given to ${flag} (${ISSUE_HINT})`;
}

export async function readPassphraseFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new TlsConfigError(`Cannot read the passphrase file ${path}: ${describeFsError(error)}. Fix: ${fsFix(error, path, '--key-passphrase-file')}.`);
  }
  // First line only, as `openssl -passin file:` does.
  return text.split(/\r?\n/, 1)[0] ?? '';
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export function parseCertificateChain(source: Source): X509Certificate[] {
  const text = source.data.toString('latin1');
  const blocks = text.match(CERT_BLOCK);
  if (!blocks) {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
      throw new TlsConfigError(
        source.flag === '--cert'
          ? `The ${source.label} holds a private key, not a certificate. Fix: did you swap --cert and --key?`
          : `The ${source.label} holds a private key, not a certificate. Fix: give ${source.flag} a PEM certificate file.`,
      );
    }
    if (!looksLikePem(text)) {
      try {
        return [new X509Certificate(source.data)]; // DER
      } catch {
        /* fall through to the error below */
      }
    }
    throw new TlsConfigError(
      source.flag === '--client-ca'
        ? `The ${source.label} holds no PEM certificate (-----BEGIN CERTIFICATE-----). Fix: give --client-ca the PEM certificate(s) of the CA that signs client certificates.`
        : `The ${source.label} holds no PEM certificate (-----BEGIN CERTIFICATE-----). Fix: give ${source.flag} a PEM certificate chain, leaf first (${ISSUE_HINT}).`,
    );
  }
  return blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new TlsConfigError(`Certificate #${index + 1} in the ${source.label} cannot be parsed (${(error as Error).message}). Fix: replace the file with a valid PEM chain.`);
    }
  });
}

function loadPrivateKey(source: Source, passphrase: string | undefined): KeyObject {
  const text = source.data.toString('latin1');
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    if (text.includes('-----BEGIN CERTIFICATE-----')) {
      throw new TlsConfigError(`The ${source.label} holds a certificate, not a private key. Fix: did you swap --cert and --key?`);
    }
    throw new TlsConfigError(`The ${source.label} holds no PEM private key. Fix: give --key a PEM key (PKCS#1 "RSA PRIVATE KEY", PKCS#8 "PRIVATE KEY" / "ENCRYPTED PRIVATE KEY", or SEC1 "EC PRIVATE KEY").`);
  }
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/.test(text);
  if (encrypted && passphrase === undefined) {
    throw new TlsConfigError(`The ${source.label} is encrypted. Fix: give its passphrase with --key-passphrase or --key-passphrase-file FILE.`);
  }
  try {
    return createPrivateKey({ key: text, format: 'pem', passphrase });
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err.code === 'ERR_MISSING_PASSPHRASE' || (passphrase === undefined && /encrypted|passphrase|bad decrypt/i.test(err.message))) {
      throw new TlsConfigError(`The ${source.label} is encrypted. Fix: give its passphrase with --key-passphrase or --key-passphrase-file FILE.`);
    }
    if (encrypted || (passphrase !== undefined && /bad decrypt|decrypt|wrong|bad password|mac/i.test(err.message))) {
      throw new TlsConfigError(`Wrong passphrase for the ${source.label}. Fix: check --key-passphrase / --key-passphrase-file.`);
    }
    throw new TlsConfigError(`The private key in the ${source.label} cannot be loaded (${err.message}). Fix: give --key a PEM key (PKCS#1, PKCS#8 or SEC1).`);
  }
}

function checkValidity(leaf: X509Certificate, label: string, warnings: string[], now: Date): void {
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  // An expired certificate is an error: every client rejects it, so serving it only moves the failure to them.
  if (notAfter.getTime() <= now.getTime()) {
    throw new TlsConfigError(`The ${label} expired on ${notAfter.toISOString()} (subject ${subjectLine(leaf)}). Fix: renew it (${ISSUE_HINT}).`);
  }
  // Not yet valid is a warning: usually clock skew between the issuing machine and this one, which fixes itself.
  if (notBefore.getTime() > now.getTime()) {
    warnings.push(`WARNING: the ${label} is not valid before ${notBefore.toISOString()}; clients will reject it until then. Check this machine's clock.`);
  }
  const daysLeft = (notAfter.getTime() - now.getTime()) / 86_400_000;
  const lifetimeDays = (notAfter.getTime() - notBefore.getTime()) / 86_400_000;
  // Renewal is overdue when under two weeks and under a third of the lifetime remain (short-lived certificates,
  // e.g. 7-day ones, would otherwise warn from the start; ACME clients renew at two thirds).
  if (daysLeft < 14 && daysLeft < lifetimeDays / 3) {
    warnings.push(`WARNING: the ${label} expires in ${Math.max(0, Math.floor(daysLeft))} day(s), on ${notAfter.toISOString()}. Renew it soon.`);
  }
}

function checkKeyStrength(leaf: X509Certificate, label: string): void {
  const details = leaf.publicKey.asymmetricKeyDetails;
  const type = leaf.publicKey.asymmetricKeyType;
  if ((type === 'rsa' || type === 'rsa-pss') && details?.modulusLength !== undefined && details.modulusLength < MIN_RSA_BITS) {
    throw new TlsConfigError(`The ${label} has a ${details.modulusLength}-bit RSA key; at least ${MIN_RSA_BITS} bits are required. Fix: issue a new certificate with an RSA ${MIN_RSA_BITS}+ or ECDSA P-256 key (\`httpsd cert --rsa 2048 NAME\` or the default ECDSA).`);
  }
  if (type === 'dsa') {
    throw new TlsConfigError(`The ${label} has a DSA key, which TLS 1.3 does not allow. Fix: use an ECDSA P-256 or RSA ${MIN_RSA_BITS}+ key.`);
  }
}

/** Problems every client would flag, but which still let the server start (a reverse proxy may not check names). */
function checkServerUsage(leaf: X509Certificate, label: string, warnings: string[]): void {
  if (!leaf.subjectAltName) {
    warnings.push(`WARNING: the ${label} has no subjectAltName extension; browsers and curl ignore the subject CN (RFC 6125 §6.4.4) and will reject it. Issue one with DNS/IP names (\`httpsd cert NAME\`).`);
  }
  // X509Certificate.keyUsage lists the extended key usage OIDs (undefined when the extension is absent: any use).
  const eku = leaf.keyUsage;
  if (eku && eku.length > 0 && !eku.includes('1.3.6.1.5.5.7.3.1') && !eku.includes('2.5.29.37.0')) {
    warnings.push(`WARNING: the ${label} is not valid for TLS servers (its extended key usage lacks serverAuth); clients will reject it.`);
  }
}

function checkChainOrder(chain: X509Certificate[], label: string, warnings: string[]): void {
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.checkIssued(chain[i + 1]!)) {
      warnings.push(`WARNING: in the ${label}, certificate #${i + 2} did not issue #${i + 1}; clients expect the chain leaf first, then each issuer in order.`);
      return;
    }
  }
}

export function subjectLine(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

export interface LoadPairOptions {
  /** Passphrase inherited from the top-level config when the pair has none of its own. */
  passphrase?: string;
  passphraseFile?: string;
  now?: Date;
  /** Flag names used in messages. */
  certFlag?: string;
  keyFlag?: string;
}

export async function loadPair(pair: CertKeyPair, options: LoadPairOptions = {}): Promise<LoadedPair> {
  const now = options.now ?? new Date();
  const files: string[] = [];
  let passphrase = pair.passphrase ?? options.passphrase;
  const passphraseFile = pair.passphraseFile ?? (pair.passphrase === undefined ? options.passphraseFile : undefined);
  if (passphrase === undefined && passphraseFile !== undefined) {
    passphrase = await readPassphraseFile(passphraseFile);
    files.push(passphraseFile);
  }
  const warnings: string[] = [];

  if (pair.pfx !== undefined) {
    const source = await readSource(pair.pfx, 'PKCS#12', '--pfx');
    if (source.path) files.push(source.path);
    let context;
    try {
      context = createSecureContext({ pfx: source.data, passphrase });
    } catch (error) {
      throw pfxError(error, source.label, passphrase);
    }
    // node:crypto has no PKCS#12 parser; the secure context built from the file hands back its leaf (DER).
    const der = (context.context as { getCertificate?: () => Buffer | null }).getCertificate?.();
    if (!der) throw new TlsConfigError(`The ${source.label} holds no certificate. Fix: export it with its certificate: openssl pkcs12 -export -in cert.pem -inkey key.pem -out site.p12.`);
    const leaf = new X509Certificate(der);
    checkKeyStrength(leaf, source.label);
    checkValidity(leaf, source.label, warnings, now);
    checkServerUsage(leaf, source.label, warnings);
    return { label: source.label, files, contextOptions: { pfx: source.data, passphrase }, leaf, chain: [leaf], warnings };
  }

  if (pair.cert === undefined || pair.key === undefined) {
    throw new TlsConfigError(
      pair.cert === undefined
        ? `A private key was given without its certificate. Fix: add ${options.certFlag ?? '--cert'} FILE (PEM chain, leaf first), or use --pfx FILE.`
        : `A certificate was given without its private key. Fix: add ${options.keyFlag ?? '--key'} FILE, or use --pfx FILE.`,
    );
  }
  const certSource = await readSource(pair.cert, 'certificate', options.certFlag ?? '--cert');
  const keySource = await readSource(pair.key, 'key', options.keyFlag ?? '--key');
  if (certSource.path) files.push(certSource.path);
  if (keySource.path) files.push(keySource.path);
  const chain = parseCertificateChain(certSource);
  const leaf = chain[0]!;
  const key = loadPrivateKey(keySource, passphrase);
  if (key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? MIN_RSA_BITS) < MIN_RSA_BITS) {
    throw new TlsConfigError(`The ${keySource.label} is a ${key.asymmetricKeyDetails?.modulusLength}-bit RSA key; at least ${MIN_RSA_BITS} bits are required. Fix: generate a new key and certificate (RSA ${MIN_RSA_BITS}+ or ECDSA P-256).`);
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new TlsConfigError(`The ${keySource.label} does not belong to the ${certSource.label} (subject ${subjectLine(leaf)}): their public keys differ. Fix: pass the key the certificate was issued for, or reissue the certificate for this key.`);
  }
  checkKeyStrength(leaf, certSource.label);
  checkValidity(leaf, certSource.label, warnings, now);
  checkServerUsage(leaf, certSource.label, warnings);
  checkChainOrder(chain, certSource.label, warnings);
  // Hand node the decrypted key so the secure context never needs the passphrase again (reloads re-read it anyway).
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  const certPem = chain.map((c) => c.toString()).join('');
  return { label: certSource.label, files, contextOptions: { cert: certPem, key: keyPem }, leaf, chain, warnings };
}

function pfxError(error: unknown, label: string, passphrase: string | undefined): TlsConfigError {
  const message = (error as Error).message;
  if (/mac verify failure|invalid password|bad decrypt/i.test(message)) {
    return new TlsConfigError(
      passphrase === undefined
        ? `The ${label} is protected by a passphrase. Fix: give it with --key-passphrase or --key-passphrase-file FILE.`
        : `Wrong passphrase for the ${label}. Fix: check --key-passphrase / --key-passphrase-file.`,
    );
  }
  if (/unsupported|legacy/i.test(message)) {
    return new TlsConfigError(`The ${label} uses legacy encryption (RC2/3DES) that OpenSSL 3 no longer loads. Fix: re-export it: openssl pkcs12 -legacy -in old.p12 -nodes | openssl pkcs12 -export -out new.p12.`);
  }
  if (/key values mismatch/i.test(message)) {
    return new TlsConfigError(`The ${label} holds a private key that does not belong to its certificate. Fix: re-export it with the matching key.`);
  }
  if (/too small|ee key too small|key too small/i.test(message)) {
    return new TlsConfigError(`The ${label} holds a key that is too small (RSA needs at least ${MIN_RSA_BITS} bits). Fix: issue a new certificate with a stronger key.`);
  }
  return new TlsConfigError(`The ${label} cannot be loaded as PKCS#12 (${message}). Fix: give --pfx a .p12/.pfx file, or use --cert and --key with PEM files.`);
}

export async function loadCaBundle(value: string | Uint8Array): Promise<{ pem: string; files: string[]; certificates: X509Certificate[] }> {
  const source = await readSource(value, 'client CA', '--client-ca');
  const certificates = parseCertificateChain(source);
  return { pem: certificates.map((c) => c.toString()).join(''), files: source.path ? [source.path] : [], certificates };
}
