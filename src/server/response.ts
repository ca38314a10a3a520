/**
 * FastResponse: a Response-compatible class the server reads directly.
 *
 * undici's `new Response()` costs 10–19 µs on Node 20 (it builds a Headers object, a ReadableStream and the body
 * extraction machinery eagerly). FastResponse only stores its constructor arguments; the server reads status, the
 * header init and the body as given, and a real Response is built only if the application itself touches a part
 * that needs one (e.g. `.body` as a stream, or `.formData()`).
 *
 * While httpsd serves, FastResponse is also the global `Response` (installFastResponse(), unless the application
 * opts out), so an application's own `new Response(...)` takes the same path. Hence three rules for this code base:
 * - NativeResponse (undici's class, captured at load) is the one to use wherever a real Response is meant; the bare
 *   identifier `Response` may be this very class.
 * - Internal checks are brand checks (isFastResponse), never `instanceof FastResponse`: its Symbol.hasInstance says
 *   yes to every Response, undici's included, as `instanceof Response` must once it is the global.
 * - Only an instance of exactly this class is read field by field (isPlainFastResponse); an application's subclass may
 *   override any getter, so the server reads it through its public interface.
 */

/** Response trailers: fixed fields, or a function called once the body has been written (e.g. to send a digest). */
export type TrailersInit = HeadersInit | (() => HeadersInit | Promise<HeadersInit>);

export interface FastResponseInit extends ResponseInit {
  /** Trailer fields sent after the body (HTTP/2 trailing HEADERS; chunked trailers on HTTP/1.1). */
  trailers?: TrailersInit;
}

/** Where an installed FastResponse keeps the class it replaced (shared by every copy of httpsd in the process). */
const REPLACED = Symbol.for('httpsd.replacedResponse');

/**
 * undici's Response, as the global was when this module loaded. When another copy of httpsd has already installed
 * its FastResponse, the class that one replaced is taken instead, so a real Response is always undici's.
 */
export const NativeResponse: typeof Response =
  ((globalThis.Response as unknown as Record<symbol, typeof Response | undefined>)[REPLACED]) ?? globalThis.Response;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Statuses that never carry content (RFC 9110 §6.4.1, §15.2, §15.3.5, §15.4.5). */
export function isNullBodyStatus(status: number): boolean {
  return status === 204 || status === 205 || status === 304 || (status >= 100 && status < 200);
}

/** Brand of FastResponse and its subclasses: a prototype property, one cheap load for the server's hot path. */
const BRAND = Symbol('httpsd.FastResponse');

/** True for FastResponse and any subclass of it (never for undici's Response, whatever instanceof says). */
export function isFastResponse(value: unknown): value is FastResponse {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: boolean })[BRAND] === true;
}

/**
 * True for an instance of exactly FastResponse whose fields are still the truth (no real Response built): the server
 * may read `_status`, `_headersInit`, `_body` directly. A subclass is excluded: its getters are what it says.
 */
export function isPlainFastResponse(value: unknown): value is FastResponse {
  return isFastResponse(value) && value._plain && value._real === undefined;
}

/**
 * WebIDL `unsigned short` conversion (Fetch standard: ResponseInit.status): NaN and infinities give 0, others are
 * truncated modulo 2^16. Only reached for a status that is not already an integer in range.
 */
function toUnsignedShort(value: unknown): number {
  const number = Number(value);
  if (!Number.isFinite(number)) return 0;
  const integer = Math.trunc(number);
  return ((integer % 65536) + 65536) % 65536;
}

// Fetch standard: statusText must match the reason-phrase production (RFC 9112 §4: HTAB, SP, VCHAR, obs-text).
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
const BEYOND_BYTE = /[^\x00-\xff]/;

function toStatusText(value: unknown): string {
  const text = String(value);
  // WebIDL ByteString first (as undici), then the reason-phrase rule.
  if (BEYOND_BYTE.test(text)) throw new TypeError('Response statusText must be a ByteString (no character above U+00FF)');
  if (!REASON_PHRASE.test(text)) throw new TypeError('Invalid statusText');
  return text;
}

/**
 * The Fetch standard's BodyInit: what is not one of its types is converted to a string (`new Response(42)` sends
 * "42"), as undici does. Async iterables are accepted as undici accepts them.
 */
