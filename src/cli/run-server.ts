/**
 * A worker of the `httpsd` command: the server itself (entry, certificate, listeners), and the ready message that
 * carries its start banner to the supervisor.
 */
import cluster from 'node:cluster';
import { UsageError } from '../common/errors.js';
import type { CliValues } from '../common/options.js';
import { DEFAULT_SERVER_LIMITS } from '../server/limits.js';
import { serve } from '../server/serve.js';
import { installFastResponse } from '../server/response.js';
import { describeListeners, tlsBannerLines } from './banner.js';
import { packageVersion } from './help.js';
import { LoadError, loadEntry } from './load-app.js';
import { trackModuleGraph } from './module-graph.js';
import type { ServerCliSettings } from './server-options.js';
import { errorText, installErrorHandlers, installSignalHandlers, reportShutdownCut, whereInApplication } from './signals.js';
import { explainTlsError, resolveTls, servedLeaf, type ResolvedTls } from './tls-setup.js';
import { takeSystemdSockets } from '../server/listeners.js';
import type { Server } from '../server/types.js';
import { PINNED_PORTS_VARIABLE, type WorkerModulesMessage, type WorkerReadyMessage } from './workers.js';

function startupError(error: unknown, settings: ServerCliSettings): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const port = (error as { port?: number }).port ?? settings.port;
  const unix = settings.deploy.unix;
  if (unix !== undefined && (code === 'EACCES' || code === 'ENOENT')) {
    return new UsageError(`cannot create the unix socket ${unix.path} (${code}). Fix: create its directory and let the server's user write there (systemd: RuntimeDirectory=).`, 1);
  }
  if (code === 'EADDRINUSE') return new UsageError(`port ${port} is already in use. Fix: stop the other server or pick another with --port / --http-port.`, 1);
  if (code === 'EACCES') return new UsageError(`no permission to listen on port ${port}. Fix: use a port above 1023, or grant the capability (setcap cap_net_bind_service).`, 1);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new UsageError(`cannot listen on host ${settings.host}: not an address of this machine. Fix: --host localhost, 0.0.0.0 or a local address.`, 1);
  return error as Error;
}

/**
 * The sockets to serve instead of --host/--port: --fd, else those of systemd socket activation. The LISTEN_*
 * variables are removed either way, so that processes the app starts do not take the sockets. A worker of the
 * supervisor accepts LISTEN_PID naming the supervisor, which systemd started; node:cluster has the supervisor listen
 * on the descriptor (its fd 3 is the worker's IPC channel) and share it with every worker.
 */
function inheritedSockets(settings: ServerCliSettings): { fds: number[]; notes: string[] } {
  const systemd = takeSystemdSockets(process.env, cluster.isWorker ? [process.pid, process.ppid] : [process.pid]);
  if (settings.deploy.fds.length > 0 || settings.deploy.unix !== undefined || systemd === undefined) return { fds: settings.deploy.fds, notes: [] };
  const named = systemd.names ? ` (${systemd.names.join(', ')})` : '';
  return {
    fds: systemd.fds,
    notes: [`Socket activation: serving ${systemd.fds.length} socket${systemd.fds.length === 1 ? '' : 's'} passed by the service manager${named} (LISTEN_FDS).`],
  };
}

/**
 * The listener's TLS, or undefined when every listener is cleartext (--unix without --unix-tls): no certificate is
 * loaded or created then, and TLS flags are refused rather than ignored.
 */
async function resolveListenerTls(values: CliValues, settings: ServerCliSettings): Promise<ResolvedTls | undefined> {
  if (settings.deploy.unix === undefined || settings.deploy.unixTls) return resolveTls(values);
  const tlsFlag = ['cert', 'key', 'pfx', 'acme'].find((name) => values[name] !== undefined);
  if (tlsFlag !== undefined) throw new UsageError(`--${tlsFlag} is for TLS, and --unix serves cleartext: add --unix-tls to serve TLS on the socket, or drop --${tlsFlag}.`);
  return undefined;
}

/**
 * The app's onListen for serve(): a throw stops the start (serve() closes the listeners and `ready` rejects) with the
 * app's file:line; exit status 1, which the supervisor does not retry.
 */
function reportingOnListen(onListen: (server: Server) => unknown): (server: Server) => Promise<void> {
  return async (server) => {
    try {
      await onListen(server);
    } catch (error) {
      throw new UsageError(`onListen failed${whereInApplication(error)}: ${errorText(error)}`, 1);
    }
  };
}

