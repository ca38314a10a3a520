import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { SLOW_APP, cliEnv, heldRequests, runCli, startCli, type RunningCli } from '../support/cli.js';
import { connectH2, h1Request, h2Request, run, sleep, waitFor } from '../support/server.js';

const certificate = makeCertificate();
const tlsArgs = ['--cert', certificate.certFile, '--key', certificate.keyFile];
const listenArgs = ['--host', '127.0.0.1', '--port', '0'];
const work = mkdtempSync(join(tmpdir(), 'httpsd-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

function writeModule(name: string, source: string): string {
  const path = join(work, name);
  writeFileSync(path, source);
  return path;
}

describe('httpsd command: usage and errors', () => {
  test('--help lists the options; --version prints the version', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    for (const flag of ['--port', '--host', '--cert', '--key', '--http-port', '--workers', '--access-log', '--trace-frames', '--quiet', '--metrics']) {
      assert.ok(help.stdout.includes(flag), `--help does not mention ${flag}`);
    }
    assert.match(help.stdout, /HTTPSD_HTTP_PORT/);
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^httpsd \d+\.\d+\.\d+/);
  });

  test('an unknown flag, a missing entry, a module without a handler: one clear line, non-zero exit, no stack', async () => {
    const unknown = await runCli(['--bogus']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--bogus/);
    assert.doesNotMatch(unknown.stderr, /\n\s+at /);

    const missing = await runCli(['no-such-app.ts', ...tlsArgs]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-app\.ts: no such file or directory/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);

    const empty = writeModule('empty.mjs', 'export const nothing = 1;\n');
    const noHandler = await runCli([empty, ...tlsArgs, ...listenArgs]);
    assert.equal(noHandler.code, 2);
    assert.match(noHandler.stderr, /exports no fetch handler/);

    const badPort = await runCli(['--port', 'eighty']);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--port eighty/);

    const badKey = await runCli([...listenArgs, '--cert', certificate.certFile, '--key', join(work, 'missing-key.pem')]);
    assert.notEqual(badKey.code, 0);
    assert.match(badKey.stderr, /missing-key\.pem/);
    assert.doesNotMatch(badKey.stderr, /\n\s+at /);
  });
});

