/**
 * The newcomer's journey of the README, end to end through the built command (bin/httpsd.js, what `npx httpsd`
 * runs) and real curl: zero-config start with a fresh local CA, trusting it by file, h2 / http/1.1 / h2c, the
 * certificate command, usage errors, SIGINT. Plus the README's by-hand engine example, run as written.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT, cliEnv, runCli, startCli } from '../support/cli.js';

function run(command: string, args: string[], options: { cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 15_000, cwd: options.cwd }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function curl(args: string[]) {
  return run('curl', ['-sS', '--max-time', '10', ...args]);
}

describe('README quick start: npx httpsd with a fresh local CA', () => {
  test('zero-config start creates rootCA.pem, curl trusting only that file gets h2 and http/1.1; SIGINT exits 0', async () => {
    const caRoot = mkdtempSync(join(tmpdir(), 'httpsd-journey-ca-'));
    try {
      const env = cliEnv({ HTTPSD_CAROOT: caRoot });
      const cli = await startCli(['examples/hello.ts', '--port', '0', '--http-port', '0'], { build: true, env });
      try {
        const banner = cli.stderr();
        assert.match(banner, /httpsd cert --install/, 'the banner tells how to trust the CA');
        assert.match(banner, /ALPN h2, http\/1\.1/);
        assert.match(banner, /h2c prior knowledge/);
        const rootCa = join(caRoot, 'rootCA.pem');
        assert.ok(existsSync(rootCa), 'the local CA root is rootCA.pem in HTTPSD_CAROOT');
        assert.equal(statSync(join(caRoot, 'rootCA-key.pem')).mode & 0o777, 0o600, 'the CA key is private');

        const caroot = await runCli(['cert', '--caroot'], { build: true, env });
        assert.equal(caroot.code, 0, caroot.stderr);
        assert.equal(caroot.stdout.trim(), caRoot);

        const h2 = await curl(['--cacert', rootCa, '-w', ' %{http_version}', `https://localhost:${cli.port}/`]);
        assert.equal(h2.code, 0, h2.stderr);
        assert.equal(h2.stdout, 'hello 2');
        const h1 = await curl(['--http1.1', '--cacert', rootCa, '-w', ' %{http_version}', `https://127.0.0.1:${cli.port}/`]);
        assert.equal(h1.code, 0, h1.stderr);
        assert.equal(h1.stdout, 'hello 1.1');
        const h2c = await curl(['--http2-prior-knowledge', '-w', ' %{http_version}', `http://127.0.0.1:${cli.httpPort}/`]);
        assert.equal(h2c.code, 0, h2c.stderr);
        assert.equal(h2c.stdout, 'hello 2');
        // Without the CA file (system store only, where this fresh root is not) curl refuses the certificate:
        // the success above comes from trusting rootCA.pem, not from a lenient client.
        const untrusted = await curl([`https://localhost:${cli.port}/`]);
        assert.equal(untrusted.code, 60, untrusted.stderr);
      } finally {
        if (cli.child.exitCode === null) cli.child.kill('SIGINT');
        const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('timeout'), 8000))]);
        if (code === 'timeout') cli.child.kill('SIGKILL');
        assert.equal(code, 0, 'SIGINT with nothing in flight is a clean exit');
      }
    } finally {
      rmSync(caRoot, { recursive: true, force: true });
    }
  });

  test('httpsd cert localhost writes a certificate the local root verifies, and refuses to overwrite it', async () => {
    const caRoot = mkdtempSync(join(tmpdir(), 'httpsd-journey-ca-'));
    const work = mkdtempSync(join(tmpdir(), 'httpsd-journey-cert-'));
    try {
      const env = cliEnv({ HTTPSD_CAROOT: caRoot });
      const first = await runCli(['cert', 'localhost'], { build: true, env, cwd: work });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(statSync(join(work, 'localhost-key.pem')).mode & 0o777, 0o600);
      const verify = await run('openssl', ['verify', '-CAfile', join(caRoot, 'rootCA.pem'), join(work, 'localhost.pem')]);
      assert.equal(verify.code, 0, verify.stderr);
      assert.match(verify.stdout, /OK/);
      const second = await runCli(['cert', 'localhost'], { build: true, env, cwd: work });
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, /--force/);
    } finally {
      rmSync(caRoot, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
    }
  });

  test('bad flags and missing files: one line naming the flag or file, exit status 2', async () => {
    const env = cliEnv();
    const cases: [string[], RegExp][] = [
      [['--port', 'abc'], /--port abc/],
      [['--cert', 'missing.pem', '--key', 'missing-key.pem'], /missing\.pem/],
      [['--cert', 'missing.pem'], /--key/],
      [['--bogus'], /--bogus/],
      [['no-such-dir'], /no-such-dir/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, { build: true, env });
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});

describe('README: the HTTP/2 engine driven by hand', () => {
  test('the example in README.md runs as written and answers curl --http2-prior-knowledge', async () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## The HTTP/2 engine'));
    const match = /```ts\n([\s\S]*?)```/.exec(section);
    assert.ok(match, 'README has a ts example in "The HTTP/2 engine"');
    let source = match[1]!;
    assert.match(source, /from 'httpsd\/h2'/);
    assert.match(source, /\.listen\(8080\)/);
    // Same program, pointed at this checkout's engine and at a free loopback port.
    source = source
      .replace("from 'httpsd/h2'", `from ${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'src/h2/index.ts')).href)}`)
      .replace(/\.listen\(8080\)/, ".listen(0, '127.0.0.1', function (this: net.Server) { console.log('PORT ' + (this.address() as net.AddressInfo).port); })");
    const dir = mkdtempSync(join(tmpdir(), 'httpsd-journey-engine-'));
    const file = join(dir, 'engine-example.ts');
    writeFileSync(file, source);
    const env = cliEnv();
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const port = await new Promise<number>((resolve, reject) => {
        let stdout = '';
        const timer = setTimeout(() => reject(new Error(`the example did not listen: ${stderr}`)), 15_000);
        child.stdout.on('data', (chunk) => {
          stdout += chunk;
          const found = /PORT (\d+)/.exec(stdout);
          if (found) {
            clearTimeout(timer);
            resolve(Number(found[1]));
          }
        });
        child.on('exit', (code) => reject(new Error(`the example exited with ${code}: ${stderr}`)));
      });
      const get = await curl(['--http2-prior-knowledge', '-i', `http://127.0.0.1:${port}/`]);
      assert.equal(get.code, 0, get.stderr);
      assert.match(get.stdout, /^HTTP\/2 200/);
      assert.match(get.stdout, /content-type: text\/plain/);
      assert.ok(get.stdout.endsWith('\r\n\r\nhello'), get.stdout);
      // A request body goes through the 'data' branch (consume) and the answer is the same.
      const post = await curl(['--http2-prior-knowledge', '--data-binary', 'x'.repeat(100_000), `http://127.0.0.1:${port}/upload`]);
      assert.equal(post.code, 0, post.stderr);
      assert.equal(post.stdout, 'hello');
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
