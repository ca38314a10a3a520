/**
 * The server's own flags of the `httpsd` command, and their validation into serve() settings.
 */
import { UsageError } from '../common/errors.js';
import type { CliOption, CliValues } from '../common/options.js';
import type { ServerLimits } from '../server/types.js';
import { DEFAULT_SERVER_LIMITS } from '../server/limits.js';
import { TrustedProxies } from '../server/proxy/trust.js';
import { HEALTH_CLI_OPTIONS, SOCKET_CLI_OPTIONS, parseDeployOptions, type DeployCliSettings } from './deploy-options.js';

export const ACCESS_LOG_FORMAT_NAMES = ['combined', 'common', 'json', 'short'] as const;
export type AccessLogFormatName = (typeof ACCESS_LOG_FORMAT_NAMES)[number];

/** Where and how the server listens. */
export const LISTEN_CLI_OPTIONS: CliOption[] = [
  { name: 'port', short: 'p', type: 'string', valueName: 'N', description: 'TLS port (h2 + http/1.1). 0 picks a free port.', defaultText: '8443' },
  { name: 'host', type: 'string', valueName: 'HOST', description: 'Address to listen on; localhost means 127.0.0.1 and ::1. Use 0.0.0.0 or :: for every interface.', defaultText: 'localhost' },
  { name: 'http-port', type: 'string', valueName: 'N', description: 'Also listen in cleartext on this port: http/1.1 and h2c (prior knowledge) on the same port.', defaultText: 'off' },
  {
    name: 'no-http3',
    type: 'boolean',
    description: 'Do not serve HTTP/3 (QUIC on the TLS port over UDP, advertised with Alt-Svc). HTTP/3 is on whenever TLS is; with --workers N the httpsd process relays each QUIC connection to its worker.',
  },
  { name: 'redirect-http', type: 'boolean', description: 'Answer cleartext requests (--http-port) with a 308 redirect to https instead of serving them.' },
  {
    name: 'workers',
    type: 'string',
    valueName: 'N',
    description:
      'Worker processes serving the port (node:cluster), watched by the httpsd process. A worker that crashes (e.g. an uncaught exception in the app) is restarted after 0.1 s, doubling to 30 s while it keeps crashing. HTTP/3: the httpsd process owns the UDP port and relays each QUIC connection to its worker.',
    defaultText: '1',
  },
  ...SOCKET_CLI_OPTIONS,
];

/** Running behind a reverse proxy or load balancer (docs/deploy.md, "Behind a proxy"). */
export const PROXY_CLI_OPTIONS: CliOption[] = [
  {
    name: 'trust-proxy',
    type: 'string',
    valueName: 'ADDRESSES',
    description:
      'Comma-separated addresses, CIDR ranges and keywords (loopback, private, linklocal, unix) of proxies whose X-Forwarded-For/-Proto/-Host and Forwarded headers are believed: the client they name becomes info.remoteAddress, the access log address and request.url\'s scheme and host. Headers from any other peer are ignored.',
    defaultText: 'off',
  },
  {
    name: 'proxy-protocol',
    type: 'boolean',
    description:
      'Every TCP connection (TLS and --http-port) must start with a PROXY protocol v1 or v2 header from the load balancer; its client address is the peer. Connections without one are closed. Not for HTTP/3.',
  },
];

/** What the server prints and exposes about its traffic. */
export const OBSERVE_CLI_OPTIONS: CliOption[] = [
  { name: 'access-log', type: 'string', valueName: 'FORMAT', description: `One line per request on stdout; FORMAT: ${ACCESS_LOG_FORMAT_NAMES.join(', ')}.`, defaultText: 'off; combined when given alone' },
  { name: 'trace-frames', type: 'boolean', description: 'Print every HTTP/2 and HTTP/3 frame in and out, decoded (like nghttp -v), on stderr.' },
  { name: 'trace-quic', type: 'boolean', description: 'Print every QUIC packet in and out (type, packet number, size, frames), on stderr.' },
  { name: 'metrics', type: 'string', valueName: 'PATH', description: 'Serve the server counters in Prometheus text format at PATH, e.g. /metrics.', defaultText: 'off' },
  ...HEALTH_CLI_OPTIONS,
  { name: 'quiet', short: 'q', type: 'boolean', description: 'Print nothing but errors (no start banner).' },
];

