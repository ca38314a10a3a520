/**
 * serve() makes FastResponse the global `Response` (unless `fastResponse: false`), so the application's own
 * `new Response()` is cheap. The tests run in order in one process: the opt-out first, while the global is still
 * undici's. Then what an application can do with the global: fetch() results still pass `instanceof Response` and
 * are served, subclasses keep their own getters, and every body kind goes out over a real socket as undici's would.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FastResponse, NativeResponse, installFastResponse, isFastResponse, isPlainFastResponse, uninstallFastResponse } from '../../src/server/response.js';
import { h1Request, h2Request, connectH2, startServer, type TestServer } from '../support/server.js';

const ORIGINAL = Object.getOwnPropertyDescriptor(globalThis, 'Response');

describe('installing the global Response', () => {
  test('serve({ fastResponse: false }) leaves globalThis untouched', async () => {
    assert.equal(globalThis.Response, NativeResponse);
    const server = await startServer(() => new Response('native'), { fastResponse: false, http3: false });
    try {
      assert.deepEqual(Object.getOwnPropertyDescriptor(globalThis, 'Response'), ORIGINAL);
      const reply = await h1Request(server.origin);
      assert.equal(reply.body.toString(), 'native');
      assert.equal(globalThis.Response, NativeResponse);
    } finally {
      await server.close();
    }
  });

  test('serve() installs it before any request, as a writable, configurable, non-enumerable property; idempotent', async () => {
    const server = await startServer(() => new Response('fast'), { http3: false });
    const second = await startServer(() => new Response('fast'), { http3: false });
    try {
      assert.equal(globalThis.Response, FastResponse);
      assert.deepEqual(Object.getOwnPropertyDescriptor(globalThis, 'Response'), { value: FastResponse, writable: true, configurable: true, enumerable: false });
      assert.ok(isPlainFastResponse(new Response('x')));
      assert.equal((await h1Request(server.origin)).body.toString(), 'fast');
    } finally {
      await second.close();
      await server.close();
    }
    // Closing the servers does not put undici's class back.
    assert.equal(globalThis.Response, FastResponse);
  });

  test('another library’s replacement is kept; uninstall restores Node’s own property', () => {
    class Theirs {}
    uninstallFastResponse();
    assert.deepEqual(Object.getOwnPropertyDescriptor(globalThis, 'Response'), ORIGINAL);
    assert.equal(globalThis.Response, NativeResponse);
    (globalThis as { Response: unknown }).Response = Theirs;
    try {
      assert.equal(installFastResponse(), false);
      assert.equal(globalThis.Response, Theirs);
    } finally {
      Object.defineProperty(globalThis, 'Response', ORIGINAL!);
    }
    assert.equal(installFastResponse(), true);
    assert.equal(globalThis.Response, FastResponse);
  });
});

describe('instanceof and brands once it is the global', () => {
  before(() => assert.equal(installFastResponse(), true));

  test('undici responses (fetch() results, Response.error()) are instances of the global; brands tell them apart', async () => {
    const fetched = await fetch('data:text/plain,hi');
    assert.ok(fetched instanceof Response);
    assert.ok(fetched instanceof FastResponse);
    assert.ok(Response.error() instanceof Response);
    assert.ok(new NativeResponse('x') instanceof Response);
    assert.equal(isFastResponse(fetched), false);
    assert.ok(new Response('x') instanceof NativeResponse);
    assert.equal(({}) instanceof Response, false);
    assert.equal((null as unknown) instanceof Response, false);
  });

  test('a subclass the application writes has ordinary instanceof and is no plain FastResponse', () => {
    class Mine extends Response {}
    const mine = new Mine('m');
    assert.ok(mine instanceof Mine);
    assert.ok(mine instanceof Response);
    assert.equal(new Response('r') instanceof Mine, false);
    assert.equal(new NativeResponse('n') instanceof Mine, false);
    assert.ok(isFastResponse(mine));
    assert.equal(isPlainFastResponse(mine), false);
    assert.ok(isPlainFastResponse(new Response('r')));
  });
});

describe('served over a real socket', () => {
  let server: TestServer;
  let upstream: http.Server;
  let upstreamUrl: string;

  const encoder = new TextEncoder();
  const form = () => {
    const data = new FormData();
    data.append('a', 'one');
    data.append('f', new Blob(['file'], { type: 'text/plain' }), 'f.txt');
    return data;
  };
  const BODIES: Record<string, () => unknown> = {
    string: () => 'héllo',
    empty: () => '',
    none: () => null,
    bytes: () => encoder.encode('bytes body'),
    arrayBuffer: () => encoder.encode('array buffer').buffer,
    dataView: () => new DataView(encoder.encode('xxdata viewxx').buffer, 2, 9),
    blob: () => new Blob(['blob body'], { type: 'application/x-blob' }),
    untypedBlob: () => new Blob(['plain blob']),
    params: () => new URLSearchParams({ q: 'a b', n: '1' }),
    form,
    stream: () => new ReadableStream({ start: (c) => (c.enqueue(encoder.encode('stre')), c.enqueue(encoder.encode('amed')), c.close()) }),
    number: () => 404,
  };

  before(async () => {
    upstream = http.createServer((_request, response) => {
      response.writeHead(203, 'Upstream Says', { 'content-type': 'text/x-upstream', 'x-upstream': 'yes' });
      response.end('from upstream');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;

    server = await startServer(
      async (request) => {
        const url = new URL(request.url);
        const [, kind, name] = url.pathname.split('/');
        // Resolved at call time through the global, as an application does.
        const Make = kind === 'native' ? NativeResponse : Response;
        if (name === 'proxy') return await fetch(upstreamUrl);
        if (name === 'rewrap') {
          const fetched = await fetch(upstreamUrl);
          return new Make(fetched.body, fetched);
        }
        if (name === 'json') return Make.json({ ok: [1, 2] }, { status: 201, headers: { 'x-j': '1' } });
        if (name === 'redirect') return Make.redirect('https://example.test/there', 307);
        if (name === 'subclass') {
          class Overriding extends Response {
            override get status(): number {
              return 299;
            }
            override get headers(): Headers {
              const headers = new Headers(super.headers);
              headers.set('x-from-getter', 'yes');
              return headers;
            }
            override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
              return new NativeResponse('from the body getter').body;
            }
          }
          return new Overriding('not this', { status: 200, headers: { 'x-init': '1' } });
        }
        if (name === 'status-subclass') {
          // Overrides the status only: the body is still ours, so it is sent as given (with its content-length).
          class Accepted extends Response {
            override get status(): number {
              return 202;
            }
          }
          return new Accepted('status from a getter');
        }
        if (name === 'plain-subclass') {
          class Plain extends Response {}
          return new Plain('a plain subclass', { status: 202, headers: { 'x-p': '1' } });
        }
        if (name === 'bad-header') return new Make('x', { headers: { 'x-bad': 'a\u0001b' } });
        return new Make(BODIES[name!]!() as BodyInit, { headers: { 'x-kind': name! } });
      },
      { http3: false },
    );
    assert.equal(globalThis.Response, FastResponse);
  });

  after(async () => {
    await server.close();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  const unbound = (text: string) => text.replace(/-{4,}formdata-undici-\d+/g, '<boundary>');
  const view = (reply: { status: number; headers: Record<string, unknown>; body: Buffer }) => ({
    status: reply.status,
    type: unbound(String(reply.headers['content-type'] ?? '')),
    kind: reply.headers['x-kind'],
    body: unbound(reply.body.toString('latin1')),
  });

  for (const name of Object.keys(BODIES)) {
    test(`${name} body: the same status, content-type and bytes as undici's, over HTTP/1.1 and HTTP/2`, async () => {
      const expected = view(await h1Request(server.origin, { path: `/native/${name}` }));
      assert.deepEqual(view(await h1Request(server.origin, { path: `/global/${name}` })), expected);
      const session = connectH2(server.origin);
      try {
        const h2 = await h2Request(session, { ':path': `/global/${name}` });
        assert.deepEqual(view({ status: Number(h2.headers[':status']), headers: h2.headers, body: h2.body }), expected);
      } finally {
        session.close();
      }
    });
  }

  test('Response.json() and Response.redirect() of the global', async () => {
    for (const name of ['json', 'redirect']) {
      const a = await h1Request(server.origin, { path: `/native/${name}` });
      const b = await h1Request(server.origin, { path: `/global/${name}` });
      assert.equal(b.status, a.status);
      assert.equal(b.headers['content-type'], a.headers['content-type']);
      assert.equal(b.headers.location, a.headers.location);
      assert.equal(b.headers['x-j'], a.headers['x-j']);
      assert.equal(b.body.toString(), a.body.toString());
    }
  });

  test('a fetch() result returned as is, or rewrapped with new Response(body, fetched), is served', async () => {
    for (const name of ['proxy', 'rewrap']) {
      const reply = await h1Request(server.origin, { path: `/global/${name}` });
      assert.equal(reply.status, 203);
      assert.equal(reply.headers['x-upstream'], 'yes');
      assert.equal(reply.headers['content-type'], 'text/x-upstream');
      assert.equal(reply.body.toString(), 'from upstream');
    }
  });

  test('a subclass is read through its own getters; one that overrides nothing is served as given', async () => {
    const overriding = await h1Request(server.origin, { path: '/global/subclass' });
    assert.equal(overriding.status, 299);
    assert.equal(overriding.headers['x-from-getter'], 'yes');
    assert.equal(overriding.headers['x-init'], '1');
    assert.equal(overriding.body.toString(), 'from the body getter');
    const plain = await h1Request(server.origin, { path: '/global/plain-subclass' });
    assert.equal(plain.status, 202);
    assert.equal(plain.headers['x-p'], '1');
    assert.equal(plain.headers['content-type'], 'text/plain;charset=UTF-8');
    assert.equal(plain.headers['content-length'], String(Buffer.byteLength('a plain subclass')));
    assert.equal(plain.body.toString(), 'a plain subclass');
    const statusOnly = await h1Request(server.origin, { path: '/global/status-subclass' });
    assert.equal(statusOnly.status, 202);
    assert.equal(statusOnly.headers['content-length'], String(Buffer.byteLength('status from a getter')));
    assert.equal(statusOnly.body.toString(), 'status from a getter');
  });

  test('an invalid header field: undici refuses it at construction, ours when the server reads it; both a 500', async () => {
    const before = server.errors.length;
    for (const kind of ['native', 'global']) {
      const reply = await h1Request(server.origin, { path: `/${kind}/bad-header` });
      assert.equal(reply.status, 500);
    }
    const errors = server.errors.slice(before).map((entry) => (entry.error as Error).name);
    assert.equal(errors.length, 2);
  });
});
