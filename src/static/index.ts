/**
 * Static file serving as a web-standard fetch handler: `serveStatic(root, options)`.
 *
 * What a production file server does, safely by default: traversal-proof path mapping (paths.ts), index files and
 * trailing-slash redirects, directory listings, content types from mime-db, strong validators and the RFC 9110
 * conditional-request rules, byte ranges, precompressed and on-the-fly compression, constant-memory streaming,
 * and opt-in CGI (cgi.ts).
 */
import { realpath } from 'node:fs/promises';
import { realpathSync, stat, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { OpenFile } from './open-file.js';
import { SmallFileCache } from './content-cache.js';
import { FastResponse } from '../server/response.js';
import { randomBytes } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import type { FetchHandler, ServeInfo } from '../server/types.js';
import { UsageError } from '../common/errors.js';
import { contentTypeFor, isCompressible } from './mime.js';
import { decodePathSegments, encodePathSegments, hasDotSegmentBelow, isInside, realpathInside } from './paths.js';
import { acceptsHtml, chooseEncoding, prefersJson } from './negotiation.js';
import type { ContentCoding } from './negotiation.js';
import { evaluatePreconditions, ifRangeAllows } from './conditional.js';
import type { Validators } from './conditional.js';
import { parseRange } from './ranges.js';
import type { ByteRange } from './ranges.js';
import { CHUNK_SIZE, compressedFileStream, fileStream, onTheFlyCodings } from './bodies.js';
import type { OnTheFlyCoding } from './bodies.js';
import { readListing, renderListingHtml, renderListingJson } from './listing.js';
import type { SortKey } from './listing.js';
import { runCgi, DEFAULT_CGI_PREFIX, DEFAULT_CGI_TIMEOUT_MS } from './cgi.js';
import type { CgiSettings } from './cgi.js';

export interface StaticOptions {
  /** Serve names starting with "." (default false: they are 404, and hidden from listings). */
  dotfiles?: boolean;
  /** Directory listings when a directory has no index file (default true). */
  listing?: boolean;
  /** Index file names tried in a directory, in order (default ['index.html']). */
  index?: string[];
  /** Cache-Control for files (default "no-cache": always revalidate, cheap thanks to ETag / 304). */
  cacheControl?: string;
  /** Single-page app: unknown paths answer the root index.html with 200. */
  spa?: boolean;
  /** CORS: true → `access-control-allow-origin: *`, a string → that origin. */
  cors?: boolean | string;
  /** Extra headers on every response. */
  headers?: Record<string, string>;
  /** Compress compressible types on the fly (default true). */
  compression?: boolean;
  /** Serve `.br` / `.zst` / `.gz` siblings when accepted (default true). */
  precompressed?: boolean;
  /** CGI (RFC 3875), off unless given. */
  cgi?: false | { prefix?: string; timeoutMs?: number; dir?: string; maxConcurrent?: number };
  /** Send ETag (default true). Last-Modified is always sent. */
  etag?: boolean;
  /** Where operational problems (failing CGI scripts, read errors) are reported. Default console.error. */
  log?: (line: string) => void;
}

/** Files smaller than this are not compressed on the fly: the gain is lost in framing and CPU. */
export const COMPRESSION_THRESHOLD = 1024;
/** Bound on CGI local redirects (RFC 3875 §6.2.2) followed for one request, against loops. */
const MAX_INTERNAL_REDIRECTS = 5;
const DEFAULT_CACHE_CONTROL = 'no-cache';
const PRECOMPRESSED_EXTENSIONS: ReadonlyArray<[ContentCoding, string]> = [
  ['br', '.br'],
  ['zstd', '.zst'],
  ['gzip', '.gz'],
];
const CONTENT_CODING_TOKEN: Record<ContentCoding, string> = { br: 'br', zstd: 'zstd', gzip: 'gzip' };
const ETAG_SUFFIX: Record<ContentCoding, string> = { br: 'br', zstd: 'zst', gzip: 'gz' };

interface Config {
  realRoot: string;
  dotfiles: boolean;
  listing: boolean;
  index: string[];
  cacheControl: string;
  spa: boolean;
  corsOrigin: string | undefined;
  extraHeaders: Array<[string, string]>;
  compression: boolean;
  precompressed: boolean;
  etag: boolean;
  cgi: CgiSettings | undefined;
  log: (line: string) => void;
}

function canonicalDirectory(path: string, what: string): string {
  let real: string;
  try {
    real = realpathSync(resolvePath(path));
  } catch {
    throw new UsageError(`${what} ${path} does not exist or is not readable; pass an existing directory.`);
  }
  if (!statSync(real).isDirectory()) throw new UsageError(`${what} ${path} is not a directory; pass a directory.`);
  return real;
}

function buildConfig(root: string, options: StaticOptions): Config {
  const realRoot = canonicalDirectory(root, 'Static root');
  const extraHeaders: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    try {
      new Headers([[name, value]]);
    } catch {
      throw new UsageError(`Invalid header "${name}: ${value}"; use a token name and a value without control characters.`);
    }
    extraHeaders.push([name.toLowerCase(), value]);
  }
  const cacheControl = options.cacheControl ?? DEFAULT_CACHE_CONTROL;
  if (/[\r\n\0]/.test(cacheControl)) throw new UsageError('Invalid cache-control value: it must not contain line breaks.');
  const index = options.index ?? ['index.html'];
  for (const name of index) {
    if (name === '' || /[/\\\0]/.test(name) || name === '.' || name === '..') {
      throw new UsageError(`Invalid index file name "${name}": use a plain file name such as index.html.`);
    }
  }
  let cgi: CgiSettings | undefined;
  if (options.cgi) {
    let prefix = options.cgi.prefix ?? DEFAULT_CGI_PREFIX;
    if (!prefix.startsWith('/')) prefix = '/' + prefix;
    if (!prefix.endsWith('/')) prefix += '/';
    if (prefix === '/') throw new UsageError('The CGI prefix cannot be "/"; use a path such as /cgi-bin/.');
    const timeoutMs = options.cgi.timeoutMs ?? DEFAULT_CGI_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new UsageError('The CGI timeout must be a positive number of milliseconds.');
    const dir = options.cgi.dir ?? resolvePath(realRoot, 'cgi-bin');
    cgi = {
      prefix,
      timeoutMs,
      realDir: canonicalDirectory(dir, 'CGI directory'),
      realRoot,
      maxConcurrent: options.cgi.maxConcurrent ?? 64,
    };
  }
  let corsOrigin: string | undefined;
  if (options.cors === true) corsOrigin = '*';
  else if (typeof options.cors === 'string' && options.cors !== '') {
    if (/[\r\n\0\s,]/.test(options.cors)) throw new UsageError(`Invalid CORS origin "${options.cors}"; use * or one origin like https://example.com.`);
    corsOrigin = options.cors;
  }
  return {
    realRoot,
    dotfiles: options.dotfiles ?? false,
    listing: options.listing ?? true,
    index,
    cacheControl,
    spa: options.spa ?? false,
    corsOrigin,
    extraHeaders,
    compression: options.compression ?? true,
    precompressed: options.precompressed ?? true,
    etag: options.etag ?? true,
    cgi,
    log: options.log ?? ((line) => console.error(line)),
  };
}

