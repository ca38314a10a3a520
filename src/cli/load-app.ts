/**
 * ENTRY of `httpsd [ENTRY]`: a directory (served as static files) or an application module exporting a fetch
 * handler. Loads .ts apps wherever they sit (ESM or CommonJS packages) with real file:line in their stacks, turns a
 * module that fails to load into a message with its file, line, column and code frame, and applies the flags that
 * make sense for an app (-H, --cors) while refusing the static-only ones.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from '../common/errors.js';
import type { CliValues } from '../common/options.js';
import { staticOptionsFromCli } from '../static/cli.js';
import { serveStatic } from '../static/index.js';
import type { FetchHandler, Server } from '../server/types.js';
import type { WebSocketHandler } from '../server/websocket/index.js';
import { NativeResponse } from '../server/response.js';

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs']);
const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);

/** The "type" of the package.json nearest to `file` ("commonjs" when there is none, as Node reads it). */
function packageTypeOf(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      const type = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: unknown }).type;
      return type === 'module' ? 'module' : 'commonjs';
    } catch {
      // no (readable) package.json here: look further up
    }
    if (dirname(dir) === dir) return 'commonjs';
  }
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  const extension = extname(file);
  const features = process.features as { typescript?: string | false };
  if (TYPESCRIPT_EXTENSIONS.has(extension) && !features.typescript) {
    // Node < 22.18 cannot strip types: tsx does it. A .cts file, or a .ts file outside a "type": "module" package
    // (no package.json, "type": "commonjs" as `npm init -y` writes it), is CommonJS: tsx's require hook compiles it
    // with a source map against its real path, so its stack traces name app.ts:LINE. (Going through tsImport there
    // would evaluate it from a data: URL holding the whole module, in every stack frame.) What it requires goes
    // through tsx too.
    if (extension === '.cts' || (extension === '.ts' && packageTypeOf(file) !== 'module')) {
      const { require: tsxRequire } = await import('tsx/cjs/api');
      return namespaceOf(tsxRequire(file, import.meta.url) as unknown);
    }
    const { tsImport } = await import('tsx/esm/api');
    return namespaceOf((await tsImport(pathToFileURL(file).href, import.meta.url)) as unknown);
  }
  return namespaceOf((await import(pathToFileURL(file).href)) as unknown);
}

/**
 * A module compiled to CommonJS arrives as its exports (or, through import(), as { default: exports }) with
 * exports.__esModule set: its own default export is one level down. `module.exports = function` is the default.
 */
function namespaceOf(module: unknown): Record<string, unknown> {
  if (typeof module === 'function') return { default: module };
  const namespace = (module ?? {}) as Record<string, unknown>;
  const inner = namespace.default as Record<string, unknown> | undefined;
  if (inner && typeof inner === 'object' && inner.__esModule === true) return inner;
  return namespace;
}

/** Finds the handler in a module: default { fetch }, a default function, or a named fetch. */
export function handlerFromModule(module: Record<string, unknown>, file: string): FetchHandler {
  const candidate = module.default;
  if (candidate && typeof candidate === 'object' && typeof (candidate as { fetch?: unknown }).fetch === 'function') {
    const app = candidate as { fetch: FetchHandler };
    return app.fetch.bind(app);
  }
  if (typeof candidate === 'function') return candidate as FetchHandler;
  if (typeof module.fetch === 'function') return module.fetch as FetchHandler;
  throw new UsageError(
    `${file} exports no fetch handler. Fix: add \`export default { fetch(request) { return new NativeResponse('hello') } }\` ` +
      '(or export a default function, or a named `fetch`).',
  );
}

/**
 * The WebSocket handler a module exports beside its fetch handler: `default { fetch, websocket }` or a named
 * `websocket` (the shape serve() takes; see docs/websocket.md).
 */
