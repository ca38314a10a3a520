/**
 * The `httpsd` command under load: SIGTERM with 200 requests in flight loses none, SIGHUP certificate reload under
 * a stream of new handshakes fails none, and a storm of handler failures never kills the process.
 * (A killed worker being restarted with --workers is covered by test/server/cli.test.ts.)
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SLOW_APP, heldRequests, startCli, type RunningCli } from '../support/cli.js';
import { makeCertificate } from '../support/certs.js';
import { PATIENCE_MS, connectH2, h2Request, h1Request, sleep, waitFor } from '../support/server.js';

const work = mkdtempSync(join(tmpdir(), 'httpsd-attacks-lifecycle-'));
after(() => rmSync(work, { recursive: true, force: true }));

function writeModule(name: string, source: string): string {
  const path = join(work, name);
  writeFileSync(path, source);
  return path;
}

const listenArgs = ['--host', '127.0.0.1', '--port', '0'];

function certificatePair(name: string): { cert: string; key: string } {
  const cert = join(work, `${name}.crt`);
  const key = join(work, `${name}.key`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

/** One request on a fresh TLS connection (a full handshake each time); resolves with the certificate fingerprint. */
function freshHandshakeRequest(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = https.get({ host: '127.0.0.1', port, path: '/', agent: false, rejectUnauthorized: false, timeout: PATIENCE_MS }, (response) => {
      const fingerprint = (response.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      response.resume();
      response.on('end', () => (response.statusCode === 200 ? resolve(fingerprint) : reject(new Error(`status ${response.statusCode}`))));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

describe('httpsd command under load', () => {
  test('SIGTERM while 200 requests are in flight (h2 and h1): none is lost, exit 0', async (t) => {
    const certificate = makeCertificate();
    const cli: RunningCli = await startCli([SLOW_APP, '--cert', certificate.certFile, '--key', certificate.keyFile, ...listenArgs]);
    const origin = `https://127.0.0.1:${cli.port}`;
    const sessions = [connectH2(origin), connectH2(origin)];
    const agent = new https.Agent({ keepAlive: true, maxSockets: 50, rejectUnauthorized: false });
    try {
      // Each is answered 1 s after the signal: in flight while the shutdown begins.
      const h2 = Array.from({ length: 150 }, (_, i) => h2Request(sessions[i % 2]!, { ':path': `/${i}?ms=1000` }).then((r) => r.body.toString()));
      const h1 = Array.from({ length: 50 }, (_, i) => h1Request(origin, { agent, path: `/h1-${i}?ms=1000` }).then((r) => r.body.toString()));
      // Every request is accepted and held in its handler (a count, however long a busy machine takes to get there).
      await waitFor(() => heldRequests(cli) === 200, 'the 200 requests in the handler');
      const signalled = Date.now();
      cli.child.kill('SIGTERM');
      const results = await Promise.allSettled([...h2, ...h1]);
      const done = results.filter((r) => r.status === 'fulfilled' && r.value === 'done').length;
      t.diagnostic(`SIGTERM with 200 in flight: ${done}/200 completed, exit ${String(await cli.exited)} ${Date.now() - signalled} ms after the signal`);
      assert.equal(done, 200, `lost requests: ${results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)).slice(0, 3).join('; ')}`);
      assert.equal(await cli.exited, 0);
    } finally {
      for (const session of sessions) session.destroy();
      agent.destroy();
      await cli.stop();
    }
  });

  test('SIGHUP certificate reload under a stream of new handshakes: no handshake fails', async (t) => {
    const first = certificatePair('first');
    const second = certificatePair('second');
    const live = { cert: join(work, 'live.crt'), key: join(work, 'live.key') };
    const install = (pair: { cert: string; key: string }) => {
      // Atomic replacement (write temp + rename), as a certificate renewal tool does.
      writeFileSync(live.key + '.tmp', readFileSync(pair.key), { mode: 0o600 });
      writeFileSync(live.cert + '.tmp', readFileSync(pair.cert));
      renameSync(live.key + '.tmp', live.key);
      renameSync(live.cert + '.tmp', live.cert);
    };
    install(first);
    const hello = writeModule('hello.mjs', "export default { fetch() { return new Response('ok'); } };\n");
    const cli = await startCli([hello, '--cert', live.cert, '--key', live.key, '--host', '127.0.0.1', '--port', '0']);
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const load = Array.from({ length: 4 }, async () => {
      // Stops at the first failure too: a server that refuses handshakes must not be hammered in a tight loop.
      while (running && failures.length === 0) {
        try {
          seen.add(await freshHandshakeRequest(cli.port));
          ok++;
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    });
    try {
      // Handshakes before, and after each reload: counted, not timed (a busy machine does fewer per second).
      const afterMore = (n: number, what: string) => {
        const target = ok + n;
        return waitFor(() => ok >= target || failures.length > 0, what);
      };
      await afterMore(5, 'handshakes before the first reload');
      for (const [round, pair] of [second, first, second].entries()) {
        install(pair);
        cli.child.kill('SIGHUP');
        await waitFor(() => (cli.stderr().match(/certificates reloaded/g) ?? []).length >= round + 1, `reload ${round + 1}`);
        await afterMore(5, `handshakes after reload ${round + 1}`);
      }
      running = false;
      await Promise.all(load);
      t.diagnostic(`SIGHUP x3 under load: ${ok} fresh handshakes+requests, ${failures.length} failed, ${seen.size} certificates seen`);
      assert.deepEqual(failures, []);
      assert.equal(seen.size, 2, 'the reloaded certificate was never served');
      assert.ok(ok >= 20, `${ok} handshakes`);
    } finally {
      running = false;
      await Promise.all(load);
      assert.equal(await cli.stop(), 0);
    }
  });

  test('handler exception storm: sync throws, rejections, non-Error throws, failing bodies — the process survives', async (t) => {
    const certificate = makeCertificate();
    const app = writeModule(
      'storm.mjs',
      `export default {
  async fetch(request) {
    const kind = new URL(request.url).pathname.slice(1);
    switch (kind) {
      case 'sync': throw new Error('sync failure');
      case 'async': await null; throw new Error('async failure');
      case 'null': throw null;
      case 'string': throw 'a string';
      case 'not-a-response': return { status: 200 };
      case 'body': return new Response(new ReadableStream({ pull() { throw new Error('body failure'); } }));
      case 'headers': return new Response('x', { headers: { 'bad header': 'x' } });
      default: return new Response('ok');
    }
  },
};
`,
    );
    const cli = await startCli([app, '--cert', certificate.certFile, '--key', certificate.keyFile, ...listenArgs]);
    try {
      const origin = `https://127.0.0.1:${cli.port}`;
      const kinds = ['sync', 'async', 'null', 'string', 'not-a-response', 'body', 'headers'];
      const session = connectH2(origin);
      const statuses = new Map<string, number>();
      let errors = 0;
      for (let round = 0; round < 20; round++) {
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const kind = kinds[(round * 50 + i) % kinds.length]!;
            try {
              const result = await h2Request(session, { ':path': `/${kind}` });
              const status = Number(result.headers[':status']);
              statuses.set(`${kind} ${status}`, (statuses.get(`${kind} ${status}`) ?? 0) + 1);
              assert.ok(!result.body.toString().includes('    at '), `${kind}: a stack trace reached the client`);
            } catch {
              errors++; // a failing body resets the stream after the head: expected for 'body'
            }
          }),
        );
      }
      // h1 too: each failure kind once.
      for (const kind of kinds) {
        try {
          await h1Request(origin, { path: `/${kind}` });
        } catch {
          // 'body' cuts the connection
        }
      }
      t.diagnostic(`1000 failing requests: ${JSON.stringify(Object.fromEntries(statuses))}, ${errors} reset streams`);
      for (const kind of ['sync', 'async', 'null', 'string', 'not-a-response']) {
        assert.ok((statuses.get(`${kind} 500`) ?? 0) > 0, `${kind}: no 500`);
      }
      assert.equal(cli.child.exitCode, null, `the server died: ${cli.stderr().slice(-500)}`);
      const healthy = await h2Request(session, { ':path': '/' });
      assert.equal(healthy.body.toString(), 'ok');
      session.close();
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  });

  test('a promise the handler forgot to await rejects: logged, the process keeps serving', async () => {
    const certificate = makeCertificate();
    const app = writeModule(
      'floating.mjs',
      `export default { fetch() { Promise.reject(new Error('forgotten rejection')); return new Response('ok'); } };\n`,
    );
    const cli = await startCli([app, '--cert', certificate.certFile, '--key', certificate.keyFile, ...listenArgs]);
    try {
      const origin = `https://127.0.0.1:${cli.port}`;
      for (let i = 0; i < 5; i++) {
        const result = await h1Request(origin, { agent: false } as never).catch((error: Error) => {
          throw new Error(`request ${i} failed (${error.message}); server stderr: ${cli.stderr().slice(-400)}`);
        });
        assert.equal(result.body.toString(), 'ok');
        await sleep(20);
      }
      assert.equal(cli.child.exitCode, null, 'an unhandled rejection in handler code killed the server');
    } finally {
      await cli.stop();
    }
  });
});
