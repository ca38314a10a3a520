/**
 * `httpsd APP --watch`: the real command reloads the app when a file it loaded changes (the entry, an imported ES
 * module, a module of a CommonJS package, a module imported late by import()), without a failed request in a client
 * that keeps sending throughout; an app that no longer loads is reported with file:line while the previous version
 * keeps answering; files outside the module graph change nothing.
 *
 * Each app lives in its own temporary folder (the command's working directory, so the log names files relative to
 * it). fs.watch events and worker start-up are slow on a busy machine: every expectation is polled for, up to 30 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { cliEnv, REPO_ROOT, runCli, startCli, type RunningCli } from '../support/cli.js';
import { PATIENCE_MS, sleep } from '../support/server.js';

const certificate = makeCertificate();
const tlsArgs = ['--cert', certificate.certFile, '--key', certificate.keyFile, '--host', '127.0.0.1', '--port', '0'];
const START_MS = 60_000;

/** A folder holding the app's files; node_modules is linked so that `--import tsx` resolves from it. */
function appFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-watch-'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs the command on an app in its own folder, then stops it (status 0: a graceful stop) and removes the folder. */
async function withApp(
  files: Record<string, string>,
  args: string[],
  run: (cli: RunningCli, dir: string) => Promise<void>,
  env?: NodeJS.ProcessEnv,
): Promise<void> {
  const dir = appFolder(files);
  const cli = await startCli([...args, ...tlsArgs], { cwd: dir, timeoutMs: START_MS, ...(env ? { env } : {}) });
  try {
    await run(cli, dir);
  } finally {
    assert.equal(await cli.stop(), 0, cli.stderr());
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Saves as many editors do: the new text goes to a temporary file renamed over the original (a new inode). */
function saveByRename(file: string, text: string): void {
  writeFileSync(`${file}.tmp~`, text);
  renameSync(`${file}.tmp~`, file);
}

/** Bounded wait for one answer: a request the server left hanging fails the test instead of stalling it. */
const REQUEST_TIMEOUT_MS = 15_000;

/** GET on a new connection (as a browser after GOAWAY, or a client without keep-alive). */
function get(cli: RunningCli, path = '/'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get({ host: '127.0.0.1', port: cli.port, path, rejectUnauthorized: false, agent: false, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, text }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer to GET ${path} in ${REQUEST_TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });
}

async function body(cli: RunningCli, path = '/'): Promise<string> {
  return (await get(cli, path)).text;
}

async function eventually(what: string, condition: () => boolean | Promise<boolean>, cli: RunningCli): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}. stderr:\n${cli.stderr()}`);
    await sleep(100);
  }
}

// Refused connections count as "not yet": a crashed only worker leaves the port closed until its replacement binds
// it (the continuous clients are what check that reloads refuse nothing).
const answers = (cli: RunningCli, expected: string) =>
  eventually(`the answer ${expected}`, async () => (await body(cli).catch(() => undefined)) === expected, cli);
const logged = (cli: RunningCli, pattern: RegExp) => eventually(`${pattern} in the log`, () => pattern.test(cli.stderr()), cli);
const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern.source, `${pattern.flags}g`))?.length ?? 0;

/** Sends one request after the other, each on a new connection, until stopped; records answers and failures. */
function continuousClient(cli: RunningCli) {
  const bodies: string[] = [];
  const failures: string[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        const response = await get(cli);
        if (response.status === 200) bodies.push(response.text);
        else failures.push(`status ${response.status}`);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  })();
  return {
    bodies,
    failures,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

const ESM_APP = {
  'package.json': '{ "type": "module" }\n',
  'app.ts': [
    "import { greeting } from './greeting.ts';",
    'export default {',
    '  async fetch(request: Request): Promise<Response> {',
    "    const ms = Number(new URL(request.url).searchParams.get('ms') ?? 0);",
    '    await new Promise((resolve) => setTimeout(resolve, ms));',
    "    return new Response(`${greeting} v1`);",
    '  },',
    '};',
    '',
  ].join('\n'),
  'greeting.ts': "export const greeting: string = 'hello';\n",
};

test('--watch (2 workers, round robin): an edited entry and an edited import reload with no failed request', { timeout: 180_000 }, async () => {
  await withApp(ESM_APP, ['app.ts', '--watch', '--workers', '2'], async (cli, dir) => {
    const client = continuousClient(cli);
    try {
      await logged(cli, /watching 2 files of the app/);
      await answers(cli, 'hello v1');
      // In flight while its worker is replaced: it still gets the old version's answer.
      const inFlight = body(cli, '/?ms=2000');
      await sleep(200);
      saveByRename(join(dir, 'app.ts'), ESM_APP['app.ts'].replace('v1', 'v2'));
      await answers(cli, 'hello v2');
      assert.equal(await inFlight, 'hello v1');
      assert.match(cli.stderr(), /^httpsd: app\.ts changed; reloading$/m);

      writeFileSync(join(dir, 'greeting.ts'), "export const greeting: string = 'bonjour';\n");
      await answers(cli, 'bonjour v2');
      // The edit may come while the v2 workers still start: then they are retired and this reload replaces them.
      await logged(cli, /^httpsd: greeting\.ts changed; reloading$[^]*^httpsd: reloaded/m);
      await client.stop();
      assert.deepEqual(client.failures, []);
      // While both versions listen (until every new worker is up) either may answer; the order of first sight is
      // still old, then new.
      assert.deepEqual([...new Set(client.bodies)], ['hello v1', 'hello v2', 'bonjour v2']);
      assert.ok(client.bodies.length > 20, `the client kept sending: ${client.bodies.length} answers`);
    } finally {
      await client.stop();
    }
  });
});

test('--watch: a syntax error or a top-level throw keeps the old version serving and names file:line; the fix reloads', { timeout: 180_000 }, async () => {
  await withApp(ESM_APP, ['app.ts', '--watch'], async (cli, dir) => {
    const client = continuousClient(cli);
    try {
      await answers(cli, 'hello v1');
      writeFileSync(join(dir, 'greeting.ts'), "export const greeting: string = 'unterminated;\n");
      await logged(cli, /keeping the previous version/);
      assert.match(cli.stderr(), /cannot load the module: SyntaxError: .*\n {2}at greeting\.ts:1:\d+\n {2}> 1 \| export const greeting/);
      assert.equal(await body(cli), 'hello v1');

      writeFileSync(join(dir, 'greeting.ts'), "export const greeting: string = 'hi';\nthrow new Error('not configured');\n");
      await eventually('a second refusal', () => count(cli.stderr(), /keeping the previous version/) === 2, cli);
      assert.match(cli.stderr(), /Error: not configured\n {2}at greeting\.ts:2:\d+/);
      assert.equal(await body(cli), 'hello v1');

      writeFileSync(join(dir, 'greeting.ts'), "export const greeting: string = 'fixed';\n");
      await answers(cli, 'fixed v1');
      await client.stop();
      assert.deepEqual(client.failures, []);
      assert.deepEqual([...new Set(client.bodies)], ['hello v1', 'fixed v1']);
    } finally {
      await client.stop();
    }
  });
});

test('--watch: a version that never finishes loading is replaced by the next change', { timeout: 180_000 }, async () => {
  await withApp(ESM_APP, ['app.ts', '--watch'], async (cli, dir) => {
    await answers(cli, 'hello v1');
    // A top-level await that never settles: the new worker never listens.
    writeFileSync(join(dir, 'greeting.ts'), "await new Promise(() => {});\nexport const greeting: string = 'stuck';\n");
    await logged(cli, /^httpsd: greeting\.ts changed; reloading$/m);
    await sleep(1000);
    assert.equal(await body(cli), 'hello v1');
    writeFileSync(join(dir, 'greeting.ts'), "export const greeting: string = 'unstuck';\n");
    await answers(cli, 'unstuck v1');
    assert.equal(count(cli.stderr(), /changed; reloading/), 2, cli.stderr());
    assert.equal(count(cli.stderr(), /^httpsd: reloaded/m), 1, cli.stderr());
  });
});

const CRASHING_APP = {
  'package.json': '{ "type": "module" }\n',
  'app.mjs': [
    'export default {',
    '  fetch(request) {',
    "    if (new URL(request.url).pathname === '/crash') setTimeout(() => { throw new Error('crash outside a request'); }, 10);",
    "    return new Response('crash v1');",
    '  },',
    '};',
    '',
  ].join('\n'),
};

test('--watch: a worker that crashes is restarted as without --watch, and later changes still reload', { timeout: 180_000 }, async () => {
  await withApp(CRASHING_APP, ['app.mjs', '--watch'], async (cli, dir) => {
    await answers(cli, 'crash v1');
    await body(cli, '/crash');
    await logged(cli, /^httpsd: worker \d+ exited \(code 1\); restarting in \d+ ms$/m);
    await logged(cli, /^httpsd: worker \d+ ready \(replaces \d+\)$/m);
    await answers(cli, 'crash v1');
    // The replacement had to bind the port by number: the new version must share that socket, not open another.
    writeFileSync(join(dir, 'app.mjs'), "export default { fetch: () => new Response('crash v2') };\n");
    await answers(cli, 'crash v2');
    assert.match(cli.stderr(), /uncaught exception in application code at app\.mjs:3:\d+/);
  });
});

const COMMONJS_APP = {
  'package.json': '{ "type": "commonjs" }\n',
  'app.ts': [
    "import { greeting } from './greeting';",
    "const settings: { suffix: string } = require('./settings.json');",
    'export default { fetch: () => new Response(`${greeting}${settings.suffix}`) };',
    '',
  ].join('\n'),
  'greeting.ts': "export const greeting: string = 'hello';\n",
  'settings.json': '{ "suffix": "!" }\n',
  'notes.ts': "export const unused = 'not imported';\n",
};

test('HTTPSD_WATCH=1, CommonJS package: an edited .ts module and a required .json reload; other files do nothing', { timeout: 180_000 }, async () => {
  const environment = cliEnv({ HTTPSD_WATCH: '1' });
  await withApp(COMMONJS_APP, ['app.ts'], async (cli, dir) => {
    await answers(cli, 'hello!');
    // A file beside the app but outside its module graph: no reload (checked below, after a real one).
    writeFileSync(join(dir, 'notes.ts'), "export const unused = 'still not imported';\n");
    await sleep(500);
    saveByRename(join(dir, 'greeting.ts'), "export const greeting: string = 'hola';\n");
    await answers(cli, 'hola!');
    writeFileSync(join(dir, 'settings.json'), '{ "suffix": "?" }\n');
    await answers(cli, 'hola?');
    assert.doesNotMatch(cli.stderr(), /notes\.ts/);
    assert.equal(count(cli.stderr(), /changed; reloading/), 2, cli.stderr());
    assert.match(cli.stderr(), /^httpsd: greeting\.ts changed; reloading$/m);
    assert.match(cli.stderr(), /^httpsd: settings\.json changed; reloading$/m);
  }, environment);
});

const LATE_IMPORT_APP = {
  'package.json': '{ "type": "module" }\n',
  'app.mjs': "export default { fetch: async () => new Response((await import('./late.mjs')).text) };\n",
  'late.mjs': "export const text = 'late v1';\n",
};

test('--watch: a module the app imports later (dynamic import()) joins the watched files', { timeout: 180_000 }, async () => {
  await withApp(LATE_IMPORT_APP, ['app.mjs', '--watch'], async (cli, dir) => {
    await logged(cli, /watching 1 file of the app/);
    await answers(cli, 'late v1');
    // The worker reports the grown graph on its own; keep editing until the supervisor has picked it up.
    let version = 1;
    await eventually('a reload for late.mjs', async () => {
      writeFileSync(join(dir, 'late.mjs'), `export const text = 'late v${++version}';\n`);
      await sleep(400);
      return /^httpsd: late\.mjs changed; reloading$/m.test(cli.stderr());
    }, cli);
    // The new version loads late.mjs only when asked: ask, and the answer is the latest text.
    await answers(cli, `late v${version}`);
  });
});

test('--watch with a directory ENTRY says there is nothing to reload and serves', { timeout: 90_000 }, async () => {
  await withApp({ 'index.html': 'static v1\n' }, ['.', '--watch'], async (cli, dir) => {
    assert.match(cli.stderr(), /^httpsd: --watch has nothing to reload for a directory ENTRY: its files are read on every request$/m);
    assert.equal(await body(cli, '/index.html'), 'static v1\n');
    writeFileSync(join(dir, 'index.html'), 'static v2\n');
    assert.equal(await body(cli, '/index.html'), 'static v2\n');
  });
});

test('--help describes --watch', async () => {
  const result = await runCli(['--help']);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /--watch +Development: reload the app module when a file it loaded changes/);
});
