/**
 * Process-level behaviour of a serving `httpsd` process: signals (graceful stop, forced stop, certificate reload),
 * unhandled rejections (logged, not fatal) and uncaught exceptions (reported once with the application's
 * file:line, then the process exits so that its supervisor starts a fresh one).
 */
import cluster from 'node:cluster';
import type { Server } from '../server/types.js';
import { applicationFrame, formatLocation } from './load-app.js';
import { leaveCluster } from './workers.js';

const MAX_STACK_LINES = 12;

/** "Error: boom" plus the stack frames, at most MAX_STACK_LINES of them. */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const stack = error.stack ?? `${error.name}: ${error.message}`;
  const lines = stack.split('\n');
  const frames = lines.filter((line) => /^\s+at /.test(line));
  const head = lines.filter((line) => !/^\s+at /.test(line));
  return [...head, ...frames.slice(0, MAX_STACK_LINES), ...(frames.length > MAX_STACK_LINES ? [`    ... ${frames.length - MAX_STACK_LINES} more frames`] : [])].join('\n');
}

/** " at app.ts:12:5" when the stack names a frame of the application. */
export function whereInApplication(error: unknown): string {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const location = applicationFrame(stack);
  return location ? ` at ${formatLocation(location)}` : '';
}

/**
 * A promise the application forgot to await must not take every other connection down with it: Node's default
 * (exit on an unhandled rejection) would turn one sloppy handler into a denial of service. Logged, then serving goes on.
 * An exception thrown outside any request (a timer, an event listener of the app) leaves the process in an unknown
 * state: it is reported once, readably, and the process exits with status 1 for the supervisor to replace it.
 */
export function installErrorHandlers(): void {
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`httpsd: unhandled promise rejection in application code${whereInApplication(reason)} (a promise was not awaited): ${errorText(reason)}\n`);
  });
  process.on('uncaughtException', (error) => {
    process.stderr.write(`httpsd: uncaught exception in application code${whereInApplication(error)}: ${errorText(error)}\n`);
    process.exit(1);
  });
}

/** The certificate lines of the TLS summary (files, names, issuer and expiry), for the reload message. */
function certificateLines(server: Pick<Server, 'describeTls'>): string[] {
  const lines: string[] = [];
  let inCertificate = false;
  for (const line of server.describeTls()) {
    if (/^(Certificate:|SNI) /.test(line)) inCertificate = true;
    else if (!line.startsWith('  ')) inCertificate = false;
    if (inCertificate) lines.push(`  ${line}`);
  }
  return lines;
}

/** serve()'s onShutdownCut: what --shutdown-timeout cut is said, not silently dropped. */
export function reportShutdownCut(cut: { requests: number; connections: number }): void {
  process.stderr.write(
    `httpsd: shutdown timeout reached: cutting ${cut.requests} unfinished request${cut.requests === 1 ? '' : 's'} ` +
      `on ${cut.connections} connection${cut.connections === 1 ? '' : 's'}\n`,
  );
}

/** How long past --shutdown-timeout a graceful stop may take, at most. */
const SHUTDOWN_BACKSTOP_MS = 500;

export interface SignalOptions {
  quiet: boolean;
  /** --shutdown-timeout in ms. */
  shutdownTimeoutMs: number;
  /** --health-drain-delay in ms: serving goes on this long before the drain. */
  drainDelayMs?: number;
  /** Run by a supervisor (node:cluster worker): SIGINT from the terminal is the supervisor's to act on. */
  supervised: boolean;
}

export function installSignalHandlers(server: Server, options: SignalOptions): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals | 'disconnect') => {
    if (stopping) {
      // Second signal: stop waiting for in-flight requests.
      process.stderr.write(`httpsd: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    // A supervised worker stays quiet: its supervisor has said this already.
    if (!options.quiet && !options.supervised) process.stderr.write(`httpsd: ${signal} received, finishing in-flight requests (send again to force)\n`);
    server.close().then(
      () => leaveCluster().then(() => process.exit(0)),
      () => process.exit(1),
    );
    // close() cuts what is left at the timeout; this backstop holds the promise to the user even if closing the
    // cut connections themselves stalls.
    setTimeout(() => {
      process.stderr.write(`httpsd: still closing ${SHUTDOWN_BACKSTOP_MS} ms after the shutdown timeout; exiting now\n`);
      process.exit(0);
    }, (options.drainDelayMs ?? 0) + options.shutdownTimeoutMs + SHUTDOWN_BACKSTOP_MS).unref();
  };
  process.on('SIGTERM', stop);
  // Ctrl-C reaches every process of the terminal's group: a supervised worker leaves it to its supervisor, which
  // stops it with SIGTERM (a worker reacting too would count the supervisor's SIGTERM as a second, forcing signal).
  process.on('SIGINT', options.supervised ? () => {} : stop);
  process.on('SIGHUP', () => {
    server.reload().then(
      () => quietOr(options.quiet, `httpsd: certificates reloaded (SIGHUP):\n${certificateLines(server).join('\n')}\n`),
      (error: unknown) => process.stderr.write(`httpsd: reload failed, keeping the current certificates: ${(error as Error).message}\n`),
    );
  });
  if (cluster.isWorker) {
    // The supervisor asks for a graceful stop by disconnecting; a supervisor that died disconnects too.
    process.on('disconnect', () => stop('disconnect'));
  }
}

function quietOr(quiet: boolean, text: string): void {
  if (!quiet) process.stderr.write(text);
}
