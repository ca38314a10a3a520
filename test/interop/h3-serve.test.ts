/**
 * serve() with TLS answers HTTP/3 on its TLS port (UDP) through the exchange core: the README's hello app to
 * quic-go's client, streamed bodies, request bodies and the access log to ngtcp2's gtlsclient, the same handler
 * over h1 and h2 advertising Alt-Svc, and `http3: false` leaving the UDP port unbound.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { patternBytes, run, startServer, type TestServer } from '../support/server.js';
import { buildGoClient } from './h3-go.js';
import hello from '../../examples/hello.js';
import type { FetchHandler } from '../../src/server/types.js';
import { parseServerOptions } from '../../src/cli/server-options.js';
import { describeListeners } from '../../src/cli/banner.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
const GTLSCLIENT = '/usr/bin/gtlsclient';
const RUN_TIMEOUT = 120_000;
const BIG = patternBytes(2 * 1024 * 1024, 7);

/** A UDP bind on the port tells whether the server holds it (the endpoint binds without SO_REUSEADDR). */
function udpPortFree(port: number): Promise<boolean> {
  const socket = createSocket({ type: 'udp4', reuseAddr: false });
  return new Promise((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
  });
}

function h1Get(port: number, path: string): Promise<{ status: number; altSvc: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest({ host: '127.0.0.1', port, path, rejectUnauthorized: false, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, altSvc: response.headers['alt-svc'] as string | undefined, body: Buffer.concat(chunks).toString() }));
    });
    request.on('error', reject);
    request.end();
  });
}

function h2Get(port: number, path: string): Promise<{ status: number; altSvc: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on('error', reject);
    const stream = session.request({ ':path': path });
    const chunks: Buffer[] = [];
    let status = 0;
    let altSvc: string | undefined;
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      altSvc = headers['alt-svc'] as string | undefined;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      session.close();
      resolve({ status, altSvc, body: Buffer.concat(chunks).toString() });
    });
    stream.on('error', reject);
  });
}

/** /hello is the README's hello app; /big streams 2 MiB in 64 KiB chunks; /echo answers the request body's hash. */
const handler: FetchHandler = async (request, info) => {
  const path = new URL(request.url).pathname;
  if (path === '/big') {
    let offset = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        pull(controller) {
          if (offset >= BIG.length) return controller.close();
          controller.enqueue(BIG.subarray(offset, offset + 65536));
          offset += 65536;
        },
      }),
      { headers: { 'content-type': 'application/octet-stream' } },
    );
  }
  if (path === '/echo') {
    const body = new Uint8Array(await request.arrayBuffer());
    return new Response(`${body.byteLength} ${sha256(body)} ${info.protocol}\n`);
  }
  return hello.fetch();
};

