/**
 * FastResponse against undici's Response, case by case: once FastResponse is the global `Response`, everything an
 * application observes through it must be what undici's would show (fields, default headers, every body reader,
 * clone, bodyUsed, the errors its constructor and statics throw). Known, documented differences are asserted as such
 * at the end (docs/server.md, "The global Response").
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { FastResponse, NativeResponse, type FastResponseInit } from '../../src/server/response.js';

type Make = (body?: unknown, init?: FastResponseInit) => Response;
const native: Make = (body, init) => new NativeResponse(body as BodyInit, init);
const ours: Make = (body, init) => new FastResponse(body as BodyInit, init);

/** undici draws a random multipart boundary per encoding: compared as a placeholder. */
const unbound = (text: string) => text.replace(/-{4,}formdata-undici-\d+/g, '<boundary>');

const pattern = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256);
function form(): FormData {
  const data = new FormData();
  data.append('field', 'välue');
  data.append('file', new Blob(['file text'], { type: 'text/x-note' }), 'note.txt');
  return data;
}

/** Each body kind the Fetch standard's BodyInit takes, and what WebIDL converts to a string; built fresh per use. */
const BODIES: [string, () => unknown][] = [
  ['no body', () => undefined],
  ['null', () => null],
  ['string', () => 'héllo wörld'],
  ['empty string', () => ''],
  ['Uint8Array', () => pattern(300)],
  ['Buffer', () => Buffer.from('buffer body')],
  ['ArrayBuffer', () => pattern(64).buffer],
  ['DataView', () => new DataView(pattern(32).buffer, 4, 20)],
  ['Uint16Array', () => new Uint16Array([1, 2, 65535])],
  ['typed Blob', () => new Blob(['<p>blob</p>'], { type: 'text/html' })],
  ['untyped Blob', () => new Blob([pattern(10)])],
  ['URLSearchParams', () => new URLSearchParams({ a: '1', b: 'x y&z' })],
  ['FormData', form],
  ['ReadableStream', () => new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('str')), c.enqueue(new TextEncoder().encode('eam')), c.close()) })],
  ['async iterable', () => ({ async *[Symbol.asyncIterator]() { yield new TextEncoder().encode('iter'); yield new TextEncoder().encode('able'); } })],
  ['number', () => 42],
  ['plain object', () => ({ a: 1 })],
  ['JSON text', () => '{"k":[1,2]}'],
];

const INITS: [string, FastResponseInit | undefined][] = [
  ['no init', undefined],
  ['status, statusText, record headers', { status: 201, statusText: 'Made It', headers: { 'X-One': '1', 'content-type': 'application/x-custom' } }],
  ['array headers with set-cookie twice', { status: 404, headers: [['Set-Cookie', 'a=1'], ['set-cookie', 'b=2'], ['X-Two', ' spaced ']] }],
  ['Headers object', { status: 599, headers: new Headers({ vary: 'accept' }) }],
];

/** Everything visible without reading the body. Reading `body` is left for later: on ours it builds the real one. */
function fields(response: Response) {
  return {
    status: response.status,
    statusText: response.statusText,
    ok: response.ok,
    type: response.type,
    url: response.url,
    redirected: response.redirected,
    headers: unbound(JSON.stringify([...response.headers])),
    bodyUsed: response.bodyUsed,
    tag: Object.prototype.toString.call(response),
  };
}

const outcome = async (work: () => Promise<unknown>) => {
  try {
    return { value: await work() };
  } catch (error) {
    return { error: (error as Error).constructor.name };
  }
};

const blobView = async (blob: Blob) => ({ type: unbound(blob.type), text: unbound(await blob.text()) });
const formView = async (data: FormData) => {
  const entries: unknown[] = [];
  for (const [name, value] of data) entries.push([name, typeof value === 'string' ? value : { file: value.name, type: value.type, text: await value.text() }]);
  return entries;
};

