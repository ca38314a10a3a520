/**
 * FastResponse: a Response-compatible class the server reads directly.
 *
 * undici's `new Response()` costs 11–19 µs on Node 20 (it builds a Headers object, a ReadableStream and the body
 * extraction machinery eagerly). FastResponse only stores its constructor arguments; the server reads status, the
 * header init and the body as given, and a real Response is built only if the application itself touches a part
 * that needs one (e.g. `.body` as a stream, or `.formData()`). `instanceof Response` stays true.
 */

/** Response trailers: fixed fields, or a function called once the body has been written (e.g. to send a digest). */
export type TrailersInit = HeadersInit | (() => HeadersInit | Promise<HeadersInit>);

export interface FastResponseInit extends ResponseInit {
  /** Trailer fields sent after the body (HTTP/2 trailing HEADERS; chunked trailers on HTTP/1.1). */
  trailers?: TrailersInit;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Statuses that never carry content (RFC 9110 §6.4.1, §15.2, §15.3.5, §15.4.5). */
export function isNullBodyStatus(status: number): boolean {
  return status === 204 || status === 205 || status === 304 || (status >= 100 && status < 200);
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

  constructor(body?: BodyInit | null, init?: FastResponseInit) {
    let status = 200;
    let statusText = '';
    let headers: HeadersInit | undefined;
    let trailers: TrailersInit | undefined;
    if (init !== undefined && init !== null) {
      if (init.status !== undefined) {
        status = init.status;
        // Same rule as the Fetch standard's Response constructor.
        if (!Number.isInteger(status) || status < 200 || status > 599) {
          throw new RangeError(`Response status must be an integer in 200..599 (got ${String(init.status)})`);
        }
      }
      if (init.statusText !== undefined) statusText = String(init.statusText);
      headers = init.headers;
      trailers = init.trailers;
    }
    if (body !== undefined && body !== null && isNullBodyStatus(status)) {
      throw new TypeError(`Response with status ${status} cannot have a body`);
    }
    this._body = body === undefined ? null : body;
    this._status = status;
    this._statusText = statusText;
    this._headersInit = headers;
    this._headers = undefined;
    this._trailers = trailers;
    this._real = undefined;
    this._bodyUsed = false;
  }

  static json(data: unknown, init?: FastResponseInit): FastResponse {
    const body = JSON.stringify(data);
    const headers = new Headers(init?.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    return new FastResponse(body, { ...init, headers });
  }

  static redirect(url: string | URL, status = 302): FastResponse {
    if (![301, 302, 303, 307, 308].includes(status)) throw new RangeError(`Invalid redirect status ${status}`);
    return new FastResponse(null, { status, headers: { location: new URL(String(url)).href } });
  }

  static error(): Response {
    return Response.error();
  }

  /** @internal Builds the equivalent undici Response (first use of a part only a real Response has). */
  _materialize(): Response {
    if (this._real === undefined) {
      this._real = new Response(this._body, {
        status: this._status,
        statusText: this._statusText,
        headers: this._headers ?? this._headersInit,
      });
      this._headers = this._real.headers;
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
      const headers = new Headers(this._headersInit);
      // Fetch standard: a string body implies text/plain;charset=UTF-8 unless the application chose a type.
      if (typeof this._body === 'string' && !headers.has('content-type')) {
        headers.set('content-type', 'text/plain;charset=UTF-8');
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
    if (this.bodyUsed) throw new TypeError('Response body has already been consumed');
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

// `response instanceof Response` is true, and Response.prototype methods are inherited where not shadowed,
// without ever running the undici constructor.
Object.setPrototypeOf(FastResponse.prototype, Response.prototype);
Object.setPrototypeOf(FastResponse, Response);
