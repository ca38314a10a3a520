/**
 * CGI/1.1 (RFC 3875), opt-in. A request under the CGI prefix runs an executable regular file from the CGI
 * directory with the request's meta-variables in its environment and the body on stdin; its output is a CGI header
 * section followed by the response body, streamed back.
 *
 * Safety rules:
 * - No shell, ever: the script path itself is the command (spawn with shell: false), with no arguments, so nothing
 *   from the request is parsed by a shell (CVE-2014-6271-class and quoting bugs cannot apply). Scripts with a
 *   shebang are run as-is by the kernel.
 * - The script path obeys the static traversal rules (strict decoding, no `..`, realpath containment) against
 *   the CGI directory, and must be an executable regular file; names starting with "." are never scripts.
 * - The environment is built from scratch (only PATH is inherited), so server secrets in process.env never
 *   reach scripts. The `Proxy` request header is dropped ("httpoxy", CVE-2016-5385: it would become HTTP_PROXY),
 *   as are credentials (Authorization, Proxy-Authorization, RFC 3875 §4.1.18) and header names containing "_"
 *   (which would collide with dash-named ones after mapping).
 * - Bounded: header section size, concurrent scripts, buffered bodies, run time (the whole process group is
 *   killed, so grandchildren do not outlive the timeout).
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { access, constants as fsConstants } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ServeInfo } from '../server/types.js';
import { ClientAbortError } from '../server/request.js';
import { decodePathSegments, resolveInsideRoot } from './paths.js';
import { NativeResponse } from '../server/response.js';

export const DEFAULT_CGI_PREFIX = '/cgi-bin/';
export const DEFAULT_CGI_TIMEOUT_MS = 30_000;
/** A header section larger than this is garbage, not headers (502). */
export const MAX_CGI_HEADER_BYTES = 64 * 1024;
/** Request bodies without a Content-Length are buffered to compute CONTENT_LENGTH; up to this size (else 413). */
export const MAX_CGI_BUFFERED_BODY = 16 * 1024 * 1024;
/** stderr lines logged per request at most, each cut to MAX_STDERR_LINE characters. */
const MAX_STDERR_LINES = 50;
const MAX_STDERR_LINE = 1000;

export interface CgiSettings {
  /** URL prefix, with leading and trailing slash ("/cgi-bin/"). */
  prefix: string;
  timeoutMs: number;
  /** Canonical CGI directory. */
  realDir: string;
  /** Canonical static root (DOCUMENT_ROOT, PATH_TRANSLATED). */
  realRoot: string;
  maxConcurrent: number;
  /** Scripts currently running for this handler (mutable counter). */
  running?: number;
}

/**
 * Ends the body of a script killed at its timeout after its response had started. The server reports a failing
 * body as a handler bug (with a stack) unless it is an abort; this one is expected and already logged in one line.
 */
class CgiTimeoutAbort extends ClientAbortError {
  constructor(scriptName: string) {
    super(`cgi script ${scriptName} timed out`);
  }
}