export function websocketFromModule(module: Record<string, unknown>, file: string): WebSocketHandler | undefined {
  const candidate = module.default as { websocket?: unknown } | undefined;
  const handler = (candidate && typeof candidate === 'object' ? candidate.websocket : undefined) ?? module.websocket;
  if (handler === undefined) return undefined;
  if (handler === null || typeof handler !== 'object') {
    throw new UsageError(`${file}: \`websocket\` must be an object of handlers, e.g. \`websocket: { message(ws, data) { ws.send(data) } }\`.`);
  }
  return handler as WebSocketHandler;
}

/** What a module may export beside its handler to hear about the server's start and stop (docs/server.md). */
export interface LifecycleHooks {
  /** Called with the server once it listens; a throw stops the start (exit status 1, with the app's file:line). */
  onListen?: (server: Server) => unknown;
  /** Called when a graceful shutdown begins; awaited, bounded by --shutdown-timeout; a throw is logged. */
  onShutdown?: () => unknown;
}

/** `onListen` / `onShutdown` exported as named functions or as methods of the default export object. */
export function lifecycleFromModule(module: Record<string, unknown>, file: string): LifecycleHooks {
  const candidate = module.default;
  const owner = candidate && typeof candidate === 'object' ? (candidate as Record<string, unknown>) : undefined;
  const hooks: LifecycleHooks = {};
  for (const name of ['onListen', 'onShutdown'] as const) {
    const fromDefault = owner?.[name];
    const hook = fromDefault ?? module[name];
    if (hook === undefined) continue;
    if (typeof hook !== 'function') throw new UsageError(`${file}: \`${name}\` must be a function, e.g. \`export function ${name}() { ... }\`.`);
    hooks[name] = fromDefault !== undefined ? (hook as (...args: unknown[]) => unknown).bind(owner) : (hook as (...args: unknown[]) => unknown);
  }
  return hooks;
}

export interface SourceLocation {
  file: string;
  line: number;
  /** 1-based. */
  column: number;
}

/** httpsd's own code (dist/ when installed, src/ when run from source): frames there are ours, not the application's. */
const OWN_CODE = [fileURLToPath(new URL('../../dist/', import.meta.url)), fileURLToPath(new URL('../../src/', import.meta.url))];

/** `path:line[:column]` or `file:///path:line[:column]` inside a stack line. */
const FRAME_LOCATION = /(file:\/\/\/[^\s()]+?|(?:\/|[A-Za-z]:\\)[^\s()]+?):(\d+)(?::(\d+))?(?=\)|\s|$)/;

/** A file of the application: not inside node_modules or httpsd itself. */
export function isApplicationFile(file: string): boolean {
  return !OWN_CODE.some((folder) => file.startsWith(folder)) && !/[\\/]node_modules[\\/]/.test(file);
}

/**
 * The first stack frame that belongs to the application (see isApplicationFile).
 * (`node:` internals and data: URLs never match.)
 */
export function applicationFrame(stack: string): SourceLocation | undefined {
  for (const line of stack.split('\n')) {
    const match = FRAME_LOCATION.exec(line);
    if (!match) continue;
    const file = match[1]!.startsWith('file:') ? fileURLToPath(match[1]!) : match[1]!;
    if (!isApplicationFile(file)) continue;
    return { file, line: Number(match[2]), column: Number(match[3] ?? 1) };
  }
  return undefined;
}

/** `app.ts:12:5` relative to the working directory when below it, else absolute. */
export function formatLocation(location: SourceLocation): string {
  const relativePath = relative(process.cwd(), location.file);
  const shown = relativePath !== '' && !relativePath.startsWith('..') ? relativePath : location.file;
  return `${shown}:${location.line}:${location.column}`;
}

