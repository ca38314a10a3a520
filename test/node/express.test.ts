import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { fromNodeHandler } from '../../src/node/index.js';
import {
  connectH2,
  h1Request,
  h2Request,
  patternBytes,
  startServer,
  waitFor,
  waitForIdle,
  type TestServer,
} from '../support/server.js';

/** Facts the routes record for the assertions (close/aborted events, backpressure). */
const seen = {
  drains: 0,
  falseWrites: 0,
  hangClosed: 0,
  hangAborted: 0,
  completedAborted: 0,
  completedResClosed: 0,
};
let releaseSlow: (() => void) | undefined;
const LARGE_FILE_BYTES = 8 * 1024 * 1024 + 7;

function buildApp(directory: string): express.Express {
  const app = express();
  app.set('env', 'production');
  app.set('etag', 'strong');
  app.get('/', (_req, res) => {
    res.send('hello from express');
  });
  app.get('/info', (req, res) => {
    res.json({
      method: req.method,
      url: req.url,
      originalUrl: req.originalUrl,
      query: req.query,
      httpVersion: req.httpVersion,
      httpVersionMajor: req.httpVersionMajor,
      rawXTest: req.rawHeaders[req.rawHeaders.indexOf('x-test') + 1],
      remoteAddress: req.socket.remoteAddress,
      remotePort: req.socket.remotePort,
      encrypted: (req.socket as { encrypted?: boolean }).encrypted === true,
      secure: req.secure,
      protocol: req.protocol,
      hostname: req.hostname,
      ip: req.ip,
      isIncomingMessage: req instanceof http.IncomingMessage,
      isServerResponse: res instanceof http.ServerResponse,
    });
  });
  app.get('/users/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  app.post('/json', express.json(), (req, res) => {
    res.json({ received: req.body });
  });
  app.post('/form', express.urlencoded({ extended: false }), (req, res) => {
    res.json({ received: req.body });
  });
  // Async middleware before the body parser: the parser attaches its listeners after an await (srvx #232).
  app.post(
    '/late-json',
    async (_req, _res, next) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      next();
    },
    express.json(),
    (req, res) => {
      res.json({ received: req.body });
    },
  );
  app.post('/completed', (req, res) => {
    req.on('aborted', () => seen.completedAborted++);
    res.on('close', () => seen.completedResClosed++);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => res.send(`read ${Buffer.concat(chunks).byteLength}`));
  });
  app.get('/file', (_req, res) => {
    res.sendFile(join(directory, 'page.html'));
  });
  app.get('/large', (_req, res) => {
    // send pipes a file stream into res: pipe() pauses on write() === false and resumes on 'drain'.
    res.sendFile(join(directory, 'large.bin'));
  });
  app.get('/crlf', (_req, res) => {
    res.type('application/octet-stream').send(Buffer.from('head\r\n\r\nafter the blank line\r\n\r\n'));
  });
  app.get('/cookies', (_req, res) => {
    res.cookie('a', '1');
    res.cookie('b', '2', { httpOnly: true });
    res.send('two cookies');
  });
  app.get('/no-content', (_req, res) => {
    res.sendStatus(204);
  });
  app.get('/explicit-chunked', (_req, res) => {
    // srvx #248: an explicit framing header must not put chunk framing into the content, nor leak onto h2.
    res.writeHead(200, { 'transfer-encoding': 'chunked', connection: 'keep-alive', 'content-type': 'text/plain' });
    res.write('hello ');
    res.end('world');
  });
  app.get('/big', async (_req, res) => {
    res.setHeader('content-type', 'application/octet-stream');
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 64; i++) {
      if (!res.write(chunk)) {
        seen.falseWrites++;
        await new Promise<void>((resolve) => res.once('drain', resolve));
        seen.drains++;
      }
    }
    res.end();
  });
  app.get('/slow', (_req, res) => {
    res.setHeader('content-type', 'text/event-stream');
    res.write('data: first\n\n');
    releaseSlow = () => res.end('data: last\n\n');
  });
  app.get('/hints', (_req, res) => {
    res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
    res.send('hinted');
  });
  app.get('/trailers', (_req, res) => {
    res.setHeader('trailer', 'x-checksum');
    res.write('body ');
    res.addTrailers({ 'x-checksum': 'abc123' });
    res.end('with trailers');
  });
  app.get('/hang', (req, res) => {
    req.on('aborted', () => seen.hangAborted++);
    res.on('close', () => seen.hangClosed++);
  });
  app.get('/throw', () => {
    throw new Error('route threw');
  });
  app.get('/reject', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new Error('async route rejected');
  });
  app.get('/custom-error', () => {
    throw Object.assign(new Error('custom'), { status: 418 });
  });
  app.use('/custom-error', (error: Error & { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(error.status ?? 500).json({ handled: error.message });
  });
  return app;
}

