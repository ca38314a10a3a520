/**
 * HTTP/1.1 request input against a live server over real sockets: request bodies over the limit, bodies the handler
 * never reads (keep-alive and pipelining must go on), request-target normalisation, CONNECT and the RFC 9112 MUSTs
 * for request heads.
 */
import { describe, test, before, after } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { connectH2, h2Request, startServer, waitFor, type TestServer } from '../support/server.js';
import { H1Wire, type WireResponse } from '../attacks/lib/h1-wire.js';
import { targetUrl } from '../../src/server/request.js';

const MAX_BODY = 8 * 1024 * 1024;

let server: TestServer;
let clear: TestServer;
/** Opened by the test that holds /gated-hash requests. */
let gate = openable();
function openable(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}
const seen: { method: string; url: string; host: string | null }[] = [];

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  seen.push({ method: request.method, url: request.url, host: request.headers.get('host') });
  if (url.pathname === '/read') {
    const body = await request.arrayBuffer();
    return new Response(`read ${body.byteLength}`);
  }
  if (url.pathname === '/stream-echo') return new Response(request.body);
  if (url.pathname === '/gated-hash') {
    // The body is read only once the test opened the gate: every byte of it was received long before.
    await gate.promise;
    return new Response(createHash('sha256').update(new Uint8Array(await request.arrayBuffer())).digest('hex'));
  }
  if (url.pathname === '/cancel') {
    // Takes one chunk, then gives up on the rest.
    const reader = request.body!.getReader();
    const first = await reader.read();
    await reader.cancel();
    return new Response(`cancelled after ${first.value?.byteLength ?? 0}`);
  }
  return new Response(`${request.method} ${url.pathname}`);
}

before(async () => {
  server = await startServer(handler, { limits: { maxBodySize: MAX_BODY } });
  clear = await startServer(handler, { tls: false, limits: { maxBodySize: 1024 } });
});
after(async () => {
  await server?.close();
  await clear?.close();
});

/** Every connection gone and every request finished: nothing leaked by the case just run. */
async function settled(target: TestServer): Promise<void> {
  await waitFor(() => {
    const stats = target.server.stats();
    return stats.connections === 0 && stats.h1Connections === 0 && stats.inFlightRequests === 0;
  }, `counters back to zero (${JSON.stringify(target.server.stats())})`, 10_000);
}

/** A new connection (TLS for `server`, cleartext for `clear`), `bytes` written, and the first response. */
async function firstAnswer(target: TestServer, bytes: string): Promise<{ wire: H1Wire; response: WireResponse }> {
  const wire = await H1Wire.connect(target.port, target === server);
  await wire.write(bytes);
  const [response] = await wire.responsesWithin(1, 10_000);
  return { wire, response: response };
}

function chunked(size: number, chunkSize = 1000): string {
  let out = '';
  for (let sent = 0; sent < size; sent += chunkSize) {
    const n = Math.min(chunkSize, size - sent);
    out += `${n.toString(16)}\r\n${'a'.repeat(n)}\r\n`;
  }
  return out + '0\r\n\r\n';
}

