/**
 * HTTP/3 interop with ngtcp2's example client built on GnuTLS (`gtlsclient`, Debian ngtcp2-client): an independent
 * QUIC, TLS 1.3 and HTTP/3 stack against our endpoint over real UDP on 127.0.0.1. Every case checks bytes (the
 * downloaded files or the printed body) and what the server saw (handshakes, resumption, 0-RTT, Retry, paths).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { patternBytes, run } from '../support/server.js';
import { startH3Server, type TestH3Server } from './h3-server.js';
import { UdpRelay } from '../quic/support/udp-relay.js';
import { makeCertificate } from '../support/certs.js';
import { QuicEndpoint } from '../../src/server/quic/index.js';
import { ServerContext } from '../../src/server/context.js';
import { resolveLimits } from '../../src/server/limits.js';
import { acceptHttp3 } from '../../src/server/transports/h3.js';

const GTLSCLIENT = '/usr/bin/gtlsclient';
const INSTALL = 'apt-get install -y ngtcp2-client';
const MiB = 1024 * 1024;
/** Generous: a busy 2-core machine moves these transfers in seconds, not minutes. */
const RUN_TIMEOUT = 120_000;

function requirePeer(): void {
  if (!existsSync(GTLSCLIENT)) assert.fail(`ngtcp2's gtlsclient is not installed (${GTLSCLIENT}); install it with: ${INSTALL}`);
}

interface GtlsResult {
  code: number | null;
  output: string;
}

/** Runs gtlsclient against the server, or against `port` (a relay in front of it) when given. */
async function gtlsclient(server: TestH3Server, paths: string[], extra: string[] = [], port = server.port): Promise<GtlsResult> {
  requirePeer();
  const urls = paths.map((path) => `https://localhost:${server.port}${path}`);
  const args = ['--exit-on-all-streams-close', '--sni=localhost', '--timeout=30s', ...extra, '127.0.0.1', String(port), ...urls];
  const result = await run(GTLSCLIENT, args, { timeoutMs: RUN_TIMEOUT });
  return { code: result.code, output: result.stdout.toString() + result.stderr };
}

function tail(text: string): string {
  return text.slice(-3000);
}

