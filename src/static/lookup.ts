/**
 * From decoded path segments to an open file or directory inside the root: realpath containment (symlinks may
 * point anywhere inside the root, never outside), hidden dotfiles, the CGI directory kept private, index files,
 * precompressed siblings (checked like any requested path), and the validated cache of small files.
 */
import { realpath } from 'node:fs/promises';
import { stat } from 'node:fs';
import type { Stats } from 'node:fs';
import { OpenFile } from './open-file.js';
import type { SmallFileCache } from './content-cache.js';
import { hasDotSegmentBelow, isInside, realpathInside } from './paths.js';
import type { ContentCoding } from './negotiation.js';
import type { StaticConfig } from './config.js';

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
}

const PRECOMPRESSED_EXTENSIONS: ReadonlyArray<[ContentCoding, string]> = [
  ['br', '.br'],
  ['zstd', '.zst'],
  ['gzip', '.gz'],
];

/** Opens `path` and describes it with fstat of the descriptor; undefined (and closed) unless `wanted` accepts it. */
async function openDescribed(path: string, wanted: (stats: Stats) => boolean): Promise<{ file: OpenFile; stats: Stats } | undefined> {
  let file: OpenFile;
  try {
    file = await OpenFile.open(path);
  } catch {
    return undefined;
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

/** Opens a regular file (a precompressed sibling), or undefined if it is absent or not a regular file. */
export function openRegularFile(path: string): Promise<{ file: OpenFile; stats: Stats } | undefined> {
  return openDescribed(path, (stats) => stats.isFile());
}

export class StaticLookup {
  constructor(
    private readonly config: StaticConfig,
    private readonly smallFiles: SmallFileCache,
  ) {}

  /** With CGI on, the scripts' source is never served as a static file, whatever URL reaches it. */
  insideCgiDir(realPath: string): boolean {
    return this.config.cgi !== undefined && isInside(this.config.cgi.realDir, realPath);
  }

  /**
   * Opens what the segments name inside the root (file or directory), or undefined (404 material).
   * With `cacheCanAnswer` (whether the request could be answered from a cached small file of that size), a small
   * file may come from the validated cache instead of being opened.
   */
  async open(segments: readonly string[], cacheCanAnswer?: (size: number) => boolean): Promise<OpenedEntry | undefined> {
    const realPath = await realpathInside(this.config.realRoot, segments, this.config.dotfiles);
    if (realPath === undefined || this.insideCgiDir(realPath)) return undefined;
    if (cacheCanAnswer !== undefined) {
      const cached = await this.fromCache(realPath, cacheCanAnswer);
      if (cached !== undefined) return cached;
    }
    const opened = await openDescribed(realPath, (stats) => stats.isFile() || stats.isDirectory());
    return opened === undefined ? undefined : { realPath, ...opened };
  }

  /** The first configured index file of the directory the segments name, open. */
  async findIndex(
    segments: readonly string[],
    cacheCanAnswer: (name: string) => (size: number) => boolean,
  ): Promise<{ entry: OpenedEntry; name: string } | undefined> {
    for (const name of this.config.index) {
      const entry = await this.open([...segments, name], cacheCanAnswer(name));
      if (entry?.stats.isFile()) return { entry, name };
      if (entry) entry.file?.close();
    }
    return undefined;
  }

  /** The canonical paths of the `.br` / `.zst` / `.gz` siblings of a file that pass the checks of a requested path. */
  async findPrecompressed(realPath: string): Promise<Map<ContentCoding, string>> {
    const candidates = await Promise.all(
      PRECOMPRESSED_EXTENSIONS.map(async ([coding, extension]): Promise<[ContentCoding, string] | undefined> => {
        try {
          // The sibling gets the same checks as any request path: it may be a symlink too.
          const real = await realpath(realPath + extension);
          if (!isInside(this.config.realRoot, real) || this.insideCgiDir(real)) return undefined;
          if (!this.config.dotfiles && hasDotSegmentBelow(this.config.realRoot, real)) return undefined;
          return [coding, real];
        } catch {
          return undefined; // absent
        }
      }),
    );
    return new Map(candidates.filter((candidate) => candidate !== undefined));
  }

  /**
   * The cached bytes of a small file, if a stat of its canonical path shows the very version that was cached
   * (device, inode, size, mtime, ctime): one stat instead of open + fstat + read + close. The path checks
   * (realpath inside the root, dotfiles, CGI directory) have already been made for this request.
   */
  private async fromCache(realPath: string, cacheCanAnswer: (size: number) => boolean): Promise<OpenedEntry | undefined> {
    const size = this.smallFiles.cachedSize(realPath);
    if (size === undefined || !cacheCanAnswer(size)) return undefined;
    const stats = await new Promise<Stats | undefined>((resolve) => stat(realPath, (error, result) => resolve(error ? undefined : result)));
    if (stats === undefined || !stats.isFile()) return undefined;
    const cachedBytes = this.smallFiles.get(realPath, stats);
    return cachedBytes === undefined ? undefined : { realPath, stats, file: undefined, cachedBytes };
  }
}
