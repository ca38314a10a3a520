/**
 * Response validation end to end, over HTTP/1.1 (node:https) and HTTP/2 (node:http2) against a real server: fields
 * the application sets are checked where the Response is read (a bad one is a 500 naming the field, never a crash
 * or a hang), whatever goes wrong after the head went out ends the exchange cleanly, a streamed body is held to
 * its declared content-length, and 1xx hints with bad fields are dropped without failing the final response.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type * as http2 from 'node:http2';
import { FastResponse } from '../../src/server/response.js';
import type { FetchHandler } from '../../src/server/types.js';
import { connectH2, startServer, waitForIdle, type TestServer } from '../support/server.js';
import { h1Outcome, h2Outcome, type Outcome } from './response-outcomes.js';

/** RST_STREAM INTERNAL_ERROR (RFC 9113 §7). */
const INTERNAL_ERROR = 2;

const BAD_VALUES: Record<string, string> = {
  'above-latin1': 'caf\u0100',
  'control': 'a\x01b',
  'delete': 'a\x7fb',
  'newline': 'a\nb',
};

/** A stream of `total` bytes in chunks of `chunk`. */
function bytesStream(total: number, chunk: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(chunk, total - sent);
      sent += size;
      controller.enqueue(new Uint8Array(size).fill(0x61));
    },
  });
}

const routes: Record<string, FetchHandler> = {
  '/ok': () => new FastResponse('ok'),
  '/global-header/control': () => new Response('x', { headers: { 'x-bad': 'a\x01b' } }),
  '/global-header/delete': () => new Response('x', { headers: { 'x-bad': 'a\x7fb' } }),
  '/fast-name/pseudo': () => new FastResponse('x', { headers: { ':status': '200' } }),
  '/fast-name/space': () => new FastResponse('x', { headers: [['bad name', '1']] }),
  '/fast-name/above-latin1': () => new FastResponse('x', { headers: { 'x-caf\u0100': '1' } }),
  '/set-trailers/control': (_request, info) => {
    info.setTrailers?.({ 'x-t': 'a\x01b' });
    return new FastResponse(bytesStream(4, 2));
  },
  '/trailer-pseudo': () => new FastResponse(bytesStream(4, 2), { trailers: [[':status', '200']] }),
  '/length/invalid/letters': () => new FastResponse(bytesStream(4, 2), { headers: { 'content-length': 'abc' } }),
  '/length/invalid/negative': () => new FastResponse(bytesStream(4, 2), { headers: { 'content-length': '-4' } }),
  '/length/invalid/fraction': () => new FastResponse('abcd', { headers: { 'content-length': '4.0' } }),
  '/length/invalid/list': () => new Response(bytesStream(4, 2), { headers: [['content-length', '4'], ['content-length', '4']] }),
  '/length/over': () => new Response(bytesStream(100, 100), { headers: { 'content-length': '10' } }),
  '/length/over-late': () => new FastResponse(bytesStream(100, 4), { headers: { 'content-length': '10' } }),
  '/length/under': () => new Response(bytesStream(10, 10), { headers: { 'content-length': '100' } }),
  '/length/exact': () => new FastResponse(bytesStream(10, 3), { headers: { 'content-length': '10' } }),
  '/locked': () => {
    const stream = bytesStream(4, 4);
    stream.getReader();
    return new FastResponse(stream);
  },
  '/hint/good': (_request, info) => {
    info.sendInformational(103, { link: '</a.js>; rel=preload; as=script, </b.css>; rel=preload; as="style"' });
    return new FastResponse('final');
  },
  '/hint/not-a-link': (_request, info) => {
    info.sendInformational(103, { link: 'not a link' });
    return new FastResponse('final');
  },
  '/hint/control': (_request, info) => {
    info.sendInformational(103, { link: '</a.js>; rel=preload\x01' });
    return new FastResponse('final');
  },
  '/hint/pseudo-name': (_request, info) => {
    info.sendInformational(103, [[':status', '200']]);
    return new FastResponse('final');
  },
  '/hint/above-latin1': (_request, info) => {
    info.sendInformational(103, { 'x-hint': 'caf\u0100' });
    return new FastResponse('final');
  },
  '/h2-connection-fields': () =>
    new FastResponse('fine', { headers: { connection: 'keep-alive', 'keep-alive': 'timeout=5', upgrade: 'h2c', te: 'gzip', 'x-kept': '1' } }),
};
for (const [kind, value] of Object.entries(BAD_VALUES)) {
  routes[`/fast-header/${kind}`] = () => new FastResponse('x', { headers: { 'x-bad': value } });
  routes[`/fast-header-async/${kind}`] = async () => new FastResponse('x', { headers: { 'x-bad': value } });
  routes[`/fast-trailer/${kind}`] = () => new FastResponse(bytesStream(4, 2), { trailers: { 'x-trail': value } });
  routes[`/fast-trailer-async/${kind}`] = async () => new FastResponse(bytesStream(4, 2), { trailers: { 'x-trail': value } });
  routes[`/trailer-function/${kind}`] = async () => new FastResponse(bytesStream(4, 2), { trailers: () => ({ 'x-trail': value }) });
}