describe('httpsd command: serving', () => {
  test('examples/hello.ts over h2, http/1.1 and h2c; HTTPSD_* environment variables; access log; metrics', async () => {
    const cli = await startCli(['examples/hello.ts', ...tlsArgs, ...listenArgs, '--access-log', '--metrics', '/metrics'], {
      env: cliEnv({ HTTPSD_HTTP_PORT: '0' }),
    });
    try {
      assert.match(cli.stderr(), /ALPN h2, http\/1\.1/);
      const session = connectH2(`https://127.0.0.1:${cli.port}`);
      const h2 = await h2Request(session, { ':path': '/' });
      session.close();
      assert.equal(h2.body.toString(), 'hello');
      assert.equal(h2.headers['content-type'], 'text/plain');
      assert.equal(h2.headers['content-length'], '5');
      const h1 = await h1Request(`https://127.0.0.1:${cli.port}`);
      assert.equal(h1.body.toString(), 'hello');
      const h2c = await run('curl', ['-sS', '--http2-prior-knowledge', `http://127.0.0.1:${cli.httpPort}/`]);
      assert.equal(h2c.stdout.toString(), 'hello');
      const metrics = await h1Request(`https://127.0.0.1:${cli.port}`, { path: '/metrics' });
      assert.match(metrics.body.toString(), /^httpsd_requests_total \d+$/m);
      await waitFor(() => (cli.stdout().match(/"GET \/ HTTP\//g) ?? []).length >= 3, 'three access log lines');
      assert.match(cli.stdout(), /"GET \/ HTTP\/2\.0" 200 5 /);
      assert.match(cli.stdout(), /"GET \/ HTTP\/1\.1" 200 5 /);
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  });

  test('--trace-frames prints decoded frames in and out', async () => {
    const cli = await startCli(['examples/hello.ts', ...tlsArgs, ...listenArgs, '--trace-frames']);
    try {
      const session = connectH2(`https://127.0.0.1:${cli.port}`);
      await h2Request(session, { ':path': '/' });
      session.close();
      await waitFor(() => /send DATA frame/.test(cli.stderr()), 'the traced DATA frame');
      assert.match(cli.stderr(), /recv HEADERS frame <length=\d+, flags=0x0[45] \(END_STREAM\|END_HEADERS\)?/);
      assert.match(cli.stderr(), /:path: \//);
      assert.match(cli.stderr(), /send HEADERS frame .*:status: 200/);
    } finally {
      await cli.stop();
    }
  });

  test('a directory entry is served as static files', async () => {
    const site = mkdtempSync(join(work, 'site-'));
    writeFileSync(join(site, 'page.txt'), 'static content\n');
    const cli = await startCli([site, ...tlsArgs, ...listenArgs]);
    try {
      const result = await h1Request(`https://127.0.0.1:${cli.port}`, { path: '/page.txt' });
      assert.equal(result.status, 200);
      assert.equal(result.body.toString(), 'static content\n');
    } finally {
      await cli.stop();
    }
  });

  test('module shapes: a default function and a named fetch', async () => {
    const asFunction = writeModule('function.mjs', "export default () => new Response('from default function');\n");
    const named = writeModule('named.mjs', "export function fetch(request) { return new Response('named ' + new URL(request.url).pathname); }\n");
    for (const [file, expected] of [
      [asFunction, 'from default function'],
      [named, 'named /x'],
    ] as const) {
      const cli = await startCli([file, ...tlsArgs, ...listenArgs]);
      try {
        const result = await h1Request(`https://127.0.0.1:${cli.port}`, { path: '/x' });
        assert.equal(result.body.toString(), expected);
      } finally {
        await cli.stop();
      }
    }
  });

  test('without --cert/--key a local-CA certificate for localhost is used, and the trust command is printed', async () => {
    const cli = await startCli(['examples/hello.ts', ...listenArgs]);
    try {
      assert.match(cli.stderr(), /cert --install|SELF-SIGNED/);
      const result = await h1Request(`https://127.0.0.1:${cli.port}`);
      assert.equal(result.body.toString(), 'hello');
    } finally {
      await cli.stop();
    }
  });

  test('start banner: listeners, then the TLS summary; a certificate not covering --host is a warning', async () => {
    const other = makeCertificate('other.example.test');
    // --host localhost: the certificate names other.example.test, 127.0.0.1 and ::1, not "localhost".
    const cli = await startCli(['examples/hello.ts', '--cert', other.certFile, '--key', other.keyFile, '--host', 'localhost', '--port', '0']);
    try {
      await waitFor(() => /does not cover/.test(cli.stderr()), 'the host coverage warning');
      const lines = cli.stderr().split('\n');
      const listener = lines.findIndex((line) => /https:\/\/localhost:\d+\/ +\(TLS; ALPN h2, http\/1\.1\)/.test(line));
      const profile = lines.findIndex((line) => /TLS profile intermediate/.test(line));
      const certificate = lines.findIndex((line) => /Certificate: .*other\.example\.test/.test(line));
      const warning = lines.findIndex((line) => /WARNING: the certificate .* does not cover "localhost".*httpsd cert localhost/.test(line));
      assert.ok(listener >= 0 && profile > listener && certificate > profile && warning > certificate, cli.stderr());
    } finally {
      assert.equal(await cli.stop(), 0);
    }
    const covered = await startCli(['examples/hello.ts', ...tlsArgs, ...listenArgs]);
    try {
      assert.match(covered.stderr(), /TLS profile intermediate/);
      assert.doesNotMatch(covered.stderr(), /does not cover/);
    } finally {
      await covered.stop();
    }
  });

  test('first start with a new local CA says so and prints the trust command once; later starts only hint at it', async () => {
    const caroot = mkdtempSync(join(work, 'caroot-'));
    const first = await startCli(['examples/hello.ts', ...listenArgs], { env: cliEnv({ HTTPSD_CAROOT: caroot }) });
    try {
      const banner = first.stderr();
      assert.match(banner, /TLS profile intermediate/);
      assert.match(banner, /Created a local certificate authority/);
      assert.equal(banner.match(/npx httpsd cert --install/g)?.length, 1, banner);
      // After the listener lines.
      assert.ok(banner.indexOf('Created a local certificate authority') > banner.indexOf('https://127.0.0.1:'), banner);
    } finally {
      assert.equal(await first.stop(), 0);
    }
    const second = await startCli(['examples/hello.ts', ...listenArgs], { env: cliEnv({ HTTPSD_CAROOT: caroot }) });
    try {
      assert.doesNotMatch(second.stderr(), /Created a local certificate authority/);
      assert.equal(second.stderr().match(/npx httpsd cert --install/g)?.length, 1, second.stderr());
    } finally {
      await second.stop();
    }
  });

  test('SIGTERM with requests in flight: every accepted request completes, then the process exits 0', async () => {
    const cli: RunningCli = await startCli([SLOW_APP, ...tlsArgs, ...listenArgs]);
    const origin = `https://127.0.0.1:${cli.port}`;
    const session = connectH2(origin);
    const h2 = Array.from({ length: 20 }, () => h2Request(session, { ':path': '/' }));
    const h1 = Array.from({ length: 5 }, () => h1Request(origin));
    // Every request is in the handler (held until the signal): accepted, and still in flight when it arrives.
    await waitFor(() => heldRequests(cli) === 25, 'the 25 requests in the handler');
    cli.child.kill('SIGTERM');
    const results = await Promise.all([...h2.map((p) => p.then((r) => r.body.toString())), ...h1.map((p) => p.then((r) => r.body.toString()))]);
    assert.deepEqual(results, Array(25).fill('done'));
    session.close();
    assert.equal(await cli.exited, 0);
  });

  test('--workers 2: a killed worker is restarted and serving continues', async () => {
    const pid = writeModule('pid.mjs', 'export default { fetch() { return new Response(String(process.pid)); } };\n');
    const cli = await startCli([pid, ...tlsArgs, ...listenArgs, '--workers', '2'], { timeoutMs: 30_000 });
    const origin = `https://127.0.0.1:${cli.port}`;
    // Bounded, so a request the cluster lost shows up as a clear failure instead of the runner's timeout.
    const servedBy = async (what: string): Promise<number> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within 10 s\n${cli.stderr()}`)), 10_000);
      });
      try {
        return Number((await Promise.race([h1Request(origin), timeout])).body.toString());
      } finally {
        clearTimeout(timer);
      }
    };
    try {
      assert.match(cli.stderr(), /serving pid\.mjs with 2 workers/);
      const first = await servedBy('before the kill');
      assert.ok(first > 0);
      process.kill(first, 'SIGKILL');
      // The notice comes once the primary can no longer hand connections to the dead worker.
      await waitFor(() => new RegExp(`worker ${first} exited \\(SIGKILL\\); restarting`).test(cli.stderr()), 'the restart notice', 10_000);
      // Serving continues before the replacement is up (the other worker)...
      const during = await servedBy('after the restart notice');
      assert.ok(during > 0 && during !== first);
      // ...and the replacement (startup takes a moment: tsx, TLS) joins the same port.
      const readyLine = new RegExp(`worker (\\d+) ready \\(replaces ${first}\\)`);
      await waitFor(() => readyLine.test(cli.stderr()), 'the replacement worker', 20_000);
      const replacement = Number(readyLine.exec(cli.stderr())![1]);
      const pids = new Set<number>();
      for (let i = 0; i < 10; i++) pids.add(await servedBy(`request ${i} after the replacement`));
      assert.ok(!pids.has(first), `the killed worker ${first} answered`);
      // Round robin over the two live workers: the replacement takes its share.
      assert.ok(pids.has(replacement), `the replacement ${replacement} never answered: ${[...pids].join(', ')}`);
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  });
});
