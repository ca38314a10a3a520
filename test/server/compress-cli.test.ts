/**
 * `httpsd app --compress`: the flag reaches serve(), and --help lists it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from '../support/cli.js';
import { run } from '../support/server.js';

const PAGE = 'compressible text, line after line\n'.repeat(300);

test('httpsd app.mjs --compress answers curl --compressed with br, over HTTP/2 and HTTP/1.1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-compress-cli-'));
  try {
    const app = join(dir, 'app.mjs');
    writeFileSync(app, `export default { fetch: () => new Response(${JSON.stringify(PAGE)}, { headers: { 'content-type': 'text/html' } }) };\n`);
    const cli = await startCli([app, '--port', '0', '--no-http3', '--compress']);
    try {
      for (const version of ['--http2', '--http1.1']) {
        const result = await run('curl', ['-sSk', version, '--compressed', '-D', '-', `https://127.0.0.1:${cli.port}/`]);
        assert.equal(result.code, 0, result.stderr);
        const output = result.stdout.toString();
        const split = output.indexOf('\r\n\r\n');
        assert.match(output.slice(0, split), /^content-encoding: br$/im, version);
        assert.equal(output.slice(split + 4), PAGE, version);
      }
    } finally {
      await cli.stop();
    }
    const help = await runCli(['--help']);
    assert.match(help.stdout, /--compress\s+Compress a module's responses/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
