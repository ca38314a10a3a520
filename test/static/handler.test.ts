/**
 * The static handler called directly with web-standard Requests: paths, listings, content types, validators,
 * conditional requests, ranges and compression. End-to-end tests over real TLS live in e2e.test.ts.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { join } from 'node:path';
import { serveStatic, StaticConfigError } from '../../src/static/index.js';
import { PATIENCE_MS } from '../support/async.js';
import { UsageError } from '../../src/common/errors.js';
import type { StaticOptions } from '../../src/static/index.js';
import { decodePathSegments } from '../../src/static/paths.js';
import { ZSTD_AVAILABLE } from '../../src/static/bodies.js';
import { MAX_LISTING_ENTRIES } from '../../src/static/listing.js';
import { WHOLE_FILE_CACHE_SIZE } from '../../src/static/file-response.js';
import { createFixture, serveInfo, SECRET } from './fixture.js';
import type { Fixture } from './fixture.js';

let fixture: Fixture;
before(() => {
  fixture = createFixture();
});
after(() => fixture.cleanup());

async function get(path: string, headers: Record<string, string> = {}, options: StaticOptions = {}, method = 'GET') {
  const handler = serveStatic(fixture.root, options);
  const response = await handler(new Request(`https://localhost${path}`, { method, headers }), serveInfo());
  const body = Buffer.from(await response.arrayBuffer());
  return { response, body, text: body.toString('utf8'), status: response.status, headers: response.headers };
}

describe('paths and traversal', () => {
  test('decodePathSegments decodes once and refuses separators, NUL and dot segments', () => {
    assert.deepEqual(decodePathSegments('/a/b%20c/', false), { ok: true, segments: ['a', 'b c'], trailingSlash: true });
    assert.deepEqual(decodePathSegments('/%252e%252e/x', false), { ok: true, segments: ['%2e%2e', 'x'], trailingSlash: false });
    for (const raw of ['/../x', '/%2e%2e/x', '/a/%2E%2E/%2e%2e/x', '/..%2fx', '/a%2f..%2f..%2fx', '/..%5cx', '/a%5c..%5c..', '/a%00.txt', '/./x', '/%2e/x']) {
      assert.deepEqual(decodePathSegments(raw, true), { ok: false, status: 404 }, raw);
    }
    for (const raw of ['/%zz', '/%', '/a%2', '/%c0%ae%c0%ae/x', '/%ff']) {
      assert.deepEqual(decodePathSegments(raw, true), { ok: false, status: 400 }, raw);
    }
    assert.deepEqual(decodePathSegments('/.env', false), { ok: false, status: 404 });
    assert.deepEqual(decodePathSegments('/.env', true), { ok: true, segments: ['.env'], trailingSlash: false });
  });

  test('traversal attempts through the handler never reach outside the root', async () => {
    const attempts = [
      '/../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/..%2f..%2fsecret.txt',
      '/sub/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/sub/..%5c..%5csecret.txt',
      '/secret.txt%00.txt',
      '/hello.txt%00',
      '/link-out.txt',
      '/link-out-dir/secret.txt',
      '/link-out-dir/',
      '/%252e%252e/secret.txt',
      '/style.css.gz',
    ];
    for (const path of attempts) {
      const { status, text } = await get(path, { 'accept-encoding': 'gzip' });
      assert.ok(status === 404 || status === 400, `${path} gave ${status}`);
      assert.ok(!text.includes(SECRET), `${path} leaked`);
    }
  });

  test('precompressed siblings that are symlinks out of the root or onto dotfiles are never chosen', async () => {
    const gzip = await get('/style.css', { 'accept-encoding': 'gzip' });
    assert.equal(gzip.status, 200);
    // Falls back to on-the-fly gzip of the real file.
    assert.equal(gzip.headers.get('content-encoding'), 'gzip');
    assert.equal(gunzipSync(gzip.body).toString(), 'body{}'.repeat(400));
    const br = await get('/style.css', { 'accept-encoding': 'br' });
    assert.equal(br.headers.get('content-encoding'), 'br');
    assert.equal(brotliDecompressSync(br.body).toString(), 'body{}'.repeat(400));
    assert.equal((await get('/style.css.br', {}, { dotfiles: false })).status, 404);
  });

  test('symlinks inside the root are followed, dotfiles are hidden unless enabled', async () => {
    assert.equal((await get('/link-in.txt')).text, 'hello\n');
    assert.equal((await get('/.secret')).status, 404);
    assert.equal((await get('/.git/config')).status, 404);
    assert.equal((await get('/link-to-dotfile.txt')).status, 404);
    assert.equal((await get('/.secret', {}, { dotfiles: true })).text, 'dotfile');
    assert.equal((await get('/.git/config', {}, { dotfiles: true })).text, 'dotdir');
  });

  test('malformed percent-encoding is 400', async () => {
    assert.equal((await get('/%zz')).status, 400);
    assert.equal((await get('/%c0%ae%c0%ae/secret.txt')).status, 400);
  });
});

describe('files, directories and listings', () => {
  test('GET a file: body, type, validators and security headers', async () => {
    const { status, text, headers } = await get('/hello.txt');
    assert.equal(status, 200);
    assert.equal(text, 'hello\n');
    assert.equal(headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(headers.get('content-length'), '6');
    assert.equal(headers.get('x-content-type-options'), 'nosniff');
    assert.equal(headers.get('accept-ranges'), 'bytes');
    assert.equal(headers.get('vary'), 'accept-encoding');
    assert.equal(headers.get('cache-control'), 'no-cache');
    assert.match(headers.get('etag')!, /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
    const mtime = statSync(join(fixture.root, 'hello.txt')).mtime;
    assert.equal(headers.get('last-modified'), new Date(Math.floor(mtime.getTime() / 1000) * 1000).toUTCString());
  });

  test('HEAD has the headers of GET and no body', async () => {
    const full = await get('/data.bin');
    const head = await get('/data.bin', {}, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers.get('content-length'), '200000');
    assert.equal(head.headers.get('etag'), full.headers.get('etag'));
    assert.deepEqual(full.body, fixture.binary);
  });

  test('content types come from mime-db, with charset for text', async () => {
    const cases: Record<string, string> = {
      '/app.js': 'text/javascript; charset=utf-8',
      '/data.json': 'application/json; charset=utf-8',
      '/image.png': 'image/png',
      '/module.wasm': 'application/wasm',
      '/index.html': 'text/html; charset=utf-8',
      '/style.css': 'text/css; charset=utf-8',
      '/noext': 'application/octet-stream',
      '/data.bin': 'application/octet-stream',
    };
    for (const [path, type] of Object.entries(cases)) assert.equal((await get(path)).headers.get('content-type'), type, path);
  });

  test('empty file', async () => {
    const { status, body, headers } = await get('/empty.txt');
    assert.equal(status, 200);
    assert.equal(body.length, 0);
    assert.equal(headers.get('content-length'), '0');
  });

  test('only GET, HEAD and OPTIONS', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const { status, headers } = await get('/hello.txt', {}, {}, method);
      assert.equal(status, 405);
      assert.equal(headers.get('allow'), 'GET, HEAD, OPTIONS');
    }
    const options = await get('/hello.txt', {}, {}, 'OPTIONS');
    assert.equal(options.status, 204);
    assert.equal(options.headers.get('allow'), 'GET, HEAD, OPTIONS');
  });

  test('index.html and trailing-slash redirects that keep the query', async () => {
    assert.equal((await get('/')).text, '<!doctype html><title>home</title>');
    const redirect = await get('/sub?sort=size&x=%20');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/sub/?sort=size&x=%20');
    const spaced = await get('/with%20space');
    assert.equal(spaced.headers.get('location'), '/with%20space/');
    // `//evil.com` must not become a protocol-relative redirect to another host.
    const evil = await get('//evil.com');
    assert.equal(evil.status, 301);
    assert.equal(evil.headers.get('location'), '/evil.com/');
    assert.equal((await get('/hello.txt/')).status, 404);
    assert.equal((await get('/missing')).status, 404);
  });

  test('HTML listing escapes names, hides dotfiles, sorts', async () => {
    const { status, text, headers } = await get('/sub/');
    assert.equal(status, 200);
    assert.equal(headers.get('content-type'), 'text/html; charset=utf-8');
    assert.match(headers.get('content-security-policy')!, /default-src 'none'/);
    assert.ok(!text.includes('<script>'), 'raw markup from a file name');
    assert.ok(!text.includes('<img'), 'raw markup from a file name');
    assert.ok(text.includes('>&lt;script&gt;.txt</a>'));
    assert.ok(text.includes('href="./%3Cscript%3E.txt"'));
    assert.ok(text.includes('&lt;img src=x onerror=alert(1)&gt;.txt'));
    assert.ok(text.includes('a&amp;b &quot;q&quot;.txt'));
    assert.ok(!text.includes('.hidden'));
    assert.ok(text.includes('href="./nested/"'));
    assert.ok(text.includes('href="../"'));
    const bySizeDesc = (await get('/sub/?sort=size&order=desc')).text;
    assert.ok(bySizeDesc.indexOf('large.txt') < bySizeDesc.indexOf('small.txt'));
    const bySizeAsc = (await get('/sub/?sort=size&order=asc')).text;
    assert.ok(bySizeAsc.indexOf('large.txt') > bySizeAsc.indexOf('small.txt'));
    // Directories come first.
    assert.ok(bySizeAsc.indexOf('nested/') < bySizeAsc.indexOf('small.txt'));
  });

  test('JSON listing when application/json is preferred', async () => {
    const { headers, text } = await get('/sub/?sort=name', { accept: 'application/json' });
    assert.equal(headers.get('content-type'), 'application/json; charset=utf-8');
    const listing = JSON.parse(text) as { entries: Array<{ name: string; type: string; size: number; modified: string }> };
    const names = listing.entries.map((entry) => entry.name);
    assert.deepEqual(names, ['nested', '<img src=x onerror=alert(1)>.txt', '<script>.txt', 'a&b "q".txt', 'large.txt', 'small.txt']);
    assert.equal(listing.entries.find((entry) => entry.name === 'large.txt')!.size, 5000);
    assert.equal(listing.entries[0]!.type, 'directory');
    const browser = await get('/sub/', { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
    assert.equal(browser.headers.get('content-type'), 'text/html; charset=utf-8');
  });

  test('listings are bounded: a huge directory shows the first 10,000 entries and says so', async () => {
    const huge = join(fixture.root, 'huge');
    mkdirSync(huge);
    for (let i = 0; i < MAX_LISTING_ENTRIES + 25; i++) writeFileSync(join(huge, `f${i}`), '');
    try {
      const { text } = await get('/huge/', { accept: 'application/json' });
      const listing = JSON.parse(text) as { entries: unknown[]; truncated: boolean };
      assert.equal(listing.entries.length, MAX_LISTING_ENTRIES);
      assert.equal(listing.truncated, true);
      assert.match((await get('/huge/')).text, /Only the first 10000 entries are shown/);
    } finally {
      rmSync(huge, { recursive: true, force: true });
    }
  });

  test('listing can be disabled; links out of the root are not listed', async () => {
    assert.equal((await get('/sub/', {}, { listing: false })).status, 404);
    const rootListing = await get('/with%20space/');
    assert.equal(rootListing.status, 200);
    const handler = serveStatic(fixture.root, { index: [] });
    const response = await handler(new Request('https://localhost/', { headers: { accept: 'application/json' } }), serveInfo());
    const names = ((await response.json()) as { entries: Array<{ name: string }> }).entries.map((entry) => entry.name);
    assert.ok(names.includes('link-in.txt'));
    assert.ok(!names.includes('link-out.txt'));
    assert.ok(!names.includes('link-out-dir'));
    assert.ok(!names.includes('.secret'));
  });

  test('options: cache-control, cors, custom headers, spa', async () => {
    const options: StaticOptions = { cacheControl: 'public, max-age=60', cors: true, headers: { 'X-Frame-Options': 'DENY' } };
    const { headers } = await get('/hello.txt', {}, options);
    assert.equal(headers.get('cache-control'), 'public, max-age=60');
    assert.equal(headers.get('access-control-allow-origin'), '*');
    assert.equal(headers.get('x-frame-options'), 'DENY');
    const preflight = await get('/hello.txt', { origin: 'https://a.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' }, options, 'OPTIONS');
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-methods'), 'GET, HEAD, OPTIONS');
    assert.equal(preflight.headers.get('access-control-allow-headers'), 'range');
    const origin = await get('/hello.txt', {}, { cors: 'https://app.example' });
    assert.equal(origin.headers.get('access-control-allow-origin'), 'https://app.example');

    const spa = await get('/app/route/42', {}, { spa: true });
    assert.equal(spa.status, 200);
    assert.equal(spa.text, '<!doctype html><title>home</title>');
    assert.equal((await get('/missing.png', {}, { spa: true })).status, 404);
    assert.equal((await get('/missing.png', { accept: 'text/html' }, { spa: true })).status, 200);
    assert.equal((await get('/app/route', {}, { spa: false })).status, 404);
  });

  test('bad options are usage errors', () => {
    assert.throws(() => serveStatic(join(fixture.base, 'nope')), (error) => error instanceof StaticConfigError && error instanceof UsageError);
    assert.throws(() => serveStatic(join(fixture.base, 'nope')), { name: 'StaticConfigError', message: /does not exist/ });
    assert.throws(() => serveStatic(join(fixture.root, 'hello.txt')), { name: 'StaticConfigError', message: /not a directory/ });
    assert.throws(() => serveStatic(fixture.root, { headers: { 'bad name': 'x' } }), { name: 'StaticConfigError' });
    assert.throws(() => serveStatic(fixture.root, { cgi: { dir: join(fixture.base, 'none') } }), { name: 'StaticConfigError', message: /CGI directory/ });
  });
});

describe('conditional requests (RFC 9110 §13)', () => {
  let etag: string;
  let lastModified: string;
  const path = '/hello.txt';
  before(async () => {
    const { headers } = await get(path);
    etag = headers.get('etag')!;
    lastModified = headers.get('last-modified')!;
  });
  const later = () => new Date(Date.parse(lastModified) + 3600_000).toUTCString();
  const earlier = () => new Date(Date.parse(lastModified) - 3600_000).toUTCString();

  test('If-None-Match: match → 304 keeping validators, Cache-Control and Vary; mismatch → 200', async () => {
    const notModified = await get(path, { 'if-none-match': etag }, { cacheControl: 'max-age=5' });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body.length, 0);
    assert.equal(notModified.headers.get('etag'), etag);
    assert.equal(notModified.headers.get('last-modified'), lastModified);
    assert.equal(notModified.headers.get('cache-control'), 'max-age=5');
    assert.equal(notModified.headers.get('vary'), 'accept-encoding');
    assert.equal(notModified.headers.get('content-length'), null);
    assert.equal((await get(path, { 'if-none-match': '"other"' })).status, 200);
    assert.equal((await get(path, { 'if-none-match': `"x", ${etag}` })).status, 304);
    assert.equal((await get(path, { 'if-none-match': `W/${etag}` })).status, 304, 'weak comparison');
    assert.equal((await get(path, { 'if-none-match': '*' })).status, 304);
    assert.equal((await get(path, { 'if-none-match': etag }, {}, 'HEAD')).status, 304);
  });

  test('If-Modified-Since: not newer → 304, older → 200, invalid → ignored', async () => {
    assert.equal((await get(path, { 'if-modified-since': lastModified })).status, 304);
    assert.equal((await get(path, { 'if-modified-since': later() })).status, 304);
    assert.equal((await get(path, { 'if-modified-since': earlier() })).status, 200);
    assert.equal((await get(path, { 'if-modified-since': 'not a date' })).status, 200);
  });

  test('If-None-Match takes precedence over If-Modified-Since', async () => {
    assert.equal((await get(path, { 'if-none-match': '"other"', 'if-modified-since': later() })).status, 200);
    assert.equal((await get(path, { 'if-none-match': etag, 'if-modified-since': earlier() })).status, 304);
  });

  test('If-Match: strong comparison, mismatch → 412', async () => {
    assert.equal((await get(path, { 'if-match': etag })).status, 200);
    assert.equal((await get(path, { 'if-match': '*' })).status, 200);
    assert.equal((await get(path, { 'if-match': `"a", ${etag}` })).status, 200);
    const failed = await get(path, { 'if-match': '"other"' });
    assert.equal(failed.status, 412);
    assert.equal(failed.headers.get('etag'), etag);
    assert.equal((await get(path, { 'if-match': `W/${etag}` })).status, 412, 'weak tags never match strongly');
  });

  test('If-Unmodified-Since: modified after → 412; ignored when If-Match is present', async () => {
    assert.equal((await get(path, { 'if-unmodified-since': earlier() })).status, 412);
    assert.equal((await get(path, { 'if-unmodified-since': lastModified })).status, 200);
    assert.equal((await get(path, { 'if-unmodified-since': later() })).status, 200);
    assert.equal((await get(path, { 'if-match': etag, 'if-unmodified-since': earlier() })).status, 200);
    assert.equal((await get(path, { 'if-unmodified-since': 'garbage' })).status, 200);
  });

  test('412 preconditions are evaluated before 304 ones', async () => {
    assert.equal((await get(path, { 'if-match': '"other"', 'if-none-match': etag })).status, 412);
    assert.equal((await get(path, { 'if-unmodified-since': earlier(), 'if-modified-since': later() })).status, 412);
    assert.equal((await get(path, { 'if-match': etag, 'if-none-match': etag })).status, 304);
  });

  test('validators change when the file changes', async () => {
    const file = join(fixture.root, 'hello.txt');
    const before = (await get(path)).headers.get('etag');
    const future = new Date(Date.now() + 10_000);
    utimesSync(file, future, future);
    const afterChange = await get(path, { 'if-none-match': before! });
    assert.equal(afterChange.status, 200);
    assert.notEqual(afterChange.headers.get('etag'), before);
    etag = afterChange.headers.get('etag')!;
    lastModified = afterChange.headers.get('last-modified')!;
  });
});

describe('ranges (RFC 9110 §14)', () => {
  const size = 200_000;
  test('single ranges: first, middle, last, suffix, open-ended, clamped', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-0', 0, 0],
      ['bytes=0-99', 0, 99],
      ['bytes=1000-1999', 1000, 1999],
      ['bytes=-500', size - 500, size - 1],
      ['bytes=199000-', 199_000, size - 1],
      ['bytes=199990-300000', 199_990, size - 1],
      ['bytes=-300000', 0, size - 1],
      ['bytes=0-', 0, size - 1],
    ];
    for (const [range, start, end] of cases) {
      const { status, body, headers } = await get('/data.bin', { range });
      assert.equal(status, 206, range);
      assert.equal(headers.get('content-range'), `bytes ${start}-${end}/${size}`, range);
      assert.equal(headers.get('content-length'), String(end - start + 1), range);
      assert.deepEqual(body, fixture.binary.subarray(start, end + 1), range);
    }
  });

  test('multiple ranges → multipart/byteranges with exact parts', async () => {
    const { status, body, headers } = await get('/data.bin', { range: 'bytes=0-9, 100-199, -5' });
    assert.equal(status, 206);
    const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(headers.get('content-type')!)![1]!;
    assert.equal(Number(headers.get('content-length')), body.length);
    const expected: Array<[number, number]> = [
      [0, 9],
      [100, 199],
      [size - 5, size - 1],
    ];
    let offset = 0;
    for (const [index, [start, end]] of expected.entries()) {
      const delimiter = Buffer.from(`${index === 0 ? '' : '\r\n'}--${boundary}\r\n`);
      assert.deepEqual(body.subarray(offset, offset + delimiter.length), delimiter);
      offset += delimiter.length;
      const headEnd = body.indexOf('\r\n\r\n', offset);
      const partHead = body.subarray(offset, headEnd).toString();
      assert.match(partHead, /content-type: application\/octet-stream/);
      assert.match(partHead, new RegExp(`content-range: bytes ${start}-${end}/${size}`));
      offset = headEnd + 4;
      assert.deepEqual(body.subarray(offset, offset + end - start + 1), fixture.binary.subarray(start, end + 1));
      offset += end - start + 1;
    }
    assert.equal(body.subarray(offset).toString(), `\r\n--${boundary}--\r\n`);
  });

  test('overlapping and adjacent ranges are coalesced', async () => {
    const { status, headers, body } = await get('/data.bin', { range: 'bytes=0-99,50-149,150-199' });
    assert.equal(status, 206);
    assert.equal(headers.get('content-range'), `bytes 0-199/${size}`);
    assert.deepEqual(body, fixture.binary.subarray(0, 200));
  });

  test('unsatisfiable → 416 with content-range bytes */size', async () => {
    for (const range of ['bytes=200000-', 'bytes=300000-400000', 'bytes=-0']) {
      const { status, headers } = await get('/data.bin', { range });
      assert.equal(status, 416, range);
      assert.equal(headers.get('content-range'), `bytes */${size}`);
    }
  });

  test('invalid, foreign-unit, too many ranges, HEAD and empty files: the whole representation', async () => {
    const manyRanges = 'bytes=' + Array.from({ length: 40 }, (_, i) => `${i * 1000}-${i * 1000 + 1}`).join(',');
    for (const range of ['bytes=5-1', 'items=0-5', 'bytes=abc', 'bytes=', manyRanges, 'bytes=1-2-3']) {
      const { status, body } = await get('/data.bin', { range });
      assert.equal(status, 200, range);
      assert.equal(body.length, size);
    }
    assert.equal((await get('/data.bin', { range: 'bytes=0-9' }, {}, 'HEAD')).status, 200);
    assert.equal((await get('/empty.txt', { range: 'bytes=0-9' })).status, 200);
  });

  test('If-Range with the current ETag or exact date → 206, otherwise the full 200', async () => {
    const { headers } = await get('/data.bin');
    const etag = headers.get('etag')!;
    const lastModified = headers.get('last-modified')!;
    assert.equal((await get('/data.bin', { range: 'bytes=0-9', 'if-range': etag })).status, 206);
    assert.equal((await get('/data.bin', { range: 'bytes=0-9', 'if-range': lastModified })).status, 206);
    const stale = await get('/data.bin', { range: 'bytes=0-9', 'if-range': '"stale"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, size);
    assert.equal((await get('/data.bin', { range: 'bytes=0-9', 'if-range': `W/${etag}` })).status, 200);
    const otherDate = new Date(Date.parse(lastModified) + 1000).toUTCString();
    assert.equal((await get('/data.bin', { range: 'bytes=0-9', 'if-range': otherDate })).status, 200);
  });

  test('ranges are never compressed', async () => {
    const { status, headers, body } = await get('/big.txt', { range: 'bytes=0-9', 'accept-encoding': 'gzip, br' });
    assert.equal(status, 206);
    assert.equal(headers.get('content-encoding'), null);
    assert.equal(body.toString(), fixture.bigText.slice(0, 10));
    const pre = await get('/app.js', { range: 'bytes=0-5', 'accept-encoding': 'br' });
    assert.equal(pre.status, 206);
    assert.equal(pre.headers.get('content-encoding'), null);
    assert.equal(pre.text, fixture.appJs.slice(0, 6));
  });
});

