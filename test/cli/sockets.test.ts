/**
 * The built `httpsd` command on sockets it did not bind itself: systemd socket activation (a parent binds a TCP or
 * Unix socket and passes it as fd 3 with LISTEN_FDS and LISTEN_PID), `--fd fd://3`, `--unix`; the health endpoint
 * through a SIGTERM with a drain delay; and an app's onListen / onShutdown exports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_FROM_BUILD, REPO_ROOT, cliEnv, runCli, stopGracefully } from '../support/cli.js';
import { h1Request, run, waitFor } from '../support/server.js';
import { supervisorInheritedFds, workerStdio } from '../../src/cli/deploy-options.js';

const APP = join(REPO_ROOT, 'test/cli/fixtures/lifecycle.mjs');

interface Started {
  child: ChildProcess;
  stderr(): string;
  exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

/**
 * Starts the built command and waits until its stderr matches `ready`. With `inherit`, that descriptor becomes the
 * child's fd 3 and, unless `listenPid` is given, LISTEN_PID is set to the child's own pid the way a service manager
 * does: a shell that sets it to its pid ($$) and then execs node, which keeps that pid.
 */
function startServer(
  args: string[],
  options: { ready: RegExp; inherit?: number; env?: NodeJS.ProcessEnv; listenPid?: string; activateUnix?: string },
): Promise<Started> {
  const env = cliEnv({ ...options.env });
  const node = [process.execPath, ...CLI_FROM_BUILD, ...args];
  let command: string;
  let argv: string[];
  if (options.activateUnix !== undefined) {
    command = '/usr/bin/python3';
    argv = ['-c', ACTIVATE_UNIX, options.activateUnix, ...node];
  } else if (options.inherit !== undefined && options.listenPid === undefined) {
    command = '/bin/sh';
    argv = ['-c', 'LISTEN_PID=$$ exec "$0" "$@"', ...node];
  } else {
    command = node[0]!;
    argv = node.slice(1);
    if (options.listenPid !== undefined) env.LISTEN_PID = options.listenPid;
  }
  const child = spawn(command, argv, {
    env,
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe', ...(options.inherit !== undefined ? [options.inherit] : [])],
  });
  let stderr = '';
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`httpsd did not start in time. stderr: ${stderr}`));
    }, 60_000);
    child.stdout!.resume();
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      if (!options.ready.test(stderr)) return;
      clearTimeout(timer);
      resolve({
        child,
        stderr: () => stderr,
        exited,
        stop: () => stopGracefully(child, exited),
      });
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`httpsd exited with ${code} before starting. stderr: ${stderr}`));
    });
  });
}

/**
 * What systemd does for a socket unit with ListenStream=PATH: bind and listen on PATH, put the socket at fd 3, set
 * LISTEN_FDS=1 and LISTEN_PID to its own pid, and exec the service (which keeps that pid). A Node parent could not
 * hand over a Unix socket this way: closing its own listener would remove the socket file.
 */
const ACTIVATE_UNIX = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(64)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
os.environ['LISTEN_FDS'] = '1'
os.environ['LISTEN_PID'] = str(os.getpid())
os.execv(sys.argv[2], sys.argv[2:])
`;

/** A listening socket bound by the test (the service manager's part); its descriptor is what the child inherits. */
async function bindListening(options: net.ListenOptions): Promise<{ server: net.Server; fd: number }> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, resolve);
  });
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  assert.ok(fd > 2);
  return { server, fd };
}

function socketDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-cli-sock-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function curlUnix(path: string, target: string, extra: string[] = []): Promise<string> {
  const result = await run('curl', ['-sS', ...extra, '--unix-socket', path, `http://localhost${target}`]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.toString();
}

