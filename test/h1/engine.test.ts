/**
 * The sans-IO HTTP/1.1 engine against RFC 9112, byte for byte: parsing, framing decisions, smuggling shapes
 * (each refused with the status the RFC names), pipelining, tunnels.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FramingError, H1Connection, type H1Event } from '../../src/h1/index.js';

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array | null) => (bytes === null ? '' : Buffer.from(bytes).toString('latin1'));

function feed(conn: H1Connection, ...chunks: (string | Uint8Array)[]): H1Event[] {
  const events: H1Event[] = [];
  for (const chunk of chunks) events.push(...conn.receive(typeof chunk === 'string' ? enc(chunk) : chunk));
  return events;
}

function body(events: H1Event[]): string {
  return events.map((e) => (e.type === 'data' ? dec(e.data) : '')).join('');
}

function errorOf(events: H1Event[]): number | undefined {
  const error = events.find((e) => e.type === 'protocolError');
  return error?.type === 'protocolError' ? error.status : undefined;
}

test('a GET: the request event, requestEnded, and a keep-alive response with content-length', () => {
  const conn = new H1Connection();
  const events = feed(conn, 'GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Multi: 1\r\nx-multi: 2\r\n\r\n');
  assert.equal(events.length, 2);
  const request = events[0]!;
  assert.ok(request.type === 'request');
  assert.deepEqual(
    { method: request.method, target: request.target, minor: request.minorVersion, authority: request.authority, fields: request.fields, keepAlive: request.keepAlive, bodyKind: request.bodyKind },
    { method: 'GET', target: '/a?b=1', minor: 1, authority: 'example.com', fields: ['host', 'example.com', 'accept', '*/*', 'x-multi', '1', 'x-multi', '2'], keepAlive: true, bodyKind: 'none' },
  );
  assert.equal(events[1]!.type, 'requestEnded');
  conn.sendHeaders(200, ['content-type', 'text/plain', 'content-length', '5'], false);
  conn.sendData(enc('hello'), true);
  assert.equal(dec(conn.dataToSend()), 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello');
  assert.equal(conn.isDone, false);
  // The next request on the same connection.
  assert.equal(feed(conn, 'GET /2 HTTP/1.1\r\nHost: x\r\n\r\n')[0]!.type, 'request');
});

