/**
 * HTTP/3 serves the same TLS material as the TCP listener: the certificate chosen by SNI (exact names and the
 * default), the new certificate after server.reload() (SIGHUP) for new QUIC connections, --tls-keylog lines for
 * QUIC handshakes, no h3 beside a listener that verifies client certificates (QUIC's TLS engine cannot), and
 * --trace-frames lines for HTTP/3 frames. The certificate a QUIC handshake got is read with the project's own QUIC
 * client (./handshake-client.ts); key log and frame traces come from ngtcp2's gtlsclient, an independent peer.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate, makeClientCertificate } from '../../support/certs.js';
import { run, startServer } from '../../support/server.js';
import { quicHandshake } from './handshake-client.js';
import type { ServeOptions } from '../../../src/server/types.js';

const GTLSCLIENT = '/usr/bin/gtlsclient';
const hello = () => new Response('hello');
const work = mkdtempSync(join(tmpdir(), 'httpsd-h3-tls-'));
after(() => rmSync(work, { recursive: true, force: true }));

function commonName(leaf: { subject: string }): string {
  return /CN=([^\n,]+)/.exec(leaf.subject)?.[1] ?? leaf.subject;
}

async function gtlsclient(port: number, path: string): Promise<string> {
  assert.ok(existsSync(GTLSCLIENT), `ngtcp2's gtlsclient is not installed (${GTLSCLIENT}); install it with: apt-get install -y ngtcp2-client`);
  const download = mkdtempSync(join(work, 'dl-'));
  const result = await run(GTLSCLIENT, ['--exit-on-all-streams-close', '--sni=localhost', '--timeout=30s', `--download=${download}`, '127.0.0.1', String(port), `https://localhost:${port}${path}`], { timeoutMs: 120_000 });
  const name = path.split('/').pop()!;
  assert.ok(existsSync(join(download, name)), `nothing downloaded:\n${result.stderr.slice(-2000)}`);
  return readFileSync(join(download, name), 'utf8');
}

/** A server with `options` answers gtlsclient's GET /hello over HTTP/3, then closes. */
async function getHelloFrom(options: Partial<ServeOptions>): Promise<void> {
  const server = await startServer(hello, options);
  try {
    assert.equal(await gtlsclient(server.port, '/hello'), 'hello');
  } finally {
    await server.close();
  }
}