function toBodyInit(body: unknown): BodyInit | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return body;
  if (typeof body === 'object') {
    if (
      body instanceof Uint8Array ||
      body instanceof ArrayBuffer ||
      ArrayBuffer.isView(body) ||
      body instanceof Blob ||
      body instanceof URLSearchParams ||
      body instanceof FormData
    ) {
      return body as BodyInit;
    }
    if (body instanceof ReadableStream) {
      // Fetch standard, extract a body: a locked stream is refused at construction (undici: "disturbed or locked").
      if (body.locked) throw new TypeError('Response body object should not be disturbed or locked');
      return body;
    }
    if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') return body as unknown as BodyInit;
  }
  return String(body);
}

export class FastResponse implements Response {
  /** @internal */ _body: BodyInit | null;
  /** @internal */ _status: number;
  /** @internal */ _statusText: string;
  /** @internal */ _headersInit: HeadersInit | undefined;
  /** @internal */ _headers: Headers | undefined;
  /** @internal */ _trailers: TrailersInit | undefined;
  /** @internal A real Response built on demand; once present it is the source of truth for body and headers. */
  _real: Response | undefined;
  /** @internal */ _bodyUsed: boolean;
  /** @internal Constructed as exactly FastResponse (not a subclass): its fields may be read directly. */
  _plain: boolean;

  constructor(body?: BodyInit | null, init?: FastResponseInit | null) {
    let status = 200;
    let statusText = '';
    let headers: HeadersInit | undefined;
    let trailers: TrailersInit | undefined;
    if (init !== undefined && init !== null) {
      if (typeof init !== 'object' && typeof init !== 'function') throw new TypeError('Response init must be an object');
      const given: unknown = init.status;
      if (given !== undefined) {
        status = typeof given === 'number' && Number.isInteger(given) && given >= 0 && given < 65536 ? given : toUnsignedShort(given);
        // Fetch standard, Response constructor: status in 200..599 (RangeError), after the WebIDL conversion.
        if (status < 200 || status > 599) throw new RangeError('init["status"] must be in the range of 200 to 599, inclusive.');
      }
      if (init.statusText !== undefined) statusText = toStatusText(init.statusText);
      headers = init.headers;
      trailers = init.trailers;
    }
    const content = typeof body === 'string' ? body : toBodyInit(body);
    if (content !== null && isNullBodyStatus(status)) {
      throw new TypeError(`Response constructor: Invalid response status code ${status}`);
    }
    this._body = content;
    this._status = status;
    this._statusText = statusText;
    this._headersInit = headers;
    this._headers = undefined;
    this._trailers = trailers;
    this._real = undefined;
    this._bodyUsed = false;
    this._plain = new.target === FastResponse;
  }

  /**
   * `value instanceof FastResponse` (and `instanceof Response` once this is the global) holds for every Response:
   * undici's (a fetch() result, Response.error()) and ours, whose prototype chain runs through undici's
   * Response.prototype. A subclass an application derives keeps the ordinary semantics for itself.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this === FastResponse ? NativeResponse : this, value);
  }

  static json(data: unknown, init?: FastResponseInit): FastResponse {
    const body = JSON.stringify(data);
    // Fetch standard, Response.json(): serialising must give a string (undefined, functions, symbols do not).
    if (typeof body !== 'string') throw new TypeError('Value is not JSON serializable');
    let headers: HeadersInit = JSON_HEADERS;
    if (init?.headers !== undefined) {
      const given = new Headers(init.headers);
      if (!given.has('content-type')) given.set('content-type', 'application/json');
      headers = given;
    }
    return new FastResponse(body, { status: init?.status, statusText: init?.statusText, headers, trailers: init?.trailers });
  }

  static redirect(url: string | URL, status = 302): FastResponse {
    const location = new URL(String(url)).href;
    if (status !== 301 && status !== 302 && status !== 303 && status !== 307 && status !== 308) throw new RangeError(`Invalid status code ${status}`);
    return new FastResponse(null, { status, headers: { location } });
  }

  static error(): Response {
    return NativeResponse.error();
  }

  /** @internal Builds the equivalent undici Response (first use of a part only a real Response has). */
  _materialize(): Response {
    if (this._real === undefined) {
      const real = new NativeResponse(this._body, {
        status: this._status,
        statusText: this._statusText,
        headers: this._headers ?? this._headersInit,
      });
      this._real = real;
      this._headers = real.headers;
      // A body already read through text()/bytes() stays used: the real one is disturbed the same way.
      if (this._bodyUsed && real.body !== null) void real.arrayBuffer().catch(() => {});
    }
    return this._real;
  }

