/**
 * The `httpsd` command: `httpsd [ENTRY] [options]` serves a directory or a fetch-handler module over HTTPS
 * (h2 + http/1.1, optional cleartext h1 + h2c); `httpsd cert ...` manages the local CA.
 */
import { parseArgs } from 'node:util';
import { readFileSync, statSync } from 'node:fs';
import { resolve, extname, basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cluster from 'node:cluster';
import { UsageError } from '../common/errors.js';
import { envNameFor, type CliOption, type CliValues } from '../common/options.js';
import {
  ACCESS_LOG_FORMAT_NAMES,
  GENERAL_CLI_OPTIONS,
  LIMIT_CLI_OPTIONS,
  LISTEN_CLI_OPTIONS,
  OBSERVE_CLI_OPTIONS,
  parseServerOptions,
  type ServerCliSettings,
} from './server-options.js';
import { TLS_CLI_OPTIONS, tlsConfigFromCli, tlsPolicyFromCli } from '../tls/cli.js';
import { STATIC_CLI_OPTIONS, staticOptionsFromCli } from '../static/cli.js';
import { serveStatic } from '../static/index.js';
import { ensureLocalhostCertificate, runCertCommand } from '../cert/index.js';
import { serve } from '../server/serve.js';
import { checkCertificateCoversHost } from '../tls/index.js';
import type { FetchHandler, Server } from '../server/types.js';
import type { TlsConfig } from '../tls/types.js';
import { runPrimary, type WorkerReadyMessage } from './workers.js';

const OPTION_GROUPS: { title: string; options: CliOption[] }[] = [
  { title: 'Listening', options: LISTEN_CLI_OPTIONS },
  { title: 'TLS', options: TLS_CLI_OPTIONS },
  { title: 'Static files (when ENTRY is a directory)', options: STATIC_CLI_OPTIONS },
  { title: 'Logging and metrics', options: OBSERVE_CLI_OPTIONS },
  { title: 'Limits', options: LIMIT_CLI_OPTIONS },
  { title: 'General', options: GENERAL_CLI_OPTIONS },
];
const ALL_OPTIONS: CliOption[] = OPTION_GROUPS.flatMap((group) => group.options);

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);

