import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { interopApp, type InteropState } from './app.js';
import { run, startServer, waitFor, waitForIdle, type TestServer } from '../support/server.js';

// Debian's python3-h2 lives with the system interpreter, not a pyenv python3 first on PATH.
const PYTHON = '/usr/bin/python3';
const CLIENT = fileURLToPath(new URL('./h2client.py', import.meta.url));

describe('Python h2 (hyper-h2)', () => {
  let server: TestServer;
  let state: InteropState;

  before(async () => {
    const app = interopApp();
    state = app.state;
    server = await startServer(app.fetch, { httpPort: 0 });
  });
  after(() => server.close());

  const client = async (port: number, args: string[], cleartext: boolean) => {
    const result = await run(PYTHON, [CLIENT, String(port), ...args, ...(cleartext ? ['--cleartext'] : [])], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout.toString());
  };

  for (const cleartext of [false, true]) {
    const port = () => (cleartext ? server.httpPort! : server.port);
    describe(cleartext ? 'h2c prior knowledge' : 'TLS (ALPN h2)', () => {
      test('GET and HEAD', async () => {
        const get = await client(port(), ['get', '/'], cleartext);
        assert.equal(get.status, 200);
        assert.equal(get.text, 'hello');
        assert.equal(get.headers['content-length'], '5');
        assert.equal(get.headers['content-type'], 'text/plain');
        const head = await client(port(), ['head', '/'], cleartext);
        assert.equal(head.status, 200);
        assert.equal(head.length, 0);
        assert.equal(head.headers['content-length'], '5');
        const protocol = await client(port(), ['get', '/protocol'], cleartext);
        assert.equal(protocol.text, cleartext ? 'h2c' : 'h2');
      });

      test('POST echo of 10 MiB', async () => {
        const result = await client(port(), ['post', '/echo', String(10 * 1024 * 1024)], cleartext);
        assert.equal(result.status, 200);
        assert.equal(result.length, 10 * 1024 * 1024);
        assert.equal(result.sha256, result.sent_sha256);
      });

      test('100 concurrent streams on one connection', async () => {
        const result = await client(port(), ['concurrent', '/', '100'], cleartext);
        assert.equal(result.count, 100);
        assert.deepEqual(result.statuses, [200]);
        assert.deepEqual(result.texts, ['hello']);
      });

      test('trailers and early hints', async () => {
        const trailed = await client(port(), ['trailers', '/trailers'], cleartext);
        assert.equal(trailed.text, 'trailed body');
        assert.deepEqual(trailed.trailers, { 'x-checksum': 'abc123' });
        const hinted = await client(port(), ['get', '/hints'], cleartext);
        assert.equal(hinted.informational[0][':status'], '103');
        assert.equal(hinted.text, 'hinted');
      });

      test('slow reader with manual flow control gets the whole stream', async () => {
        const result = await client(port(), ['slowread', '/stream?size=1048576'], cleartext);
        assert.equal(result.status, 200);
        assert.equal(result.length, 1024 * 1024);
      });

      test('RST_STREAM mid-upload: request.signal aborts, the connection keeps serving, nothing leaks', async () => {
        const before = state.aborted;
        const result = await client(port(), ['abort', '/slow-upload', '0.2'], cleartext);
        assert.equal(result.after.status, 200);
        assert.equal(result.after.text, 'hello');
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
