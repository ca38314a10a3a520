/**
 * Compression of application responses (serve({ compress }), the CLI's --compress): a wrapper around the fetch
 * handler, so every protocol (HTTP/1.1, HTTP/2, HTTP/3) gets it without the transports knowing.
 *
 * The content coding is negotiated from Accept-Encoding (RFC 9110 §12.5.3) among br, gzip and, where this Node's
 * zlib has it, zstd. Only responses worth it are encoded: a compressible media type, a known length of at least
 * `minSize` (a streamed body of unknown length is encoded), and nothing that forbids it: a range (206 or
 * Content-Range), a body already encoded, `Cache-Control: no-transform` (RFC 9111 §5.2.2.6), a response whose Vary
 * already names Accept-Encoding (its handler negotiated the coding itself, as the static file server does), a
 * response without content. Every response that could be encoded gets `Vary: Accept-Encoding` (RFC 9110 §12.5.5)
 * whether or not this request's was, so a cache never hands an encoded body to a client that cannot read it.
 *
 * Bodies known in full (strings, bytes) up to ONE_SHOT_LIMIT are compressed in one call on the libuv thread pool
 * and keep an exact Content-Length. Other bodies are compressed while streaming, pulled by the transport (its
 * backpressure reaches the application's stream), with a bounded amount of output held at a time, and flushed
 * whenever the application's stream has nothing more ready, so that the chunks of a slow stream (server-sent
 * events) reach the client as they are produced instead of waiting in the compressor.
 */
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { FetchHandler } from './types.js';
import { FastResponse, isNullBodyStatus, type TrailersInit } from './response.js';
import { undiciStateSymbol } from './response-parts.js';
import { LazyRequest, requestView } from './request.js';
import { upgradeOf } from './websocket/upgrade.js';
import { chooseEncoding, type ContentCoding } from '../static/negotiation.js';
import { isCompressible } from '../static/mime.js';

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

/** Bodies known in full up to this size are compressed in one call (exact Content-Length); larger ones stream. */
const ONE_SHOT_LIMIT = 1024 * 1024;
/** Input is handed to the compressor in pieces of at most this size, so the output waiting for the client stays small. */
const PIECE_SIZE = 64 * 1024;

