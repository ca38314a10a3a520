// bench/clients/h3load (Go, quic-go) against httpsd's HTTP/3: it must count real answers, report its own CPU, and
// report errors rather than a rate when nothing answers. Run: node --test bench/test/  (needs Go and quic-go:
// apt-get install -y golang-go golang-github-lucas-clemente-quic-go-dev)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildH3load } from '../lib/h3load.mjs';
import { runToEnd, freePort } from '../lib/proc.mjs';
import { withServer } from './support.mjs';

function parseResult(stdout) {
  const lines = stdout.trim().split('\n');
  assert.equal(lines[0], 'start', `h3load prints "start" when the timed run begins; got ${stdout}`);
  assert.match(lines[1] ?? '', /^result \{/);
  return JSON.parse(lines[1].slice('result '.length));
}

test('h3load: requests, bytes and its own CPU seconds against httpsd over HTTP/3', { timeout: 600_000 }, async () => {
  const built = await buildH3load();
  assert.equal(built.error, undefined, `${built.error}; ${built.install ?? ''}`);
  await withServer('httpsd.mjs', async ({ port }) => {
    const hello = await runToEnd(built.binary, ['-url', `https://127.0.0.1:${port}/`, '-c', '2', '-m', '4', '-d', '1', '-w', '0.2'], { timeoutMs: 30_000 });
    const result = parseResult(hello.stdout);
    assert.ok(result.requests > 0, 'requests answered');
    // Bytes count as they arrive: responses in flight at the edges of the run (8 at most) may count on one side only.
    assert.ok(Math.abs(result.bytes - result.requests * 5) <= 8 * 5, `${result.bytes} bytes for ${result.requests} hellos`);
    assert.equal(result.errors, 0);
    assert.ok(result.seconds >= 0.9 && result.seconds < 5);
    assert.ok(result.clientCpu > 0, 'the client reports the CPU it used');
    const download = await runToEnd(built.binary, ['-url', `https://127.0.0.1:${port}/1m`, '-c', '1', '-m', '2', '-d', '1', '-w', '0.2'], { timeoutMs: 30_000 });
    const downloaded = parseResult(download.stdout);
    assert.ok(downloaded.bytes > 0);
    assert.ok(downloaded.bytes <= (downloaded.requests + 2) * 1024 * 1024, 'no more than the answered bodies and the 2 in flight');
  });
});

test('h3load: nothing listening gives no requests and a non-zero error count, not a rate', { timeout: 600_000 }, async () => {
  const built = await buildH3load();
  assert.equal(built.error, undefined);
  const port = await freePort();
  const run = await runToEnd(built.binary, ['-url', `https://127.0.0.1:${port}/`, '-c', '1', '-m', '1', '-d', '3', '-w', '0'], { timeoutMs: 60_000 });
  const result = parseResult(run.stdout);
  assert.equal(result.requests, 0);
  assert.ok(result.errors > 0, 'failed attempts are counted');
});
