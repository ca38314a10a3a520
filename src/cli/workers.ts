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
 *
 * With --watch the workers report the files their app loaded; when one changes, a new generation of workers starts
 * beside the serving one and takes over once all of it listens, and the old generation drains. A generation that
 * does not load is killed (its worker has printed why) and the old one keeps serving.
 */
import cluster, { type Worker } from 'node:cluster';
import { relative } from 'node:path';
import { FileWatcher } from './file-watcher.js';
import { QUIC_RELAY_VARIABLE, QuicRelay } from '../server/quic/relay.js';
import { workerStdio } from './deploy-options.js';

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

/** What a worker running with --watch tells the primary each time the set of files its app loaded grows. */
export interface WorkerModulesMessage {
  type: 'httpsd:modules';
  files: string[];
}

/**
 * The round trip a stopping worker makes before it exits. node:cluster hands each connection to a worker over IPC;
 * one handed just before the primary learnt that the worker closed its listener is sent back by the worker
 * (node:cluster does that itself) only if the worker is still alive to read it. A worker that exits at once loses
 * it, and that client waits forever. Messages on the channel keep their order: once the primary's answer arrives,
 * every connection it sent earlier has been read and bounced, and no later one comes.
 */
const LEAVING = 'httpsd:leaving';
const MAY_LEAVE = 'httpsd:may-leave';
const LEAVE_ROUND_TRIP_LIMIT_MS = 2000;

function isMessage(message: unknown, type: string): boolean {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type;
}

/** In a worker whose listeners are closed: resolves once the primary can hand it no more connections. */
export function leaveCluster(): Promise<void> {
  return new Promise((resolve) => {
    if (!cluster.isWorker || !process.connected) return resolve();
    const done = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
      resolve();
    };
    const onMessage = (message: unknown) => {
      if (isMessage(message, MAY_LEAVE)) done();
    };
    // Bounded: a primary that is gone or stuck must not keep the worker.
    const timer = setTimeout(done, LEAVE_ROUND_TRIP_LIMIT_MS);
    process.on('message', onMessage);
    process.send?.({ type: LEAVING }, undefined, {}, (error) => {
      if (error) done();
    });
  });
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
  /** --watch: reload the app when a file of its module graph changes. */
  watch: boolean;
  /** Listening sockets passed to the supervisor (--fd, systemd): every worker inherits them (src/cli/deploy-options.ts). */
  inheritedFds?: number[];
}

/** Restart delay grows with crashes in a row (0.1 s … 30 s) and resets after a minute of stability. */
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 30_000;
const STABLE_MS = 60_000;

function isReadyMessage(message: unknown): message is WorkerReadyMessage {
  return isMessage(message, 'httpsd:ready');
}

function isModulesMessage(message: unknown): message is WorkerModulesMessage {
  return isMessage(message, 'httpsd:modules');
}

/** `app.ts` relative to the working directory when below it, else absolute. */
function shownPath(file: string): string {
  const shown = relative(process.cwd(), file);
  return shown !== '' && !shown.startsWith('..') ? shown : file;
}

/** One set of workers running one version of the app. */
interface Generation {
  id: number;
  workers: Set<Worker>;
  ready: number;
  /** The files its workers loaded (--watch). */
  files: Set<string>;
}

