/**
 * Ready-made answers for hot small files, by request pathname: a plain GET (no Range, no precondition, and no
 * encoding to negotiate) of a path whose cached small file was validated moments ago is answered with the bytes and
 * header fields built for it then, before the URL is parsed or the path decoded.
 *
 * Only answers the full pipeline produced are recorded (dispatch.ts → lookup.ts → file-response.ts, every path
 * check included), and only for as long as the validation behind them is trusted: FRESHNESS_MS after the stat that
 * proved the cached bytes to be the file's current version (recent-validations.ts documents that bound). The record
 * keeps that validation's time, so serving from here never extends the bound. Bounded in entries and bytes.
 */
import { FRESHNESS_MS } from './recent-validations.js';
import { FastResponse } from '../server/response.js';
import { untouchedRawHeaders } from '../server/request.js';

/** Request fields that can change the answer of a cached small file: its presence sends a request the full way. */
const DECISIVE_FIELDS = new Set(['range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range']);
/** The lengths of those names and of accept-encoding: a name that lowercases to one of them has the same length. */
const DECISIVE_LENGTHS = new Set([...DECISIVE_FIELDS, 'accept-encoding'].map((name) => name.length));

interface HotFile {
  bytes: Uint8Array<ArrayBuffer>;
  /** The 200 response's status and header fields (frozen: shared by every response built from it). */
  init: { status: number; headers: Readonly<Record<string, string>> };
  /** When the stat that validated `bytes` was taken (ms). */
  validatedAt: number;
  /** Accept-Encoding cannot change the answer (too small, not compressible, or no encoding configured). */
  ignoresEncoding: boolean;
}

export class HotFiles {
  readonly #files = new Map<string, HotFile>();
  #bytes = 0;

  constructor(
    readonly maxEntries: number,
    readonly maxBytes: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.#files.size;
  }

  /** Remembers the 200 answer built for `pathname` from bytes a stat validated at `validatedAt`. */
  record(
    pathname: string,
    bytes: Uint8Array<ArrayBuffer>,
    fields: Record<string, string>,
    validatedAt: number,
    ignoresEncoding: boolean,
  ): void {
    if (bytes.byteLength > this.maxBytes || this.maxEntries <= 0) return;
    this.#delete(pathname);
    this.#files.set(pathname, { bytes, init: { status: 200, headers: Object.freeze({ ...fields }) }, validatedAt, ignoresEncoding });
    this.#bytes += bytes.byteLength;
    // Insertion order is age: the oldest records go first, and they are the closest to expiring anyway.
    while (this.#files.size > this.maxEntries || this.#bytes > this.maxBytes) this.#delete(this.#files.keys().next().value!);
  }

  /** The answer to `request` from a record, or undefined when the request must take the full way. */
  answer(request: Request): Response | undefined {
    if (this.#files.size === 0 || request.method !== 'GET') return undefined;
    const file = this.#files.get(pathnameOf(request.url));
    if (file === undefined) return undefined;
    const now = this.now();
    if (now - file.validatedAt > FRESHNESS_MS || now < file.validatedAt) {
      this.#delete(pathnameOf(request.url));
      return undefined;
    }
    if (hasDecisiveField(request, file.ignoresEncoding)) return undefined;
    return new FastResponse(file.bytes, file.init);
  }

  #delete(pathname: string): void {
    const file = this.#files.get(pathname);
    if (file === undefined) return;
    this.#files.delete(pathname);
    this.#bytes -= file.bytes.byteLength;
  }
}

/**
 * The pathname of a request URL, as `new URL(url).pathname` gives it: request.url is always a serialised URL
 * (scheme "://" authority, then the path up to "?" or "#").
 */
export function pathnameOf(url: string): string {
  const authority = url.indexOf('//');
  const start = authority === -1 ? -1 : url.indexOf('/', authority + 2);
  if (start === -1) return '/';
  let end = url.length;
  const query = url.indexOf('?', start);
  if (query !== -1) end = query;
  const fragment = url.indexOf('#', start);
  if (fragment !== -1 && fragment < end) end = fragment;
  return url.slice(start, end);
}

/** Whether the request carries a field that could change the answer (Accept-Encoding counts unless ignored). */
function hasDecisiveField(request: Request, ignoresEncoding: boolean): boolean {
  const raw = untouchedRawHeaders(request);
  if (raw !== undefined) {
    for (let i = 0; i < raw.length; i += 2) {
      const rawName = raw[i]!;
      // Most fields (user-agent, accept, ...) are ruled out by their length alone, without lowercasing them.
      if (!DECISIVE_LENGTHS.has(rawName.length)) continue;
      const name = rawName.toLowerCase();
      if (DECISIVE_FIELDS.has(name) || (!ignoresEncoding && name === 'accept-encoding')) return true;
    }
    return false;
  }
  const headers = request.headers;
  for (const name of DECISIVE_FIELDS) if (headers.has(name)) return true;
  return !ignoresEncoding && headers.has('accept-encoding');
}
