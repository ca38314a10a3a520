/**
 * From decoded path segments to an open file or directory inside the root: realpath containment (symlinks may
 * point anywhere inside the root, never outside), hidden dotfiles, the CGI directory kept private, index files,
 * precompressed siblings (checked like any requested path), and the validated cache of small files.
 */
import { realpath } from 'node:fs/promises';
import { stat } from 'node:fs';
import { join } from 'node:path';
import type { Stats } from 'node:fs';
import { OpenFile } from './open-file.js';
import type { SmallFileCache } from './content-cache.js';
import { RecentValidations } from './recent-validations.js';
import { canonicalPath, isInside, servableInside } from './paths.js';
import type { ContentCoding } from './negotiation.js';
import type { StaticConfig } from './config.js';
import { isPermissionError, processUser, searchable } from './permissions.js';

/** A file or directory inside the root, open, described by fstat of its descriptor. */
export interface OpenedEntry {
  realPath: string;
  stats: Stats;
  /**
   * Undefined only for a small file answered from the validated cache (`cachedBytes`), which is only used for
   * requests that need nothing but those bytes (no Range, no encoding to choose).
   */
  file: OpenFile | undefined;
  cachedBytes?: Uint8Array<ArrayBuffer>;
  /** With `cachedBytes`: when the stat that proved them to be the file's current version was taken (ms). */
  validatedAt?: number;
}

const PRECOMPRESSED_EXTENSIONS: ReadonlyArray<[ContentCoding, string]> = [
  ['br', '.br'],
  ['zstd', '.zst'],
  ['gzip', '.gz'],
];

