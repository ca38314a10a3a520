/**
 * serve({ compress }): what gets encoded, how the coding is negotiated, and the fields that go with it, over real
 * HTTP/1.1 and HTTP/2 clients (curl --compressed, node:https, node:http2) decoding with zlib.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import WebSocket from 'ws';
import { startServer, h1Request, h2Request, connectH2, run, type TestServer } from '../support/server.js';
import { FastResponse, NativeResponse } from '../../src/server/response.js';
import { compressResponses, resolveCompressOptions, ZSTD_SUPPORTED } from '../../src/server/compress/index.js';
import type { FetchHandler, ServeInfo } from '../../src/server/types.js';

/** Compressible text of `size` bytes (repetitive, like HTML or JSON). */
function text(size: number): string {
  const line = 'the quick brown fox jumps over the lazy dog 0123456789\n';
  return line.repeat(Math.ceil(size / line.length)).slice(0, size);
}

const PAGE = text(8000);
const gzipped = zlib.gzipSync(Buffer.from(PAGE));

const routes: Record<string, (request: Request) => Response> = {
  '/text': () => new FastResponse(PAGE),
  '/html': () => new FastResponse(PAGE, { headers: { 'content-type': 'text/html; charset=utf-8', etag: '"v1"', 'accept-ranges': 'bytes' } }),
  '/json': () => Response.json({ items: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}` })) }),
  // undici's Response (the global Response is FastResponse while httpsd serves).
  '/global-text': () => new NativeResponse(PAGE, { headers: { 'content-type': 'text/css' } }),
  '/small': () => new FastResponse('tiny'),
  '/png': () => new FastResponse(Buffer.alloc(8000, 7), { headers: { 'content-type': 'image/png' } }),
  '/untyped': () => new FastResponse(Buffer.alloc(8000, 7)),
  '/encoded': () => new FastResponse(gzipped, { headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' } }),
  '/no-transform': () => new FastResponse(PAGE, { headers: { 'cache-control': 'public, no-transform' } }),
  '/range': () =>
    new FastResponse(PAGE.slice(0, 5000), { status: 206, headers: { 'content-type': 'text/plain', 'content-range': `bytes 0-4999/${PAGE.length}` } }),
  '/no-content': () => new FastResponse(null, { status: 204 }),
  '/not-modified': () => new FastResponse(null, { status: 304, headers: { etag: '"v1"' } }),
  '/vary': () => new FastResponse(PAGE, { headers: { vary: 'Origin' } }),
  '/negotiated': () => new FastResponse(PAGE, { headers: { vary: 'Accept-Encoding', 'content-type': 'text/plain' } }),
  '/vary-star': () => new FastResponse(PAGE, { headers: { vary: '*' } }),
  '/error-page': () => new FastResponse(PAGE, { status: 404, headers: { 'content-type': 'text/html' } }),
  '/head-declared': () => new FastResponse(null, { headers: { 'content-type': 'text/html', 'content-length': '8000' } }),
  '/trailers': () => new FastResponse(PAGE, { headers: { 'content-type': 'text/plain' }, trailers: { 'x-checksum': 'abc' } }),
  '/stream': () =>
    new Response(
      new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(PAGE.slice(i * 800, (i + 1) * 800)));
          controller.close();
        },
      }),
      { headers: { 'content-type': 'application/javascript' } },
    ),
};

const app: FetchHandler = (request) => {
  const route = routes[new URL(request.url).pathname];
  return route ? route(request) : new FastResponse('not found', { status: 404 });
};

function decode(encoding: string | undefined, body: Buffer): Buffer {
  if (encoding === 'br') return zlib.brotliDecompressSync(body);
  if (encoding === 'gzip') return zlib.gunzipSync(body);
  if (encoding === 'zstd') return (zlib as unknown as { zstdDecompressSync(input: Buffer): Buffer }).zstdDecompressSync(body);
  if (encoding === undefined) return body;
  throw new Error(`unexpected content-encoding ${encoding}`);
}

describe('compression', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(app, { compress: true, http3: false });
  });
  after(() => server.close());

  const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => h1Request(server.origin, { path, method, headers });

  test('curl --compressed over HTTP/1.1 and HTTP/2 gets brotli and decodes the exact body', async () => {
    for (const version of ['--http1.1', '--http2']) {
      const result = await run('curl', ['-sSk', version, '--compressed', '-D', '-', `${server.origin}/html`]);
      assert.equal(result.code, 0, result.stderr);
      const output = result.stdout.toString();
      const split = output.indexOf('\r\n\r\n');
      const head = output.slice(0, split);
      assert.equal(output.slice(split + 4), PAGE, version);
      assert.match(head, /^content-encoding: br$/im, version);
      assert.match(head, /^vary: accept-encoding$/im, version);
    }
  });

  test('node:http2 with gzip: encoded body, weak ETag, no accept-ranges, exact content-length of the encoded bytes', async () => {
    const session = connectH2(server.origin);
    try {
      const result = await h2Request(session, { ':path': '/html', 'accept-encoding': 'gzip' });
      assert.equal(result.headers[':status'], 200);
      assert.equal(result.headers['content-encoding'], 'gzip');
      assert.equal(result.headers['vary'], 'accept-encoding');
      assert.equal(result.headers['etag'], 'W/"v1"');
      assert.equal(result.headers['accept-ranges'], undefined);
      assert.equal(result.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(Number(result.headers['content-length']), result.body.byteLength);
      assert.ok(result.body.byteLength < PAGE.length / 4);
      assert.equal(zlib.gunzipSync(result.body).toString(), PAGE);
    } finally {
      session.close();
    }
  });

  test('every body kind is encoded: FastResponse string, undici Response string and JSON, streams, error pages', async () => {
    for (const path of ['/text', '/global-text', '/json', '/stream', '/error-page']) {
      const identity = await get(path);
      const encoded = await get(path, { 'accept-encoding': 'br' });
      assert.equal(encoded.headers['content-encoding'], 'br', path);
      assert.equal(encoded.headers['vary'], 'accept-encoding', path);
      assert.equal(identity.headers['content-encoding'], undefined, path);
      assert.equal(identity.headers['vary'], 'accept-encoding', path);
      assert.deepEqual(decode('br', encoded.body), identity.body, path);
      assert.ok(encoded.body.byteLength < identity.body.byteLength, path);
    }
    // A stream of unknown length stays without content-length; its encoding is framed by the transport.
    const streamed = await get('/stream', { 'accept-encoding': 'gzip' });
    assert.equal(streamed.headers['content-length'], undefined);
    assert.equal(streamed.headers['transfer-encoding'], 'chunked');
  });

  test('Accept-Encoding q-values (RFC 9110 §12.5.3)', async () => {
    const cases: [string | undefined, string | undefined][] = [
      [undefined, undefined],
      ['', undefined],
      ['gzip', 'gzip'],
      ['br', 'br'],
      ['gzip, br', 'br'], // a tie goes to the server's preference
      ['gzip;q=1, br;q=0.5', 'gzip'],
      ['br;q=0.8, gzip;q=0.9', 'gzip'],
      ['br;q=0, gzip', 'gzip'],
      ['br;q=0, gzip;q=0', undefined],
      ['*', 'br'],
      ['*;q=0.5, br;q=0', 'gzip'],
      ['*;q=0', undefined],
      ['x-gzip', 'gzip'],
      ['identity', undefined],
      ['identity;q=1, gzip;q=0.5', undefined],
      ['deflate', undefined],
      ['GZIP;Q=0.5', 'gzip'],
      ['gzip;q=2', undefined], // an invalid qvalue is no acceptance
    ];
    // zstd where this Node's zlib has it (Node 22.15 / 23.8 on), else it is simply not offered.
    cases.push(['zstd', ZSTD_SUPPORTED ? 'zstd' : undefined], ['zstd, gzip;q=0.5', ZSTD_SUPPORTED ? 'zstd' : 'gzip'], ['gzip, zstd', ZSTD_SUPPORTED ? 'zstd' : 'gzip']);
    for (const [accept, expected] of cases) {
      const result = await get('/text', accept === undefined ? {} : { 'accept-encoding': accept });
      assert.equal(result.headers['content-encoding'], expected, `accept-encoding: ${accept}`);
      assert.equal(result.headers['vary'], 'accept-encoding', `accept-encoding: ${accept}`);
      assert.equal(decode(expected, result.body).toString(), PAGE, `accept-encoding: ${accept}`);
    }
  });

  test('left as they are: small bodies, incompressible and untyped content, ranges, encoded bodies, no-transform', async () => {
    const small = await get('/small', { 'accept-encoding': 'br' });
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(small.headers['vary'], 'accept-encoding', 'a compressible type varies even when this body is too small');
    assert.equal(small.body.toString(), 'tiny');
    for (const path of ['/png', '/untyped', '/no-transform', '/range']) {
      const result = await get(path, { 'accept-encoding': 'br, gzip' });
      assert.equal(result.headers['content-encoding'], undefined, path);
      assert.equal(result.headers['vary'], undefined, path);
    }
    const range = await get('/range', { 'accept-encoding': 'gzip' });
    assert.equal(range.status, 206);
    assert.equal(range.body.toString(), PAGE.slice(0, 5000));
    const encoded = await get('/encoded', { 'accept-encoding': 'gzip, br' });
    assert.equal(encoded.headers['content-encoding'], 'gzip');
    assert.equal(zlib.gunzipSync(encoded.body).toString(), PAGE, 'an encoded body is never encoded twice');
    const noContent = await get('/no-content', { 'accept-encoding': 'gzip' });
    assert.equal(noContent.status, 204);
    assert.equal(noContent.headers['content-encoding'], undefined);
  });

  test('Vary: merged with the application\'s; a handler that negotiated the coding itself is left alone', async () => {
    const merged = await get('/vary', { 'accept-encoding': 'gzip' });
    assert.equal(merged.headers['vary'], 'Origin, accept-encoding');
    assert.equal(merged.headers['content-encoding'], 'gzip');
    for (const path of ['/negotiated', '/vary-star']) {
      const result = await get(path, { 'accept-encoding': 'gzip' });
      assert.equal(result.headers['content-encoding'], undefined, path);
      assert.equal(result.body.toString(), PAGE, path);
    }
  });

  test('HEAD carries the fields the GET would (content-encoding, vary), no content-length and no body', async () => {
    for (const path of ['/html', '/stream', '/head-declared']) {
      const result = await get(path, { 'accept-encoding': 'br' }, 'HEAD');
      assert.equal(result.status, 200, path);
      assert.equal(result.headers['content-encoding'], 'br', path);
      assert.equal(result.headers['vary'], 'accept-encoding', path);
      assert.equal(result.headers['content-length'], undefined, path);
      assert.equal(result.body.byteLength, 0, path);
    }
    const session = connectH2(server.origin);
    try {
      const result = await h2Request(session, { ':method': 'HEAD', ':path': '/html', 'accept-encoding': 'gzip' });
      assert.equal(result.headers['content-encoding'], 'gzip');
      assert.equal(result.headers['etag'], 'W/"v1"');
      assert.equal(result.headers['content-length'], undefined);
      assert.equal(result.body.byteLength, 0);
      const identity = await h2Request(session, { ':method': 'HEAD', ':path': '/html' });
      assert.equal(identity.headers['content-encoding'], undefined);
      assert.equal(identity.headers['content-length'], String(PAGE.length));
      assert.equal(identity.headers['vary'], 'accept-encoding');
    } finally {
      session.close();
    }
  });

  test('a 304 carries Vary and the weak tag an encoded 200 would have', async () => {
    const result = await get('/not-modified', { 'accept-encoding': 'gzip' });
    assert.equal(result.status, 304);
    assert.equal(result.headers['etag'], 'W/"v1"');
    assert.equal(result.headers['vary'], 'accept-encoding');
    const identity = await get('/not-modified');
    assert.equal(identity.headers['etag'], '"v1"');
  });

  test('trailers of a FastResponse survive its encoding (HTTP/2)', async () => {
    const session = connectH2(server.origin);
    try {
      const result = await h2Request(session, { ':path': '/trailers', 'accept-encoding': 'br' });
      assert.equal(result.headers['content-encoding'], 'br');
      assert.equal(zlib.brotliDecompressSync(result.body).toString(), PAGE);
      assert.equal(result.trailers?.['x-checksum'], 'abc');
    } finally {
      session.close();
    }
  });

  test('no handler errors were reported', () => {
    assert.deepEqual(server.errors, []);
  });
});

describe('compression and WebSockets', () => {
  test('a handshake answered by info.upgradeWebSocket() goes through untouched', async () => {
    const server = await startServer(
      (request, info) => (new URL(request.url).pathname === '/ws' ? info.upgradeWebSocket!(request) : new FastResponse(PAGE)),
      { compress: true, http3: false, websocket: { message: (ws, message) => void ws.send(`echo ${String(message)}`) } },
    );
    try {
      const ws = new WebSocket(`wss://127.0.0.1:${server.port}/ws`, { rejectUnauthorized: false, headers: { 'accept-encoding': 'gzip, br' } });
      const reply = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hi'));
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
      });
      assert.equal(reply, 'echo hi');
      ws.close();
      assert.deepEqual(server.errors, []);
    } finally {
      await server.close();
    }
  });
});