const protocols = ['http/1.1', 'h2'] as const;

for (const protocol of protocols) {
  describe(`response validation over ${protocol}`, () => {
    let server: TestServer;
    let session: http2.ClientHttp2Session | undefined;
    const get = (path: string, method?: string): Promise<Outcome> =>
      protocol === 'h2' ? h2Outcome(session!, path, { method }) : h1Outcome(server.origin, path, { method });
    const errorsFor = (path: string) => server.errors.filter((entry) => entry.context.includes(path));

    before(async () => {
      server = await startServer((request, info) => {
        const route = routes[new URL(request.url).pathname];
        return route !== undefined ? route(request, info) : new FastResponse('not found', { status: 404 });
      });
      if (protocol === 'h2') session = connectH2(server.origin);
    });
    after(async () => {
      session?.close();
      await server.close();
    });

    for (const kind of Object.keys(BAD_VALUES)) {
      for (const route of ['fast-header', 'fast-header-async', 'fast-trailer', 'fast-trailer-async']) {
        test(`${route} with a ${kind} value: 500 naming the field, logged, nothing pending`, async () => {
          const path = `/${route}/${kind}`;
          const outcome = await get(path);
          assert.equal(outcome.error, undefined);
          assert.equal(outcome.status, 500);
          assert.equal(outcome.body.toString(), 'Internal Server Error\n');
          const logged = errorsFor(path);
          assert.equal(logged.length, 1);
          assert.match(String(logged[0]!.error), route.includes('trailer') ? /response trailer "x-trail"/ : /response header "x-bad"/);
          await waitForIdle(server.server);
        });
      }
    }

    for (const path of ['/global-header/control', '/global-header/delete', '/set-trailers/control', '/trailer-pseudo', '/locked']) {
      test(`${path}: 500, logged`, async () => {
        const outcome = await get(path);
        assert.equal(outcome.status, 500);
        assert.equal(errorsFor(path).length, 1);
        await waitForIdle(server.server);
      });
    }

    for (const path of ['/fast-name/pseudo', '/fast-name/space', '/fast-name/above-latin1']) {
      test(`${path}: an invalid header name is a 500`, async () => {
        const outcome = await get(path);
        assert.equal(outcome.status, 500);
        assert.match(String(errorsFor(path)[0]?.error), /invalid response header name/);
        await waitForIdle(server.server);
      });
    }

    for (const path of ['/length/invalid/letters', '/length/invalid/negative', '/length/invalid/fraction', '/length/invalid/list']) {
      test(`${path}: a content-length that is not 1*DIGIT is a 500`, async () => {
        const outcome = await get(path);
        assert.equal(outcome.status, 500);
        assert.match(String(errorsFor(path)[0]?.error), /content-length/);
        await waitForIdle(server.server);
      });
    }

    for (const kind of Object.keys(BAD_VALUES)) {
      test(`trailers from a function with a ${kind} value: the exchange ends (${protocol === 'h2' ? 'RST_STREAM INTERNAL_ERROR' : 'connection cut'})`, async () => {
        const path = `/trailer-function/${kind}`;
        const outcome = await get(path);
        assert.notEqual(outcome.error, undefined);
        if (protocol === 'h2') assert.equal(outcome.rstCode, INTERNAL_ERROR);
        assert.equal(outcome.trailers['x-trail'], undefined);
        assert.match(String(errorsFor(path)[0]?.error), /response trailer "x-trail"/);
        await waitForIdle(server.server);
        assert.equal((await get('/ok')).status, 200, 'the server still serves');
      });
    }

    test('a streamed body longer than its content-length never goes past it; the exchange ends, logged once', async () => {
      for (const path of ['/length/over', '/length/over-late']) {
        const outcome = await get(path);
        assert.notEqual(outcome.error, undefined, `${path} must not complete`);
        assert.ok(outcome.body.byteLength <= 10, `${path}: ${outcome.body.byteLength} body bytes sent`);
        if (protocol === 'h2') assert.equal(outcome.rstCode, INTERNAL_ERROR);
        const logged = errorsFor(path);
        assert.equal(logged.length, 1);
        assert.match(logged[0]!.context, new RegExp(`GET ${path}`));
        assert.match(String(logged[0]!.error), /exceeds its declared content-length 10/);
      }
      await waitForIdle(server.server);
    });

    test('a streamed body shorter than its content-length ends the exchange instead of leaving the client waiting', async () => {
      const outcome = await get('/length/under');
      assert.notEqual(outcome.error, undefined);
      if (protocol === 'h2') assert.equal(outcome.rstCode, INTERNAL_ERROR);
      assert.match(String(errorsFor('/length/under')[0]?.error), /shorter than its declared content-length 100/);
      await waitForIdle(server.server);
    });

    test('a streamed body that matches its content-length is sent as declared', async () => {
      const outcome = await get('/length/exact');
      assert.equal(outcome.error, undefined);
      assert.equal(outcome.status, 200);
      assert.equal(outcome.headers['content-length'], '10');
      assert.equal(outcome.body.toString(), 'a'.repeat(10));
      const head = await get('/length/exact', 'HEAD');
      assert.equal(head.headers['content-length'], '10');
      assert.equal(head.body.byteLength, 0);
    });

    test('a 103 with a valid link list is sent before the final response', async () => {
      const outcome = await get('/hint/good');
      assert.equal(outcome.status, 200);
      assert.equal(outcome.body.toString(), 'final');
      assert.equal(outcome.informational.length, 1);
      assert.equal(outcome.informational[0]!.status, 103);
      assert.match(String(outcome.informational[0]!.headers.link), /<\/a\.js>; rel=preload; as=script/);
    });

    for (const path of ['/hint/not-a-link', '/hint/control', '/hint/pseudo-name', '/hint/above-latin1']) {
      test(`${path}: the bad 103 is logged and not sent; the final response is unaffected`, async () => {
        const outcome = await get(path);
        assert.equal(outcome.error, undefined);
        assert.equal(outcome.status, 200);
        assert.equal(outcome.body.toString(), 'final');
        assert.deepEqual(outcome.informational, []);
        const logged = errorsFor(path);
        assert.equal(logged.length, 1);
        assert.match(logged[0]!.context, /informational 103 response not sent/);
        await waitForIdle(server.server);
      });
    }

    test('connection-specific fields from the application are dropped on HTTP/2 (RFC 9113 §8.2.2)', async () => {
      const outcome = await get('/h2-connection-fields');
      assert.equal(outcome.status, 200);
      assert.equal(outcome.headers['x-kept'], '1');
      if (protocol === 'h2') {
        assert.equal(outcome.headers.connection, undefined);
        assert.equal(outcome.headers['keep-alive'], undefined);
        assert.equal(outcome.headers.upgrade, undefined);
        assert.equal(outcome.headers.te, undefined);
      }
    });

    test('after all of it the counters are back to zero and the server still answers', async () => {
      const stats = await waitForIdle(server.server);
      assert.equal(stats.inFlightRequests, 0);
      assert.equal((await get('/ok')).body.toString(), 'ok');
    });
  });
}