/** Opens `path` and describes it with fstat of the descriptor: undefined (and closed) unless `wanted` accepts it. */
async function openDescribed(
  path: string,
  wanted: (stats: Stats) => boolean,
): Promise<{ file: OpenFile; stats: Stats } | NodeJS.ErrnoException | undefined> {
  let file: OpenFile;
  try {
    file = await OpenFile.open(path);
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  try {
    const stats = await file.stat();
    if (wanted(stats)) return { file, stats };
  } catch {
    // fall through
  }
  file.close();
  return undefined;
}

/** Opens a regular file (a precompressed sibling), or undefined if it is absent, unreadable or not a regular file. */
export async function openRegularFile(path: string): Promise<{ file: OpenFile; stats: Stats } | undefined> {
  const opened = await openDescribed(path, (stats) => stats.isFile());
  return opened instanceof Error ? undefined : opened;
}

/** What a path names inside the root, as far as the server's permissions let it see. */
export type Lookup =
  | { kind: 'found'; entry: OpenedEntry }
  /** Absent, outside the root, hidden, or private to CGI: 404, whichever it is. */
  | { kind: 'missing' }
  /** Inside the root but the server may not read it: `problem` says what and the fix, for the log. */
  | { kind: 'forbidden'; problem: string };

/** The index file of a directory, found under one of the configured names; or why none can be served. */
export type IndexLookup = { kind: 'found'; entry: OpenedEntry; name: string } | Exclude<Lookup, { kind: 'found' }>;

const MISSING: Lookup = { kind: 'missing' };

function statOrUndefined(path: string): Promise<Stats | undefined> {
  return new Promise((resolve) => stat(path, (error, stats) => resolve(error ? undefined : stats)));
}

export class StaticLookup {
  private readonly recentValidations: RecentValidations;
  /**
   * Checks under way for cacheable requests, by request path: when a validation expires under load, the requests
   * arriving meanwhile wait for the one check instead of each making their own realpath and stat.
   */
  private readonly validations = new Map<string, Promise<OpenedEntry | undefined>>();

  /** `now` is the clock of the staleness bound (milliseconds). */
  constructor(
    private readonly config: StaticConfig,
    private readonly smallFiles: SmallFileCache,
    private readonly now: () => number = Date.now,
  ) {
    this.recentValidations = new RecentValidations(smallFiles.maxEntries);
  }

  /** With CGI on, the scripts' source is never served as a static file, whatever URL reaches it. */
  insideCgiDir(realPath: string): boolean {
    return this.config.cgi !== undefined && isInside(this.config.cgi.realDir, realPath);
  }

  /**
   * Opens what the segments name inside the root (file or directory).
   * With `cacheCanAnswer` (whether the request could be answered from a cached small file of that size), a small
   * file may come from the validated cache instead of being opened.
   */
  async open(segments: readonly string[], cacheCanAnswer?: (size: number) => boolean): Promise<Lookup> {
    // Segments never contain "/": joined, they name the request path unambiguously.
    const requestPath = segments.join('/');
    if (cacheCanAnswer === undefined) return this.openChecked(segments);
    const recent = this.recentlyValidated(requestPath, cacheCanAnswer);
    if (recent !== undefined) return { kind: 'found', entry: recent };
    const pending = this.validations.get(requestPath);
    if (pending !== undefined) {
      // Another request is checking this path right now: its answer, validated moments ago, serves this one too.
      const entry = await pending;
      if (entry !== undefined && cacheCanAnswer(entry.stats.size)) return { kind: 'found', entry: { ...entry } };
      return this.openChecked(segments, cacheCanAnswer);
    }
    let settle!: (entry: OpenedEntry | undefined) => void;
    this.validations.set(requestPath, new Promise((resolve) => (settle = resolve)));
    try {
      const found = await this.openChecked(segments, cacheCanAnswer);
      settle(found.kind === 'found' && found.entry.cachedBytes !== undefined ? found.entry : undefined);
      return found;
    } finally {
      settle(undefined);
      this.validations.delete(requestPath);
    }
  }

  /** open() after the recent validations: every path check, then the validated cache or the file itself. */
  private async openChecked(segments: readonly string[], cacheCanAnswer?: (size: number) => boolean): Promise<Lookup> {
    const { realRoot, dotfiles } = this.config;
    const realPath = await canonicalPath(join(realRoot, ...segments));
    if (typeof realPath !== 'string') return isPermissionError(realPath) ? this.blockedOnTheWay(segments) : MISSING;
    if (!servableInside(realRoot, realPath, dotfiles) || this.insideCgiDir(realPath)) return MISSING;
    if (cacheCanAnswer !== undefined) {
      const cached = await this.fromCache(realPath, cacheCanAnswer);
      if (cached !== undefined) {
        this.recentValidations.record(segments.join('/'), realPath, cached.stats, cached.validatedAt!);
        return { kind: 'found', entry: cached };
      }
    }
    const opened = await openDescribed(realPath, (stats) => stats.isFile() || stats.isDirectory());
    if (opened === undefined) return MISSING;
    if (!(opened instanceof Error)) return { kind: 'found', entry: { realPath, ...opened } };
    if (!isPermissionError(opened)) return MISSING;
    // A directory needs no descriptor, only its stats: one that may be searched but not read can still have a
    // readable index file, and its listing fails on its own.
    const stats = await statOrUndefined(realPath);
    if (stats?.isDirectory()) return { kind: 'found', entry: { realPath, stats, file: undefined } };
    return { kind: 'forbidden', problem: `${realPath} is not readable by ${processUser()}; make it readable (chmod a+r) or move it out of the root` };
  }

  /** The first configured index file of the directory the segments name, open. */
  async findIndex(
    segments: readonly string[],
    cacheCanAnswer: (name: string) => (size: number) => boolean,
  ): Promise<IndexLookup> {
    for (const name of this.config.index) {
      const found = await this.open([...segments, name], cacheCanAnswer(name));
      if (found.kind === 'forbidden') return found;
      if (found.kind === 'found' && found.entry.stats.isFile()) return { kind: 'found', entry: found.entry, name };
      if (found.kind === 'found') found.entry.file?.close();
    }
    return { kind: 'missing' };
  }

  /**
   * realpath failed for lack of permission: finds the directory on the way that cannot be searched, resolving
   * one more segment at a time. Only a directory inside the root (and not hidden) is reported; a symlink whose
   * target cannot be resolved, which may lie outside, stays a plain 404. This runs only on that failure, and at
   * most once per existing directory level.
   */
  private async blockedOnTheWay(segments: readonly string[]): Promise<Lookup> {
    const { realRoot, dotfiles } = this.config;
    let reached = realRoot;
    for (let depth = 1; depth <= segments.length; depth++) {
      const realPath = await canonicalPath(join(realRoot, ...segments.slice(0, depth)));
      if (typeof realPath === 'string') {
        if (!servableInside(realRoot, realPath, dotfiles) || this.insideCgiDir(realPath)) return MISSING;
        reached = realPath;
        continue;
      }
      if (!isPermissionError(realPath) || (await searchable(reached))) return MISSING;
      return { kind: 'forbidden', problem: `${reached} is not searchable by ${processUser()}; allow it (chmod a+x) or move it out of the root` };
    }
    return MISSING;
  }

  /** The canonical paths of the `.br` / `.zst` / `.gz` siblings of a file that pass the checks of a requested path. */
  async findPrecompressed(realPath: string): Promise<Map<ContentCoding, string>> {
    const candidates = await Promise.all(
      PRECOMPRESSED_EXTENSIONS.map(async ([coding, extension]): Promise<[ContentCoding, string] | undefined> => {
        try {
          // The sibling gets the same checks as any request path: it may be a symlink too.
          const real = await realpath(realPath + extension);
          if (!servableInside(this.config.realRoot, real, this.config.dotfiles) || this.insideCgiDir(real)) return undefined;
          return [coding, real];
        } catch {
          return undefined; // absent
        }
      }),
    );
    return new Map(candidates.filter((candidate) => candidate !== undefined));
  }

  /**
   * A small file whose request path passed every check, and whose cached version a stat confirmed, less than
   * FRESHNESS_MS ago: answered without touching the file system (the documented staleness bound).
   */
  private recentlyValidated(requestPath: string, cacheCanAnswer: (size: number) => boolean): OpenedEntry | undefined {
    const recent = this.recentValidations.get(requestPath, this.now());
    if (recent === undefined || !cacheCanAnswer(recent.stats.size)) return undefined;
    const cachedBytes = this.smallFiles.getVersion(recent.realPath, recent.stats);
    if (cachedBytes === undefined) return undefined;
    return { realPath: recent.realPath, stats: recent.stats, file: undefined, cachedBytes, validatedAt: recent.at };
  }

  /**
   * The cached bytes of a small file, if a stat of its canonical path shows the very version that was cached
   * (device, inode, size, mtime, ctime): one stat instead of open + fstat + read + close. The path checks
   * (realpath inside the root, dotfiles, CGI directory) have already been made for this request.
   */
  private async fromCache(realPath: string, cacheCanAnswer: (size: number) => boolean): Promise<OpenedEntry | undefined> {
    const size = this.smallFiles.cachedSize(realPath);
    if (size === undefined || !cacheCanAnswer(size)) return undefined;
    // Taken before the stat: the staleness bound counts from no later than the moment the file was looked at.
    const validatedAt = this.now();
    const stats = await statOrUndefined(realPath);
    if (stats === undefined || !stats.isFile()) return undefined;
    const cachedBytes = this.smallFiles.get(realPath, stats);
    return cachedBytes === undefined ? undefined : { realPath, stats, file: undefined, cachedBytes, validatedAt };
  }
}
