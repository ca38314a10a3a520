/**
 * The options of `serveStatic` and their validation into the configuration the handler runs with. Every problem is
 * found here, at startup, and reported as a StaticConfigError naming the option (or directory) and the fix.
 */
import { accessSync, constants as fsConstants, realpathSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { UsageError } from '../common/errors.js';
import { DEFAULT_CGI_PREFIX, DEFAULT_CGI_TIMEOUT_MS } from './cgi.js';
import type { CgiSettings } from './cgi.js';
import { isPermissionError, processUser } from './permissions.js';

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
  /** Where operational problems (failing CGI scripts, unreadable files, read errors) are reported. Default console.error. */
  log?: (line: string) => void;
}

/** The options, checked and with defaults filled in; directories canonical. */
export interface StaticConfig {
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

/** A `serveStatic` option or directory that cannot work; the CLI prints the message alone and exits non-zero. */
export class StaticConfigError extends UsageError {
  constructor(message: string) {
    super(message);
    this.name = 'StaticConfigError';
  }
}

const DEFAULT_CACHE_CONTROL = 'no-cache';
const DEFAULT_CGI_MAX_CONCURRENT = 64;

function hasAccess(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/**
 * The canonical path of a directory the server must be able to use, checked with the server's own permissions:
 * a root it cannot read would otherwise start fine and answer 404 to everything.
 */
function canonicalDirectory(path: string, what: string, needsListing: boolean): string {
  let real: string;
  try {
    real = realpathSync(resolvePath(path));
  } catch (error) {
    if (isPermissionError(error)) {
      throw new StaticConfigError(
        `${what} ${path} cannot be reached by ${processUser()}: a directory on its path is not searchable. ` +
          'Fix: chmod a+x the directories leading to it, or run httpsd as a user who can read it.',
      );
    }
    throw new StaticConfigError(`${what} ${path} does not exist or is not readable; pass an existing directory.`);
  }
  if (!statSync(real).isDirectory()) throw new StaticConfigError(`${what} ${path} is not a directory; pass a directory.`);
  // Search permission is needed to reach anything inside; read permission to list it.
  if (!hasAccess(real, fsConstants.X_OK)) {
    throw new StaticConfigError(
      `${what} ${path} is not searchable by ${processUser()}, so nothing in it could be served. ` +
        `Fix: chmod a+rx ${path}, or run httpsd as a user who can read it.`,
    );
  }
  if (needsListing && !hasAccess(real, fsConstants.R_OK)) {
    throw new StaticConfigError(
      `${what} ${path} is not readable by ${processUser()}, so it could not be listed. ` +
        `Fix: chmod a+r ${path}, or turn listings off (--no-listing, or listing: false).`,
    );
  }
  return real;
}

function checkedHeaders(headers: Record<string, string>): Array<[string, string]> {
  const checked: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    try {
      new Headers([[name, value]]);
    } catch {
      throw new StaticConfigError(`Invalid header "${name}: ${value}"; use a token name and a value without control characters.`);
    }
    checked.push([name.toLowerCase(), value]);
  }
  return checked;
}

function checkedIndexNames(index: string[]): string[] {
  for (const name of index) {
    if (name === '' || /[/\\\0]/.test(name) || name === '.' || name === '..') {
      throw new StaticConfigError(`Invalid index file name "${name}": use a plain file name such as index.html.`);
    }
  }
  return index;
}

function cgiSettings(cgi: Exclude<StaticOptions['cgi'], false | undefined>, realRoot: string): CgiSettings {
  let prefix = cgi.prefix ?? DEFAULT_CGI_PREFIX;
  if (!prefix.startsWith('/')) prefix = '/' + prefix;
  if (!prefix.endsWith('/')) prefix += '/';
  if (prefix === '/') throw new StaticConfigError('The CGI prefix cannot be "/"; use a path such as /cgi-bin/.');
  const timeoutMs = cgi.timeoutMs ?? DEFAULT_CGI_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new StaticConfigError('The CGI timeout must be a positive number of milliseconds.');
  const dir = cgi.dir ?? resolvePath(realRoot, 'cgi-bin');
  return {
    prefix,
    timeoutMs,
    realDir: canonicalDirectory(dir, 'CGI directory', false),
    realRoot,
    maxConcurrent: cgi.maxConcurrent ?? DEFAULT_CGI_MAX_CONCURRENT,
  };
}

function corsOrigin(cors: StaticOptions['cors']): string | undefined {
  if (cors === true) return '*';
  if (typeof cors !== 'string' || cors === '') return undefined;
  if (/[\r\n\0\s,]/.test(cors)) throw new StaticConfigError(`Invalid CORS origin "${cors}"; use * or one origin like https://example.com.`);
  return cors;
}

export function resolveConfig(root: string, options: StaticOptions): StaticConfig {
  const realRoot = canonicalDirectory(root, 'Static root', options.listing ?? true);
  const cacheControl = options.cacheControl ?? DEFAULT_CACHE_CONTROL;
  if (/[\r\n\0]/.test(cacheControl)) throw new StaticConfigError('Invalid cache-control value: it must not contain line breaks.');
  return {
    realRoot,
    dotfiles: options.dotfiles ?? false,
    listing: options.listing ?? true,
    index: checkedIndexNames(options.index ?? ['index.html']),
    cacheControl,
    spa: options.spa ?? false,
    corsOrigin: corsOrigin(options.cors),
    extraHeaders: checkedHeaders(options.headers ?? {}),
    compression: options.compression ?? true,
    precompressed: options.precompressed ?? true,
    etag: options.etag ?? true,
    cgi: options.cgi ? cgiSettings(options.cgi, realRoot) : undefined,
    log: options.log ?? ((line) => console.error(line)),
  };
}
