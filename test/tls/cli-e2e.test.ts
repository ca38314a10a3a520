import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TestCa, tempDir, run, sClient } from './helpers.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const RUN_CLI = "const m = await import(process.env.HTTPSD_TEST_MAIN); await m.main(process.argv.slice(1));";

interface Running {
  child: ChildProcess;
  port: number;
  stderr: () => string;
}

/** Starts the httpsd command (from the TypeScript sources) and waits for the https URL in its banner. */
function startCli(args: string[]): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUN_CLI, '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, HTTPSD_TEST_MAIN: join(ROOT, 'src/cli/main.ts') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no banner within 10 s: ${stderr}`));
    }, 10_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      const match = /https:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), stderr: () => stderr });
      }
    });
    child.stdout!.resume();
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}: ${stderr}`));
    });
  });
}

function stop(running: Running): Promise<void> {
  return new Promise((resolve) => {
    if (running.child.exitCode !== null || running.child.signalCode !== null) return resolve();
    running.child.once('exit', () => resolve());
    running.child.kill('SIGKILL');
  });
}

describe('TLS flags through the httpsd command', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ca: TestCa;
  let pair: { certPath: string; keyPath: string };
  const running: Running[] = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    ca = await TestCa.create(dir);
    pair = await ca.issue('server', { sans: ['DNS:localhost', 'IP:127.0.0.1'] });
    await writeFile(join(dir, 'index.html'), 'hello from httpsd\n');
  });
  after(async () => {
    for (const r of running) await stop(r);
    await cleanup();
  });

  test('--tls-profile modern, --alpn http/1.1,h2 and --curves reach the listener', async () => {
    const r = await startCli(['--cert', pair.certPath, '--key', pair.keyPath, '--port', '0', '--host', '127.0.0.1', '--tls-profile', 'modern', '--alpn', 'http/1.1,h2', '--curves', 'P-384', dir]);
    running.push(r);
    assert.equal((await sClient(r.port, ['-tls1_2'])).cipher, undefined);
    const tls13 = await sClient(r.port, ['-alpn', 'h2,http/1.1', '-groups', 'X25519:P-384']);
    assert.equal(tls13.protocol, 'TLSv1.3');
    assert.match(tls13.stdout, /ALPN protocol: http\/1\.1/);
    assert.match(tls13.stdout, /Server Temp Key: ECDH, (P-384|secp384r1)/);
    const curl = await run('curl', ['-s', '--cacert', ca.certPath, '-w', '\n%{http_version}', `https://127.0.0.1:${r.port}/index.html`]);
    assert.equal(curl.stdout, 'hello from httpsd\n\n1.1');
    await stop(r);
  });

  test('SIGHUP reloads the certificate', async () => {
    const live = join(dir, 'live');
    await mkdir(live, { recursive: true });
    await copyFile(pair.certPath, join(live, 'cert.pem'));
    await copyFile(pair.keyPath, join(live, 'key.pem'));
    const r = await startCli(['--cert', join(live, 'cert.pem'), '--key', join(live, 'key.pem'), '--port', '0', '--host', '127.0.0.1', dir]);
    running.push(r);
    assert.match((await sClient(r.port)).subject ?? '', /CN ?= ?localhost/);
    const next = await ca.issue('next', { cn: 'next.localhost', sans: ['IP:127.0.0.1'] });
    await copyFile(next.certPath, join(live, 'cert.pem'));
    await copyFile(next.keyPath, join(live, 'key.pem'));
    const reloaded = new Promise<void>((resolve) => {
      const check = () => (/reloaded/.test(r.stderr()) ? resolve() : setTimeout(check, 20));
      check();
    });
    r.child.kill('SIGHUP');
    await reloaded;
    assert.match((await sClient(r.port)).subject ?? '', /CN ?= ?next\.localhost/);
    await stop(r);
  });

  test('a bad TLS flag or file exits with status 2 and a message naming it', async () => {
    const cli = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUN_CLI.replace('process.env.HTTPSD_TEST_MAIN', JSON.stringify(join(ROOT, 'src/cli/main.ts'))), '--', ...args], { cwd: ROOT, timeoutMs: 15_000 });
    const wrongKey = await ca.issue('other', { sans: ['DNS:localhost'] });
    const [mismatch, profile, alpn] = await Promise.all([
      cli(['--cert', pair.certPath, '--key', wrongKey.keyPath, '--port', '0', dir]),
      cli(['--tls-profile', 'nope', '--port', '0', dir]),
      cli(['--alpn', 'spdy/3', '--port', '0', dir]),
    ]);
    assert.equal(mismatch.code, 2);
    assert.match(mismatch.stderr, /other\.key does not belong to the certificate file .*server\.pem/);
    assert.equal(profile.code, 2);
    assert.match(profile.stderr, /--tls-profile nope: unknown profile\. Accepted: modern, intermediate, old/);
    assert.equal(alpn.code, 2);
    assert.match(alpn.stderr, /--alpn: unknown protocol "spdy\/3"/);
  });
});
