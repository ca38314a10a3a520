/**
 * Flags for running the `httpsd` command in production: where it listens besides a host and port (a Unix socket,
 * inherited sockets of systemd socket activation) and the health endpoint load balancers probe.
 */
import { UsageError } from '../common/errors.js';
import type { CliOption, CliValues } from '../common/options.js';
import { parseFdSpec, parseFileMode, readSystemdSockets } from '../server/listeners.js';
import { MAX_DRAIN_DELAY_MS } from '../server/health.js';

/** Listener flags (in the "Listening" group of --help). */
export const SOCKET_CLI_OPTIONS: CliOption[] = [
  {
    name: 'unix',
    type: 'string',
    valueName: 'PATH',
    description:
      'Listen on this Unix domain socket instead of --host/--port: cleartext http/1.1 and h2c, what a reverse proxy on the same machine speaks (--unix-tls for TLS). A socket file left by a server that died is replaced; one in use, or any other file, is refused. No HTTP/3 there.',
    defaultText: 'off',
  },
  { name: 'unix-mode', type: 'string', valueName: 'MODE', description: "File mode of the --unix socket, octal: 660 lets the socket file's group (e.g. the proxy's) connect, 600 the owner only.", defaultText: "the umask's" },
  { name: 'unix-tls', type: 'boolean', description: 'Serve TLS (h2 and http/1.1 by ALPN) on Unix sockets (--unix, or inherited ones) instead of cleartext.' },
  {
    name: 'fd',
    type: 'string',
    multiple: true,
    valueName: 'N',
    description:
      'Serve the listening socket inherited as descriptor N (also written fd://N) instead of --host/--port: TLS on a TCP socket, cleartext on a Unix socket. Sockets passed by systemd socket activation (LISTEN_FDS, LISTEN_PID) are served without this flag.',
  },
];

/** Health flags (in the "Logging and metrics" group). */
export const HEALTH_CLI_OPTIONS: CliOption[] = [
  {
    name: 'health',
    type: 'string',
    valueName: 'PATH',
    description: 'Answer GET/HEAD of PATH (e.g. /health) with 200 while serving and 503 from the moment shutdown begins, before the app sees the request.',
    defaultText: 'off',
  },
  {
    name: 'health-drain-delay',
    type: 'string',
    valueName: 'SECONDS',
    description: `On SIGTERM/SIGINT, keep accepting and serving this long with --health answering 503, so that load balancers stop sending, before the --shutdown-timeout drain. At most ${MAX_DRAIN_DELAY_MS / 1000}.`,
    defaultText: '0',
  },
];

export interface DeployCliSettings {
  unix: { path: string; mode: number | undefined } | undefined;
  /** --unix-tls: TLS on Unix sockets. */
  unixTls: boolean;
  /** --fd values (socket activation adds its own at start). */
  fds: number[];
  healthPath: string | undefined;
  drainDelayMs: number | undefined;
}

function lastString(values: CliValues, name: string): string | undefined {
  const value = values[name];
  if (Array.isArray(value)) return value.length ? String(value[value.length - 1]) : undefined;
  return typeof value === 'string' ? value : undefined;
}

function allStrings(values: CliValues, name: string): string[] {
  const value = values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

export function parseDeployOptions(values: CliValues): DeployCliSettings {
  const unixPath = lastString(values, 'unix');
  if (unixPath !== undefined && unixPath.trim() === '') throw new UsageError('--unix is empty. Give the socket path, e.g. --unix /run/myapp/http.sock.');
  const modeText = lastString(values, 'unix-mode');
  if (modeText !== undefined && unixPath === undefined) throw new UsageError('--unix-mode needs --unix PATH (the socket to apply it to).');
  const fds = allStrings(values, 'fd').flatMap((text) => text.split(',').filter((part) => part.trim() !== '').map((part) => parseFdSpec(part)));
  if (unixPath !== undefined && fds.length > 0) throw new UsageError('--unix and --fd both replace --host/--port: give one of them.');
  // Named like the socket-level settings (host, port) they replace: a value there would be silently ignored.
  for (const replaced of ['port', 'host']) {
    if ((unixPath !== undefined || fds.length > 0) && values[replaced] !== undefined) {
      throw new UsageError(`--${replaced} and ${unixPath !== undefined ? '--unix' : '--fd'} both say where to listen: give one of them (--http-port still adds a cleartext TCP listener).`);
    }
  }
  const healthPath = lastString(values, 'health');
  if (healthPath !== undefined && (!healthPath.startsWith('/') || /[?#\s]/.test(healthPath))) {
    throw new UsageError(`--health ${healthPath}: the path must start with "/" and have no query, e.g. --health /health.`);
  }
  const delayText = lastString(values, 'health-drain-delay');
  let drainDelayMs: number | undefined;
  if (delayText !== undefined) {
    const seconds = Number(delayText);
    if (delayText.trim() === '' || !Number.isFinite(seconds) || seconds < 0 || seconds * 1000 > MAX_DRAIN_DELAY_MS) {
      throw new UsageError(`--health-drain-delay ${delayText}: expected seconds from 0 to ${MAX_DRAIN_DELAY_MS / 1000}, e.g. 5 or 0.5.`);
    }
    drainDelayMs = Math.round(seconds * 1000);
  }
  return {
    unix: unixPath === undefined ? undefined : { path: unixPath, mode: modeText === undefined ? undefined : parseFileMode(modeText, '--unix-mode') },
    unixTls: values['unix-tls'] === true,
    fds,
    healthPath,
    drainDelayMs,
  };
}

/**
 * The listening sockets the supervisor keeps open for its workers: --fd, or those systemd passed to it. Each worker
 * inherits them at the same descriptor numbers (workerStdio()) and listens on its own copy, so the sockets outlive
 * any worker, the last one included: a crashed worker's replacement serves the same socket.
 */
export function supervisorInheritedFds(settings: DeployCliSettings, env: NodeJS.ProcessEnv = process.env): number[] {
  if (settings.unix !== undefined) return [];
  if (settings.fds.length > 0) return settings.fds;
  return readSystemdSockets(env, [process.pid])?.fds ?? [];
}

/**
 * node:cluster's stdio for workers that inherit `fds`: stdin, stdout and stderr shared as usual, each inherited
 * socket at its own number (/dev/null in gaps), and the IPC channel after them, where it does not take fd 3.
 */
export function workerStdio(fds: readonly number[]): (number | 'ignore' | 'ipc')[] {
  const stdio: (number | 'ignore' | 'ipc')[] = [0, 1, 2];
  const highest = Math.max(...fds);
  for (let fd = 3; fd <= highest; fd++) stdio.push(fds.includes(fd) ? fd : 'ignore');
  stdio.push('ipc');
  return stdio;
}