describe('HTTP/3 certificates follow the TLS provider', () => {
  test('each SNI name gets its own certificate over QUIC; other names and no SNI get the default', async () => {
    const a = makeCertificate('a.test');
    const b = makeCertificate('b.test');
    const server = await startServer(hello, { tls: { cert: makeCertificate().cert, key: makeCertificate().key, sni: { 'a.test': { cert: a.cert, key: a.key }, '*.b.test': { cert: b.cert, key: b.key } } } });
    try {
      assert.equal(server.server.http3Port, server.port);
      assert.equal(commonName((await quicHandshake(server.port, 'a.test')).leaf), 'a.test');
      assert.equal(commonName((await quicHandshake(server.port, 'www.b.test')).leaf), 'b.test');
      assert.equal(commonName((await quicHandshake(server.port, 'A.TEST')).leaf), 'a.test', 'names compare case-insensitively');
      assert.equal(commonName((await quicHandshake(server.port, 'elsewhere.test')).leaf), 'localhost');
      assert.equal(commonName((await quicHandshake(server.port, undefined)).leaf), 'localhost');
    } finally {
      await server.close();
    }
  });

  test('reload() swaps the certificate for new QUIC connections', async () => {
    const dir = mkdtempSync(join(work, 'reload-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    const first = makeCertificate('first.test');
    const second = makeCertificate('second.test');
    copyFileSync(first.certFile, certFile);
    copyFileSync(first.keyFile, keyFile);
    const server = await startServer(hello, { tls: { cert: certFile, key: keyFile } });
    try {
      assert.equal(commonName((await quicHandshake(server.port, 'first.test')).leaf), 'first.test');
      copyFileSync(second.certFile, certFile);
      copyFileSync(second.keyFile, keyFile);
      assert.equal(commonName((await quicHandshake(server.port, 'first.test')).leaf), 'first.test', 'nothing changes before the reload');
      await server.server.reload();
      assert.equal(commonName((await quicHandshake(server.port, 'first.test')).leaf), 'second.test');
    } finally {
      await server.close();
    }
  });

  test('no HTTP/3 beside a listener that verifies client certificates (QUIC would skip the check)', async () => {
    const { ca } = makeClientCertificate();
    const server = await startServer(hello, { tls: { cert: makeCertificate().cert, key: makeCertificate().key, clientCa: ca.cert, clientCert: 'require' } });
    try {
      assert.equal(server.server.http3Port, undefined);
    } finally {
      await server.close();
    }
  });
});

describe('HTTP/3 observability', () => {
  test('--tls-keylog: a QUIC handshake appends the TLS 1.3 secrets of its client random', async () => {
    const keylogFile = join(work, 'keys.log');
    await getHelloFrom({ tls: { cert: makeCertificate().cert, key: makeCertificate().key, keylogFile } });
    const lines = readFileSync(keylogFile, 'utf8').trim().split('\n').map((line) => line.split(' '));
    const labels = ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0'];
    for (const label of labels) assert.ok(lines.some(([name]) => name === label), `${label} missing:\n${lines.join('\n')}`);
    const randoms = new Set(lines.filter(([name]) => labels.includes(name!)).map(([, random]) => random));
    assert.equal(randoms.size, 1, 'one handshake, one client random');
    assert.match([...randoms][0]!, /^[0-9a-f]{64}$/);
    for (const [, , secret] of lines) assert.match(secret!, /^[0-9a-f]{64}$/);
  });

  test('--trace-frames: HTTP/3 frames in and out, with the peer address', async () => {
    const trace: string[] = [];
    await getHelloFrom({ traceFrames: (line) => trace.push(line) });
    assert.ok(trace.some((line) => /^\[127\.0\.0\.1:\d+ h3\] recv HEADERS frame <length=\d+, stream_id=0> \| :method: GET; .*:path: \/hello/.test(line)), trace.join('\n'));
    assert.ok(trace.some((line) => /send SETTINGS frame/.test(line)), trace.join('\n'));
    assert.ok(trace.some((line) => /send DATA frame <length=5, stream_id=0>/.test(line)), trace.join('\n'));
  });

  test('--trace-quic: one line per QUIC packet in and out, with its type, number, size and frames', async () => {
    const trace: string[] = [];
    await getHelloFrom({ traceQuic: (line) => trace.push(line) });
    const shown = trace.join('\n');
    assert.match(trace[0]!, /^\[127\.0\.0\.1:\d+\] recv Initial pn=0 size=\d+ \| .*CRYPTO offset=0 len=\d+/, shown);
    assert.ok(trace.some((line) => /send Initial pn=0 size=\d+ \| .*ACK ranges=0 /.test(line)), shown);
    assert.ok(trace.some((line) => /send Handshake pn=\d+ size=\d+ \| CRYPTO/.test(line)), shown);
    assert.ok(trace.some((line) => /send 1-RTT pn=\d+ size=\d+ \| .*HANDSHAKE_DONE/.test(line)), shown);
    assert.ok(trace.some((line) => /recv 1-RTT pn=\d+ size=\d+ \| .*STREAM streamId=0 offset=0 len=\d+ fin/.test(line)), shown);
    assert.ok(trace.some((line) => /send 1-RTT .*STREAM streamId=0 offset=0 len=\d+ fin/.test(line)), shown);
    assert.ok(trace.some((line) => /CONNECTION_CLOSE/.test(line)), shown);
  });
});
