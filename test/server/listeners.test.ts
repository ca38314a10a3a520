/**
 * Unix domain socket listeners (h1 with curl, h2c and TLS h2 with node:http2), stale-socket cleanup and refusals,
 * the health endpoint through a shutdown with a drain delay, and the onListen / onShutdown hooks of serve().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '../../src/server/serve.js';
import type { FetchHandler, ServeOptions, Server } from '../../src/server/types.js';
import { parseFdSpec, parseFileMode, resolveInheritedSockets, takeSystemdSockets } from '../../src/server/listeners.js';
import { makeCertificate } from '../support/certs.js';
import { h1Request, run, waitFor } from '../support/server.js';

function socketDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-sock-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The request's facts as JSON, for the client to check. */
const echoFacts: FetchHandler = (request, info) =>
  Response.json({ path: new URL(request.url).pathname, protocol: info.protocol, scheme: info.scheme, remoteAddress: info.remoteAddress, localAddress: info.localAddress });

async function startOnUnix(options: Partial<ServeOptions>, fetch: FetchHandler = echoFacts): Promise<{ server: Server; errors: unknown[] }> {
  const errors: unknown[] = [];
  const server = serve({ fetch, onError: (error) => errors.push(error), ...options });
  await server.ready;
  return { server, errors };
}

function h2OverUnix(path: string, secure = false): http2.ClientHttp2Session {
  return http2.connect(secure ? 'https://localhost' : 'http://localhost', {
    createConnection: () => (secure ? tls.connect({ path, ALPNProtocols: ['h2'], rejectUnauthorized: false }) : net.connect({ path })),
  });
}

function h2Get(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; body: string; headers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path });
    let body = '';
    let headers: http2.IncomingHttpHeaders = {};
    stream.setEncoding('utf8');
    stream.on('response', (received) => (headers = received));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => resolve({ status: Number(headers[':status']), body, headers }));
    stream.on('error', reject);
  });
}

/** A Unix socket file nobody listens on, as a server killed with SIGKILL leaves behind (bound, never closed). */
async function leaveStaleSocket(path: string): Promise<void> {
  const result = await run('/usr/bin/python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); import os; os._exit(0)', path]);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(statSync(path).isSocket());
}

test('unix socket: cleartext h1 (curl) and h2c (node:http2), mode applied, unix: peer, removed on close', async () => {
  const path = join(socketDir(), 'app.sock');
  const { server } = await startOnUnix({ unix: { path, mode: '660' } });
  try {
    assert.deepEqual(server.urls, [`unix:${path}`]);
    assert.equal(statSync(path).mode & 0o777, 0o660);
    const curl = await run('curl', ['-sS', '--unix-socket', path, 'http://localhost/h1']);
    assert.equal(curl.code, 0, curl.stderr);
    assert.deepEqual(JSON.parse(curl.stdout.toString()), { path: '/h1', protocol: 'http/1.1', scheme: 'http', remoteAddress: 'unix:', localAddress: path });
    const session = h2OverUnix(path);
    try {
      const response = await h2Get(session, '/h2c');
      assert.equal(response.status, 200);
      assert.deepEqual(JSON.parse(response.body), { path: '/h2c', protocol: 'h2c', scheme: 'http', remoteAddress: 'unix:', localAddress: path });
    } finally {
      session.close();
    }
  } finally {
    await server.close(2000);
  }
  assert.equal(existsSync(path), false, 'the socket file is removed on close');
});

test('unix socket with tls: true serves h2 over TLS; tls: true without TLS material is refused', async () => {
  const path = join(socketDir(), 'tls.sock');
  const certificate = makeCertificate();
  const { server } = await startOnUnix({ tls: { cert: certificate.cert, key: certificate.key }, unix: { path, tls: true } });
  try {
    // No UDP socket: HTTP/3 is not served on a Unix socket.
    assert.equal(server.http3Port, undefined);
    const session = h2OverUnix(path, true);
    try {
      const response = await h2Get(session, '/secure');
      assert.deepEqual(JSON.parse(response.body), { path: '/secure', protocol: 'h2', scheme: 'https', remoteAddress: 'unix:', localAddress: path });
      assert.equal(response.headers['alt-svc'], undefined);
    } finally {
      session.close();
    }
  } finally {
    await server.close(2000);
  }
  const refused = serve({ fetch: echoFacts, unix: { path, tls: true } });
  await assert.rejects(refused.ready, /asks for TLS \(tls: true\) but serve\(\) has no `tls`/);
});

