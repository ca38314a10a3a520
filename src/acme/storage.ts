/**
 * Where ACME state lives, and how it is written: one folder per CA directory URL (accounts are per CA), holding the
 * account key and, per certificate (named by its first name), the chain, its key and a record of what was issued.
 *
 *   <storage>/<ca>/account-key.pem          0600
 *   <storage>/<ca>/account.json             { url }
 *   <storage>/<ca>/certificates/<name>/cert.pem, key.pem (0600), meta.json
 *
 * Every file is replaced atomically (src/cert/files.ts). cert.pem and key.pem are the files the TLS listener reads;
 * meta.json is written last and records the SHA-256 of the chain it describes, so a crash between the writes (or a
 * placeholder served before the first issuance) is never taken for a good certificate on the next start.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { caRoot } from '../cert/paths.js';
import { writeFileAtomic } from '../cert/files.js';

export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;

/** The default storage folder: `acme` in the data directory that also holds the local CA (HTTPSD_CAROOT or XDG). */
export function defaultAcmeStorage(env: NodeJS.ProcessEnv = process.env): string {
  return join(caRoot(env), 'acme');
}

/** A file-system-safe folder name for a CA, readable by a human: host, port and path of its directory URL. */
export function caFolderName(directoryUrl: string): string {
  const url = new URL(directoryUrl);
  const text = `${url.hostname}${url.port ? `_${url.port}` : ''}${url.pathname}`.replace(/[^a-zA-Z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  return text.length > 0 ? text.slice(0, 120) : 'ca';
}

export interface StoredCertificate {
  names: string[];
  certPem: string;
  keyPem: string;
  leaf: X509Certificate;
  notBefore: number;
  notAfter: number;
  issuedAt: number;
}

interface CertificateMeta {
  names: string[];
  sha256: string;
  notBefore: string;
  notAfter: string;
  issuedAt: string;
  directoryUrl: string;
}

export class AcmeStorage {
  readonly caDir: string;
  readonly certDir: string;
  readonly certFile: string;
  readonly keyFile: string;
  private readonly metaFile: string;

  constructor(
    readonly root: string,
    readonly directoryUrl: string,
    names: readonly string[],
  ) {
    this.caDir = join(root, caFolderName(directoryUrl));
    this.certDir = join(this.caDir, 'certificates', names[0]!.replace(/^\*/, '_wildcard'));
    this.certFile = join(this.certDir, 'cert.pem');
    this.keyFile = join(this.certDir, 'key.pem');
    this.metaFile = join(this.certDir, 'meta.json');
  }

  async prepare(): Promise<void> {
    // 0700: the folder holds private keys; other users need not even list it.
    await fs.mkdir(this.certDir, { recursive: true, mode: 0o700 });
  }

  /** The account key, created (ECDSA P-256) and stored on first use. */
  async accountKey(create: () => Promise<string>): Promise<string> {
    const file = join(this.caDir, 'account-key.pem');
    const existing = await readOptional(file);
    if (existing !== undefined) {
      createPrivateKey(existing); // a corrupt key must fail loudly here, not as a JWS error from the CA
      return existing;
    }
    const pem = await create();
    await writeFileAtomic(file, pem, { mode: KEY_MODE, overwrite: true });
    return pem;
  }

  async accountUrl(): Promise<string | undefined> {
    const text = await readOptional(join(this.caDir, 'account.json'));
    if (text === undefined) return undefined;
    try {
      const url = (JSON.parse(text) as { url?: unknown }).url;
      return typeof url === 'string' ? url : undefined;
    } catch {
      return undefined;
    }
  }

  async saveAccountUrl(url: string): Promise<void> {
    await writeFileAtomic(join(this.caDir, 'account.json'), JSON.stringify({ url }, null, 2) + '\n', { mode: CERT_MODE, overwrite: true });
  }

  /**
   * The stored certificate when it is a complete, CA-issued one for exactly `names`: meta.json present and matching
   * the chain, the key matching the leaf. Anything else (a placeholder, a torn write, other names) is undefined.
   */
  async load(names: readonly string[]): Promise<StoredCertificate | undefined> {
    const [metaText, certPem, keyPem] = await Promise.all([readOptional(this.metaFile), readOptional(this.certFile), readOptional(this.keyFile)]);
    if (metaText === undefined || certPem === undefined || keyPem === undefined) return undefined;
    try {
      const meta = JSON.parse(metaText) as CertificateMeta;
      if (meta.sha256 !== sha256(certPem)) return undefined;
      if ([...meta.names].sort().join(',') !== [...names].sort().join(',')) return undefined;
      const leaf = new X509Certificate(certPem);
      if (!leaf.checkPrivateKey(createPrivateKey(keyPem))) return undefined;
      return { names: meta.names, certPem, keyPem, leaf, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), issuedAt: Date.parse(meta.issuedAt) };
    } catch {
      return undefined;
    }
  }

  /** Key first, then chain, then the record that makes them "good": each step atomic. */
  async save(names: readonly string[], certPem: string, keyPem: string, now: number): Promise<StoredCertificate> {
    const leaf = new X509Certificate(certPem);
    await writeFileAtomic(this.keyFile, keyPem, { mode: KEY_MODE, overwrite: true });
    await writeFileAtomic(this.certFile, certPem, { mode: CERT_MODE, overwrite: true });
    const meta: CertificateMeta = {
      names: [...names],
      sha256: sha256(certPem),
      notBefore: new Date(leaf.validFrom).toISOString(),
      notAfter: new Date(leaf.validTo).toISOString(),
      issuedAt: new Date(now).toISOString(),
      directoryUrl: this.directoryUrl,
    };
    await writeFileAtomic(this.metaFile, JSON.stringify(meta, null, 2) + '\n', { mode: CERT_MODE, overwrite: true });
    return { names: [...names], certPem, keyPem, leaf, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), issuedAt: now };
  }

  /** Serves something until the first issuance: a throwaway self-signed pair, without a meta.json (never "good"). */
  async savePlaceholder(certPem: string, keyPem: string): Promise<void> {
    await fs.rm(this.metaFile, { force: true });
    await writeFileAtomic(this.keyFile, keyPem, { mode: KEY_MODE, overwrite: true });
    await writeFileAtomic(this.certFile, certPem, { mode: CERT_MODE, overwrite: true });
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
