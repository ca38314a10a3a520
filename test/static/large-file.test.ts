/**
 * A 1 GiB file (sparse, so the test costs no disk) streamed over HTTP/2 and HTTP/1.1 through real TLS to a client
 * that stops reading for a while, then reads everything. The server runs in its own process and its resident
 * memory is sampled throughout: it must stay far below the file size, proving the body is pulled from disk only
 * as the connection drains (flow control / socket backpressure), never buffered whole.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, openSync, ftruncateSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest, Agent } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { ClientHttp2Stream } from 'node:http2';
import { startServerProcess, openHttp2, rssOf } from './e2e-helpers.js';
import type { ServerProcess } from './e2e-helpers.js';

const FILE_SIZE = 1024 * 1024 * 1024;
/** Allowed growth of the server's RSS while streaming: a small fraction of the file. */
const MAX_RSS_GROWTH = 160 * 1024 * 1024;
const PAUSE_AFTER = 8 * 1024 * 1024;
const PAUSE_MS = 1000;

let base: string;
let server: ServerProcess;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'httpsd-static-large-'));
  const root = join(base, 'root');
  mkdirSync(root);
  const fd = openSync(join(root, 'huge.bin'), 'w');
  ftruncateSync(fd, FILE_SIZE);
  closeSync(fd);
  server = await startServerProcess(root);
});

after(async () => {
  await server?.stop();
  rmSync(base, { recursive: true, force: true });
});

interface Transfer {
  bytes: number;
  maxRss: number;
  baseline: number;
  rssWhilePaused: number;
}

/**
 * Drives a response stream (h1 IncomingMessage or h2 stream): reads up to PAUSE_AFTER, stops reading for PAUSE_MS,
 * then reads to the end, sampling the server's RSS every 50 ms.
 */
function drive(stream: IncomingMessage | ClientHttp2Stream, baseline: number): Promise<Transfer> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let maxRss = baseline;
    let rssWhilePaused = 0;
    let paused = false;
    const sampler = setInterval(() => {
      maxRss = Math.max(maxRss, rssOf(server.pid));
    }, 50);
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (!paused && bytes >= PAUSE_AFTER) {
        paused = true;
        stream.pause();
        setTimeout(() => {
          rssWhilePaused = rssOf(server.pid);
          stream.resume();
        }, PAUSE_MS);
      }
    });
    stream.on('end', () => {
      clearInterval(sampler);
      maxRss = Math.max(maxRss, rssOf(server.pid));
      resolve({ bytes, maxRss, baseline, rssWhilePaused });
    });
    stream.on('error', (error) => {
      clearInterval(sampler);
      reject(error);
    });
  });
}

function report(label: string, transfer: Transfer): void {
  const mib = (n: number): string => (n / 1024 / 1024).toFixed(1);
  console.log(
    `# ${label}: baseline RSS ${mib(transfer.baseline)} MiB, while paused ${mib(transfer.rssWhilePaused)} MiB, max ${mib(transfer.maxRss)} MiB`,
  );
}

describe('1 GiB file at constant memory', { timeout: 120_000 }, () => {
  test('over HTTP/2 (node:http2)', async () => {
    // Large windows so flow control is not the bottleneck once the client reads; backpressure then comes from TCP.
    const session = openHttp2(`https://127.0.0.1:${server.port}`, 8 * 1024 * 1024);
    try {
      const baseline = rssOf(server.pid);
      const stream = session.request({ ':path': '/huge.bin' });
      const headers = await new Promise<Record<string, unknown>>((resolve) => stream.once('response', resolve));
      assert.equal(headers[':status'], 200);
      assert.equal(headers['content-length'], String(FILE_SIZE));
      const transfer = await drive(stream, baseline);
      report('h2', transfer);
      assert.equal(transfer.bytes, FILE_SIZE);
      assert.ok(transfer.maxRss - baseline < MAX_RSS_GROWTH, `RSS grew by ${transfer.maxRss - baseline} bytes`);
    } finally {
      session.close();
    }
  });

  test('over HTTP/1.1 (node:https)', async () => {
    const agent = new Agent({ rejectUnauthorized: false, keepAlive: false });
    try {
      const baseline = rssOf(server.pid);
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const request = httpsRequest(
          { host: '127.0.0.1', port: server.port, path: '/huge.bin', agent },
          resolve,
        );
        request.on('error', reject);
        request.end();
      });
      assert.equal(response.statusCode, 200);
      assert.equal(response.httpVersion, '1.1');
      assert.equal(response.headers['content-length'], String(FILE_SIZE));
      const transfer = await drive(response, baseline);
      report('h1', transfer);
      assert.equal(transfer.bytes, FILE_SIZE);
      assert.ok(transfer.maxRss - baseline < MAX_RSS_GROWTH, `RSS grew by ${transfer.maxRss - baseline} bytes`);
    } finally {
      agent.destroy();
    }
  });

  test('a range deep inside the file, and a client that leaves mid-body', async () => {
    const session = openHttp2(`https://127.0.0.1:${server.port}`);
    try {
      const stream = session.request({ ':path': '/huge.bin', range: `bytes=${FILE_SIZE - 10}-` });
      const headers = await new Promise<Record<string, unknown>>((resolve) => stream.once('response', resolve));
      assert.equal(headers[':status'], 206);
      assert.equal(headers['content-range'], `bytes ${FILE_SIZE - 10}-${FILE_SIZE - 1}/${FILE_SIZE}`);
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      await new Promise((resolve) => stream.once('end', resolve));
      assert.deepEqual(Buffer.concat(chunks), Buffer.alloc(10));
      // Start a full download and abandon it: the server must release it (and keep serving).
      const abandoned = session.request({ ':path': '/huge.bin' });
      await new Promise((resolve) => abandoned.once('data', resolve));
      abandoned.close();
      const after = session.request({ ':path': '/huge.bin', range: 'bytes=0-3' });
      const afterHeaders = await new Promise<Record<string, unknown>>((resolve) => after.once('response', resolve));
      assert.equal(afterHeaders[':status'], 206);
      after.resume();
      await new Promise((resolve) => after.once('end', resolve));
    } finally {
      session.close();
    }
  });
});
