/**
 * Ready-made answers for hot small files: only plain GETs within the staleness bound of the validation behind them,
 * never a request whose Range, preconditions or (where it matters) Accept-Encoding could change the answer.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HotFiles, pathnameOf } from '../../src/static/hot-files.js';
import { FRESHNESS_MS } from '../../src/static/recent-validations.js';
import { RACY_TIMESTAMP_MARGIN_MS } from '../../src/static/content-cache.js';
import { serveStatic } from '../../src/static/index.js';
import { WHOLE_FILE_CACHE_SIZE } from '../../src/static/file-response.js';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LazyRequest } from '../../src/server/request.js';
import { serveInfo } from './fixture.js';

const FIELDS = { 'content-type': 'text/plain; charset=utf-8', etag: '"3-1-1"', 'content-length': '3' };

function lazyGet(path: string, rawHeaders: string[] = [], method = 'GET'): Request {
  return new LazyRequest(method, 'https', 'localhost', path, rawHeaders, 'h2-like', null);
}

describe('HotFiles', () => {
  test('answers a plain GET within FRESHNESS_MS of the validation, not after', async () => {
    let now = 50_000;
    const hot = new HotFiles(8, 1024, () => now);
    const bytes = new Uint8Array([97, 98, 99]);
    hot.record('/a.txt', bytes, { ...FIELDS }, now - 10, true);
    const response = hot.answer(lazyGet('/a.txt?x=1'));
    assert.ok(response !== undefined);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('etag'), '"3-1-1"');
    assert.equal(await response.text(), 'abc');
    assert.equal(hot.answer(lazyGet('/b.txt')), undefined, 'another path');
    now += FRESHNESS_MS - 10;
    assert.ok(hot.answer(lazyGet('/a.txt')) !== undefined, 'at the bound');
    now += 1;
    assert.equal(hot.answer(lazyGet('/a.txt')), undefined, 'past the bound');
    assert.equal(hot.size, 0, 'the expired record is gone');
  });

  test('leaves requests whose fields could change the answer, and other methods, to the full way', () => {
    const now = 50_000;
    const hot = new HotFiles(8, 1024, () => now);
    hot.record('/plain.txt', new Uint8Array(3), { ...FIELDS }, now, true);
    hot.record('/big.txt', new Uint8Array(3), { ...FIELDS }, now, false);
    for (const name of ['range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range']) {
      assert.equal(hot.answer(lazyGet('/plain.txt', [name, 'x'])), undefined, name);
      assert.equal(hot.answer(new Request('https://localhost/plain.txt', { headers: { [name]: 'x' } })), undefined, `${name} (Headers)`);
    }
    // HTTP/1.1 raw headers keep the client's spelling, whatever it is, among fields that do not matter.
    for (const name of ['Range', 'If-Match', 'IF-NONE-MATCH', 'If-Modified-Since', 'if-Unmodified-Since', 'If-Range']) {
      const raw = ['Host', 'localhost', 'User-Agent', 'curl/8', name, 'x', 'Accept', '*/*'];
      assert.equal(hot.answer(new LazyRequest('GET', 'https', 'localhost', '/plain.txt', raw, 'h1', null)), undefined, name);
    }
    assert.equal(hot.answer(new LazyRequest('GET', 'https', 'localhost', '/big.txt', ['Accept-Encoding', 'br'], 'h1', null)), undefined);
    assert.equal(hot.answer(lazyGet('/plain.txt', [], 'HEAD')), undefined);
    assert.ok(hot.answer(lazyGet('/plain.txt', ['accept-encoding', 'gzip'])) !== undefined, 'encoding ignored for this file');
    assert.equal(hot.answer(lazyGet('/big.txt', ['accept-encoding', 'gzip'])), undefined, 'encoding may matter');
    assert.ok(hot.answer(lazyGet('/big.txt', ['user-agent', 'x'])) !== undefined);
    // Headers changed through request.headers are seen.
    const touched = lazyGet('/plain.txt');
    touched.headers.set('range', 'bytes=0-0');
    assert.equal(hot.answer(touched), undefined);
  });

  test('bounded in entries and bytes, oldest first', () => {
    const hot = new HotFiles(2, 10, () => 0);
    hot.record('/a', new Uint8Array(4), {}, 0, true);
    hot.record('/b', new Uint8Array(4), {}, 0, true);
    hot.record('/c', new Uint8Array(4), {}, 0, true);
    assert.equal(hot.size, 2);
    assert.equal(hot.answer(lazyGet('/a')), undefined);
    hot.record('/d', new Uint8Array(8), {}, 0, true);
    assert.equal(hot.size, 1, 'bytes bound');
    hot.record('/e', new Uint8Array(11), {}, 0, true);
    assert.equal(hot.answer(lazyGet('/e')), undefined, 'larger than the whole bound: never recorded');
  });

  test('pathnameOf agrees with the URL parser on serialised request URLs', () => {
    for (const url of [
      'https://localhost/',
      'https://localhost/a/b.txt',
      'https://localhost:8443/a%20b.txt?x=/y#z',
      'http://[::1]:80/q?',
      'https://example.com/a#frag?not-query',
      new Request('https://h/a/../b/%2e%2e/c?d').url,
    ]) {
      assert.equal(pathnameOf(url), new URL(url).pathname, url);
    }
  });
});