export function runPrimary(options: PrimaryOptions): Promise<void> {
  let stopping = false;
  let announced = false;
  let crashesInARow = 0;
  let lastCrash = 0;
  let boundPorts: { port: number; httpPort: number | undefined } | undefined;
  /**
   * Set once a worker had to bind the ports by number (none was left to share them): node:cluster shares a
   * listening socket between workers that listen with the same arguments, so every later worker (another crash's
   * replacement, a --watch generation beside the serving one) must ask for the same numbers too, where asking for
   * port 0 again would get a new socket on another port.
   */
  let pinnedPorts: string | undefined;
  let firstReady: WorkerReadyMessage | undefined;
  const live = new Set<Worker>();
  /** Old workers told to finish their requests and stop: their exit is expected. */
  const retiring = new Set<Worker>();
  let generations = 0;
  const newGeneration = (): Generation => ({ id: ++generations, workers: new Set(), ready: 0, files: new Set() });
  /** The version serving traffic. */
  let current = newGeneration();
  /** The version being started by --watch, until all its workers listen. */
  let next: Generation | undefined;
  /** Files that changed before the first version was up: they may have been read before the change. */
  let changedWhileStarting: string[] | undefined;
  const watcher = options.watch ? new FileWatcher((changed) => reload(changed)) : undefined;
  // HTTP/3 with several workers (or two generations side by side under --watch): this process owns the UDP socket
  // and relays each QUIC connection's datagrams to its worker (src/server/quic/relay.ts). Datagrams cross the IPC
  // channel as bytes with the advanced (structured clone) serialization, not as JSON arrays of numbers.
  const relay = options.workers > 1 || options.watch ? new QuicRelay() : undefined;
  if (relay) cluster.setupPrimary({ serialization: 'advanced' });
  // One worker accepts its connections itself (the primary hands it the listening socket once) instead of
  // receiving each one from the primary over IPC (round robin, which spreads load over several workers).
  if (options.workers === 1) cluster.schedulingPolicy = cluster.SCHED_NONE;
  if (options.inheritedFds?.length) cluster.setupPrimary({ stdio: workerStdio(options.inheritedFds) });
  const info = (line: string) => {
    if (!options.quiet) process.stderr.write(`${line}\n`);
  };

  const fork = (generation: Generation, replacing?: number) => {
    const env: Record<string, string> = { HTTPSD_WORKERS: '1', ...(relay ? { [QUIC_RELAY_VARIABLE]: '1' } : {}) };
    if (live.size === 0 && boundPorts !== undefined) pinnedPorts = `${boundPorts.port},${boundPorts.httpPort ?? ''}`;
    if (pinnedPorts !== undefined) env[PINNED_PORTS_VARIABLE] = pinnedPorts;
    const worker = cluster.fork(env);
    live.add(worker);
    generation.workers.add(worker);
    worker.on('message', (message: unknown) => {
      if (relay?.handle(worker, message)) return;
      if (isMessage(message, LEAVING)) {
        if (worker.isConnected()) worker.send({ type: MAY_LEAVE });
        return;
      }
      if (isModulesMessage(message)) {
        for (const file of message.files) generation.files.add(file);
        // A version that failed to load adds the file at fault: fixing it is the change that retries.
        watcher?.add(message.files);
        return;
      }
      // A version replaced by a newer change before it was up is retiring: it starts nothing more.
      if (!isReadyMessage(message) || (generation !== current && generation !== next)) return;
      boundPorts ??= { port: message.port, httpPort: message.httpPort };
      if (replacing !== undefined) {
        info(`httpsd: worker ${worker.process.pid} ready (replaces ${replacing})`);
        return;
      }
      // The first worker of a version has shown that the app loads (and has created what the others share: the
      // local CA, the listening sockets): start the others now, so a broken app reports once.
      if (++generation.ready === 1) for (let i = 1; i < options.workers; i++) fork(generation);
      if (generation.ready < options.workers) return;
      if (generation === next) {
        switchTo(generation);
        return;
      }
      firstReady ??= message;
      // Announce once every initial worker listens: until then a crash of the only listening one would close
      // the shared port.
      if (!announced) {
        announced = true;
        if (!options.quiet) {
          const title = options.workers > 1 ? `${firstReady.title} with ${options.workers} workers` : firstReady.title;
          process.stderr.write(`${[title, ...firstReady.banner].join('\n')}\n`);
        }
        if (watcher) info(`httpsd: watching ${generation.files.size} file${generation.files.size === 1 ? '' : 's'} of the app for changes (--watch)`);
        const early = changedWhileStarting;
        changedWhileStarting = undefined;
        if (early) reload(early);
      }
    });
    worker.on('exit', (code, signal) => {
      relay?.forget(worker);
      live.delete(worker);
      generation.workers.delete(worker);
      if (stopping) {
        if (live.size === 0) process.exit(0);
        return;
      }
      if (retiring.delete(worker)) return;
      if (generation === next) {
        // The new version does not start (its worker printed why): the old one keeps serving.
        abandon(generation);
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
          // A worker of a version replaced meanwhile is not brought back.
          if (!stopping && generation === current) fork(generation, pid);
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

  /** --watch saw `changed`: start the new version beside the serving one. */
  const reload = (changed: string[]) => {
    if (stopping) return;
    if (!announced) {
      changedWhileStarting = [...(changedWhileStarting ?? []), ...changed];
      return;
    }
    const more = changed.length > 1 ? ` (and ${changed.length - 1} more)` : '';
    info(`httpsd: ${shownPath(changed[0]!)}${more} changed; reloading`);
    // A version still starting may have read the file before this change, or may never finish loading (a
    // top-level await that never settles): the newest files win.
    if (next !== undefined) retire(next);
    next = newGeneration();
    fork(next);
  };

  /**
   * Ends the workers of a version that will not take over. SIGTERM: one still loading the app has no handler for
   * it yet and ends at once; one already listening (the first of several, while the others start) has taken
   * connections from the round robin, and finishes them.
   */
  const retire = (generation: Generation) => {
    for (const worker of generation.workers) {
      retiring.add(worker);
      worker.process.kill('SIGTERM');
    }
  };

  /**
   * Every worker of the new version listens (node:cluster now shares the listening sockets with it): the old
   * workers stop accepting and finish their in-flight requests (their graceful SIGTERM stop, bounded by
   * --shutdown-timeout). A connection the primary had already handed to an old worker that has closed its listener
   * is handed to a new one.
   */
  const switchTo = (generation: Generation) => {
    const old = current;
    current = generation;
    next = undefined;
    retire(old);
    watcher?.replace(generation.files);
    info(`httpsd: reloaded (${generation.files.size} file${generation.files.size === 1 ? '' : 's'} watched)`);
  };

  const abandon = (generation: Generation) => {
    next = undefined;
    retire(generation);
    process.stderr.write('httpsd: keeping the previous version; the next change retries\n');
  };

  // A --port 0 needs nothing more: node:cluster binds one socket in the primary for every worker's first listen(0)
  // on an address, so all workers, replacements included, share the port it picked.
  fork(current);

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      process.stderr.write(`httpsd: ${signal} again, ${options.workers > 1 ? 'killing workers' : 'exiting now'}\n`);
      for (const worker of live) worker.process.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    watcher?.close();
    if (!options.quiet) {
      process.stderr.write(
        options.workers > 1
          ? `httpsd: ${signal} received, stopping workers gracefully (send again to force)\n`
          : `httpsd: ${signal} received, finishing in-flight requests (send again to force)\n`,
      );
    }
    if (live.size === 0) process.exit(0);
    // A retiring worker is already stopping: a second SIGTERM would cut its requests.
    for (const worker of live) if (!retiring.has(worker)) worker.process.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('SIGHUP', () => {
    // A version still starting reads the certificates as it starts (and has no SIGHUP handler yet: it would die).
    for (const worker of live) if (!next?.workers.has(worker)) worker.process.kill('SIGHUP');
  });
  return new Promise(() => {});
}