export function packageVersion(): string {
  // src/cli/main.ts and dist/cli/main.js are both two levels below the package root.
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** Defaults the TLS and static option tables leave implicit, as a newcomer needs them spelled out in --help. */
const IMPLICIT_DEFAULTS: Record<string, string> = {
  'client-cert': 'none; require with --client-ca',
  cors: 'off',
  sni: 'none',
};

const HELP_WIDTH = 100;
const FLAG_COLUMN = 32;

/** Word-wraps `text` into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function helpLine(option: CliOption): string[] {
  let flag = (option.short ? `-${option.short}, ` : '    ') + `--${option.name}`;
  if (option.type === 'string') {
    const valueName = (option.valueName ?? 'VALUE').replace(/^\[(.*)\]$/, '$1');
    flag += option.name in OPTIONAL_VALUE_FLAGS ? ` [${valueName}]` : ` ${valueName}`;
  }
  let description = option.description.replace(/\.?$/, '.');
  if (option.multiple && !/repeatable/i.test(description)) description += ' Repeatable.';
  const defaultText = option.defaultText ?? IMPLICIT_DEFAULTS[option.name];
  if (defaultText) description += ` Default: ${defaultText}.`;
  const text = wrap(description, HELP_WIDTH - FLAG_COLUMN - 3);
  const first = `  ${flag.padEnd(FLAG_COLUMN)} ${text[0] ?? ''}`;
  // A flag wider than its column gets its description on the next lines.
  const lines = flag.length >= FLAG_COLUMN ? [`  ${flag}`, ...text.map((part) => ' '.repeat(FLAG_COLUMN + 3) + part)] : [first, ...text.slice(1).map((part) => ' '.repeat(FLAG_COLUMN + 3) + part)];
  return lines;
}

export function helpText(): string {
  const lines = [
    'Usage: httpsd [ENTRY] [options]',
    '       httpsd cert [NAME...] [options]     local certificate authority (httpsd cert --help)',
    '',
    ...wrap(
      'Serves ENTRY over HTTPS (HTTP/2 and HTTP/1.1). ENTRY is a directory of static files (default: the current ' +
        'directory) or a module (.ts, .mts, .js, .mjs) exporting `default { fetch(request, info) }`, a default ' +
        'function, or a named `fetch`. Without --cert/--key/--pfx a localhost certificate from the local CA is ' +
        'used; run `npx httpsd cert --install` once so that browsers and curl trust it.',
      HELP_WIDTH,
    ),
  ];
  for (const group of OPTION_GROUPS) {
    lines.push('', `${group.title}:`);
    for (const option of group.options) lines.push(...helpLine(option));
  }
  lines.push(
    '',
    'Environment:',
    '  Every option is also an HTTPSD_* variable; a flag on the command line wins over its variable.',
    '    HTTPSD_HTTP_PORT=8080           is --http-port 8080',
    '    HTTPSD_TRACE_FRAMES=1           is --trace-frames (on/off: 1, true, yes or 0, false, no, off)',
    "    HTTPSD_HEADER=$'A: 1\\nB: 2'     is -H 'A: 1' -H 'B: 2': repeatable options (--header, --sni)",
    '                                    take one value per line, as a value may contain commas',
    '  HTTPSD_CAROOT=DIR                 where the local CA keeps its files (see httpsd cert --help)',
    '',
    'Signals:',
    '  SIGINT, SIGTERM                   graceful shutdown: in-flight requests may finish',
    '                                    (--shutdown-timeout); a second signal exits at once',
    '  SIGHUP                            reload certificates and keys; a failed reload keeps the old ones',
    '',
    'Examples:',
    '  httpsd                            serve the current directory on https://localhost:8443/',
    '  httpsd ./public --spa --cors -H "Cache-Control: public, max-age=60"',
    '  httpsd examples/hello.ts --http-port 8080 --access-log',
    '  httpsd app.mjs --cert site.pem --key site-key.pem --host 0.0.0.0 --port 443 --workers 2',
  );
  return lines.join('\n');
}

/**
 * Flags whose value is optional: given alone they take `whenAlone`; the next argument is taken as their value only
 * when it can be nothing else (a known format, `*`, an http(s) origin), so `--cors ./public` still reads ./public
 * as the ENTRY. node:util parseArgs has no optional values, so these are rewritten to `--flag=VALUE` first.
 */
const OPTIONAL_VALUE_FLAGS: Record<string, { whenAlone: string; takesNext(next: string): boolean }> = {
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

async function importModule(file: string): Promise<Record<string, unknown>> {
  const extension = extname(file);
  if (extension === '.ts' || extension === '.mts' || extension === '.cts') {
    const features = process.features as { typescript?: string | false };
    if (!features.typescript) {
      // Node < 22.18 cannot strip types: tsx does it. tsImport (rather than a global register()) also loads a .ts
      // file that sits outside a "type": "module" package, where Node would treat it as CommonJS and refuse the
      // ESM syntax; what that file imports goes through tsx too.
      const { tsImport } = await import('tsx/esm/api');
      return namespaceOf((await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>);
    }
  }
  return namespaceOf((await import(pathToFileURL(file).href)) as Record<string, unknown>);
}

/**
 * A module compiled to CommonJS (a .ts/.cts file outside a "type": "module" package) arrives as
 * { default: exports } with exports.__esModule set: its own default export is one level down.
 */
function namespaceOf(module: Record<string, unknown>): Record<string, unknown> {
  const inner = module.default as Record<string, unknown> | undefined;
  if (inner && typeof inner === 'object' && inner.__esModule === true) return inner;
  return module;
}

/** Finds the handler in a module: default { fetch }, a default function, or a named fetch. */
export function handlerFromModule(module: Record<string, unknown>, file: string): FetchHandler {
  const candidate = module.default;
  if (candidate && typeof candidate === 'object' && typeof (candidate as { fetch?: unknown }).fetch === 'function') {
    const app = candidate as { fetch: FetchHandler };
    return app.fetch.bind(app);
  }
  if (typeof candidate === 'function') return candidate as FetchHandler;
  if (typeof module.fetch === 'function') return module.fetch as FetchHandler;
  throw new UsageError(
    `${file} exports no fetch handler. Fix: add \`export default { fetch(request) { return new Response('hello') } }\` ` +
      '(or export a default function, or a named `fetch`).',
  );
}

export async function loadEntry(entry: string | undefined, values: CliValues): Promise<{ handler: FetchHandler; description: string }> {
  const path = resolve(entry ?? '.');
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    throw new UsageError(`${entry}: no such file or directory. Give a directory to serve or a module (.ts, .mts, .js, .mjs).`);
  }
  if (isDirectory) {
    return { handler: serveStatic(path, staticOptionsFromCli(values)), description: `files in ${path}` };
  }
  if (!MODULE_EXTENSIONS.has(extname(path))) {
    throw new UsageError(`${entry}: not a module. ENTRY must be a directory or a .ts, .mts, .js or .mjs file exporting a fetch handler.`);
  }
  let module: Record<string, unknown>;
  try {
    module = await importModule(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${entry}: cannot load the module: ${message.split('\n')[0]}`);
  }
  return { handler: handlerFromModule(module, entry ?? path), description: basename(path) };
}

/** The TLS config for the listener, plus banner lines about where its certificate came from. */
interface ResolvedTls {
  tls: TlsConfig;
  alpn: string[] | undefined;
  /** Printed after the listener and TLS lines of the start banner. */
  notes: string[];
}

/** Certificate for the TLS listener: --cert/--key/--pfx, else one minted by the local CA (else a self-signed one). */
async function resolveTls(values: CliValues): Promise<ResolvedTls> {
  const { tls, alpn } = tlsConfigFromCli(values);
  if (tls !== undefined) return { tls, alpn, notes: [] };
  const policy = tlsPolicyFromCli(values);
  try {
    const local = await ensureLocalhostCertificate();
    const notes = local.caCreated
      ? [
          `Created a local certificate authority (${local.caCertFile}) and a localhost certificate from it.`,
          `Browsers and curl do not trust the new authority yet. To trust it, run once: ${local.trustCommand}`,
        ]
      : [`Certificate from the local CA (${local.certFile}${local.created ? ', just issued' : ''}); if clients do not trust it yet, run: ${local.trustCommand}`];
    return { tls: { ...policy, cert: local.certFile, key: local.keyFile }, alpn, notes };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const dir = mkdtempSync(join(tmpdir(), 'httpsd-selfsigned-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '7', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    // Said at once (not only in the banner): this is a degraded mode the user must notice even with --quiet.
    process.stderr.write(
      `httpsd: WARNING: the local CA is unavailable (${(error as Error).message}); using a throwaway SELF-SIGNED certificate.\n` +
        '        Clients will not trust it. Give --cert and --key for a real one.\n',
    );
    return { tls: { ...policy, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }, alpn, notes: ['WARNING: serving a throwaway SELF-SIGNED certificate (the local CA is unavailable).'] };
  }
}

/** The leaf of a PEM --cert (path or text); undefined for PKCS#12 or anything unreadable (TLS setup reports those). */
function leafCertificate(tls: TlsConfig): X509Certificate | undefined {
  if (tls.cert === undefined) return undefined;
  try {
    const pem = typeof tls.cert === 'string' && !tls.cert.includes('-----BEGIN') ? readFileSync(tls.cert) : tls.cert;
    // X509Certificate reads the first certificate of a chain file: the leaf.
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/**
 * TLS lines of the start banner: the provider's summary (profile, versions, certificate, expiry), a warning when the
 * certificate does not cover the --host clients will use, then where the certificate came from.
 */
export function tlsBannerLines(server: Pick<Server, 'describeTls'>, resolved: ResolvedTls, host: string): string[] {
  const lines = [...server.describeTls()];
  if (!lines.some((line) => line.includes('does not cover'))) {
    const leaf = leafCertificate(resolved.tls);
    const warning = leaf && checkCertificateCoversHost(leaf, host);
    if (warning) lines.push(warning);
  }
  return [...lines, ...resolved.notes];
}

function describeListeners(server: Server, settings: ServerCliSettings, alpn: string[] | undefined): string[] {
  const lines: string[] = [];
  const offered = (alpn ?? ['h2', 'http/1.1']).join(', ');
  for (const url of server.urls) {
    if (url.startsWith('https:')) lines.push(`  ${url}  (TLS; ALPN ${offered})`);
    else lines.push(`  ${url}  (cleartext; ${settings.redirectHttp ? 'redirects to https' : 'http/1.1 and h2c prior knowledge'})`);
  }
  // The URLs above say "localhost" for a wildcard bind; the user must still learn that other machines can connect.
  if (settings.host === '0.0.0.0' || settings.host === '::') {
    lines.push(`  listening on every ${settings.host === '::' ? 'IPv6 (and, where the system maps them, IPv4)' : 'IPv4'} interface (--host ${settings.host}): reachable from other machines`);
  }
  return lines;
}

function startupError(error: unknown, settings: ServerCliSettings): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const port = (error as { port?: number }).port ?? settings.port;
  if (code === 'EADDRINUSE') return new UsageError(`port ${port} is already in use. Fix: stop the other server or pick another with --port / --http-port.`, 1);
  if (code === 'EACCES') return new UsageError(`no permission to listen on port ${port}. Fix: use a port above 1023, or grant the capability (setcap cap_net_bind_service).`, 1);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new UsageError(`cannot listen on host ${settings.host}: not an address of this machine. Fix: --host localhost, 0.0.0.0 or a local address.`, 1);
  return error as Error;
}

async function runServer(values: CliValues, positionals: string[]): Promise<void> {
  const settings = parseServerOptions(values);
  const quiet = settings.quiet;
  const isWorker = cluster.isWorker;
  // Validate the entry and TLS flags once, before forking workers.
  const resolved = await resolveTls(values);
  const { tls, alpn } = resolved;
  if (settings.workers > 1 && cluster.isPrimary) {
    const { description } = await loadEntry(positionals[0], values);
    // Workers get the same certificate files (no concurrent CA creation). A --port 0 needs nothing more: node:cluster
    // binds one socket in the primary for every worker's first listen(0) on an address, so all workers, replacements
    // included, share the port it picked (choosing a free port here and closing it would let another process take it).
    const env: Record<string, string> = {};
    if (typeof tls.cert === 'string' && typeof tls.key === 'string' && values.cert === undefined) {
      env[envNameFor('cert')] = tls.cert;
      env[envNameFor('key')] = tls.key;
    }
    await runPrimary({
      workers: settings.workers,
      env,
      quiet,
      title: `httpsd ${packageVersion()} serving ${description}`,
      describe: (ready) => [...(ready.banner ?? ready.urls.map((url) => `  ${url}`)), ...resolved.notes.map((line) => `  ${line}`)],
    });
    return;
  }
  const { handler, description } = await loadEntry(positionals[0], values);
  const log = (line: string) => process.stdout.write(line + '\n');
  const server = serve({
    fetch: handler,
    port: settings.port,
    hostname: settings.host,
    tls,
    ...(alpn ? { alpn } : {}),
    ...(settings.httpPort !== undefined ? { httpPort: settings.httpPort } : {}),
    redirectHttp: settings.redirectHttp,
    accessLog: settings.accessLog ? log : false,
    ...(settings.accessLog ? { accessLogFormat: settings.accessLog } : {}),
    traceFrames: settings.traceFrames ? (line: string) => process.stderr.write(line + '\n') : false,
    ...(settings.metricsPath ? { metricsPath: settings.metricsPath } : {}),
    limits: settings.limits,
  });
  try {
    await server.ready;
  } catch (error) {
    throw startupError(error, settings);
  }
  // Before the banner: whoever waits for it (a script, a supervisor) may signal the server right away.
  installRejectionHandler();
  installSignalHandlers(server, quiet || isWorker);
  // Listeners first (what to open), then the TLS summary and anything the user must act on.
  const banner = [...describeListeners(server, settings, alpn), ...tlsBannerLines(server, resolved, settings.host).map((line) => `  ${line}`)];
  if (isWorker) {
    const ready: WorkerReadyMessage = { type: 'httpsd:ready', urls: server.urls, banner };
    process.send?.(ready);
  } else if (!quiet) {
    process.stderr.write(`httpsd ${packageVersion()} serving ${description}\n${banner.join('\n')}\n`);
  }
}

/**
 * A promise the application forgot to await must not take every other connection down with it: Node's default
 * (exit on an unhandled rejection) would turn one sloppy handler into a denial of service. Logged, then serving goes on.
 */
function installRejectionHandler(): void {
  process.on('unhandledRejection', (reason) => {
    const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    process.stderr.write(`httpsd: unhandled promise rejection in application code (a promise was not awaited): ${text}\n`);
  });
}

function installSignalHandlers(server: Server, quiet: boolean): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // Second signal: stop waiting for in-flight requests.
      process.stderr.write(`httpsd: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    if (!quiet) process.stderr.write(`httpsd: ${signal} received, finishing in-flight requests (send again to force)\n`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => {
    server.reload().then(
      () => quiet || process.stderr.write('httpsd: certificates reloaded\n'),
      (error: unknown) => process.stderr.write(`httpsd: reload failed, keeping the current certificates: ${(error as Error).message}\n`),
    );
  });
  if (cluster.isWorker) {
    // The primary asks for a graceful stop by disconnecting.
    process.on('disconnect', () => stop('SIGTERM'));
  }
}

export async function main(argv: string[]): Promise<void> {
  let fromEnvironment: string[] = [];
  try {
    if (argv[0] === 'cert') {
      process.exitCode = await runCertCommand(argv.slice(1));
      return;
    }
    const { values, positionals, fromEnvironment: environmentOptions } = parseCommandLine(argv);
    fromEnvironment = environmentOptions;
    if (values.help) {
      process.stdout.write(helpText() + '\n');
      return;
    }
    if (values.version) {
      process.stdout.write(`httpsd ${packageVersion()} (Node.js ${process.version})\n`);
      return;
    }
    await runServer(values, positionals);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`httpsd: ${attributeToEnvironment(error.message, fromEnvironment)}\n`);
      process.exitCode = error.exitCode;
      if (cluster.isWorker) process.exit(error.exitCode);
      return;
    }
    process.stderr.write(`httpsd: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
    if (cluster.isWorker) process.exit(1);
  }
}

// Run when executed directly (`node --import tsx src/cli/main.ts ...` or `node dist/cli/main.js ...`),
// and in cluster workers, which re-run the primary's script.
const invokedDirectly = process.argv[1] !== undefined && /[\\/]cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) void main(process.argv.slice(2));
