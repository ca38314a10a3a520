/**
 * `httpsd ENTRY --acme NAMES`: the command obtains its certificate from a real ACME CA (Pebble) before announcing
 * itself (its ACME counters in --metrics), refuses to start with the directory URL and the fix when the CA is unreachable and nothing is stored, and
 * rejects flag combinations that cannot work.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { cliEnv, runCli, startCli } from '../support/cli.js';
import { sleep } from '../support/async.js';
import { CHALLTESTSRV, PEBBLE, freePort, startPebble, type Pebble } from './pebble.js';

const available = existsSync(PEBBLE) && existsSync(CHALLTESTSRV);
// Pebble is part of the suite (.ci/run installs it): missing, the suite fails instead of skipping.
if (!available) throw new Error(`Pebble is not installed (${PEBBLE}, ${CHALLTESTSRV}). Fix: apt-get install pebble`);

function verifiedHandshake(port: number, servername: string, ca: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      resolve(socket.authorized);
      socket.end();
    });
    socket.setTimeout(20_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', reject);
  });
}

describe('httpsd --acme', { timeout: 300_000 }, () => {
  let pebble: Pebble;
  let ports: { tlsPort: number; httpPort: number };
  let dir: string;
  let caFile: string;

  before(async () => {
    ports = { tlsPort: await freePort(), httpPort: await freePort() };
    pebble = await startPebble(ports);
    dir = mkdtempSync(join(tmpdir(), 'httpsd-acme-cli-'));
    caFile = join(dir, 'pebble-api.pem');
    writeFileSync(caFile, pebble.directoryCa);
    writeFileSync(join(dir, 'index.html'), '<h1>hello</h1>\n');
  });

  after(async () => {
    await pebble?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('obtains the certificate before the banner and serves it; --metrics carries the ACME counters', { timeout: 120_000 }, async () => {
    const args = [dir, '--acme', 'e.test,www.e.test', '--acme-directory', pebble.directoryUrl, '--acme-storage', join(dir, 'acme'), '--acme-email', 'me@e.test'];
    const cli = await startCli([...args, '--host', '127.0.0.1', '--port', String(ports.tlsPort), '--http-port', String(ports.httpPort), '--metrics', '/metrics'], {
      env: cliEnv({ NODE_EXTRA_CA_CERTS: caFile }),
      timeoutMs: 90_000,
    });
    try {
      const deadline = Date.now() + 60_000;
      while (!cli.stderr().includes('Certificate from the ACME CA') && Date.now() < deadline && cli.child.exitCode === null) await sleep(50);
      assert.match(cli.stderr(), /issued the certificate for e\.test, www\.e\.test/);
      assert.match(cli.stderr(), /Certificate from the ACME CA https:\/\/127\.0\.0\.1:\d+\/dir for e\.test, www\.e\.test; renewal after /);
      const root = await pebble.rootPem();
      assert.equal(await verifiedHandshake(ports.tlsPort, 'www.e.test', root), true);
      // The cleartext port serves the same counters (the TLS one would need the hostname for its certificate).
      const metrics = await fetch(`http://127.0.0.1:${ports.httpPort}/metrics`);
      const text = await metrics.text();
      assert.match(text, /^httpsd_acme_certificates_issued_total 1$/m);
      assert.match(text, /^httpsd_acme_failures_total 0$/m);
      assert.match(text, /^httpsd_acme_certificate_expiry_timestamp_seconds \d+$/m);
    } finally {
      await cli.stop();
    }
  });

  it('refuses to start when the CA is unreachable and no certificate is stored, naming the URL and the fix', { timeout: 60_000 }, async () => {
    const closed = `https://127.0.0.1:${await freePort()}/directory`;
    const result = await runCli([dir, '--acme', 'f.test', '--acme-directory', closed, '--acme-storage', join(dir, 'acme-empty'), '--port', '0', '--host', '127.0.0.1'], { timeoutMs: 50_000 });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`httpsd: cannot obtain a certificate for f\\.test: the ACME directory ${closed.replace(/[.:/]/g, '\\$&')} is unreachable \\(ECONNREFUSED\\)\\. Fix: .*--acme-directory URL`));
  });

  it('rejects wildcards (DNS-01 only), IP addresses and a second certificate source', { timeout: 60_000 }, async () => {
    const wildcard = await runCli([dir, '--acme', '*.e.test', '--acme-storage', join(dir, 'acme-x')]);
    assert.equal(wildcard.code, 2);
    assert.match(wildcard.stderr, /wildcard certificates need the DNS-01 challenge/);
    const ip = await runCli([dir, '--acme', '203.0.113.7', '--acme-storage', join(dir, 'acme-x')]);
    assert.match(ip.stderr, /an IP address; ACME CAs issue for DNS names/);
    const both = await runCli([dir, '--acme', 'e.test', '--cert', 'x.pem', '--key', 'x-key.pem']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--acme and --cert both choose the certificate/);
    const stray = await runCli([dir, '--acme-email', 'me@e.test']);
    assert.match(stray.stderr, /--acme-email needs --acme NAMES/);
  });
});
