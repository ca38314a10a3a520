/**
 * The settings of serve({ compress }): which codings, from what size, which media types, how hard, how many at once.
 */
import * as zlib from 'node:zlib';
import { isCompressible } from '../../static/mime.js';
import type { ContentCoding } from '../../static/negotiation.js';

export type CompressionEncoding = ContentCoding;

export interface CompressOptions {
  /** Codings the server may use (default: br, zstd where available, gzip). Ties in the client's q-values go br > zstd > gzip. */
  encodings?: readonly CompressionEncoding[];
  /** Bodies of a known length below this many bytes are sent as they are (default 1024). */
  minSize?: number;
  /**
   * Which media types are compressed: a list of types (`text/html`) and type wildcards (`text/*`), or a predicate
   * given the Content-Type value. Default: text/*, +json, +xml and the types mime-db marks compressible (JSON,
   * JavaScript, XML, SVG, WebAssembly …).
   */
  types?: readonly string[] | ((contentType: string) => boolean);
  /** Compression levels: brotli quality 0–11 (default 4), gzip 1–9 (default 6), zstd 1–19 (default 3). */
  level?: { br?: number; gzip?: number; zstd?: number };
  /**
   * Responses being compressed at once (default 256); beyond it responses are sent unencoded (still with Vary).
   * Each live compressor holds its window and tables: about 1 MiB for brotli at quality 4, 300 KiB for gzip.
   */
  maxConcurrent?: number;
}

/** Whether this Node's zlib has zstd (Node 22.15 / 23.8 on; absent on Node 20). */
export const ZSTD_SUPPORTED = typeof (zlib as unknown as Record<string, unknown>)['createZstdCompress'] === 'function';

export interface Settings {
  encodings: CompressionEncoding[];
  minSize: number;
  compressible: (contentType: string) => boolean;
  level: { br: number; gzip: number; zstd: number };
  maxConcurrent: number;
}

function integerIn(value: unknown, min: number, max: number, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`compress.${name} must be an integer from ${min} to ${max} (got ${String(value)})`);
  }
  return value;
}

function typeMatcher(types: CompressOptions['types']): (contentType: string) => boolean {
  if (types === undefined) return isCompressible;
  if (typeof types === 'function') return types;
  if (!Array.isArray(types)) throw new TypeError('compress.types must be a list of media types or a function');
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const type of types) {
    const lower = String(type).trim().toLowerCase();
    if (lower.endsWith('/*')) prefixes.push(lower.slice(0, -1));
    else exact.add(lower);
  }
  return (contentType) => {
    const bare = contentType.split(';', 1)[0]!.trim().toLowerCase();
    return exact.has(bare) || prefixes.some((prefix) => bare.startsWith(prefix));
  };
}

export function resolveCompressOptions(options: true | CompressOptions): Settings {
  const given: CompressOptions = options === true ? {} : options;
  if (given === null || typeof given !== 'object') throw new TypeError('compress must be true or an options object');
  const available: CompressionEncoding[] = ZSTD_SUPPORTED ? ['br', 'zstd', 'gzip'] : ['br', 'gzip'];
  let encodings = available;
  if (given.encodings !== undefined) {
    for (const coding of given.encodings) {
      if (coding !== 'br' && coding !== 'gzip' && coding !== 'zstd') throw new TypeError(`compress.encodings: unknown coding ${JSON.stringify(coding)} (br, gzip, zstd)`);
    }
    // zstd asked for on a Node without it is left out rather than failing: the same options work on every version.
    encodings = available.filter((coding) => given.encodings!.includes(coding));
  }
  return {
    encodings,
    minSize: integerIn(given.minSize, 0, Number.MAX_SAFE_INTEGER, 'minSize', 1024),
    compressible: typeMatcher(given.types),
    level: {
      br: integerIn(given.level?.br, 0, 11, 'level.br', 4),
      gzip: integerIn(given.level?.gzip, 1, 9, 'level.gzip', 6),
      zstd: integerIn(given.level?.zstd, 1, 19, 'level.zstd', 3),
    },
    maxConcurrent: integerIn(given.maxConcurrent, 0, 1_000_000, 'maxConcurrent', 256),
  };
}