describe('HTTP/1.1 request bodies', () => {
  test('a chunked body over maxBodySize gives 413 and a close; the process keeps serving', async () => {
    const { wire, response } = await firstAnswer(clear, `POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(5000)}`);
    assert.equal(response.status, 413);
    assert.equal(response.headers.get('connection'), 'close');
    await wire.closedWithin(10_000);
    // Read in small writes too: the limit is hit while the handler waits for the next chunk.
    const slow = await H1Wire.connect(clear.port, false);
    await slow.write('POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let i = 0; i < 5 && !slow.closed; i++) await slow.write(`3e8\r\n${'b'.repeat(1000)}\r\n`);
    assert.equal((await slow.responsesWithin(1, 10_000))[0]!.status, 413);
    await slow.closedWithin(10_000);
    const { wire: after, response: ok } = await firstAnswer(clear, `POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(1000)}`);
    assert.equal(ok!.body.toString(), 'read 1000');
    after.destroy();
    await settled(clear);
  });

  test('a Content-Length body over maxBodySize is refused with 413 before it is read', async () => {
    // Only the head is sent: the answer must not wait for the body.
    const { wire, response } = await firstAnswer(clear, 'POST /read HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n');
    assert.equal(response.status, 413);
    await wire.closedWithin(10_000);
    await settled(clear);
  });

  for (const size of [70_000, 200_000]) {
    test(`an unread ${size}-byte body is discarded: the next request on the connection is answered`, async () => {
      const wire = await H1Wire.connect(server.port, true);
      await wire.write(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`);
      await wire.write(Buffer.alloc(size, 0x61));
      const [first] = await wire.responsesWithin(1, 10_000);
      assert.equal(first!.status, 200);
      assert.notEqual(first!.headers.get('connection'), 'close');
      await wire.write('GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const [, second] = await wire.responsesWithin(2, 10_000);
      assert.equal(second!.body.toString(), 'GET /second');
      // Pipelined: the body and the next request in one write.
      await wire.write(Buffer.concat([
        Buffer.from(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`),
        Buffer.alloc(size, 0x62),
        Buffer.from('GET /third HTTP/1.1\r\nHost: localhost\r\n\r\n'),
      ]));
      const responses = await wire.responsesWithin(4, 10_000);
      assert.deepEqual(responses.map((r) => r.body.toString()), ['POST /ignore', 'GET /second', 'POST /ignore', 'GET /third']);
      wire.destroy();
      await settled(server);
    });
  }

  test('an unread 5 MB body: the answer says connection: close, the connection closes, nothing is left open', async () => {
    const size = 5_000_000;
    const wire = await H1Wire.connect(server.port, true);
    wire.socket.write(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`);
    wire.socket.write(Buffer.alloc(size, 0x61));
    wire.socket.write('GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const [first] = await wire.responsesWithin(1, 20_000);
    assert.equal(first!.body.toString(), 'POST /ignore');
    assert.equal(first!.headers.get('connection'), 'close');
    await wire.closedWithin(20_000);
    assert.equal(wire.responses.length, 1, 'a request behind the dropped body was answered');
    await settled(server);
  });

  test('an unread chunked body larger than the discard bound: the connection closes after the answer', async () => {
    const wire = await H1Wire.connect(server.port, true);
    wire.socket.write(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const [first] = await wire.responsesWithin(1, 10_000);
    assert.equal(first!.body.toString(), 'POST /ignore');
    // The rest of the body arrives after the response: up to the bound it is dropped, then the server closes.
    const piece = chunked(64 * 1024, 16 * 1024).replace(/0\r\n\r\n$/, '');
    for (let i = 0; i < 64 && !wire.closed; i++) await wire.write(piece);
    await wire.closedWithin(20_000);
    await settled(server);
  });

  test('a large body streamed back by the response keeps the connection (it is read, not left)', async () => {
    const size = 1024 * 1024;
    const wire = await H1Wire.connect(server.port, true);
    wire.socket.write(`POST /stream-echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`);
    wire.socket.write(Buffer.alloc(size, 0x63));
    wire.socket.write('GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const [first, second] = await wire.responsesWithin(2, 20_000);
    assert.equal(first!.body.length, size);
    assert.notEqual(first!.headers.get('connection'), 'close');
    assert.equal(second!.body.toString(), 'GET /after');
    wire.destroy();
    await settled(server);
  });

  test('body bytes the handler reads late are the bytes sent, after other connections were read meanwhile', async () => {
    // Reads of every connection may share one buffer: the body must have been copied out of it, not kept as a view.
    gate = openable();
    const size = 200_000;
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = (i * 7 + (i >> 8)) & 0xff;
    const wire = await H1Wire.connect(server.port, true);
    await wire.write(`POST /gated-hash HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`);
    for (let sent = 0; sent < size; sent += 10_000) await wire.write(body.subarray(sent, sent + 10_000));
    // Chunked too, with the pieces in the same reads as their framing.
    await wire.write(`POST /gated-hash HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n`);
    // Another connection's reads in between, with other bytes.
    const other = await H1Wire.connect(server.port, true);
    await other.write('GET /other HTTP/1.1\r\nHost: localhost\r\n\r\n'.repeat(20));
    await other.responsesWithin(20, 10_000);
    other.destroy();
    gate.resolve();
    const [first] = await wire.responsesWithin(1, 10_000);
    assert.equal(first!.body.toString(), createHash('sha256').update(body).digest('hex'));
    // The second request's body was sent after its head; the gate is open, so it is read as it comes.
    await wire.write(`${(size / 2).toString(16)}\r\n`);
    await wire.write(body.subarray(0, size / 2));
    await wire.write(Buffer.concat([Buffer.from(`\r\n${(size / 2).toString(16)}\r\n`), body.subarray(size / 2), Buffer.from('\r\n0\r\n\r\n')]));
    const [, second] = await wire.responsesWithin(2, 10_000);
    assert.equal(second!.body.toString(), createHash('sha256').update(body).digest('hex'));
    wire.destroy();
    await settled(server);
  });

  test('a handler that cancels the body stream mid-way still leaves the connection usable', async () => {
    const wire = await H1Wire.connect(server.port, true);
    const size = 100_000;
    await wire.write(`POST /cancel HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`);
    await wire.write(Buffer.alloc(size, 0x61));
    await wire.write('GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const [first, second] = await wire.responsesWithin(2, 10_000);
    assert.match(first!.body.toString(), /^cancelled after \d+$/);
    assert.equal(second!.body.toString(), 'GET /after');
    wire.destroy();
    await settled(server);
  });

  test('a client that closes during an unread body leaves no connection behind', async () => {
    const wire = await H1Wire.connect(server.port, true);
    await wire.write(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n`);
    await wire.write(Buffer.alloc(200_000, 0x61));
    await wire.responsesWithin(1, 10_000);
    wire.socket.end();
    await settled(server);
  });
});