test('unix socket: a stale socket file is replaced, a live one and a regular file are refused and left alone', async () => {
  const dir = socketDir();
  const stale = join(dir, 'stale.sock');
  await leaveStaleSocket(stale);
  const { server } = await startOnUnix({ unix: stale });
  try {
    const curl = await run('curl', ['-sS', '--unix-socket', stale, 'http://localhost/after-stale']);
    assert.equal(JSON.parse(curl.stdout.toString()).path, '/after-stale');

    // Live: another server owns the path.
    const second = serve({ fetch: echoFacts, unix: stale });
    await assert.rejects(second.ready, (error: Error) => error.message.includes(`unix socket ${stale} is in use`));
    const still = await run('curl', ['-sS', '--unix-socket', stale, 'http://localhost/still-served']);
    assert.equal(JSON.parse(still.stdout.toString()).path, '/still-served');
  } finally {
    await server.close(2000);
  }

  const regular = join(dir, 'not-a-socket');
  writeFileSync(regular, 'precious data');
  const third = serve({ fetch: echoFacts, unix: regular });
  await assert.rejects(third.ready, (error: Error) => error.message.includes(`${regular} exists and is not a socket`));
  assert.equal(readFileSync(regular, 'utf8'), 'precious data');
});

test('unix socket options are validated', async () => {
  assert.equal(parseFileMode('660', 'mode'), 0o660);
  assert.equal(parseFileMode('0600', 'mode'), 0o600);
  assert.equal(parseFileMode(0o644, 'mode'), 0o644);
  assert.throws(() => parseFileMode('999', 'mode'), /expected an octal file mode/);
  assert.throws(() => parseFileMode('rw-', 'mode'), /expected an octal file mode/);
  await assert.rejects(serve({ fetch: echoFacts, unix: 'x'.repeat(200) }).ready, /bytes long/);
  await assert.rejects(serve({ fetch: echoFacts, unix: '/tmp/a.sock', fd: 3 }).ready, /`unix` or `fd`, not both/);
});

test('fd specs and systemd variables: fd://N, LISTEN_PID checked, variables removed', () => {
  assert.equal(parseFdSpec('fd://3'), 3);
  assert.equal(parseFdSpec(' 4 '), 4);
  assert.equal(parseFdSpec(5), 5);
  assert.throws(() => parseFdSpec('fd://1'), /3 or above/);
  assert.throws(() => parseFdSpec('tcp://3'), /3 or above/);
  assert.throws(() => resolveInheritedSockets([3, { fd: 'fd://3' }]), /fd 3 is given twice/);
  assert.deepEqual(resolveInheritedSockets([3, { fd: 'fd://4', tls: false }]), [{ fd: 3 }, { fd: 4, tls: false }]);

  const env: NodeJS.ProcessEnv = { LISTEN_FDS: '2', LISTEN_PID: '1234', LISTEN_FDNAMES: 'web:admin', OTHER: 'kept' };
  assert.deepEqual(takeSystemdSockets(env, [1234]), { fds: [3, 4], names: ['web', 'admin'] });
  assert.deepEqual(env, { OTHER: 'kept' });
  // Meant for another process: not taken, but still removed so that no child takes them either.
  const foreign: NodeJS.ProcessEnv = { LISTEN_FDS: '1', LISTEN_PID: '999' };
  assert.equal(takeSystemdSockets(foreign, [1234]), undefined);
  assert.deepEqual(foreign, {});
  assert.equal(takeSystemdSockets({}, [1234]), undefined);
  assert.throws(() => takeSystemdSockets({ LISTEN_FDS: 'many', LISTEN_PID: '1' }, [1]), /LISTEN_FDS=many/);
  assert.throws(() => takeSystemdSockets({ LISTEN_FDS: '100000', LISTEN_PID: '1' }, [1]), /at most 64/);
});