interface Settings {
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

// --- reading the application's response without building what it does not need ---

/** One field of a HeadersInit, by lowercase name; repeated fields joined with ", " (RFC 9110 §5.3). */
function fieldOfInit(init: HeadersInit | undefined, name: string): string | null {
  if (init === undefined || init === null) return null;
  if (init instanceof Headers) return init.get(name);
  let found: string | null = null;
  const add = (value: unknown): void => {
    found = found === null ? String(value).trim() : `${found}, ${String(value).trim()}`;
  };
  if (Array.isArray(init) || typeof (init as unknown as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of init as unknown as Iterable<[string, string]>) if (String(pair[0]).toLowerCase() === name) add(pair[1]);
    return found;
  }
  const record = init as Record<string, string | string[]>;
  for (const key in record) {
    if (key.toLowerCase() !== name) continue;
    const value = record[key];
    if (Array.isArray(value)) value.forEach(add);
    else if (value !== undefined) add(value);
  }
  return found;
}

/** Reads fields of either Response class; an untouched FastResponse's header init is read as given, no Headers built. */
function fieldReader(response: Response): (name: string) => string | null {
  if (response instanceof FastResponse && response._real === undefined && response._headers === undefined) {
    const init = response._headersInit;
    const impliedType = typeof response._body === 'string' ? 'text/plain;charset=UTF-8' : response._body instanceof Blob ? response._body.type || null : null;
    return (name) => fieldOfInit(init, name) ?? (name === 'content-type' ? impliedType : null);
  }
  const headers = response.headers;
  return (name) => headers.get(name);
}

/** The body as the new response will carry it: bytes known in full, or a stream to encode as it comes. */
type Body =
  | { kind: 'none' }
  | { kind: 'bytes'; bytes: Uint8Array; original: unknown }
  | { kind: 'stream'; stream: ReadableStream<unknown> | AsyncIterable<unknown> | Blob; original: unknown };

/** Takes the response's body; undefined when it cannot be taken (already read, or a kind left to undici: FormData). */
function takeBody(response: Response): Body | undefined {
  let raw: unknown;
  if (response instanceof FastResponse && response._real === undefined) {
    if (response._bodyUsed) return undefined;
    raw = response._body;
    if (raw instanceof FormData) return undefined;
    response._bodyUsed = true;
  } else {
    if (response.bodyUsed || (response.body !== null && response.body.locked)) return undefined;
    // undici keeps a string or byte source beside the stream: take it directly, the stream is never pulled.
    const source = undiciStateSymbol !== undefined ? (response as any)[undiciStateSymbol]?.body?.source : undefined;
    raw = typeof source === 'string' || source instanceof Uint8Array ? source : response.body;
  }
  if (raw === null || raw === undefined) return { kind: 'none' };
  if (typeof raw === 'string') return { kind: 'bytes', bytes: Buffer.from(raw, 'utf8'), original: raw };
  if (raw instanceof Uint8Array) return { kind: 'bytes', bytes: raw, original: raw };
  if (raw instanceof ArrayBuffer) return { kind: 'bytes', bytes: new Uint8Array(raw), original: raw };
  if (ArrayBuffer.isView(raw)) return { kind: 'bytes', bytes: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), original: raw };
  if (raw instanceof URLSearchParams) return { kind: 'bytes', bytes: Buffer.from(raw.toString(), 'utf8'), original: raw };
  if (raw instanceof Blob || raw instanceof ReadableStream || typeof (raw as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
    return { kind: 'stream', stream: raw as ReadableStream, original: raw };
  }
  return undefined;
}

/** Accept-Encoding, every field line of it (RFC 9110 §5.3), read from the raw request head when the server made the request. */
function acceptEncodingOf(request: Request): string | null {
  if (!(request instanceof LazyRequest)) return request.headers.get('accept-encoding');
  const raw = requestView.rawHeaders(request);
  let value: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 15 && name.toLowerCase() === 'accept-encoding') value = value === null ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
  }
  return value;
}

/** RFC 9110 §12.5.5: Vary lists field names; "*" already covers every field. */
function varyCovers(vary: string | null): boolean {
  if (vary === null) return false;
  return vary.split(',').some((item) => {
    const name = item.trim().toLowerCase();
    return name === '*' || name === 'accept-encoding';
  });
}

/** RFC 9111 §5.2.2.6: no-transform forbids intermediaries (and so us) from changing the content coding. */
function forbidsTransform(cacheControl: string | null): boolean {
  return cacheControl !== null && /(?:^|,)\s*no-transform\s*(?:,|$)/i.test(cacheControl);
}

/** RFC 9110 §8.8.3.3: an encoded body is not byte-for-byte the identity one, so its entity tag can only be weak. */
function weakened(etag: string): string {
  return etag.startsWith('W/') ? etag : `W/${etag}`;
}

/** The identity coding does not count as an encoding already applied. */
function isEncoded(contentEncoding: string | null): boolean {
  return contentEncoding !== null && contentEncoding.split(',').some((coding) => coding.trim() !== '' && coding.trim().toLowerCase() !== 'identity');
}

function knownLength(body: Body, declared: string | null): number {
  if (body.kind === 'none') return declared !== null && /^\d{1,15}$/.test(declared.trim()) ? Number(declared.trim()) : 0;
  if (body.kind === 'bytes') return body.bytes.byteLength;
  if (body.stream instanceof Blob) return body.stream.size;
  return declared !== null && /^\d{1,15}$/.test(declared.trim()) ? Number(declared.trim()) : -1;
}

// --- encoders ---