describe('request.url follows the WHATWG URL parser', () => {
  const piece = fc.constantFrom('/', '.', '..', '%2e', '%2E', '%2e%2E', '%2f', '\\', 'a', 'B.css', '?', '#', ' ', '"', '{', '}', '%', '%41', '~', ';', '=', '&', '|', '^', "'", '`', '<', ':', '@', '!', '$', '\t', 'é');
  const authority = fc.constantFrom('localhost', 'Example.COM', 'example.com:80', 'example.com:443', '127.0.0.1:8443', '[::1]:8080', '127.1', 'xn--nxasmq6b.com');

  test('targetUrl equals new URL(scheme://authority + target).href, fast path or not', () => {
    fc.assert(
      fc.property(fc.constantFrom('http', 'https'), authority, fc.array(piece, { maxLength: 12 }), (scheme, host, pieces) => {
        const target = '/' + pieces.join('');
        // Targets are Latin-1 strings (one character per octet): é is the octet 0xE9.
        const reference = new URL(`${scheme}://${host}${target.replace(/é/g, '%E9')}`).href;
        assert.equal(targetUrl(scheme, host, target), reference);
      }),
      { numRuns: 2000 },
    );
  });

  test('over HTTP/1.1 (TLS) and HTTP/2 the handler sees the resolved path', async () => {
    const raw = '/a/../../b/%2e%2e/c?q=1';
    const expected = new Request(`https://localhost${raw}`).url;
    assert.equal(expected, 'https://localhost/c?q=1');
    (await firstAnswer(server, `GET ${raw} HTTP/1.1\r\nHost: localhost\r\n\r\n`)).wire.destroy();
    assert.equal(seen.at(-1)!.url, expected);
    const session = connectH2(server.origin);
    try {
      const result = await h2Request(session, { ':path': raw, ':authority': 'localhost' });
      assert.equal(result.body.toString(), 'GET /c');
      assert.equal(seen.at(-1)!.url, expected);
      // A backslash is a separator for http(s) URLs, as in browsers.
      await h2Request(session, { ':path': '/x\\..\\y', ':authority': 'localhost' });
      assert.equal(seen.at(-1)!.url, 'https://localhost/y');
    } finally {
      session.close();
    }
    await settled(server);
  });
});

