/**
 * LazyRequest: a web-standard Request whose parts are built only when the handler touches them.
 *
 * undici's `new Request()` costs ~6 µs on Node 20 (URL parsing, a Headers object, an AbortSignal, a body stream).
 * Most handlers read one or two of those. LazyRequest keeps the raw protocol values and materialises url, headers,
 * body and signal on first access; anything rare (clone, formData, cache, mode, ...) goes through a real Request
 * built on demand. `request instanceof Request` is true.
 */
import { inspect } from 'node:util';
import type { FieldFamily } from './core/protocols.js';

/** Pull-based request body: the transport only reads (and reopens flow-control windows) as the app reads. */
export interface BodySource {
  /** Next chunk, or null at the end. Throws (or rejects) when the client aborted or the body is too large. */
  read(): Uint8Array | null | Promise<Uint8Array | null>;
  /** The app stopped reading: release the transport (discard the rest). */
  cancel(reason?: unknown): void;
}

/** Thrown into the request body when it exceeds limits.maxBodySize; the server answers 413. */
export class PayloadTooLargeError extends Error {
  readonly status = 413;
  constructor(limit: number) {
    super(`request body exceeds the limit of ${limit} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

/** Thrown into the request body when the client reset the stream or disconnected. */
export class ClientAbortError extends Error {
  constructor(message = 'the client aborted the request') {
    super(message);
    this.name = 'AbortError';
  }
}

const textDecoder = new TextDecoder();

function concat(chunks: Uint8Array[], total: number): Uint8Array<ArrayBuffer> {
  if (chunks.length === 1 && chunks[0]!.byteOffset === 0 && chunks[0]!.byteLength === chunks[0]!.buffer.byteLength) {
    return chunks[0] as Uint8Array<ArrayBuffer>;
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Origins already parsed, by "scheme://authority": most servers see a handful of hosts. Bounded, because the
 * authority comes from the client.
 */
const origins = new Map<string, string | null>();
const MAX_CACHED_ORIGINS = 256;

/** The WHATWG URL parser's serialisation of scheme://authority (lowercase host, no default port), or null. */
let lastScheme = '';
let lastAuthority = '';
let lastOrigin: string | null = null;

function originOf(scheme: string, authority: string): string | null {
  // Almost every request names the host the one before it did: a string comparison, no hashing.
  if (authority === lastAuthority && scheme === lastScheme) return lastOrigin;
  const key = scheme + '://' + authority;
  let origin = origins.get(key);
  if (origin === undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(key + '/');
    } catch {
      parsed = undefined;
    }
    // An authority with userinfo, a path or a query is no authority (RFC 9110 §4.2.4, RFC 9113 §8.3.1).
    origin = parsed !== undefined && parsed.href === parsed.protocol + '//' + parsed.host + '/' ? parsed.protocol + '//' + parsed.host : null;
    if (origins.size >= MAX_CACHED_ORIGINS) origins.clear();
    origins.set(key, origin);
  }
  lastScheme = scheme;
  lastAuthority = authority;
  lastOrigin = origin;
  return origin;
}

/** Characters below 0x7f the URL parser rewrites in a path or query: controls, space, " # ' < > \\ ^ ` { | }. */
const REWRITTEN = new Uint8Array(0x80);
for (let c = 0; c <= 0x20; c++) REWRITTEN[c] = 1;
for (const c of '"#\'<>\\^`{|}') REWRITTEN[c.charCodeAt(0)] = 1;

/**
 * Whether the URL parser would leave an origin-form target exactly as it is: no dot segment (".", "..", or their
 * %2e spellings, which it resolves), no backslash (a separator for http/https), nothing it percent-encodes
 * (controls, space, non-ASCII, " # ' < > ^ ` { | }), no fragment. One pass over the string, no allocation.
 */
function isCanonicalTarget(target: string): boolean {
  const length = target.length;
  let i = 0;
  // The path: a segment starting with "." or "%2e" may be a dot segment, left to the parser.
  for (; i < length; i++) {
    const c = target.charCodeAt(i);
    if (c >= 0x7f || REWRITTEN[c] === 1) return false;
    if (c === 0x3f /* ? */) break;
    if (c === 0x2f /* / */) {
      const next = target.charCodeAt(i + 1);
      if (next === 0x2e) return false;
      if (next === 0x25 && target.charCodeAt(i + 2) === 0x32 && (target.charCodeAt(i + 3) | 0x20) === 0x65) return false;
    }
  }
  // The query: only percent-encoding applies.
  for (; i < length; i++) {
    const c = target.charCodeAt(i);
    if (c >= 0x7f || REWRITTEN[c] === 1) return false;
  }
  return true;
}

/**
 * request.url as `new Request(url).url` would give it: what the WHATWG URL parser makes of the target, so that a
 * framework slicing the string and `new URL(request.url).pathname` (the static handler) route to the same place.
 * "/a/../../b/%2e%2e/c" is "/c" for both. Ordinary paths skip the parser.
 */
export function targetUrl(scheme: string, authority: string, target: string): string {
  const first = target.charCodeAt(0);
  if (first === 47 /* / */ || target === '*') {
    const path = first === 47 ? target : '/';
    const origin = originOf(scheme, authority);
    if (origin !== null && isCanonicalTarget(path)) return origin + path;
    return parsedOr((origin ?? scheme + '://' + authority) + path);
  }
  return parsedOr(target); // absolute-form (RFC 9112 §3.2.2)
}

const HAS_OCTET = /[\x80-\xff]/;
const OCTET = /[\x80-\xff]/g;

function parsedOr(url: string): string {
  // Targets arrive as Latin-1 strings, one character per octet: encode the octets themselves, as the URL parser would
  // encode the bytes of a UTF-8 string (it would otherwise encode each octet's character a second time).
  if (HAS_OCTET.test(url)) url = url.replace(OCTET, (octet) => '%' + octet.charCodeAt(0).toString(16).toUpperCase());
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

export class LazyRequest {
  /** @internal */ _method: string;
  /** @internal */ _scheme: string;
  /** @internal */ _authority: string;
  /** @internal */ _path: string;
  /** @internal */ _url: string | undefined;
  /** @internal Flat [name, value, ...] as received. */
  _rawHeaders: string[];
  /** @internal Which field rules the raw list follows ('h2-like': lowercase names, cookie crumbs not yet joined, no host field). */
  _family: FieldFamily;
  /** @internal */ _headers: Headers | undefined;
  /** @internal */ _source: BodySource | null;
  /** @internal */ _stream: ReadableStream<Uint8Array<ArrayBuffer>> | null | undefined;
  /** @internal */ _bodyUsed: boolean;
  /** @internal */ _controller: AbortController | undefined;
  /** @internal */ _aborted: boolean;
  /** @internal */ _abortReason: unknown;
  /** @internal */ _real: Request | undefined;

  constructor(
    method: string,
    scheme: string,
    authority: string,
    path: string,
    rawHeaders: string[],
    family: FieldFamily,
    source: BodySource | null,
  ) {
    this._method = method;
    this._scheme = scheme;
    this._authority = authority;
    this._path = path;
    this._url = undefined;
    this._rawHeaders = rawHeaders;
    this._family = family;
    this._headers = undefined;
    this._source = source;
    this._stream = undefined;
    this._bodyUsed = false;
    this._controller = undefined;
    this._aborted = false;
    this._abortReason = undefined;
    this._real = undefined;
  }

  /** @internal The client went away: abort the signal (now or when first read) and fail pending body reads. */
  _abort(reason: unknown): void {
    if (this._aborted) return;
    this._aborted = true;
    this._abortReason = reason;
    if (this._controller !== undefined) this._controller.abort(reason);
  }

  get method(): string {
    return this._method;
  }

  get url(): string {
    if (this._url === undefined) this._url = targetUrl(this._scheme, this._authority, this._path);
    return this._url;
  }

  get headers(): Headers {
    if (this._headers === undefined) {
      const headers = new Headers();
      const raw = this._rawHeaders;
      if (this._family === 'h2-like') {
        let cookie: string | undefined;
        let hasHost = false;
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i]!;
          if (name === 'cookie') {
            // RFC 9113 §8.2.3: crumbs are rejoined with "; " (Headers.append would use ", ").
            cookie = cookie === undefined ? raw[i + 1]! : cookie + '; ' + raw[i + 1]!;
            continue;
          }
          if (name === 'host') hasHost = true;
          headers.append(name, raw[i + 1]!);
        }
        if (cookie !== undefined) headers.set('cookie', cookie);
        // RFC 9113 §8.3.1, RFC 9114 §4.3.1: :authority stands for Host; applications expect to find it in headers.
        if (!hasHost && this._authority) headers.set('host', this._authority);
      } else {
        for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
      }
      this._headers = headers;
    }
    return this._headers;
  }

  get signal(): AbortSignal {
    if (this._controller === undefined) {
      this._controller = new AbortController();
      if (this._aborted) this._controller.abort(this._abortReason);
    }
    return this._controller.signal;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this._real !== undefined) return this._real.body;
    if (this._stream === undefined) {
      const source = this._source;
      if (source === null) {
        this._stream = null;
      } else {
        // highWaterMark 0: nothing is pulled (and no window reopened) until the app actually reads.
        this._stream = new ReadableStream<Uint8Array<ArrayBuffer>>(
          {
            pull: async (controller) => {
              this._bodyUsed = true;
              const chunk = await source.read();
              if (chunk === null) controller.close();
              else controller.enqueue(chunk as Uint8Array<ArrayBuffer>);
            },
            cancel: (reason) => source.cancel(reason),
          },
          { highWaterMark: 0 },
        );
      }
    }
    return this._stream;
  }

  get bodyUsed(): boolean {
    if (this._real !== undefined) return this._real.bodyUsed;
    return this._bodyUsed;
  }

  /** @internal Reads the whole body without a ReadableStream when the app has not taken the stream. */
  async _readAll(): Promise<Uint8Array<ArrayBuffer>> {
    if (this._real !== undefined) return new Uint8Array(await this._real.arrayBuffer());
    if (this._bodyUsed) throw new TypeError('Body has already been consumed');
    this._bodyUsed = true;
    if (this._stream !== undefined && this._stream !== null) {
      if (this._stream.locked) throw new TypeError('Body is locked');
      const chunks: Uint8Array[] = [];
      let total = 0;
      for await (const chunk of this._stream as unknown as AsyncIterable<Uint8Array>) {
        chunks.push(chunk);
        total += chunk.byteLength;
      }
      return concat(chunks, total);
    }
    const source = this._source;
    if (source === null) return new Uint8Array(0);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      let chunk = source.read();
      if (chunk !== null && !(chunk instanceof Uint8Array)) chunk = await chunk;
      if (chunk === null) break;
      chunks.push(chunk);
      total += chunk.byteLength;
    }
    return concat(chunks, total);
  }