function compressorOptions(coding: CompressionEncoding, settings: Settings, sizeHint: number): zlib.ZlibOptions | zlib.BrotliOptions {
  if (coding === 'br') {
    const params: Record<number, number> = {
      [zlib.constants.BROTLI_PARAM_QUALITY]: settings.level.br,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
    };
    if (sizeHint > 0) params[zlib.constants.BROTLI_PARAM_SIZE_HINT] = Math.min(sizeHint, 0x7fffffff);
    return { params };
  }
  if (coding === 'zstd') {
    const level = (zlib.constants as unknown as Record<string, number>)['ZSTD_c_compressionLevel'];
    return (level === undefined ? {} : { params: { [level]: settings.level.zstd } }) as zlib.ZlibOptions;
  }
  return { level: settings.level.gzip };
}

const zlibAny = zlib as unknown as Record<string, any>;
const STREAM_FACTORY: Record<CompressionEncoding, string> = { br: 'createBrotliCompress', gzip: 'createGzip', zstd: 'createZstdCompress' };
const ONE_SHOT: Record<CompressionEncoding, string> = { br: 'brotliCompress', gzip: 'gzip', zstd: 'zstdCompress' };

/** The flush that ends a compressed block so that everything written so far can be decoded. */
function syncFlushKind(coding: CompressionEncoding): number {
  if (coding === 'br') return zlib.constants.BROTLI_OPERATION_FLUSH;
  if (coding === 'zstd') return (zlib.constants as unknown as Record<string, number>)['ZSTD_e_flush'] ?? 1;
  return zlib.constants.Z_SYNC_FLUSH;
}

function compressWhole(coding: CompressionEncoding, bytes: Uint8Array, settings: Settings): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    zlibAny[ONE_SHOT[coding]](bytes, compressorOptions(coding, settings, bytes.byteLength), (error: Error | null, result: Buffer) =>
      error ? reject(error) : resolve(result),
    );
  });
}

/** Pulls chunks from any streamed body kind; cancel() settles a pending read at once for a ReadableStream. */
interface ChunkSource {
  read(): Promise<IteratorResult<unknown>>;
  cancel(reason: unknown): void;
}

function openSource(stream: ReadableStream<unknown> | AsyncIterable<unknown> | Blob): ChunkSource {
  const readable = stream instanceof Blob ? (stream.stream() as ReadableStream<unknown>) : stream;
  if (readable instanceof ReadableStream) {
    const reader = readable.getReader();
    return {
      read: () => reader.read() as Promise<IteratorResult<unknown>>,
      cancel: (reason) => void reader.cancel(reason).catch(() => {}),
    };
  }
  const iterator = readable[Symbol.asyncIterator]();
  return { read: () => iterator.next(), cancel: () => void iterator.return?.()?.catch?.(() => {}) };
}

/** A body known in full as a source of one chunk (the stream cuts it into pieces). */
function wholeSource(bytes: Uint8Array): ChunkSource {
  let taken = false;
  return {
    read: async () => {
      if (taken) return { done: true, value: undefined };
      taken = true;
      return { done: false, value: bytes };
    },
    cancel: () => {
      taken = true;
    },
  };
}

function chunkBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('response body chunks must be Uint8Array or string');
}

const IDLE = Symbol('idle');

/**
 * The compressed form of a streamed body, as a pull-based stream: each pull feeds the compressor from the source
 * until output is ready, so at most one piece's output (plus a flush) is held, and a client that stops reading stops
 * the application's stream too. When the source has nothing ready (its next read does not settle before the event
 * loop turns), what was written so far is flushed: a chunk the application produced is never held back waiting
 * for the next one.
 */
