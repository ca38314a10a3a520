/**
 * Entry modules load wherever the user keeps them: a .ts app in a folder with no package.json (Node treats it as
 * CommonJS), in a package without "type": "module", as .mts and as .cts — each must answer through the real command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startCli } from '../support/cli.js';
import { http2Get } from './entry-client.js';

const HELLO = readFileSync(join(REPO_ROOT, 'examples', 'hello.ts'), 'utf8');

const layouts: { name: string; file: string; packageJson?: string; source: string }[] = [
  { name: 'a .ts app in a folder without package.json', file: 'app.ts', source: HELLO },
  { name: 'a .ts app in a package without "type": "module"', file: 'app.ts', packageJson: '{}', source: HELLO },
  { name: 'a .mts app', file: 'app.mts', source: HELLO },
  {
    name: 'a .cts app with a named fetch export',
    file: 'app.cts',
    source: "export function fetch(): Response { return new Response('hello', { headers: { 'content-type': 'text/plain' } }); }\n",
  },
];

for (const layout of layouts) {
  test(`entry: ${layout.name} is served`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'httpsd-entry-'));
    try {
      writeFileSync(join(dir, layout.file), layout.source);
      if (layout.packageJson) writeFileSync(join(dir, 'package.json'), layout.packageJson);
      // The built command, as `npx httpsd` runs it: no loader of the test runner's in the child.
      const cli = await startCli([join(dir, layout.file), '--port', '0'], { cwd: dir, build: true });
      try {
        const response = await http2Get(cli.port, '/');
        assert.equal(response.status, 200, cli.stderr());
        assert.equal(response.body, 'hello');
      } finally {
        await cli.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
