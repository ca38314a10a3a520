/**
 * `--workers N`: a node:cluster primary that forks N workers sharing the listening sockets, restarts a crashed
 * worker with exponential backoff, forwards SIGHUP (reload), and on SIGINT/SIGTERM stops the workers gracefully
 * (a second signal kills them).
 */
import cluster, { type Worker } from 'node:cluster';

/** What a worker tells the primary once its listeners are bound. */
export interface WorkerReadyMessage {
  type: 'httpsd:ready';
  urls: string[];
  /** Start banner lines (listeners, TLS summary and warnings), already indented. */
  banner?: string[];
}

export interface PrimaryOptions {
  workers: number;
  env: Record<string, string>;
  quiet: boolean;
  /** First banner line, e.g. "httpsd 0.1.0 serving app.ts". */
  title: string;
  /** Banner lines printed under the title, from the first worker's ready message. */
  describe: (ready: WorkerReadyMessage) => string[];
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
  const live = new Set<Worker>();

  const fork = (replacing?: number) => {
    const worker = cluster.fork({ ...options.env, HTTPSD_WORKERS: '1' });
    live.add(worker);
    worker.on('message', (message: unknown) => {
      if (!isReadyMessage(message)) return;
      if (replacing !== undefined) {
        if (!options.quiet) process.stderr.write(`httpsd: worker ${worker.process.pid} ready (replaces ${replacing})\n`);
        return;
      }
      // Announce once every initial worker listens: until then a crash of the only listening one would close
      // the shared port.
      if (!announced && ++readyWorkers >= options.workers) {
        announced = true;
        if (!options.quiet) {
          process.stderr.write(`${options.title} with ${options.workers} workers\n${options.describe(message).join('\n')}\n`);
        }
      }
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) {
        if (live.size === 0) process.exit(0);
        return;
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

  for (let i = 0; i < options.workers; i++) fork();

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`httpsd: ${signal} again, killing workers\n`);
      for (const worker of live) worker.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    if (!options.quiet) process.stderr.write(`httpsd: ${signal} received, stopping workers gracefully (send again to force)\n`);
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
