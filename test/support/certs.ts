/**
 * Test certificates: a throwaway self-signed ECDSA P-256 certificate for localhost, 127.0.0.1 and ::1, made with
 * openssl into a temp dir. One per test process (cached); removed at exit.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  /** PEM text. */
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  dir: string;
}

let cached: TestCertificate | undefined;

export function makeCertificate(commonName = 'localhost'): TestCertificate {
  if (cached !== undefined && commonName === 'localhost') return cached;
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-test-cert-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', `/CN=${commonName}`,
      '-addext', `subjectAltName=DNS:${commonName},IP:127.0.0.1,IP:::1`,
      '-keyout', keyFile, '-out', certFile,
    ],
    { stdio: 'ignore' },
  );
  const result = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8'), certFile, keyFile, dir };
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  if (commonName === 'localhost') cached = result;
  return result;
}

export interface TestCa {
  certFile: string;
  keyFile: string;
  cert: string;
  dir: string;
}

/** A throwaway CA and a client certificate it signed (for mTLS tests). */
export function makeClientCertificate(commonName = 'test-client'): { ca: TestCa; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-test-mtls-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const caKey = join(dir, 'ca-key.pem');
  const caCert = join(dir, 'ca.pem');
  const clientKey = join(dir, 'client-key.pem');
  const clientCsr = join(dir, 'client.csr');
  const clientCert = join(dir, 'client.pem');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=httpsd test CA', '-keyout', caKey, '-out', caCert], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-subj', `/CN=${commonName}`, '-keyout', clientKey, '-out', clientCsr], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', clientCsr, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-out', clientCert], {
    stdio: 'ignore',
  });
  return {
    ca: { certFile: caCert, keyFile: caKey, cert: readFileSync(caCert, 'utf8'), dir },
    cert: readFileSync(clientCert, 'utf8'),
    key: readFileSync(clientKey, 'utf8'),
  };
}