  async text(): Promise<string> {
    return textDecoder.decode(await this._readAll());
  }
  async json(): Promise<any> {
    return JSON.parse(await this.text());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this._readAll();
    if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes.buffer;
    return bytes.slice().buffer;
  }
  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this._readAll();
  }
  async blob(): Promise<Blob> {
    const bytes = await this._readAll();
    return new Blob([bytes], { type: this.headers.get('content-type') ?? '' });
  }

  /** @internal The equivalent undici Request, for the parts only it implements. */
  _materialize(): Request {
    if (this._real === undefined) {
      const body = this.body;
      const init: RequestInit & { duplex?: 'half' } = {
        method: this._method,
        headers: this.headers,
        signal: this.signal,
      };
      if (body !== null) {
        init.body = body;
        init.duplex = 'half';
      }
      this._real = new Request(this.url, init);
    }
    return this._real;
  }

  [inspect.custom](): string {
    return `Request { method: ${JSON.stringify(this._method)}, url: ${JSON.stringify(this.url)} }`;
  }
}

export interface LazyRequest extends Request {}

/**
 * What the server's own modules (the exchange core, the transports, the context) read of a request and do to it.
 * The rest of the server goes through this, never through LazyRequest's fields, so the request's representation
 * can change without touching them.
 */
export interface ServerRequestView {
  /** The method as received. */
  method(request: LazyRequest): string;
  /** The request target as received (origin-form path and query, absolute-form, or "*"), for logs and routing. */
  target(request: LazyRequest): string;
  /** The header list as received, flat [name, value, ...]. */
  rawHeaders(request: LazyRequest): string[];
  /** The client went away (or the exchange was refused): the signal is aborted. */
  aborted(request: LazyRequest): boolean;
  /** The application took the body as a stream (a response may be reading it). */
  bodyStreamTaken(request: LazyRequest): boolean;
  /** The client went away: aborts the signal (now or when first read). Idempotent. */
  abort(request: LazyRequest, reason: unknown): void;
}