describe('serveStatic answers a hot small file without the file system', () => {
  let root: string;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'httpsd-hot-'));
    writeFileSync(join(root, 'hot.txt'), 'HOT');
    writeFileSync(join(root, 'change.txt'), 'one');
    writeFileSync(join(root, 'large.bin'), randomBytes(300_000));
    writeFileSync(join(root, 'huge.bin'), randomBytes(WHOLE_FILE_CACHE_SIZE + 1));
    await sleep(RACY_TIMESTAMP_MARGIN_MS + 300);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('the same headers and bytes as the full way, synchronously, and 304 / 206 still answered', async () => {
    const handler = serveStatic(root);
    const request = () => lazyGet('/hot.txt');
    const first = await handler(request(), serveInfo()); // read from disk, cached
    const second = await handler(request(), serveInfo()); // validated by a stat: recorded
    const third = handler(request(), serveInfo());
    assert.ok(!(third instanceof Promise), 'answered without waiting for anything');
    const fields = (response: Response) => JSON.stringify([...response.headers]);
    assert.equal(fields(third), fields(second));
    assert.equal(fields(second), fields(first));
    assert.equal(await third.text(), 'HOT');
    const etag = second.headers.get('etag')!;
    assert.equal((await handler(lazyGet('/hot.txt', ['if-none-match', etag]), serveInfo())).status, 304);
    const range = await handler(lazyGet('/hot.txt', ['range', 'bytes=1-1']), serveInfo());
    assert.equal(range.status, 206);
    assert.equal(await range.text(), 'O');
    const head = await handler(lazyGet('/hot.txt', [], 'HEAD'), serveInfo());
    assert.equal(head.headers.get('content-length'), '3');
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  });

  test('a change on disk is served once the bound has passed', async () => {
    const handler = serveStatic(root);
    await handler(lazyGet('/change.txt'), serveInfo());
    await handler(lazyGet('/change.txt'), serveInfo());
    const hot = handler(lazyGet('/change.txt'), serveInfo());
    assert.ok(!(hot instanceof Promise), 'hot');
    writeFileSync(join(root, 'change.txt'), 'two'); // same size
    await sleep(FRESHNESS_MS + 100);
    assert.equal(await (await handler(lazyGet('/change.txt'), serveInfo())).text(), 'two');
  });

  test('a settled file up to WHOLE_FILE_CACHE_SIZE is read whole and then answered from memory; a larger one is streamed', async () => {
    const handler = serveStatic(root);
    const expected = readFileSync(join(root, 'large.bin'));
    for (let i = 0; i < 2; i++) {
      const response = await handler(lazyGet('/large.bin'), serveInfo());
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), expected);
    }
    const hot = handler(lazyGet('/large.bin'), serveInfo());
    assert.ok(!(hot instanceof Promise), 'answered from memory');
    assert.deepEqual(Buffer.from(await hot.arrayBuffer()), expected);
    const range = await handler(lazyGet('/large.bin', ['range', 'bytes=100000-100009']), serveInfo());
    assert.equal(range.status, 206);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), expected.subarray(100000, 100010));
    for (let i = 0; i < 3; i++) {
      const response = await handler(lazyGet('/huge.bin'), serveInfo());
      assert.ok(response.body instanceof ReadableStream);
      const reader = response.body.getReader();
      const first = await reader.read();
      assert.ok(first.value!.byteLength < WHOLE_FILE_CACHE_SIZE, 'streamed in chunks');
      await reader.cancel();
    }
  });
});
