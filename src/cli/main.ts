/**
 * The `httpsd` command: `httpsd [ENTRY] [options]` serves a directory or a fetch-handler module over HTTPS
 * (h2 + http/1.1, optional cleartext h1 + h2c); `httpsd cert ...` manages the local CA.
 */
import { parseArgs } from 'node:util';
import { readFileSync, statSync } from 'node:fs';
import { resolve, extname, basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cluster from 'node:cluster';
import * as net from 'node:net';
import { UsageError } from './errors.js';
import { envNameFor, type CliOption, type CliValues } from './options.js';
import { SERVER_CLI_OPTIONS, ACCESS_LOG_FORMAT_NAMES, parseServerOptions, type ServerCliSettings } from './server-options.js';
import { TLS_CLI_OPTIONS, tlsConfigFromCli, tlsPolicyFromCli } from '../tls/cli.js';
import { STATIC_CLI_OPTIONS, staticOptionsFromCli } from '../static/cli.js';
import { serveStatic } from '../static/index.js';
import { ensureLocalhostCertificate, runCertCommand } from '../cert/index.js';
import { serve } from '../server/serve.js';
import type { FetchHandler, Server } from '../server/types.js';
import type { TlsConfig } from '../tls/types.js';
import { runPrimary } from './workers.js';

const OPTION_GROUPS: { title: string; options: CliOption[] }[] = [
  { title: 'Server', options: SERVER_CLI_OPTIONS },
  { title: 'TLS', options: TLS_CLI_OPTIONS },
  { title: 'Static files (when ENTRY is a directory)', options: STATIC_CLI_OPTIONS },
];
const ALL_OPTIONS: CliOption[] = OPTION_GROUPS.flatMap((group) => group.options);

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);

export function packageVersion(): string {
  // src/cli/main.ts and dist/cli/main.js are both two levels below the package root.
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

export function helpText(): string {
  const lines = [
    'Usage: httpsd [ENTRY] [options]',
    '       httpsd cert [NAME...] [options]     (local certificate authority; see httpsd cert --help)',
    '',
    'ENTRY is a directory to serve (default: the current directory) or a module (.ts, .mts, .js, .mjs)',
    'exporting `default { fetch(request, info) }`, a default function, or a named `fetch`.',
    'Every option can also be given as an environment variable: --http-port 8080 is HTTPSD_HTTP_PORT=8080.',
  ];
  for (const group of OPTION_GROUPS) {
    lines.push('', `${group.title}:`);
    for (const option of group.options) {
      let flag = (option.short ? `-${option.short}, ` : '    ') + `--${option.name}`;
      if (option.type === 'string') flag += option.name === 'access-log' ? ' [FORMAT]' : ` ${option.valueName ?? 'VALUE'}`;
      let description = option.description;
      if (option.defaultText) description += ` (default: ${option.defaultText})`;
      lines.push(`  ${flag.padEnd(34)} ${description}`);
    }
  }
  lines.push(
    '',
    'Examples:',
    '  httpsd                               serve the current directory on https://localhost:8443/',
    '  httpsd examples/hello.ts --http-port 8080',
    '  httpsd app.mjs --cert site.pem --key site-key.pem --host 0.0.0.0 --port 443 --workers 2',
  );
  return lines.join('\n');
}

/** --access-log takes an optional FORMAT: give it its default when no known format follows. */
function normalizeArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--access-log') {
      const next = argv[i + 1];
      if (next !== undefined && (ACCESS_LOG_FORMAT_NAMES as readonly string[]).includes(next)) {
        out.push(`--access-log=${next}`);
        i++;
      } else {
        out.push('--access-log=combined');
      }
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Parses argv plus HTTPSD_* environment variables (argv wins). */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): { values: CliValues; positionals: string[] } {
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
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '.');
    throw new UsageError(`${message} Run httpsd --help for the list of options.`);
  }
  const values: CliValues = { ...parsed.values };
  for (const option of ALL_OPTIONS) {
    if (values[option.name] !== undefined) continue;
    const raw = env[envNameFor(option.name)];
    if (raw === undefined || raw === '') continue;
    if (option.type === 'boolean') values[option.name] = !/^(0|false|no|off)$/i.test(raw.trim());
    else values[option.name] = option.multiple ? raw.split(',').map((item) => item.trim()).filter(Boolean) : raw;
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(`one ENTRY expected, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}. Run httpsd --help.`);
  }
  return { values, positionals: parsed.positionals };
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  const extension = extname(file);
  if (extension === '.ts' || extension === '.mts' || extension === '.cts') {
    const features = process.features as { typescript?: string | false };
    if (!features.typescript) {
      // Node < 22.18 cannot strip types: tsx's ESM loader does it.
      const { register } = await import('tsx/esm/api');
      register();
    }
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
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

/** Certificate for the TLS listener: --cert/--key/--pfx, else one minted by the local CA (else a self-signed one). */
async function resolveTls(values: CliValues, quiet: boolean): Promise<{ tls: TlsConfig; alpn: string[] | undefined }> {
  const { tls, alpn } = tlsConfigFromCli(values);
  if (tls !== undefined) return { tls, alpn };
  const policy = tlsPolicyFromCli(values);
  try {
    const local = await ensureLocalhostCertificate();
    if (!quiet) {
      process.stderr.write(
        `httpsd: using the local CA certificate ${local.certFile}${local.created ? ' (just created)' : ''}.\n` +
          `        To make browsers and curl trust it, run: ${local.trustCommand}\n`,
      );
    }
    return { tls: { ...policy, cert: local.certFile, key: local.keyFile }, alpn };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const dir = mkdtempSync(join(tmpdir(), 'httpsd-selfsigned-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '7', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    process.stderr.write(
      `httpsd: WARNING: the local CA is unavailable (${(error as Error).message}); using a throwaway SELF-SIGNED certificate.\n` +
        '        Clients will not trust it. Give --cert and --key for a real one.\n',
    );
    return { tls: { ...policy, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }, alpn };
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host === 'localhost' ? '127.0.0.1' : host, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolvePort(port));
    });
  });
}