/** Response header fields a script may not set: they describe the connection, which the server owns. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
  'http2-settings',
  // The server frames the body itself; a wrong length from a script would desynchronise an HTTP/1.1 connection.
  'content-length',
]);

/** Request header fields never passed as HTTP_* variables. */
const NOT_FORWARDED = new Set([
  'authorization',
  'proxy-authorization',
  'proxy',
  'content-type',
  'content-length',
  'connection',
  'keep-alive',
  'te',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export interface ParsedCgiHead {
  status: number | undefined;
  statusText: string | undefined;
  location: string | undefined;
  contentType: string | undefined;
  headers: Array<[string, string]>;
}

/** Parses the lines of a CGI header section (RFC 3875 §6.3). Returns an error message for garbage. */
export function parseCgiHeaderLines(lines: string[]): ParsedCgiHead | string {
  const head: ParsedCgiHead = { status: undefined, statusText: undefined, location: undefined, contentType: undefined, headers: [] };
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return `malformed header line ${JSON.stringify(line.slice(0, 80))}`;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name.slice(0, 80))}`;
    if (!FIELD_VALUE.test(value)) return `invalid characters in header ${name}`;
    const lower = name.toLowerCase();
    if (lower === 'status') {
      const match = /^([1-5]\d\d)(?:\s+(.*))?$/.exec(value);
      if (!match || Number(match[1]) < 200) return `invalid Status ${JSON.stringify(value.slice(0, 80))}`;
      head.status = Number(match[1]);
      head.statusText = match[2];
    } else if (lower === 'location') {
      if (value === '') return 'empty Location';
      head.location = value;
    } else if (lower === 'content-type') {
      head.contentType = value;
    } else if (!HOP_BY_HOP.has(lower)) {
      head.headers.push([lower, value]);
    }
  }
  if (head.status === undefined && head.location === undefined && head.contentType === undefined) {
    return 'no Content-Type, Location or Status header';
  }
  return head;
}

/** Finds the end of the header section in `buffer` (lines end in LF or CRLF, RFC 3875 §6.3). */
function findHeaderEnd(buffer: Buffer): { lines: string[]; bodyStart: number } | undefined {
  const lines: string[] = [];
  let position = 0;
  for (;;) {
    const newline = buffer.indexOf(0x0a, position);
    if (newline < 0) return undefined;
    let line = buffer.subarray(position, newline).toString('latin1');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    position = newline + 1;
    if (line === '') return { lines, bodyStart: position };
    lines.push(line);
  }
}

function textResponse(status: number, message: string): Response {
  return new NativeResponse(`${message}\n`, {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' },
  });
}

function protocolName(info: ServeInfo): string {
  return info.protocol === 'http/1.1' ? 'HTTP/1.1' : 'HTTP/2.0';
}

function buildEnvironment(
  request: Request,
  info: ServeInfo,
  url: URL,
  settings: CgiSettings,
  scriptName: string,
  scriptPath: string,
  pathInfo: string,
  contentLength: string | undefined,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'httpsd',
    SERVER_NAME: url.hostname,
    SERVER_PORT: url.port || String(info.localPort),
    SERVER_PROTOCOL: protocolName(info),
    REQUEST_METHOD: request.method,
    QUERY_STRING: url.search.startsWith('?') ? url.search.slice(1) : '',
    REQUEST_URI: url.pathname + url.search,
    SCRIPT_NAME: scriptName,
    SCRIPT_FILENAME: scriptPath,
    DOCUMENT_ROOT: settings.realRoot,
    REMOTE_ADDR: info.remoteAddress,
    REMOTE_PORT: String(info.remotePort),
    REQUEST_SCHEME: info.scheme,
  };
  if (info.scheme === 'https') env.HTTPS = 'on';
  if (pathInfo !== '') {
    env.PATH_INFO = pathInfo;
    env.PATH_TRANSLATED = join(settings.realRoot, pathInfo);
  }
  const contentType = request.headers.get('content-type');
  if (contentType !== null) env.CONTENT_TYPE = contentType;
  if (contentLength !== undefined) env.CONTENT_LENGTH = contentLength;
  for (const [name, value] of request.headers) {
    if (NOT_FORWARDED.has(name) || name.includes('_')) continue;
    env['HTTP_' + name.toUpperCase().replace(/-/g, '_')] = value;
  }
  if (env.HTTP_HOST === undefined) env.HTTP_HOST = url.host;
  return env;
}

async function isExecutable(path: string): Promise<boolean> {
  return new Promise((resolve) => access(path, fsConstants.X_OK, (error) => resolve(!error)));
}

async function bufferBody(body: ReadableStream<Uint8Array>, limit: number): Promise<Buffer | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Kills the script and everything it started (it leads its own process group). */
function killGroup(child: ChildProcessWithoutNullStreams): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export async function runCgi(
  request: Request,
  info: ServeInfo,
  url: URL,
  settings: CgiSettings,
  log: (line: string) => void,
  redispatch: (request: Request) => Promise<Response>,
): Promise<Response> {
  const rest = url.pathname.length >= settings.prefix.length ? url.pathname.slice(settings.prefix.length - 1) : '/';
  const decoded = decodePathSegments(rest, false);
  if (!decoded.ok) return textResponse(decoded.status, decoded.status === 400 ? 'Bad Request' : 'Not Found');

  // The script is the first path prefix that names a regular file; the remainder is PATH_INFO (RFC 3875 §4.1.5).
  let scriptSegments: string[] | undefined;
  let scriptPath = '';
  for (let i = 1; i <= decoded.segments.length; i++) {
    const entry = await resolveInsideRoot(settings.realDir, decoded.segments.slice(0, i), false);
    if (!entry) break;
    if (entry.stats.isDirectory()) continue;
    if (entry.stats.isFile()) {
      scriptSegments = decoded.segments.slice(0, i);
      scriptPath = entry.realPath;
    }
    break;
  }
  if (!scriptSegments) return textResponse(404, 'Not Found');
  const scriptName = settings.prefix + scriptSegments.join('/');
  if (!(await isExecutable(scriptPath))) {
    log(`cgi: ${scriptName} is not executable (chmod +x it to run it as a CGI script)`);
    return textResponse(403, 'Forbidden');
  }
  const pathInfoSegments = decoded.segments.slice(scriptSegments.length);
  const pathInfo =
    pathInfoSegments.length === 0 ? '' : '/' + pathInfoSegments.join('/') + (decoded.trailingSlash ? '/' : '');

  // The slot is taken before any body is buffered, so the bound also caps memory spent on buffered bodies.
  if ((settings.running ?? 0) >= settings.maxConcurrent) {
    log(`cgi: ${scriptName} refused, ${settings.maxConcurrent} scripts already running`);
    const response = textResponse(503, 'Service Unavailable');
    response.headers.set('retry-after', '1');
    return response;
  }
  settings.running = (settings.running ?? 0) + 1;
  let slotReleased = false;
  const releaseSlot = (): void => {
    // The bound is on processes: the slot frees when the script exits, even if its output is still being read.
    if (slotReleased) return;
    slotReleased = true;
    settings.running = (settings.running ?? 1) - 1;
  };

  // CONTENT_LENGTH must be exact (RFC 3875 §4.1.2): stream when the client declared it, otherwise buffer (bounded).
  let contentLength: string | undefined;
  let bufferedBody: Buffer | undefined;
  const declaredLength = request.headers.get('content-length');
  if (declaredLength !== null && /^\d{1,15}$/.test(declaredLength)) {
    contentLength = declaredLength;
  } else if (request.body !== null) {
    try {
      bufferedBody = await bufferBody(request.body, MAX_CGI_BUFFERED_BODY);
    } catch (error) {
      releaseSlot();
      throw error;
    }
    if (bufferedBody === undefined) {
      releaseSlot();
      return textResponse(413, 'Content Too Large');
    }
    if (bufferedBody.length > 0 || !['GET', 'HEAD', 'OPTIONS', 'DELETE'].includes(request.method)) {
      contentLength = String(bufferedBody.length);
    }
  }

  let child: ChildProcessWithoutNullStreams;
  try {
    const env = buildEnvironment(request, info, url, settings, scriptName, scriptPath, pathInfo, contentLength);
    child = spawn(scriptPath, [], {
      cwd: dirname(scriptPath),
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      shell: false,
      // Own process group, so a timeout can kill the script's children too.
      detached: true,
    });
  } catch (error) {
    releaseSlot();
    log(`cgi: ${scriptName} could not start: ${error instanceof Error ? error.message : String(error)}`);
    return textResponse(502, 'Bad Gateway');
  }
  let exited = false;
  let exitDescription = '';
  child.once('exit', (code, signal) => {
    exited = true;
    exitDescription = signal ? `killed by ${signal}` : `exit code ${code}`;
    releaseSlot();
  });
  // 'close' comes after 'exit' once stdio is closed too (and also after a failed spawn, which has no 'exit').
  const exitPromise = new Promise<void>((resolve) => {
    child.once('close', (code, signal) => {
      if (!exited) exitDescription = signal ? `killed by ${signal}` : `exit code ${code}`;
      exited = true;
      releaseSlot();
      resolve();
    });
  });
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });

  let timedOut = false;
  const timer = setTimeout(() => {
    if (exited) {
      // The script finished; only a slow reader is left (what is in the pipe stays readable), or a leftover
      // background process holding stdout open, which must not outlive the timeout.
      killGroup(child);
      return;
    }
    timedOut = true;
    log(`cgi: ${scriptName} killed after ${settings.timeoutMs} ms`);
    killGroup(child);
  }, settings.timeoutMs);
  timer.unref();
  const onAbort = (): void => killGroup(child);
  request.signal?.addEventListener('abort', onAbort, { once: true });
  const finish = (): void => {
    clearTimeout(timer);
    request.signal?.removeEventListener('abort', onAbort);
    // The script is done (or its output no longer wanted): leftovers in its group must not linger.
    killGroup(child);
    // An unread stdout would keep the child's 'close' from ever firing.
    child.stdout.destroy();
  };

  // stderr goes to the log, bounded.
  let stderrLines = 0;
  let stderrPartial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    const parts = (stderrPartial + text).split('\n');
    stderrPartial = parts.pop()!.slice(0, MAX_STDERR_LINE);
    for (const line of parts) {
      if (stderrLines++ < MAX_STDERR_LINES) log(`cgi: ${scriptName}: ${line.slice(0, MAX_STDERR_LINE)}`);
    }
  });

  // stdin: the request body, with backpressure; a script that does not read it is not an error (EPIPE ignored).
  child.stdin.on('error', () => {});
  void (async () => {
    try {
      if (bufferedBody !== undefined) {
        child.stdin.end(bufferedBody);
        return;
      }
      if (contentLength !== undefined && request.body !== null) {
        for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
          if (child.stdin.destroyed) break;
          if (!child.stdin.write(chunk)) {
            await new Promise<void>((resolve) => {
              child.stdin.once('drain', resolve);
              child.stdin.once('close', resolve);
            });
          }
        }
      }
      child.stdin.end();
    } catch {
      child.stdin.destroy();
    }
  })();

  const output = child.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let buffer: Buffer = Buffer.alloc(0);
  let head: { lines: string[]; bodyStart: number } | undefined;
  try {
    while (!head) {
      const { value, done } = await output.next();
      if (done) break;
      buffer = buffer.length === 0 ? value : Buffer.concat([buffer, value]);
      head = findHeaderEnd(buffer);
      if (!head && buffer.length > MAX_CGI_HEADER_BYTES) break;
    }
  } catch {
    // stdout failed: treated as a script that died
  }

  if (!head) {
    finish();
    await Promise.race([exitPromise, new Promise((resolve) => setTimeout(resolve, 200))]);
    if (timedOut) return textResponse(504, 'Gateway Timeout');
    const reason = spawnError
      ? `could not start: ${spawnError.message}`
      : buffer.length > MAX_CGI_HEADER_BYTES
        ? `header section larger than ${MAX_CGI_HEADER_BYTES} bytes`
        : `ended before the end of its header section (${exited ? exitDescription : 'output closed'})`;
    log(`cgi: ${scriptName} ${reason}`);
    return textResponse(502, 'Bad Gateway');
  }
  if (head.bodyStart > MAX_CGI_HEADER_BYTES) {
    finish();
    log(`cgi: ${scriptName} header section larger than ${MAX_CGI_HEADER_BYTES} bytes`);
    return textResponse(502, 'Bad Gateway');
  }

  const parsed = parseCgiHeaderLines(head.lines);
  if (typeof parsed === 'string') {
    finish();
    log(`cgi: ${scriptName} sent an invalid response: ${parsed}`);
    return textResponse(502, 'Bad Gateway');
  }

  if (parsed.location !== undefined && parsed.status === undefined && parsed.location.startsWith('/') && !parsed.location.startsWith('//')) {
    // RFC 3875 §6.2.2 local redirect: the server answers as if the client had asked for that path itself.
    finish();
    const target = new URL(parsed.location, url);
    const headers = new Headers(request.headers);
    for (const name of ['content-length', 'content-type', 'transfer-encoding']) headers.delete(name);
    return redispatch(new Request(target, { method: request.method === 'HEAD' ? 'HEAD' : 'GET', headers }));
  }

  const headers = new Headers();
  for (const [name, value] of parsed.headers) headers.append(name, value);
  if (parsed.contentType !== undefined) headers.set('content-type', parsed.contentType);
  let status = parsed.status ?? 200;
  if (parsed.location !== undefined) {
    // RFC 3875 §6.2.3 client redirect (absolute URI), or a document response that also carries a Location.
    headers.set('location', parsed.location);
    if (parsed.status === undefined) status = 302;
  }
  if (!headers.has('x-content-type-options')) headers.set('x-content-type-options', 'nosniff');

  const bodyless = request.method === 'HEAD' || status === 204 || status === 304;
  if (bodyless) {
    // Let the script finish (its side effects may matter) while discarding its output; the timeout still applies.
    void (async () => {
      try {
        while (!(await output.next()).done) {
          // discard
        }
      } catch {
        // ignore
      }
      await exitPromise;
      finish();
    })();
    // HEAD: an empty stream rather than null, so no made-up `content-length: 0` is sent for it.
    const empty = status === 204 || status === 304 ? null : new ReadableStream<Uint8Array>({ pull: (controller) => controller.close() });
    return new NativeResponse(empty, { status, statusText: parsed.statusText ?? '', headers });
  }

  // The response starts with the first byte of the body (or the end of the output), not with the header section:
  // until then nothing has reached the client, so a script that stalls right after its headers still gets the
  // documented 504 at the timeout on every protocol, instead of a head that can only be followed by a cut.
  let leftover: Buffer | undefined = buffer.length > head.bodyStart ? buffer.subarray(head.bodyStart) : undefined;
  let outputEnded = false;
  try {
    while (leftover === undefined && !outputEnded) {
      const { value, done } = await output.next();
      if (done) outputEnded = true;
      else if (value.length > 0) leftover = value;
    }
  } catch {
    // stdout failed: the body ends here, like a script that died
    outputEnded = true;
  }
  if (outputEnded && leftover === undefined) {
    await exitPromise;
    finish();
    if (timedOut) return textResponse(504, 'Gateway Timeout');
    if (exitDescription !== 'exit code 0') log(`cgi: ${scriptName} ${exitDescription}`);
    return new NativeResponse(null, { status, statusText: parsed.statusText ?? '', headers });
  }

  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (leftover) {
          const chunk = leftover;
          leftover = undefined;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          return;
        }
        try {
          const { value, done } = await output.next();
          if (!done) {
            controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
            return;
          }
        } catch (error) {
          finish();
          controller.error(error);
          return;
        }
        await exitPromise;
        finish();
        if (timedOut) {
          // The head is out: the transport cuts the response (h1: the chunked body never ends; h2: RST_STREAM).
          // The timeout was logged when it fired, so the error tells the server not to report it again.
          controller.error(new CgiTimeoutAbort(scriptName));
          return;
        }
        if (exitDescription !== 'exit code 0') log(`cgi: ${scriptName} ${exitDescription}`);
        controller.close();
      },
      cancel() {
        finish();
      },
    },
    { highWaterMark: 0 },
  );
  return new NativeResponse(body, { status, statusText: parsed.statusText ?? '', headers });
}