describe('compression options', () => {
  test('encodings, minSize, types and levels', async () => {
    const server = await startServer(app, {
      compress: { encodings: ['gzip', 'zstd'], minSize: 20_000, types: ['text/*'], level: { gzip: 1 } },
      http3: false,
    });
    try {
      const page = await h1Request(server.origin, { path: '/text', headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(page.headers['content-encoding'], undefined, 'below minSize');
      const json = await h1Request(server.origin, { path: '/json', headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(json.headers['content-encoding'], undefined, 'not one of the types');
      assert.equal(json.headers['vary'], undefined);
      const stream = await h1Request(server.origin, { path: '/stream', headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(stream.headers['content-encoding'], undefined, 'application/javascript is not text/*');
    } finally {
      await server.close();
    }
    const gzipOnly = await startServer(app, { compress: { encodings: ['gzip'], minSize: 0 }, http3: false });
    try {
      const small = await h1Request(gzipOnly.origin, { path: '/small', headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(small.headers['content-encoding'], 'gzip');
      assert.equal(zlib.gunzipSync(small.body).toString(), 'tiny');
    } finally {
      await gzipOnly.close();
    }
  });

  test('invalid options are refused when the server is created; zstd on a Node without it is left out', () => {
    assert.throws(() => resolveCompressOptions({ encodings: ['deflate' as 'gzip'] }), /unknown coding "deflate"/);
    assert.throws(() => resolveCompressOptions({ minSize: -1 }), /minSize/);
    assert.throws(() => resolveCompressOptions({ level: { br: 12 } }), /level\.br/);
    assert.throws(() => resolveCompressOptions({ types: 'text/*' as unknown as string[] }), /types/);
    assert.deepEqual(resolveCompressOptions({ encodings: ['zstd', 'gzip'] }).encodings, ZSTD_SUPPORTED ? ['zstd', 'gzip'] : ['gzip']);
    assert.deepEqual(resolveCompressOptions(true).encodings, ZSTD_SUPPORTED ? ['br', 'zstd', 'gzip'] : ['br', 'gzip']);
  });

  test('a response it does not apply to is returned as the very object, its FastResponse fields untouched', async () => {
    const png = new FastResponse(Buffer.alloc(4000), { headers: { 'content-type': 'image/png' } });
    const handler = compressResponses(() => png, true);
    const request = new Request('https://localhost/', { headers: { 'accept-encoding': 'gzip' } });
    const result = await handler(request, {} as ServeInfo);
    assert.equal(result, png);
    assert.equal(png._headers, undefined, 'no Headers object was built');
    assert.equal(png._bodyUsed, false);
  });
});
