/**
 * The `httpsd` command installs FastResponse as the global Response before it imports the app, so a class or a
 * response the module captures at load time is ours too; in cluster workers as well. --no-fast-response leaves the
 * global as Node's. Runs the built command (bin/httpsd.js), as `npx httpsd` does: `npm run build` first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from '../support/cli.js';
import { http2Get } from '../cli/entry-client.js';

const APP = `const Captured = Response;
const prebuilt = new Response('prebuilt');
export default {
  async fetch() {
    const fetched = await fetch('data:text/plain,x');
    return new Captured(JSON.stringify({
      captured: Captured.name,
      sameAsGlobal: Captured === globalThis.Response,
      prebuilt: prebuilt.constructor.name,
      fetchedIsResponse: fetched instanceof Response,
      writable: Object.getOwnPropertyDescriptor(globalThis, 'Response').writable,
    }));
  },
};
`;

async function served(args: string[]): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-global-response-'));
  writeFileSync(join(dir, 'app.mjs'), APP);
  try {
    const cli = await startCli(['app.mjs', '--port', '0', '--no-http3', ...args], { cwd: dir, build: true });
    try {
      const reply = await http2Get(cli.port, '/');
      assert.equal(reply.status, 200, reply.body);
      return JSON.parse(reply.body) as Record<string, unknown>;
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('by default the app module sees FastResponse as Response from its first line on', async () => {
  assert.deepEqual(await served([]), { captured: 'FastResponse', sameAsGlobal: true, prebuilt: 'FastResponse', fetchedIsResponse: true, writable: true });
});

test('cluster workers install it the same way', async () => {
  assert.deepEqual(await served(['--workers', '2']), { captured: 'FastResponse', sameAsGlobal: true, prebuilt: 'FastResponse', fetchedIsResponse: true, writable: true });
});

test('--no-fast-response leaves Node’s Response', async () => {
  const seen = await served(['--no-fast-response']);
  assert.equal(seen.captured, 'Response');
  assert.equal(seen.sameAsGlobal, true);
  assert.equal(seen.prebuilt, 'Response');
  assert.equal(seen.fetchedIsResponse, true);
});

test('--help lists --no-fast-response', async () => {
  const help = await runCli(['--help'], { build: true });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--no-fast-response/);
});
