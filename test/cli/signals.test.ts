/**
 * Signals reach a supervised server: the command is a supervisor with one worker by default, yet Ctrl-C (SIGINT to
 * the whole process group) is one graceful stop, a second signal forces the exit, and a usage error found by the
 * worker keeps its exit status.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeCertificate } from '../support/certs.js';
import { SLOW_APP, heldRequests, runCli, startCli } from '../support/cli.js';
import { connectH2, h2Request, waitFor } from '../support/server.js';

const certificate = makeCertificate();
const tlsArgs = ['--cert', certificate.certFile, '--key', certificate.keyFile, '--host', '127.0.0.1', '--port', '0'];

test('Ctrl-C (SIGINT to the process group) lets in-flight requests finish, then exits 0', async () => {
  const cli = await startCli([SLOW_APP, ...tlsArgs], { detached: true });
  const session = connectH2(`https://127.0.0.1:${cli.port}`);
  try {
    const pending = Array.from({ length: 3 }, () => h2Request(session, { ':path': '/' }));
    // In flight for sure: all three are in the handler, which holds them until the signal.
    await waitFor(() => heldRequests(cli) === 3, 'three requests in the handler');
    process.kill(-cli.child.pid!, 'SIGINT');
    const bodies = await Promise.all(pending.map((request) => request.then((response) => response.body.toString())));
    assert.deepEqual(bodies, ['done', 'done', 'done']);
    assert.equal(await cli.exited, 0);
    assert.doesNotMatch(cli.stderr(), /again, (exiting|killing)/);
    assert.equal(cli.stderr().match(/SIGINT received/g)?.length, 1, cli.stderr());
  } finally {
    session.destroy();
    await cli.stop();
  }
});

test('a second signal while requests are in flight exits at once with status 1', async () => {
  const cli = await startCli([SLOW_APP, ...tlsArgs, '--shutdown-timeout', '30']);
  const session = connectH2(`https://127.0.0.1:${cli.port}`);
  session.on('error', () => {});
  try {
    const pending = h2Request(session, { ':path': '/?ms=20000' }).catch(() => undefined);
    await waitFor(() => heldRequests(cli) === 1, 'the request in the handler');
    cli.child.kill('SIGTERM');
    // The second signal must find the first one's shutdown under way (answered 20 s after the first signal).
    await waitFor(() => /SIGTERM received/.test(cli.stderr()), 'the first signal to be handled');
    cli.child.kill('SIGTERM');
    assert.equal(await cli.exited, 1);
    assert.match(cli.stderr(), /SIGTERM again/);
    await pending;
  } finally {
    session.destroy();
    await cli.stop();
  }
});

test('--workers 1 is the default: the same banner, no "with 1 workers"', async () => {
  const cli = await startCli([SLOW_APP, ...tlsArgs, '--workers', '1']);
  try {
    assert.match(cli.stderr(), /^httpsd \S+ serving slow\.mjs\n/);
  } finally {
    assert.equal(await cli.stop(), 0);
  }
});

test('an error the worker finds (a module without a handler) keeps exit status 2', async () => {
  const result = await runCli(['test/cli/fixtures/no-handler.mjs', ...tlsArgs]);
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /^httpsd: test\/cli\/fixtures\/no-handler\.mjs exports no fetch handler/);
});
