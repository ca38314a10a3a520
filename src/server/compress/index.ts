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
 * Bodies known in full (strings, bytes) up to ONE_SHOT_LIMIT are compressed in one call and keep an exact
 * Content-Length: on the event loop up to INLINE_LIMIT (cheaper than the thread-pool round trip; at most a few hundred
 * microseconds of the loop), on the libuv thread pool above it. Other bodies are compressed while streaming, pulled by the transport (its
 * backpressure reaches the application's stream), with a bounded amount of output held at a time, and flushed
 * whenever the application's stream has nothing more ready, so that the chunks of a slow stream (server-sent
 * events) reach the client as they are produced instead of waiting in the compressor.
 */
import type { FetchHandler } from '../types.js';
import { FastResponse, impliedContentType, isFastResponse, isNullBodyStatus, isPlainFastResponse, NativeResponse, type TrailersInit } from '../response.js';
import { undiciStateSymbol } from '../response-parts.js';
import { LazyRequest, requestView } from '../request.js';
import { upgradeOf } from '../websocket/upgrade.js';
import { chooseEncoding } from '../../static/negotiation.js';
import { resolveCompressOptions, type CompressOptions, type CompressionEncoding, type Settings } from './options.js';
import { compressWhole, compressWholeNow, compressedStream, emptyStream, openSource, wholeSource, type ChunkSource } from './encoders.js';

export { resolveCompressOptions, ZSTD_SUPPORTED, type CompressOptions, type CompressionEncoding } from './options.js';

/** Bodies known in full up to this size are compressed in one call (exact Content-Length); larger ones stream. */
const ONE_SHOT_LIMIT = 1024 * 1024;
/** Bodies up to this size are compressed on the event loop (brotli quality 4: about 250 µs for 64 KiB of text). */
const INLINE_LIMIT = 64 * 1024;

/** Whether the coding's configured level is cheap enough to run on the event loop for an INLINE_LIMIT body. */
function cheapEnoughInline(coding: CompressionEncoding, settings: Settings): boolean {
  if (coding === 'br') return settings.level.br <= 6;
  if (coding === 'gzip') return settings.level.gzip <= 6;
  return settings.level.zstd <= 9;
}

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
    // The length first: most keys are other fields, and lowercasing never turns a longer key into an ASCII name.
    if (key.length !== name.length || key.toLowerCase() !== name) continue;
    const value = record[key];
    if (Array.isArray(value)) value.forEach(add);
    else if (value !== undefined) add(value);
  }
  return found;
}

/** Reads fields of either Response class; an untouched FastResponse's header init is read as given, no Headers built. */
function fieldReader(response: Response): (name: string) => string | null {
  if (isPlainFastResponse(response) && response._headers === undefined) {
    const init = response._headersInit;
    const impliedType = response._body === null ? null : impliedContentType(response._body);
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
  if (isPlainFastResponse(response)) {
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
  if (vary === 'accept-encoding') return true; // the static file server's own Vary, on every response it sends
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
  const headers = isPlainFastResponse(response) ? new Headers(response._headers ?? response._headersInit) : new Headers(response.headers);
  // A string body implied text/plain (Fetch standard); the new body may be bytes, so say it.
  const type = get('content-type');
  if (type !== null && !headers.has('content-type')) headers.set('content-type', type);
  for (const name in set) {
    const value = set[name];
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  const trailers: TrailersInit | undefined = isFastResponse(response) ? response._trailers : undefined;
  return new FastResponse(body as BodyInit | null, { status: response.status, statusText: response.statusText, headers, trailers });
}

/**
 * The response with Vary set to `vary`, nothing else changed: what most responses (too small, or not encoded for
 * this client) get. An untouched FastResponse whose fields are a plain record, or none, gets a copy of that record
 * with the new Vary, so no Headers object is built and parsed again for one field; anything else is rebuilt.
 */
function withVary(response: Response, get: (name: string) => string | null, body: unknown, vary: string): Response {
  if (isPlainFastResponse(response) && response._headers === undefined) {
    const init = response._headersInit as Record<string, string | string[]> | undefined;
    if (init === undefined || (init !== null && Object.getPrototypeOf(init) === Object.prototype)) {
      const fields: Record<string, string | string[]> = {};
      for (const name in init) if (name.toLowerCase() !== 'vary') fields[name] = init[name]!;
      fields['vary'] = vary;
      const options = { status: response.status, statusText: response.statusText, headers: fields as HeadersInit, trailers: response._trailers };
      return new FastResponse(body as BodyInit | null, options);
    }
  }
  return rebuilt({ response, get, body, set: { vary } });
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
    if (!(response instanceof NativeResponse) || upgradeOf(response) !== undefined) return response;
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
    const varyOnly = (): Response => withVary(response, get, original, varyWithEncoding(vary));
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
    if (body.kind === 'bytes' && body.bytes.byteLength <= INLINE_LIMIT && cheapEnoughInline(coding, settings)) {
      return rebuilt({ response, get, body: compressWholeNow(coding, body.bytes, settings), set });
    }
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
    if (result instanceof NativeResponse) return encode(request, result);
    if (result !== null && typeof (result as Promise<Response>)?.then === 'function') {
      return (result as Promise<Response>).then((response) => encode(request, response));
    }
    return result;
  }) as CompressingHandler;
  Object.defineProperty(wrapped, 'activeCompressions', { get: () => active });
  return wrapped;
}