describe('CONNECT is refused with 501 and never reaches the handler', () => {
  for (const secure of [true, false]) {
    test(`HTTP/1.1 ${secure ? 'over TLS' : 'cleartext'}`, async () => {
      const target = secure ? server : clear;
      const before = seen.length;
      const { wire, response } = await firstAnswer(target, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
      assert.equal(response.status, 501);
      await wire.closedWithin(10_000);
      assert.equal(seen.length, before, 'the handler saw the CONNECT');
      await settled(target);
    });
  }

  for (const label of ['TLS', 'h2c']) {
    test(`HTTP/2 over ${label} (no :protocol): 501, the stream ends, the connection goes on`, async () => {
      const target = label === 'TLS' ? server : clear;
      const before = seen.length;
      const session = connectH2(target.origin);
      try {
        const status = await new Promise<number>((resolve, reject) => {
          const stream = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' }, { endStream: false });
          stream.on('response', (headers) => resolve(Number(headers[':status'])));
          stream.on('error', reject);
          stream.on('close', () => reject(new Error(`stream closed without a response (rst ${stream.rstCode})`)));
        });
        assert.equal(status, 501);
        assert.equal(seen.length, before, 'the handler saw the CONNECT');
        const next = await h2Request(session, { ':path': '/after' });
        assert.equal(next.body.toString(), 'GET /after');
      } finally {
        session.close();
      }
      await settled(target);
    });
  }
});

describe('RFC 9112 request heads', () => {
  const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n';
  const chunkedHead = 'POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n';
  // [label, request bytes (a second request follows each), expected status]. Errors must close the connection so
  // that nothing after them is read as a request.
  const refused: [string, string, number][] = [
    ['two Host fields (§3.2)', 'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n', 400],
    ['Host with a space (§3.2)', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
    ['Host with a path (§3.2)', 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n', 400],
    ['Host with userinfo (§3.2)', 'GET / HTTP/1.1\r\nHost: user@a\r\n\r\n', 400],
    ['no Host on HTTP/1.1 (§3.2)', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 400],
    ['obs-fold (§5.2)', 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n', 400],
    ['whitespace before the colon (§5.1)', 'GET / HTTP/1.1\r\nHost: localhost\r\nX-A : b\r\n\r\n', 400],
    ['bare LF line ends (§2.2)', 'GET / HTTP/1.1\nHost: localhost\n\n', 400],
    ['NUL in a field value (§5)', 'GET / HTTP/1.1\r\nHost: localhost\r\nX-A: a\0b\r\n\r\n', 400],
    ['non-hex chunk size (§7.1)', `${chunkedHead}zz\r\nabc\r\n0\r\n\r\n`, 400],
    ['negative chunk size (§7.1)', `${chunkedHead}-1\r\nabc\r\n0\r\n\r\n`, 400],
    ['chunk size overflowing 64 bits (§7.1)', `${chunkedHead}fffffffffffffffff1\r\nabc\r\n0\r\n\r\n`, 400],
    ['0x-prefixed chunk size (§7.1)', `${chunkedHead}0x3\r\nabc\r\n0\r\n\r\n`, 400],
    ['chunk data longer than its size (§7.1)', `${chunkedHead}3\r\nabcX\r\n0\r\n\r\n`, 400],
    ['chunk extension of 20 KB (§7.1.1)', `${chunkedHead}3;a=${'b'.repeat(20_000)}\r\nabc\r\n0\r\n\r\n`, 413],
    ['Content-Length with Transfer-Encoding (§6.1)', `POST /read HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
    ['differing Content-Length values (§6.3)', 'POST /read HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc', 400],
    ['repeated Content-Length (§6.3)', 'POST /read HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400],
    ['Content-Length list (§6.3)', 'POST /read HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3, 3\r\n\r\nabc', 400],
    ['Content-Length with a sign (§8.6 of RFC 9110)', 'POST /read HTTP/1.1\r\nHost: localhost\r\nContent-Length: +3\r\n\r\nabc', 400],
    ['chunked not the final coding (§6.3)', 'POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', 400],
    ['identity coding alone (§6.3)', 'POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc', 400],
    ['chunked applied twice (§7)', `POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`, 400],
    ['a coding before chunked (§6.1: 501)', 'POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 501],
    ['HTTP/1.0 with Transfer-Encoding (§6.1)', 'POST /read HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', 400],
    ['a method with "@" (§3.1)', 'G@T / HTTP/1.1\r\nHost: localhost\r\n\r\n', 400],
    ['an unknown method (§3.1)', 'FROB / HTTP/1.1\r\nHost: localhost\r\n\r\n', 400],
    ['HTTP/2.0 in a request line (RFC 9110 §15.6.6)', 'GET / HTTP/2.0\r\nHost: localhost\r\n\r\n', 505],
    ['HTTP/1.2 (§2.3)', 'GET / HTTP/1.2\r\nHost: localhost\r\n\r\n', 400],
    ['asterisk-form for GET (§3.2.4)', 'GET * HTTP/1.1\r\nHost: localhost\r\n\r\n', 400],
    ['authority-form for GET (§3.2.3)', 'GET example.com:80 HTTP/1.1\r\nHost: localhost\r\n\r\n', 400],
  ];
  for (const [label, bytes, status] of refused) {
    test(`${label}: ${status} and close`, async () => {
      const before = seen.length;
      const { wire, response } = await firstAnswer(clear, bytes + smuggled);
      assert.equal(response.status, status, wire.describe());
      await wire.closedWithin(10_000);
      assert.equal(wire.responses.length, 1, `more than one answer: ${wire.describe()}`);
      assert.ok(!seen.slice(before).some((entry) => entry.url.endsWith('/smuggled')), 'a smuggled request reached the handler');
      await settled(clear);
    });
  }

  test('absolute-form: the target URI wins, Host is ignored (§3.2.2, §3.3)', async () => {
    (await firstAnswer(clear, 'GET http://Target.example:8080/x/../y?z HTTP/1.1\r\nHost: other.example\r\n\r\n')).wire.destroy();
    assert.deepEqual(seen.at(-1), { method: 'GET', url: 'http://target.example:8080/y?z', host: 'target.example:8080' });
    await settled(clear);
  });

  test('HTTP/1.0 without Host and HTTP/1.1 with an empty Host get the address the client connected to', async () => {
    for (const head of ['GET /ten HTTP/1.0\r\n\r\n', 'GET /empty HTTP/1.1\r\nHost:\r\n\r\n']) {
      const { wire, response } = await firstAnswer(clear, head);
      assert.equal(response.status, 200);
      wire.destroy();
      assert.match(seen.at(-1)!.url, new RegExp(`^http://127\\.0\\.0\\.1:${clear.port}/(ten|empty)$`));
    }
    await settled(clear);
  });

  test('OPTIONS * reaches the handler', async () => {
    const { wire, response } = await firstAnswer(clear, 'OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n');
    assert.equal(response.body.toString(), 'OPTIONS /');
    wire.destroy();
    await settled(clear);
  });

  test('an Upgrade request is answered as a plain request, then the connection closes (nothing behind it is lost)', async () => {
    const { wire, response } = await firstAnswer(server, `GET /u HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n${smuggled}`);
    assert.equal(response.body.toString(), 'GET /u');
    assert.equal(response.headers.get('connection'), 'close');
    await wire.closedWithin(10_000);
    await settled(server);
  });
});
