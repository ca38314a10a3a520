/**
 * The `httpsd DIR` command serving files and running the example CGI script unchanged, plus the static flags'
 * usage errors as the user sees them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCli, runCli } from '../support/cli.js';
import { curl } from './e2e-helpers.js';

test('httpsd examples --cgi: the example hello.py answers "hello world" over h1 and h2', async () => {
  const cli = await startCli(['examples', '--cgi', '--port', '0', '--host', '127.0.0.1', '--cache-control', '60', '--header', 'X-Test: yes']);
  try {
    const base = `https://127.0.0.1:${cli.port}`;
    for (const protocol of ['h1', 'h2'] as const) {
      const hello = await curl(base, '/cgi-bin/hello.py', protocol);
      assert.equal(hello.status, 200);
      assert.equal(hello.body.toString(), 'hello world\n');
      assert.equal(hello.headers.get('content-type'), 'text/plain');
      assert.equal(hello.headers.get('x-test'), 'yes');
      const listing = await curl(base, '/', protocol, ['-H', 'accept: application/json']);
      assert.equal(listing.status, 200);
      const names = (JSON.parse(listing.body.toString()) as { entries: Array<{ name: string }> }).entries.map((entry) => entry.name);
      assert.ok(names.includes('hello.ts'));
      const file = await curl(base, '/hello.ts', protocol);
      assert.equal(file.status, 200);
      assert.equal(file.headers.get('cache-control'), 'public, max-age=60');
      assert.equal(file.headers.get('x-test'), 'yes');
    }
  } finally {
    await cli.stop();
  }
});

test('bad static flags exit with a usage error naming the flag', async () => {
  const result = await runCli(['examples', '--header', 'no colon here', '--port', '0']);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /--header "no colon here".*Name: value/);
  const cgi = await runCli(['examples', '--cgi-timeout', '5', '--port', '0']);
  assert.notEqual(cgi.code, 0);
  assert.match(cgi.stderr, /add --cgi/);
});