/** The offending line and its neighbours, with a caret under the column (as compilers print them). */
export function codeFrame(location: SourceLocation): string[] {
  let lines: string[];
  try {
    lines = readFileSync(location.file, 'utf8').split(/\r?\n/);
  } catch {
    return [];
  }
  if (location.line < 1 || location.line > lines.length) return [];
  const first = Math.max(1, location.line - 2);
  const last = Math.min(lines.length, location.line + 1);
  const width = String(last).length;
  const frame: string[] = [];
  for (let number = first; number <= last; number++) {
    const marker = number === location.line ? '>' : ' ';
    // Long minified lines are cut: a code frame shows where, not the whole file.
    frame.push(`  ${marker} ${String(number).padStart(width)} | ${lines[number - 1]!.slice(0, 200)}`.trimEnd());
    if (number === location.line) frame.push(`    ${' '.repeat(width)} | ${' '.repeat(Math.max(0, Math.min(location.column - 1, 200)))}^`);
  }
  return frame;
}

/**
 * Where a JavaScript file fails to parse. V8 reports an ES module's syntax error without any location (it is only
 * printed by Node's fatal-exception handler), so `node --check` (which prints "file:line", the line and a caret)
 * finds it. Only run on the error path.
 */
function syntaxErrorLocation(file: string): SourceLocation | undefined {
  const checked = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 10_000 });
  const header = /^(.+):(\d+)\r?\n(.*)\r?\n( *)\^/m.exec(checked.stderr ?? '');
  if (!header) return undefined;
  return { file: header[1]!, line: Number(header[2]), column: header[4]!.length + 1 };
}

/** One error of esbuild's "Transform failed with N errors:\nfile.ts:4:2: ERROR: Expected ...". */
const TRANSFORM_ERROR = /^(.+?):(\d+):(\d+): ERROR: (.*)$/m;

/** A module that does not load, with where (when known): `--watch` watches that file for the fix. */
export class LoadError extends UsageError {
  constructor(
    message: string,
    readonly location: SourceLocation | undefined,
  ) {
    super(message);
  }
}

/** The load failure of `file` as a usage error: message, file:line:column of the cause and its code frame. */
export function describeLoadError(error: unknown, entry: string, file: string): LoadError {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  let summary = error instanceof Error ? `${error.name}: ${message.split('\n')[0]}` : message;
  let location: SourceLocation | undefined;
  const transform = TRANSFORM_ERROR.exec(message);
  if (transform) {
    // The first line only says "Transform failed with 1 error:"; the cause is on the next one.
    location = { file: resolve(transform[1]!), line: Number(transform[2]), column: Number(transform[3]) + 1 };
    summary = `SyntaxError: ${transform[4]}`;
  } else if (error instanceof SyntaxError && !TYPESCRIPT_EXTENSIONS.has(extname(file))) {
    location = syntaxErrorLocation(file);
  }
  location ??= applicationFrame(stack);
  const lines = [`${entry}: cannot load the module: ${summary}`];
  if (location) lines.push(`  at ${formatLocation(location)}`, ...codeFrame(location));
  return new LoadError(lines.join('\n'), location);
}

/** Flags that only shape static files, with what a module should do instead. */
const STATIC_ONLY_FLAGS: Record<string, string> = {
  'cache-control': 'set Cache-Control on the Response your fetch handler returns',
  spa: 'route unknown paths in your fetch handler',
  cgi: 'CGI runs scripts from a directory ENTRY',
  'cgi-prefix': 'CGI runs scripts from a directory ENTRY',
  'cgi-dir': 'CGI runs scripts from a directory ENTRY',
  'cgi-timeout': 'CGI runs scripts from a directory ENTRY',
  dotfiles: 'it decides which files a directory ENTRY serves',
  'no-listing': 'it concerns directory listings of a directory ENTRY',
  'no-compression': 'it concerns files of a directory ENTRY',
};