describe('compression', () => {
  test('precompressed siblings chosen by Accept-Encoding q-values', async () => {
    const cases: Array<[string, string | null]> = [
      ['gzip, deflate, br', 'br'],
      ['gzip', 'gzip'],
      ['br;q=0.5, gzip;q=0.8', 'gzip'],
      ['br;q=0, gzip', 'gzip'],
      ['*', 'br'],
      ['*;q=0.1, br;q=0', 'zstd'],
      ['zstd', 'zstd'],
      ['zstd;q=0.9, br', 'br'],
      ['identity', null],
      ['gzip;q=0, br;q=0, zstd;q=0', null],
      ['x-gzip', 'gzip'],
      ['deflate', null],
    ];
    const bodies: Record<string, Buffer> = {};
    const etags = new Set<string>();
    for (const [acceptEncoding, expected] of cases) {
      const { status, headers, body } = await get('/app.js', { 'accept-encoding': acceptEncoding });
      assert.equal(status, 200);
      assert.equal(headers.get('content-encoding'), expected, acceptEncoding);
      assert.equal(headers.get('vary'), 'accept-encoding');
      assert.equal(headers.get('content-type'), 'text/javascript; charset=utf-8');
      assert.equal(headers.get('content-length'), String(body.length));
      bodies[expected ?? 'identity'] = body;
      etags.add(`${expected}:${headers.get('etag')}`);
    }
    assert.equal(brotliDecompressSync(bodies.br!).toString(), fixture.appJs);
    assert.equal(gunzipSync(bodies.gzip!).toString(), fixture.appJs);
    assert.equal(bodies.zstd!.toString(), 'pretend-zstd-bytes');
    assert.equal(bodies.identity!.toString(), fixture.appJs);
    // Each variant has its own ETag.
    const distinct = new Set([...etags].map((entry) => entry.split(':')[1]));
    assert.equal(distinct.size, 4);
    const noHeader = await get('/app.js');
    assert.equal(noHeader.headers.get('content-encoding'), null);
    assert.equal(noHeader.headers.get('vary'), 'accept-encoding');
  });

  test('304 uses the validator of the negotiated variant', async () => {
    const br = await get('/app.js', { 'accept-encoding': 'br' });
    const etag = br.headers.get('etag')!;
    assert.equal((await get('/app.js', { 'accept-encoding': 'br', 'if-none-match': etag })).status, 304);
    assert.equal((await get('/app.js', { 'accept-encoding': 'gzip', 'if-none-match': etag })).status, 200);
    assert.equal((await get('/app.js', { 'if-none-match': etag })).status, 200);
  });

  test('on-the-fly brotli and gzip for compressible types above the threshold', async () => {
    const br = await get('/big.txt', { 'accept-encoding': 'br, gzip' });
    assert.equal(br.headers.get('content-encoding'), 'br');
    assert.equal(br.headers.get('content-length'), null);
    assert.equal(br.headers.get('accept-ranges'), null);
    assert.match(br.headers.get('etag')!, /^W\/".*-br"$/);
    assert.equal(brotliDecompressSync(br.body).toString(), fixture.bigText);
    assert.ok(br.body.length < fixture.bigText.length / 10);
    const gzip = await get('/big.txt', { 'accept-encoding': 'gzip' });
    assert.equal(gzip.headers.get('content-encoding'), 'gzip');
    assert.equal(gunzipSync(gzip.body).toString(), fixture.bigText);
    const gzipEtag = gzip.headers.get('etag')!;
    assert.equal((await get('/big.txt', { 'accept-encoding': 'gzip', 'if-none-match': gzipEtag })).status, 304);
    const head = await get('/big.txt', { 'accept-encoding': 'gzip' }, {}, 'HEAD');
    assert.equal(head.headers.get('content-encoding'), 'gzip');
    assert.equal(head.body.length, 0);
    const zstd = await get('/big.txt', { 'accept-encoding': 'zstd' });
    assert.equal(zstd.headers.get('content-encoding'), ZSTD_AVAILABLE ? 'zstd' : null);
  });

  test('small, incompressible, or disabled: identity', async () => {
    assert.equal((await get('/hello.txt', { 'accept-encoding': 'gzip' })).headers.get('content-encoding'), null);
    assert.equal((await get('/image.png', { 'accept-encoding': 'gzip' })).headers.get('content-encoding'), null);
    assert.equal((await get('/data.bin', { 'accept-encoding': 'gzip' })).headers.get('content-encoding'), null);
    const disabled = await get('/big.txt', { 'accept-encoding': 'gzip' }, { compression: false });
    assert.equal(disabled.headers.get('content-encoding'), null);
    assert.equal(disabled.text, fixture.bigText);
    const noPre = await get('/app.js', { 'accept-encoding': 'br' }, { precompressed: false, compression: false });
    assert.equal(noPre.headers.get('content-encoding'), null);
  });
});