describe('ngtcp2 gtlsclient → QuicEndpoint (HTTP/3)', () => {
  let root: string;
  let work: string;
  let server: TestH3Server;
  const files = new Map<string, Buffer>();

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'httpsd-h3-root-'));
    work = mkdtempSync(join(tmpdir(), 'httpsd-h3-ngtcp2-'));
    for (const [name, size, seed] of [['small.txt', 0, 0], ['f2.bin', 2 * MiB, 2], ['f3.bin', 3 * MiB, 3], ['f5.bin', 5 * MiB, 5]] as const) {
      const data = name === 'small.txt' ? Buffer.from('a small file\n') : patternBytes(size, seed);
      files.set(name, data);
      writeFileSync(join(root, name), data);
    }
    for (let i = 0; i < 24; i++) {
      const data = patternBytes(1000 + i * 997, 100 + i);
      files.set(`m${i}.bin`, data);
      writeFileSync(join(root, `m${i}.bin`), data);
    }
    server = await startH3Server(root, { keyLogFile: join(work, 'keys.log') });
  });
  after(async () => {
    await server?.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  function downloadDir(name: string): string {
    return mkdtempSync(join(work, `${name}-`));
  }
  function assertDownloaded(dir: string, names: string[], output: string): void {
    for (const name of names) {
      const path = join(dir, name);
      assert.ok(existsSync(path), `${name} not downloaded:\n${tail(output)}`);
      const data = readFileSync(path);
      assert.equal(data.length, files.get(name)!.length, name);
      assert.ok(data.equals(files.get(name)!), `${name} differs`);
    }
  }

  test('handshake and GET /hello: status, content-type and body', async () => {
    const before = { ...server.endpoint.stats };
    const result = await gtlsclient(server, ['/hello'], ['--no-quic-dump']);
    assert.equal(result.code, 0, tail(result.output));
    assert.match(result.output, /\[:status: 200\]/);
    assert.match(result.output, /\[content-type: text\/plain\]/);
    assert.match(result.output, /body 5 bytes\n0+ {2}68 65 6c 6c 6f/);
    assert.equal(server.endpoint.stats.handshakes - before.handshakes, 1);
    assert.ok(server.seen.some((request) => request.method === 'GET' && request.path === '/hello'));
    // The key log carries both 1-RTT secrets for the connection (Wireshark / interop runner format).
    const keyLog = readFileSync(join(work, 'keys.log'), 'utf8');
    assert.match(keyLog, /^SERVER_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]{64} [0-9a-f]{64}$/m);
    assert.match(keyLog, /^CLIENT_TRAFFIC_SECRET_0 [0-9a-f]{64} [0-9a-f]{64}$/m);
  });

  test('transfer: 2, 3 and 5 MiB byte-identical on one connection (flow-control windows grow)', async () => {
    const dir = downloadDir('transfer');
    const result = await gtlsclient(server, ['/f2.bin', '/f3.bin', '/f5.bin', '/small.txt'], ['-q', '--download', dir]);
    assert.equal(result.code, 0, tail(result.output));
    assertDownloaded(dir, ['f2.bin', 'f3.bin', 'f5.bin', 'small.txt'], result.output);
  });

  test('multiplexing: 24 requests on one connection', async () => {
    const dir = downloadDir('multiplex');
    const before = { ...server.endpoint.stats };
    const names = [...Array(24).keys()].map((i) => `m${i}.bin`);
    const result = await gtlsclient(server, names.map((name) => `/${name}`), ['-q', '--download', dir]);
    assert.equal(result.code, 0, tail(result.output));
    assertDownloaded(dir, names, result.output);
    assert.equal(server.endpoint.stats.handshakes - before.handshakes, 1);
    assert.equal(server.endpoint.stats.requests - before.requests, 24);
  });

  test('chacha20: TLS_CHACHA20_POLY1305_SHA256 only (32-byte packet keys)', async () => {
    const dir = downloadDir('chacha');
    const result = await gtlsclient(server, ['/f2.bin'], [
      '--ciphers=NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305', '-s', '--no-quic-dump', '--no-http-dump', '--download', dir,
    ]);
    assert.equal(result.code, 0, tail(result.output));
    assertDownloaded(dir, ['f2.bin'], result.output);
    assert.match(result.output, /application_traffic tx secret[\s\S]*?\+ key=[0-9a-f]{64}\n/);
  });

  test('keyupdate: client-initiated key update during a 5 MiB download', async () => {
    const dir = downloadDir('keyupdate');
    const result = await gtlsclient(server, ['/f5.bin'], ['--key-update=50ms', '--no-quic-dump', '--no-http-dump', '--download', dir]);
    assert.equal(result.code, 0, tail(result.output));
    assert.match(result.output, /Initiate key update/);
    assertDownloaded(dir, ['f5.bin'], result.output);
  });

  test('resumption, then zerortt: a ticket resumes, and the second request arrives in 0-RTT', async () => {
    const early = await startH3Server(root, { earlyData: true });
    try {
      const sessionFile = join(work, 'session.pem');
      const tpFile = join(work, 'tp.pem');
      const first = await gtlsclient(early, ['/hello'], ['--session-file', sessionFile, '--tp-file', tpFile, '--no-quic-dump']);
      assert.equal(first.code, 0, tail(first.output));
      assert.ok(existsSync(sessionFile), 'no ticket stored');
      const second = await gtlsclient(early, ['/small.txt'], ['--session-file', sessionFile, '--tp-file', tpFile, '--no-http-dump']);
      assert.equal(second.code, 0, tail(second.output));
      assert.doesNotMatch(second.output, /Early data was rejected/);
      assert.match(second.output, /0RTT STREAM/);
      assert.equal(early.endpoint.stats.handshakes, 2);
      assert.equal(early.endpoint.stats.resumed, 1);
      assert.equal(early.endpoint.stats.earlyRequests, 1);
    } finally {
      await early.close();
    }
  });

  test('0-RTT policy and info.tls through the server core (acceptHttp3): POST in 0-RTT → 425, GET in 0-RTT → 200 marked early-data', async () => {
    const traced: string[] = [];
    const context = new ServerContext({
      handler: async (request, info) => {
        await request.arrayBuffer();
        return Response.json({ method: request.method, early: request.headers.get('early-data'), tls: info.tls });
      },
      limits: resolveLimits(undefined),
      serverHeader: false,
      onError: () => {},
      accessLog: undefined,
      metricsPath: undefined,
      traceFrames: (line) => traced.push(line),
      h2Limits: undefined,
      websocket: undefined,
    });
    const certificate = makeCertificate();
    const endpoint = await QuicEndpoint.listen({
      host: '127.0.0.1', certificates: [{ cert: certificate.cert, key: certificate.key }], earlyData: true, onConnection: acceptHttp3(context),
    });
    const target = { port: endpoint.port } as TestH3Server;
    try {
      const sessionFile = join(work, 'session-policy.pem');
      const tpFile = join(work, 'tp-policy.pem');
      const resume = ['--session-file', sessionFile, '--tp-file', tpFile, '--no-quic-dump'];
      const dir = downloadDir('policy');
      // 1-RTT first: info.tls as on the TCP side (RFC 9001 §4.2: TLS 1.3; ALPN h3; the SNI the client sent).
      const first = await gtlsclient(target, ['/info'], [...resume, '--download', dir]);
      assert.equal(first.code, 0, tail(first.output));
      const info = JSON.parse(readFileSync(join(dir, 'info'), 'utf8')) as { early: string | null; tls: Record<string, unknown> };
      assert.deepEqual(info, { method: 'GET', early: null, tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', alpn: 'h3', servername: 'localhost', authorized: false } });
      // An unsafe method in 0-RTT: 425 Too Early (RFC 8470 §5.2), the handler never runs.
      const post = await gtlsclient(target, ['/info'], [...resume, '-m', 'POST']);
      assert.equal(post.code, 0, tail(post.output));
      assert.match(post.output, /0RTT STREAM|early data/i);
      assert.match(post.output, /\[:status: 425\]/, tail(post.output));
      // A safe one runs, with early-data: 1 (RFC 8470 §5.1) for the application to see.
      const getDir = downloadDir('policy-get');
      const get = await gtlsclient(target, ['/info'], [...resume, '--download', getDir]);
      assert.equal(get.code, 0, tail(get.output));
      const early = JSON.parse(readFileSync(join(getDir, 'info'), 'utf8')) as { early: string | null };
      assert.equal(early.early, '1');
      assert.equal(endpoint.stats.earlyRequests, 2);
      // --trace-frames decodes HTTP/3 frames: SETTINGS both ways, the request's HEADERS with its fields.
      assert.ok(traced.some((line) => /h3\] send SETTINGS frame .*settings=\[/.test(line)), traced.slice(0, 5).join('\n'));
      assert.ok(traced.some((line) => /h3\] recv HEADERS frame .*:method: POST/.test(line)), 'the POST HEADERS in the trace');
    } finally {
      await endpoint.close();
    }
  });

  test('resumption without 0-RTT on the default endpoint (0-RTT off): ticket resumes, early data refused', async () => {
    const sessionFile = join(work, 'session-default.pem');
    const tpFile = join(work, 'tp-default.pem');
    const before = { ...server.endpoint.stats };
    const first = await gtlsclient(server, ['/hello'], ['-q', '--session-file', sessionFile, '--tp-file', tpFile]);
    assert.equal(first.code, 0, tail(first.output));
    const second = await gtlsclient(server, ['/hello'], ['--session-file', sessionFile, '--tp-file', tpFile, '--no-quic-dump']);
    assert.equal(second.code, 0, tail(second.output));
    assert.match(second.output, /body 5 bytes/);
    assert.equal(server.endpoint.stats.resumed - before.resumed, 1);
    assert.equal(server.endpoint.stats.earlyRequests - before.earlyRequests, 0);
  });

  test('retry: Retry forced on the endpoint, token echoed, transfer completes', async () => {
    const retrying = await startH3Server(root, { retry: 'always' });
    try {
      const dir = downloadDir('retry');
      const result = await gtlsclient(retrying, ['/f2.bin'], ['-q', '--token-file', join(work, 'token'), '--download', dir]);
      assert.equal(result.code, 0, tail(result.output));
      assertDownloaded(dir, ['f2.bin'], result.output);
      assert.equal(retrying.endpoint.stats.retries, 1);
      assert.equal(retrying.endpoint.stats.handshakes, 1);
    } finally {
      await retrying.close();
    }
  });

  test('rebind: client-initiated migration to a new local address (path validation) during a 5 MiB download', async () => {
    const dir = downloadDir('migrate');
    const before = { ...server.endpoint.stats };
    const result = await gtlsclient(server, ['/f5.bin'], ['-q', '--change-local-addr=100ms', '--download', dir]);
    assert.equal(result.code, 0, tail(result.output));
    assertDownloaded(dir, ['f5.bin'], result.output);
    assert.ok(server.endpoint.stats.pathChanges - before.pathChanges >= 1, 'the server never saw a new client address');
  });

  // The interop runner's rebind-port / rebind-addr: a NAT between client and server forgets its mapping twice
  // mid-transfer (after 1.5 and 3 MB reach the client), so the server's packets in flight to the old mapping are
  // lost and the client, unaware, goes on acknowledging from a new port (or address). The server must validate
  // the new path at once within 3× the bytes of those ACKs (RFC 9000 §8.1, §9.3) and recover what was lost there.
  // gtlsclient exits 0 even on an idle timeout, so the byte check is what fails a stalled transfer.
  for (const [name, address] of [
    ['rebind-port: the NAT gives the client a new port twice during a 5 MiB download', '127.0.0.1'],
    ['rebind-addr: the NAT gives the client a new address (127.0.0.2), then back, during a 5 MiB download', '127.0.0.2'],
  ] as const) {
    test(name, async () => {
      const dir = downloadDir('rebind');
      const before = { ...server.endpoint.stats };
      const relay = await UdpRelay.start(server.port);
      let rebinds = 0;
      relay.onToClient = (stats) => {
        if (rebinds < 2 && stats.bytesToClient > (rebinds + 1) * 1_500_000) {
          rebinds++;
          void relay.rebind(rebinds === 1 ? address : '127.0.0.1');
        }
      };
      try {
        const result = await gtlsclient(server, ['/f5.bin'], ['-q', '--download', dir], relay.port);
        assert.equal(result.code, 0, tail(result.output));
        assertDownloaded(dir, ['f5.bin'], result.output);
        assert.equal(relay.stats.rebinds, 2);
        assert.ok(relay.stats.droppedAfterRebind > 0, 'no packet was lost to the old mapping: the rebinding came too late');
        assert.equal(server.endpoint.stats.pathChanges - before.pathChanges, 2);
      } finally {
        await relay.close();
      }
    });
  }

  test('loss: 10% loss in each direction (-t/-r), 2 MiB byte-identical', async () => {
    const dir = downloadDir('loss');
    const result = await gtlsclient(server, ['/f2.bin', '/hello'], ['-q', '-t', '0.1', '-r', '0.1', '--download', dir]);
    assert.equal(result.code, 0, tail(result.output));
    assertDownloaded(dir, ['f2.bin'], result.output);
  });
});
