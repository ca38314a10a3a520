/**
 * The supervisor of the `httpsd` command: a node:cluster primary that forks the serving worker(s) (one by default,
 * `--workers N`), restarts a crashed one with exponential backoff, forwards SIGHUP (reload), and on SIGINT/SIGTERM
 * stops the workers gracefully (a second signal kills them). One application bug thrown outside a request (a timer,
 * an event listener) therefore costs a restart, never the server.
 *
 * The supervisor never runs application code: the first worker starts alone (creating the local CA if needed and
 * showing that the app loads), then the others. A worker that fails before the server is up (a bad flag, a module
 * that does not load, a taken port) is not restarted: its message stands and the command exits with its status, so a
 * broken module cannot spin.
 */
import cluster, { type Worker } from 'node:cluster';

/** What a worker tells the primary once its listeners are bound. */
export interface WorkerReadyMessage {
  type: 'httpsd:ready';
  urls: string[];
  /** Bound ports, kept for a replacement when no other worker holds the listening sockets. */
  port: number;
  httpPort: number | undefined;
  /** First banner line, e.g. "httpsd 0.1.0 serving app.ts". */
  title: string;
  /** Start banner lines (listeners, TLS summary and warnings), already indented. */
  banner: string[];
}

/**
 * The ports a replacement worker must bind (set by the primary when no worker is left). node:cluster closes a
 * listening socket with its last worker, so after a crash of the only worker `--port 0` would otherwise come back
 * on another port.
 */
export const PINNED_PORTS_VARIABLE = 'HTTPSD_SUPERVISOR_PORTS';

export interface PrimaryOptions {
  workers: number;
  quiet: boolean;
}

/** Restart delay grows with crashes in a row (0.1 s … 30 s) and resets after a minute of stability. */
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;
const STABLE_MS = 60_000;

function isReadyMessage(message: unknown): message is WorkerReadyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'httpsd:ready';
}

export function runPrimary(options: PrimaryOptions): Promise<void> {
  let stopping = false;
  let announced = false;
  let readyWorkers = 0;
  let crashesInARow = 0;
  let lastCrash = 0;
  let boundPorts: { port: number; httpPort: number | undefined } | undefined;
  let firstReady: WorkerReadyMessage | undefined;
  const live = new Set<Worker>();
  // One worker accepts its connections itself (the primary hands it the listening socket once) instead of
  // receiving each one from the primary over IPC (round robin, which spreads load over several workers).
  if (options.workers === 1) cluster.schedulingPolicy = cluster.SCHED_NONE;

  const fork = (replacing?: number) => {
    const env: Record<string, string> = { HTTPSD_WORKERS: '1' };
    if (live.size === 0 && boundPorts !== undefined) env[PINNED_PORTS_VARIABLE] = `${boundPorts.port},${boundPorts.httpPort ?? ''}`;
    const worker = cluster.fork(env);
    live.add(worker);
    worker.on('message', (message: unknown) => {
      if (!isReadyMessage(message)) return;
      boundPorts ??= { port: message.port, httpPort: message.httpPort };
      if (replacing !== undefined) {
        if (!options.quiet) process.stderr.write(`httpsd: worker ${worker.process.pid} ready (replaces ${replacing})\n`);
        return;
      }
      firstReady ??= message;
      // The first worker has created what the others share (the local CA and its certificate, the listening
      // sockets) and has shown that the app loads: start the others now, so a broken app reports once.
      if (++readyWorkers === 1) for (let i = 1; i < options.workers; i++) fork();
      // Announce once every initial worker listens: until then a crash of the only listening one would close
      // the shared port.
      if (!announced && readyWorkers >= options.workers) {
        announced = true;
        if (!options.quiet) {
          const title = options.workers > 1 ? `${firstReady.title} with ${options.workers} workers` : firstReady.title;
          process.stderr.write(`${[title, ...firstReady.banner].join('\n')}\n`);
        }
      }
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) {
        if (live.size === 0) process.exit(0);
        return;
      }
      if (!announced) {
        // The server never came up: the worker has said why. Stop the others and exit with its status.
        stopping = true;
        for (const other of live) other.process.kill('SIGKILL');
        process.exit(code ?? 1);
      }
      const pid = worker.process.pid;
      const now = Date.now();
      crashesInARow = now - lastCrash > STABLE_MS ? 1 : crashesInARow + 1;
      lastCrash = now;
      const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (crashesInARow - 1));
      let restarted = false;
      const restart = () => {
        if (restarted) return;
        restarted = true;
        process.stderr.write(`httpsd: worker ${pid} exited (${signal ?? 'code ' + code}); restarting in ${delay} ms\n`);
        setTimeout(() => {
          if (!stopping) fork(pid);
        }, delay);
      };
      // node:cluster takes a worker out of the shared listeners' round robin on 'exit' only when its IPC channel is
      // already closed, otherwise on the channel's 'disconnect' (the two arrive in either order after a SIGKILL).
      // Until then the primary may still hand it new connections, which would hang: say the worker is gone only
      // once no connection can be given to it any more.
      if (worker.isConnected()) {
        worker.process.once('disconnect', restart);
        // Bounded: a channel that never reports its close must not cost the replacement.
        setTimeout(restart, 1000).unref();
      } else {
        restart();
      }
    });
  };

  // A --port 0 needs nothing more: node:cluster binds one socket in the primary for every worker's first listen(0)
  // on an address, so all workers, replacements included, share the port it picked.
  fork();

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`httpsd: ${signal} again, ${options.workers > 1 ? 'killing workers' : 'exiting now'}\n`);
      for (const worker of live) worker.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    if (!options.quiet) {
      process.stderr.write(
        options.workers > 1
          ? `httpsd: ${signal} received, stopping workers gracefully (send again to force)\n`
          : `httpsd: ${signal} received, finishing in-flight requests (send again to force)\n`,
      );
    }
    if (live.size === 0) process.exit(0);
    for (const worker of live) worker.process.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => {
    for (const worker of live) worker.process.kill('SIGHUP');
  });
  return new Promise(() => {});
}
