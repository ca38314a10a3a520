/**
 * The response for one open regular file: the representation (identity, a precompressed sibling, or compressed on
 * the fly, chosen by Accept-Encoding), strong validators and the RFC 9110 conditional-request rules, byte ranges
 * (one, or multipart/byteranges), and the body: bytes for small files (from the validated cache when it holds this
 * very version), a pull-based stream otherwise.
 */
import type { Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { OpenFile } from './open-file.js';
import type { SmallFileCache } from './content-cache.js';
import { FastResponse } from '../server/response.js';
import { contentTypeFor, isCompressible } from './mime.js';
import { chooseEncoding } from './negotiation.js';
import type { ContentCoding } from './negotiation.js';
import { evaluatePreconditions, ifRangeAllows } from './conditional.js';
import type { Validators } from './conditional.js';
import { parseRange } from './ranges.js';
import type { ByteRange } from './ranges.js';
import { CHUNK_SIZE, compressedFileStream, fileStream, onTheFlyCodings } from './bodies.js';
import type { OnTheFlyCoding } from './bodies.js';
import { headBody, textResponse, withCommonFields, withCommonHeaders } from './common-headers.js';
import { openRegularFile } from './lookup.js';
import type { OpenedEntry, StaticLookup } from './lookup.js';
import type { HotFiles } from './hot-files.js';
import type { StaticConfig } from './config.js';

/** Files smaller than this are not compressed on the fly: the gain is lost in framing and CPU. */
export const COMPRESSION_THRESHOLD = 1024;
/** Files up to this size are read in one go instead of streamed (the same bound as one stream chunk). */
const SMALL_FILE_SIZE = CHUNK_SIZE;
/**
 * Larger files up to this size are read in one go too when the cache will keep them (a settled version, room in
 * the cache, and fewer than WHOLE_READS_IN_FLIGHT_BYTES being read that way): later requests are answered from
 * memory, like small files. Otherwise, and above this size, they are streamed in CHUNK_SIZE pieces.
 */
export const WHOLE_FILE_CACHE_SIZE = 1024 * 1024;
/** Bound on the bytes of files being read whole at once (each is held in memory until sent). */
const WHOLE_READS_IN_FLIGHT_BYTES = 8 * 1024 * 1024;

const CONTENT_CODING_TOKEN: Record<ContentCoding, string> = { br: 'br', zstd: 'zstd', gzip: 'gzip' };
const ETAG_SUFFIX: Record<ContentCoding, string> = { br: 'br', zstd: 'zst', gzip: 'gz' };

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

export class FileResponder {
  constructor(
    private readonly config: StaticConfig,
    private readonly lookup: StaticLookup,
    private readonly smallFiles: SmallFileCache,
    private readonly hotFiles: HotFiles,
  ) {}

  /** Bytes of larger files being read whole right now (see WHOLE_FILE_CACHE_SIZE). */
  private wholeReadsInFlight = 0;

  /**
   * For the lookup: whether a cached small file of a given size, served under `displayName`, could answer this
   * request without a descriptor.
   */
  cacheCanAnswer(request: Request, displayName: string): (size: number) => boolean {
    return (size) => this.cacheServes(request, size, displayName);
  }

  /**
   * Picks the representation to send. Returns it with its file already open (the identity handle is reused;
   * a precompressed sibling is opened instead, and the identity handle closed).
   */
  private async chooseVariant(
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
    if (this.config.precompressed && compressible) {
      const siblings = await this.lookup.findPrecompressed(entry.realPath);
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
    if (this.config.compression && compressible) {
      const coding = chooseEncoding(acceptEncoding, onTheFlyCodings());
      if (coding !== 'identity') return { variant: { ...identity.variant, coding, onTheFly: true }, file: entry.file };
    }
    return identity;
  }

  private validatorsFor(variant: Variant): Validators {
    return {
      etag: entityTag(variant.stats, variant.coding, variant.onTheFly),
      lastModifiedSeconds: Math.floor(variant.stats.mtimeMs / 1000),
    };
  }

  /**
   * Serves an open regular file; takes ownership of `entry.file` (closed here or by the body stream).
   * `pathname`: the request path that named the file directly (not through an index), under which a 200 built from
   * validated cached bytes is remembered in the hot files.
   */
  async serve(request: Request, entry: OpenedEntry, displayName: string, pathname?: string): Promise<Response> {
    const method = request.method;
    const contentType = contentTypeFor(displayName);
    const rangeHeader = method === 'GET' ? request.headers.get('range') : null;
    let chosen: { variant: Variant; file: OpenFile | undefined };
    try {
      chosen = await this.chooseVariant(request, entry, contentType, rangeHeader !== null);
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
      const validators = this.validatorsFor(variant);
      // A plain record rather than Headers: the common small-file answer never needs a Headers object at all.
      const fields: Record<string, string> = {
        vary: 'accept-encoding',
        'cache-control': this.config.cacheControl,
        'last-modified': new Date(validators.lastModifiedSeconds * 1000).toUTCString(),
      };
      if (this.config.etag) fields['etag'] = validators.etag;

      const outcome = evaluatePreconditions(request.headers, validators, method);
      if (outcome === 'not-modified') {
        // RFC 9110 §15.4.5: a 304 carries the validators, Cache-Control and Vary it would have sent with 200.
        release();
        return new FastResponse(null, { status: 304, headers: withCommonFields(this.config, fields) });
      }
      if (outcome === 'precondition-failed') {
        release();
        return textResponse(this.config, 412, 'Precondition Failed', { ...fields }, method === 'HEAD');
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
          return textResponse(this.config, 416, 'Range Not Satisfiable', { ...others, 'content-range': `bytes */${size}` });
        }
        if (parsed.kind === 'ranges') {
          const file = takeFile();
          return this.rangeResponse(file, parsed.ranges, size, contentType, new Headers(fields));
        }
      }

      if (variant.onTheFly) {
        // Length unknown until compressed: no content-length, the server frames it (chunked / DATA frames).
        if (method === 'HEAD') return new Response(headBody(), { status, headers: withCommonHeaders(this.config, new Headers(fields)) });
        const file = takeFile();
        const body = compressedFileStream(file, size, variant.coding as OnTheFlyCoding);
        return new Response(body, { status, headers: withCommonHeaders(this.config, new Headers(fields)) });
      }

      fields['content-length'] = String(size);
      if (method === 'HEAD') {
        release();
        return new Response(headBody(), { status, headers: withCommonHeaders(this.config, new Headers(fields)) });
      }
      if (size === 0) {
        release();
        return new FastResponse(new Uint8Array(0), { status, headers: withCommonFields(this.config, fields) });
      }
      let bytes = variant.coding === 'identity' ? entry.cachedBytes : undefined;
      if (bytes === undefined && size <= WHOLE_FILE_CACHE_SIZE) bytes = this.smallFiles.get(variant.path, variant.stats);
      const readWholeFile = bytes === undefined && (size <= SMALL_FILE_SIZE || this.mayReadWhole(variant.stats));
      if (bytes !== undefined || readWholeFile) {
        // One read (none when the validated cache has this exact version) and a byte body in a FastResponse:
        // for small files a stream, an undici Response and a Headers object would cost more than the I/O.
        if (bytes === undefined) {
          const file = opened?.file;
          if (file === undefined) throw new Error('no open file for a request that needs one');
          const counted = size > SMALL_FILE_SIZE ? size : 0;
          this.wholeReadsInFlight += counted;
          try {
            bytes = await readWhole(file, size);
          } finally {
            this.wholeReadsInFlight -= counted;
          }
          if (bytes === undefined) return textResponse(this.config, 500, 'Internal Server Error');
          this.smallFiles.set(variant.path, variant.stats, bytes);
        }
        const headers = withCommonFields(this.config, fields);
        if (pathname !== undefined && entry.validatedAt !== undefined && bytes === entry.cachedBytes) {
          this.hotFiles.record(pathname, bytes, headers, entry.validatedAt, !this.encodingMatters(size, contentType));
        }
        return new FastResponse(bytes, { status, headers });
      }
      const file = takeFile();
      return new Response(fileStream(file, [{ start: 0, end: size - 1 }]), { status, headers: withCommonHeaders(this.config, new Headers(fields)) });
    } finally {
      release();
    }
  }

  private rangeResponse(file: OpenFile, ranges: ByteRange[], size: number, contentType: string, headers: Headers): Response {
    if (ranges.length === 1) {
      const [range] = ranges as [ByteRange];
      headers.set('content-range', `bytes ${range.start}-${range.end}/${size}`);
      headers.set('content-length', String(range.end - range.start + 1));
      return new Response(fileStream(file, [range]), { status: 206, headers: withCommonHeaders(this.config, headers) });
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
    return new Response(fileStream(file, pieces), { status: 206, headers: withCommonHeaders(this.config, headers) });
  }

  /**
   * Whether a cached small file can answer this request without a descriptor: no Range, and no content coding
   * to choose (chooseVariant would pick identity without looking at the file system).
   */
  private cacheServes(request: Request, size: number, displayName: string): boolean {
    if (request.headers.get('range') !== null) return false;
    return !request.headers.get('accept-encoding') || !this.encodingMatters(size, contentTypeFor(displayName));
  }

  /** Whether a file larger than SMALL_FILE_SIZE is read in one go, to be cached (see WHOLE_FILE_CACHE_SIZE). */
  private mayReadWhole(stats: Stats): boolean {
    const size = stats.size;
    return (
      size <= WHOLE_FILE_CACHE_SIZE &&
      this.wholeReadsInFlight + size <= WHOLE_READS_IN_FLIGHT_BYTES &&
      this.smallFiles.wouldKeep(stats)
    );
  }

  /** Whether Accept-Encoding can select another representation than identity for a file of this size and type. */
  private encodingMatters(size: number, contentType: string): boolean {
    if (!this.config.precompressed && !this.config.compression) return false;
    return size >= COMPRESSION_THRESHOLD && isCompressible(contentType);
  }
}
