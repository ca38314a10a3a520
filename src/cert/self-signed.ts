/**
 * A throwaway self-signed certificate made by the openssl binary: the last resort of the `httpsd` command when the
 * local CA cannot be used (an unwritable CA folder, a broken root). Clients will not trust it; it only keeps a
 * development server reachable. The files live in a private temporary folder removed when the process exits.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCertificate {
  certFile: string;
  keyFile: string;
}

/** Short-lived on purpose: nobody should come to rely on it. */
const SELF_SIGNED_DAYS = 7;

function subjectAltName(names: readonly string[]): string {
  return names.map((name) => (/^[\d.]+$/.test(name) || name.includes(':') ? `IP:${name}` : `DNS:${name}`)).join(',');
}

/** ECDSA P-256 certificate for `names` (the first is also the CN), valid for 7 days. Throws when openssl is missing. */
export function createThrowawaySelfSignedCertificate(names: readonly string[]): SelfSignedCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-selfsigned-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(SELF_SIGNED_DAYS),
      '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${subjectAltName(names)}`, '-keyout', keyFile, '-out', certFile,
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}