function refuseStaticOnlyFlags(values: CliValues, entry: string): void {
  const given = Object.keys(STATIC_ONLY_FLAGS).filter((name) => values[name] !== undefined && values[name] !== false);
  if (given.length === 0) return;
  const name = given[0]!;
  throw new UsageError(
    `--${name} applies to a directory of static files, not to the module ${entry} (${STATIC_ONLY_FLAGS[name]}). ` +
      'Fix: remove it; -H and --cors do apply to a module.',
  );
}

/** Headers that -H and --cors add to every response of an application module. */
interface AppResponseHeaders {
  headers: Record<string, string>;
  corsOrigin: string | undefined;
}

/** Headers of a Response may be immutable (Response.redirect(), a fetch() result): copy it then. */
function withHeaders(response: Response, add: (headers: Headers) => void): Response {
  try {
    add(response.headers);
    return response;
  } catch {
    const copy = new NativeResponse(response.body, { status: response.status, statusText: response.statusText, headers: response.headers });
    add(copy.headers);
    return copy;
  }
}

/**
 * -H adds (replaces) its headers on every response, as for static files. --cors adds access-control-allow-origin
 * where the app set none, and answers CORS preflights (OPTIONS with Access-Control-Request-Method) itself, which
 * the Fetch standard's CORS protocol requires to succeed before the browser sends the real request.
 */
function withAppResponseHeaders(handler: FetchHandler, extra: AppResponseHeaders): FetchHandler {
  const { headers, corsOrigin } = extra;
  const decorate = (target: Headers) => {
    if (corsOrigin !== undefined && !target.has('access-control-allow-origin')) {
      target.set('access-control-allow-origin', corsOrigin);
      if (corsOrigin !== '*') target.append('vary', 'origin');
    }
    for (const [name, value] of Object.entries(headers)) target.set(name, value);
  };
  return async (request, info) => {
    if (corsOrigin !== undefined && request.method === 'OPTIONS' && request.headers.has('access-control-request-method')) {
      const preflight = new Headers({ 'access-control-allow-methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS', 'access-control-max-age': '600' });
      const requested = request.headers.get('access-control-request-headers');
      if (requested && requested.length <= 1024 && /^[\w\-, ]*$/.test(requested)) preflight.set('access-control-allow-headers', requested);
      decorate(preflight);
      return new NativeResponse(null, { status: 204, headers: preflight });
    }
    return withHeaders(await handler(request, info), decorate);
  };
}

export async function loadEntry(
  entry: string | undefined,
  values: CliValues,
): Promise<{ handler: FetchHandler; description: string; websocket?: WebSocketHandler; hooks?: LifecycleHooks }> {
  const path = resolve(entry ?? '.');
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    throw new UsageError(`${entry}: no such file or directory. Give a directory to serve or a module (.ts, .mts, .js, .mjs).`);
  }
  if (isDirectory) {
    return { handler: serveStatic(path, staticOptionsFromCli(values)), description: `files in ${path}` };
  }
  if (!MODULE_EXTENSIONS.has(extname(path))) {
    throw new UsageError(`${entry}: not a module. ENTRY must be a directory or a .ts, .mts, .js or .mjs file exporting a fetch handler.`);
  }
  const shownEntry = entry ?? path;
  refuseStaticOnlyFlags(values, shownEntry);
  // The same parser as for static files validates -H and --cors values.
  const { headers = {}, cors } = staticOptionsFromCli(values);
  let module: Record<string, unknown>;
  try {
    module = await importModule(path);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw describeLoadError(error, shownEntry, path);
  }
  const handler = handlerFromModule(module, shownEntry);
  const websocket = websocketFromModule(module, shownEntry);
  const hooks = lifecycleFromModule(module, shownEntry);
  const corsOrigin = cors === true ? '*' : typeof cors === 'string' ? cors : undefined;
  const decorated = Object.keys(headers).length > 0 || corsOrigin !== undefined ? withAppResponseHeaders(handler, { headers, corsOrigin }) : handler;
  return { handler: decorated, description: basename(path), ...(websocket ? { websocket } : {}), hooks };
}
