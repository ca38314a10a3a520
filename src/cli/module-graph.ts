/**
 * The module graph of an application, as `--watch` needs it: every local file the worker loaded for the app (ES
 * modules and CommonJS, .ts/.mts/.cts/.js/.mjs/.cjs/.json), outside node_modules and outside httpsd itself.
 *
 * ES modules are seen by a module.register() resolve hook: hooks run on Node's loader thread, so the hook posts
 * each resolved file: URL back over a MessageChannel. CommonJS modules (tsx's require for .cts and CommonJS .ts,
 * require() of .json) never reach that hook: they are read from require.cache. Both carry loader tags (tsx adds
 * `?tsx-namespace=...` or `?namespace=...`), which are cut off to get the file.
 */
import { createRequire, register } from 'node:module';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { isApplicationFile } from './load-app.js';

/**
 * The resolve hook, evaluated on the loader thread from a data: URL: no file of its own to compile or ship, so it
 * works the same from src/ (through tsx) and from dist/. It only observes: the resolution is the next hook's.
 */
const RESOLVE_HOOK = `
let port;
export function initialize(data) { port = data.port; }
export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (result.url.startsWith('file:')) port.postMessage(result.url);
  return result;
}
`;

/** How long newly loaded files are gathered before one report (a dynamic import() loads a whole subtree). */
const REPORT_DELAY_MS = 50;
/** How often require.cache is looked at for CommonJS modules required after start-up. */
const REQUIRE_CACHE_SCAN_MS = 1000;

/** `/app/lib.ts?tsx-namespace=1` or `file:///app/lib.ts?x` → `/app/lib.ts`; undefined for anything not a local file. */
function localFile(key: string): string | undefined {
  let file: string;
  if (key.startsWith('file:')) {
    const url = new URL(key);
    url.search = '';
    url.hash = '';
    file = fileURLToPath(url);
  } else {
    file = key.replace(/\?.*$/s, '');
  }
  return isAbsolute(file) && isApplicationFile(file) ? file : undefined;
}

export interface ModuleGraph {
  /** Every application file loaded so far. */
  files(): string[];
  /** Adds a file the loaders could not report (the one that failed to load). */
  add(file: string): void;
  /** Stops observing (the hook stays registered; it only posts to a closed port). */
  stop(): void;
}

/**
 * Starts recording the files the application loads; `onGrow` gets the whole list each time it grows, at most once
 * per REPORT_DELAY_MS. Call before the application is imported.
 */
export function trackModuleGraph(onGrow: (files: string[]) => void): ModuleGraph {
  const seen = new Set<string>();
  const requireCache = createRequire(import.meta.url).cache;
  let scannedCacheSize = -1;
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      onGrow([...seen]);
    }, REPORT_DELAY_MS);
  };
  const add = (key: string) => {
    const file = localFile(key);
    if (file === undefined || seen.has(file)) return;
    seen.add(file);
    schedule();
  };
  const scanRequireCache = () => {
    const keys = Object.keys(requireCache);
    // Entries are only ever added while an app runs: an unchanged size means nothing new.
    if (keys.length === scannedCacheSize) return;
    scannedCacheSize = keys.length;
    for (const key of keys) add(key);
  };

  const { port1, port2 } = new MessageChannel();
  port1.on('message', (url: unknown) => {
    if (typeof url === 'string') add(url);
  });
  // The graph never keeps a worker alive: a worker that is done serving exits as before.
  port1.unref();
  // module.register() exists from Node 20.6; before that only CommonJS modules (and the entry) are known.
  if (typeof register === 'function') {
    register(`data:text/javascript,${encodeURIComponent(RESOLVE_HOOK)}`, { data: { port: port2 }, transferList: [port2] });
  }
  const scanner = setInterval(scanRequireCache, REQUIRE_CACHE_SCAN_MS);
  scanner.unref();

  return {
    files() {
      scanRequireCache();
      return [...seen];
    },
    add(file) {
      add(file);
    },
    stop() {
      clearInterval(scanner);
      if (timer) clearTimeout(timer);
      port1.close();
    },
  };
}
