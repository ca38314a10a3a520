/**
 * Local certificate authority (`httpsd cert`, an mkcert you do not have to install): public API.
 *
 * The root lives in the CA folder (caRoot()); its key never leaves it. ensureLocalhostCertificate() is what the
 * server uses when started without --cert/--key.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate as issueWithCA, loadOrCreateCA, MAX_LEAF_DAYS, type IssuedCertificate, type IssueRequest, type LocalCA } from './ca.js';
import { exists, withDirectoryLock, writeFileAtomic } from './files.js';
import { nameIsPermitted, parseSubjectName } from './names.js';

export {
  loadOrCreateCA,
  generateKey,
  validateDays,
  validateRsaBits,
  readNameConstraints,
  MAX_LEAF_DAYS,
  MIN_RSA_BITS,
  ROOT_CERT_FILE,
  ROOT_KEY_FILE,
} from './ca.js';
export type { IssueRequest, IssuedCertificate, KeyType, LoadOrCreateCAOptions, LocalCA } from './ca.js';
export { parseConstraints, parseSubjectName, DEFAULT_CONSTRAINTS } from './names.js';
export type { NameConstraint, SubjectName } from './names.js';
export { installTrust, uninstallTrust, discoverNssDatabases, resolveTrustOptions } from './trust.js';
export type { StoreResult, StoreStatus, TrustOptions } from './trust.js';
export { runCertCommand, certCliOptions } from './cli.js';
export { caRoot } from './paths.js';
export { createThrowawaySelfSignedCertificate, type SelfSignedCertificate } from './self-signed.js';
export { DEFAULT_PKCS12_PASSWORD } from './pkcs12.js';
import { caRoot } from './paths.js';

/** Names the zero-config certificate covers: what a browser or curl on this machine uses to reach it. */
export const LOCALHOST_NAMES = ['localhost', '127.0.0.1', '::1'];
export const LOCALHOST_CERT_FILE = 'localhost.pem';
export const LOCALHOST_KEY_FILE = 'localhost-key.pem';
/** Re-mint this long before expiry so a long-running server is never started with a certificate about to lapse. */
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;
export const TRUST_COMMAND = 'npx httpsd cert --install';

/** Signs a leaf with the local CA. See IssueRequest for the fields; keys are PKCS#8 PEM. */
export function issueCertificate(ca: LocalCA, request: IssueRequest): Promise<IssuedCertificate> {
  return issueWithCA(ca, request);
}

export interface LocalhostCertificate {
  certFile: string;
  keyFile: string;
  caCertFile: string;
  /** True when a new leaf was minted (first run, expiring, or signed by another root). */
  created: boolean;
  /** True when the root itself was created by this call (so it cannot be trusted yet). */
  caCreated: boolean;
  trustCommand: string;
}

/** Whether the stored localhost leaf can be served as is: ours, covering every name, matching its key, not expiring. */
async function reusableLeaf(certFile: string, keyFile: string, ca: LocalCA, names: string[]): Promise<boolean> {
  if (!(await exists(certFile)) || !(await exists(keyFile))) return false;
  try {
    const [certPem, keyPem] = await Promise.all([fs.readFile(certFile, 'utf8'), fs.readFile(keyFile, 'utf8')]);
    const leaf = new X509Certificate(certPem);
    const root = new X509Certificate(ca.certPem);
    if (!leaf.checkIssued(root) || !leaf.verify(root.publicKey)) return false;
    if (new Date(leaf.validTo).getTime() - Date.now() < RENEW_BEFORE_MS) return false;
    if (new Date(leaf.validFrom).getTime() > Date.now()) return false;
    if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) return false;
    // checkHost/checkIP return the matching name, undefined when the certificate does not cover it.
    return names.every((name) => (name.includes(':') || /^[\d.]+$/.test(name) ? leaf.checkIP(name) : leaf.checkHost(name)) !== undefined);
  } catch {
    return false;
  }
}

/**
 * Zero-config TLS for `npx httpsd`: returns a leaf for localhost, 127.0.0.1 and ::1 stored in the CA folder,
 * reusing it while valid and minting a new one when missing, expiring within 30 days, or signed by another root.
 * Creates the CA on first use.
 */
export async function ensureLocalhostCertificate(options: { caroot?: string } = {}): Promise<LocalhostCertificate> {
  const caroot = options.caroot ?? caRoot();
  const ca = await loadOrCreateCA(caroot);
  const certFile = join(caroot, LOCALHOST_CERT_FILE);
  const keyFile = join(caroot, LOCALHOST_KEY_FILE);
  // A name-constrained root may not permit every loopback name; the leaf covers the ones it does.
  const names = ca.constraints ? LOCALHOST_NAMES.filter((name) => nameIsPermitted(parseSubjectName(name), ca.constraints!)) : LOCALHOST_NAMES;
  const created = await withDirectoryLock(join(caroot, '.localhost.lock'), async () => {
    if (await reusableLeaf(certFile, keyFile, ca, names)) return false;
    const issued = await issueWithCA(ca, { names, keyType: 'ecdsa', days: MAX_LEAF_DAYS });
    // Key before certificate: a reader that sees the new certificate must find the matching key.
    await writeFileAtomic(keyFile, issued.keyPem!, { mode: 0o600, overwrite: true });
    await writeFileAtomic(certFile, issued.certPem, { mode: 0o644, overwrite: true });
    return true;
  });
  return { certFile, keyFile, caCertFile: ca.certFile, created, caCreated: ca.created, trustCommand: TRUST_COMMAND };
}