function compressedStream(source: ChunkSource, coding: CompressionEncoding, settings: Settings, sizeHint: number, release: () => void): ReadableStream<Uint8Array> {
  const encoder: Transform = zlibAny[STREAM_FACTORY[coding]](compressorOptions(coding, settings, sizeHint));
  const output: Buffer[] = [];
  let finished = false;
  let failure: unknown;
  let closed = false;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const waiter = wake;
    wake = undefined;
    waiter?.();
  };
  encoder.on('data', (chunk: Buffer) => {
    output.push(chunk);
    signal();
  });
  encoder.once('end', () => {
    finished = true;
    signal();
  });
  encoder.once('error', (error) => {
    failure ??= error;
    signal();
  });
  const cleanup = (): void => {
    if (closed) return;
    closed = true;
    encoder.destroy();
    release();
  };

  let pendingRead: Promise<IteratorResult<unknown>> | undefined;
  let remainder: Uint8Array | undefined;
  let sourceDone = false;
  let unflushed = false;
  let feeding: Promise<void> | undefined;

  const write = (bytes: Uint8Array): Promise<void> =>
    new Promise((resolve, reject) => {
      encoder.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  /** One step: a piece of pending input, or a flush when the source is idle, or the next chunk, or the end. */
  const feedStep = async (): Promise<void> => {
    if (remainder !== undefined) {
      const piece = remainder.byteLength > PIECE_SIZE ? remainder.subarray(0, PIECE_SIZE) : remainder;
      remainder = piece === remainder ? undefined : remainder.subarray(PIECE_SIZE);
      unflushed = true;
      return write(piece);
    }
    pendingRead ??= source.read();
    if (unflushed) {
      const first = await Promise.race([pendingRead, new Promise<typeof IDLE>((resolve) => setImmediate(resolve, IDLE))]);
      if (first === IDLE) {
        unflushed = false;
        await new Promise<void>((resolve) => (encoder as unknown as { flush(kind: number, callback: () => void): void }).flush(syncFlushKind(coding), resolve));
        return;
      }
    }
    const result = await pendingRead;
    pendingRead = undefined;
    if (closed) return;
    if (result.done) {
      sourceDone = true;
      encoder.end();
      return;
    }
    const bytes = chunkBytes(result.value);
    if (bytes.byteLength > 0) remainder = bytes;
  };

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            if (failure !== undefined) throw failure;
            if (output.length > 0) {
              const chunk = output.length === 1 ? output[0]! : Buffer.concat(output);
              output.length = 0;
              controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
              return;
            }
            if (finished) {
              cleanup();
              controller.close();
              return;
            }
            const woken = new Promise<void>((resolve) => (wake = resolve));
            if (feeding === undefined && !sourceDone) {
              feeding = feedStep().then(
                () => {
                  feeding = undefined;
                  signal();
                },
                (error: unknown) => {
                  failure ??= error;
                  feeding = undefined;
                  signal();
                },
              );
            }
            await woken;
          }
        } catch (error) {
          source.cancel(error);
          cleanup();
          throw error;
        }
      },
      cancel(reason) {
        source.cancel(reason);
        cleanup();
        signal();
      },
    },
    // Nothing is compressed before the transport asks for it.
    { highWaterMark: 0 },
  );
}

/** An empty body of unknown length: a HEAD answer then carries no Content-Length, as the encoded GET would not. */
function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}

// --- the wrapper ---

interface Rebuild {
  response: Response;
  get: (name: string) => string | null;
  /** Any body FastResponse and the server take (a byte view, a stream, an async iterable …). */
  body: unknown;
  /** Fields to set (null: delete). */
  set: Record<string, string | null>;
}

