import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import * as net from 'node:net';
import * as http2 from 'node:http2';
import { FastResponse } from '../../src/server/response.js';
import {
  connectH2,
  h1Request,
  h2Request,
  patternBytes,
  rawTls,
  readUntil,
  sleep,
  startServer,
  waitFor,
  waitForIdle,
  type TestServer,
} from '../support/server.js';
import { gatedHandler, pulledPatternStream } from '../support/handlers.js';

const TEN_MIB = 10 * 1024 * 1024;

describe('HTTP/1.1 over TLS (node:https client, raw sockets)', () => {
  let server: TestServer;
  let aborted = 0;
  let started: (() => void) | undefined;

  before(async () => {
    server = await startServer(
      async (request, info) => {
        const url = new URL(request.url);
        switch (url.pathname) {
          case '/':
            return new FastResponse('hello', { headers: { 'content-type': 'text/plain' } });
          case '/info':
            return Response.json({
              protocol: info.protocol,
              alpn: info.tls?.alpn,
              url: request.url,
              host: request.headers.get('host'),
              isRequest: request instanceof Request,
            });
          case '/echo': {
            const body = await request.bytes();
            return new FastResponse(body, { headers: { 'x-received': String(body.byteLength) } });
          }
          case '/echo-stream':
            return new Response(request.body);
          case '/trailers':
            return new FastResponse('with trailers', { trailers: { 'x-checksum': 'abc' } });
          case '/hints':
            info.sendInformational(103, { link: '</a.js>; rel=preload; as=script' });
            return new Response('hinted');
          case '/stream':
            return new Response(pulledPatternStream(8 * 1024 * 1024, 64 * 1024));
          case '/hang':
            request.signal.addEventListener('abort', () => aborted++);
            started?.();
            return new Promise<Response>((resolve) => request.signal.addEventListener('abort', () => resolve(new Response('late'))));
          case '/read-body': {
            request.signal.addEventListener('abort', () => aborted++);
            started?.();
            try {
              await request.arrayBuffer();
              return new Response('complete');
            } catch {
              return new Response('aborted');
            }
          }
          case '/throw':
            throw new Error('secret detail');
          case '/status':
            return new Response(null, { status: Number(url.searchParams.get('code')) });
          default:
            return new Response('nope', { status: 404 });
        }
      },
      { httpPort: 0, limits: { maxBodySize: 16 * 1024 * 1024, maxHeaderSize: 8 * 1024 } },
    );
  });
  after(() => server.close());

  test('GET and HEAD', async () => {
    const get = await h1Request(server.origin);
    assert.equal(get.status, 200);
    assert.equal(get.headers['content-type'], 'text/plain');
    assert.equal(get.headers['content-length'], '5');
    assert.equal(get.headers.server, 'httpsd');
    assert.ok(get.headers.date);
    assert.equal(get.body.toString(), 'hello');
    const head = await h1Request(server.origin, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '5');
    assert.equal(head.body.length, 0);
  });

  test('ALPN http/1.1 reaches the handler as protocol http/1.1 with a full URL', async () => {
    const result = await h1Request(server.origin, { path: '/info?q=1' });
    const data = JSON.parse(result.body.toString());
    assert.equal(data.protocol, 'http/1.1');
    assert.equal(data.alpn, false); // node:https offers no ALPN: served as http/1.1
    assert.equal(data.url, `${server.origin}/info?q=1`);
    assert.equal(data.isRequest, true);
  });

  test('POST echo of 10 MiB, buffered and streamed', async () => {
    const payload = patternBytes(TEN_MIB, 3);
    const buffered = await h1Request(server.origin, { method: 'POST', path: '/echo', body: payload });
    assert.equal(buffered.headers['x-received'], String(TEN_MIB));
    assert.ok(buffered.body.equals(payload));
    const streamed = await h1Request(server.origin, { method: 'POST', path: '/echo-stream', body: payload });
    assert.ok(streamed.body.equals(payload));
    await waitForIdle(server.server);
  });

  test('keep-alive and pipelining on one TLS connection', async () => {
    const socket = await rawTls(server.port);
    try {
      // Three requests written at once (pipelined); responses must come back in order on the same connection.
      socket.write(
        'GET /status?code=201 HTTP/1.1\r\nHost: a\r\n\r\n' +
          'GET / HTTP/1.1\r\nHost: a\r\n\r\n' +
          'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz',
      );
      const text = await readUntil(socket, (t) => (t.match(/HTTP\/1\.1 /g) ?? []).length === 3 && t.endsWith('xyz'));
      const statuses = [...text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
      assert.deepEqual(statuses, ['201', '200', '200']);
      assert.match(text, /\r\n\r\nhello/);
      // Still open: a fourth request on the same connection.
      socket.write('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      const last = await readUntil(socket, (t) => t.endsWith('hello'));
      assert.match(last, /^HTTP\/1\.1 200/);
    } finally {
      socket.destroy();
    }
  });

  test('trailers (chunked) and 103 Early Hints', async () => {
    const result = await h1Request(server.origin, { path: '/trailers' });
    assert.equal(result.body.toString(), 'with trailers');
    assert.equal(result.headers['transfer-encoding'], 'chunked');
    assert.equal(result.headers.trailer, 'x-checksum');
    assert.equal(result.trailers['x-checksum'], 'abc');

    const hints = await new Promise<{ informational: { statusCode: number; headers: Record<string, unknown> }[]; body: string }>(
      (resolve, reject) => {
        const informational: { statusCode: number; headers: Record<string, unknown> }[] = [];
        const request = https.request({ host: '127.0.0.1', port: server.port, path: '/hints', rejectUnauthorized: false, agent: false }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve({ informational, body }));
        });
        request.on('information', (info) => informational.push({ statusCode: info.statusCode, headers: info.headers }));
        request.on('error', reject);
        request.end();
      },
    );
    assert.equal(hints.informational[0]?.statusCode, 103);
    assert.equal(hints.informational[0]?.headers.link, '</a.js>; rel=preload; as=script');
    assert.equal(hints.body, 'hinted');
  });

  test('a slow-reading client does not make the server buffer the stream', async () => {
    const socket = await rawTls(server.port);
    try {
      socket.write('GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
      socket.pause();
      await sleep(300);
      const pending = server.server.stats().pendingOutputBytes;
      assert.ok(pending < 2 * 1024 * 1024, `server buffered ${pending} bytes`);
      let received = 0;
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.resume();
      await new Promise((resolve) => socket.on('end', resolve));
      assert.ok(received > 8 * 1024 * 1024, `received ${received}`);
    } finally {
      socket.destroy();
    }
    await waitForIdle(server.server);
  });

  test('client disconnect: a waiting handler and a handler reading the body both see request.signal abort', async () => {
    const before = aborted;
    let socket = await rawTls(server.port);
    let ready = new Promise<void>((resolve) => (started = resolve));
    socket.write('GET /hang HTTP/1.1\r\nHost: a\r\n\r\n');
    await ready;
    socket.destroy();
    await waitFor(() => aborted === before + 1, 'abort of the waiting handler');

    socket = await rawTls(server.port);
    ready = new Promise<void>((resolve) => (started = resolve));
    socket.write('POST /read-body HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n');
    socket.write(patternBytes(100_000));
    await ready;
    await sleep(50);
    socket.destroy();
    await waitFor(() => aborted === before + 2, 'abort of the reading handler');
    await waitForIdle(server.server);
  });

  test('errors: thrown handler gives 500 without the stack', async () => {
    const result = await h1Request(server.origin, { path: '/throw' });
    assert.equal(result.status, 500);
    assert.doesNotMatch(result.body.toString(), /secret|at /);
    assert.ok(server.errors.some((e) => e.context === 'GET /throw'));
  });

  test('limits: 413 for a declared oversized body, 431 for an oversized head', async () => {
    const tooBig = await h1Request(server.origin, {
      method: 'POST',
      path: '/echo',
      headers: { 'content-length': String(17 * 1024 * 1024) },
      body: undefined,
    }).catch((error: Error) => error);
    assert.ok(!(tooBig instanceof Error), String(tooBig));
    assert.equal((tooBig as { status: number }).status, 413);
    const socket = await rawTls(server.port);
    try {
      socket.write(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`);
      const text = await readUntil(socket, (t) => t.includes('\r\n\r\n'));
      assert.match(text, /^HTTP\/1\.1 431/);
    } finally {
      socket.destroy();
    }
  });

  test('cleartext port: HTTP/1.1 and h2c prior knowledge on the same port', async () => {
    const h1 = await h1Request(`http://127.0.0.1:${server.httpPort}`, { path: '/info' });
    assert.equal(JSON.parse(h1.body.toString()).protocol, 'http/1.1');
    assert.equal(JSON.parse(h1.body.toString()).url, `http://127.0.0.1:${server.httpPort}/info`);
    const session = connectH2(`http://127.0.0.1:${server.httpPort}`);
    try {
      const h2c = await h2Request(session, { ':path': '/info' });
      const data = JSON.parse(h2c.body.toString());
      assert.equal(data.protocol, 'h2c');
      assert.equal(data.url, `http://127.0.0.1:${server.httpPort}/info`);
    } finally {
      session.close();
    }
  });

  test('cleartext: a preface split across tiny writes is still recognised', async () => {
    const socket = net.connect(server.httpPort!, '127.0.0.1');
    try {
      await new Promise((resolve) => socket.on('connect', resolve));
      const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
      for (const piece of [preface.slice(0, 3), preface.slice(3, 10), preface.slice(10)]) {
        socket.write(piece);
        await sleep(20);
      }
      // An empty SETTINGS frame: the server must answer with its own SETTINGS (type 0x4).
      socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      const reply = await readUntil(socket, (t) => t.length >= 9);
      assert.equal(reply.charCodeAt(3), 4);
    } finally {
      socket.destroy();
    }
  });

  test('counters return to zero', async () => {
    await waitForIdle(server.server);
  });
});

describe('HTTP/1.1 limits and shutdown', () => {
  test('slowloris: a head that never completes is dropped after headersTimeout', async () => {
    const server = await startServer(() => new Response('x'), { limits: { headersTimeout: 300 } });
    const socket = await rawTls(server.port);
    try {
      socket.write('GET / HTTP/1.1\r\nHost: a\r\n');
      const started = Date.now();
      const text = await readUntil(socket, () => false, 5000);
      assert.ok(Date.now() - started < 4000);
      assert.ok(text === '' || /^HTTP\/1\.1 408/.test(text), text);
    } finally {
      socket.destroy();
      await server.close();
    }
  });

  test('redirectHttp sends cleartext clients to https with 308', async () => {
    const server = await startServer(() => new Response('x'), { httpPort: 0, redirectHttp: true });
    try {
      const result = await h1Request(`http://127.0.0.1:${server.httpPort}`, { path: '/a?b=c', headers: { host: 'example.test' } });
      assert.equal(result.status, 308);
      assert.equal(result.headers.location, `https://example.test:${server.port}/a?b=c`);
      // h2c prior knowledge on the same cleartext port is redirected too (it used to get an empty reply).
      const h2c = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
        const session = http2.connect(`http://127.0.0.1:${server.httpPort}`);
        session.on('error', reject);
        const stream = session.request({ ':path': '/x?y=1', ':authority': 'example.test' });
        stream.on('response', (headers) => {
          resolve({ status: Number(headers[':status']), location: headers.location as string | undefined });
          session.close();
        });
        stream.on('error', reject);
        stream.resume();
      });
      assert.equal(h2c.status, 308);
      assert.equal(h2c.location, `https://example.test:${server.port}/x?y=1`);
      // The TLS port still reaches the handler.
      const secure = await h1Request(`https://127.0.0.1:${server.port}`, { path: '/' });
      assert.equal(secure.status, 200);
    } finally {
      await server.close();
    }
  });

  test('maxConnections refuses connections beyond the limit', async () => {
    const server = await startServer(() => new Response('x'), { limits: { maxConnections: 1 } });
    const first = await rawTls(server.port);
    try {
      const refused = await rawTls(server.port).then(
        (socket) => {
          socket.destroy();
          return false;
        },
        () => true,
      );
      assert.equal(refused, true);
    } finally {
      first.destroy();
      await server.close();
    }
  });

  test('graceful close: in-flight h1 requests complete with connection: close', async () => {
    const gated = gatedHandler('done');
    const server = await startServer(gated.fetch);
    const pending = h1Request(server.origin);
    await waitFor(() => server.server.stats().inFlightRequests === 1, 'the request in flight');
    const closing = server.server.close(5000);
    await sleep(50);
    gated.release();
    const result = await pending;
    assert.equal(result.body.toString(), 'done');
    assert.equal(result.headers.connection, 'close');
    await closing;
  });
});

describe('TLS handshake limits', () => {
  test('a TCP connection that never sends a ClientHello is closed after handshakeTimeout', async () => {
    const server = await startServer(() => new Response('x'), { limits: { handshakeTimeout: 300 } });
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.resume();
      const started = Date.now();
      await new Promise((resolve) => socket.on('close', resolve));
      assert.ok(Date.now() - started < 3000, `held ${Date.now() - started} ms`);
      await waitFor(() => server.server.stats().connections === 0, 'the connection count to drop');
    } finally {
      await server.close();
    }
  });
});