describe('fromNodeHandler with Express 5', () => {
  let server: TestServer;
  let h2: http2.ClientHttp2Session;
  let directory: string;
  let cleartext: string;

  before(async () => {
    directory = mkdtempSync(join(tmpdir(), 'httpsd-node-'));
    writeFileSync(join(directory, 'page.html'), '<!doctype html><title>page</title>\n');
    writeFileSync(join(directory, 'large.bin'), patternBytes(LARGE_FILE_BYTES));
    server = await startServer(fromNodeHandler(buildApp(directory)), { httpPort: 0 });
    cleartext = `http://127.0.0.1:${server.httpPort}`;
    h2 = connectH2(server.origin);
  });

  after(async () => {
    h2.close();
    await server.close();
    rmSync(directory, { recursive: true, force: true });
  });

  test('routing and request facts over HTTP/1.1 (TLS and cleartext) and HTTP/2', async () => {
    const overTls = await h1Request(server.origin, { path: '/info?x=1', headers: { 'x-test': 'tls' } });
    const tlsInfo = JSON.parse(overTls.body.toString());
    assert.equal(overTls.status, 200);
    assert.equal(tlsInfo.method, 'GET');
    assert.equal(tlsInfo.url, '/info?x=1');
    assert.deepEqual(tlsInfo.query, { x: '1' });
    assert.equal(tlsInfo.httpVersion, '1.1');
    assert.equal(tlsInfo.rawXTest, 'tls');
    assert.equal(tlsInfo.remoteAddress, '127.0.0.1');
    assert.equal(typeof tlsInfo.remotePort, 'number');
    assert.ok(tlsInfo.remotePort > 0);
    assert.equal(tlsInfo.encrypted, true);
    assert.equal(tlsInfo.secure, true);
    assert.equal(tlsInfo.protocol, 'https');
    assert.equal(tlsInfo.hostname, '127.0.0.1');
    assert.equal(tlsInfo.ip, '127.0.0.1');
    assert.equal(tlsInfo.isIncomingMessage, true);
    assert.equal(tlsInfo.isServerResponse, true);

    const plain = JSON.parse((await h1Request(cleartext, { path: '/info', headers: { 'x-test': 'plain' } })).body.toString());
    assert.equal(plain.encrypted, false);
    assert.equal(plain.secure, false);
    assert.equal(plain.protocol, 'http');
    assert.equal(plain.rawXTest, 'plain');

    const overH2 = await h2Request(h2, { ':path': '/info', 'x-test': 'h2' });
    const h2Info = JSON.parse(overH2.body.toString());
    assert.equal(overH2.headers[':status'], 200);
    assert.equal(h2Info.httpVersion, '2.0');
    assert.equal(h2Info.httpVersionMajor, 2);
    assert.equal(h2Info.hostname, '127.0.0.1', 'Host comes from :authority');
    assert.equal(h2Info.encrypted, true);
    assert.equal(h2Info.rawXTest, 'h2');

    const user = await h2Request(h2, { ':path': '/users/42' });
    assert.deepEqual(JSON.parse(user.body.toString()), { id: '42' });
    const missing = await h1Request(server.origin, { path: '/nowhere' });
    assert.equal(missing.status, 404);
  });

  test('express.json() and express.urlencoded() over HTTP/1.1 and HTTP/2 (h2 body without content-length)', async () => {
    const payload = JSON.stringify({ hello: 'world', list: [1, 2, 3] });
    const overH1 = await h1Request(server.origin, {
      method: 'POST',
      path: '/json',
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) },
      body: payload,
    });
    assert.deepEqual(JSON.parse(overH1.body.toString()), { received: { hello: 'world', list: [1, 2, 3] } });

    // No content-length: an HTTP/2 body of unknown length must still reach the body parser.
    const overH2 = await h2Request(h2, { ':method': 'POST', ':path': '/json', 'content-type': 'application/json' }, payload);
    assert.deepEqual(JSON.parse(overH2.body.toString()), { received: { hello: 'world', list: [1, 2, 3] } });

    const form = await h2Request(
      h2,
      { ':method': 'POST', ':path': '/form', 'content-type': 'application/x-www-form-urlencoded' },
      'name=httpsd&kind=server+app',
    );
    assert.deepEqual(JSON.parse(form.body.toString()), { received: { name: 'httpsd', kind: 'server app' } });

    const late = await h1Request(server.origin, {
      method: 'POST',
      path: '/late-json',
      headers: { 'content-type': 'application/json' },
      body: '{"late":true}',
    });
    assert.deepEqual(JSON.parse(late.body.toString()), { received: { late: true } });
  });

  test('a completed request is not seen as aborted (srvx #152/#160)', async () => {
    const before = seen.completedResClosed;
    const response = await h1Request(server.origin, { method: 'POST', path: '/completed', body: 'x'.repeat(1000) });
    assert.equal(response.body.toString(), 'read 1000');
    await waitFor(() => seen.completedResClosed === before + 1, 'res close after finish');
    assert.equal(seen.completedAborted, 0);
  });

  test('res.sendFile, and HEAD of it: the same headers, no body', async () => {
    const get = await h2Request(h2, { ':path': '/file' });
    assert.equal(get.headers[':status'], 200);
    assert.equal(get.body.toString(), '<!doctype html><title>page</title>\n');
    assert.match(String(get.headers['content-type']), /^text\/html/);
    const head = await h1Request(server.origin, { method: 'HEAD', path: '/file' });
    assert.equal(head.status, 200);
    assert.equal(head.body.byteLength, 0);
    assert.equal(head.headers['content-length'], String(get.body.byteLength));
    const headH2 = await h2Request(h2, { ':method': 'HEAD', ':path': '/file' });
    assert.equal(headH2.body.byteLength, 0);
  });

  test('a large res.sendFile (piped, paced by drain) arrives byte for byte over HTTP/2 and HTTP/1.1', async () => {
    const expected = patternBytes(LARGE_FILE_BYTES);
    const overH2 = await h2Request(h2, { ':path': '/large' });
    assert.equal(overH2.headers['content-length'], String(LARGE_FILE_BYTES));
    assert.ok(overH2.body.equals(expected));
    const overH1 = await h1Request(server.origin, { path: '/large' });
    assert.ok(overH1.body.equals(expected));
  });

  test('content that contains a blank line arrives whole (srvx #232)', async () => {
    const response = await h1Request(server.origin, { path: '/crlf' });
    assert.equal(response.body.toString('latin1'), 'head\r\n\r\nafter the blank line\r\n\r\n');
  });

  test('multiple set-cookie fields stay separate', async () => {
    const overH1 = await h1Request(server.origin, { path: '/cookies' });
    assert.deepEqual(overH1.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    const overH2 = await h2Request(h2, { ':path': '/cookies' });
    assert.deepEqual(overH2.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
  });

  test('204 and a conditional 304 are bodiless responses, not 500s (srvx #232)', async () => {
    const noContent = await h1Request(server.origin, { path: '/no-content' });
    assert.equal(noContent.status, 204);
    const first = await h2Request(h2, { ':path': '/' });
    const etag = String(first.headers.etag);
    const notModified = await h2Request(h2, { ':path': '/', 'if-none-match': etag });
    assert.equal(notModified.headers[':status'], 304);
    assert.equal(notModified.body.byteLength, 0);
  });

  test('an explicit transfer-encoding: chunked neither frames the content nor leaks onto HTTP/2 (srvx #248)', async () => {
    const overH1 = await h1Request(server.origin, { path: '/explicit-chunked' });
    assert.equal(overH1.body.toString(), 'hello world');
    const overH2 = await h2Request(h2, { ':path': '/explicit-chunked' });
    assert.equal(overH2.headers[':status'], 200);
    assert.equal(overH2.body.toString(), 'hello world');
    assert.equal(overH2.headers['transfer-encoding'], undefined);
    assert.equal(overH2.headers.connection, undefined);
  });

  test('a large response streams with backpressure: write() returns false and drain follows (srvx #208)', async () => {
    const falseBefore = seen.falseWrites;
    const overH2 = await h2Request(h2, { ':path': '/big' });
    assert.equal(overH2.body.byteLength, 64 * 64 * 1024);
    assert.ok(overH2.body.every((byte) => byte === 0x61));
    assert.ok(seen.falseWrites > falseBefore, 'write() returned false at least once');
    assert.equal(seen.drains, seen.falseWrites, "every false write saw its 'drain'");
    const overH1 = await h1Request(server.origin, { path: '/big' });
    assert.equal(overH1.body.byteLength, 64 * 64 * 1024);
  });

  test('the response streams before res.end(): the first event arrives while the app still holds it (srvx #248)', async () => {
    const stream = h2.request({ ':path': '/slow' });
    const first = await new Promise<string>((resolve, reject) => {
      stream.once('data', (chunk: Buffer) => resolve(chunk.toString()));
      stream.on('error', reject);
    });
    assert.equal(first, 'data: first\n\n');
    const rest: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => rest.push(chunk));
    const ended = new Promise((resolve) => stream.on('end', resolve));
    await waitFor(() => releaseSlow !== undefined, 'the slow route');
    releaseSlow!();
    await ended;
    assert.equal(Buffer.concat(rest).toString(), 'data: last\n\n');
  });

  test('res.writeEarlyHints sends a 103 before the response', async () => {
    const informational = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const stream = h2.request({ ':path': '/hints' });
      stream.on('headers', (headers) => resolve(headers));
      stream.on('error', reject);
      stream.resume();
    });
    assert.equal(informational[':status'], 103);
    assert.equal(informational.link, '</style.css>; rel=preload; as=style');
  });

  test('res.addTrailers becomes response trailers over HTTP/2 and HTTP/1.1', async () => {
    const overH2 = await h2Request(h2, { ':path': '/trailers' });
    assert.equal(overH2.body.toString(), 'body with trailers');
    assert.equal(overH2.trailers?.['x-checksum'], 'abc123');
    const overH1 = await h1Request(server.origin, { path: '/trailers' });
    assert.equal(overH1.body.toString(), 'body with trailers');
    assert.equal(overH1.trailers['x-checksum'], 'abc123');
  });

  test('thrown and rejected route errors go to Express error handling: 500 without a stack', async () => {
    for (const path of ['/throw', '/reject']) {
      const response = await h1Request(server.origin, { path });
      assert.equal(response.status, 500, path);
      assert.doesNotMatch(response.body.toString(), /express\.test|at /, `${path} leaks no stack`);
    }
    const custom = await h2Request(h2, { ':path': '/custom-error' });
    assert.equal(custom.headers[':status'], 418);
    assert.deepEqual(JSON.parse(custom.body.toString()), { handled: 'custom' });
  });

  test('a client that goes away from a request the app never answers: req aborted, res closed, nothing left', async () => {
    const closedBefore = seen.hangClosed;
    const stream = h2.request({ ':path': '/hang' });
    stream.on('error', () => {});
    await waitFor(() => server.server.stats().inFlightRequests > 0, 'the request to arrive');
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => seen.hangClosed === closedBefore + 1, "res 'close'");
    assert.ok(seen.hangAborted >= 1, "req 'aborted'");
    await waitForIdle(server.server);
  });

  test('the server is idle after all of the above and logged no handler errors', async () => {
    await waitForIdle(server.server);
    assert.deepEqual(
      server.errors.map((entry) => String(entry.error)),
      [],
    );
  });
});
