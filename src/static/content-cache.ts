/**
 * A validating cache of small files' bytes, so that a hot small file costs open + fstat + close instead of
 * open + fstat + read + close.
 *
 * Never time-based by itself: an entry is used only for a stat that still describes the same file version (device,
 * inode, size, modification and change times). How recent that stat must be is the caller's choice (lookup.ts
 * trusts one for FRESHNESS_MS, see recent-validations.ts). Bounded in entries and bytes, evicting the least
 * recently used.
 */
import type { Stats } from 'node:fs';

interface CachedContent {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  bytes: Uint8Array<ArrayBuffer>;
}

function sameVersion(entry: CachedContent, stats: Stats): boolean {
  return (
    entry.dev === stats.dev &&
    entry.ino === stats.ino &&
    entry.size === stats.size &&
    entry.mtimeMs === stats.mtimeMs &&
    entry.ctimeMs === stats.ctimeMs
  );
}

/** Files modified more recently than this are not cached (see `set`). */
export const RACY_TIMESTAMP_MARGIN_MS = 3000;

export class SmallFileCache {
  readonly #entries = new Map<string, CachedContent>();
  #bytes = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  get totalBytes(): number {
    return this.#bytes;
  }

  /** The size of the cached version of `path`, if any (not a validation: `get` must still be asked). */
  cachedSize(path: string): number | undefined {
    return this.#entries.get(path)?.size;
  }

  /** The cached bytes of `path` if `stats` (fstat of the descriptor opened now) still describes the same version. */
  get(path: string, stats: Stats): Uint8Array<ArrayBuffer> | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined) return undefined;
    if (!sameVersion(entry, stats)) {
      this.#delete(path, entry);
      return undefined;
    }
    this.#touch(path, entry);
    return entry.bytes;
  }

  /**
   * The cached bytes of `path` if they are the version `stats` describes, a stat taken earlier; unlike `get`, a
   * newer cached version is kept (it is not stale, `stats` is).
   */
  getVersion(path: string, stats: Stats): Uint8Array<ArrayBuffer> | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined || !sameVersion(entry, stats)) return undefined;
    this.#touch(path, entry);
    return entry.bytes;
  }

  /**
   * Remembers bytes read for the version `stats` describes (stats taken before the read). A write landing in
   * between cannot be cached for long: it changes mtime/ctime, so the next request's fstat no longer matches.
   */
  set(path: string, stats: Stats, bytes: Uint8Array<ArrayBuffer>, now = Date.now()): void {
    if (bytes.byteLength > this.maxBytes || !this.wouldKeep(stats, now)) return;
    const existing = this.#entries.get(path);
    if (existing !== undefined) this.#delete(path, existing);
    this.#entries.set(path, { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, bytes });
    this.#bytes += bytes.byteLength;
    while (this.#entries.size > this.maxEntries || this.#bytes > this.maxBytes) {
      const oldest = this.#entries.entries().next().value as [string, CachedContent];
      this.#delete(oldest[0], oldest[1]);
    }
  }

  /** Whether `set` would keep the bytes of the version `stats` describes. */
  wouldKeep(stats: Stats, now = Date.now()): boolean {
    if (stats.size > this.maxBytes || this.maxEntries <= 0) return false;
    // The "racy git" problem: timestamps have a coarse granularity (a kernel tick, or 2 s on FAT), so a file
    // rewritten with the same size right after our fstat can keep the same mtime and ctime. A version younger
    // than that margin is served but not cached: only settled files are, whose next change is always visible.
    return now - Math.max(stats.mtimeMs, stats.ctimeMs) >= RACY_TIMESTAMP_MARGIN_MS;
  }

  #touch(path: string, entry: CachedContent): void {
    // Map order is insertion order: re-inserting makes this the most recently used.
    this.#entries.delete(path);
    this.#entries.set(path, entry);
  }

  #delete(path: string, entry: CachedContent): void {
    this.#entries.delete(path);
    this.#bytes -= entry.bytes.byteLength;
  }
}
