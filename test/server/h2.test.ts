import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { FastResponse, NativeResponse } from '../../src/server/response.js';
import type { ServeInfo } from '../../src/server/types.js';
import {
  connectH2,
  h2Request,
  patternBytes,
  rawTls,
  sleep,
  startServer,
  waitFor,
  waitForIdle,
  type TestServer,
} from '../support/server.js';
import { gatedHandler, pulledPatternStream } from '../support/handlers.js';

const TEN_MIB = 10 * 1024 * 1024;

describe('HTTP/2 over TLS with the node:http2 client', () => {
  let server: TestServer;
  let lastInfo: ServeInfo | undefined;
  let lastRequest: Request | undefined;
  let abortedSignals = 0;
  const slowStarted: { resolve?: () => void } = {};

  before(async () => {
    server = await startServer(async (request, info) => {
      lastInfo = info;
      lastRequest = request;
      const url = new URL(request.url);
      switch (url.pathname) {
        case '/':
          return new FastResponse('hello', { headers: { 'content-type': 'text/plain' } });
        case '/global':
          // undici's Response (the global one is FastResponse while httpsd serves): the server's other read path.
          return new NativeResponse('hello global', { headers: { 'x-kind': 'global' } });
        case '/echo': {
          const body = await request.arrayBuffer();
          return new FastResponse(new Uint8Array(body), { headers: { 'x-received': String(body.byteLength) } });
        }
        case '/echo-stream':
          // Pipes the request body back without buffering it: exercises both backpressure paths at once.
          return new Response(request.body, { headers: { 'content-type': 'application/octet-stream' } });
        case '/inspect':
          return Response.json({
            method: request.method,
            url: request.url,
            cookie: request.headers.get('cookie'),
            host: request.headers.get('host'),
            isRequest: request instanceof Request,
            protocol: info.protocol,
            scheme: info.scheme,
            alpn: info.tls?.alpn,
            tlsVersion: info.tls?.version,
            remote: info.remoteAddress,
          });
        case '/trailers':
          return new FastResponse('body with trailers', {
            trailers: async () => ({ 'x-checksum': 'abc123', 'x-count': '1' }),
          });
        case '/info-trailers':
          info.setTrailers!({ 'x-via-info': 'yes' });
          return new Response(
            new ReadableStream({
              start(controller) {
                controller.enqueue(new TextEncoder().encode('streamed'));
                controller.close();
              },
            }),
          );
        case '/hints':
          info.sendInformational(103, { link: '</style.css>; rel=preload; as=style' });
          await sleep(10);
          return new FastResponse('after hints');
        case '/stream':
          // 8 MiB in 64 KiB chunks, produced only as fast as the client reads (pull-based).
          return new Response(pulledPatternStream(8 * 1024 * 1024, 64 * 1024));
        case '/async-iterable':
          return new FastResponse(
            (async function* () {
              yield 'a';
              yield new TextEncoder().encode('b');
              yield 'c';
            })() as unknown as BodyInit,
          );
        case '/hang-until-abort':
          request.signal.addEventListener('abort', () => abortedSignals++);
          slowStarted.resolve?.();
          return new Promise<Response>((resolve) => request.signal.addEventListener('abort', () => resolve(new Response('late'))));
        case '/read-slowly': {
          // Reads the upload until the client aborts mid-body.
          const reader = request.body!.getReader();
          request.signal.addEventListener('abort', () => abortedSignals++);
          slowStarted.resolve?.();
          try {
            for (;;) {
              const { done } = await reader.read();
              if (done) break;
            }
          } catch {
            return new Response('aborted');
          }
          return new Response('complete');
        }
        case '/throw':
          throw new Error('secret stack detail');
        case '/not-a-response':
          return { hello: 'world' } as unknown as Response;
        case '/no-content':
          return new Response(null, { status: 204 });
        default:
          return new Response('not found', { status: 404 });
      }
    });
  });
  after(() => server.close());

  test('GET: status, headers and body; FastResponse and undici Response', async () => {
    const session = connectH2(server.origin);
    try {
      const fast = await h2Request(session, { ':path': '/' });
      assert.equal(fast.headers[':status'], 200);
      assert.equal(fast.headers['content-type'], 'text/plain');
      assert.equal(fast.headers['content-length'], '5');
      assert.equal(fast.headers.server, 'httpsd');
      assert.match(String(fast.headers.date), /GMT$/);
      assert.equal(fast.body.toString(), 'hello');
      const global = await h2Request(session, { ':path': '/global' });
      assert.equal(global.headers['x-kind'], 'global');
      assert.equal(global.headers['content-type'], 'text/plain;charset=UTF-8');
      assert.equal(global.headers['content-length'], '12');
      assert.equal(global.body.toString(), 'hello global');
    } finally {
      session.close();
    }
  });

  test('HEAD has the GET headers and no body; 204 has no body', async () => {
    const session = connectH2(server.origin);
    try {
      const head = await h2Request(session, { ':path': '/', ':method': 'HEAD' });
      assert.equal(head.headers[':status'], 200);
      assert.equal(head.headers['content-length'], '5');
      assert.equal(head.body.length, 0);
      const empty = await h2Request(session, { ':path': '/no-content' });
      assert.equal(empty.headers[':status'], 204);
      assert.equal(empty.body.length, 0);
    } finally {
      session.close();
    }
  });

  test('the lazy Request: instanceof Request, url, joined cookie crumbs, host from :authority, info', async () => {
    const session = connectH2(server.origin);
    try {
      // Two cookie fields (crumbs, RFC 9113 §8.2.3) must reach the app joined with "; ".
      const result = await h2Request(session, { ':path': '/inspect?x=1', cookie: ['a=1', 'b=2'] });
      const data = JSON.parse(result.body.toString());
      assert.equal(data.isRequest, true);
      assert.equal(data.method, 'GET');
      assert.equal(data.url, `${server.origin}/inspect?x=1`);
      assert.equal(data.cookie, 'a=1; b=2');
      assert.equal(data.host, `127.0.0.1:${server.port}`);
      assert.equal(data.protocol, 'h2');
      assert.equal(data.scheme, 'https');
      assert.equal(data.alpn, 'h2');
      assert.match(data.tlsVersion, /^TLSv1\.[23]$/);
      assert.equal(data.remote, '127.0.0.1');
      assert.ok(lastRequest instanceof Request);
      assert.equal(typeof lastInfo!.remotePort, 'number');
    } finally {
      session.close();
    }
  });

  test('POST echo of 10 MiB (buffered and streamed back)', async () => {
    const session = connectH2(server.origin);
    try {
      const payload = patternBytes(TEN_MIB, 7);
      const buffered = await h2Request(session, { ':path': '/echo', ':method': 'POST' }, payload);
      assert.equal(buffered.headers['x-received'], String(TEN_MIB));
      assert.ok(buffered.body.equals(payload), 'buffered echo differs');
      const streamed = await h2Request(session, { ':path': '/echo-stream', ':method': 'POST' }, payload);
      assert.ok(streamed.body.equals(payload), 'streamed echo differs');
    } finally {
      session.close();
    }
    await waitForIdle(server.server);
  });

  test('100 concurrent streams on one connection', async () => {
    const session = connectH2(server.origin);
    try {
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          h2Request(session, { ':path': i % 2 ? '/' : '/echo', ':method': i % 2 ? 'GET' : 'POST' }, i % 2 ? undefined : `body-${i}`),
        ),
      );
      results.forEach((result, i) => {
        assert.equal(result.headers[':status'], 200);
        assert.equal(result.body.toString(), i % 2 ? 'hello' : `body-${i}`);
      });
    } finally {
      session.close();
    }
  });

  test('trailers: FastResponse trailers function and info.setTrailers with a stream body', async () => {
    const session = connectH2(server.origin);
    try {
      const fast = await h2Request(session, { ':path': '/trailers' });
      assert.equal(fast.body.toString(), 'body with trailers');
      assert.equal(fast.trailers?.['x-checksum'], 'abc123');
      assert.equal(fast.trailers?.['x-count'], '1');
      const viaInfo = await h2Request(session, { ':path': '/info-trailers' });
      assert.equal(viaInfo.body.toString(), 'streamed');
      assert.equal(viaInfo.trailers?.['x-via-info'], 'yes');
    } finally {
      session.close();
    }
  });

  test('103 Early Hints arrive before the final response', async () => {
    const session = connectH2(server.origin);
    try {
      const stream = session.request({ ':path': '/hints' });
      const informational: http2.IncomingHttpHeaders[] = [];
      stream.on('headers', (headers) => informational.push(headers));
      const final = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.on('response', resolve));
      stream.resume();
      await new Promise((resolve) => stream.on('end', resolve));
      assert.equal(informational.length, 1);
      assert.equal(informational[0]![':status'], 103);
      assert.equal(informational[0]!.link, '</style.css>; rel=preload; as=style');
      assert.equal(final[':status'], 200);
    } finally {
      session.close();
    }
  });

  test('async iterable bodies', async () => {
    const session = connectH2(server.origin);
    try {
      const result = await h2Request(session, { ':path': '/async-iterable' });
      assert.equal(result.body.toString(), 'abc');
    } finally {
      session.close();
    }
  });

  test('a slow-reading client: the streamed response is produced only as fast as it is read', async () => {
    const session = connectH2(server.origin);
    try {
      const stream = session.request({ ':path': '/stream' });
      stream.pause();
      await new Promise((resolve) => stream.on('response', resolve));
      // Not reading: flow control (64 KiB stream window) plus the per-stream high-water mark bound what the server
      // holds; give it time to (wrongly) buffer everything, then check it did not.
      await sleep(300);
      const pending = server.server.stats().pendingOutputBytes;
      assert.ok(pending < 2 * 1024 * 1024, `server buffered ${pending} bytes for a client that does not read`);
      let received = 0;
      stream.on('data', (chunk: Buffer) => (received += chunk.length));
      stream.resume();
      await new Promise((resolve) => stream.on('end', resolve));
      assert.equal(received, 8 * 1024 * 1024);
    } finally {
      session.close();
    }
    await waitForIdle(server.server);
  });

  test('client reset while the handler waits: request.signal aborts, counters return to zero', async () => {
    const session = connectH2(server.origin);
    const before = abortedSignals;
    try {
      const started = new Promise<void>((resolve) => (slowStarted.resolve = resolve));
      const stream = session.request({ ':path': '/hang-until-abort' });
      stream.on('error', () => {});
      await started;
      stream.close(http2.constants.NGHTTP2_CANCEL);
      await waitFor(() => abortedSignals === before + 1, 'the abort signal');
    } finally {
      session.close();
    }
    await waitForIdle(server.server);
  });

  test('client disconnect mid-upload: the handler sees the abort, nothing leaks', async () => {
    // (node:http2's stream.close() ends the body before RST_STREAM; a dropped connection is a true mid-body abort.
    // RST_STREAM mid-upload is covered with Python h2 in test/interop.)
    const session = connectH2(server.origin);
    const before = abortedSignals;
    const started = new Promise<void>((resolve) => (slowStarted.resolve = resolve));
    const stream = session.request({ ':path': '/read-slowly', ':method': 'POST' });
    stream.on('error', () => {});
    stream.write(patternBytes(100_000));
    await started;
    await sleep(50);
    session.destroy();
    await waitFor(() => abortedSignals === before + 1, 'the abort signal');
    await waitForIdle(server.server);
  });

  test('a throwing handler and a non-Response give 500 without the stack; errors are logged with the request line', async () => {
    const session = connectH2(server.origin);
    try {
      const thrown = await h2Request(session, { ':path': '/throw' });
      assert.equal(thrown.headers[':status'], 500);
      assert.doesNotMatch(thrown.body.toString(), /secret|stack|at /);
      const odd = await h2Request(session, { ':path': '/not-a-response' });
      assert.equal(odd.headers[':status'], 500);
      const logged = server.errors.map((entry) => entry.context);
      assert.ok(logged.includes('GET /throw'), logged.join(', '));
      assert.ok(logged.includes('GET /not-a-response'), logged.join(', '));
    } finally {
      session.close();
    }
  });

  test('counters return to zero when idle', async () => {
    const stats = await waitForIdle(server.server);
    assert.ok(stats.totalRequests > 100);
    await waitFor(() => server.server.stats().connections === 0, 'all connections to close');
  });
});