test('socket activation: a TCP socket passed as fd 3 (LISTEN_FDS, LISTEN_PID) serves TLS, also after the worker crashed; the app never sees LISTEN_*', async () => {
  const { server: parentSide, fd } = await bindListening({ host: '127.0.0.1', port: 0 });
  const port = (parentSide.address() as net.AddressInfo).port;
  const cli = await startServer([APP], { inherit: fd, env: { LISTEN_FDS: '1', LISTEN_FDNAMES: 'web' }, ready: /serving lifecycle\.mjs/ });
  try {
    // Only the child accepts from now on.
    parentSide.close();
    assert.match(cli.stderr(), new RegExp(`https://127\\.0\\.0\\.1:${port}/`));
    assert.match(cli.stderr(), /Socket activation: serving 1 socket passed by the service manager \(web\)/);
    const response = await h1Request(`https://127.0.0.1:${port}`, { path: '/activated' });
    assert.equal(response.status, 200);
    const body = JSON.parse(response.body.toString());
    assert.equal(body.path, '/activated');
    assert.equal(body.listenFds, null);
    assert.equal(body.listenPid, null);

    // The only worker dies: the supervisor still holds the socket, and the replacement serves it.
    process.kill(body.pid, 'SIGKILL');
    await waitFor(() => /ready \(replaces \d+\)/.test(cli.stderr()), 'a replacement worker');
    const after = JSON.parse((await h1Request(`https://127.0.0.1:${port}`, { path: '/after-crash' })).body.toString());
    assert.equal(after.path, '/after-crash');
    assert.notEqual(after.pid, body.pid);
  } finally {
    assert.equal(await cli.stop(), 0);
  }
});

test('socket activation: a Unix socket passed as fd 3 serves cleartext h1 and h2c, shared by 2 workers', async () => {
  const path = join(socketDir(), 'activated.sock');
  const cli = await startServer([APP, '--workers', '2'], { activateUnix: path, ready: /serving lifecycle\.mjs with 2 workers/ });
  try {
    assert.match(cli.stderr(), /fd:\/\/3 {2}\(Unix socket, cleartext/);
    const body = JSON.parse(await curlUnix(path, '/over-unix'));
    assert.deepEqual([body.path, body.protocol, body.remoteAddress, body.listenFds], ['/over-unix', 'http/1.1', 'unix:', null]);
    const session = http2.connect('http://localhost', { createConnection: () => net.connect({ path }) });
    try {
      const h2c = await new Promise<string>((resolve, reject) => {
        const stream = session.request({ ':path': '/h2c' });
        let text = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => (text += chunk));
        stream.on('end', () => resolve(text));
        stream.on('error', reject);
      });
      assert.equal(JSON.parse(h2c).protocol, 'h2c');
    } finally {
      session.close();
    }
  } finally {
    assert.equal(await cli.stop(), 0);
  }
});

