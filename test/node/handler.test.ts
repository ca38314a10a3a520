import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import express from 'express';
import { fromNodeHandler } from '../../src/node/index.js';
import {
  connectH2,
  h1Request,
  h2Request,
  patternBytes,
  run,
  startServer,
  waitFor,
  waitForIdle,
  type TestServer,
} from '../support/server.js';

/** What the handlers observed, for the assertions. */
const seen = {
  headStreamClosed: 0,
  uploadBufferedMax: 0,
  h1HangClosed: 0,
};

/** A plain node:http request listener (Connect-style), not Express: the adapter's own error paths are exercised. */
async function listener(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://placeholder');
  switch (url.pathname) {
    case '/':
      res.setHeader('content-type', 'text/plain');
      res.end(`plain ${req.method} ${req.httpVersion}`);
      return;
    case '/throw':
      throw new Error('listener threw before responding');
    case '/reject':
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new Error('listener rejected before responding');
    case '/bad-header':
      // node:http refuses the value (ERR_INVALID_CHAR) inside the application (srvx #243).
      res.setHeader('x-bad', 'a\r\ninjected: yes');
      res.end('never');
      return;
    case '/fail-midway':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial ');
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new Error('listener failed after the head');
    case '/event-stream': {
      // Writes until its response closes: a HEAD must not leave it running (srvx #243).
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const timer = setInterval(() => res.write('data: tick\n\n'), 5);
      res.on('close', () => {
        clearInterval(timer);
        seen.headStreamClosed++;
      });
      return;
    }
    case '/slow-upload': {
      // Reads one chunk, then nothing for a while: the rest of the body must wait at the client (flow control), not
      // pile up in req (srvx #232).
      const first = await new Promise<Buffer>((resolve) => req.once('data', resolve));
      req.pause();
      await new Promise((resolve) => setTimeout(resolve, 200));
      seen.uploadBufferedMax = req.readableLength;
      let total = first.byteLength;
      for await (const chunk of req) total += (chunk as Buffer).byteLength;
      res.end(`received ${total}`);
      return;
    }
    case '/hang':
      res.on('close', () => seen.h1HangClosed++);
      return;
    case '/status-101':
      res.writeHead(101);
      res.end();
      return;
    default:
      res.statusCode = 404;
      res.end('not found');
  }
}

