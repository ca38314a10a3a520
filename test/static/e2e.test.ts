/**
 * Static files and CGI end to end: a real httpsd server over TLS (in a child process), curl over HTTP/1.1 and
 * HTTP/2, node:http2, and raw TLS sockets for request targets that clients would normalise.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { ClientHttp2Session } from 'node:http2';
import { createFixture, addCgiScripts, SECRET } from './fixture.js';
import type { Fixture } from './fixture.js';
import { startServerProcess, curl, logLinesAfter, openHttp2, h2Request, rawHttp1, parseMultipart } from './e2e-helpers.js';
import type { ServerProcess, HttpResult } from './e2e-helpers.js';

let fixture: Fixture;
let server: ServerProcess;

before(async () => {
  fixture = createFixture();
  addCgiScripts(fixture);
  // A generous CGI timeout: scripts here are expected to finish (hello.py starts a Python interpreter, slow on a
  // busy machine). Timeouts are tested with scripts that hang, in cgi-timeout-e2e.test.ts.
  server = await startServerProcess(fixture.root, { cgi: { timeoutMs: 30_000 } });
});

after(async () => {
  await server?.stop();
  fixture?.cleanup();
});

const SIZE = 200_000;

for (const protocol of ['h1', 'h2'] as const) {
  const get = (path: string, args: string[] = []): Promise<HttpResult> => curl(server.base, path, protocol, args);
  const expectedVersion = protocol === 'h2' ? '2' : '1.1';

  describe(`curl over ${protocol}`, () => {
    test('GET a file', async () => {
      const result = await get('/hello.txt');
      assert.equal(result.version, expectedVersion);
      assert.equal(result.status, 200);
      assert.equal(result.body.toString(), 'hello\n');
      assert.equal(result.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(result.headers.get('x-content-type-options'), 'nosniff');
      assert.match(result.headers.get('etag')!, /^"[0-9a-f-]+"$/);
    });

    test('HEAD: the headers of GET (length included), no body', async () => {
      const head = await get('/data.bin', ['-I']);
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(SIZE));
      const compressed = await get('/big.txt', ['-I', '-H', 'accept-encoding: gzip']);
      assert.equal(compressed.headers.get('content-encoding'), 'gzip');
      assert.notEqual(compressed.headers.get('content-length'), '0', 'no made-up length for an unknown one');
    });

    test('methods other than GET, HEAD and OPTIONS: 405 with Allow', async () => {
      const post = await get('/hello.txt', ['-X', 'POST', '--data-binary', 'x']);
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD, OPTIONS');
      const del = await get('/hello.txt', ['-X', 'DELETE']);
      assert.equal(del.status, 405);
    });

    test('byte-exact ranges: first, last, suffix, open, multi', async () => {
      for (const [range, start, end] of [
        ['0-99', 0, 99],
        ['0-0', 0, 0],
        [`${SIZE - 1}-${SIZE - 1}`, SIZE - 1, SIZE - 1],
        ['-1234', SIZE - 1234, SIZE - 1],
        ['150000-', 150_000, SIZE - 1],
        ['65530-65545', 65_530, 65_545],
      ] as const) {
        const result = await get('/data.bin', ['-r', range]);
        assert.equal(result.status, 206, range);
        assert.equal(result.headers.get('content-range'), `bytes ${start}-${end}/${SIZE}`);
        assert.deepEqual(result.body, fixture.binary.subarray(start, end + 1), range);
      }
      const multi = await get('/data.bin', ['-r', '0-9,1000-1099,-20']);
      assert.equal(multi.status, 206);
      const parts = parseMultipart(multi.body, multi.headers.get('content-type')!);
      assert.deepEqual(
        parts.map((part) => part.range),
        ['bytes 0-9/200000', 'bytes 1000-1099/200000', `bytes ${SIZE - 20}-${SIZE - 1}/200000`],
      );
      assert.deepEqual(parts[1]!.data, fixture.binary.subarray(1000, 1100));
      assert.deepEqual(parts[2]!.data, fixture.binary.subarray(SIZE - 20));
      assert.equal(Number(multi.headers.get('content-length')), multi.body.length);
      const unsatisfiable = await get('/data.bin', ['-r', '300000-']);
      assert.equal(unsatisfiable.status, 416);
      assert.equal(unsatisfiable.headers.get('content-range'), `bytes */${SIZE}`);
    });

    test('conditional requests: 304 keeps ETag, 412, If-Range', async () => {
      const first = await get('/data.bin');
      const etag = first.headers.get('etag')!;
      const lastModified = first.headers.get('last-modified')!;
      const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString();
      const cases: Array<[string[], number]> = [
        [['-H', `if-none-match: ${etag}`], 304],
        [['-H', 'if-none-match: "nope"'], 200],
        [['-H', `if-modified-since: ${lastModified}`], 304],
        [['-H', `if-modified-since: ${earlier}`], 200],
        [['-H', 'if-none-match: "nope"', '-H', `if-modified-since: ${lastModified}`], 200],
        [['-H', `if-match: ${etag}`], 200],
        [['-H', 'if-match: "nope"'], 412],
        [['-H', `if-unmodified-since: ${earlier}`], 412],
        [['-H', `if-unmodified-since: ${lastModified}`], 200],
        [['-H', 'if-match: "nope"', '-H', `if-none-match: ${etag}`], 412],
        [['-r', '0-9', '-H', `if-range: ${etag}`], 206],
        [['-r', '0-9', '-H', 'if-range: "old"'], 200],
        [['-r', '0-9', '-H', `if-range: ${lastModified}`], 206],
      ];
      for (const [args, status] of cases) {
        const result = await get('/data.bin', args);
        assert.equal(result.status, status, args.join(' '));
        if (status === 304) {
          assert.equal(result.headers.get('etag'), etag);
          assert.equal(result.headers.get('cache-control'), 'no-cache');
          assert.equal(result.headers.get('vary'), 'accept-encoding');
          assert.equal(result.body.length, 0);
        }
      }
    });

    test('precompressed selection by Accept-Encoding q-values', async () => {
      for (const [acceptEncoding, coding] of [
        ['gzip, br', 'br'],
        ['br;q=0.4, gzip;q=0.9', 'gzip'],
        ['gzip', 'gzip'],
        ['br;q=0, gzip;q=0', undefined],
        ['zstd', 'zstd'],
      ] as const) {
        const result = await get('/app.js', ['-H', `accept-encoding: ${acceptEncoding}`]);
        assert.equal(result.headers.get('content-encoding'), coding, acceptEncoding);
        assert.equal(result.headers.get('vary'), 'accept-encoding');
        if (coding === 'br') assert.equal(brotliDecompressSync(result.body).toString(), fixture.appJs);
        if (coding === 'gzip') assert.equal(gunzipSync(result.body).toString(), fixture.appJs);
        if (coding === undefined) assert.equal(result.body.toString(), fixture.appJs);
      }
      const onTheFly = await get('/big.txt', ['-H', 'accept-encoding: br']);
      assert.equal(onTheFly.headers.get('content-encoding'), 'br');
      assert.equal(brotliDecompressSync(onTheFly.body).toString(), fixture.bigText);
    });

    test('traversal attempts never return content from outside the root', async () => {
      for (const path of [
        '/../secret.txt',
        '/../../secret.txt',
        '/%2e%2e/secret.txt',
        '/%2e%2e/%2e%2e/secret.txt',
        '/..%2fsecret.txt',
        '/sub/..%2f..%2fsecret.txt',
        '/..%5csecret.txt',
        '/..%5c..%5csecret.txt',
        '/link-out.txt',
        '/link-out-dir/secret.txt',
        '/hello.txt%00',
        '/secret.txt%00.html',
        '/%252e%252e/secret.txt',
        '/.secret',
      ]) {
        const result = await get(path, ['--path-as-is']);
        assert.ok([400, 404].includes(result.status), `${path}: ${result.status}`);
        assert.ok(!result.body.toString('latin1').includes(SECRET), `${path} leaked`);
      }
    });

    test('directory listing escapes HTML in file names', async () => {
      const result = await get('/sub/');
      assert.equal(result.status, 200);
      const html = result.body.toString();
      assert.ok(html.includes('&lt;script&gt;.txt'));
      assert.ok(!html.includes('<script>'));
      assert.ok(!html.includes('<img'));
      // The column headers sort: they look like the links they are (link colour, underlined).
      const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1]!;
      const sortLinkRule = /(?:^|\})th a\{([^}]*)\}/m.exec(style)?.[1] ?? '';
      assert.match(sortLinkRule, /text-decoration:underline/);
      assert.doesNotMatch(sortLinkRule, /color:inherit/);
      assert.match(html, /<th><a href="\?sort=size&amp;order=asc" title="Sort by size, ascending">Size<\/a><\/th>/);
      const redirect = await get('/sub?x=1');
      assert.equal(redirect.status, 301);
      assert.equal(redirect.headers.get('location'), '/sub/?x=1');
    });

    test('CGI: hello.py, environment, stdin, status', async () => {
      const hello = await get('/cgi-bin/hello.py');
      assert.equal(hello.status, 200);
      assert.equal(hello.body.toString(), 'hello world\n');
      const env = (await get('/cgi-bin/env.sh/p/i?q=1', ['-H', 'x-test: yes'])).body.toString();
      assert.match(env, /^HTTPS=on$/m);
      assert.match(env, new RegExp(`^SERVER_PROTOCOL=${protocol === 'h2' ? 'HTTP/2.0' : 'HTTP/1.1'}$`, 'm'));
      assert.match(env, /^PATH_INFO=\/p\/i$/m);
      assert.match(env, /^QUERY_STRING=q=1$/m);
      assert.match(env, /^HTTP_X_TEST=yes$/m);
      assert.match(env, /^REMOTE_ADDR=127\.0\.0\.1$/m);
      const payload = 'x'.repeat(100_000);
      const echo = await get('/cgi-bin/echo.sh', ['--data-binary', payload, '-H', 'content-type: text/plain']);
      assert.equal(echo.headers.get('x-length'), '100000');
      assert.equal(echo.body.toString(), payload);
      if (protocol === 'h1') {
        // A chunked body has no Content-Length: it is buffered so the script still gets an exact CONTENT_LENGTH.
        const chunked = await get('/cgi-bin/echo.sh', ['--data-binary', 'chunked body', '-H', 'transfer-encoding: chunked']);
        assert.equal(chunked.headers.get('x-length'), '12');
        assert.equal(chunked.body.toString(), 'chunked body');
      }
      const status = await get('/cgi-bin/status.sh');
      assert.equal(status.status, 418);
      assert.equal(status.body.toString(), 'short and stout');
    });

    test('CGI: redirects, garbage', async () => {
      const local = await get('/cgi-bin/local.sh');
      assert.equal(local.status, 200);
      assert.equal(local.body.toString(), 'hello\n');
      const client = await get('/cgi-bin/client.sh');
      assert.equal(client.status, 302);
      assert.equal(client.headers.get('location'), 'https://example.com/elsewhere');
      assert.equal((await get('/cgi-bin/garbage.sh')).status, 502);
      const logged = await logLinesAfter(server, 0, /garbage\.sh sent an invalid response/);
      assert.ok(logged.some((line) => line.includes('garbage.sh sent an invalid response')));
    });
  });
}

/** A fresh session per test, closed after it, so one failed test cannot break the next ones' connection. */
async function withSession<T>(use: (session: ClientHttp2Session) => Promise<T>): Promise<T> {
  const session = openHttp2(server.base);
  try {
    return await use(session);
  } finally {
    session.close();
  }
}

describe('node:http2 client', () => {
  test('raw :path traversal attempts are refused', () =>
    withSession(async (session) => {
      for (const path of ['/../secret.txt', '/..\\secret.txt', '/sub/../../secret.txt', '/%2e%2e/secret.txt', '/..%2f..%2fsecret.txt']) {
        const result = await h2Request(session, path);
        assert.ok([400, 404].includes(result.status), `${path}: ${result.status}`);
        assert.ok(!result.body.toString('latin1').includes(SECRET));
      }
    }));

  test('ranges, conditionals and precompressed variants', () =>
    withSession(async (session) => {
      const range = await h2Request(session, '/data.bin', { range: 'bytes=10-19,-10' });
      assert.equal(range.status, 206);
      const parts = parseMultipart(range.body, range.headers.get('content-type')!);
      assert.deepEqual(parts[0]!.data, fixture.binary.subarray(10, 20));
      assert.deepEqual(parts[1]!.data, fixture.binary.subarray(SIZE - 10));
      const full = await h2Request(session, '/app.js', { 'accept-encoding': 'gzip;q=1, br;q=0.5' });
      assert.equal(full.headers.get('content-encoding'), 'gzip');
      const notModified = await h2Request(session, '/app.js', { 'accept-encoding': 'gzip', 'if-none-match': full.headers.get('etag')! });
      assert.equal(notModified.status, 304);
      assert.equal(notModified.headers.get('etag'), full.headers.get('etag'));
    }));

  test('CGI POST body and HEAD', () =>
    withSession(async (session) => {
      const echo = await h2Request(session, '/cgi-bin/echo.sh', { 'content-type': 'text/plain' }, 'POST', 'posted over h2');
      assert.equal(echo.status, 200);
      assert.equal(echo.body.toString(), 'posted over h2');
      assert.equal(echo.headers.get('x-length'), '14');
      const head = await h2Request(session, '/hello.txt', {}, 'HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '6');
      assert.equal(head.body.length, 0);
    }));
});

describe('raw HTTP/1.1 request targets', () => {
  test('dot segments, backslashes and NUL sent verbatim never leak', async () => {
    for (const target of ['/../secret.txt', '/..\\secret.txt', '/sub/..\\..\\secret.txt', '/%2e%2e/secret.txt', '/..%2f..%2fsecret.txt', '/hello.txt%00']) {
      const response = await rawHttp1(server.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      assert.match(response, /^HTTP\/1\.1 (400|404) /, target);
      assert.ok(!response.includes(SECRET), `${target} leaked`);
    }
  });
});

describe('request paths as the URL parser sees them', () => {
  // The handler maps `new URL(request.url).pathname`, the path any fetch handler would see: dot segments (also
  // percent-encoded ones) are resolved and, for https, `\` is a `/`. Encoded separators are not normalised, so a
  // decoded `/`, `\` or NUL inside a segment is still refused.
  const normalised: Array<[string, string]> = [
    ['/sub/%2e%2e/big.txt', '/big.txt'],
    ['/sub/.%2E/big.txt', '/big.txt'],
    ['/sub/%2e/small.txt', '/sub/small.txt'],
    ['/sub\\small.txt', '/sub/small.txt'],
    ['/sub/nested/..\\..\\hello.txt', '/hello.txt'],
    ['/%2e%2e/%2e%2e/hello.txt', '/hello.txt'],
  ];
  const refused = ['/sub/..%2fbig.txt', '/sub%5csmall.txt', '/sub%2fsmall.txt', '/hello.txt%00', '/%2e%2e/secret.txt'];

  test('HTTP/1.1: normalised targets serve what new URL() names; encoded separators are 404', async () => {
    for (const [target, path] of normalised) {
      assert.equal(new URL(target, 'https://localhost').pathname, path, `the URL parser maps ${target} to ${path}`);
      const response = await rawHttp1(server.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      const expected = await curl(server.base, path, 'h1');
      assert.match(response, /^HTTP\/1\.1 200 /, target);
      assert.ok(response.endsWith(`\r\n\r\n${expected.body.toString('latin1')}`), target);
    }
    for (const target of refused) {
      const response = await rawHttp1(server.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      assert.match(response, /^HTTP\/1\.1 404 /, target);
    }
  });

  test('HTTP/2: the same for a raw :path', () =>
    withSession(async (session) => {
      for (const [target, path] of normalised) {
        const result = await h2Request(session, target);
        const expected = await h2Request(session, path);
        assert.equal(result.status, 200, target);
        assert.deepEqual(result.body, expected.body, target);
      }
      for (const target of refused) assert.equal((await h2Request(session, target)).status, 404, target);
    }));
});
