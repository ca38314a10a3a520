/**
 * The command line of `httpsd [ENTRY] [options]`: the option table (the server's, TLS and static-file flags), argv
 * parsing with optional flag values, and the HTTPSD_* environment variables (argv wins).
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../common/errors.js';
import { envNameFor, type CliOption, type CliValues } from '../common/options.js';
import {
  ACCESS_LOG_FORMAT_NAMES,
  GENERAL_CLI_OPTIONS,
  LIMIT_CLI_OPTIONS,
  LISTEN_CLI_OPTIONS,
  OBSERVE_CLI_OPTIONS,
  PROXY_CLI_OPTIONS,
} from './server-options.js';
import { TLS_CLI_OPTIONS } from '../tls/cli.js';
import { STATIC_CLI_OPTIONS } from '../static/cli.js';
import { ACME_CLI_OPTIONS } from '../acme/cli.js';

export const OPTION_GROUPS: { title: string; options: CliOption[] }[] = [
  { title: 'Listening', options: LISTEN_CLI_OPTIONS },
  { title: 'Behind a proxy or load balancer', options: PROXY_CLI_OPTIONS },
  { title: 'TLS', options: TLS_CLI_OPTIONS },
  { title: 'Automatic HTTPS (ACME)', options: ACME_CLI_OPTIONS },
  { title: 'Static files (when ENTRY is a directory)', options: STATIC_CLI_OPTIONS },
  { title: 'Logging and metrics', options: OBSERVE_CLI_OPTIONS },
  { title: 'Limits', options: LIMIT_CLI_OPTIONS },
  { title: 'General', options: GENERAL_CLI_OPTIONS },
];
export const ALL_OPTIONS: CliOption[] = OPTION_GROUPS.flatMap((group) => group.options);

/**
 * Flags whose value is optional: given alone they take `whenAlone`; the next argument is taken as their value only
 * when it can be nothing else (a known format, `*`, an http(s) origin), so `--cors ./public` still reads ./public
 * as the ENTRY. node:util parseArgs has no optional values, so these are rewritten to `--flag=VALUE` first.
 */
export const OPTIONAL_VALUE_FLAGS: Record<string, { whenAlone: string; takesNext(next: string): boolean }> = {
  'access-log': { whenAlone: 'combined', takesNext: (next) => (ACCESS_LOG_FORMAT_NAMES as readonly string[]).includes(next) },
  cors: { whenAlone: '*', takesNext: (next) => next === '*' || /^https?:\/\//i.test(next) },
};

function normalizeArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      // Everything after `--` is positional.
      out.push(...argv.slice(i));
      break;
    }
    const optional = arg.startsWith('--') ? OPTIONAL_VALUE_FLAGS[arg.slice(2)] : undefined;
    if (optional === undefined) {
      out.push(arg);
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && optional.takesNext(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(`${arg}=${optional.whenAlone}`);
    }
  }
  return out;
}

/**
 * The values of one HTTPSD_* variable. A repeatable option holds one value per line: its values may themselves
 * contain commas (`Cache-Control: public, max-age=60`, `--sni NAME=CERT,KEY`), so commas cannot separate them.
 */
export function envValues(raw: string, option: CliOption): string | string[] {
  if (!option.multiple) return raw;
  return raw
    .split(/\r?\n/)
    .map((item) => item.trim())
    .filter(Boolean);
}

/** Parses argv plus HTTPSD_* environment variables (argv wins). */
export function parseCommandLine(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): { values: CliValues; positionals: string[]; fromEnvironment: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const option of ALL_OPTIONS) {
    options[option.name] = { type: option.type, ...(option.short ? { short: option.short } : {}), ...(option.multiple ? { multiple: true } : {}) };
  }
  let parsed: { values: CliValues; positionals: string[] };
  try {
    parsed = parseArgs({ args: normalizeArgv(argv), options, allowPositionals: true, strict: true }) as unknown as {
      values: CliValues;
      positionals: string[];
    };
  } catch (error) {
    let message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '.').trim();
    if (!message.endsWith('.')) message += '.';
    throw new UsageError(`${message} Run httpsd --help for the list of options.`);
  }
  const values: CliValues = { ...parsed.values };
  const fromEnvironment: string[] = [];
  for (const option of ALL_OPTIONS) {
    if (values[option.name] !== undefined) continue;
    const raw = env[envNameFor(option.name)];
    if (raw === undefined || raw === '') continue;
    fromEnvironment.push(option.name);
    if (option.type === 'boolean') values[option.name] = !/^(0|false|no|off)$/i.test(raw.trim());
    else values[option.name] = envValues(raw, option);
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(`one ENTRY expected, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}. Run httpsd --help.`);
  }
  return { values, positionals: parsed.positionals, fromEnvironment };
}

/**
 * An error about `--port` confuses a user who never typed it: when the value came from HTTPSD_PORT, say so.
 */
export function attributeToEnvironment(message: string, fromEnvironment: readonly string[]): string {
  const named = fromEnvironment.filter((name) => new RegExp(`--${name}(?![\\w-])`).test(message));
  if (named.length === 0) return message;
  return `${message} (${named.map((name) => `--${name} was set by the environment variable ${envNameFor(name)}`).join('; ')})`;
}
