/**
 * The HTTP/3 attack suite's common part (test/attacks/h3-*.test.ts): a live QuicEndpoint on 127.0.0.1 serving
 * /hello, a well-behaved client that keeps fetching /hello during each attack — ngtcp2's gtlsclient, an independent
 * QUIC stack, on a fresh connection (a fresh handshake) every time — and the checks every attack shares: every
 * well-behaved request is served, the endpoint's connections return to those of the well-behaved client, and it
 * still serves afterwards. Attackers use the project's own QUIC client (udp-client.ts) from 127.0.0.2 and up, so
 * per-address limits meant for them do not also hit the well-behaved client on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { QuicEndpoint } from '../../../src/server/quic/index.js';
import { FastResponse } from '../../../src/server/response.js';
import { startH3Server } from '../../interop/h3-server.js';
import type { QuicEndpointOptions } from '../../../src/server/quic/index.js';
import { PATIENCE_MS, sleep } from '../../support/async.js';

export const GTLSCLIENT = '/usr/bin/gtlsclient';
/** Generous: a happy path on a busy shared 2-core machine; a server that stops serving still fails it. */
export const GOOD_REQUEST_TIMEOUT_MS = 20_000;

export interface H3Target {
  endpoint: QuicEndpoint;
  port: number;
  close(): Promise<void>;
}

/**
 * An endpoint answering GET /hello with "hello", /big with `bigBytes` bytes (for ACK floods that need traffic) and
 * /slow* after 100 ms.
 */
export async function startTarget(options: Partial<QuicEndpointOptions> = {}, bigBytes = 1 << 20): Promise<H3Target> {
  const big = new Uint8Array(bigBytes).fill(0x62);
  // Served through the server core's h3 transport (as serve() does): the attacks meet the production request path.
  const server = await startH3Server(tmpdir(), options, (request) => {
    const path = new URL(request.url).pathname;
    if (path === '/big') return new FastResponse(big, { headers: { 'content-type': 'application/octet-stream' } });
    // An application that takes a while (what Rapid Reset exploits: work started, then cancelled).
    if (path.startsWith('/slow')) return sleep(100).then(() => new FastResponse('slow', { headers: { 'content-type': 'text/plain' } }));
    return new FastResponse('hello', { headers: { 'content-type': 'text/plain' } });
  });
  return { endpoint: server.endpoint, port: server.port, close: () => server.close() };
}

export interface GoodReport {
  requests: number;
  failures: number;
  errors: string[];
  maxMs: number;
}

/** One gtlsclient GET /hello on a new connection; resolves with an error message, or undefined when served. */
async function fetchHello(port: number, dir: string): Promise<string | undefined> {
  if (!existsSync(GTLSCLIENT)) return `ngtcp2's gtlsclient is not installed (${GTLSCLIENT}); install it with: apt-get install -y ngtcp2-client`;
  const file = join(dir, 'hello');
  rmSync(file, { force: true });
  const args = ['--exit-on-all-streams-close', '--sni=localhost', '--timeout=15s', '-q', '--download', dir, '127.0.0.1', String(port), `https://localhost:${port}/hello`];
  return new Promise((resolve) => {
    const child = spawn(GTLSCLIENT, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), GOOD_REQUEST_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const body = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
      if (code === 0 && body === 'hello') resolve(undefined);
      else resolve(`gtlsclient exit ${code}, body ${JSON.stringify(body)}: ${stderr.slice(-300)}`);
    });
  });
}

/** The well-behaved client: gtlsclient fetches /hello again and again (a new handshake each time) until stopped. */
export class GoodH3Client {
  private running = true;
  private readonly latencies: number[] = [];
  private readonly errors: string[] = [];
  private finished = 0;
  private readonly dir = mkdtempSync(join(tmpdir(), 'httpsd-h3-good-'));
  private readonly loop: Promise<void>;

  constructor(private readonly port: number) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const started = performance.now();
      const error = await fetchHello(this.port, this.dir);
      if (error === undefined) this.latencies.push(performance.now() - started);
      else this.errors.push(error);
      this.finished++;
      await sleep(20);
    }
  }

  /** Resolves after `count` more requests finished (a count, not a sleep: a busy machine makes fewer per second). */
  async waitForMore(count: number): Promise<void> {
    const target = this.finished + count;
    const deadline = Date.now() + 2 * PATIENCE_MS;
    while (this.running && this.finished < target && Date.now() < deadline) await sleep(10);
  }

  async stop(): Promise<GoodReport> {
    this.running = false;
    await this.loop;
    rmSync(this.dir, { recursive: true, force: true });
    return {
      requests: this.latencies.length + this.errors.length,
      failures: this.errors.length,
      errors: this.errors.slice(0, 3),
      maxMs: Math.round(Math.max(0, ...this.latencies)),
    };
  }
}

/** Connections the endpoint (and its demux) still hold. */
export function heldState(target: H3Target): { connections: number; handshakes: number } {
  const demux = (target.endpoint as unknown as { demux: { connectionCount: number; handshakesInProgress: number } }).demux;
  return { connections: Math.max(target.endpoint.connectionCount, demux.connectionCount), handshakes: demux.handshakesInProgress };
}

/** Polls until the endpoint holds no connection (every attack connection closed or timed out by itself). */
export async function waitDrained(target: H3Target, timeoutMs = PATIENCE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const held = heldState(target);
    if (held.connections === 0 && held.handshakes === 0) return;
    await sleep(50);
  }
  assert.fail(`the endpoint still holds state after the attack: ${JSON.stringify(heldState(target))}`);
}

/**
 * Runs `attack` (resolving with a description of how the endpoint reacted, after asserting it) while the
 * well-behaved client fetches /hello, then checks: every well-behaved request was served, at least two during the
 * attack, the endpoint drops all attack state by itself, and a fresh client is still served.
 */
export async function underH3Attack(t: TestContext, target: H3Target, name: string, attack: () => Promise<string>): Promise<void> {
  const good = new GoodH3Client(target.port);
  await good.waitForMore(1);
  let outcome: string;
  let report: GoodReport;
  try {
    outcome = await attack();
    await good.waitForMore(2);
  } finally {
    report = await good.stop();
  }
  await waitDrained(target);
  const after = new GoodH3Client(target.port);
  await after.waitForMore(1);
  const health = await after.stop();
  t.diagnostic(`${name}: ${outcome} | well-behaved gtlsclient: ${report.requests} requests, ${report.failures} failed, max ${report.maxMs} ms`);
  assert.equal(report.failures, 0, `well-behaved client failed during ${name}: ${report.errors.join('; ')}`);
  assert.ok(report.requests >= 3, `well-behaved client made only ${report.requests} requests`);
  assert.equal(health.failures, 0, `health check after ${name} failed: ${health.errors.join('; ')}`);
}
