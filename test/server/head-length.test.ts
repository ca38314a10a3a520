import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { FastResponse } from '../../src/server/response.js';
import { connectH2, h1Request, h2Request, startServer, type TestServer } from '../support/server.js';

// RFC 9110 §9.3.2 / §8.6: a HEAD response may declare the content-length a GET would have carried, without content.
describe('HEAD with a null body keeps the declared content-length', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer((request) => {
      const path = new URL(request.url).pathname;
      const headers = { 'content-type': 'application/octet-stream', 'content-length': '12345' };
      if (path === '/fast') return new FastResponse(null, { headers });
      if (path === '/global') return new Response(null, { headers });
      return new Response('hello');
    });
  });
  after(() => server.close());

  for (const kind of ['fast', 'global']) {
    test(`${kind} Response over HTTP/1.1: HEAD declares 12345, GET sends the real length 0`, async () => {
      const head = await h1Request(server.origin, { method: 'HEAD', path: `/${kind}` });
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '12345');
      assert.equal(head.body.length, 0);
      // GET must not claim bytes it does not send (that would hang or desynchronise the client).
      const get = await h1Request(server.origin, { path: `/${kind}` });
      assert.equal(get.headers['content-length'], '0');
      assert.equal(get.body.length, 0);
    });

    test(`${kind} Response over HTTP/2: HEAD declares 12345, GET sends the real length 0`, async () => {
      const session = connectH2(server.origin);
      try {
        const head = await h2Request(session, { ':path': `/${kind}`, ':method': 'HEAD' });
        assert.equal(head.headers[':status'], 200);
        assert.equal(head.headers['content-length'], '12345');
        assert.equal(head.body.length, 0);
        const get = await h2Request(session, { ':path': `/${kind}` });
        assert.equal(get.headers['content-length'], '0');
        assert.equal(get.body.length, 0);
      } finally {
        session.close();
      }
    });
  }

  test('HEAD with a real body still reports the body length, not a contradicting declaration', async () => {
    const head = await h1Request(server.origin, { method: 'HEAD', path: '/' });
    assert.equal(head.headers['content-length'], '5');
  });
});