describe('streaming', () => {
  // Above WHOLE_FILE_CACHE_SIZE: always streamed (smaller settled files are read whole and cached).
  let streamRoot: string;
  let streamed: Buffer;
  before(() => {
    streamRoot = mkdtempSync(join(tmpdir(), 'httpsd-static-stream-'));
    streamed = randomBytes(WHOLE_FILE_CACHE_SIZE + 100_000);
    writeFileSync(join(streamRoot, 'data.bin'), streamed);
    // Settled, as the cache sees it: still streamed.
    utimesSync(join(streamRoot, 'data.bin'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  });
  after(() => rmSync(streamRoot, { recursive: true, force: true }));

  test('descriptors of bodies nobody reads or cancels are closed once garbage-collected', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const openDescriptors = () => readdirSync('/proc/self/fd').length;
    const handler = serveStatic(streamRoot);
    const before = openDescriptors();
    for (let i = 0; i < 50; i++) await handler(new Request('https://localhost/data.bin'), serveInfo());
    assert.ok(openDescriptors() - before >= 40, 'the bodies hold their files open');
    // Finalization runs when the machine gets to it: poll (bounded by time, generously), never a fixed count.
    const deadline = Date.now() + PATIENCE_MS;
    while (openDescriptors() - before > 5 && Date.now() < deadline) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(openDescriptors() - before <= 5, `${openDescriptors() - before} descriptors still open`);
  });

  test('file bodies are read on demand, one bounded chunk per pull', async () => {
    const handler = serveStatic(streamRoot);
    const response = await handler(new Request('https://localhost/data.bin'), serveInfo());
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value!.byteLength <= 64 * 1024);
    assert.deepEqual(Buffer.from(first.value!), streamed.subarray(0, first.value!.byteLength));
    await reader.cancel();
  });
});