type Reader = (response: Response) => Promise<unknown>;
const READERS: [string, Reader][] = [
  ['text', async (r) => unbound(await r.text())],
  ['bytes', async (r) => unbound(Buffer.from(await r.bytes()).toString('latin1'))],
  ['arrayBuffer', async (r) => unbound(Buffer.from(await r.arrayBuffer()).toString('latin1'))],
  ['blob', async (r) => blobView(await r.blob())],
  ['json', async (r) => r.json()],
  ['formData', async (r) => formView(await r.formData())],
  ['body stream', async (r) => (r.body === null ? null : unbound(await new NativeResponse(r.body).text()))],
];

/** One full observation: fields, one read, what is left after it (used, second read, body, a clone refused). */
async function observe(make: Make, body: () => unknown, init: FastResponseInit | undefined, reader: Reader) {
  const response = make(body(), init);
  const before = fields(response);
  const read = await outcome(() => reader(response));
  return {
    before,
    read,
    usedAfter: response.bodyUsed,
    secondText: await outcome(() => response.text()),
    bodyIsNull: response.body === null,
    clone: await outcome(async () => response.clone().status),
  };
}

describe('FastResponse shows what undici’s Response shows', () => {
  for (const [bodyName, body] of BODIES) {
    for (const [initName, init] of INITS) {
      test(`${bodyName}, ${initName}`, async () => {
        for (const [readerName, reader] of READERS) {
          const expected = await observe(native, body, init, reader);
          const actual = await observe(ours, body, init, reader);
          assert.deepEqual(actual, expected, `${readerName}()`);
        }
        // A clone reads the same as its original, both sides.
        for (const make of [native, ours]) {
          const original = make(body(), init);
          const copy = original.clone();
          assert.deepEqual(fields(copy), fields(original));
          assert.equal(unbound(await copy.text()), unbound(await original.text()));
        }
      });
    }
  }

  test('bodyUsed and body after a read through the fast path (text() on a string body)', async () => {
    for (const make of [native, ours]) {
      const response = make('once');
      assert.equal(await response.text(), 'once');
      assert.equal(response.bodyUsed, true);
      // The stream is there, and already disturbed: nothing more comes out of it.
      assert.notEqual(response.body, null);
      assert.equal(response.bodyUsed, true);
      await assert.rejects(response.text(), TypeError);
      assert.throws(() => response.clone(), TypeError);
    }
  });
});

const errorOf = (work: () => unknown): string => {
  try {
    work();
    return 'no error';
  } catch (error) {
    return (error as Error).constructor.name;
  }
};

describe('construction errors are undici’s', () => {
  const locked = () => {
    const stream = new ReadableStream();
    stream.getReader();
    return stream;
  };
  const CASES: [string, () => unknown, unknown][] = [
    ['status 200.5 (truncated)', () => null, { status: 200.5 }],
    ["status '201' (converted)", () => null, { status: '201' }],
    ['status 65736 (modulo 2^16)', () => null, { status: 65736 }],
    ['status NaN', () => null, { status: NaN }],
    ['status -1', () => null, { status: -1 }],
    ['status 0', () => null, { status: 0 }],
    ['status 199', () => null, { status: 199 }],
    ['status 600', () => null, { status: 600 }],
    ['status null', () => null, { status: null }],
    ['status true', () => null, { status: true }],
    ['status 1e10', () => null, { status: 1e10 }],
    ['statusText with LF', () => null, { statusText: 'a\nb' }],
    ['statusText with NUL', () => null, { statusText: 'a\0b' }],
    ['statusText beyond U+00FF', () => null, { statusText: 'Ā' }],
    ['statusText with obs-text and HTAB', () => null, { statusText: 'é\tx' }],
    ['statusText a number', () => null, { statusText: 5 }],
    ['204 with a body', () => 'x', { status: 204 }],
    ['204 with an empty string', () => '', { status: 204 }],
    ['205 with null', () => null, { status: 205 }],
    ['304 with a body', () => new Uint8Array(1), { status: 304 }],
    ['init a number', () => 'x', 5],
    ['init a string', () => 'x', 'str'],
    ['init null', () => 'x', null],
    ['a locked stream', locked, undefined],
  ];
  for (const [name, body, init] of CASES) {
    test(name, () => {
      const expected = errorOf(() => new NativeResponse(body() as BodyInit, init as ResponseInit));
      assert.equal(errorOf(() => new FastResponse(body() as BodyInit, init as FastResponseInit)), expected);
      if (expected === 'no error') {
        const a = new NativeResponse(body() as BodyInit, init as ResponseInit);
        const b = new FastResponse(body() as BodyInit, init as FastResponseInit);
        assert.deepEqual(fields(b), fields(a));
      }
    });
  }
});

