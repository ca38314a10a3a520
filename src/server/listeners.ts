/**
 * Listeners that are not a host and port: Unix domain sockets (bound here, with stale-socket cleanup and a file
 * mode) and listening sockets inherited from the parent process (systemd socket activation, `fd://N`).
 *
 * Both serve h1 + h2c in cleartext or, when asked, TLS (h2 + http/1.1 by ALPN). They are plain net.Servers whose
 * accepted sockets are handed to the server's TLS or cleartext connection handling, so the protocol can be chosen
 * after the socket's family is known (an inherited descriptor says what it is only once it is listened on).
 */
import cluster from 'node:cluster';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { UsageError } from '../common/errors.js';
import type { InheritedSocketOptions, UnixSocketOptions } from './types.js';

/**
 * What ServeInfo.remoteAddress says for a client of a Unix socket, which has no address: the value nginx gives
 * `$remote_addr` there. The local address is the socket's path (or `fd://N` for an inherited one); ports are 0.
 */
export const UNIX_REMOTE_ADDRESS = 'unix:';

/** Longest path a Unix socket address holds (sun_path is 108 bytes on Linux, 104 on BSDs and macOS, with its NUL). */
const MAX_UNIX_PATH_BYTES = 103;

/** systemd's first passed descriptor (sd_listen_fds(3): SD_LISTEN_FDS_START). */
export const SD_LISTEN_FDS_START = 3;

/** At most this many inherited sockets are taken: a LISTEN_FDS of 10^9 is a mistake, not a plan. */
const MAX_LISTEN_FDS = 64;

export interface ResolvedUnixSocket {
  path: string;
  /** File mode applied after bind (e.g. 0o660), or undefined for the umask's. */
  mode: number | undefined;
  tls: boolean | undefined;
}

/** A file mode given as a number (0o660) or an octal string ("660", "0660"). */
export function parseFileMode(value: number | string, what: string): number {
  const mode = typeof value === 'number' ? value : /^0?[0-7]{3}$/.test(value.trim()) ? parseInt(value.trim(), 8) : NaN;
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new UsageError(`${what} ${String(value)}: expected an octal file mode such as 660 (owner and group may connect) or 600 (owner only).`);
  }
  return mode;
}

export function resolveUnixSocket(option: string | UnixSocketOptions): ResolvedUnixSocket {
  const { path, mode, tls } = typeof option === 'string' ? { path: option, mode: undefined, tls: undefined } : option;
  if (typeof path !== 'string' || path === '') throw new TypeError('serve(): `unix` needs a socket path, e.g. { unix: "/run/myapp/http.sock" }');
  if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
    throw new UsageError(`unix socket path ${path} is ${Buffer.byteLength(path)} bytes long: the system takes at most ${MAX_UNIX_PATH_BYTES}. Use a shorter path (e.g. under /run).`);
  }
  return { path, mode: mode === undefined ? undefined : parseFileMode(mode, 'unix socket mode'), tls };
}

/** `3`, `"3"` or `"fd://3"` (as Hypercorn's --bind writes it) → 3. */
export function parseFdSpec(value: number | string): number {
  const text = typeof value === 'number' ? String(value) : value.trim();
  const match = /^(?:fd:\/\/)?(\d{1,6})$/.exec(text);
  const fd = match ? Number(match[1]) : NaN;
  // 0-2 are stdin, stdout and stderr: never a listening socket handed over on purpose.
  if (!Number.isInteger(fd) || fd < SD_LISTEN_FDS_START) {
    throw new UsageError(`fd ${String(value)}: expected an inherited socket's descriptor number, 3 or above (N or fd://N).`);
  }
  return fd;
}

