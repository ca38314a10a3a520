import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { interopApp, type InteropState } from './app.js';
import { patternBytes, run, sleep, startServer, waitFor, waitForIdle, type TestServer } from '../support/server.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('nghttp', () => {
  let server: TestServer;
  let state: InteropState;
  let dir: string;
  const targets = [
    { name: 'TLS (ALPN h2)', base: () => `https://127.0.0.1:${server.port}` },
    { name: 'h2c prior knowledge', base: () => `http://127.0.0.1:${server.httpPort}` },
  ];

  before(async () => {
    const app = interopApp();
    state = app.state;
    server = await startServer(app.fetch, { httpPort: 0 });
    dir = mkdtempSync(join(tmpdir(), 'httpsd-nghttp-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  });

  for (const target of targets) {
    describe(target.name, () => {
      test('GET and HEAD', async () => {
        const get = await run('nghttp', ['-v', `${target.base()}/`]);
        assert.equal(get.code, 0, get.stderr);
        const text = get.stdout.toString();
        assert.match(text, /recv \(stream_id=\d+\) :status: 200/);
        assert.match(text, /recv \(stream_id=\d+\) content-length: 5/);
        assert.match(text, /hello/);
        const head = await run('nghttp', ['-v', '-H', ':method: HEAD', `${target.base()}/`]);
        assert.equal(head.code, 0, head.stderr);
        assert.match(head.stdout.toString(), /content-length: 5/);
        assert.doesNotMatch(head.stdout.toString(), /hello/);
      });

      test('POST echo of 10 MiB', async () => {
        const payload = patternBytes(10 * 1024 * 1024, 13);
        const input = join(dir, 'upload.bin');
        writeFileSync(input, payload);
        const result = await run('nghttp', ['-d', input, `${target.base()}/echo`], { timeoutMs: 30_000 });
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout.length, payload.length);
        assert.equal(sha256(result.stdout), sha256(payload));
      });

      test('100 concurrent streams on one connection', async () => {
        const result = await run('nghttp', ['-n', '-s', '-m', '100', `${target.base()}/`], { timeoutMs: 30_000 });
        assert.equal(result.code, 0, result.stderr);
        // -s prints one statistics line per completed stream.
        const completed = result.stdout.toString().match(/^\s*\d+\s+\+[\d.]+\w+\s+\+[\d.]+\w+\s+[\d.]+\w+\s+200\s+5 \/$/gm) ?? [];
        assert.equal(completed.length, 100, result.stdout.toString().slice(0, 2000));
      });

      test('trailers', async () => {
        const result = await run('nghttp', ['-v', `${target.base()}/trailers`]);
        assert.equal(result.code, 0, result.stderr);
        const text = result.stdout.toString();
        assert.match(text, /trailed body/);
        assert.match(text, /recv \(stream_id=\d+\) x-checksum: abc123/);
      });

      test('a slow reader (1 KiB windows): the whole stream arrives, server output stays bounded', async () => {
        // -w/-W 10: 2^10-byte stream and connection windows; the server can only send as fast as nghttp acknowledges.
        const size = 1024 * 1024;
        const download = run('nghttp', ['-w', '10', '-W', '10', `${target.base()}/stream?size=${size}`], { timeoutMs: 30_000 });
        let maxPending = 0;
        let done = false;
        void download.finally(() => (done = true));
        while (!done) {
          maxPending = Math.max(maxPending, server.server.stats().pendingOutputBytes);
          await sleep(10);
        }
        const result = await download;
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout.length, size);
        assert.ok(maxPending < 1024 * 1024, `server queued ${maxPending} bytes`);
      });

      test('client abort mid-upload: request.signal aborts, nothing leaks', async () => {
        const before = state.aborted;
        const started = state.uploadsStarted;
        const input = join(dir, 'big.bin');
        writeFileSync(input, patternBytes(32 * 1024 * 1024));
        // Tiny windows on our side do not slow the upload; the handler reads slowly enough that killing nghttp
        // lands mid-body.
        const child = spawn('nghttp', ['-d', input, `${target.base()}/slow-upload`], { stdio: 'ignore' });
        try {
          await waitFor(() => state.uploadsStarted > started, 'the upload to start');
        } finally {
          child.kill('SIGKILL');
        }
        await waitFor(() => state.aborted === before + 1, 'the handler to see the abort');
        await waitForIdle(server.server);
      });
    });
  }

  test('counters return to zero', async () => {
    await waitForIdle(server.server);
    await waitFor(() => server.server.stats().connections === 0, 'connections to close');
  });
});