/** Resource limits (the rest have fixed defaults; see the server docs). */
export const LIMIT_CLI_OPTIONS: CliOption[] = [
  { name: 'max-body-size', type: 'string', valueName: 'BYTES', description: 'Largest request body; a larger one gets 413. Suffixes k, m, g.', defaultText: '64m' },
  { name: 'max-connections', type: 'string', valueName: 'N', description: 'Concurrent connections per process; more are closed when accepted.', defaultText: String(DEFAULT_SERVER_LIMITS.maxConnections) },
  { name: 'idle-timeout', type: 'string', valueName: 'SECONDS', description: 'Close idle keep-alive and HTTP/2 connections after this long.', defaultText: String(DEFAULT_SERVER_LIMITS.idleTimeout / 1000) },
  { name: 'shutdown-timeout', type: 'string', valueName: 'SECONDS', description: 'On SIGTERM/SIGINT, wait this long for in-flight requests, then close.', defaultText: String(DEFAULT_SERVER_LIMITS.shutdownTimeout / 1000) },
];

export const GENERAL_CLI_OPTIONS: CliOption[] = [
  {
    name: 'compress',
    type: 'boolean',
    description:
      "Compress a module's responses with br or gzip (zstd where Node has it) as the client's Accept-Encoding allows: compressible types (text, JSON, JavaScript, XML, SVG …) of 1 KiB or more, and streams, flushed as they are produced. A directory ENTRY compresses its files itself (--no-compression).",
  },
  {
    name: 'no-fast-response',
    type: 'boolean',
    description:
      "Leave the global Response as Node's (undici's). By default httpsd makes its FastResponse the global Response before it loads the app, so the app's own new Response(...) costs a fraction of undici's; instanceof Response still holds for fetch() results.",
  },
  {
    name: 'watch',
    type: 'boolean',
    description:
      'Development: reload the app module when a file it loaded changes (outside node_modules). New workers start beside the old ones, which finish their requests; an app that no longer loads is reported with its file:line and the previous version keeps serving. Nothing to do for a directory ENTRY: its files are read on every request.',
  },
  { name: 'help', short: 'h', type: 'boolean', description: 'Show this help.' },
  { name: 'version', short: 'v', type: 'boolean', description: 'Show the version of httpsd and Node.js.' },
];

/** Every flag of the server itself (TLS and static-file flags live with their modules). */
export const SERVER_CLI_OPTIONS: CliOption[] = [...LISTEN_CLI_OPTIONS, ...PROXY_CLI_OPTIONS, ...OBSERVE_CLI_OPTIONS, ...LIMIT_CLI_OPTIONS, ...GENERAL_CLI_OPTIONS];

export interface ServerCliSettings {
  port: number;
  host: string;
  httpPort: number | undefined;
  redirectHttp: boolean;
  /** HTTP/3: 'on', or 'off' (--no-http3). */
  http3: 'on' | 'off';
  workers: number;
  accessLog: AccessLogFormatName | undefined;
  traceFrames: boolean;
  /** --trace-quic: one line per QUIC packet. */
  traceQuic: boolean;
  metricsPath: string | undefined;
  quiet: boolean;
  /** --watch: reload the app when a file of its module graph changes. */
  watch: boolean;
  /** --compress: serve({ compress: true }). */
  compress: boolean;
  /** false with --no-fast-response: serve({ fastResponse: false }), and the global Response is left alone. */
  fastResponse: boolean;
  limits: Partial<ServerLimits>;
  /** --trust-proxy: the entries (validated), or undefined. */
  trustProxy: string[] | undefined;
  /** --proxy-protocol. */
  proxyProtocol: boolean;
  /** --unix, --fd, --health (src/cli/deploy-options.ts). */
  deploy: DeployCliSettings;
}

function trustProxyEntries(values: CliValues): string[] | undefined {
  const text = stringValue(values, 'trust-proxy');
  if (text === undefined) return undefined;
  try {
    return [...new TrustedProxies(text).entries];
  } catch (error) {
    throw new UsageError(`--trust-proxy ${text}: ${(error as Error).message.replace(/^trustProxy /, '')}.`);
  }
}

function stringValue(values: CliValues, name: string): string | undefined {
  const value = values[name];
  if (Array.isArray(value)) return value.length ? String(value[value.length - 1]) : undefined;
  return typeof value === 'string' ? value : undefined;
}

function flag(values: CliValues, name: string): boolean {
  const value = values[name];
  if (typeof value === 'string') return !/^(0|false|no|off|)$/i.test(value.trim());
  return value === true;
}

