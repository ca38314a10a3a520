/**
 * `--workers N`: a node:cluster primary that forks N workers sharing the listening sockets, restarts a crashed
 * worker with exponential backoff, forwards SIGHUP (reload), and on SIGINT/SIGTERM stops the workers gracefully
 * (a second signal kills them).
 */
import cluster, { type Worker } from 'node:cluster';

export interface PrimaryOptions {
  workers: number;
  env: Record<string, string>;
  quiet: boolean;
  describe: (urls: string[]) => string[];
}

/** Restart delay grows with crashes in a row (0.1 s … 30 s) and resets after a minute of stability. */
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;
const STABLE_MS = 60_000;

export function runPrimary(options: PrimaryOptions): Promise<void> {
  let stopping = false;
  let announced = false;
  let readyWorkers = 0;
  let crashesInARow = 0;
  let lastCrash = 0;
  const live = new Set<Worker>();

  const fork = () => {
    const worker = cluster.fork({ ...options.env, HTTPSD_WORKERS: '1' });
    live.add(worker);
    worker.on('message', (message: { type?: string; urls?: string[] }) => {
      // Announce once every initial worker listens: until then a crash of the only listening one would close
      // the shared port.
      if (message?.type === 'httpsd:ready' && !announced && ++readyWorkers >= options.workers) {
        announced = true;
        if (!options.quiet) {
          process.stderr.write(`httpsd serving with ${options.workers} workers\n${options.describe(message.urls ?? []).join('\n')}\n`);
        }
      }
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      if (stopping) {
        if (live.size === 0) process.exit(0);
        return;
      }
      const now = Date.now();
      crashesInARow = now - lastCrash > STABLE_MS ? 1 : crashesInARow + 1;
      lastCrash = now;
      const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (crashesInARow - 1));
      process.stderr.write(`httpsd: worker ${worker.process.pid} exited (${signal ?? 'code ' + code}); restarting in ${delay} ms\n`);
      setTimeout(() => {
        if (!stopping) fork();
      }, delay);
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