describe('statics', () => {
  const pair = <T>(work: (R: typeof NativeResponse) => T) => [work(NativeResponse), work(FastResponse as unknown as typeof NativeResponse)] as const;

  test('json(): body, content-type unless given, init fields; unserialisable values refused', async () => {
    for (const [data, init] of [
      [{ a: [1, 'two'] }, undefined],
      ['text', { status: 201, statusText: 'Yes', headers: { 'x-a': '1' } }],
      [null, { headers: { 'Content-Type': 'application/problem+json' } }],
      [7, { headers: [['x-b', '2']] }],
    ] as [unknown, ResponseInit | undefined][]) {
      const [a, b] = pair((R) => R.json(data, init));
      assert.deepEqual(fields(b), fields(a));
      assert.equal(await b.text(), await a.text());
    }
    for (const value of [undefined, () => 1, Symbol('s')]) {
      const [a, b] = pair((R) => errorOf(() => R.json(value)));
      assert.equal(b, a);
      assert.equal(a, 'TypeError');
    }
    const [a, b] = pair((R) => errorOf(() => R.json(1, { status: 204 })));
    assert.equal(b, a);
  });

  test('redirect(): location normalised, statuses checked, relative URLs refused', () => {
    for (const [url, status] of [
      ['https://example.test/a b?q=1', 301],
      [new URL('http://example.test/x'), 308],
      ['https://example.test', undefined],
    ] as [string | URL, number | undefined][]) {
      const [a, b] = pair((R) => R.redirect(url, status));
      assert.deepEqual(fields(b), fields(a));
    }
    for (const [url, status] of [
      ['/relative', 302],
      ['https://example.test/', 200],
      ['https://example.test/', 304],
    ] as [string, number][]) {
      const [a, b] = pair((R) => errorOf(() => R.redirect(url, status)));
      assert.equal(b, a);
    }
  });

  test('error(): undici’s own network error', () => {
    const [a, b] = pair((R) => R.error());
    assert.deepEqual(fields(b), fields(a));
    assert.equal(b.type, 'error');
    assert.equal(b.constructor, NativeResponse);
  });
});

describe('documented differences', () => {
  test('header fields are validated when read (the server answers 500), not at construction', () => {
    assert.equal(errorOf(() => new NativeResponse('x', { headers: { 'bad name': '1' } })), 'TypeError');
    const response = new FastResponse('x', { headers: { 'bad name': '1' } });
    assert.throws(() => response.headers, TypeError);
  });

  test('a byte body is kept by reference (undici copies it)', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const a = new NativeResponse(bytes);
    const b = new FastResponse(bytes);
    bytes[0] = 9;
    assert.deepEqual([...(await a.bytes())], [1, 2, 3]);
    assert.deepEqual([...(await b.bytes())], [9, 2, 3]);
  });

  test('redirect() headers stay mutable', () => {
    assert.throws(() => NativeResponse.redirect('https://example.test/').headers.set('x', '1'), TypeError);
    const response = FastResponse.redirect('https://example.test/');
    response.headers.set('x', '1');
    assert.equal(response.headers.get('x'), '1');
  });
});