/** A file or directory inside the root, open, described by fstat of its descriptor. */
interface OpenedEntry {
  realPath: string;
  stats: Stats;
  /**
   * Undefined only for a small file answered from the validated cache (`cachedBytes`), which is only used for
   * requests that need nothing but those bytes (no Range, no encoding to choose).
   */
  file: OpenFile | undefined;
  cachedBytes?: Uint8Array<ArrayBuffer>;
}

/** A representation of a file: the identity bytes, a precompressed sibling, or an on-the-fly encoding. */
interface Variant {
  coding: ContentCoding | 'identity';
  onTheFly: boolean;
  /** Path of the bytes to read (the sibling for a precompressed variant). */
  path: string;
  stats: Stats;
}

function entityTag(stats: Stats, coding: ContentCoding | 'identity', onTheFly: boolean): string {
  // size + mtime (µs) + inode: changes whenever the content can have changed, without hashing the file.
  const base = `${stats.size.toString(16)}-${Math.floor(stats.mtimeMs * 1000).toString(16)}-${stats.ino.toString(16)}`;
  if (coding === 'identity') return `"${base}"`;
  const tagged = `"${base}-${ETAG_SUFFIX[coding]}"`;
  // On-the-fly output depends on the zlib version and settings, so it is only weakly the same each time.
  return onTheFly ? `W/${tagged}` : tagged;
}

