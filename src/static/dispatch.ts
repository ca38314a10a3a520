/**
 * The fetch handler that ties the static pieces together: CGI requests to cgi.ts, methods (OPTIONS preflights,
 * 405), the request path through paths.ts and the lookup, then a file response, a trailing-slash redirect, an
 * index file, a directory listing, or 404 (the single-page-app fallback first, when enabled).
 */
import type { ServeInfo } from '../server/types.js';
import type { StaticConfig } from './config.js';
import type { IndexLookup, StaticLookup } from './lookup.js';
import type { FileResponder } from './file-response.js';
import { decodePathSegments, encodePathSegments } from './paths.js';
import { acceptsHtml, prefersJson } from './negotiation.js';
import { readListing, renderListingHtml, renderListingJson } from './listing.js';
import type { SortKey } from './listing.js';
import { runCgi } from './cgi.js';
import type { CgiSettings } from './cgi.js';
import { headBody, textResponse, withCommonHeaders } from './common-headers.js';
import { isPermissionError, processUser } from './permissions.js';
import type { HotFiles } from './hot-files.js';
import { NativeResponse } from '../server/response.js';

/** Bound on CGI local redirects (RFC 3875 §6.2.2) followed for one request, against loops. */
const MAX_INTERNAL_REDIRECTS = 5;
const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';
const PREFLIGHT_ALLOWED_HEADERS = 'range, if-match, if-none-match, if-modified-since, if-unmodified-since, if-range';

export class StaticDispatcher {
  constructor(
    private readonly config: StaticConfig,
    private readonly lookup: StaticLookup,
    private readonly files: FileResponder,
    private readonly hotFiles: HotFiles,
  ) {}

  /**
   * The fetch handler: never throws; an unexpected failure is logged in one line and answered with 500.
   * A hot small file is answered synchronously (hot-files.ts), everything else takes the full way.
   */
  handle(request: Request, info: ServeInfo): Response | Promise<Response> {
    return this.hotFiles.answer(request) ?? this.handleFully(request, info);
  }

  private async handleFully(request: Request, info: ServeInfo): Promise<Response> {
    try {
      return await this.dispatch(request, info, 0);
    } catch (error) {
      this.config.log(`static: ${request.method} ${request.url}: ${error instanceof Error ? error.message : String(error)}`);
      return textResponse(this.config, 500, 'Internal Server Error');
    }
  }

  private async dispatch(request: Request, info: ServeInfo, depth: number): Promise<Response> {
    const config = this.config;
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      // An authority the URL parser rejects (e.g. a Host header with spaces): the client's fault, not ours.
      return textResponse(config, 400, 'Bad Request');
    }
    const method = request.method;
    if (config.cgi && (url.pathname.startsWith(config.cgi.prefix) || url.pathname === config.cgi.prefix.slice(0, -1))) {
      return this.runScript(request, info, url, config.cgi, depth);
    }
    if (method === 'OPTIONS') return this.preflight(request);
    if (method !== 'GET' && method !== 'HEAD') {
      return textResponse(config, 405, 'Method Not Allowed', { allow: ALLOWED_METHODS });
    }
    const head = method === 'HEAD';
    const decoded = decodePathSegments(url.pathname, config.dotfiles);
    if (!decoded.ok) return textResponse(config, decoded.status, decoded.status === 400 ? 'Bad Request' : 'Not Found', {}, head);
    const { segments, trailingSlash } = decoded;
    const lastSegment = segments[segments.length - 1];
    const cacheCanAnswer = trailingSlash || lastSegment === undefined ? undefined : this.files.cacheCanAnswer(request, lastSegment);
    const found = await this.lookup.open(segments, cacheCanAnswer);
    if (found.kind === 'forbidden') return this.forbidden(found.problem, head);
    if (found.kind === 'missing') return this.notFound(request, head);
    const entry = found.entry;