describe('HTTP/2 limits', () => {
  test('a body larger than maxBodySize gets 413 (declared and undeclared length)', async () => {
    const server = await startServer(async (request) => new Response(String((await request.arrayBuffer()).byteLength)), {
      limits: { maxBodySize: 1000 },
    });
    const session = connectH2(server.origin);
    try {
      const declared = await h2Request(session, { ':path': '/', ':method': 'POST', 'content-length': '5000' }, patternBytes(5000));
      assert.equal(declared.headers[':status'], 413);
      const streamed = await h2Request(session, { ':path': '/', ':method': 'POST' }, patternBytes(5000));
      assert.equal(streamed.headers[':status'], 413);
      const fits = await h2Request(session, { ':path': '/', ':method': 'POST' }, patternBytes(1000));
      assert.equal(fits.body.toString(), '1000');
    } finally {
      session.close();
      await waitForIdle(server.server);
      await server.close();
    }
  });

  test('zero-window slow read: a response that cannot make progress is cut after writeProgressTimeout', async () => {
    const big = patternBytes(1024 * 1024);
    const server = await startServer(() => new FastResponse(new Uint8Array(big)), { limits: { writeProgressTimeout: 300 } });
    // A client that advertises a zero stream window never lets the server send DATA (CVE-2019-9517 style).
    const session = http2.connect(server.origin, { rejectUnauthorized: false, settings: { initialWindowSize: 0 } });
    session.on('error', () => {});
    try {
      const stream = session.request({ ':path': '/' });
      stream.on('error', () => {});
      await new Promise((resolve) => stream.on('response', resolve));
      const started = Date.now();
      await new Promise((resolve) => session.on('close', resolve));
      assert.ok(Date.now() - started < 4000);
      await waitForIdle(server.server);
      await waitFor(() => server.server.stats().connections === 0, 'the connection to be closed');
    } finally {
      session.destroy();
      await server.close();
    }
  });

  test('a connection error (bad frame) aborts in-flight handlers and closes the connection; nothing leaks', async () => {
    let aborted = 0;
    let started: (() => void) | undefined;
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const server = await startServer((request) => {
      request.signal.addEventListener('abort', () => aborted++);
      started!();
      return new Promise<Response>(() => {});
    });
    const socket = await rawTls(server.port, ['h2']);
    try {
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.on('error', () => {});
      socket.resume(); // read (and discard) what the server sends, so its FIN is seen
      // Preface, empty SETTINGS, a HEADERS frame for stream 1 (":method GET, :scheme https, :path /" as static
      // HPACK indexes 2, 7, 4, plus a literal :authority), then a WINDOW_UPDATE with a zero increment on stream 0
      // (RFC 9113 §6.9: connection PROTOCOL_ERROR).
      const block = Buffer.from([0x82, 0x87, 0x84, 0x41, 0x01, 0x61]);
      const headers = Buffer.concat([Buffer.from([0, 0, block.length, 1, 0x05, 0, 0, 0, 1]), block]);
      socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), headers]));
      await handlerStarted;
      socket.write(Buffer.from([0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      await closed;
      await waitFor(() => aborted === 1, 'the handler abort');
      await waitForIdle(server.server);
      await waitFor(() => server.server.stats().connections === 0, 'the connection count');
    } finally {
      socket.destroy();
      await server.close();
    }
  });

  test('expect: 100-continue gets 100 before the body is sent', async () => {
    const server = await startServer(async (request) => new Response(await request.text()));
    const session = connectH2(server.origin);
    try {
      const stream = session.request({ ':path': '/', ':method': 'POST', expect: '100-continue' });
      await new Promise((resolve) => stream.on('continue', resolve));
      stream.end('after continue');
      let body = '';
      stream.on('data', (chunk) => (body += chunk));
      await new Promise((resolve) => stream.on('end', resolve));
      assert.equal(body, 'after continue');
    } finally {
      session.close();
      await server.close();
    }
  });

  test('a request body that never ends after the response is reset after idleTimeout', async () => {
    const server = await startServer(() => new Response('early answer'), { limits: { idleTimeout: 200 } });
    const session = connectH2(server.origin);
    try {
      const stream = session.request({ ':path': '/', ':method': 'POST' });
      stream.on('error', () => {});
      stream.write('partial body, never ended');
      const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1)));
      let body = '';
      stream.on('data', (chunk) => (body += chunk));
      assert.equal(await closed, http2.constants.NGHTTP2_CANCEL);
      assert.equal(body, 'early answer');
      await waitForIdle(server.server);
    } finally {
      session.destroy();
      await server.close();
    }
  });

  test('an idle connection is closed after idleTimeout', async () => {
    const server = await startServer(() => new Response('x'), { limits: { idleTimeout: 200 } });
    const session = connectH2(server.origin);
    try {
      await h2Request(session, { ':path': '/' });
      const closed = new Promise((resolve) => session.on('close', resolve));
      await closed;
      assert.equal(server.server.stats().h2Connections, 0);
    } finally {
      session.destroy();
      await server.close();
    }
  });

  test('graceful close(): in-flight streams complete, then the server stops', async () => {
    const gated = gatedHandler('finished');
    const server = await startServer(gated.fetch);
    const session = connectH2(server.origin);
    const pending = Promise.all([h2Request(session, { ':path': '/a' }), h2Request(session, { ':path': '/b' })]);
    await waitFor(() => server.server.stats().inFlightRequests === 2, 'two requests in flight');
    const closing = server.server.close(5000);
    await sleep(50);
    gated.release();
    const results = await pending;
    assert.deepEqual(
      results.map((r) => r.body.toString()),
      ['finished', 'finished'],
    );
    await closing;
    session.destroy();
  });
});

describe('HTTP/2 flow control and backpressure', () => {
  test('several large responses blocked by small stream windows (large connection window) all complete', async () => {
    // Queued DATA waiting for stream windows must not make the server stop reading: the WINDOW_UPDATEs that
    // release it arrive on the same socket.
    const body = new Uint8Array(1024 * 1024).fill(0x62);
    const server = await startServer(() => new FastResponse(body));
    const session = http2.connect(server.origin, { rejectUnauthorized: false, settings: { initialWindowSize: 16 * 1024 } });
    session.on('error', () => {});
    try {
      await new Promise((resolve) => session.on('connect', resolve));
      session.setLocalWindowSize(64 * 1024 * 1024);
      const results = await Promise.all(Array.from({ length: 6 }, () => h2Request(session, { ':path': '/' })));
      for (const result of results) assert.equal(result.body.length, body.length);
    } finally {
      session.close();
      await server.close();
    }
  });
});