/**
 * The header list as received, when `request` is a LazyRequest whose headers were never built (so none were
 * changed through `request.headers`); else undefined. Names are lowercase for HTTP/2 and HTTP/3, as sent for
 * HTTP/1.1. Lets a handler look for a field without building a Headers object.
 */
export function untouchedRawHeaders(request: Request): readonly string[] | undefined {
  if (!(request instanceof LazyRequest) || request._headers !== undefined || request._real !== undefined) return undefined;
  return request._rawHeaders;
}

export const requestView: ServerRequestView = {
  method: (request) => request._method,
  target: (request) => request._path,
  rawHeaders: (request) => request._rawHeaders,
  aborted: (request) => request._aborted,
  bodyStreamTaken: (request) => request._stream !== undefined,
  abort: (request, reason) => request._abort(reason),
};

// Everything not implemented above (clone, formData, cache, credentials, mode, ...) is answered by a real Request.
for (const name of Object.getOwnPropertyNames(Request.prototype)) {
  if (name === 'constructor' || Object.prototype.hasOwnProperty.call(LazyRequest.prototype, name)) continue;
  const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, name)!;
  if (typeof descriptor.value === 'function') {
    Object.defineProperty(LazyRequest.prototype, name, {
      configurable: true,
      writable: true,
      value: function (this: LazyRequest, ...args: unknown[]) {
        const real = this._materialize() as unknown as Record<string, (...a: unknown[]) => unknown>;
        return real[name]!.apply(real, args);
      },
    });
  } else if (descriptor.get) {
    Object.defineProperty(LazyRequest.prototype, name, {
      configurable: true,
      get(this: LazyRequest) {
        return (this._materialize() as unknown as Record<string, unknown>)[name];
      },
    });
  }
}
Object.setPrototypeOf(LazyRequest.prototype, Request.prototype);