describe('serve() over HTTP/3', () => {
  let server: TestServer;
  let client: string;
  let work: string;
  const log: string[] = [];

  before(async () => {
    client = buildGoClient();
    work = mkdtempSync(join(tmpdir(), 'httpsd-h3-serve-'));
    server = await startServer(handler, { accessLog: (line) => log.push(line) });
  }, { timeout: 900_000 });
  after(async () => {
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('quic-go: the hello app over HTTP/3, certificate verified; access log says HTTP/3.0', async () => {
    const result = await run(client, ['-ca', makeCertificate().certFile, `https://localhost:${server.port}/hello`], { timeoutMs: RUN_TIMEOUT });
    assert.equal(result.code, 0, result.stderr.toString());
    assert.equal(result.stdout.toString(), `status 200 HTTP/3.0 5 ${sha256(Buffer.from('hello'))}\n`);
    assert.ok(log.some((line) => line.includes('"GET /hello HTTP/3.0" 200 5')), log.join('\n'));
  });

  test('quic-go: a streamed 2 MiB body, byte-identical', async () => {
    const result = await run(client, ['-insecure', `https://127.0.0.1:${server.port}/big`], { timeoutMs: RUN_TIMEOUT });
    assert.equal(result.code, 0, result.stderr.toString());
    assert.equal(result.stdout.toString(), `status 200 HTTP/3.0 ${BIG.length} ${sha256(BIG)}\n`);
  });

  test('gtlsclient: GET /hello and a 1 MiB upload read by the handler', async () => {
    assert.ok(existsSync(GTLSCLIENT), `ngtcp2's gtlsclient is not installed (${GTLSCLIENT}); install it with: apt-get install -y ngtcp2-client`);
    const upload = patternBytes(1024 * 1024, 9);
    const dataFile = join(work, 'upload.bin');
    writeFileSync(dataFile, upload);
    const download = mkdtempSync(join(work, 'dl-'));
    const base = ['--exit-on-all-streams-close', '--sni=localhost', '--timeout=30s', `--download=${download}`, '127.0.0.1', String(server.port)];
    const got = await run(GTLSCLIENT, [...base, `https://localhost:${server.port}/hello`], { timeoutMs: RUN_TIMEOUT });
    assert.equal(readFileSync(join(download, 'hello'), 'utf8'), 'hello', got.stderr.toString().slice(-2000));
    const posted = await run(GTLSCLIENT, [`--data=${dataFile}`, ...base, `https://localhost:${server.port}/echo`], { timeoutMs: RUN_TIMEOUT });
    assert.equal(readFileSync(join(download, 'echo'), 'utf8'), `${upload.length} ${sha256(upload)} h3\n`, posted.stderr.toString().slice(-2000));
  });

  test('the same handler over h1 and h2 advertises h3 on the TLS port (Alt-Svc)', async () => {
    const expected = `h3=":${server.port}"; ma=86400`;
    const h1 = await h1Get(server.port, '/hello');
    assert.deepEqual(h1, { status: 200, altSvc: expected, body: 'hello' });
    const h2 = await h2Get(server.port, '/hello');
    assert.deepEqual(h2, { status: 200, altSvc: expected, body: 'hello' });
    assert.equal(await udpPortFree(server.port), false);
  });

  test('close() ends every HTTP/3 connection and frees the UDP port; the counters return to zero', async () => {
    const other = await startServer(handler);
    const result = await run(client, ['-insecure', `https://127.0.0.1:${other.port}/hello`], { timeoutMs: RUN_TIMEOUT });
    assert.equal(result.code, 0, result.stderr.toString());
    await other.close();
    const stats = other.server.stats();
    assert.equal(stats.h3Connections, 0);
    assert.equal(stats.inFlightRequests, 0);
    assert.equal(await udpPortFree(other.port), true);
  });
});

describe('serve({ http3: false })', () => {
  test('binds no UDP socket and sends no Alt-Svc', async () => {
    const server = await startServer(handler, { http3: false });
    try {
      assert.equal(await udpPortFree(server.port), true);
      const h1 = await h1Get(server.port, '/hello');
      assert.deepEqual(h1, { status: 200, altSvc: undefined, body: 'hello' });
    } finally {
      await server.close();
    }
  });
});

describe('httpsd --no-http3 and the banner', () => {
  test('HTTP/3 is on by default, with --workers 2 too (relayed by the supervisor), off with --no-http3', () => {
    assert.equal(parseServerOptions({}).http3, 'on');
    assert.equal(parseServerOptions({ workers: '2' }).http3, 'on');
    assert.equal(parseServerOptions({ 'no-http3': true }).http3, 'off');
  });

  test('the banner says HTTP/3 is on, with its UDP port, or why it is off', async () => {
    const server = await startServer(handler);
    try {
      const on = describeListeners(server.server, parseServerOptions({ host: '127.0.0.1' }), undefined);
      assert.ok(on.includes(`  HTTP/3 on (QUIC, UDP port ${server.port}; advertised with Alt-Svc; --no-http3 turns it off)`), on.join('\n'));
      const off = describeListeners({ urls: server.server.urls }, parseServerOptions({ host: '127.0.0.1', 'no-http3': true }), undefined);
      assert.ok(off.includes('  HTTP/3 off (--no-http3)'), off.join('\n'));
    } finally {
      await server.close();
    }
  });
});
