import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FastResponse } from '../../src/server/response.js';
import { readResponse } from '../../src/server/response-parts.js';
import { LazyRequest } from '../../src/server/request.js';
import { connectH2, h2Request, startServer } from '../support/server.js';

const read = (response: unknown, isHead = false) => readResponse(response, { family: 'h2-like', isHead, serverHeader: 'httpsd' });
const headerMap = (list: string[]) => {
  const map: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) map[list[i]!] = list[i + 1]!;
  return map;
};

describe('FastResponse', () => {
  test('is a Response: instanceof, properties and body methods behave like the global one', async () => {
    const response = new FastResponse('hello', { status: 201, statusText: 'Created', headers: { 'X-A': '1' } });
    assert.ok(response instanceof Response);
    assert.equal(response.status, 201);
    assert.equal(response.statusText, 'Created');
    assert.equal(response.ok, true);
    assert.equal(response.headers.get('x-a'), '1');
    assert.equal(response.headers.get('content-type'), 'text/plain;charset=UTF-8');
    assert.equal(response.bodyUsed, false);
    assert.equal(await response.text(), 'hello');
    assert.equal(response.bodyUsed, true);
    await assert.rejects(response.text(), TypeError);
    assert.deepEqual(await FastResponse.json({ a: 1 }).json(), { a: 1 });
    assert.equal(FastResponse.json({}).headers.get('content-type'), 'application/json');
    const redirect = FastResponse.redirect('https://example.test/x', 307);
    assert.equal(redirect.status, 307);
    assert.equal(redirect.headers.get('location'), 'https://example.test/x');
    assert.deepEqual(new Uint8Array(await new FastResponse(new Uint8Array([1, 2])).arrayBuffer()), new Uint8Array([1, 2]));
    const streamed = new FastResponse('via stream');
    assert.equal(await new Response(streamed.body).text(), 'via stream');
    assert.equal(await new FastResponse('cloned').clone().text(), 'cloned');
  });

  test('rejects what the Fetch standard rejects', () => {
    assert.throws(() => new FastResponse('x', { status: 99 }), RangeError);
    assert.throws(() => new FastResponse('x', { status: 600 }), RangeError);
    assert.throws(() => new FastResponse('x', { status: 204 }), TypeError);
  });

  test('the server reads it directly: headers lowercased, content-length from the body, date and server added', () => {
    const parts = read(new FastResponse('héllo', { headers: [['X-Custom', 'v']] }));
    const headers = headerMap(parts.headers);
    assert.equal(parts.status, 200);
    assert.equal(headers['x-custom'], 'v');
    assert.equal(headers['content-length'], '6');
    assert.equal(headers['content-type'], 'text/plain;charset=UTF-8');
    assert.equal(headers.server, 'httpsd');
    assert.match(headers.date!, /GMT$/);
    assert.equal(Buffer.from(parts.body as Uint8Array).toString(), 'héllo');
  });

  test('headers changed through response.headers after construction are the ones sent', () => {
    const response = new FastResponse('x', { headers: { 'x-a': '1' } });
    response.headers.set('x-b', '2');
    const headers = headerMap(read(response).headers);
    assert.equal(headers['x-a'], '1');
    assert.equal(headers['x-b'], '2');
  });

  test('HTTP/2 drops connection-specific fields; response splitting is refused', () => {
    const headers = headerMap(read(new FastResponse('x', { headers: { connection: 'close', 'transfer-encoding': 'chunked', 'x-ok': '1' } })).headers);
    assert.equal(headers.connection, undefined);
    assert.equal(headers['transfer-encoding'], undefined);
    assert.equal(headers['x-ok'], '1');
    assert.throws(() => read(new FastResponse('x', { headers: { 'x-evil': 'a\r\nset-cookie: b' } })), TypeError);
    assert.throws(() => read(new FastResponse('x', { headers: { 'bad name': 'a' } })), TypeError);
  });

  test('HEAD keeps the length and drops the body; 304 drops both', () => {
    const head = read(new FastResponse('hello'), true);
    assert.equal(head.body, null);
    assert.equal(headerMap(head.headers)['content-length'], '5');
    const notModified = read(new Response(null, { status: 304, headers: { etag: '"1"' } }));
    assert.equal(notModified.body, null);
    assert.equal(headerMap(notModified.headers)['content-length'], undefined);
  });

  test('a global Response with a string body is read without its stream; non-Responses are refused', () => {
    const parts = read(new Response('abc'));
    assert.ok(parts.body instanceof Uint8Array);
    assert.equal(parts.contentLength, 3);
    assert.throws(() => read({ status: 200 }), /instead of a Response/);
    assert.throws(() => read(undefined), /instead of a Response/);
  });
});

describe('LazyRequest', () => {
  test('behaves as a Request; rare members go through a real one', async () => {
    const chunks = [new TextEncoder().encode('a=1&b=2')];
    const source = { read: () => chunks.shift() ?? null, cancel() {} };
    const request = new LazyRequest('POST', 'https', 'example.test', '/form?x=1', ['Content-Type', 'application/x-www-form-urlencoded'], 'h1', source);
    assert.ok(request instanceof Request);
    assert.equal(request.method, 'POST');
    assert.equal(request.url, 'https://example.test/form?x=1');
    assert.equal(request.headers.get('content-type'), 'application/x-www-form-urlencoded');
    assert.equal(request.cache, 'default');
    const form = await request.formData();
    assert.equal(form.get('b'), '2');
    const empty = new LazyRequest('GET', 'https', 'example.test', '/', [], 'h1', null);
    assert.equal(empty.body, null);
    assert.equal(await empty.text(), '');
    assert.equal(empty.signal.aborted, false);
    empty._abort(new Error('gone'));
    assert.equal(empty.signal.aborted, true);
  });

  test('end to end: request.clone() and request.formData() through the server', async () => {
    const server = await startServer(async (request) => {
      const copy = request.clone();
      const form = await request.formData();
      return new Response(`${form.get('name')}|${await copy.text()}`);
    });
    const session = connectH2(server.origin);
    try {
      const result = await h2Request(
        session,
        { ':path': '/', ':method': 'POST', 'content-type': 'application/x-www-form-urlencoded' },
        'name=httpsd',
      );
      assert.equal(result.body.toString(), 'httpsd|name=httpsd');
    } finally {
      session.close();
      await server.close();
    }
  });
});

describe('global Response headers', () => {
  test('every field reaches the wire, set-cookie values stay separate', () => {
    const response = new Response('x', { headers: [['X-One', '1'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['Vary', 'accept']] });
    const parts = read(response);
    const list = parts.headers;
    const cookies: string[] = [];
    for (let i = 0; i < list.length; i += 2) if (list[i] === 'set-cookie') cookies.push(list[i + 1]!);
    assert.deepEqual(cookies, ['a=1', 'b=2']);
    const headers = headerMap(list);
    assert.equal(headers['x-one'], '1');
    assert.equal(headers.vary, 'accept');
    assert.equal(headers['content-type'], 'text/plain;charset=UTF-8');
  });
});

describe('framing fields from the application', () => {
  test('transfer-encoding is dropped on HTTP/1.1 too: the server frames the message', () => {
    const parts = readResponse(new FastResponse('abc', { headers: { 'transfer-encoding': 'chunked' } }), {
      family: 'h1',
      isHead: false,
      serverHeader: false,
    });
    const headers = headerMap(parts.headers);
    assert.equal(headers['transfer-encoding'], undefined);
    assert.equal(headers['content-length'], '3');
    assert.equal(headers.server, undefined);
  });
});
