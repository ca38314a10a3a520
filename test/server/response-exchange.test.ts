/**
 * How exchanges end, against a real server: a streamed body longer than the content-length the application
 * declared must not desynchronise a keep-alive HTTP/1.1 connection (the surplus would read as the next response),
 * an HTTP/1.0 client gets no 1xx, and a client that aborts mid-upload is not a handler error (HTTP/1.1 and HTTP/2).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { FastResponse } from '../../src/server/response.js';
import { connectH2, rawTls, readUntil, startServer, waitForIdle, type TestServer } from '../support/server.js';
import { h1Outcome } from './response-outcomes.js';

const SURPLUS_MARKER = 'HTTP/1.1 299 Smuggled';

describe('declared content-length vs. the streamed body', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer((request) => {
      const path = new URL(request.url).pathname;
      if (path === '/over') {
        // 10 declared, then a forged response in the surplus: on a keep-alive connection a client would read it as
        // the answer to its next request.
        const forged = `${SURPLUS_MARKER}\r\ncontent-length: 0\r\n\r\n`;
        const bytes = new TextEncoder().encode('0123456789' + forged + 'x'.repeat(100 - 10 - forged.length));
        return new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(bytes.subarray(0, 6));
              controller.enqueue(bytes.subarray(6));
              controller.close();
            },
          }),
          { headers: { 'content-length': '10' } },
        );
      }
      return new FastResponse('next');
    });
  });
  after(() => server.close());

  test('HTTP/1.1 keep-alive: never more than the declared bytes; the connection closes instead of carrying the surplus', async () => {
    const socket = await rawTls(server.port);
    socket.write('GET /over HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n');
    // Ends when the server closes the connection; a server that keeps it open times this out.
    const text = await readUntil(socket, () => false, 10_000);
    socket.destroy();
    const headEnd = text.indexOf('\r\n\r\n');
    assert.ok(headEnd > 0, `no response head: ${JSON.stringify(text.slice(0, 200))}`);
    assert.match(text.slice(0, headEnd), /^HTTP\/1\.1 200 /);
    assert.match(text.slice(0, headEnd), /content-length: 10/i);
    const body = text.slice(headEnd + 4);
    assert.ok(body.length <= 10, `sent ${body.length} body bytes past a declared length of 10`);
    assert.ok(!text.includes(SURPLUS_MARKER), 'the surplus reached the client');
    assert.equal(server.errors.filter((entry) => entry.context.includes('GET /over')).length, 1);
    await waitForIdle(server.server);
  });
});

describe('informational responses and HTTP/1.0', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer((_request, info) => {
      info.sendInformational(103, { link: '</a.css>; rel=preload; as=style' });
      return new FastResponse('final');
    });
  });
  after(() => server.close());

  test('an HTTP/1.0 client gets the final response without the 103 (RFC 9110 §15.2); HTTP/1.1 gets both', async () => {
    const old = await rawTls(server.port);
    old.write('GET / HTTP/1.0\r\nHost: a\r\n\r\n');
    const oldText = await readUntil(old, (text) => text.endsWith('final'), 10_000);
    old.destroy();
    assert.match(oldText, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(oldText, / 103 /);
    const current = await rawTls(server.port);
    current.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    const currentText = await readUntil(current, (text) => text.endsWith('final'), 10_000);
    current.destroy();
    assert.match(currentText, /^HTTP\/1\.1 103 Early Hints\r\nlink: <\/a\.css>; rel=preload; as=style\r\n\r\nHTTP\/1\.1 200 /);
    await waitForIdle(server.server);
  });
});

describe('a client that aborts mid-upload is not a handler error', () => {
  let server: TestServer;
  let started: (() => void) | undefined;
  let settled: (() => void) | undefined;

  /** Resolves when the handler starts; `handlerSettled` when its body read has failed and it has thrown. */
  const nextHandler = () => {
    const handlerStarted = new Promise<void>((resolve) => (started = resolve));
    const handlerSettled = new Promise<void>((resolve) => (settled = resolve));
    return { handlerStarted, handlerSettled };
  };

  /** Sends 10 bytes of a 1000-byte upload, aborts once the handler is reading, waits for everything to settle. */
  const uploadThenAbort = async (upload: { on(event: 'error', listener: () => void): unknown; write(chunk: Buffer): unknown }, abort: () => void) => {
    const { handlerStarted, handlerSettled } = nextHandler();
    upload.on('error', () => {});
    upload.write(Buffer.alloc(10));
    await handlerStarted;
    abort();
    await handlerSettled;
    await waitForIdle(server.server);
  };

  before(async () => {
    server = await startServer(async (request) => {
      if (request.method === 'DELETE') throw new Error('a real handler failure');
      const done = settled;
      started?.();
      try {
        await request.text();
      } finally {
        // The rejection reaches the server's failure path in a later microtask than this one.
        setImmediate(() => done?.());
      }
      return new FastResponse('read it all');
    });
  });
  after(() => server.close());

  test('HTTP/1.1: the client destroys the request after 10 of 1000 bytes', async () => {
    const before = server.server.stats().totalErrors;
    const url = new URL(server.origin);
    const request = https.request({
      host: url.hostname,
      port: url.port,
      path: '/upload',
      method: 'POST',
      headers: { 'content-length': '1000' },
      rejectUnauthorized: false,
      agent: false,
    });
    await uploadThenAbort(request, () => request.destroy());
    assert.equal(server.server.stats().totalErrors, before);
    assert.deepEqual(server.errors, []);
  });

  test('HTTP/2: the client resets the stream (CANCEL) after 10 bytes, then closes the connection mid-upload', async () => {
    const before = server.server.stats().totalErrors;
    const session = connectH2(server.origin);
    try {
      const upload = () => session.request({ ':method': 'POST', ':path': '/upload', 'content-length': '1000' }, { endStream: false });
      const stream = upload();
      await uploadThenAbort(stream, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      await uploadThenAbort(upload(), () => session.destroy());
    } finally {
      session.destroy();
    }
    assert.equal(server.server.stats().totalErrors, before);
    assert.deepEqual(server.errors, []);
  });

  test('a handler that really fails is still counted and logged', async () => {
    const before = server.server.stats().totalErrors;
    const outcome = await h1Outcome(server.origin, '/upload', { method: 'DELETE' });
    assert.equal(outcome.status, 500);
    assert.equal(server.server.stats().totalErrors, before + 1);
    assert.equal(server.errors.length, 1);
    assert.match(server.errors[0]!.context, /^DELETE \/upload/);
  });
});
