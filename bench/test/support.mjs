// Shared by the harness tests: a throwaway self-signed ECDSA P-256 certificate, and a bench server run around a test.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, stopChild, freePort, waitForPort } from '../lib/proc.mjs';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Writes cert.pem and key.pem (CN=localhost, one day) into dir and returns their paths. */
export function makeCert(dir) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
  { stdio: 'ignore' });
  return { cert, key };
}

/**
 * Starts bench/servers/SCRIPT with a fresh certificate on two free ports (TLS, cleartext), runs
 * run({ port, httpPort, pid, dir }) and stops the server whatever happens.
 */
export async function withServer(script, run) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-test-'));
  const { cert, key } = makeCert(dir);
  const port = await freePort();
  let httpPort = await freePort();
  while (httpPort === port) httpPort = await freePort();
  const child = startChild(process.execPath, [path.join(benchDir, 'servers', script), '--port', String(port),
    '--http-port', String(httpPort), '--cert', cert, '--key', key]);
  try {
    assert.ok(await waitForPort(port, child), `${script} did not listen`);
    assert.ok(await waitForPort(httpPort, child), `${script} did not listen in cleartext`);
    await run({ port, httpPort, pid: child.pid, dir });
  } finally {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  }
}
