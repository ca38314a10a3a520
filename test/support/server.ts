/**
 * Test helpers: start httpsd on a free port with a throwaway certificate, talk to it with real clients
 * (node:http2, node:https, raw TLS sockets, external commands), and wait for the server's counters to settle.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { spawn } from 'node:child_process';
import { serve } from '../../src/server/serve.js';
import type { FetchHandler, ServeOptions, Server, ServerStats } from '../../src/server/types.js';
import { makeCertificate } from './certs.js';
import { PATIENCE_MS, sleep } from './async.js';

export { PATIENCE_MS, sleep };
export { connectH2, h2Request, type H2Result } from './http2-client.js';

export interface TestServer {
  server: Server;
  port: number;
  httpPort: number | undefined;
  origin: string;
  errors: { error: unknown; context: string }[];
  close(): Promise<void>;
}

export async function startServer(fetch: FetchHandler, options: Partial<ServeOptions> = {}): Promise<TestServer> {
  const certificate = makeCertificate();
  const errors: { error: unknown; context: string }[] = [];
  const server = serve({
    port: 0,
    hostname: '127.0.0.1',
    tls: { cert: certificate.cert, key: certificate.key },
    onError: (error, context) => errors.push({ error, context }),
    ...options,
    fetch,
  });
  await server.ready;
  return {
    server,
    port: server.port,
    httpPort: server.httpPort,
    origin: options.tls === false ? `http://127.0.0.1:${server.port}` : `https://127.0.0.1:${server.port}`,
    errors,
    close: () => server.close(2000),
  };
}

/** Polls until the counters that must return to zero when idle are zero (or throws with the last stats). */
export async function waitForIdle(server: Server, timeoutMs = PATIENCE_MS): Promise<ServerStats> {
  const deadline = Date.now() + timeoutMs;
  let stats = server.stats();
  while (Date.now() < deadline) {
    stats = server.stats();
    if (stats.inFlightRequests === 0 && stats.openStreams === 0 && stats.pendingOutputBytes === 0) return stats;
    await sleep(20);
  }
  throw new Error(`server did not settle: ${JSON.stringify(stats)}`);
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = PATIENCE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export interface H1Result {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  trailers: Record<string, string | undefined>;
}

export function h1Request(
  origin: string,
  options: https.RequestOptions & { body?: Uint8Array | string } = {},
): Promise<H1Result> {
  return new Promise((resolve, reject) => {
    const url = new URL(origin);
    const request = (url.protocol === 'https:' ? https.request : http.request)(
      {
        host: url.hostname,
        port: url.port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: options.headers,
        rejectUnauthorized: false,
        agent: options.agent ?? false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            headers: response.headers,
            body: Buffer.concat(chunks),
            trailers: response.trailers,
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** A raw TLS connection (ALPN configurable) for hand-written HTTP/1.1 (pipelining, malformed requests). */
export function rawTls(port: number, alpn: string[] = ['http/1.1']): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: alpn }, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Reads from a socket until `done(received)` is true or the socket ends. */
export function readUntil(socket: NodeJS.ReadableStream, done: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out; received so far: ${JSON.stringify(text.slice(0, 500))}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text)) {
        cleanup();
        resolve(text);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(text);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs an external command (curl, nghttp, python) without blocking the event loop the server runs on. */
export function run(
  command: string,
  args: string[],
  options: { timeoutMs?: number; input?: Uint8Array | string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input);
  });
}

/** Deterministic pseudo-random bytes (fast, no crypto cost) for large-body tests. */
export function patternBytes(size: number, seed = 1): Buffer {
  const buffer = Buffer.allocUnsafe(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buffer[i] = x & 0xff;
  }
  return buffer;
}