test('healthPath: 200 while serving, 503 during the drain delay while the app still serves, then closed', async () => {
  const path = join(socketDir(), 'health.sock');
  let shutdownCalls = 0;
  const { server } = await startOnUnix({
    unix: path,
    healthPath: '/health',
    // Long enough for the requests below on a busy machine; close() takes this long.
    drainDelay: 3000,
    onShutdown: () => {
      shutdownCalls++;
    },
  });
  const get = async (target: string) => {
    const curl = await run('curl', ['-sS', '-i', '--unix-socket', path, `http://localhost${target}`]);
    assert.equal(curl.code, 0, curl.stderr);
    return curl.stdout.toString();
  };
  const healthy = await get('/health');
  assert.match(healthy, /^HTTP\/1\.1 200/);
  assert.match(healthy, /cache-control: no-store/i);
  assert.match(healthy, /\r\n\r\nok\n$/);
  // Only the exact path: the app gets the rest.
  assert.match(await get('/health/deep'), /"path":"\/health\/deep"/);

  const closed = server.close(10_000);
  await waitFor(() => shutdownCalls === 1, 'onShutdown called when close() begins');
  const draining = await get('/health?probe=1');
  assert.match(draining, /^HTTP\/1\.1 503/);
  assert.match(draining, /cache-control: no-store/i);
  // New connections are still accepted and served during the drain delay.
  assert.match(await get('/app'), /^HTTP\/1\.1 200[\s\S]*"path":"\/app"/);
  await closed;
  assert.equal(existsSync(path), false);
});

test('onListen gets the listening server; its throw rejects ready and closes the listeners; onShutdown throw is reported', async () => {
  const path = join(socketDir(), 'hooks.sock');
  let listened: string[] | undefined;
  const { server, errors } = await startOnUnix({
    unix: path,
    onListen: (started) => {
      listened = [...started.urls];
    },
    onShutdown: async () => {
      throw new Error('hook failed');
    },
  });
  assert.deepEqual(listened, [`unix:${path}`]);
  await server.close(2000);
  assert.ok(errors.some((error) => String(error).includes('hook failed')));

  let shutdownAfterFailedStart = 0;
  const failing = serve({
    fetch: echoFacts,
    unix: path,
    onListen: () => {
      throw new Error('not ready');
    },
    onShutdown: () => {
      shutdownAfterFailedStart++;
    },
  });
  await assert.rejects(failing.ready, /not ready/);
  assert.equal(existsSync(path), false, 'listeners closed after onListen failed');
  // A server that never started has no shutdown to announce.
  await failing.close();
  assert.equal(shutdownAfterFailedStart, 0);

  assert.throws(() => serve({ fetch: echoFacts, healthPath: 'health' }), /starting with "\/"/);
  assert.throws(() => serve({ fetch: echoFacts, drainDelay: -1 }), /milliseconds from 0/);
});

test('healthPath on TCP listeners, TLS and a redirecting cleartext port: the probe never reaches the app or the redirect', async () => {
  const certificate = makeCertificate();
  let appCalls = 0;
  const server = serve({
    fetch: () => {
      appCalls++;
      return new Response('app');
    },
    port: 0,
    hostname: '127.0.0.1',
    http3: false,
    tls: { cert: certificate.cert, key: certificate.key },
    httpPort: 0,
    redirectHttp: true,
    healthPath: '/healthz',
  });
  await server.ready;
  try {
    const response = await h1Request(`https://127.0.0.1:${server.port}`, { path: '/healthz', method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['cache-control'], 'no-store');
    // In cleartext too, where everything else is redirected to https.
    assert.equal((await h1Request(`http://127.0.0.1:${server.httpPort}`, { path: '/healthz' })).status, 200);
    assert.equal((await h1Request(`http://127.0.0.1:${server.httpPort}`, { path: '/other' })).status, 308);
    assert.equal(appCalls, 0);
  } finally {
    await server.close(2000);
  }
});