    if (entry.stats.isDirectory()) {
      entry.file?.close();
      if (!trailingSlash) {
        // Relative links inside an index page only work with the slash; keep the query string.
        const location = (segments.length === 0 ? '/' : encodePathSegments(segments) + '/') + url.search;
        const headers = withCommonHeaders(config, new Headers({ location, 'content-length': '0' }));
        return new NativeResponse(null, { status: 301, headers });
      }
      const index = await this.findIndex(segments, request);
      if (index.kind === 'found') return this.files.serve(request, index.entry, index.name);
      if (index.kind === 'forbidden') return this.forbidden(index.problem, head);
      if (config.listing) return this.listing(request, url, entry.realPath, segments);
      return this.notFound(request, head);
    }
    if (lastSegment !== undefined && !trailingSlash) return this.files.serve(request, entry, lastSegment, url.pathname);
    entry.file?.close();
    return this.notFound(request, head);
  }

  /**
   * 403 for something inside the root the server may not read, with one log line saying what and the fix.
   * Not a 404: the name is no secret (listings show it), and a 404 would send the operator looking for a
   * missing file instead of a permission; nginx and Apache answer 403 too.
   */
  private forbidden(problem: string, head: boolean): Response {
    this.config.log(`static: permission denied: ${problem}`);
    return textResponse(this.config, 403, 'Forbidden', {}, head);
  }

  private async runScript(request: Request, info: ServeInfo, url: URL, cgi: CgiSettings, depth: number): Promise<Response> {
    const config = this.config;
    const response = await runCgi(request, info, url, cgi, config.log, (next) => {
      if (depth >= MAX_INTERNAL_REDIRECTS) {
        config.log(`cgi: more than ${MAX_INTERNAL_REDIRECTS} local redirects for ${url.pathname}`);
        return Promise.resolve(textResponse(config, 502, 'Bad Gateway'));
      }
      return this.dispatch(next, info, depth + 1);
    });
    for (const [name, value] of config.extraHeaders) if (!response.headers.has(name)) response.headers.set(name, value);
    return response;
  }

  private findIndex(segments: readonly string[], request: Request): Promise<IndexLookup> {
    return this.lookup.findIndex(segments, (name) => this.files.cacheCanAnswer(request, name));
  }

  private preflight(request: Request): Response {
    const headers = new Headers({ allow: ALLOWED_METHODS });
    if (this.config.corsOrigin !== undefined) {
      headers.set('access-control-allow-methods', ALLOWED_METHODS);
      const requested = request.headers.get('access-control-request-headers');
      headers.set(
        'access-control-allow-headers',
        requested && requested.length <= 1024 && /^[\w\-, ]*$/.test(requested) ? requested : PREFLIGHT_ALLOWED_HEADERS,
      );
      headers.set('access-control-max-age', '600');
    }
    return new NativeResponse(null, { status: 204, headers: withCommonHeaders(this.config, headers) });
  }

  private async listing(request: Request, url: URL, directory: string, segments: string[]): Promise<Response> {
    const config = this.config;
    let listing: Awaited<ReturnType<typeof readListing>>;
    try {
      listing = await readListing(config.realRoot, directory, config.dotfiles);
    } catch (error) {
      const head = request.method === 'HEAD';
      if (isPermissionError(error)) {
        return this.forbidden(
          `${directory} cannot be listed by ${processUser()}; allow it (chmod a+r), add an index file, or turn listings off`,
          head,
        );
      }
      // Vanished since the lookup: like any other missing path.
      return textResponse(config, 404, 'Not Found', {}, head);
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
    return new NativeResponse(request.method === 'HEAD' ? headBody() : bytes, { status: 200, headers: withCommonHeaders(config, headers) });
  }

  private async notFound(request: Request, head: boolean): Promise<Response> {
    if (this.config.spa) {
      // Client-side routes (no extension, or a browser asking for a page) get the app shell; missing assets stay 404.
      const path = new URL(request.url).pathname;
      const last = path.slice(path.lastIndexOf('/') + 1);
      if (!last.includes('.') || acceptsHtml(request.headers.get('accept'))) {
        const index = await this.findIndex([], request);
        if (index.kind === 'found') return this.files.serve(request, index.entry, index.name);
        if (index.kind === 'forbidden') return this.forbidden(index.problem, head);
      }
    }
    return textResponse(this.config, 404, 'Not Found', {}, head);
  }
}
