import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { REPO_ROOT, runCli, startCli } from '../support/cli.js';
import { h1Request } from '../support/server.js';

// The published command: bin/httpsd.js → dist/cli/main.js (built by `npm run build`, which `npm test` runs first).
const builtMain = join(REPO_ROOT, 'dist/cli/main.js');

test('bin/httpsd.js from the build serves a .ts entry (tsx on Node 20, type stripping on newer Node)', async () => {
  assert.ok(existsSync(builtMain), 'dist/cli/main.js is missing: run `npm run build` first (npm test does)');
  assert.ok(statSync(builtMain).mtimeMs > 0);
  const version = await runCli(['--version'], { build: true });
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^httpsd \d+\.\d+\.\d+/);
  const certificate = makeCertificate();
  const cli = await startCli(
    ['examples/hello.ts', '--cert', certificate.certFile, '--key', certificate.keyFile, '--host', '127.0.0.1', '--port', '0'],
    { build: true },
  );
  try {
    const result = await h1Request(`https://127.0.0.1:${cli.port}`);
    assert.equal(result.status, 200);
    assert.equal(result.body.toString(), 'hello');
    assert.equal(result.headers['content-type'], 'text/plain');
  } finally {
    assert.equal(await cli.stop(), 0);
  }
});