describe('fromNodeHandler with a plain Node listener', () => {
  let server: TestServer;
  let h2: http2.ClientHttp2Session;

  before(async () => {
    server = await startServer(fromNodeHandler(listener), { httpPort: 0 });
    h2 = connectH2(server.origin);
  });

  after(async () => {
    h2.close();
    await server.close();
  });

  test('curl over HTTP/1.1 and HTTP/2, and h2c with prior knowledge', async () => {
    const overH1 = await run('curl', ['-sk', '--http1.1', `${server.origin}/`]);
    assert.equal(overH1.stdout.toString(), 'plain GET 1.1');
    const overH2 = await run('curl', ['-sk', '--http2', `${server.origin}/`]);
    assert.equal(overH2.stdout.toString(), 'plain GET 2.0');
    const h2c = http2.connect(`http://127.0.0.1:${server.httpPort}`);
    h2c.on('error', () => {});
    try {
      const response = await h2Request(h2c, { ':path': '/' });
      assert.equal(response.body.toString(), 'plain GET 2.0');
    } finally {
      h2c.close();
    }
  });

  test('a listener that throws or rejects before responding gives a 500 with no stack; the log has its file:line', async () => {
    for (const path of ['/throw', '/reject']) {
      const before = server.errors.length;
      const response = await h1Request(server.origin, { path });
      assert.equal(response.status, 500, path);
      assert.doesNotMatch(response.body.toString(), /handler\.test|at /, `${path} leaks no stack`);
      await waitFor(() => server.errors.length > before, 'the error log');
      const logged = server.errors.at(-1)!;
      assert.match(String((logged.error as Error).stack), /handler\.test\.ts:\d+/, 'logged with the application location');
      assert.match(logged.context, new RegExp(`GET ${path}`));
    }
  });

  test('an invalid header value set by the listener gives a 500, not a crash (srvx #243)', async () => {
    const response = await h2Request(h2, { ':path': '/bad-header' });
    assert.equal(response.headers[':status'], 500);
    assert.equal(response.headers['x-bad'], undefined);
    assert.doesNotMatch(response.body.toString(), /injected|at /);
  });

  test('a failure after the head aborts the response (no truncated body passed off as whole) and is logged', async () => {
    const before = server.errors.length;
    const outcome = await new Promise<string>((resolve) => {
      const stream = h2.request({ ':path': '/fail-midway' });
      stream.on('error', (error: Error & { code?: string }) => resolve(`error ${error.code}`));
      stream.on('end', () => resolve('ended cleanly'));
      stream.resume();
    });
    assert.match(outcome, /^error ERR_HTTP2_STREAM_ERROR/);
    await waitFor(() => server.errors.length > before, 'the error log');
    assert.match(String(server.errors.at(-1)!.error), /listener failed after the head/);

    const overH1 = await new Promise<string>((resolve) => {
      const request = http.get(`http://127.0.0.1:${server.httpPort}/fail-midway`, (response) => {
        response.on('error', () => resolve('aborted'));
        response.on('aborted', () => resolve('aborted'));
        response.on('end', () => resolve(response.complete ? 'complete' : 'aborted'));
        response.resume();
      });
      request.on('error', () => resolve('aborted'));
    });
    assert.equal(overH1, 'aborted');
  });

  test('HEAD to an endless event stream answers with the head and closes the stream (srvx #243)', async () => {
    const before = seen.headStreamClosed;
    const response = await h1Request(server.origin, { method: 'HEAD', path: '/event-stream' });
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'text/event-stream');
    assert.equal(response.body.byteLength, 0);
    await waitFor(() => seen.headStreamClosed === before + 1, "the stream's 'close'");
    await waitForIdle(server.server);
  });

  test('a request body the listener does not read stays bounded in req; all of it arrives when read (srvx #232)', async () => {
    const size = 4 * 1024 * 1024;
    const response = await h2Request(h2, { ':method': 'POST', ':path': '/slow-upload' }, patternBytes(size));
    assert.equal(response.body.toString(), `received ${size}`);
    assert.ok(
      seen.uploadBufferedMax <= 128 * 1024,
      `req buffered ${seen.uploadBufferedMax} bytes while paused (its highWaterMark is 16 KiB)`,
    );
  });

  test("a body over the server's maxBodySize gives the server's 413 even through express.json()", async () => {
    const app = express();
    // Express logs the body parser's 'request aborted' (the server ends the request after its 413) unless in 'test'.
    app.set('env', 'test');
    app.post('/json', express.json({ limit: '10mb' }), (req, res) => {
      res.json({ keys: Object.keys(req.body as object).length });
    });
    const limited = await startServer(fromNodeHandler(app), { limits: { maxBodySize: 1024 } });
    try {
      const big = JSON.stringify({ data: 'x'.repeat(64 * 1024) });
      const session = connectH2(limited.origin);
      try {
        const response = await h2Request(session, { ':method': 'POST', ':path': '/json', 'content-type': 'application/json' }, big);
        assert.equal(response.headers[':status'], 413);
      } finally {
        session.close();
      }
      await waitForIdle(limited.server);
      assert.deepEqual(limited.errors, []);
    } finally {
      await limited.close();
    }
  });

  test('a status the fetch API cannot carry (101 from writeHead) gives a 500', async () => {
    const response = await h1Request(server.origin, { path: '/status-101' });
    assert.equal(response.status, 500);
  });

  test('an HTTP/1.1 client that disconnects from a request never answered closes the response', async () => {
    const before = seen.h1HangClosed;
    const request = http.get(`http://127.0.0.1:${server.httpPort}/hang`);
    request.on('error', () => {});
    await waitFor(() => server.server.stats().inFlightRequests > 0, 'the request to arrive');
    request.destroy();
    await waitFor(() => seen.h1HangClosed === before + 1, "res 'close'");
    await waitForIdle(server.server);
  });
});
