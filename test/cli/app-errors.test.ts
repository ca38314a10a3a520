/**
 * What a newcomer sees when the app is wrong: a crash outside any request costs a restart (never the server), stack
 * traces of .ts apps name app.ts:LINE in every package layout, and a module that does not load says where and why.
 * Everything runs through the built command (bin/httpsd.js), as `npx httpsd` does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from '../support/cli.js';
import { waitFor } from '../support/server.js';
import { http2Fetch, http2Get } from './entry-client.js';

function appDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-app-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const CRASHING_APP = `export default {
  fetch(request: Request): Response {
    if (new URL(request.url).pathname === '/crash') {
      setTimeout(() => {
        throw new Error('bug in a timer');
      }, 10);
    }
    return new Response('served by ' + process.pid);
  },
};
`;

test('an exception thrown later by app code is reported once with app.ts:LINE, and the server is restarted', async () => {
  const dir = appDir({ 'app.ts': CRASHING_APP });
  try {
    const cli = await startCli(['app.ts', '--port', '0'], { cwd: dir, build: true });
    try {
      const before = await http2Get(cli.port, '/crash');
      assert.equal(before.status, 200);
      await waitFor(() => /ready \(replaces \d+\)/.test(cli.stderr()), 'the replacement worker', 20_000);
      const stderr = cli.stderr();
      assert.match(stderr, /uncaught exception in application code at app\.ts:5:15: Error: bug in a timer/);
      assert.equal(stderr.match(/bug in a timer/g)?.length, 1, stderr);
      assert.match(stderr, /exited \(code 1\); restarting in 100 ms/);
      assert.doesNotMatch(stderr, /data:text\/javascript/);
      // Same port (it was --port 0), another process.
      const after = await http2Get(cli.port, '/');
      assert.equal(after.status, 200);
      assert.notEqual(after.body, before.body);
    } finally {
      assert.equal(await cli.stop(), 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a module that throws at import exits with status 2 and says so once, with any --workers (no restart loop)', async () => {
  const dir = appDir({ 'app.mjs': "throw new Error('broken at import');\n" });
  try {
    for (const workers of ['1', '3']) {
      const result = await runCli(['app.mjs', '--port', '0', '--workers', workers], { cwd: dir, build: true });
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stderr.match(/cannot load the module: Error: broken at import/g)?.length, 1, result.stderr);
      assert.doesNotMatch(result.stderr, /restarting/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const LOGGING_APP = `interface Greeting { text: string }
const greeting: Greeting = { text: 'hi' };
export default {
  fetch(request: Request): Response {
    if (new URL(request.url).pathname === '/throw') throw new Error('handler bug');
    console.error(new Error('logged by the app').stack);
    return new Response(greeting.text);
  },
};
`;

for (const [layout, packageJson] of [
  ['no package.json', undefined],
  ['"type": "commonjs"', '{ "type": "commonjs" }'],
  ['"type": "module"', '{ "type": "module" }'],
] as const) {
  test(`stack traces of a .ts app (${layout}) name app.ts:LINE, never a data: URL`, async () => {
    const dir = appDir({ 'app.ts': LOGGING_APP, ...(packageJson ? { 'package.json': packageJson } : {}) });
    try {
      const cli = await startCli(['app.ts', '--port', '0'], { cwd: dir, build: true });
      try {
        assert.equal((await http2Get(cli.port, '/')).body, 'hi');
        assert.equal((await http2Get(cli.port, '/throw')).status, 500);
        await waitFor(() => /handler error/.test(cli.stderr()), 'the handler error log');
        const stderr = cli.stderr();
        assert.match(stderr, /Error: logged by the app\n\s+at .*app\.ts:6:19\)/);
        assert.match(stderr, /handler error in GET \/throw: Error: handler bug\n\s+at .*app\.ts:5:59\)/);
        assert.doesNotMatch(stderr, /data:text\/javascript/);
      } finally {
        await cli.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

const loadFailures: { name: string; file: string; source: string; message: RegExp; location: string; line: string }[] = [
  {
    name: 'a .ts syntax error',
    file: 'app.ts',
    source: 'const n: number = 1;\nexport default {\n  fetch() {\n    return new Response("x"\n  }\n};\n',
    message: /SyntaxError: Expected "\)" but found "}"/,
    location: 'app.ts:5:3',
    line: '  }',
  },
  {
    name: 'a .mjs syntax error',
    file: 'app.mjs',
    source: 'export default {\n  fetch() {\n    return new Response("x"\n  }\n};\n',
    message: /SyntaxError: missing \) after argument list/,
    location: 'app.mjs:3:25',
    line: '    return new Response("x"',
  },
  {
    name: 'a top-level throw in a .ts module',
    file: 'app.ts',
    source: 'const limit: number = 1;\nthrow new Error("no config");\nexport default { fetch() { return new Response("x"); } };\n',
    message: /Error: no config/,
    location: 'app.ts:2:7',
    line: 'throw new Error("no config");',
  },
];

for (const failure of loadFailures) {
  test(`load error: ${failure.name} names file:line:column and shows the code`, async () => {
    const dir = appDir({ [failure.file]: failure.source });
    try {
      const result = await runCli([failure.file, '--port', '0'], { cwd: dir, build: true });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`^httpsd: ${failure.file.replace('.', '\\.')}: cannot load the module: `));
      assert.match(result.stderr, failure.message);
      assert.ok(result.stderr.includes(`  at ${failure.location}\n`), result.stderr);
      const lineNumber = failure.location.split(':')[1]!;
      assert.ok(result.stderr.includes(`> ${lineNumber} | ${failure.line}\n`), result.stderr);
      assert.match(result.stderr, /\|\s+\^/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('static-only flags with a module ENTRY are refused (status 2); -H and --cors apply to the app', async () => {
  const dir = appDir({ 'app.mjs': "export default { fetch() { return new Response('app'); } };\n" });
  try {
    for (const flag of [['--spa'], ['--cache-control', '60'], ['--cgi']]) {
      const refused = await runCli(['app.mjs', ...flag], { cwd: dir, build: true });
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, new RegExp(`${flag[0]} applies to a directory of static files, not to the module app\\.mjs`));
    }
    const cli = await startCli(['app.mjs', '--port', '0', '-H', 'X-Frame-Options: DENY', '--cors'], { cwd: dir, build: true });
    try {
      const response = await http2Fetch(cli.port, '/');
      assert.equal(response.body, 'app');
      assert.equal(response.headers['x-frame-options'], 'DENY');
      assert.equal(response.headers['access-control-allow-origin'], '*');
      const preflight = await http2Fetch(cli.port, '/', {
        ':method': 'OPTIONS',
        origin: 'https://example.test',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type',
      });
      assert.equal(preflight.status, 204);
      assert.match(String(preflight.headers['access-control-allow-methods']), /PUT/);
      assert.equal(preflight.headers['access-control-allow-headers'], 'content-type');
    } finally {
      await cli.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
