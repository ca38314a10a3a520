/**
 * Static file serving as a web-standard fetch handler: `serveStatic(root, options)`.
 *
 * What a production file server does, safely by default: traversal-proof path mapping (paths.ts), index files and
 * trailing-slash redirects, directory listings, content types from mime-db, strong validators and the RFC 9110
 * conditional-request rules, byte ranges, precompressed and on-the-fly compression, constant-memory streaming,
 * and opt-in CGI (cgi.ts). One module per concern:
 * - config.ts: options → checked configuration (StaticConfigError at startup);
 * - lookup.ts: path segments → an open file or directory inside the root (symlink and dotfile checks, index files,
 *   precompressed siblings, the validated small-file cache);
 * - file-response.ts: an open file → its response (variant, validators, conditionals, ranges, body);
 * - dispatch.ts: the fetch handler tying them together (methods, CGI, redirects, listings, 404 / SPA fallback).
 */
import type { FetchHandler } from '../server/types.js';
import { SmallFileCache } from './content-cache.js';
import { resolveConfig } from './config.js';
import type { StaticOptions } from './config.js';
import { StaticLookup } from './lookup.js';
import { FileResponder } from './file-response.js';
import { StaticDispatcher } from './dispatch.js';
import { HotFiles } from './hot-files.js';

export type { StaticOptions } from './config.js';
export { StaticConfigError } from './config.js';
export { COMPRESSION_THRESHOLD } from './file-response.js';

/** Bounds of the per-handler cache of small files' bytes (validated against a stat on every request). */
const SMALL_FILE_CACHE_ENTRIES = 2048;
const SMALL_FILE_CACHE_BYTES = 16 * 1024 * 1024;
/** Bounds of the ready-made answers for hot small files (their bytes are shared with the cache above). */
const HOT_FILE_ENTRIES = 1024;
const HOT_FILE_BYTES = 8 * 1024 * 1024;

export function serveStatic(root: string, options: StaticOptions = {}): FetchHandler {
  const config = resolveConfig(root, options);
  const smallFiles = new SmallFileCache(SMALL_FILE_CACHE_ENTRIES, SMALL_FILE_CACHE_BYTES);
  const lookup = new StaticLookup(config, smallFiles);
  const hotFiles = new HotFiles(HOT_FILE_ENTRIES, HOT_FILE_BYTES);
  const dispatcher = new StaticDispatcher(config, lookup, new FileResponder(config, lookup, smallFiles, hotFiles), hotFiles);
  return function staticHandler(request, info) {
    return dispatcher.handle(request, info);
  };
}