  get status(): number {
    return this._status;
  }
  get statusText(): string {
    return this._statusText;
  }
  get ok(): boolean {
    return this._status >= 200 && this._status < 300;
  }
  get type(): ResponseType {
    return 'default';
  }
  get url(): string {
    return '';
  }
  get redirected(): boolean {
    return false;
  }
  get headers(): Headers {
    if (this._headers === undefined) {
      const body = this._body;
      // A multipart body's content-type carries the boundary undici chooses when it encodes the form.
      if (body instanceof FormData) return this._materialize().headers;
      const headers = new Headers(this._headersInit);
      // Fetch standard, extract a body: the content type a body implies unless the application chose one.
      if (body !== null && !headers.has('content-type')) {
        const implied = impliedContentType(body);
        if (implied !== null) headers.set('content-type', implied);
      }
      this._headers = headers;
    }
    return this._headers;
  }
  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this._body === null) return null;
    return this._materialize().body;
  }
  get bodyUsed(): boolean {
    return this._real !== undefined ? this._real.bodyUsed : this._bodyUsed;
  }

  /** @internal Claims a directly readable body (string or bytes) without building a stream. */
  private _takeSimpleBody(): string | Uint8Array | undefined {
    if (this._real !== undefined) return undefined;
    const body = this._body;
    if (typeof body === 'string' || body instanceof Uint8Array) {
      if (this._bodyUsed) throw new TypeError('Body has already been consumed');
      this._bodyUsed = true;
      return body;
    }
    if (body === null) {
      if (this._bodyUsed) throw new TypeError('Body has already been consumed');
      return '';
    }
    return undefined;
  }

  async text(): Promise<string> {
    const simple = this._takeSimpleBody();
    if (simple !== undefined) return typeof simple === 'string' ? simple : textDecoder.decode(simple);
    return this._materialize().text();
  }
  async json(): Promise<any> {
    return JSON.parse(await this.text());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = await this.bytes();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const simple = this._takeSimpleBody();
    if (simple !== undefined) {
      return (typeof simple === 'string' ? textEncoder.encode(simple) : new Uint8Array(simple)) as Uint8Array<ArrayBuffer>;
    }
    return new Uint8Array(await this._materialize().arrayBuffer());
  }
  async blob(): Promise<Blob> {
    return this._materialize().blob();
  }
  async formData(): Promise<FormData> {
    return this._materialize().formData();
  }
  clone(): Response {
    if (this.bodyUsed) throw new TypeError('Response.clone: Body has already been consumed.');
    const body = this._body;
    if (this._real === undefined && (body === null || typeof body === 'string')) {
      return new FastResponse(body, {
        status: this._status,
        statusText: this._statusText,
        headers: this._headers ?? this._headersInit,
        trailers: this._trailers,
      });
    }
    return this._materialize().clone();
  }
}

const JSON_HEADERS: HeadersInit = Object.freeze({ 'content-type': 'application/json' });

/** Fetch standard, extract a body: the Content-Type a body implies (FormData aside: its boundary is undici's). */
export function impliedContentType(body: BodyInit): string | null {
  if (typeof body === 'string') return 'text/plain;charset=UTF-8';
  if (body instanceof URLSearchParams) return 'application/x-www-form-urlencoded;charset=UTF-8';
  if (body instanceof Blob) return body.type === '' ? null : body.type;
  return null;
}

Object.defineProperty(FastResponse.prototype, BRAND, { value: true });
// `response instanceof NativeResponse` is true and undici's Response.prototype (its toStringTag, its inspect) is
// inherited where not shadowed, without ever running the undici constructor.
Object.setPrototypeOf(FastResponse.prototype, NativeResponse.prototype);
Object.setPrototypeOf(FastResponse, NativeResponse);
Object.defineProperty(FastResponse, REPLACED, { value: NativeResponse });

let replacedDescriptor: PropertyDescriptor | undefined;

/**
 * Makes FastResponse the global `Response`, so that an application's `new Response(...)` is read by the server
 * without undici's construction cost. Idempotent. Does nothing when the global is no longer undici's Response (an
 * application or another library replaced it: theirs is kept). The property stays writable and configurable, as
 * Node's own is, so anything loaded later can still replace it. Returns whether FastResponse is now the global.
 */
export function installFastResponse(): boolean {
  const current = globalThis.Response as unknown;
  if (current === FastResponse) return true;
  if (current !== NativeResponse) return false;
  replacedDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'Response');
  Object.defineProperty(globalThis, 'Response', { value: FastResponse, writable: true, configurable: true, enumerable: false });
  return true;
}

/** Puts back the global `Response` installFastResponse() replaced (its original property descriptor), if still ours. */
export function uninstallFastResponse(): void {
  if ((globalThis.Response as unknown) !== FastResponse || replacedDescriptor === undefined) return;
  Object.defineProperty(globalThis, 'Response', replacedDescriptor);
  replacedDescriptor = undefined;
}