/** Sends the app's files to the supervisor (--watch); resolves once the message is out, even on a closed channel. */
function reportModules(files: string[]): Promise<void> {
  const message: WorkerModulesMessage = { type: 'httpsd:modules', files };
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

/** A worker: serves until told to stop, and reports its banner to the supervisor. */
export async function runWorker(values: CliValues, positionals: string[], settings: ServerCliSettings): Promise<void> {
  // Before the app is imported: a timer it starts at import time may already throw.
  installErrorHandlers();
  const pinned = cluster.isWorker ? process.env[PINNED_PORTS_VARIABLE]?.split(',') : undefined;
  if (pinned) {
    settings.port = Number(pinned[0]);
    if (pinned[1]) settings.httpPort = Number(pinned[1]);
  }
  const sockets = inheritedSockets(settings);
  // What the banner describes: the sockets served, given by --fd or by the service manager.
  settings.deploy.fds = sockets.fds;
  const resolved = await resolveListenerTls(values, settings);
  const tls = resolved?.tls ?? false;
  const alpn = resolved?.alpn;
  const graph = settings.watch && cluster.isWorker ? trackModuleGraph((files) => reportModules(files)) : undefined;
  // Before the app is imported, so that a Response it captures at module level (a class reference, a prebuilt
  // response) is the global serve() installs too.
  if (settings.fastResponse) installFastResponse();
  let loaded: Awaited<ReturnType<typeof loadEntry>>;
  try {
    loaded = await loadEntry(positionals[0], values);
  } catch (error) {
    if (graph) {
      // The supervisor watches the file at fault too, so that fixing it retries.
      if (error instanceof LoadError && error.location) graph.add(error.location.file);
      await reportModules(graph.files());
    }
    throw error;
  }
  const { handler, description, websocket, hooks } = loaded;
  const log = (line: string) => process.stdout.write(line + '\n');
  const server = serve({
    fetch: resolved?.acme ? resolved.acme.wrapFetch(handler) : handler,
    ...(websocket ? { websocket } : {}),
    port: settings.port,
    hostname: settings.host,
    tls,
    ...(alpn ? { alpn } : {}),
    ...(settings.httpPort !== undefined ? { httpPort: settings.httpPort } : {}),
    redirectHttp: settings.redirectHttp,
    http3: settings.http3 === 'on',
    accessLog: settings.accessLog ? log : false,
    ...(settings.accessLog ? { accessLogFormat: settings.accessLog } : {}),
    traceFrames: settings.traceFrames ? (line: string) => process.stderr.write(line + '\n') : false,
    traceQuic: settings.traceQuic,
    ...(settings.metricsPath ? { metricsPath: settings.metricsPath } : {}),
    ...(settings.compress ? { compress: true } : {}),
    fastResponse: settings.fastResponse,
    limits: settings.limits,
    ...(settings.trustProxy ? { trustProxy: settings.trustProxy } : {}),
    proxyProtocol: settings.proxyProtocol,
    onShutdownCut: reportShutdownCut,
    ...(settings.deploy.unix ? { unix: { ...settings.deploy.unix, tls: settings.deploy.unixTls } } : {}),
    ...(sockets.fds.length > 0 ? { fd: sockets.fds.map((fd) => (settings.deploy.unixTls ? { fd, tls: true } : fd)) } : {}),
    ...(settings.deploy.healthPath !== undefined ? { healthPath: settings.deploy.healthPath } : {}),
    ...(settings.deploy.drainDelayMs !== undefined ? { drainDelay: settings.deploy.drainDelayMs } : {}),
    ...(hooks?.onListen ? { onListen: reportingOnListen(hooks.onListen) } : {}),
    ...(hooks?.onShutdown ? { onShutdown: hooks.onShutdown as () => Promise<void> } : {}),
  });
  try {
    await server.ready;
    // --acme: the first certificate is obtained with the listener up (the CA validates through it).
    if (resolved?.acme) resolved.notes.push(...(await resolved.acme.start(server)));
  } catch (error) {
    await server.close(0).catch(() => undefined);
    throw startupError(tls === false ? error : explainTlsError(error, tls), settings);
  }
  // Before the banner: whoever waits for it (a script, a supervisor) may signal the server right away.
  installSignalHandlers(server, {
    quiet: settings.quiet,
    supervised: cluster.isWorker,
    shutdownTimeoutMs: settings.limits.shutdownTimeout ?? DEFAULT_SERVER_LIMITS.shutdownTimeout,
    ...(settings.deploy.drainDelayMs !== undefined ? { drainDelayMs: settings.deploy.drainDelayMs } : {}),
  });
  // Listeners first (what to open), then the TLS summary and anything the user must act on.
  const leaf = tls === false ? undefined : await servedLeaf(tls);
  const notes = [...(resolved?.notes ?? []), ...sockets.notes];
  const banner = [...describeListeners(server, settings, alpn), ...tlsBannerLines(server, leaf, settings.host, notes).map((line) => `  ${line}`)];
  const title = `httpsd ${packageVersion()} serving ${description}`;
  if (cluster.isWorker) {
    // Before the ready message, on the same channel: the supervisor knows what to watch once it switches.
    if (graph) await reportModules(graph.files());
    const ready: WorkerReadyMessage = { type: 'httpsd:ready', urls: server.urls, port: server.port, httpPort: server.httpPort, title, banner };
    process.send?.(ready);
  } else if (!settings.quiet) {
    process.stderr.write(`${title}\n${banner.join('\n')}\n`);
  }
}
