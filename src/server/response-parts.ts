/**
 * Turns whatever the handler returned into what the transports write: a status, a flat lowercase header list and
 * a body payload. FastResponse is read field by field; a global Response is read through undici's internal state
 * when its body is a plain string or byte array (so no ReadableStream is ever pulled), else through `.body`.
 */
import { isFastResponse, isNullBodyStatus, isPlainFastResponse, NativeResponse, FastResponse, type TrailersInit } from './response.js';
import { isConnectionSpecific } from '../http/fields.js';
import type { FieldFamily } from './core/protocols.js';

export type BodyPayload = null | Uint8Array | Blob | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface ResponseParts {
  status: number;
  /** Flat [name, value, ...], lowercase names, `date`/`server`/`content-length` filled in. No ':status'. */
  headers: string[];
  /**
   * Null for no content (HEAD, 204, 304, or an empty body). Uint8Array: the whole body, length known.
   * A string only with `keepStrings` (HTTP/1.1: node:http then writes head and body as one chunk, one TLS record).
   */
  body: BodyPayload | string;
  /** Known body length, or -1 for a streamed body of unknown length. */
  contentLength: number;
  trailers: TrailersInit | undefined;
}

export class NotAResponseError extends TypeError {
  constructor(value: unknown) {
    super(`handler returned ${describeValue(value)} instead of a Response`);
    this.name = 'NotAResponseError';
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`;
  return `a ${typeof value}`;
}

// --- date header, recomputed at most once per second (RFC 9110 §6.6.1) ---
let cachedDateSecond = -1;
let cachedDate = '';
export function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== cachedDateSecond) {
    cachedDateSecond = second;
    cachedDate = new Date(second * 1000).toUTCString();
  }
  return cachedDate;
}

// RFC 9110 §5.1: a field name is a token (checked after lowercasing, which HTTP/2 requires: RFC 9113 §8.2.1; a
// pseudo-header such as ':status' is not a token, so the application cannot forge one).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
// RFC 9110 §5.5: field-content is VCHAR, obs-text (0x80-0xFF), SP and HTAB. Anything else is refused: CR, LF and NUL
// split responses (RFC 9112 §5, RFC 9113 §8.2.1), other controls are invalid, and a character above U+00FF has no
// octet encoding at all. One precompiled test per value keeps this cheap on the hot path.
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
const DIGITS = /^[0-9]{1,16}$/;

/** An application-supplied field the server refuses to send. The message names the field, never the value. */
export class InvalidFieldError extends TypeError {
  constructor(kind: FieldKind, name: string, problem: 'name' | 'value') {
    super(problem === 'name' ? `invalid ${kind} name ${JSON.stringify(name.slice(0, 64))}` : `invalid value for ${kind} ${JSON.stringify(name)}`);
    this.name = 'InvalidFieldError';
  }
}

type FieldKind = 'response header' | 'response trailer' | 'informational response header';

/**
 * RFC 9113 §8.2.2: connection-specific fields must not appear in HTTP/2 (a peer treats the message as malformed).
 * TE is allowed only in requests, and only as "trailers": in a response it means nothing and is dropped too.
 */
function isForbiddenInH2Response(name: string): boolean {
  return isConnectionSpecific(name) || name === 'te';
}

const undiciState = (() => {
  try {
    const probe = new NativeResponse('x');
    return Object.getOwnPropertySymbols(probe).find((s) => s.description === 'state');
  } catch {
    return undefined;
  }
})();

/** undici's HeadersList keeps a Map of lowercase name → { name, value } (set-cookie values also in `cookies`). */
const undiciHeadersMap = (() => {
  try {
    const probe = new NativeResponse('x', { headers: { a: '1' } });
    const list = undiciState !== undefined ? (probe as any)[undiciState]?.headersList : undefined;
    const symbol = list ? Object.getOwnPropertySymbols(list).find((s) => s.description === 'headers map') : undefined;
    return symbol !== undefined && list[symbol] instanceof Map ? symbol : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * Node's web streams keep `{ disturbed, reader, ... }` under an own symbol described 'kState'. Reading it replaces
 * `response.bodyUsed` and `response.body.locked`, two getters that cost about a microsecond each per response on
 * Node 20. Best effort: the probe checks the shape on a real stream (fresh, then locked by a reader, then disturbed
 * by a read) and anything unexpected leaves it undefined, which selects the public getters.
 */
export const webStreamStateSymbol: symbol | undefined = (() => {
  try {
    const probe = new ReadableStream({ pull: (controller) => controller.enqueue(new Uint8Array(1)) });
    const symbol = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'kState');
    if (symbol === undefined) return undefined;
    const state = (probe as any)[symbol];
    if (state?.disturbed !== false || state.reader !== undefined) return undefined;
    const reader = probe.getReader();
    if ((probe as any)[symbol].reader === undefined) return undefined;
    void reader.read().catch(() => {});
    if ((probe as any)[symbol].disturbed !== true) return undefined;
    return symbol;
  } catch {
    return undefined;
  }
})();

/** undici's own state symbol on Response objects (status, headers list, body { stream, source }), if found. */
export const undiciStateSymbol: symbol | undefined = undiciState;

/** True when the body stream was read from or has a reader: its bytes are no longer ours to send. */
function bodyUnusable(response: Response | undefined, stream: ReadableStream): boolean {
  const state = webStreamStateSymbol !== undefined ? (stream as any)[webStreamStateSymbol] : undefined;
  if (state !== undefined && state !== null && typeof state.disturbed === 'boolean') {
    return state.disturbed || state.reader !== undefined;
  }
  return (response?.bodyUsed ?? false) || stream.locked;
}

const BODY_CONSUMED = 'response body was already consumed by the handler';

interface HeaderScan {
  kind: FieldKind;
  out: string[];
  hasContentType: boolean;
  hasDate: boolean;
  hasServer: boolean;
  contentLength: string | undefined;
  family: FieldFamily;
}

/**
 * Adds one field. `trustedName`: the name comes from a Headers object, whose constructor already checked it is a
 * token, and is lowercase. Values are always checked: Headers lets control characters other than CR/LF/NUL through.
 */
function addHeader(scan: HeaderScan, rawName: string, value: string, trustedName: boolean): void {
  const name = trustedName ? rawName : rawName.toLowerCase();
  if (!trustedName && !TOKEN.test(name)) throw new InvalidFieldError(scan.kind, rawName, 'name');
  if (INVALID_VALUE_CHAR.test(value)) throw new InvalidFieldError(scan.kind, name, 'value');
  switch (name) {
    case 'content-length':
      // Given twice, it is combined as Headers combines it ("4, 4"), which is not 1*DIGIT: the same 500 for any
      // header init (RFC 9110 §8.6: one length, or the message's framing is in doubt).
      scan.contentLength = scan.contentLength === undefined ? value : `${scan.contentLength}, ${value}`;
      return; // written by us from the actual body when it is known
    case 'content-type':
      scan.hasContentType = true;
      break;
    case 'date':
      scan.hasDate = true;
      break;
    case 'server':
      scan.hasServer = true;
      break;
    case 'transfer-encoding':
      // Message framing is the transport's job (RFC 9112 §6.1; forbidden in HTTP/2): an application value would
      // contradict the content-length we send.
      return;
    default:
      // RFC 9113 §8.2.2, RFC 9114 §4.2: connection-specific fields must not appear in HTTP/2 or HTTP/3.
      if (scan.family === 'h2-like' && isForbiddenInH2Response(name)) return;
  }
  scan.out.push(name, value);
}

function scanHeadersInit(scan: HeaderScan, init: HeadersInit | undefined): void {
  if (init === undefined || init === null) return;
  if (init instanceof Headers) {
    // Headers iteration yields lowercase names, each set-cookie separately (Fetch standard).
    for (const [name, value] of init) addHeader(scan, name, value, true);
    return;
  }
  if (Array.isArray(init)) {
    for (const pair of init) {
      if (pair.length !== 2) throw new TypeError('header pairs must have exactly two elements');
      addHeader(scan, String(pair[0]), String(pair[1]).trim(), false);
    }
    return;
  }
  if (typeof (init as unknown as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of init as unknown as Iterable<[string, string]>) addHeader(scan, String(pair[0]), String(pair[1]).trim(), false);
    return;
  }
  const record = init as Record<string, string | string[]>;
  if (Object.isFrozen(record)) scanFrozenRecord(scan, record);
  else scanRecord(scan, record);
}

function scanRecord(scan: HeaderScan, record: Record<string, string | string[]>): void {
  for (const name in record) {
    const value = record[name];
    if (Array.isArray(value)) for (const item of value) addHeader(scan, name, String(item).trim(), false);
    else if (value !== undefined) addHeader(scan, name, String(value).trim(), false);
  }
}

/** A frozen plain object of data properties only: what it yields can never change. */
function isConstantRecord(record: object): boolean {
  const prototype = Object.getPrototypeOf(record);
  if (prototype !== Object.prototype && prototype !== null) return false;
  const descriptors = Object.getOwnPropertyDescriptors(record);
  for (const name in descriptors) {
    const value = descriptors[name]!.value as unknown;
    if (!('value' in descriptors[name]!) || (Array.isArray(value) && !Object.isFrozen(value))) return false;
  }
  return true;
}

/** What scanning a record found, kept for frozen records (they cannot change, so neither can the result). */
interface RecordScan {
  out: string[];
  hasContentType: boolean;
  hasDate: boolean;
  hasServer: boolean;
  contentLength: string | undefined;
}

/** Scans of frozen header records (a static file's ready-made fields, an application's constant headers), by family. */
const frozenScans = new WeakMap<object, Partial<Record<FieldFamily, RecordScan>>>();
/** Frozen records whose fields could still vary (accessors, a prototype, unfrozen arrays): never cached. */
const variableRecords = new WeakSet<object>();

/**
 * A frozen record's fields are validated once per field family and reused: the same names and values are checked
 * and lowercased on every response otherwise. Only successful scans are kept (an invalid field throws every time).
 */
function scanFrozenRecord(scan: HeaderScan, record: Record<string, string | string[]>): void {
  let byFamily = frozenScans.get(record);
  let known = byFamily?.[scan.family];
  if (known === undefined) {
    if (byFamily === undefined && (variableRecords.has(record) || !isConstantRecord(record))) {
      variableRecords.add(record);
      return scanRecord(scan, record);
    }
    const fresh: HeaderScan = { ...scan, out: [], hasContentType: false, hasDate: false, hasServer: false, contentLength: undefined };
    scanRecord(fresh, record);
    known = { out: fresh.out, hasContentType: fresh.hasContentType, hasDate: fresh.hasDate, hasServer: fresh.hasServer, contentLength: fresh.contentLength };
    if (byFamily === undefined) frozenScans.set(record, (byFamily = {}));
    byFamily[scan.family] = known;
  }
  const out = scan.out;
  for (let i = 0; i < known.out.length; i++) out.push(known.out[i]!);
  if (known.hasContentType) scan.hasContentType = true;
  if (known.hasDate) scan.hasDate = true;
  if (known.hasServer) scan.hasServer = true;
  if (known.contentLength !== undefined) scan.contentLength = known.contentLength;
}

export interface ReadOptions {
  family: FieldFamily;
  /** Return small string bodies as strings (content-length computed) instead of encoding them. */
  keepStrings?: boolean;
  isHead: boolean;
  serverHeader: string | false;
}

/** Normalises a handler's return value. Throws NotAResponseError for anything that is not a Response. */
export function readResponse(response: unknown, options: ReadOptions): ResponseParts {
  const scan: HeaderScan = {
    kind: 'response header',
    out: [],
    hasContentType: false,
    hasDate: false,
    hasServer: false,
    contentLength: undefined,
    family: options.family,
  };
  let status: number;
  let rawBody: unknown;
  let trailers: TrailersInit | undefined;

  if (isPlainFastResponse(response)) {
    if (response._bodyUsed) throw new TypeError(BODY_CONSUMED);
    response._bodyUsed = true;
    status = response._status;
    rawBody = response._body;
    trailers = response._trailers;
    if (response._headers !== undefined) scanHeadersInit(scan, response._headers);
    else scanHeadersInit(scan, response._headersInit);
  } else if (response instanceof NativeResponse) {
    let real: Response = response;
    if (isFastResponse(response)) {
      trailers = response._trailers;
      if (response._plain) real = response._materialize();
      else return readSubclass(response, scan, trailers, options);
    }
    if (real.type === 'error') throw new TypeError('handler returned Response.error()');
    status = real.status;
    const state = undiciState !== undefined ? (real as any)[undiciState] : undefined;
    const map: Map<string, { value: string }> | undefined =
      undiciHeadersMap !== undefined ? state?.headersList?.[undiciHeadersMap] : undefined;
    if (map instanceof Map) {
      // Straight from undici's map: iterating `headers` would sort and copy on every response.
      for (const [name, entry] of map) {
        if (name === 'set-cookie' && Array.isArray(state.headersList.cookies)) {
          for (const cookie of state.headersList.cookies as string[]) addHeader(scan, name, cookie, true);
        } else {
          addHeader(scan, name, entry.value, true);
        }
      }
    } else {
      scanHeadersInit(scan, real.headers);
    }
    rawBody = null;
    const stream: ReadableStream<Uint8Array> | null = state?.body !== undefined ? (state.body?.stream ?? null) : real.body;
    if (stream !== null) {
      if (bodyUnusable(real, stream)) throw new TypeError(BODY_CONSUMED);
      // undici keeps the original string/bytes next to the stream: read them directly, skipping the stream machinery.
      const source = state?.body?.source;
      if (typeof source === 'string' || source instanceof Uint8Array) rawBody = source;
      else rawBody = stream;
    }
  } else {
    throw new NotAResponseError(response);
  }
  return finishParts(scan, status, rawBody, trailers, options);
}

/**
 * An application's subclass of FastResponse (`class X extends Response` once ours is the global): it may override
 * any getter, so it is read through its public interface (status, headers, body), never through our fields.
 */
function readSubclass(response: FastResponse, scan: HeaderScan, trailers: TrailersInit | undefined, options: ReadOptions): ResponseParts {
  if (response.type === 'error') throw new TypeError('handler returned Response.error()');
  const status = response.status;
  scanHeadersInit(scan, response.headers);
  if (response._real === undefined && keepsOwnBody(response)) {
    // The subclass leaves `body` as ours and nothing has built a real Response: the body is what it was given, sent
    // as the plain path sends it (a string or bytes with its content-length), without a stream in between.
    if (response._bodyUsed) throw new TypeError(BODY_CONSUMED);
    response._bodyUsed = true;
    return finishParts(scan, status, response._body, trailers, options);
  }
  const stream = response.body;
  if (stream === null) return finishParts(scan, status, null, trailers, options);
  if (bodyUnusable(response, stream)) throw new TypeError(BODY_CONSUMED);
  // Not overridden (the stream is the one our real Response holds): its string or bytes are sent as they are.
  const state = undiciState !== undefined && response._real !== undefined ? (response._real as any)[undiciState] : undefined;
  const source = state?.body?.stream === stream ? state.body.source : undefined;
  return finishParts(scan, status, typeof source === 'string' || source instanceof Uint8Array ? source : stream, trailers, options);
}

const FAST_BODY_GETTER = Object.getOwnPropertyDescriptor(FastResponse.prototype, 'body')?.get;
/** Per subclass prototype: whether `body` is still FastResponse's own getter (looked up once per class). */
const ownBodyByPrototype = new WeakMap<object, boolean>();

function keepsOwnBody(response: FastResponse): boolean {
  const prototype = Object.getPrototypeOf(response) as object | null;
  if (prototype === null) return false;
  let keeps = ownBodyByPrototype.get(prototype);
  if (keeps === undefined) {
    keeps = false;
    for (let level: object | null = prototype; level !== null; level = Object.getPrototypeOf(level) as object | null) {
      const descriptor = Object.getOwnPropertyDescriptor(level, 'body');
      if (descriptor !== undefined) {
        keeps = descriptor.get === FAST_BODY_GETTER && descriptor.get !== undefined;
        break;
      }
    }
    ownBodyByPrototype.set(prototype, keeps);
  }
  // An own property on the instance (Object.defineProperty(response, 'body', ...)) overrides the class.
  return keeps && !Object.prototype.hasOwnProperty.call(response, 'body');
}

/** Validates the status, frames the body (content-length, implied content-type) and adds date and server. */
function finishParts(scan: HeaderScan, status: number, rawBody: unknown, trailers: TrailersInit | undefined, options: ReadOptions): ResponseParts {
  // The Response constructors allow 200..599; a status forged on an object (or a subclass) is held to the same:
  // RFC 9110 §15 puts every valid status in 100..599, and a 1xx is never final (§15.2).
  if (!Number.isInteger(status) || status < 200 || status > 599) throw new RangeError(`invalid response status ${String(status)}`);

  let body: BodyPayload | string = null;
  let contentLength = -1;
  if (rawBody === null || rawBody === undefined) {
    contentLength = 0;
  } else if (typeof rawBody === 'string') {
    if (options.keepStrings && rawBody.length <= 16384) {
      body = rawBody;
      contentLength = Buffer.byteLength(rawBody, 'utf8');
    } else {
      body = Buffer.from(rawBody, 'utf8');
      contentLength = body.byteLength;
    }
    if (!scan.hasContentType) scan.out.push('content-type', 'text/plain;charset=UTF-8');
  } else if (rawBody instanceof Uint8Array) {
    body = rawBody;
    contentLength = rawBody.byteLength;
  } else if (rawBody instanceof ArrayBuffer) {
    body = new Uint8Array(rawBody);
    contentLength = body.byteLength;
  } else if (ArrayBuffer.isView(rawBody)) {
    body = new Uint8Array(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength);
    contentLength = body.byteLength;
  } else if (rawBody instanceof Blob) {
    body = rawBody;
    contentLength = rawBody.size;
    if (!scan.hasContentType && rawBody.type) scan.out.push('content-type', rawBody.type);
  } else if (rawBody instanceof URLSearchParams) {
    body = Buffer.from(rawBody.toString(), 'utf8');
    contentLength = body.byteLength;
    if (!scan.hasContentType) scan.out.push('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
  } else if (rawBody instanceof ReadableStream) {
    // A stream the application locked or read from cannot be sent; refused here, before any byte of the response.
    if (bodyUnusable(undefined, rawBody)) throw new TypeError(BODY_CONSUMED);
    body = rawBody as ReadableStream<Uint8Array>;
  } else if (typeof (rawBody as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    body = rawBody as AsyncIterable<Uint8Array>;
  } else if (rawBody instanceof FormData) {
    // Multipart encoding is undici's job: go through a real Response.
    const real = new NativeResponse(rawBody);
    for (const [name, value] of real.headers) if (name === 'content-type' && !scan.hasContentType) scan.out.push(name, value);
    body = real.body;
  } else {
    throw new TypeError(`unsupported response body type ${describeValue(rawBody)}`);
  }

  let declaredLength = -1;
  if (scan.contentLength !== undefined) {
    // RFC 9110 §8.6: Content-Length = 1*DIGIT. Anything else would frame the message wrongly (or not at all).
    declaredLength = DIGITS.test(scan.contentLength) ? Number(scan.contentLength) : NaN;
    if (!Number.isSafeInteger(declaredLength)) throw new InvalidFieldError('response header', 'content-length', 'value');
  }
  if (isNullBodyStatus(status)) {
    cancelBody(body);
    body = null;
    contentLength = -1;
  } else {
    if (declaredLength >= 0 && (contentLength < 0 || (options.isHead && body === null))) {
      // A streamed body whose length the application declared: keep its word (h1 then avoids chunking; the
      // transports hold the stream to it). A HEAD answered without content may declare the length a GET would carry
      // (RFC 9110 §9.3.2, §8.6); anything else with a known body gets the real length.
      contentLength = declaredLength;
    }
    if (contentLength >= 0) scan.out.push('content-length', String(contentLength));
    if (options.isHead) {
      // RFC 9110 §9.3.2: same fields as GET, no content.
      cancelBody(body);
      body = null;
    } else if (contentLength === 0 && (body instanceof Uint8Array || body instanceof Blob || typeof body === 'string')) {
      body = null;
    }
  }
  if (!scan.hasDate) scan.out.push('date', httpDate());
  if (!scan.hasServer && options.serverHeader !== false) scan.out.push('server', options.serverHeader);
  return { status, headers: scan.out, body, contentLength, trailers };
}

/**
 * Releases the body of a Response that will never be written (its head was invalid, or nobody is left to answer)
 * without validating anything: a streamed body's source is cancelled so the application stops producing it.
 */
export function releaseResponseBody(response: unknown): void {
  try {
    if (isPlainFastResponse(response)) {
      // (readResponse marks the body used before it reads the head: what it refused was never read.)
      response._bodyUsed = true;
      // Only a streamed body has a producer to stop; bytes, strings and forms hold nothing.
      const body = response._body;
      if (body instanceof ReadableStream || (typeof body === 'object' && body !== null && Symbol.asyncIterator in body)) cancelBody(body as BodyPayload);
    } else if (response instanceof NativeResponse) {
      cancelBody((isFastResponse(response) && response._plain ? response._materialize() : response).body);
    }
  } catch {
    // nothing left to release
  }
}

export function cancelBody(body: BodyPayload | string): void {
  if (body instanceof ReadableStream) {
    body.cancel().catch(() => {});
  } else if (body !== null && typeof body !== 'string' && !(body instanceof Uint8Array) && !(body instanceof Blob)) {
    const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    iterator.return?.()?.catch?.(() => {});
  }
}

/** Iterates any streamed body as Uint8Array chunks; strings from async iterables are UTF-8 encoded. */
export async function* iterateBody(body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Blob): AsyncGenerator<Uint8Array> {
  const source: AsyncIterable<unknown> =
    body instanceof Blob ? (body.stream() as unknown as AsyncIterable<unknown>) : (body as AsyncIterable<unknown>);
  for await (const chunk of source) {
    if (chunk instanceof Uint8Array) yield chunk;
    else if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
    else if (chunk instanceof ArrayBuffer) yield new Uint8Array(chunk);
    else if (ArrayBuffer.isView(chunk)) yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else throw new TypeError('response body chunks must be Uint8Array or string');
  }
}

/**
 * A streamed body that does not match the content-length the application declared for it. Sending it as-is would
 * desynchronise an HTTP/1.1 connection (the surplus reads as the next response: response splitting) or leave the
 * client waiting for bytes that never come; the transports stop at the declared length and end the exchange.
 */
export class ContentLengthMismatchError extends Error {
  constructor(declared: number, produced: number, more: boolean) {
    super(`response body ${more ? 'exceeds' : 'is shorter than'} its declared content-length ${declared} (${more ? 'more than ' : ''}${produced} bytes)`);
    this.name = 'ContentLengthMismatchError';
  }
}

/** Throws when `chunkLength` more bytes would carry a body past its declared length (-1: none declared). */
export function checkBodyChunk(declaredLength: number, sent: number, chunkLength: number): void {
  if (declaredLength >= 0 && sent + chunkLength > declaredLength) throw new ContentLengthMismatchError(declaredLength, sent + chunkLength, true);
}

/** Throws when a body ended before its declared length. */
export function checkBodyEnd(declaredLength: number, sent: number): void {
  if (declaredLength >= 0 && sent !== declaredLength) throw new ContentLengthMismatchError(declaredLength, sent, false);
}

/** Trailers as the transports hold them: fixed fields already validated, or a function called after the body. */
export type PreparedTrailers = string[] | (() => HeadersInit | Promise<HeadersInit>);

function scanFields(kind: FieldKind, init: HeadersInit, family: FieldFamily): string[] {
  const scan: HeaderScan = { kind, out: [], hasContentType: false, hasDate: false, hasServer: false, contentLength: undefined, family };
  scanHeadersInit(scan, init);
  return scan.out;
}

/**
 * Validates fixed trailers when the response is read, so a bad field is a 500 before anything is sent; a function
 * is kept for after the body. Throws InvalidFieldError.
 */
export function prepareTrailers(trailers: TrailersInit | undefined, family: FieldFamily): PreparedTrailers | undefined {
  if (trailers === undefined || typeof trailers === 'function') return trailers;
  return scanFields('response trailer', trailers, family);
}

/** Resolves trailers to a flat lowercase list (validated; throws InvalidFieldError). */
export async function resolveTrailers(trailers: PreparedTrailers, family: FieldFamily): Promise<string[]> {
  if (typeof trailers !== 'function') return trailers;
  return scanFields('response trailer', await trailers(), family);
}

// RFC 8288 §3: Link = #link-value; link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param );
// link-param = token BWS [ "=" BWS ( token / quoted-string ) ]. A URI-Reference has no spaces, '<' or '>'.
const LINK_TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const LINK_PARAM = `${LINK_TOKEN}[ \\t]*(?:=[ \\t]*(?:${LINK_TOKEN}|"(?:[^"\\\\]|\\\\.)*"))?`;
const LINK_VALUE = `<[^<>\\s]*>(?:[ \\t]*;[ \\t]*${LINK_PARAM})*`;
const LINK_LIST = new RegExp(`^${LINK_VALUE}(?:[ \\t]*,[ \\t]*${LINK_VALUE})*$`);

/**
 * Flat header list for an informational (1xx) response; throws InvalidFieldError. A 103's `link` fields must parse
 * as RFC 8288 links (RFC 8297 §2): a client acts on early hints before the final response, so a malformed one is
 * refused rather than sent.
 */
export function informationalHeaders(status: number, init: HeadersInit, family: FieldFamily): string[] {
  const list = scanFields('informational response header', init, family);
  if (status === 103) {
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === 'link' && !LINK_LIST.test(list[i + 1]!)) throw new InvalidFieldError('informational response header', 'link', 'value');
    }
  }
  return list;
}