/**
 * The body of a HEAD response: empty, but a stream rather than null, so that a server treats the declared
 * Content-Length as the length GET would send (RFC 9110 §9.3.2) instead of the length of "no body" (0).
 */
function headBody(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ pull: (controller) => controller.close() });
}

/** Files up to this size are read in one go instead of streamed (the same bound as one stream chunk). */
const SMALL_FILE_SIZE = CHUNK_SIZE;

/** Bounds of the per-handler cache of small files' bytes (validated against fstat on every request). */
const SMALL_FILE_CACHE_ENTRIES = 2048;
const SMALL_FILE_CACHE_BYTES = 16 * 1024 * 1024;

/** Reads exactly `size` bytes from the start of the file, or undefined if it shrank meanwhile. */
async function readWhole(file: OpenFile, size: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const buffer = Buffer.allocUnsafe(size);
  let filled = 0;
  while (filled < size) {
    const bytesRead = await file.read(buffer, filled, size - filled, filled);
    if (bytesRead === 0) return undefined;
    filled += bytesRead;
  }
  return buffer;
}

async function openRegularFile(path: string): Promise<{ file: OpenFile; stats: Stats } | undefined> {
  let file: OpenFile;
  try {
    file = await OpenFile.open(path);
  } catch {
    return undefined;
  }
  try {
    const stats = await file.stat();
    if (stats.isFile()) return { file, stats };
  } catch {
    // fall through
  }
  file.close();
  return undefined;
}