function describeListeners(server: Server, settings: ServerCliSettings, alpn: string[] | undefined): string[] {
  const lines: string[] = [];
  const offered = (alpn ?? ['h2', 'http/1.1']).join(', ');
  for (const url of server.urls) {
    if (url.startsWith('https:')) lines.push(`  ${url}  (TLS; ALPN ${offered})`);
    else lines.push(`  ${url}  (cleartext; ${settings.redirectHttp ? 'redirects to https' : 'http/1.1 and h2c prior knowledge'})`);
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
  if (cluster.isWorker) {
    // Ports the primary picked for a --port 0 / --http-port 0 run (shared by every worker).
    if (process.env.HTTPSD_WORKER_PORT) settings.port = Number(process.env.HTTPSD_WORKER_PORT);
    if (process.env.HTTPSD_WORKER_HTTP_PORT) settings.httpPort = Number(process.env.HTTPSD_WORKER_HTTP_PORT);
  }
  const quiet = settings.quiet;
  const isWorker = cluster.isWorker;
  // Validate the entry and TLS flags once, before forking workers.
  const { tls, alpn } = await resolveTls(values, quiet || isWorker);
  if (settings.workers > 1 && cluster.isPrimary) {
    await loadEntry(positionals[0], values);
    // Workers get the same certificate files (no concurrent CA creation) and, for port 0, one port chosen here:
    // node:cluster would give each worker its own random port.
    const env: Record<string, string> = {};
    if (settings.port === 0) env.HTTPSD_WORKER_PORT = String(await freePort(settings.host));
    if (settings.httpPort === 0) env.HTTPSD_WORKER_HTTP_PORT = String(await freePort(settings.host));
    if (typeof tls.cert === 'string' && typeof tls.key === 'string' && values.cert === undefined) {
      env[envNameFor('cert')] = tls.cert;
      env[envNameFor('key')] = tls.key;
    }
    await runPrimary({ workers: settings.workers, env, quiet, describe: (urls) => urls.map((u) => `  ${u}`) });
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
  if (isWorker) {
    process.send?.({ type: 'httpsd:ready', urls: server.urls });
  } else if (!quiet) {
    const tlsLines = server.describeTls().map((line) => `  ${line}`);
    process.stderr.write(
      `httpsd ${packageVersion()} serving ${description}\n${[...describeListeners(server, settings, alpn), ...tlsLines].join('\n')}\n`,
    );
  }
  installRejectionHandler();
  installSignalHandlers(server, quiet || isWorker);
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
  try {
    if (argv[0] === 'cert') {
      process.exitCode = await runCertCommand(argv.slice(1));
      return;
    }
    const { values, positionals } = parseCommandLine(argv);
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
      process.stderr.write(`httpsd: ${error.message}\n`);
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
