/**
 * Running the command: what it says on a certificate reload and on a shutdown that cuts requests, PKCS#12 files as
 * `httpsd cert --pkcs12` writes them, the JSON access log, and the addresses listed for a wildcard --host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:http2';
import { makeCertificate } from '../support/certs.js';
import { cliEnv, runCli, startCli } from '../support/cli.js';
import { PATIENCE_MS, waitFor } from '../support/server.js';
import { coverageWarnings, describeListeners } from '../../src/cli/banner.js';
import { parseServerOptions } from '../../src/cli/server-options.js';
import { http2Get } from './entry-client.js';

const certificate = makeCertificate();
const tlsArgs = ['--cert', certificate.certFile, '--key', certificate.keyFile];

function workDir(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-ops-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('SIGHUP: the reload names the certificate file, its names and its expiry', async () => {
  const cli = await startCli(['examples', '--port', '0', ...tlsArgs]);
  try {
    cli.child.kill('SIGHUP');
    await waitFor(() => /certificates reloaded \(SIGHUP\)/.test(cli.stderr()), 'the reload message', 15_000);
    await waitFor(() => /expires/.test(cli.stderr().split('certificates reloaded')[1] ?? ''), 'the certificate lines');
    const message = cli.stderr().split('certificates reloaded (SIGHUP):\n')[1]!;
    assert.ok(message.includes(certificate.certFile), message);
    assert.match(message, /names: DNS:localhost, IP Address:127\.0\.0\.1/);
    assert.match(message, /expires \d{4}-\d\d-\d\dT/);
    assert.equal((await http2Get(cli.port, '/')).status, 200);
  } finally {
    await cli.stop();
  }
});

test('--watch-certs: a reload after a file change names the certificate, its names and its expiry', async () => {
  const dir = workDir({ 'cert.pem': certificate.cert, 'key.pem': certificate.key });
  const certFile = join(dir, 'cert.pem');
  try {
    const cli = await startCli(['examples', '--port', '0', '--cert', certFile, '--key', join(dir, 'key.pem'), '--watch-certs']);
    try {
      writeFileSync(certFile, certificate.cert);
      await waitFor(() => /TLS certificates reloaded \(file change\):\n.*\n.*\n.*expires/.test(cli.stderr()), 'the reload message', 15_000);
      const message = cli.stderr().split('TLS certificates reloaded (file change):\n')[1]!;
      assert.ok(message.includes(certFile), message);
      assert.match(message, /names: DNS:localhost/);
    } finally {
      await cli.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const ENDLESS_STREAM_APP = `export default {
  fetch() {
    let timer;
    const body = new ReadableStream({
      start(controller) { timer = setInterval(() => controller.enqueue(new TextEncoder().encode('tick\\n')), 50); },
      cancel() { clearInterval(timer); },
    });
    return new Response(body);
  },
};
`;

test('--shutdown-timeout with an endless stream: says how many requests were cut, exits 0 close to the timeout', async () => {
  const dir = workDir({ 'stream.mjs': ENDLESS_STREAM_APP });
  try {
    const cli = await startCli(['stream.mjs', '--port', '0', '--shutdown-timeout', '1', ...tlsArgs], { cwd: dir, build: true });
    const session = connect(`https://localhost:${cli.port}`, { rejectUnauthorized: false });
    session.on('error', () => {});
    try {
      const stream = session.request({ ':path': '/' });
      stream.on('error', () => {});
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      const started = Date.now();
      cli.child.kill('SIGTERM');
      assert.equal(await cli.exited, 0);
      const elapsed = Date.now() - started;
      assert.match(cli.stderr(), /shutdown timeout reached: cutting 1 unfinished request on 1 connection/);
      assert.ok(elapsed >= 900, `exited after ${elapsed} ms, before the timeout`);
      // The stream is endless: without the timeout the process would never exit. A generous bound (far from the
      // 1 s timeout, far below forever) tells the two apart on a busy machine too.
      assert.ok(elapsed < PATIENCE_MS, `exited after ${elapsed} ms`);
    } finally {
      session.destroy();
      await cli.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--pfx from `httpsd cert --pkcs12`: the error names the default password; the name check covers PKCS#12 too', async () => {
  const dir = workDir();
  const env = cliEnv();
  try {
    const made = await runCli(['cert', 'other.example.test', '--pkcs12'], { cwd: dir, env, build: true });
    assert.equal(made.code, 0, made.stderr);
    const p12 = join(dir, 'other.example.test.p12');
    const refused = await runCli(['.', '--port', '0', '--pfx', p12], { cwd: dir, env, build: true });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /protected by a passphrase.*password "changeit".*--key-passphrase changeit/s);
    const cli = await startCli(['.', '--port', '0', '--pfx', p12, '--key-passphrase', 'changeit'], { cwd: dir, env, build: true });
    try {
      await waitFor(() => /does not cover "localhost"/.test(cli.stderr()), 'the host coverage warning');
      assert.match(cli.stderr(), /WARNING: the certificate .*other\.example\.test.* does not cover "localhost".*httpsd cert localhost/);
    } finally {
      await cli.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--access-log json: durationMs has at most 3 decimals', async () => {
  const cli = await startCli(['examples/hello.ts', '--port', '0', '--access-log', 'json', ...tlsArgs]);
  try {
    for (let i = 0; i < 5; i++) assert.equal((await http2Get(cli.port, '/')).status, 200);
    await waitFor(() => (cli.stdout().match(/\n/g) ?? []).length >= 5, 'five access log lines');
    for (const line of cli.stdout().trim().split('\n')) {
      const entry = JSON.parse(line) as { durationMs: number };
      assert.equal(typeof entry.durationMs, 'number');
      assert.match(String(entry.durationMs), /^\d+(\.\d{1,3})?$/, line);
    }
  } finally {
    await cli.stop();
  }
});

// A wildcard --host in a test would expose a listener on the machine's network: the banner module is run on the
// real interface list instead.
test('--host 0.0.0.0 / ::: the banner lists every LAN address and warns when the certificate does not cover them', () => {
  const lanIPv4 = Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !entry.internal && entry.family === 'IPv4')
    .map((entry) => entry.address);
  const server = { urls: ['https://localhost:8443/', 'http://localhost:8080/'] };
  const lines = describeListeners(server, parseServerOptions({ host: '0.0.0.0' }), undefined);
  for (const address of lanIPv4) {
    assert.ok(lines.includes(`  https://${address}:8443/`), lines.join('\n'));
    assert.ok(lines.includes(`  http://${address}:8080/`), lines.join('\n'));
  }
  assert.ok(lines.some((line) => /reachable from other machines/.test(line)));
  const leaf = new X509Certificate(readFileSync(certificate.certFile));
  const warnings = coverageWarnings(leaf, '0.0.0.0');
  if (lanIPv4.length === 0) {
    assert.deepEqual(warnings, []);
    return;
  }
  assert.equal(warnings.length, 1);
  assert.ok(warnings[0]!.includes(`does not cover ${lanIPv4.join(', ')}`), warnings[0]);
  assert.ok(warnings[0]!.includes(`httpsd cert localhost ${lanIPv4.join(' ')}`), warnings[0]);
  // Loopback-only listeners list nothing more.
  assert.deepEqual(describeListeners(server, parseServerOptions({ host: '127.0.0.1' }), undefined).length, 2);
});
