/**
 * End-to-end plumbing for the static tests: a real httpsd server (serve + serveStatic) in a child process over real
 * TLS, and real clients: curl (HTTP/1.1 and HTTP/2), node:http2, and raw TLS sockets for request targets that
 * clients would normalise.
 */
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect as http2Connect } from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { chownSync, copyFileSync, readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { makeCertificate } from '../support/certs.js';
import { PATIENCE_MS } from '../support/async.js';

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  pid: number;
  base: string;
  stderr: string[];
  stop(): Promise<void>;
}

const serverScript = new URL('./server-process.ts', import.meta.url).pathname;

/** An unprivileged account for servers that must see file permissions (root reads everything): nobody. */
export const UNPRIVILEGED = { uid: 65534, gid: 65534 };

/**
 * The test certificate and key, copied into a directory owned by `owner`, so a server running as that user can
 * read them (the originals are private to the test process).
 */
function certificateFor(owner: { uid: number; gid: number }): { certFile: string; keyFile: string } {
  const certificate = makeCertificate();
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-static-cert-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  copyFileSync(certificate.certFile, certFile);
  copyFileSync(certificate.keyFile, keyFile);
  for (const path of [dir, certFile, keyFile]) chownSync(path, owner.uid, owner.gid);
  return { certFile, keyFile };
}

/** Starts the server process, as `runAs` (uid and gid) when given. */
export async function startServerProcess(
  root: string,
  options: Record<string, unknown> = {},
  runAs?: { uid: number; gid: number },
): Promise<ServerProcess> {
  const certificate = runAs === undefined ? makeCertificate() : certificateFor(runAs);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', serverScript, JSON.stringify({ root, cert: certificate.certFile, key: certificate.keyFile, options })],
    { stdio: ['ignore', 'pipe', 'pipe'], ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }) },
  );
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr.join('\n')}`)), 60_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as { port: number; pid: number });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr.join('\n')}`));
    });
  });
  return {
    child,
    port: ready.port,
    pid: ready.pid,
    base: `https://127.0.0.1:${ready.port}`,
    stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of a process in bytes, from /proc. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

export interface HttpResult {
  status: number;
  /** Lower-cased names; repeated fields joined with ", ". */
  headers: Map<string, string>;
  body: Buffer;
  /** "1.1" or "2". */
  version: string;
}

let curlCounter = 0;
const curlDir = mkdtempSync(join(tmpdir(), 'httpsd-static-curl-'));
process.once('exit', () => rmSync(curlDir, { recursive: true, force: true }));

export function curl(base: string, path: string, protocol: 'h1' | 'h2', args: string[] = []): Promise<HttpResult> {
  return curlWithExitCode(base, path, protocol, args).then(({ exitCode, error, result }) => {
    if (exitCode !== 0) throw new Error(`curl ${path} failed: ${error}`);
    return result;
  });
}

/**
 * curl, resolving even when the transfer fails part-way (exit code 18 for a body cut short, 56 for a reset
 * stream), with whatever status, headers and body arrived.
 */
export function curlWithExitCode(
  base: string,
  path: string,
  protocol: 'h1' | 'h2',
  args: string[] = [],
): Promise<{ exitCode: number; error: string; result: HttpResult }> {
  const bodyFile = join(curlDir, `body-${process.pid}-${curlCounter++}`);
  const protocolFlag = protocol === 'h2' ? '--http2' : '--http1.1';
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['-sSk', '--max-time', '30', protocolFlag, '-D', '-', '-o', bodyFile, '-w', '\n%{http_version}', ...args, base + path],
      { encoding: 'latin1', maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        const exitCode = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        const lastNewline = stdout.lastIndexOf('\n');
        const version = stdout.slice(lastNewline + 1).trim();
        const blocks = stdout.slice(0, Math.max(lastNewline, 0)).split('\r\n\r\n').filter((block) => block.trim() !== '');
        const lines = (blocks[blocks.length - 1] ?? '').split('\r\n');
        const status = Number(lines[0]?.split(' ')[1] ?? 0);
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          const name = line.slice(0, colon).toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
        }
        let body: Buffer;
        try {
          body = readFileSync(bodyFile);
          rmSync(bodyFile);
        } catch {
          body = Buffer.alloc(0);
        }
        resolve({ exitCode, error: `${error?.message ?? ''} ${stderr}`.trim(), result: { status, headers, body, version } });
      },
    );
  });
}

export function openHttp2(base: string, windowSize?: number): ClientHttp2Session {
  const session = http2Connect(base, {
    rejectUnauthorized: false,
    ...(windowSize !== undefined ? { settings: { initialWindowSize: windowSize } } : {}),
  });
  session.on('error', () => {});
  if (windowSize !== undefined) session.once('connect', () => session.setLocalWindowSize(windowSize));
  return session;
}

export function h2Request(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
  body?: Buffer | string,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': method, ':path': path, ...headers }, { endStream: body === undefined });
    let responseHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (received) => {
      responseHeaders = received;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const map = new Map<string, string>();
      for (const [name, value] of Object.entries(responseHeaders)) {
        if (name.startsWith(':') || value === undefined) continue;
        map.set(name, Array.isArray(value) ? value.join(', ') : String(value));
      }
      resolve({ status: Number(responseHeaders[':status']), headers: map, body: Buffer.concat(chunks), version: '2' });
    });
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

/** Sends bytes exactly as given over TLS (HTTP/1.1) and returns everything the server answers until it closes. */
export function rawHttp1(port: number, requestText: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    const chunks: Buffer[] = [];
    // A bound for a server that never closes, generous so a busy machine never cuts a response short.
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, 30_000);
    socket.on('secureConnect', () => socket.write(requestText, 'latin1'));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('latin1'));
      else reject(error);
    });
  });
}

/** Parses a multipart/byteranges body into its parts. */
export function parseMultipart(body: Buffer, contentType: string): Array<{ range: string; type: string; data: Buffer }> {
  const boundary = /boundary=(\S+)/.exec(contentType)![1]!;
  const parts: Array<{ range: string; type: string; data: Buffer }> = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let position = body.indexOf(delimiter);
  while (position >= 0) {
    position += delimiter.length;
    if (body.subarray(position, position + 2).toString() === '--') break;
    const headEnd = body.indexOf('\r\n\r\n', position);
    const head = body.subarray(position, headEnd).toString();
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headEnd);
    parts.push({
      range: /content-range: (.*)/i.exec(head)![1]!.trim(),
      type: /content-type: (.*)/i.exec(head)![1]!.trim(),
      data: body.subarray(headEnd + 4, next),
    });
    position = next + 2;
  }
  return parts;
}

/**
 * Waits until the server has logged a line matching `pattern` since line `from` (its stderr is a pipe read
 * independently of the responses' sockets), then a moment more for anything logged right after it; returns the
 * lines logged since `from`.
 */
export async function logLinesAfter(server: ServerProcess, from: number, pattern: RegExp): Promise<string[]> {
  const deadline = Date.now() + PATIENCE_MS;
  while (Date.now() < deadline && !server.stderr.slice(from).some((line) => pattern.test(line))) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  return server.stderr.slice(from);
}
