/**
 * HTTP/3 interop with quic-go 0.29 (an independent Go QUIC + TLS 1.3 + HTTP/3 stack) through a small client
 * compiled from test/interop/go/h3client: bodies checked by SHA-256, certificate verified against our certificate
 * as a trust anchor, 100 requests multiplexed over one connection.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { patternBytes, run } from '../support/server.js';
import { buildGoClient } from './h3-go.js';
import { startH3Server, type TestH3Server } from './h3-server.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const MiB = 1024 * 1024;

describe('quic-go http3 client → QuicEndpoint', () => {
  let root: string;
  let server: TestH3Server;
  let client: string;
  const files = new Map<string, Buffer>();

  before(async () => {
    client = buildGoClient();
    root = mkdtempSync(join(tmpdir(), 'httpsd-h3-go-'));
    for (const [name, size] of [['f2.bin', 2 * MiB], ['f3.bin', 3 * MiB], ['f5.bin', 5 * MiB]] as const) {
      const data = patternBytes(size, size);
      files.set(name, data);
      writeFileSync(join(root, name), data);
    }
    server = await startH3Server(root);
  }, { timeout: 900_000 });
  after(async () => {
    await server?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  const fetch = (args: string[]) => run(client, args, { timeoutMs: 120_000 });

  test('handshake and GET /hello over HTTP/3 with the certificate verified (-ca)', async () => {
    const result = await fetch(['-ca', makeCertificate().certFile, `https://localhost:${server.port}/hello`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.toString(), `status 200 HTTP/3.0 5 ${sha256(Buffer.from('hello'))}\n`);
    assert.ok(server.seen.some((request) => request.path === '/hello' && request.userAgent === 'quic-go HTTP/3'), JSON.stringify(server.seen));
  });

  test('transfer: 2, 3 and 5 MiB byte-identical (SHA-256) on one connection', async () => {
    const before = server.endpoint.stats.handshakes;
    const names = ['f2.bin', 'f3.bin', 'f5.bin'];
    const result = await fetch(['-insecure', ...names.map((name) => `https://127.0.0.1:${server.port}/${name}`)]);
    assert.equal(result.code, 0, result.stderr);
    const expected = names.map((name) => `status 200 HTTP/3.0 ${files.get(name)!.length} ${sha256(files.get(name)!)}\n`).join('');
    assert.equal(result.stdout.toString(), expected);
    assert.equal(server.endpoint.stats.handshakes - before, 1);
  });

  test('multiplexing: 100 requests, 20 in flight, one connection', async () => {
    const before = { ...server.endpoint.stats };
    const result = await fetch(['-insecure', '-repeat', '100', '-concurrency', '20', `https://127.0.0.1:${server.port}/hello`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout.toString(), /^done 100 500 /);
    assert.equal(server.endpoint.stats.handshakes - before.handshakes, 1);
    assert.equal(server.endpoint.stats.requests - before.requests, 100);
  });

  test('a certificate that does not chain to the given CA is refused by the client (verification is real)', async () => {
    const other = makeCertificate('other.test');
    const result = await fetch(['-ca', other.certFile, `https://localhost:${server.port}/hello`]);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /certificate|x509/i);
  });

  test('PMTU discovery: the download goes out in datagrams above 1200 bytes once a probe is acknowledged (loopback MTU 65536)', async () => {
    const lines: string[] = [];
    const traced = await startH3Server(root, { traceQuic: (line) => lines.push(line) });
    try {
      const result = await fetch(['-insecure', `https://127.0.0.1:${traced.port}/f3.bin`]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.toString(), `status 200 HTTP/3.0 ${3 * MiB} ${sha256(files.get('f3.bin')!)}\n`);
      const sent = lines.filter((line) => / send 1-RTT /.test(line)).map((line) => ({ size: Number(/ size=(\d+)/.exec(line)![1]), probe: line.includes(' pmtu-probe ') }));
      assert.ok(sent.some((packet) => packet.probe && packet.size === 1452), 'a 1452-byte probe was sent');
      const data = sent.filter((packet) => !packet.probe);
      const large = data.filter((packet) => packet.size > 1200).length;
      // 3 MiB is over 2,100 datagrams of 1452 bytes: all but the first round trips' worth must be large.
      assert.ok(large > 2000, `${large} of ${data.length} datagrams above 1200 bytes`);
      assert.ok(Math.max(...data.map((packet) => packet.size)) <= 1452);
    } finally {
      await traced.close();
    }
  });

  test('a handler that throws answers 500 without a stack, and the endpoint keeps serving', async () => {
    const other = await startH3Server(root, {}, (request) => {
      if (new URL(request.url).pathname === '/boom') throw new Error('secret stack detail');
      return new Response('still here');
    });
    try {
      const result = await fetch(['-insecure', `https://127.0.0.1:${other.port}/boom`, `https://127.0.0.1:${other.port}/ok`]);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.toString().split('\n');
      assert.equal(lines[0], `status 500 HTTP/3.0 22 ${sha256(Buffer.from('Internal Server Error\n'))}`);
      assert.equal(lines[1], `status 200 HTTP/3.0 10 ${sha256(Buffer.from('still here'))}`);
      assert.equal(other.errors.length, 1);
    } finally {
      await other.close();
    }
  });
});