export function serveStatic(root: string, options: StaticOptions = {}): FetchHandler {
  const config = buildConfig(root, options);
  const smallFiles = new SmallFileCache(SMALL_FILE_CACHE_ENTRIES, SMALL_FILE_CACHE_BYTES);

  /** withCommonHeaders for a plain record (lowercase names), which FastResponse hands to the server as is. */
  function withCommonFields(fields: Record<string, string>): Record<string, string> {
    fields['x-content-type-options'] = 'nosniff';
    if (config.corsOrigin !== undefined) {
      fields['access-control-allow-origin'] = config.corsOrigin;
      fields['access-control-expose-headers'] =
        'content-length, content-range, content-encoding, accept-ranges, etag, last-modified';
      if (config.corsOrigin !== '*') fields['vary'] = fields['vary'] ? `${fields['vary']}, origin` : 'origin';
    }
    for (const [name, value] of config.extraHeaders) fields[name] = value;
    return fields;
  }

  function withCommonHeaders(headers: Headers): Headers {
    headers.set('x-content-type-options', 'nosniff');
    if (config.corsOrigin !== undefined) {
      headers.set('access-control-allow-origin', config.corsOrigin);
      headers.set(
        'access-control-expose-headers',
        'content-length, content-range, content-encoding, accept-ranges, etag, last-modified',
      );
      if (config.corsOrigin !== '*') headers.append('vary', 'origin');
    }
    for (const [name, value] of config.extraHeaders) headers.set(name, value);
    return headers;
  }

  function textResponse(status: number, message: string, init: Record<string, string> = {}, head = false): Response {
    const body = `${message}\n`;
    const headers = new Headers(init);
    headers.set('content-type', 'text/plain; charset=utf-8');
    headers.set('content-length', String(Buffer.byteLength(body)));
    return new Response(head ? headBody() : body, { status, headers: withCommonHeaders(headers) });
  }

  async function findPrecompressed(realPath: string): Promise<Map<ContentCoding, string>> {
    const candidates = await Promise.all(
      PRECOMPRESSED_EXTENSIONS.map(async ([coding, extension]): Promise<[ContentCoding, string] | undefined> => {
        try {
          // The sibling gets the same checks as any request path: it may be a symlink too.
          const real = await realpath(realPath + extension);
          if (!isInside(config.realRoot, real) || insideCgiDir(real)) return undefined;
          if (!config.dotfiles && hasDotSegmentBelow(config.realRoot, real)) return undefined;
          return [coding, real];
        } catch {
          return undefined; // absent
        }
      }),
    );
    return new Map(candidates.filter((candidate) => candidate !== undefined));
  }

  /**
   * Picks the representation to send. Returns it with its file already open (the identity handle is reused;
   * a precompressed sibling is opened instead, and the identity handle closed).
   */
  async function chooseVariant(
    request: Request,
    entry: OpenedEntry,
    contentType: string,
    useRanges: boolean,
  ): Promise<{ variant: Variant; file: OpenFile | undefined }> {
    const identity = { variant: { coding: 'identity', onTheFly: false, path: entry.realPath, stats: entry.stats } as Variant, file: entry.file };
    const acceptEncoding = request.headers.get('accept-encoding');
    // Ranges are always served from the identity representation: byte offsets of an encoding nobody stored are meaningless.
    if (!acceptEncoding || useRanges || entry.file === undefined) return identity;
    // Below the threshold an encoding saves nothing worth a round trip through the file system; and siblings are
    // only looked for where they make sense, sparing three lookups per image request.
    const compressible = entry.stats.size >= COMPRESSION_THRESHOLD && isCompressible(contentType);
    if (config.precompressed && compressible) {
      const siblings = await findPrecompressed(entry.realPath);
      if (siblings.size > 0) {
        const coding = chooseEncoding(acceptEncoding, [...siblings.keys()]);
        if (coding !== 'identity') {
          const path = siblings.get(coding)!;
          const sibling = await openRegularFile(path);
          if (sibling) {
            entry.file.close();
            return { variant: { coding, onTheFly: false, path, stats: sibling.stats }, file: sibling.file };
          }
        }
      }
    }
    if (config.compression && compressible) {
      const coding = chooseEncoding(acceptEncoding, onTheFlyCodings());
      if (coding !== 'identity') return { variant: { ...identity.variant, coding, onTheFly: true }, file: entry.file };
    }
    return identity;
  }

  function validatorsFor(variant: Variant): Validators {
    return {
      etag: entityTag(variant.stats, variant.coding, variant.onTheFly),
      lastModifiedSeconds: Math.floor(variant.stats.mtimeMs / 1000),
    };
  }

  /** Serves an open regular file; takes ownership of `entry.file` (closed here or by the body stream). */
  async function serveFile(request: Request, entry: OpenedEntry, displayName: string): Promise<Response> {
    const method = request.method;
    const contentType = contentTypeFor(displayName);
    const rangeHeader = method === 'GET' ? request.headers.get('range') : null;
    let chosen: { variant: Variant; file: OpenFile | undefined };
    try {
      chosen = await chooseVariant(request, entry, contentType, rangeHeader !== null);
    } catch (error) {
      entry.file?.close();
      throw error;
    }
    const variant = chosen.variant;
    // Validators come from fstat of the descriptor we read from (or, for cached bytes, from the stat that proved
    // them to be this very version), so headers describe exactly the bytes sent.
    let opened: { file: OpenFile | undefined } | undefined = { file: chosen.file };
    const release = (): void => {
      opened?.file?.close();
      opened = undefined;
    };
    /** Moves ownership of the descriptor to a body stream. */
    const takeFile = (): OpenFile => {
      const file = opened?.file;
      // Unreachable: cached entries are only used for requests that need no descriptor (see cacheServes).
      if (file === undefined) throw new Error('no open file for a request that needs one');
      opened = undefined;
      return file;
    };
    const status = 200;

    try {
      const validators = validatorsFor(variant);
      // A plain record rather than Headers: the common small-file answer never needs a Headers object at all.
      const fields: Record<string, string> = {
        vary: 'accept-encoding',
        'cache-control': config.cacheControl,
        'last-modified': new Date(validators.lastModifiedSeconds * 1000).toUTCString(),
      };
      if (config.etag) fields['etag'] = validators.etag;

      const outcome = evaluatePreconditions(request.headers, validators, method);
      if (outcome === 'not-modified') {
        // RFC 9110 §15.4.5: a 304 carries the validators, Cache-Control and Vary it would have sent with 200.
        release();
        return new FastResponse(null, { status: 304, headers: withCommonFields(fields) });
      }
      if (outcome === 'precondition-failed') {
        release();
        return textResponse(412, 'Precondition Failed', { ...fields }, method === 'HEAD');
      }

      fields['content-type'] = contentType;
      const size = variant.stats.size;
      if (variant.coding !== 'identity') fields['content-encoding'] = CONTENT_CODING_TOKEN[variant.coding];
      if (!variant.onTheFly) fields['accept-ranges'] = 'bytes';

      if (rangeHeader !== null && variant.coding === 'identity' && ifRangeAllows(request.headers.get('if-range'), validators)) {
        const parsed = parseRange(rangeHeader, size);
        if (parsed.kind === 'unsatisfiable') {
          release();
          const { 'content-type': _ignored, ...others } = fields;
          return textResponse(416, 'Range Not Satisfiable', { ...others, 'content-range': `bytes */${size}` });
        }
        if (parsed.kind === 'ranges') {
          const file = takeFile();
          return rangeResponse(file, parsed.ranges, size, contentType, new Headers(fields));
        }
      }

      if (variant.onTheFly) {
        // Length unknown until compressed: no content-length, the server frames it (chunked / DATA frames).
        if (method === 'HEAD') return new Response(headBody(), { status, headers: withCommonHeaders(new Headers(fields)) });
        const file = takeFile();
        const body = compressedFileStream(file, size, variant.coding as OnTheFlyCoding);
        return new Response(body, { status, headers: withCommonHeaders(new Headers(fields)) });
      }

      fields['content-length'] = String(size);
      if (method === 'HEAD') {
        release();
        return new Response(headBody(), { status, headers: withCommonHeaders(new Headers(fields)) });
      }
      if (size === 0) {
        release();
        return new FastResponse(new Uint8Array(0), { status, headers: withCommonFields(fields) });
      }
      if (size <= SMALL_FILE_SIZE) {
        // One read (none when the validated cache has this exact version) and a byte body in a FastResponse:
        // for small files a stream, an undici Response and a Headers object would cost more than the I/O.
        let bytes = variant.coding === 'identity' ? entry.cachedBytes : undefined;
        bytes ??= smallFiles.get(variant.path, variant.stats);
        if (bytes === undefined) {
          const file = opened?.file;
          if (file === undefined) throw new Error('no open file for a request that needs one');
          bytes = await readWhole(file, size);
          if (bytes === undefined) return textResponse(500, 'Internal Server Error');
          smallFiles.set(variant.path, variant.stats, bytes);
        }
        return new FastResponse(bytes, { status, headers: withCommonFields(fields) });
      }
      const file = takeFile();
      return new Response(fileStream(file, [{ start: 0, end: size - 1 }]), { status, headers: withCommonHeaders(new Headers(fields)) });
    } finally {
      release();
    }
  }

  function rangeResponse(file: OpenFile, ranges: ByteRange[], size: number, contentType: string, headers: Headers): Response {
    if (ranges.length === 1) {
      const [range] = ranges as [ByteRange];
      headers.set('content-range', `bytes ${range.start}-${range.end}/${size}`);
      headers.set('content-length', String(range.end - range.start + 1));
      return new Response(fileStream(file, [range]), { status: 206, headers: withCommonHeaders(headers) });
    }
    // RFC 9110 §14.6: multipart/byteranges, each part with its own Content-Type and Content-Range.
    const boundary = randomBytes(12).toString('hex');
    const pieces: Array<ByteRange | Uint8Array> = [];
    let length = 0;
    ranges.forEach((range, index) => {
      const partHead = Buffer.from(
        `${index === 0 ? '' : '\r\n'}--${boundary}\r\ncontent-type: ${contentType}\r\ncontent-range: bytes ${range.start}-${range.end}/${size}\r\n\r\n`,
      );
      pieces.push(partHead, range);
      length += partHead.length + (range.end - range.start + 1);
    });
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    pieces.push(tail);
    length += tail.length;
    headers.set('content-type', `multipart/byteranges; boundary=${boundary}`);
    headers.set('content-length', String(length));
    return new Response(fileStream(file, pieces), { status: 206, headers: withCommonHeaders(headers) });
  }

  async function serveListing(request: Request, url: URL, directory: string, segments: string[]): Promise<Response> {
    let listing: Awaited<ReturnType<typeof readListing>>;
    try {
      listing = await readListing(config.realRoot, directory, config.dotfiles);
    } catch {
      // Unreadable (permissions) or vanished: looks like any other missing path.
      return textResponse(404, 'Not Found', {}, request.method === 'HEAD');
    }
    const sortParam = url.searchParams.get('sort');
    const key: SortKey = sortParam === 'size' || sortParam === 'date' ? sortParam : 'name';
    const descending = url.searchParams.get('order') === 'desc';
    const json = prefersJson(request.headers.get('accept'));
    const body = json
      ? renderListingJson(listing, key, descending)
      : renderListingHtml('/' + segments.map((s) => s + '/').join(''), listing, key, descending, segments.length === 0);
    const bytes = Buffer.from(body);
    const headers = new Headers({
      'content-type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
      'content-length': String(bytes.length),
      'cache-control': 'no-cache',
      vary: 'accept, accept-encoding',
    });
    // The page is ours and has no script: forbid any, so a crafted file name could not run one even if escaping failed.
    if (!json) headers.set('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    return new Response(request.method === 'HEAD' ? headBody() : bytes, { status: 200, headers: withCommonHeaders(headers) });
  }

  /**
   * Whether a cached small file can answer this request without a descriptor: no Range, and no content coding
   * to choose (chooseVariant would pick identity without looking at the file system).
   */
  function cacheServes(request: Request, size: number, displayName: string): boolean {
    if (request.headers.get('range') !== null) return false;
    if (!config.precompressed && !config.compression) return true;
    return size < COMPRESSION_THRESHOLD || !request.headers.get('accept-encoding') || !isCompressible(contentTypeFor(displayName));
  }

  /**
   * The cached bytes of a small file, if a stat of its canonical path shows the very version that was cached
   * (device, inode, size, mtime, ctime): one stat instead of open + fstat + read + close. The path checks
   * (realpath inside the root, dotfiles, CGI directory) have already been made for this request.
   */
  async function fromCache(request: Request, realPath: string, displayName: string | undefined): Promise<OpenedEntry | undefined> {
    const size = displayName === undefined ? undefined : smallFiles.cachedSize(realPath);
    if (size === undefined || !cacheServes(request, size, displayName!)) return undefined;
    const stats = await new Promise<Stats | undefined>((resolve) => stat(realPath, (error, result) => resolve(error ? undefined : result)));
    if (stats === undefined || !stats.isFile()) return undefined;
    const cachedBytes = smallFiles.get(realPath, stats);
    return cachedBytes === undefined ? undefined : { realPath, stats, file: undefined, cachedBytes };
  }

  /**
   * Opens what the segments name inside the root (file or directory), or undefined (404 material).
   * Given the request and the name it will be served under, a small file may come from the validated cache instead.
   */
  async function openInsideRoot(segments: readonly string[], request?: Request, displayName?: string): Promise<OpenedEntry | undefined> {
    const realPath = await realpathInside(config.realRoot, segments, config.dotfiles);
    if (realPath === undefined || insideCgiDir(realPath)) return undefined;
    if (request !== undefined) {
      const cached = await fromCache(request, realPath, displayName);
      if (cached !== undefined) return cached;
    }
    let file: OpenFile;
    try {
      file = await OpenFile.open(realPath);
    } catch {
      return undefined;
    }
    try {
      const stats = await file.stat();
      if (stats.isFile() || stats.isDirectory()) return { realPath, stats, file };
    } catch {
      // fall through
    }
    file.close();
    return undefined;
  }

  async function findIndex(segments: string[], request: Request): Promise<{ entry: OpenedEntry; name: string } | undefined> {
    for (const name of config.index) {
      const entry = await openInsideRoot([...segments, name], request, name);
      if (entry?.stats.isFile()) return { entry, name };
      if (entry) entry.file?.close();
    }
    return undefined;
  }

  function insideCgiDir(realPath: string): boolean {
    // With CGI on, the scripts' source is never served as a static file, whatever URL reaches it.
    return config.cgi !== undefined && isInside(config.cgi.realDir, realPath);
  }

  function preflight(request: Request): Response {
    const headers = new Headers({ allow: 'GET, HEAD, OPTIONS' });
    if (config.corsOrigin !== undefined) {
      headers.set('access-control-allow-methods', 'GET, HEAD, OPTIONS');
      const requested = request.headers.get('access-control-request-headers');
      headers.set(
        'access-control-allow-headers',
        requested && requested.length <= 1024 && /^[\w\-, ]*$/.test(requested)
          ? requested
          : 'range, if-match, if-none-match, if-modified-since, if-unmodified-since, if-range',
      );
      headers.set('access-control-max-age', '600');
    }
    return new Response(null, { status: 204, headers: withCommonHeaders(headers) });
  }

  async function dispatch(request: Request, info: ServeInfo, depth: number): Promise<Response> {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      // An authority the URL parser rejects (e.g. a Host header with spaces): the client's fault, not ours.
      return textResponse(400, 'Bad Request');
    }
    const method = request.method;
    if (config.cgi && (url.pathname.startsWith(config.cgi.prefix) || url.pathname === config.cgi.prefix.slice(0, -1))) {
      const response = await runCgi(request, info, url, config.cgi, config.log, (next) => {
        if (depth >= MAX_INTERNAL_REDIRECTS) {
          config.log(`cgi: more than ${MAX_INTERNAL_REDIRECTS} local redirects for ${url.pathname}`);
          return Promise.resolve(textResponse(502, 'Bad Gateway'));
        }
        return dispatch(next, info, depth + 1);
      });
      for (const [name, value] of config.extraHeaders) if (!response.headers.has(name)) response.headers.set(name, value);
      return response;
    }
    if (method === 'OPTIONS') return preflight(request);
    if (method !== 'GET' && method !== 'HEAD') {
      return textResponse(405, 'Method Not Allowed', { allow: 'GET, HEAD, OPTIONS' });
    }
    const head = method === 'HEAD';
    const decoded = decodePathSegments(url.pathname, config.dotfiles);
    if (!decoded.ok) return textResponse(decoded.status, decoded.status === 400 ? 'Bad Request' : 'Not Found', {}, head);
    const { segments, trailingSlash } = decoded;
    const entry = await openInsideRoot(segments, request, trailingSlash ? undefined : segments[segments.length - 1]);

    if (entry?.stats.isDirectory()) {
      entry.file?.close();
      if (!trailingSlash) {
        // Relative links inside an index page only work with the slash; keep the query string.
        const location = (segments.length === 0 ? '/' : encodePathSegments(segments) + '/') + url.search;
        const headers = withCommonHeaders(new Headers({ location, 'content-length': '0' }));
        return new Response(null, { status: 301, headers });
      }
      const index = await findIndex(segments, request);
      if (index) return serveFile(request, index.entry, index.name);
      if (config.listing) return serveListing(request, url, entry.realPath, segments);
      return notFound(request, head);
    }
    if (entry && !trailingSlash) return serveFile(request, entry, segments[segments.length - 1]!);
    if (entry) entry.file?.close();
    return notFound(request, head);
  }

  async function notFound(request: Request, head: boolean): Promise<Response> {
    if (config.spa) {
      // Client-side routes (no extension, or a browser asking for a page) get the app shell; missing assets stay 404.
      const path = new URL(request.url).pathname;
      const last = path.slice(path.lastIndexOf('/') + 1);
      if (!last.includes('.') || acceptsHtml(request.headers.get('accept'))) {
        const index = await findIndex([], request);
        if (index) return serveFile(request, index.entry, index.name);
      }
    }
    return textResponse(404, 'Not Found', {}, head);
  }

  return async function staticHandler(request: Request, info: ServeInfo): Promise<Response> {
    try {
      return await dispatch(request, info, 0);
    } catch (error) {
      config.log(`static: ${request.method} ${request.url}: ${error instanceof Error ? error.message : String(error)}`);
      return textResponse(500, 'Internal Server Error');
    }
  };
}