function port(values: CliValues, name: string): number | undefined {
  const text = stringValue(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value > 65535) throw new UsageError(`--${name} ${text}: not a port number. Use 0–65535 (0 picks a free port).`);
  return value;
}

function positiveInteger(values: CliValues, name: string, max: number): number | undefined {
  const text = stringValue(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1 || value > max) throw new UsageError(`--${name} ${text}: expected a whole number from 1 to ${max}.`);
  return value;
}

function seconds(values: CliValues, name: string): number | undefined {
  const text = stringValue(values, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new UsageError(`--${name} ${text}: expected a number of seconds, e.g. 30 or 0.5.`);
  return Math.round(value * 1000);
}

export function parseByteSize(text: string, flagName: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(text.trim());
  if (!match) throw new UsageError(`--${flagName} ${text}: expected a size in bytes, e.g. 1048576, 512k, 64m or 1g.`);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.floor(Number(match[1]) * scale);
}

export function parseServerOptions(values: CliValues): ServerCliSettings {
  let accessLogText = stringValue(values, 'access-log');
  let accessLog: AccessLogFormatName | undefined;
  // HTTPSD_ACCESS_LOG=1 / =0 read like the boolean options.
  if (accessLogText !== undefined && /^(1|true|yes|on)$/i.test(accessLogText.trim())) accessLogText = 'combined';
  if (accessLogText !== undefined && /^(0|false|no|off)$/i.test(accessLogText.trim())) accessLogText = undefined;
  if (accessLogText !== undefined) {
    if (!(ACCESS_LOG_FORMAT_NAMES as readonly string[]).includes(accessLogText)) {
      throw new UsageError(`--access-log ${accessLogText}: unknown format. Accepted: ${ACCESS_LOG_FORMAT_NAMES.join(', ')}.`);
    }
    accessLog = accessLogText as AccessLogFormatName;
  } else if (values['access-log'] === true) {
    accessLog = 'combined';
  }
  const metricsPath = stringValue(values, 'metrics');
  if (metricsPath !== undefined && !metricsPath.startsWith('/')) {
    throw new UsageError(`--metrics ${metricsPath}: the path must start with "/", e.g. --metrics /metrics.`);
  }
  const host = stringValue(values, 'host') ?? 'localhost';
  if (host.trim() === '') throw new UsageError('--host is empty. Use localhost, 0.0.0.0, :: or an address of this machine.');
  const limits: Partial<ServerLimits> = {};
  const maxBody = stringValue(values, 'max-body-size');
  if (maxBody !== undefined) limits.maxBodySize = parseByteSize(maxBody, 'max-body-size');
  const maxConnections = positiveInteger(values, 'max-connections', 10_000_000);
  if (maxConnections !== undefined) limits.maxConnections = maxConnections;
  const idle = seconds(values, 'idle-timeout');
  if (idle !== undefined) limits.idleTimeout = idle;
  const shutdown = seconds(values, 'shutdown-timeout');
  if (shutdown !== undefined) limits.shutdownTimeout = shutdown;
  const httpPort = port(values, 'http-port');
  const redirectHttp = flag(values, 'redirect-http');
  if (redirectHttp && httpPort === undefined) throw new UsageError('--redirect-http needs --http-port N (the cleartext port to redirect from).');
  const tlsPort = port(values, 'port') ?? 8443;
  // One socket cannot be both listeners; say so instead of failing later with "port already in use".
  if (httpPort !== undefined && httpPort !== 0 && httpPort === tlsPort) {
    throw new UsageError(`--http-port ${httpPort} is the same as --port: the cleartext port must differ from the TLS port (e.g. --http-port 8080).`);
  }
  const workers = positiveInteger(values, 'workers', 256) ?? 1;
  const deploy = parseDeployOptions(values);
  if (redirectHttp && deploy.unix !== undefined) throw new UsageError('--redirect-http redirects to the TLS port, which --unix replaces: drop one of them.');
  return {
    port: tlsPort,
    host,
    httpPort,
    redirectHttp,
    http3: flag(values, 'no-http3') ? 'off' : 'on',
    workers,
    accessLog,
    traceFrames: flag(values, 'trace-frames'),
    traceQuic: flag(values, 'trace-quic'),
    metricsPath,
    quiet: flag(values, 'quiet'),
    watch: flag(values, 'watch'),
    compress: flag(values, 'compress'),
    fastResponse: !flag(values, 'no-fast-response'),
    limits,
    trustProxy: trustProxyEntries(values),
    proxyProtocol: flag(values, 'proxy-protocol'),
    deploy,
  };
}