test('pipelined requests are answered in order: the next is parsed only after the response before it ended', () => {
  const conn = new H1Connection();
  const events = feed(conn, 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.deepEqual(events.map((e) => e.type === 'request' ? e.target : e.type), ['/1', 'requestEnded']);
  conn.sendHeaders(204, [], true);
  assert.deepEqual(conn.pollEvents().map((e) => e.type === 'request' ? e.target : e.type), ['/2', 'requestEnded']);
  conn.sendHeaders(204, [], true);
  assert.deepEqual(conn.pollEvents().map((e) => e.type === 'request' ? e.target : e.type), ['/3', 'requestEnded']);
  conn.sendHeaders(204, [], true);
  assert.deepEqual(conn.pollEvents(), []);
  assert.equal((dec(conn.dataToSend()).match(/HTTP\/1.1 204/g) ?? []).length, 3);
});

test('a Content-Length body split across reads; a chunked body fed byte by byte, with trailers', () => {
  const a = new H1Connection();
  const first = feed(a, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello', ' world');
  assert.equal(body(first), 'hello world');
  assert.equal(first.at(-1)!.type, 'requestEnded');

  const b = new H1Connection();
  const wire = 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n';
  const events = feed(b, ...[...wire].map((char) => char));
  assert.equal(body(events), 'hello world');
  assert.deepEqual(events.find((e) => e.type === 'trailers'), { type: 'trailers', fields: ['x-sum', '42'] });
  assert.equal(events.at(-1)!.type, 'requestEnded');
  const request = events[0]!;
  assert.ok(request.type === 'request' && request.bodyKind === 'chunked' && request.contentLength === -1);
});

const SMUGGLING: [string, string, number][] = [
  ['two Host fields (§3.2)', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['no Host in HTTP/1.1 (§3.2)', 'GET / HTTP/1.1\r\nAccept: */*\r\n\r\n', 400],
  ['an invalid Host (§3.2)', 'GET / HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
  ['Content-Length with Transfer-Encoding (§6.1)', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['Transfer-Encoding without chunked last (§6.3)', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
  ['chunked twice (§6.3)', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n', 400],
  ['chunked in two fields, twice', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['an unknown coding before chunked (§6.1: 501)', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501],
  ['Transfer-Encoding in HTTP/1.0 (§6.1)', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['differing Content-Length values (§6.3)', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\n', 400],
  ['two differing Content-Length fields', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 400],
  ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n', 400],
  ['a hex Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\n', 400],
  ['obs-fold (§5.2)', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n', 400],
  ['whitespace before the colon (§5.1)', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n', 400],
  ['a bare LF', 'GET / HTTP/1.1\nHost: x\n\n', 400],
  ['a bare CR in a field', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r2\r\n\r\n', 400],
  ['NUL in a field value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n', 400],
  ['an invalid field name', 'GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n', 400],
  ['an empty field name', 'GET / HTTP/1.1\r\nHost: x\r\n: 1\r\n\r\n', 400],
  ['HTTP/2.0 in a request-line (505)', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n', 505],
  ['a lowercase version', 'GET / http/1.1\r\nHost: x\r\n\r\n', 400],
  ['two spaces in the request-line', 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a space inside the target', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a control character in the target', 'GET /a\u0001 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a non-ASCII target byte', 'GET /\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['an invalid method', 'G(ET / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['CONNECT with an origin-form target (§3.2.3)', 'CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['the * target on GET (§3.2.4)', 'GET * HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['an unknown expectation (RFC 9110 §10.1.1: 417)', 'POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx', 417],
  ['too many empty lines before the request', '\r\n'.repeat(10) + 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 400],
  ['a chunk size that is not hex', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n', 400],
  ['a chunk size over 2^52', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n', 400],
  ['a negative chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n', 400],
  ['chunk data without its CRLF', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX\r\n', 400],
  ['a chunk-size line with a bare LF', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n', 400],
  ['endless chunk extensions (413, as node:http)', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;' + 'a'.repeat(5000) + '\r\n', 413],
  ['a chunk-size with garbage after it', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\nabc\r\n', 400],
  ['a request head over the limit (431)', 'GET / HTTP/1.1\r\nHost: x\r\nX-Big: ' + 'a'.repeat(70_000) + '\r\n\r\n', 431],
  ['too many fields (431)', 'GET / HTTP/1.1\r\nHost: x\r\n' + 'X-A: 1\r\n'.repeat(300) + '\r\n', 431],
  ['a request-target over the limit (414)', 'GET /' + 'a'.repeat(20_000) + ' HTTP/1.1\r\nHost: x\r\n\r\n', 414],
];

for (const [name, wire, status] of SMUGGLING) {
  test(`refused: ${name} → ${status}, the connection closes, nothing after it is parsed`, () => {
    for (const chunked of [false, true]) {
      const conn = new H1Connection();
      const bytes = enc(wire);
      const events = chunked ? feed(conn, ...Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7))) : feed(conn, bytes);
      assert.equal(errorOf(events), status, `${chunked ? 'in pieces' : 'in one read'}: ${JSON.stringify(events.map((e) => e.type))}`);
      const out = dec(conn.dataToSend());
      assert.match(out, new RegExp(`^HTTP/1.1 ${status} `));
      assert.match(out, /\r\nconnection: close\r\n/);
      assert.equal(conn.isDone, true);
      assert.deepEqual(conn.receive(enc('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), []);
    }
  });
}

test('accepted: one empty line before the request, identical Content-Length values, HTTP/1.0 without Host, OPTIONS *, absolute-form', () => {
  const cases: [string, (e: Extract<H1Event, { type: 'request' }>) => void][] = [
    ['\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', (e) => assert.equal(e.target, '/')],
    ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\nz', (e) => assert.equal(e.contentLength, 1)],
    ['GET / HTTP/1.0\r\n\r\n', (e) => assert.deepEqual([e.minorVersion, e.keepAlive, e.authority], [0, false, undefined])],
    ['OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', (e) => assert.equal(e.target, '*')],
    // §3.2.2: the absolute-form authority wins over Host.
    ['GET http://real.example:8080/p HTTP/1.1\r\nHost: other\r\n\r\n', (e) => assert.equal(e.authority, 'real.example:8080')],
    ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', (e) => assert.equal(e.authority, 'example.com:443')],
    ['GET / HTTP/1.2\r\nHost: x\r\n\r\n', (e) => assert.equal(e.minorVersion, 1)],
    ['GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n', (e) => assert.deepEqual(e.fields.slice(2), ['x-empty', '', 'x-tab', 'v'])],
  ];
  for (const [wire, check] of cases) {
    const events = feed(new H1Connection(), wire);
    assert.equal(errorOf(events), undefined, wire);
    check(events[0] as Extract<H1Event, { type: 'request' }>);
  }
});

test('response framing: HEAD, 204, 304, chunked for 1.1, close-delimited for 1.0, keep-alive for 1.0', () => {
  const head = new H1Connection();
  feed(head, 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
  head.sendHeaders(200, ['content-length', '1234'], false);
  head.sendData(enc('ignored'), true);
  assert.equal(dec(head.dataToSend()), 'HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n');

  const noContent = new H1Connection();
  feed(noContent, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  noContent.sendHeaders(204, ['content-length', '0'], true);
  assert.equal(dec(noContent.dataToSend()), 'HTTP/1.1 204 No Content\r\n\r\n');

  const chunked = new H1Connection();
  feed(chunked, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  chunked.sendHeaders(200, ['Transfer-Encoding', 'gzip', 'Connection', 'x'], false);
  chunked.sendData(enc('abc'));
  chunked.sendData(enc('defghijklmnopqrstu'));
  chunked.sendTrailers(['x-sum', '1']);
  assert.equal(dec(chunked.dataToSend()), 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n12\r\ndefghijklmnopqrstu\r\n0\r\nx-sum: 1\r\n\r\n');

  const old = new H1Connection();
  feed(old, 'GET / HTTP/1.0\r\n\r\n');
  old.sendHeaders(200, [], false);
  old.sendData(enc('stream'), true);
  assert.equal(dec(old.dataToSend()), 'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nstream');
  assert.equal(old.isDone, true);

  const oldKeepAlive = new H1Connection();
  feed(oldKeepAlive, 'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
  oldKeepAlive.sendHeaders(200, ['content-length', '2'], false);
  oldKeepAlive.sendData(enc('ok'), true);
  assert.equal(dec(oldKeepAlive.dataToSend()), 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\nok');
  assert.equal(oldKeepAlive.isDone, false);

  const close = new H1Connection();
  feed(close, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  close.sendHeaders(200, [], true);
  assert.equal(dec(close.dataToSend()), 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  assert.equal(close.isDone, true);
});

test('never past the declared length: more bytes throw FramingError and close; fewer at the end too', () => {
  const over = new H1Connection();
  feed(over, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  over.sendHeaders(200, ['content-length', '10'], false);
  assert.throws(() => over.sendData(new Uint8Array(100)), FramingError);
  assert.equal(dec(over.dataToSend()), 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n', 'none of the 100 bytes went out');
  assert.equal(over.isDone, true);
  assert.deepEqual(over.receive(enc('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), [], 'the connection does not continue');

  const under = new H1Connection();
  feed(under, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  under.sendHeaders(200, ['content-length', '100'], false);
  under.sendData(new Uint8Array(10));
  assert.throws(() => under.endResponse(), FramingError);
  assert.equal(under.isDone, false, 'queued bytes remain');
  under.dataToSend();
  assert.equal(under.isDone, true);
});

test('invalid response fields throw before anything is queued', () => {
  for (const fields of [['bad name', 'x'], ['x', 'a\r\nb'], ['x', 'é€'], ['x', '\u0001'], ['content-length', '-1']]) {
    const conn = new H1Connection();
    feed(conn, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.throws(() => conn.sendHeaders(200, fields, true), TypeError, JSON.stringify(fields));
    assert.equal(conn.dataToSend(), null);
  }
});

test('an unread body: a small rest is discarded and the connection kept; a large or chunked one closes it', () => {
  const small = new H1Connection();
  feed(small, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n' + 'a'.repeat(1000));
  small.sendHeaders(404, [], true);
  assert.doesNotMatch(dec(small.dataToSend()), /connection: close/);
  const rest = feed(small, 'a'.repeat(69_000) + 'GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.deepEqual(rest.map((e) => (e.type === 'request' ? e.target : e.type)), ['/next', 'requestEnded'], 'discarded bytes raise no events');

  const large = new H1Connection();
  feed(large, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\nabc');
  large.sendHeaders(404, [], true);
  assert.match(dec(large.dataToSend()), /connection: close/);
  assert.equal(large.isDone, true);

  const chunked = new H1Connection();
  feed(chunked, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n');
  chunked.sendHeaders(404, [], true);
  assert.match(dec(chunked.dataToSend()), /connection: close/);
});

test('Expect: 100-continue: the 100 goes out when the body is first read; unanswered, the response closes the connection', () => {
  const conn = new H1Connection();
  const events = feed(conn, 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n');
  assert.ok(events[0]!.type === 'request' && events[0]!.expectContinue);
  assert.equal(conn.continueIfExpected(), true);
  assert.equal(conn.continueIfExpected(), false);
  assert.equal(dec(conn.dataToSend()), 'HTTP/1.1 100 Continue\r\n\r\n');
  assert.equal(body(feed(conn, 'abc')), 'abc');

  const refused = new H1Connection();
  feed(refused, 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n');
  refused.sendHeaders(413, [], true);
  assert.match(dec(refused.dataToSend()), /connection: close/);
  // HTTP/1.0 clients never get a 1xx (RFC 9110 §15.2).
  const old = new H1Connection();
  feed(old, 'PUT / HTTP/1.0\r\nContent-Length: 3\r\n\r\n');
  assert.equal(old.sendInformational(103, ['link', '</a>; rel=preload']), false);
});

test('103 Early Hints before the final response', () => {
  const conn = new H1Connection();
  feed(conn, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(conn.sendInformational(103, ['link', '</s.css>; rel=preload']), true);
  conn.sendHeaders(200, [], true);
  assert.equal(dec(conn.dataToSend()), 'HTTP/1.1 103 Early Hints\r\nlink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
});

test('Upgrade: a 101 turns the connection into a tunnel; bytes after the head are the tunnel\'s', () => {
  const conn = new H1Connection();
  const events = feed(conn, Buffer.from('GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u0081\u0080', 'latin1'));
  const request = events[0]!;
  assert.ok(request.type === 'request' && request.upgrade === 'websocket');
  // The frame bytes that came with the head wait until the switch.
  assert.deepEqual(events.map((e) => e.type), ['request', 'requestEnded']);
  conn.sendHeaders(101, ['upgrade', 'websocket', 'sec-websocket-accept', 'abc'], false);
  assert.equal(dec(conn.dataToSend()), 'HTTP/1.1 101 Switching Protocols\r\nsec-websocket-accept: abc\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n');
  assert.deepEqual(conn.pollEvents().map((e) => e.type === 'tunnelData' ? [...e.data] : e), [[0x81, 0x80]]);
  assert.deepEqual(feed(conn, 'GET / HTTP/1.1\r\n').map((e) => e.type), ['tunnelData']);
  conn.sendTunnelData(enc('raw'));
  assert.equal(dec(conn.dataToSend()), 'raw');
  // Without Connection: upgrade, Upgrade means nothing (RFC 9110 §7.8).
  const plain = feed(new H1Connection(), 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n')[0]!;
  assert.ok(plain.type === 'request' && plain.upgrade === undefined);
});

test('CONNECT answered 200 becomes a tunnel; answered 405 the connection continues', () => {
  const tunnel = new H1Connection();
  feed(tunnel, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  tunnel.sendHeaders(200, [], false);
  assert.equal(dec(tunnel.dataToSend()), 'HTTP/1.1 200 OK\r\n\r\n');
  assert.equal(feed(tunnel, 'bytes')[0]!.type, 'tunnelData');
  const refused = new H1Connection();
  feed(refused, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
  refused.sendHeaders(405, ['allow', 'GET, HEAD'], true);
  assert.equal(feed(refused, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')[0]!.type, 'request');
});

test('half-close: after a response the connection is done; inside a head it is a 400; inside a body the request is cut', () => {
  const idle = new H1Connection();
  feed(idle, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  idle.receiveEnd();
  idle.sendHeaders(200, [], true);
  assert.match(dec(idle.dataToSend()), /connection: close/);
  assert.equal(idle.isDone, true);
  const partial = new H1Connection();
  feed(partial, 'GET / HTTP/1.1\r\nHo');
  assert.equal(errorOf(partial.receiveEnd()), 400);
  const cut = new H1Connection();
  feed(cut, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
  assert.deepEqual(cut.receiveEnd().map((e) => e.type), ['inputEnded']);
  assert.equal(cut.wantsInput, false);
});

test('pipelined input beyond maxPipelineBytes stops asking for input until the response ends', () => {
  const conn = new H1Connection({ limits: { maxPipelineBytes: 1000 } });
  feed(conn, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' + 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50));
  assert.equal(conn.wantsInput, false);
  for (let i = 0; i < 51; i++) {
    conn.sendHeaders(204, [], true);
    conn.pollEvents();
  }
  assert.equal(conn.wantsInput, true);
});

test('random bytes never throw and end in at most one protocol error', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constantFrom('GET / HTTP/1.1\r\n', 'Host: x\r\n', '\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 3\r\n', '5\r\nabcde\r\n', '0\r\n\r\n').map(enc)), { maxLength: 20 }), (chunks) => {
      const conn = new H1Connection();
      const events = chunks.flatMap((chunk) => conn.receive(chunk));
      assert.ok(events.filter((e) => e.type === 'protocolError').length <= 1);
      if (conn.currentRequest !== undefined) {
        try {
          conn.sendHeaders(200, [], true);
        } catch (error) {
          assert.ok(error instanceof Error);
        }
      }
    }),
    { numRuns: 3000 },
  );
});

test('valid requests parse the same whatever the read boundaries', () => {
  const request = fc.record({
    path: fc.stringMatching(/^\/[a-z0-9/._~-]{0,30}$/),
    fields: fc.array(fc.tuple(fc.stringMatching(/^x-[a-z]{1,10}$/), fc.stringMatching(/^[ -~]{0,20}$/).map((v) => v.trim())), { maxLength: 8 }),
    body: fc.uint8Array({ maxLength: 300 }),
    chunked: fc.boolean(),
    cuts: fc.array(fc.nat(), { maxLength: 10 }),
  });
  fc.assert(
    fc.property(request, ({ path, fields, body: content, chunked, cuts }) => {
      let head = `POST ${path} HTTP/1.1\r\nHost: h\r\n` + fields.map(([n, v]) => `${n}: ${v}\r\n`).join('');
      const parts: Uint8Array[] = [];
      if (chunked) {
        head += 'Transfer-Encoding: chunked\r\n\r\n';
        parts.push(enc(head));
        if (content.length > 0) parts.push(enc(content.length.toString(16) + '\r\n'), content, enc('\r\n'));
        parts.push(enc('0\r\n\r\n'));
      } else {
        parts.push(enc(head + `Content-Length: ${content.length}\r\n\r\n`), content);
      }
      const wire = Buffer.concat(parts);
      const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
      const conn = new H1Connection();
      const events: H1Event[] = [];
      let last = 0;
      for (const point of [...points, wire.length]) {
        // A data event is a view valid until the next receive(): copied as it arrives.
        for (const event of conn.receive(wire.subarray(last, point))) events.push(event.type === 'data' ? { ...event, data: event.data.slice() } : event);
        last = point;
      }
      const got = Buffer.concat(events.flatMap((e) => (e.type === 'data' ? [Buffer.from(e.data)] : [])));
      assert.ok(got.equals(Buffer.from(content)));
      const requestEvent = events[0]!;
      assert.ok(requestEvent.type === 'request');
      assert.equal(requestEvent.target, path);
      assert.deepEqual(requestEvent.fields.slice(2, 2 + fields.length * 2), fields.flat());
      assert.equal(events.at(-1)!.type, 'requestEnded');
    }),
    { numRuns: 500 },
  );
});

test('llhttp-compatible options: a closed method list, one Content-Length, no HTTP/1.2 (each 400 and close)', () => {
  const options = { methods: new Set(['GET', 'POST']), singleContentLength: true, knownVersionsOnly: true };
  for (const wire of [
    'FROB / HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\nz',
    'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nz',
    'GET / HTTP/1.2\r\nHost: x\r\n\r\n',
  ]) {
    const conn = new H1Connection(options);
    assert.equal(errorOf(feed(conn, wire)), 400, wire);
    assert.match(dec(conn.dataToSend()), /^HTTP\/1.1 400 [^]*\r\nconnection: close\r\n/);
    assert.equal(conn.isDone, true);
  }
  // Without the options the same requests are RFC 9112's to accept (§2.3, §6.3 item 5; RFC 9110 §9.1).
  const accepted = feed(new H1Connection(), 'FROB / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(errorOf(accepted), undefined);
  // The known methods pass.
  assert.equal(errorOf(feed(new H1Connection(options), 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz')), undefined);
});

test('maxHeadContentBytes counts target, names and values (node:http\'s accounting), maxHeadBytes the raw head', () => {
  const limits = { maxHeadBytes: 4096, maxHeadContentBytes: 1000 };
  // 90 fields of 10 content bytes (plus their 4-byte separators): 900 + target + host < 1000, raw > 1000.
  const fields = Array.from({ length: 90 }, (_, i) => `x-${String(i).padStart(3, '0')}: abcde\r\n`).join('');
  const under = new H1Connection({ limits });
  const events = feed(under, `GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n`);
  assert.equal(errorOf(events), undefined);
  assert.equal(events[0]!.type, 'request');
  const over = new H1Connection({ limits });
  assert.equal(errorOf(feed(over, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(1000)}\r\n\r\n`)), 431);
  assert.match(dec(over.dataToSend()), /^HTTP\/1.1 431 /);
  assert.equal(over.isDone, true);
});

test('a connection field with "close" in a response head makes it the connection\'s last', () => {
  const conn = new H1Connection();
  feed(conn, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
  conn.sendHeaders(200, ['content-length', '2', 'connection', 'Keep-Alive, close'], false);
  conn.sendData(enc('ok'), true);
  const out = dec(conn.dataToSend());
  assert.equal(out, 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
  assert.equal(conn.isDone, true);
  assert.deepEqual(conn.pollEvents(), [], 'the pipelined request behind it is never parsed');
});

test('readingContent: the head does not decide on close; unread rest past maxDiscardBytes closes at the end', () => {
  const limits = { maxDiscardBytes: 1000 };
  const head = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n';
  // Without the option, 5000 unread bytes > maxDiscardBytes: the head already says close.
  const plain = new H1Connection({ limits });
  feed(plain, head);
  plain.sendHeaders(200, [], false);
  assert.match(dec(plain.dataToSend()), /connection: close/);
  // With it, the head stays keep-alive; the body read meanwhile lets the connection go on.
  const reading = new H1Connection({ limits });
  feed(reading, head);
  reading.sendHeaders(200, [], false, { readingContent: true });
  assert.doesNotMatch(dec(reading.dataToSend()), /connection: close/);
  assert.equal(body(feed(reading, 'a'.repeat(5000))).length, 5000);
  reading.sendData(enc('done'), true);
  assert.equal(reading.isDone, false);
  assert.equal(feed(reading, 'GET /next HTTP/1.1\r\nHost: x\r\n\r\n')[0]!.type, 'request');
  // Ended with most of the body unread: the rest is dropped up to the bound, then the connection closes.
  const left = new H1Connection({ limits });
  feed(left, head);
  left.sendHeaders(200, [], false, { readingContent: true });
  left.sendData(enc('early'), true);
  assert.equal(left.isDone, false);
  feed(left, 'a'.repeat(2000));
  left.dataToSend();
  assert.equal(left.isDone, true);
});

test('validated heads skip the field checks: the caller vouches for lowercase tokens and clean values', () => {
  const conn = new H1Connection();
  feed(conn, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  conn.sendHeaders(204, ['x-a', 'b'], true, { validated: true });
  assert.equal(dec(conn.dataToSend()), 'HTTP/1.1 204 No Content\r\nx-a: b\r\n\r\n');
});

test('a field value with obs-text goes out as Latin-1 bytes, in a whole message and in a head alone; text content as UTF-8', () => {
  const conn = new H1Connection();
  feed(conn, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
  // Text content: ASCII, then with a character that UTF-8 writes in two bytes, then a lone surrogate (three).
  conn.sendResponse(200, ['x-v', 'caf\u00e9\u00ff', 'content-length', '7'], 'ok \u00e9 !');
  assert.equal(Buffer.from(conn.dataToSend()!).toString('latin1'), 'HTTP/1.1 200 OK\r\nx-v: caf\u00e9\u00ff\r\ncontent-length: 7\r\n\r\nok \u00c3\u00a9 !');
  assert.equal(conn.pollEvents()[0]!.type, 'request');
  conn.sendHeaders(200, ['x-v', '\u00e9', 'content-length', '3'], false);
  conn.sendData(enc('abc'), true);
  assert.equal(Buffer.from(conn.dataToSend()!).toString('latin1'), 'HTTP/1.1 200 OK\r\nx-v: \u00e9\r\ncontent-length: 3\r\n\r\nabc');
  const lone = new H1Connection();
  feed(lone, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  lone.sendResponse(200, ['content-length', '4'], 'a\ud800');
  assert.deepEqual([...Buffer.from(lone.dataToSend()!).subarray(-4)], [0x61, 0xef, 0xbf, 0xbd]);
});

test('a head of many field lines: each line is one field, a CR inside a value is refused', () => {
  const conn = new H1Connection();
  const names = Array.from({ length: 40 }, (_, i) => `X-F${i}`);
  const [request] = feed(conn, `GET / HTTP/1.1\r\nHost: x\r\n${names.map((name, i) => `${name}: v${i}\r\n`).join('')}\r\n`);
  assert.equal(request!.type, 'request');
  const fields = (request as Extract<H1Event, { type: 'request' }>).fields;
  assert.deepEqual(fields, ['host', 'x', ...names.flatMap((name, i) => [name.toLowerCase(), `v${i}`])]);
  const bad = new H1Connection();
  const events = feed(bad, 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\rb\r\n\r\n');
  assert.equal(events.at(-1)!.type, 'protocolError');
});

test('sendResponse: head and content (bytes or UTF-8 text) as one buffer; text that does not match its length throws', () => {
  const conn = new H1Connection();
  feed(conn, 'GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n');
  conn.sendResponse(200, ['content-length', '5'], enc('hello'));
  const parts = conn.dataToSendv();
  assert.equal(parts?.length, 1);
  assert.equal(dec(parts![0]!), 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello');
  assert.equal(conn.pollEvents()[0]!.type, 'request');
  conn.sendResponse(200, ['content-length', '3'], 'é!');
  assert.equal(Buffer.from(conn.dataToSend()!).toString('utf8'), 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\né!');
  assert.equal(conn.pollEvents()[0]!.type, 'request');
  assert.throws(() => conn.sendResponse(200, ['content-length', '2'], 'é!'), FramingError);
  assert.equal(conn.dataToSend(), null, 'nothing of the broken message is queued');
  assert.equal(conn.isDone, true);
  // HEAD: the head only, the content is dropped.
  const head = new H1Connection();
  feed(head, 'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n');
  head.sendResponse(200, ['content-length', '5'], 'hello');
  assert.equal(dec(head.dataToSend()), 'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n');
});