/**
 * A queue-backed body source: the transport pushes received chunks, the app pulls them. `onConsumed` runs as the
 * app takes each chunk (HTTP/2: engine.consume(), which reopens the flow-control window — so the client can only
 * send as fast as the app reads).
 */
export class QueuedBodySource implements BodySource {
  private readonly chunks: Uint8Array[] = [];
  private readonly flowLengths: number[] = [];
  private ended = false;
  private error: unknown = undefined;
  private waiter: ((chunk: Uint8Array | null | Promise<never>) => void) | undefined = undefined;
  received = 0;
  /** Bytes queued and not yet read by the app. */
  queuedBytes = 0;
  cancelled = false;

  constructor(
    private readonly maxBodySize: number,
    private readonly onConsumed: (flowControlledLength: number) => void,
    private readonly onCancel: (reason: unknown) => void,
  ) {}

  /** Returns false when the body went over the size limit (the caller then resets/413s). */
  push(chunk: Uint8Array, flowControlledLength: number): boolean {
    if (this.ended || this.error !== undefined) {
      this.onConsumed(flowControlledLength);
      return true;
    }
    this.received += chunk.byteLength;
    if (this.received > this.maxBodySize) {
      this.fail(new PayloadTooLargeError(this.maxBodySize));
      return false;
    }
    if (this.cancelled) {
      // The app gave up on the body: keep the window open so the stream can finish, discard the bytes.
      this.onConsumed(flowControlledLength);
      return true;
    }
    if (this.waiter !== undefined) {
      const waiter = this.waiter;
      this.waiter = undefined;
      this.onConsumed(flowControlledLength);
      waiter(chunk);
      return true;
    }
    this.chunks.push(chunk);
    this.flowLengths.push(flowControlledLength);
    this.queuedBytes += chunk.byteLength;
    return true;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.waiter !== undefined && this.chunks.length === 0) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter(null);
    }
  }

  fail(error: unknown): void {
    if (this.error !== undefined || (this.ended && this.chunks.length === 0)) return;
    this.error = error;
    this.chunks.length = 0;
    this.flowLengths.length = 0;
    this.queuedBytes = 0;
    if (this.waiter !== undefined) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter(Promise.reject(error));
    }
  }

  get isEnded(): boolean {
    return this.ended;
  }

  read(): Uint8Array | null | Promise<Uint8Array | null> {
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.chunks.length > 0) {
      const chunk = this.chunks.shift()!;
      this.queuedBytes -= chunk.byteLength;
      this.onConsumed(this.flowLengths.shift()!);
      return chunk;
    }
    if (this.ended) return null;
    return new Promise<Uint8Array | null>((resolve) => {
      this.waiter = resolve as (chunk: Uint8Array | null | Promise<never>) => void;
    });
  }

  cancel(reason?: unknown): void {
    if (this.cancelled) return;
    this.cancelled = true;
    let pending = 0;
    for (const length of this.flowLengths) pending += length;
    this.chunks.length = 0;
    this.flowLengths.length = 0;
    this.queuedBytes = 0;
    if (pending > 0) this.onConsumed(pending);
    this.onCancel(reason);
  }
}
