/**
 * The validated cache of small files: bounded (entries, bytes, LRU), never serving a version other than the one
 * on disk, and never weakening the path checks (symlinks swapped in after caching still lead to 404).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, renameSync, writeFileSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SmallFileCache, RACY_TIMESTAMP_MARGIN_MS } from '../../src/static/content-cache.js';
import { serveStatic } from '../../src/static/index.js';
import { FRESHNESS_MS, RecentValidations } from '../../src/static/recent-validations.js';
import { StaticLookup } from '../../src/static/lookup.js';
import { resolveConfig } from '../../src/static/config.js';
import { serveInfo } from './fixture.js';

function fakeStats(ino: number, size: number, mtimeMs = 1_000, ctimeMs = mtimeMs): Stats {
  return { dev: 1, ino, size, mtimeMs, ctimeMs } as Stats;
}
const LATER = 1_000_000;

describe('SmallFileCache', () => {
  test('returns bytes only for the exact cached version', () => {
    const cache = new SmallFileCache(10, 1000);
    const bytes = new Uint8Array([1, 2, 3]);
    cache.set('/a', fakeStats(7, 3), bytes, LATER);
    assert.equal(cache.get('/a', fakeStats(7, 3)), bytes);
    assert.equal(cache.get('/b', fakeStats(7, 3)), undefined);
    // Any difference in identity or version is a miss, and drops the stale entry.
    for (const changed of [fakeStats(8, 3), fakeStats(7, 4), fakeStats(7, 3, 1_001), fakeStats(7, 3, 1_000, 1_002)]) {
      cache.set('/a', fakeStats(7, 3), bytes, LATER);
      assert.equal(cache.get('/a', changed), undefined);
      assert.equal(cache.get('/a', fakeStats(7, 3)), undefined, 'a stale entry is dropped on mismatch');
    }
    const otherDevice = { ...fakeStats(7, 3), dev: 2 } as Stats;
    cache.set('/a', fakeStats(7, 3), bytes, LATER);
    assert.equal(cache.get('/a', otherDevice), undefined);
  });

  test('does not cache versions younger than the timestamp granularity margin', () => {
    const cache = new SmallFileCache(10, 1000);
    cache.set('/a', fakeStats(1, 1, 5_000), new Uint8Array(1), 5_000 + RACY_TIMESTAMP_MARGIN_MS - 1);
    assert.equal(cache.size, 0);
    cache.set('/a', fakeStats(1, 1, 5_000, 9_000), new Uint8Array(1), 5_000 + RACY_TIMESTAMP_MARGIN_MS);
    assert.equal(cache.size, 0, 'a recent ctime counts too');
    cache.set('/a', fakeStats(1, 1, 5_000), new Uint8Array(1), 5_000 + RACY_TIMESTAMP_MARGIN_MS);
    assert.equal(cache.size, 1);
  });

  test('is bounded in entries and bytes, evicting the least recently used', () => {
    const cache = new SmallFileCache(3, 10);
    for (const name of ['/1', '/2', '/3']) cache.set(name, fakeStats(1, 2), new Uint8Array(2), LATER);
    assert.ok(cache.get('/1', fakeStats(1, 2)), 'touch /1: now /2 is the oldest');
    cache.set('/4', fakeStats(1, 2), new Uint8Array(2), LATER);
    assert.equal(cache.size, 3);
    assert.equal(cache.get('/2', fakeStats(1, 2)), undefined);
    assert.ok(cache.get('/1', fakeStats(1, 2)));
    cache.set('/big', fakeStats(1, 8), new Uint8Array(8), LATER);
    assert.ok(cache.totalBytes <= 10, `bytes bounded (${cache.totalBytes})`);
    assert.ok(cache.get('/big', fakeStats(1, 8)));
    cache.set('/huge', fakeStats(1, 11), new Uint8Array(11), LATER);
    assert.equal(cache.get('/huge', fakeStats(1, 11)), undefined, 'larger than the whole budget: never cached');
    assert.ok(cache.totalBytes <= 10);
  });
});

describe('RecentValidations', () => {
  test('trusts a validation for FRESHNESS_MS, per request path, bounded', () => {
    const recent = new RecentValidations(2);
    recent.record('a.txt', '/root/a.txt', fakeStats(1, 1), 10_000);
    assert.equal(recent.get('a.txt', 10_000 + FRESHNESS_MS)?.realPath, '/root/a.txt');
    assert.equal(recent.get('a.txt', 10_000 + FRESHNESS_MS + 1), undefined, 'expired');
    assert.equal(recent.get('a.txt', 10_000), undefined, 'and forgotten');
    recent.record('a.txt', '/root/a.txt', fakeStats(1, 1), 20_000);
    assert.equal(recent.get('a.txt', 19_999), undefined, 'a clock going backwards trusts nothing');
    recent.record('link.txt', '/root/a.txt', fakeStats(1, 1), 30_000);
    assert.equal(recent.get('other.txt', 30_000), undefined, 'another path to the same file is not validated');
    recent.record('b.txt', '/root/b.txt', fakeStats(2, 1), 30_000);
    recent.record('c.txt', '/root/c.txt', fakeStats(3, 1), 30_000);
    assert.equal(recent.get('link.txt', 30_000), undefined, 'bounded: the oldest went first');
    assert.equal(recent.get('c.txt', 30_000)?.realPath, '/root/c.txt');
  });
});

describe('serveStatic with cached small files', () => {
  let base: string;
  let root: string;
  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'httpsd-static-cache-'));
    root = join(base, 'root');
    mkdirSync(join(root, 'sub'), { recursive: true });
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(base, 'outside', 'a.txt'), 'OUTSIDE');
    writeFileSync(join(base, 'outside', 'page.txt'), 'OUTSIDE');
    writeFileSync(join(root, 'a.txt'), 'version-1');
    writeFileSync(join(root, 'b.txt'), 'SEEN');
    writeFileSync(join(root, '.hidden'), 'HIDE');
    writeFileSync(join(root, 'sub', 'page.txt'), 'INSIDE!');
    writeFileSync(join(root, 'text.txt'), 'x'.repeat(4000));
    // Only versions older than the margin are cached: let these settle once for the whole suite.
    await sleep(RACY_TIMESTAMP_MARGIN_MS + 300);
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  async function get(handler: ReturnType<typeof serveStatic>, path: string, headers: Record<string, string> = {}) {
    const response = await handler(new Request(`https://localhost${path}`, { headers }), serveInfo());
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  test('a file changed on disk is served fresh, with a new ETag, on the next request', async () => {
    const handler = serveStatic(root);
    const first = await get(handler, '/a.txt');
    const second = await get(handler, '/a.txt');
    assert.equal(first.text, 'version-1');
    assert.equal(second.text, 'version-1');
    assert.equal(second.headers.get('etag'), first.headers.get('etag'));
    assert.equal(second.headers.get('content-length'), '9');
    writeFileSync(join(root, 'a.txt'), 'version-2'); // same size
    // The second request validated the path: for FRESHNESS_MS it is trusted without a stat.
    const stale = await get(handler, '/a.txt');
    assert.ok(['version-1', 'version-2'].includes(stale.text), stale.text);
    await sleep(FRESHNESS_MS + 100);
    const third = await get(handler, '/a.txt');
    assert.equal(third.text, 'version-2');
    assert.notEqual(third.headers.get('etag'), first.headers.get('etag'));
    // Replaced by rename (a new inode), as deploy tools do.
    writeFileSync(join(root, 'a.tmp'), 'version-3');
    renameSync(join(root, 'a.tmp'), join(root, 'a.txt'));
    await sleep(FRESHNESS_MS + 100);
    assert.equal((await get(handler, '/a.txt')).text, 'version-3');
    unlinkSync(join(root, 'a.txt'));
    await sleep(FRESHNESS_MS + 100);
    assert.equal((await get(handler, '/a.txt')).status, 404);
  });

  test('conditional requests, HEAD and ranges still work on a cached file', async () => {
    const handler = serveStatic(root);
    const first = await get(handler, '/b.txt');
    const etag = first.headers.get('etag')!;
    assert.equal((await get(handler, '/b.txt', { 'if-none-match': etag })).status, 304);
    const range = await get(handler, '/b.txt', { range: 'bytes=1-2' });
    assert.equal(range.status, 206);
    assert.equal(range.text, 'EE');
    const head = await handler(new Request('https://localhost/b.txt', { method: 'HEAD' }), serveInfo());
    assert.equal(head.headers.get('content-length'), '4');
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const compressible = await get(handler, '/text.txt');
    const gzip = await handler(new Request('https://localhost/text.txt', { headers: { 'accept-encoding': 'gzip' } }), serveInfo());
    assert.equal(gzip.headers.get('content-encoding'), 'gzip', 'the encoding is still negotiated after caching');
    await gzip.arrayBuffer();
    assert.equal(compressible.text.length, 4000);
  });

  /**
   * After a symlink was re-pointed: within FRESHNESS_MS the path may still answer the bytes validated before
   * (`validated`), never what the link leads to now; after it, 404.
   */
  async function assertNeverServedThrough(handler: ReturnType<typeof serveStatic>, path: string, validated: string): Promise<void> {
    const soon = await get(handler, path);
    assert.ok(soon.status === 404 || soon.text === validated, `${path}: ${soon.status} ${soon.text}`);
    await sleep(FRESHNESS_MS + 100);
    assert.equal((await get(handler, path)).status, 404);
  }

  test('within the staleness bound a validated path is answered from memory, after it the file system is asked again', async () => {
    writeFileSync(join(root, 'fresh.txt'), 'validated');
    let now = 1_000_000;
    const smallFiles = new SmallFileCache(16, 1 << 20);
    const lookup = new StaticLookup(resolveConfig(root, {}), smallFiles, () => now);
    const always = () => true;
    const open = async () => {
      const found = await lookup.open(['fresh.txt'], always);
      if (found.kind !== 'found') return found.kind;
      found.entry.file?.close();
      return found.entry.cachedBytes === undefined ? 'opened' : Buffer.from(found.entry.cachedBytes).toString();
    };
    const first = await lookup.open(['fresh.txt'], always);
    assert.ok(first.kind === 'found' && first.entry.file !== undefined);
    // Cached as if read once the version had settled (the racy-timestamp margin is tested above).
    const settledNow = Date.now() + RACY_TIMESTAMP_MARGIN_MS;
    smallFiles.set(first.entry.realPath, first.entry.stats, new Uint8Array(Buffer.from('validated')), settledNow);
    first.entry.file.close();
    assert.equal(await open(), 'validated', 'a stat confirmed the cached version: the path is now validated');
    unlinkSync(join(root, 'fresh.txt'));
    now += FRESHNESS_MS;
    assert.equal(await open(), 'validated', 'within the bound: no file-system access at all');
    now += 1;
    assert.equal(await open(), 'missing', 'past the bound: checked again');
  });

  test('requests arriving while a path is being checked again share that one check', async () => {
    writeFileSync(join(root, 'shared.txt'), 'shared');
    let now = 2_000_000;
    const smallFiles = new SmallFileCache(16, 1 << 20);
    // Every reading of the clock is a new millisecond: separate checks would record different validation times.
    const lookup = new StaticLookup(resolveConfig(root, {}), smallFiles, () => now++);
    const always = () => true;
    const first = await lookup.open(['shared.txt'], always);
    assert.ok(first.kind === 'found' && first.entry.file !== undefined);
    smallFiles.set(first.entry.realPath, first.entry.stats, new Uint8Array(Buffer.from('shared')), Date.now() + RACY_TIMESTAMP_MARGIN_MS);
    first.entry.file.close();
    now += 10 * FRESHNESS_MS;
    const results = await Promise.all(Array.from({ length: 10 }, () => lookup.open(['shared.txt'], always)));
    const validatedAt = new Set<number | undefined>();
    for (const found of results) {
      assert.ok(found.kind === 'found' && found.entry.cachedBytes !== undefined, 'answered from the cache');
      validatedAt.add(found.entry.validatedAt);
    }
    assert.equal(validatedAt.size, 1, 'one check for all of them');
    // A request that cannot use the cached bytes (a range, say) still gets a file of its own.
    now += 10 * FRESHNESS_MS;
    const [shared, own] = await Promise.all([lookup.open(['shared.txt'], always), lookup.open(['shared.txt'], () => false)]);
    assert.ok(shared.kind === 'found' && shared.entry.cachedBytes !== undefined);
    assert.ok(own.kind === 'found' && own.entry.file !== undefined);
    own.entry.file.close();
    unlinkSync(join(root, 'shared.txt'));
  });

  test('symlinks swapped in after caching are checked as before: outside the root or onto a dotfile is 404', async () => {
    const handler = serveStatic(root);
    assert.equal((await get(handler, '/b.txt')).text, 'SEEN');
    assert.equal((await get(handler, '/b.txt')).text, 'SEEN');
    unlinkSync(join(root, 'b.txt'));
    symlinkSync(join(root, '.hidden'), join(root, 'b.txt'));
    await assertNeverServedThrough(handler, '/b.txt', 'SEEN');
    unlinkSync(join(root, 'b.txt'));
    symlinkSync(join(base, 'outside', 'a.txt'), join(root, 'b.txt'));
    await assertNeverServedThrough(handler, '/b.txt', 'SEEN');

    assert.equal((await get(handler, '/sub/page.txt')).text, 'INSIDE!');
    assert.equal((await get(handler, '/sub/page.txt')).text, 'INSIDE!');
    // The directory moves out of the root (the file's own inode and times unchanged) and a symlink takes its place.
    renameSync(join(root, 'sub'), join(base, 'outside', 'moved'));
    symlinkSync(join(base, 'outside', 'moved'), join(root, 'sub'));
    assert.ok(statSync(join(root, 'sub', 'page.txt')).isFile());
    await assertNeverServedThrough(handler, '/sub/page.txt', 'INSIDE!');
  });
});