test('--fd fd://3 serves an inherited socket without LISTEN_*; LISTEN_PID of another process is ignored and removed', async () => {
  const { server: parentSide, fd } = await bindListening({ host: '127.0.0.1', port: 0 });
  const port = (parentSide.address() as net.AddressInfo).port;
  const explicit = await startServer([APP, '--fd', 'fd://3'], { inherit: fd, listenPid: '', ready: /serving lifecycle\.mjs/ });
  try {
    parentSide.close();
    const response = await h1Request(`https://127.0.0.1:${port}`, { path: '/explicit' });
    assert.equal(JSON.parse(response.body.toString()).path, '/explicit');
  } finally {
    assert.equal(await explicit.stop(), 0);
  }

  // Variables set for some other process (pid 1): the server listens on its own port, and the app does not see them.
  const foreign = await startServer([APP, '--host', '127.0.0.1', '--port', '0', '--no-http3'], {
    env: { LISTEN_FDS: '1', LISTEN_PID: '1' },
    ready: /https:\/\/127\.0\.0\.1:\d+\//,
  });
  try {
    const ownPort = Number(/https:\/\/127\.0\.0\.1:(\d+)\//.exec(foreign.stderr())![1]);
    const body = JSON.parse((await h1Request(`https://127.0.0.1:${ownPort}`, { path: '/own' })).body.toString());
    assert.deepEqual([body.listenFds, body.listenPid], [null, null]);
    assert.doesNotMatch(foreign.stderr(), /Socket activation/);
  } finally {
    assert.equal(await foreign.stop(), 0);
  }
});

test('--unix: cleartext with --unix-mode; a socket in use is refused with its path; flag conflicts are usage errors', async () => {
  const path = join(socketDir(), 'app.sock');
  const cli = await startServer([APP, '--unix', path, '--unix-mode', '600'], { ready: /serving lifecycle\.mjs/ });
  try {
    assert.match(cli.stderr(), new RegExp(`unix:${path} {2}\\(Unix socket, cleartext; http/1.1 and h2c prior knowledge, mode 600`));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(JSON.parse(await curlUnix(path, '/unix')).remoteAddress, 'unix:');
    const second = await runCli([APP, '--unix', path], { build: true });
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`unix socket ${path} is in use`));
  } finally {
    assert.equal(await cli.stop(), 0);
  }
  for (const [args, message] of [
    [['--unix', path, '--port', '9443'], /--port and --unix both say where to listen/],
    [['--unix', path, '--fd', '3'], /--unix and --fd both replace/],
    [['--unix-mode', '660'], /--unix-mode needs --unix/],
    [['--unix', path, '--unix-mode', '888'], /expected an octal file mode/],
    [['--unix', path, '--cert', 'c.pem', '--key', 'k.pem'], /--cert is for TLS, and --unix serves cleartext: add --unix-tls/],
    [['--fd', 'two'], /fd two: expected an inherited socket's descriptor/],
    [['--health', 'health'], /--health health: the path must start with "\/"/],
    [['--health-drain-delay', '1000'], /--health-drain-delay 1000: expected seconds from 0 to 300/],
  ] as const) {
    const result = await runCli([APP, ...args], { build: true });
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

test('--health answers 503 from SIGTERM on while --health-drain-delay keeps serving; onListen and onShutdown run', async () => {
  const path = join(socketDir(), 'health.sock');
  // The drain delay only has to outlast the two requests below, sent as soon as onShutdown has reported.
  const cli = await startServer([APP, '--unix', path, '--health', '/health', '--health-drain-delay', '5'], { ready: /serving lifecycle\.mjs/ });
  assert.match(cli.stderr(), new RegExp(`lifecycle\\.mjs: onListen unix:${path}\\n[\\s\\S]*httpsd [\\d.]+ serving`));
  const healthy = await curlUnix(path, '/health', ['-i']);
  assert.match(healthy, /^HTTP\/1\.1 200/);
  assert.match(healthy, /cache-control: no-store/i);
  cli.child.kill('SIGTERM');
  await waitFor(() => cli.stderr().includes('lifecycle.mjs: onShutdown'), 'onShutdown on SIGTERM');
  assert.match(await curlUnix(path, '/health', ['-i']), /^HTTP\/1\.1 503/);
  assert.equal(JSON.parse(await curlUnix(path, '/still-served')).path, '/still-served');
  assert.equal(await cli.exited, 0);
});

test('onListen that throws: the start fails with exit status 1 and the app file:line, and is not retried', async () => {
  const result = await runCli([APP, '--host', '127.0.0.1', '--port', '0', '--no-http3'], { build: true, env: cliEnv({ LIFECYCLE_FAIL: 'listen' }) });
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /onListen failed at test\/cli\/fixtures\/lifecycle\.mjs:\d+:\d+: Error: cannot start: the database is unreachable/);
  assert.doesNotMatch(result.stderr, /restarting/);
});

test('the supervisor keeps inherited sockets for its workers at the same descriptor numbers, IPC after them', () => {
  assert.deepEqual(workerStdio([3]), [0, 1, 2, 3, 'ipc']);
  assert.deepEqual(workerStdio([3, 5]), [0, 1, 2, 3, 'ignore', 5, 'ipc']);
  const settings = { unix: undefined, unixTls: false, fds: [], healthPath: undefined, drainDelayMs: undefined };
  assert.deepEqual(supervisorInheritedFds(settings, { LISTEN_FDS: '2', LISTEN_PID: String(process.pid) }), [3, 4]);
  assert.deepEqual(supervisorInheritedFds(settings, { LISTEN_FDS: '2', LISTEN_PID: '1' }), []);
  assert.deepEqual(supervisorInheritedFds({ ...settings, fds: [7] }, {}), [7]);
  // The supervisor only reads the variables: its workers take (and remove) them.
  const env = { LISTEN_FDS: '1', LISTEN_PID: String(process.pid) };
  supervisorInheritedFds(settings, env);
  assert.equal(env.LISTEN_FDS, '1');
});