export function resolveInheritedSockets(option: number | InheritedSocketOptions | (number | InheritedSocketOptions)[]): InheritedSocketOptions[] {
  const list = Array.isArray(option) ? option : [option];
  if (list.length === 0) throw new TypeError('serve(): `fd` is an empty list; give at least one inherited socket descriptor');
  const sockets = list.map((entry) => (typeof entry === 'number' ? { fd: parseFdSpec(entry) } : { ...entry, fd: parseFdSpec(entry.fd) }));
  // One descriptor opened twice would be two handles polling one socket, each closing it under the other.
  const seen = new Set<number | string>();
  for (const { fd } of sockets) {
    if (seen.has(fd)) throw new UsageError(`fd ${fd} is given twice: each inherited socket is served once.`);
    seen.add(fd);
  }
  return sockets;
}

export interface SystemdSockets {
  fds: number[];
  /** LISTEN_FDNAMES (FileDescriptorName= of the socket units), one per descriptor, when systemd gave them. */
  names: string[] | undefined;
}

/**
 * The listening sockets systemd passed (sd_listen_fds(3)): LISTEN_FDS descriptors from 3 on, meant for this process
 * when LISTEN_PID is its pid. Under the `httpsd` supervisor the workers serve them: the pid is then the
 * supervisor's (`acceptedPids`). The variables are removed from `env` once read, as sd_listen_fds(unset=1) does, so
 * that processes the app starts do not take the sockets for theirs. Undefined when nothing was passed to us.
 */
export function takeSystemdSockets(env: NodeJS.ProcessEnv, acceptedPids: readonly number[]): SystemdSockets | undefined {
  const sockets = readSystemdSockets(env, acceptedPids);
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
  return sockets;
}

/** takeSystemdSockets() without removing the variables (the `httpsd` supervisor leaves them to its workers). */
export function readSystemdSockets(env: NodeJS.ProcessEnv, acceptedPids: readonly number[]): SystemdSockets | undefined {
  const countText = env.LISTEN_FDS;
  const pidText = env.LISTEN_PID;
  const namesText = env.LISTEN_FDNAMES;
  if (countText === undefined) return undefined;
  // Set for another process (a parent that forgot to unset them): not ours to take.
  if (pidText === undefined || !/^\d+$/.test(pidText.trim()) || !acceptedPids.includes(Number(pidText))) return undefined;
  if (!/^\d+$/.test(countText.trim())) throw new UsageError(`LISTEN_FDS=${countText}: expected the number of sockets systemd passed.`);
  const count = Number(countText);
  if (count === 0) return undefined;
  if (count > MAX_LISTEN_FDS) throw new UsageError(`LISTEN_FDS=${count}: at most ${MAX_LISTEN_FDS} inherited sockets are served.`);
  const fds = Array.from({ length: count }, (_, index) => SD_LISTEN_FDS_START + index);
  const names = namesText === undefined ? undefined : namesText.split(':');
  return { fds, names: names?.length === count ? names : undefined };
}

/** server.listen(options) (or another way to start listening), settled by 'listening' or the first 'error'. */
export function listenWith(server: net.Server, options: net.ListenOptions | (() => void)): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    if (typeof options === 'function') options();
    else server.listen(options);
  });
}

/** Whether something accepts connections on the Unix socket at `path` (ECONNREFUSED: a leftover nobody serves). */
function unixSocketInUse(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => {
      probe.destroy();
      if (error.code === 'ECONNREFUSED') resolve(false);
      // Gone meanwhile: nothing to clean up.
      else if (error.code === 'ENOENT') resolve(false);
      else reject(error);
    });
  });
}

function inUseError(path: string): UsageError {
  return new UsageError(`unix socket ${path} is in use: another server accepts connections on it. Fix: stop that server or pick another path.`, 1);
}

/**
 * Binds `server` to the Unix socket `path`. A socket file left by a server that died (connecting is refused) is
 * removed first; one some process still serves is an error naming the path; anything else at the path (a regular
 * file, a directory) is never removed. The mode is applied right after bind, before the first connection is
 * accepted (connections wait in the backlog until the event loop turns). node:net unlinks the file on close.
 *
 * In a node:cluster worker the supervisor binds the socket and shares it between workers: a live socket at the
 * path may be that shared one, so it is not refused here; a foreign one makes the supervisor's bind fail with
 * EADDRINUSE, reported the same way.
 */