/** A FastResponse with the same status and fields (changed as asked), the given body, and the trailers of the original. */
function rebuilt({ response, get, body, set }: Rebuild): Response {
  const headers = response instanceof FastResponse && response._real === undefined ? new Headers(response._headers ?? response._headersInit) : new Headers(response.headers);
  // A string body implied text/plain (Fetch standard); the new body may be bytes, so say it.
  const type = get('content-type');
  if (type !== null && !headers.has('content-type')) headers.set('content-type', type);
  for (const name in set) {
    const value = set[name];
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  const trailers: TrailersInit | undefined = response instanceof FastResponse ? response._trailers : undefined;
  return new FastResponse(body as BodyInit | null, { status: response.status, statusText: response.statusText, headers, trailers });
}

/** Vary with accept-encoding added to whatever the application listed. */
function varyWithEncoding(vary: string | null): string {
  return vary === null || vary.trim() === '' ? 'accept-encoding' : `${vary}, accept-encoding`;
}

export interface CompressingHandler extends FetchHandler {
  /** Responses being compressed right now (each holds a compressor). */
  readonly activeCompressions: number;
}

/** Wraps a fetch handler so that its responses are compressed as `options` say (see the module comment). */
export function compressResponses(handler: FetchHandler, options: true | CompressOptions): CompressingHandler {
  const settings = resolveCompressOptions(options);
  let active = 0;
  const release = (): void => {
    active--;
  };

  const encode = (request: Request, response: Response): Response | Promise<Response> => {
    if (!(response instanceof Response) || upgradeOf(response) !== undefined) return response;
    const status = response.status;
    // RFC 9110 §14.4: a 206 (and a 416's Content-Range) speaks of byte offsets of the identity body.
    if (status === 206 || (isNullBodyStatus(status) && status !== 304)) return response;
    const get = fieldReader(response);
    if (isEncoded(get('content-encoding')) || forbidsTransform(get('cache-control')) || get('content-range') !== null) return response;
    const vary = get('vary');
    if (varyCovers(vary)) return response;
    const contentType = get('content-type');
    if (status === 304) {
      // RFC 9110 §15.4.5: a 304 carries the Vary and validators the 200 would have; an encoded 200's tag was weak.
      if (contentType !== null && !settings.compressible(contentType)) return response;
      const etag = get('etag');
      const coding = chooseEncoding(acceptEncodingOf(request), settings.encodings);
      const set: Record<string, string | null> = { vary: varyWithEncoding(vary) };
      if (coding !== 'identity' && etag !== null) set['etag'] = weakened(etag);
      return rebuilt({ response, get, body: null, set });
    }
    if (contentType === null || !settings.compressible(contentType)) return response;
    const body = takeBody(response);
    if (body === undefined) return response;
    const original = body.kind === 'none' ? null : body.original;
    const varyOnly = (): Response => rebuilt({ response, get, body: original, set: { vary: varyWithEncoding(vary) } });
    const length = knownLength(body, get('content-length'));
    if (length >= 0 && length < settings.minSize) return varyOnly();
    const coding = active < settings.maxConcurrent ? chooseEncoding(acceptEncodingOf(request), settings.encodings) : 'identity';
    if (coding === 'identity') return varyOnly();
    const etag = get('etag');
    const set: Record<string, string | null> = {
      'content-encoding': coding,
      vary: varyWithEncoding(vary),
      // The encoded length is not the identity one; the transport frames the new body itself.
      'content-length': null,
      // Byte ranges would address the encoded bytes, which are produced afresh for each request: not offered.
      'accept-ranges': null,
    };
    if (etag !== null) set['etag'] = weakened(etag);
    if (request.method === 'HEAD') {
      // RFC 9110 §9.3.2: the same fields as the GET, without computing a body nobody reads.
      if (body.kind === 'stream') openSource(body.stream).cancel(undefined);
      return rebuilt({ response, get, body: emptyStream(), set });
    }
    if (body.kind === 'none') return varyOnly();
    active++;
    if (body.kind === 'bytes' && body.bytes.byteLength <= ONE_SHOT_LIMIT) {
      return compressWhole(coding, body.bytes, settings).then(
        (encoded) => {
          release();
          return rebuilt({ response, get, body: encoded, set });
        },
        (error: unknown) => {
          release();
          throw error;
        },
      );
    }
    const source: ChunkSource = body.kind === 'bytes' ? wholeSource(body.bytes) : openSource(body.stream);
    return rebuilt({ response, get, body: compressedStream(source, coding, settings, length, release), set });
  };

  const wrapped = ((request: Request, info) => {
    const result = handler(request, info);
    if (result instanceof Response) return encode(request, result);
    if (result !== null && typeof (result as Promise<Response>)?.then === 'function') {
      return (result as Promise<Response>).then((response) => encode(request, response));
    }
    return result;
  }) as CompressingHandler;
  Object.defineProperty(wrapped, 'activeCompressions', { get: () => active });
  return wrapped;
}
