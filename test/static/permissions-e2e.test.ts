/**
 * Files the server may not read. Root reads everything whatever the mode bits say, so when the tests run as root
 * the server (and the CLI) run as `nobody`, for whom the modes below are real: an unreadable root is a startup
 * error naming the directory and the fix; an unreadable file or directory inside is a 403 with one log line.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_FROM_SOURCE, REPO_ROOT, cliEnv } from '../support/cli.js';
import { UNPRIVILEGED, curl, logLinesAfter, startServerProcess } from './e2e-helpers.js';
import type { ServerProcess } from './e2e-helpers.js';

/** Who the server runs as: nobody when the tests run as root, else the test user (already subject to modes). */
const runAs = process.getuid?.() === 0 ? UNPRIVILEGED : undefined;

let base: string;
let root: string;
let server: ServerProcess;

function file(path: string, text: string, mode: number): void {
  writeFileSync(path, text);
  chmodSync(path, mode);
}

function directory(path: string, mode: number): void {
  mkdirSync(path);
  chmodSync(path, mode);
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'httpsd-static-perm-'));
  chmodSync(base, 0o755); // mkdtemp makes it private to the test user
  root = join(base, 'root');
  directory(root, 0o755);
  file(join(root, 'public.txt'), 'public', 0o644);
  file(join(root, 'owner-only.txt'), 'owner only', 0o600);
  directory(join(root, 'private'), 0o700);
  file(join(root, 'private', 'inside.txt'), 'inside', 0o644);
  // Searchable but not readable: its files can be served by name, it cannot be listed.
  directory(join(root, 'unlisted'), 0o711);
  file(join(root, 'unlisted', 'page.txt'), 'page', 0o644);
  directory(join(root, 'locked-index'), 0o755);
  file(join(root, 'locked-index', 'index.html'), '<p>locked</p>', 0o600);
  // A link to a directory outside the root that the server cannot search: outside is 404, never 403.
  directory(join(base, 'outside-private'), 0o700);
  file(join(base, 'outside-private', 'secret.txt'), 'secret', 0o644);
  symlinkSync(join(base, 'outside-private'), join(root, 'link-out'));
  server = await startServerProcess(root, {}, runAs);
});

after(async () => {
  await server?.stop();
  if (base) rmSync(base, { recursive: true, force: true });
});

describe('unreadable files and directories inside the root', () => {
  for (const [path, status, body] of [
    ['/public.txt', 200, 'public'],
    ['/unlisted/page.txt', 200, 'page'],
    ['/link-out/secret.txt', 404, 'Not Found\n'],
  ] as const) {
    test(`${path}: ${status}`, async () => {
      const result = await curl(server.base, path, 'h2');
      assert.equal(result.status, status);
      assert.equal(result.body.toString(), body);
    });
  }

  for (const [path, logged] of [
    ['/owner-only.txt', /^static: permission denied: \S+\/root\/owner-only\.txt is not readable by .*chmod a\+r/],
    ['/private/inside.txt', /^static: permission denied: \S+\/root\/private is not searchable by .*chmod a\+x/],
    ['/private/', /^static: permission denied: \S+\/root\/private is not searchable by /],
    ['/unlisted/', /^static: permission denied: \S+\/root\/unlisted cannot be listed by .*chmod a\+r/],
    ['/locked-index/', /^static: permission denied: \S+\/root\/locked-index\/index\.html is not readable by /],
  ] as const) {
    test(`${path}: 403 and one log line naming the path and the fix`, async () => {
      for (const protocol of ['h1', 'h2'] as const) {
        const from = server.stderr.length;
        const result = await curl(server.base, path, protocol);
        assert.equal(result.status, 403, protocol);
        assert.equal(result.body.toString(), 'Forbidden\n');
        const lines = await logLinesAfter(server, from, logged);
        assert.equal(lines.length, 1, lines.join('\n'));
        assert.match(lines[0]!, logged);
      }
    });
  }
});

/** Runs `httpsd DIR` as `runAs` to completion, or kills it as soon as it starts serving instead. */
function runCliAs(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const caroot = mkdtempSync(join(tmpdir(), 'httpsd-static-perm-ca-'));
  if (runAs !== undefined) chownSync(caroot, runAs.uid, runAs.gid);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_FROM_SOURCE, ...args], {
      cwd: REPO_ROOT,
      env: cliEnv({ HTTPSD_CAROOT: caroot }),
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(runAs ?? {}),
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (/https:\/\/\S+:\d+\//.test(stderr)) child.kill('SIGKILL'); // its start banner: it is serving
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(caroot, { recursive: true, force: true });
      resolve({ code, stderr });
    });
  });
}

describe('an unreadable root', () => {
  test('is a startup error naming the directory and the fix, not a server answering 404', async () => {
    const unreadable = join(base, 'unreadable-root');
    directory(unreadable, 0o700);
    file(join(unreadable, 'index.html'), 'hi', 0o644);
    const result = await runCliAs([unreadable, '--port', '0', '--host', '127.0.0.1']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`^httpsd: Static root ${unreadable} is not searchable by .*Fix: chmod a\\+rx ${unreadable}`));
    assert.equal(result.stderr.trim().split('\n').length, 1, 'one line, no stack');
  });

  test('a root that can be searched but not read needs listings off', async () => {
    const searchOnly = join(base, 'search-only-root');
    directory(searchOnly, 0o711);
    const result = await runCliAs([searchOnly, '--port', '0', '--host', '127.0.0.1']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /is not readable by .*could not be listed\. Fix: chmod a\+r .*--no-listing/);
  });
});