export async function listenUnix(server: net.Server, socket: ResolvedUnixSocket, sharedByCluster: boolean): Promise<void> {
  const { path, mode } = socket;
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (stats !== undefined) {
    if (!stats.isSocket()) {
      throw new UsageError(`unix socket path ${path} exists and is not a socket: refusing to replace it. Fix: remove it yourself or pick another path.`, 1);
    }
    if (await unixSocketInUse(path)) {
      if (!sharedByCluster) throw inUseError(path);
    } else {
      // The file checked is the file removed: one put in its place meanwhile (the probe took a turn of the event
      // loop) is left alone.
      const now = lstatSync(path, { throwIfNoEntry: false });
      if (now !== undefined && (!now.isSocket() || now.ino !== stats.ino || now.dev !== stats.dev)) {
        throw new UsageError(`unix socket path ${path} changed while it was checked: refusing to remove it. Try again.`, 1);
      }
      if (now !== undefined) unlinkSync(path);
    }
  }
  try {
    await listenWith(server, { path, backlog: 1024 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw inUseError(path);
    throw error;
  }
  if (mode !== undefined) chmodSync(path, mode);
}

/**
 * Listens on this process's descriptor `fd`. In a node:cluster worker, listen({ fd }) means the primary's descriptor
 * of that number (it wraps it and shares it) and no `exclusive` option changes that; the primary would then close
 * it with its last worker, and a crashed worker's replacement would find it gone. So a worker, which inherits the
 * sockets itself (src/cli/deploy-options.ts workerStdio()), listens through `_listen2`, the step listen() takes in
 * a process outside a cluster (kept by Node under that name for code that wraps it): it opens the descriptor as a
 * TCP or pipe handle and listens on it, emitting 'listening' or 'error' as listen() does.
 */
function listenOnOwnDescriptor(server: net.Server, fd: number, backlog: number): Promise<void> {
  // (`fd` is a documented listen() option that @types/node leaves out of ListenOptions.)
  if (!cluster.isWorker) return listenWith(server, { fd, backlog } as net.ListenOptions);
  const internal = server as net.Server & { _listen2?: (address: null, port: null, addressType: null, backlog: number, fd: number) => void };
  if (typeof internal._listen2 !== 'function') throw new Error('this Node.js version cannot listen on an inherited descriptor in a cluster worker');
  return listenWith(server, () => internal._listen2!(null, null, null, backlog, fd));
}

/** Listens on an inherited, already bound socket; whether it is TCP (true) or a Unix socket (false). */
export async function listenInherited(server: net.Server, fd: number): Promise<boolean> {
  try {
    await listenOnOwnDescriptor(server, fd, 1024);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EBADF' || code === 'ENOTSOCK' || code === 'EINVAL' || code === 'ENOTSUP') {
      throw new UsageError(`fd://${fd}: not a socket this process inherited (${code}). Socket activation passes them from 3 on (LISTEN_FDS).`, 1);
    }
    throw error;
  }
  const address = server.address();
  return address !== null && typeof address === 'object' && typeof address.port === 'number';
}

/**
 * A Unix socket's connections have no address: node:net reports undefined for both ends. Set once on the accepted
 * socket, before any connection facts are read, so that logs and handlers see `unix:` and the socket's path.
 */
export function markUnixPeer(socket: net.Socket, localAddress: string): void {
  Object.defineProperty(socket, 'remoteAddress', { value: UNIX_REMOTE_ADDRESS, configurable: true });
  Object.defineProperty(socket, 'remotePort', { value: 0, configurable: true });
  Object.defineProperty(socket, 'localAddress', { value: localAddress, configurable: true });
  Object.defineProperty(socket, 'localPort', { value: 0, configurable: true });
}

/** The URL-like name of a listener in server.urls: `unix:/run/app.sock`, or `fd://3` for an inherited one. */
export function unixListenerName(pathOrFd: string | number): string {
  return typeof pathOrFd === 'number' ? `fd://${pathOrFd}` : `unix:${pathOrFd}`;
}

/** How the server handles an accepted connection: its TLS listener (when TLS is configured) or its cleartext one. */
export interface ConnectionHandlers {
  /**
   * A non-listening server whose 'connection' starts the TLS handshake (a tls.Server, or with the PROXY protocol the
   * net.Server that reads the PROXY header first); undefined without TLS material.
   */
  tls: (() => net.Server) | undefined;
  /** A non-listening net.Server whose 'connection' sniffs h1 / h2c. */
  cleartext: () => net.Server;
}

export interface SocketListeners {
  servers: net.Server[];
  /** `unix:/path`, `fd://N`, or `https://address:port/` / `http://…` for an inherited TCP socket. */
  urls: string[];
  /** The port of the first inherited TCP socket serving TLS (for redirects to https), if any. */
  tlsPort: number | undefined;
}

/** Hands every connection `listener` accepts to `target`; for a Unix socket, with its peer named first. */
function dispatch(listener: net.Server, target: net.Server, unixName: string | undefined): void {
  if (unixName !== undefined && target instanceof tls.Server) {
    // The TLS socket wraps the accepted one and asks the system for its own (absent) addresses.
    target.prependListener('secureConnection', (socket: tls.TLSSocket) => markUnixPeer(socket, unixName));
  }
  listener.on('connection', (socket: net.Socket) => {
    if (unixName !== undefined) markUnixPeer(socket, unixName);
    target.emit('connection', socket);
  });
}

function tlsTarget(handlers: ConnectionHandlers, what: string): () => net.Server {
  if (handlers.tls === undefined) throw new TypeError(`serve(): ${what} asks for TLS (tls: true) but serve() has no \`tls\` or \`acme\``);
  return handlers.tls;
}

function hostForUrl(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * Opens the `unix` or `fd` listeners of serve() options; undefined when neither is given (the server then listens
 * on hostname/port). On failure the listeners opened so far are closed.
 */
export async function openSocketListeners(
  options: { unix?: string | UnixSocketOptions | undefined; fd?: number | InheritedSocketOptions | (number | InheritedSocketOptions)[] | undefined },
  handlers: ConnectionHandlers,
): Promise<SocketListeners | undefined> {
  if (options.unix === undefined && options.fd === undefined) return undefined;
  if (options.unix !== undefined && options.fd !== undefined) throw new TypeError('serve() takes `unix` or `fd`, not both: each replaces hostname/port');
  const result: SocketListeners = { servers: [], urls: [], tlsPort: undefined };
  try {
    if (options.unix !== undefined) {
      const socket = resolveUnixSocket(options.unix);
      const target = socket.tls === true ? tlsTarget(handlers, '`unix`')() : handlers.cleartext();
      const listener = net.createServer();
      dispatch(listener, target, socket.path);
      await listenUnix(listener, socket, cluster.isWorker);
      result.servers.push(listener);
      result.urls.push(unixListenerName(socket.path));
      return result;
    }
    for (const { fd, tls: wantTls } of resolveInheritedSockets(options.fd!)) {
      const listener = net.createServer({ noDelay: true });
      result.servers.push(listener);
      const number = fd as number;
      const isTcp = await listenInherited(listener, number);
      const useTls = wantTls ?? (isTcp && handlers.tls !== undefined);
      const target = useTls ? tlsTarget(handlers, `fd ${number}`)() : handlers.cleartext();
      dispatch(listener, target, isTcp ? undefined : unixListenerName(number));
      if (isTcp) {
        const { address, port } = listener.address() as net.AddressInfo;
        result.urls.push(`${useTls ? 'https' : 'http'}://${hostForUrl(address)}:${port}/`);
        if (useTls) result.tlsPort ??= port;
      } else {
        result.urls.push(unixListenerName(number));
      }
    }
    return result;
  } catch (error) {
    await Promise.all(result.servers.map((server) => new Promise((resolve) => server.close(resolve))));
    throw error;
  }
}
