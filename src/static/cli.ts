/**
 * Command-line flags of the static file server, declared in the shared CliOption shape so the `httpsd` command
 * assembles them into its parser, --help and HTTPSD_* environment variables.
 */
import type { CliOption, CliValues } from '../common/options.js';
import { StaticConfigError } from './config.js';
import type { StaticOptions } from './config.js';
import { DEFAULT_CGI_PREFIX, DEFAULT_CGI_TIMEOUT_MS } from './cgi.js';

export const STATIC_CLI_OPTIONS: CliOption[] = [
  { name: 'dotfiles', type: 'boolean', description: 'Serve files and directories whose names start with "." (hidden by default)' },
  { name: 'no-listing', type: 'boolean', description: 'Answer 404 for directories without an index.html instead of listing them' },
  {
    name: 'cache-control',
    type: 'string',
    valueName: 'VALUE',
    description: 'Cache-Control for files: a header value, a max-age in seconds, or "immutable" (one year)',
    defaultText: 'no-cache',
  },
  { name: 'spa', type: 'boolean', description: 'Single-page app: unknown paths without an extension serve /index.html with 200' },
  {
    name: 'cors',
    type: 'string',
    valueName: '[ORIGIN]',
    description: 'Send access-control-allow-origin (ORIGIN, or * when given without a value) and answer preflights',
  },
  {
    name: 'header',
    short: 'H',
    type: 'string',
    multiple: true,
    valueName: '"NAME: VALUE"',
    description: 'Add a response header to every response (repeatable)',
  },
  { name: 'no-compression', type: 'boolean', description: 'Do not compress responses on the fly (precompressed .br/.zst/.gz files are still used)' },
  { name: 'cgi', type: 'boolean', description: 'Run executables under the CGI prefix as CGI/1.1 scripts (RFC 3875)' },
  { name: 'cgi-prefix', type: 'string', valueName: 'PATH', description: 'URL prefix of CGI scripts', defaultText: DEFAULT_CGI_PREFIX },
  { name: 'cgi-dir', type: 'string', valueName: 'DIR', description: 'Directory holding the CGI scripts', defaultText: 'ROOT/cgi-bin' },
  {
    name: 'cgi-timeout',
    type: 'string',
    valueName: 'SECONDS',
    description: 'Kill a CGI script (and its process group) running longer than this',
    defaultText: String(DEFAULT_CGI_TIMEOUT_MS / 1000),
  },
];

function stringValue(values: CliValues, name: string): string | undefined {
  const value = values[name];
  if (value === undefined || value === false) return undefined;
  if (value === true) return '';
  if (Array.isArray(value)) {
    const last = value[value.length - 1];
    return last === undefined ? undefined : typeof last === 'boolean' ? (last ? '' : undefined) : last;
  }
  return value;
}

function booleanValue(values: CliValues, name: string): boolean {
  const value = values[name];
  if (Array.isArray(value)) return value.length > 0 && value[value.length - 1] !== false && value[value.length - 1] !== 'false';
  if (typeof value === 'string') return value !== '' && value !== 'false' && value !== '0';
  return value === true;
}

function stringList(values: CliValues, name: string): string[] {
  const value = values[name];
  if (value === undefined || typeof value === 'boolean') return [];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [value];
}

/** --cache-control: "3600" → "public, max-age=3600"; "immutable" → one year, immutable; else a header value. */
export function parseCacheControl(value: string): string {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return `public, max-age=${Number(trimmed)}`;
  if (trimmed.toLowerCase() === 'immutable') return 'public, max-age=31536000, immutable';
  if (trimmed === '' || !/^[\x20-\x7e]+$/.test(trimmed)) {
    throw new StaticConfigError(`--cache-control "${value}" is not valid; use e.g. --cache-control 3600, --cache-control immutable or --cache-control "public, max-age=60".`);
  }
  return trimmed;
}

export function staticOptionsFromCli(values: CliValues): StaticOptions {
  const options: StaticOptions = {};
  if (booleanValue(values, 'dotfiles')) options.dotfiles = true;
  if (booleanValue(values, 'no-listing')) options.listing = false;
  if (booleanValue(values, 'spa')) options.spa = true;
  if (booleanValue(values, 'no-compression')) options.compression = false;

  const cacheControl = stringValue(values, 'cache-control');
  if (cacheControl !== undefined) options.cacheControl = parseCacheControl(cacheControl);

  const cors = stringValue(values, 'cors');
  if (cors !== undefined) {
    const origin = cors.trim();
    const lowered = origin.toLowerCase();
    // Environment variables spell booleans as 1/0, yes/no, on/off (HTTPSD_CORS=1 means --cors alone).
    if (origin === '' || origin === '*' || ['true', '1', 'yes', 'on'].includes(lowered)) options.cors = true;
    else if (['false', '0', 'no', 'off'].includes(lowered)) {
      // explicitly off: leave options.cors unset
    } else {
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = undefined;
      }
      if (!parsed || parsed.origin !== origin.replace(/\/$/, '')) {
        throw new StaticConfigError(`--cors "${cors}" is not an origin; use --cors alone for *, or --cors https://example.com.`);
      }
      options.cors = parsed.origin;
    }
  }

  const headers: Record<string, string> = {};
  for (const item of stringList(values, 'header')) {
    const colon = item.indexOf(':');
    const name = colon > 0 ? item.slice(0, colon).trim() : '';
    const value = colon > 0 ? item.slice(colon + 1).trim() : '';
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name) || /[\0\r\n]/.test(value)) {
      throw new StaticConfigError(`--header "${item}" is not valid; write it as --header "Name: value".`);
    }
    headers[name] = value;
  }
  if (Object.keys(headers).length > 0) options.headers = headers;

  const cgiPrefix = stringValue(values, 'cgi-prefix');
  const cgiDir = stringValue(values, 'cgi-dir');
  const cgiTimeout = stringValue(values, 'cgi-timeout');
  if (booleanValue(values, 'cgi')) {
    const cgi: NonNullable<Exclude<StaticOptions['cgi'], false>> = {};
    if (cgiPrefix !== undefined) {
      if (!/^\/?[A-Za-z0-9._~\-/]+\/?$/.test(cgiPrefix) || cgiPrefix.split('/').some((part) => part === '..' || part === '.')) {
        throw new StaticConfigError(`--cgi-prefix "${cgiPrefix}" is not a plain URL path; use e.g. --cgi-prefix /cgi-bin/.`);
      }
      cgi.prefix = cgiPrefix;
    }
    if (cgiDir !== undefined) {
      if (cgiDir === '') throw new StaticConfigError('--cgi-dir needs a directory, e.g. --cgi-dir ./cgi-bin.');
      cgi.dir = cgiDir;
    }
    if (cgiTimeout !== undefined) {
      const seconds = Number(cgiTimeout);
      if (!/^\d+(\.\d+)?$/.test(cgiTimeout.trim()) || !(seconds > 0) || seconds > 86_400) {
        throw new StaticConfigError(`--cgi-timeout "${cgiTimeout}" is not valid; give seconds between 0 and 86400, e.g. --cgi-timeout 30.`);
      }
      cgi.timeoutMs = Math.round(seconds * 1000);
    }
    options.cgi = cgi;
  } else if (cgiPrefix !== undefined || cgiDir !== undefined || cgiTimeout !== undefined) {
    throw new StaticConfigError('--cgi-prefix, --cgi-dir and --cgi-timeout only apply with --cgi; add --cgi to enable CGI.');
  }
  return options;
}
