// RFC 9113 §7 (error codes) and §8 (expressing HTTP semantics: framing, fields, pseudo-headers, CONNECT, push).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, E, S, T, concat, encodeFields, hp, quietClient, req } from './harness.js';

const BASE = [':method', 'GET', ':scheme', 'https', ':authority', 'example.com', ':path', '/'];

/** Sends a complete request header block and expects it to be malformed: RST_STREAM(PROTOCOL_ERROR), no request event. */
function expectMalformed(fields: string[] | Uint8Array, opts: { endStream?: boolean } = { endStream: true }): void {
  const c = Client.connect();
  c.sendHeaders(1, fields, opts);
  c.expectRst(1, E.PROTOCOL_ERROR);
  assert.equal(c.eventsOf('request', 1).length, 0, 'a malformed request MUST NOT reach the application');
  // The connection stays usable after a stream error.
  assert.equal(c.request(3).status, '200');
}

/** Opens stream 1 with a POST (optionally with content-length), without END_STREAM. */
function post(contentLength?: number): Client {
  const c = Client.connect({ app: 'echo' });
  c.sendHeaders(1, req('/', contentLength === undefined ? [] : ['content-length', String(contentLength)], 'POST'));
  return c;
}

describe('RFC 9113 §7 error codes', () => {
  test('§7 an unknown error code in RST_STREAM MUST NOT trigger special behaviour', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendRst(1, 0xffff);
    c.expectNoError();
    assert.equal(c.eventsOf('streamReset', 1)[0]?.code, 0xffff);
  });

  test('§7 every error code the server sends on RST_STREAM/GOAWAY is a defined one', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendData(1, 'x');
    c.sendWindowUpdate(0, 0);
    const codes = c.frames.filter((f) => f.errorCode !== undefined).map((f) => f.errorCode!);
    assert.ok(codes.length >= 2);
    assert.ok(codes.every((code) => code <= 0xd));
  });
});

describe('RFC 9113 §8.1 HTTP message framing', () => {
  test('§8.1 a request of one HEADERS frame with END_STREAM: request (endStream) then streamEnded, response with :status first', () => {
    const c = Client.connect();
    const res = c.request(1);
    const types = c.events.filter((e) => 'streamId' in e && e.streamId === 1).map((e) => e.type);
    assert.deepEqual(types.slice(0, 2), ['request', 'streamEnded']);
    assert.equal(c.eventsOf('request', 1)[0]!.endStream, true);
    assert.equal(res.headers[0], ':status');
    assert.equal(res.status, '200');
    assert.equal(res.body, 'hello');
    assert.equal(res.ended, true);
  });

  test('§8.1 request with body and trailers: data events, then a trailers event, then streamEnded', () => {
    const c = post();
    c.sendData(1, 'part1-');
    c.sendData(1, 'part2');
    c.sendHeaders(1, ['x-checksum', 'abc'], { endStream: true });
    assert.equal(c.requestBody(1), 'part1-part2');
    assert.deepEqual(c.eventsOf('trailers', 1)[0]?.headers, ['x-checksum', 'abc']);
    assert.equal(c.eventsOf('streamEnded', 1).length, 1);
    assert.equal(c.response(1).body, 'part1-part2');
    c.expectNoError();
  });

  test('§8.1 trailers directly after the request headers (no body) are accepted', () => {
    const c = post();
    c.sendHeaders(1, ['x-t', '1'], { endStream: true });
    assert.deepEqual(c.eventsOf('trailers', 1)[0]?.headers, ['x-t', '1']);
    c.expectNoError();
  });

  test('§8.1 a trailer HEADERS frame without END_STREAM → stream error PROTOCOL_ERROR (malformed)', () => {
    const c = post();
    c.sendData(1, 'body');
    c.sendHeaders(1, ['x-t', '1'], { endStream: false });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§8.1 trailers containing a pseudo-header field → stream error PROTOCOL_ERROR (malformed)', () => {
    const c = post();
    c.sendHeaders(1, [':path', '/x'], { endStream: true });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§8.1 trailers containing a connection-specific field → stream error PROTOCOL_ERROR', () => {
    const c = post();
    c.sendHeaders(1, ['connection', 'close'], { endStream: true });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§8.1 trailers with an uppercase field name → stream error PROTOCOL_ERROR', () => {
    const c = post();
    c.sendHeaders(1, ['X-Trailer', '1'], { endStream: true });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§8.1 informational responses: 103 as HEADERS without END_STREAM before the final response', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendInformational(1, 103, ['link', '</style.css>; rel=preload']);
    c.engine.sendHeaders(1, [':status', '200'], true);
    c.drain();
    const res = c.response(1);
    assert.equal(res.blocks.length, 2);
    assert.deepEqual(res.blocks[0], [':status', '103', 'link', '</style.css>; rel=preload']);
    assert.equal(res.status, '200');
    const headerFrames = c.frames.filter((f) => f.type === T.HEADERS && f.streamId === 1);
    assert.equal(headerFrames[0]!.flags & 0x1, 0, 'the 1xx HEADERS frame does not end the stream');
  });

  test('§8.1 the server can complete its response while the request is still open; later request DATA is accepted (half-closed local)', () => {
    const c = quietClient();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.engine.sendHeaders(1, [':status', '200'], true);
    c.drain();
    c.sendData(1, 'still uploading');
    c.sendData(1, '', { endStream: true });
    c.expectNoError();
    assert.equal(c.requestBody(1), 'still uploading');
  });

  test('§8.1 response trailers are sent as a final HEADERS frame with END_STREAM', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new TextEncoder().encode('b'), false);
    c.engine.sendTrailers(1, ['grpc-status', '0']);
    c.drain();
    const res = c.response(1);
    assert.deepEqual(res.blocks[1], ['grpc-status', '0']);
    assert.equal(res.ended, true);
  });

  test('§8.6 the server cannot send 101 (Switching Protocols): sendInformational(101) is rejected, nothing is sent', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    assert.throws(() => c.engine.sendInformational(1, 101));
    c.drain();
    assert.equal(c.response(1).blocks.length, 0);
  });
});

describe('RFC 9113 §8.1.1 malformed messages: content-length', () => {
  test('§8.1.1 content-length matching the DATA received is accepted and reported', () => {
    const c = post(5);
    c.sendData(1, 'hel');
    c.sendData(1, 'lo', { endStream: true });
    assert.equal(c.eventsOf('request', 1)[0]?.contentLength, 5);
    assert.equal(c.response(1).body, 'hello');
    c.expectNoError();
  });

  test('§8.1.1 more DATA than content-length → stream error PROTOCOL_ERROR', () => {
    const c = post(3);
    c.sendData(1, 'abcd', { endStream: true });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§8.1.1 more DATA than content-length across frames (detected before END_STREAM) → stream error PROTOCOL_ERROR', () => {
    const c = post(4);
    c.sendData(1, 'abc');
    c.sendData(1, 'de');
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§8.1.1 less DATA than content-length at END_STREAM → stream error PROTOCOL_ERROR', () => {
    const c = post(10);
    c.sendData(1, 'abc', { endStream: true });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§8.1.1 content-length > 0 on a HEADERS frame with END_STREAM → stream error PROTOCOL_ERROR', () => {
    expectMalformed(req('/', ['content-length', '5'], 'POST'));
  });

  test('§8.1.1 content-length: 0 with END_STREAM on HEADERS is valid', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/', ['content-length', '0'], 'POST'), { endStream: true });
    assert.equal(c.response(1).status, '200');
    c.expectNoError();
  });

  test('§8.1.1 content-length: 0 followed by one octet of DATA → stream error PROTOCOL_ERROR', () => {
    const c = post(0);
    c.sendData(1, 'x', { endStream: true });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§8.1.1 content-length ended by trailers with too little DATA → stream error PROTOCOL_ERROR', () => {
    const c = post(10);
    c.sendData(1, 'abc');
    c.sendHeaders(1, ['x-t', '1'], { endStream: true });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§8.1.1 padding does not count toward content-length', () => {
    const c = post(3);
    c.sendData(1, 'abc', { padLength: 50, endStream: true });
    assert.equal(c.response(1).body, 'abc');
    c.expectNoError();
  });

  test('§8.1.1 a non-numeric content-length → stream error PROTOCOL_ERROR (RFC 9110 §8.6)', () => {
    expectMalformed(req('/', ['content-length', 'abc'], 'POST'), { endStream: false });
  });

  test('§8.1.1 conflicting content-length values → stream error PROTOCOL_ERROR (RFC 9110 §8.6)', () => {
    expectMalformed(req('/', ['content-length', '3', 'content-length', '4'], 'POST'), { endStream: false });
  });
});

describe('RFC 9113 §8.2 HTTP fields', () => {
  test('§8.2 field names MUST be lowercase: an uppercase name → stream error PROTOCOL_ERROR', () => {
    expectMalformed(req('/', ['X-Custom', 'v']));
  });

  test('§8.2.1 a field name with a space → malformed', () => {
    expectMalformed(req('/', ['x custom', 'v']));
  });

  test('§8.2.1 a field name with a colon (not a pseudo-header) → malformed', () => {
    expectMalformed(req('/', ['x:custom', 'v']));
  });

  test('§8.2.1 a field name with NUL → malformed', () => {
    expectMalformed(req('/', ['x\u0000c', 'v']));
  });

  test('§8.2.1 a field name with DEL (0x7f) → malformed', () => {
    expectMalformed(req('/', ['x\u007fc', 'v']));
  });

  test('§8.2.1 a field name with a non-ASCII octet (0xe9) → malformed', () => {
    expectMalformed(req('/', ['caf\u00e9', 'v']));
  });

  test('§8.2.1 an empty field name → malformed', () => {
    expectMalformed(req('/', ['', 'v']));
  });

  test('§8.2.1 a field value containing NUL → malformed', () => {
    expectMalformed(req('/', ['x-v', 'a\u0000b']));
  });

  test('§8.2.1 a field value containing LF → malformed', () => {
    expectMalformed(req('/', ['x-v', 'a\nb']));
  });

  test('§8.2.1 a field value containing CR → malformed', () => {
    expectMalformed(req('/', ['x-v', 'a\rb']));
  });

  test('§8.2.1 a field value starting with a space → malformed', () => {
    expectMalformed(req('/', ['x-v', ' ab']));
  });

  test('§8.2.1 a field value ending with a horizontal tab → malformed', () => {
    expectMalformed(req('/', ['x-v', 'ab\t']));
  });

  test('§8.2.1 valid values: inner spaces, tabs, obs-text and the empty value are accepted', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/', ['x-a', 'a b\tc', 'x-b', 'caf\u00e9', 'x-c', '']), { endStream: true });
    assert.deepEqual(c.eventsOf('request', 1)[0]?.headers, ['x-a', 'a b\tc', 'x-b', 'caf\u00e9', 'x-c', '']);
    c.expectNoError();
  });

  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']) {
    test(`§8.2.2 connection-specific field "${name}" in a request → malformed`, () => {
      expectMalformed(req('/', [name, name === 'transfer-encoding' ? 'chunked' : 'x']));
    });
  }

  test('§8.2.2 te: trailers is the one allowed te value', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/', ['te', 'trailers']), { endStream: true });
    assert.equal(c.response(1).status, '200');
    c.expectNoError();
  });

  test('§8.2.2 te with a value other than "trailers" → malformed', () => {
    expectMalformed(req('/', ['te', 'gzip']));
  });

  test('§8.2.2 te: "trailers, gzip" → malformed', () => {
    expectMalformed(req('/', ['te', 'trailers, gzip']));
  });

  test('§8.2.3 multiple cookie fields (crumbs) are delivered in order', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/', ['cookie', 'a=1', 'cookie', 'b=2']), { endStream: true });
    assert.deepEqual(c.eventsOf('request', 1)[0]?.headers, ['cookie', 'a=1', 'cookie', 'b=2']);
  });
});

describe('RFC 9113 §8.3 HTTP control data (pseudo-header fields)', () => {
  test('§8.3 an unknown pseudo-header field → malformed', () => {
    expectMalformed([...BASE, ':foo', 'bar']);
  });

  test('§8.3 a response pseudo-header (:status) in a request → malformed', () => {
    expectMalformed([...BASE, ':status', '200']);
  });

  test('§8.3 a pseudo-header after a regular field → malformed', () => {
    expectMalformed([':method', 'GET', ':scheme', 'https', 'x-a', '1', ':path', '/', ':authority', 'example.com']);
  });

  test('§8.3.1 a duplicated :method → malformed', () => {
    expectMalformed([...BASE, ':method', 'GET']);
  });

  test('§8.3.1 a duplicated :path → malformed', () => {
    expectMalformed([...BASE, ':path', '/again']);
  });

  test('§8.3.1 a duplicated :scheme → malformed', () => {
    expectMalformed([...BASE, ':scheme', 'https']);
  });

  test('§8.3.1 a duplicated :authority → malformed', () => {
    expectMalformed([...BASE, ':authority', 'example.com']);
  });

  test('§8.3.1 a missing :method → malformed', () => {
    expectMalformed([':scheme', 'https', ':authority', 'example.com', ':path', '/']);
  });

  test('§8.3.1 a missing :scheme → malformed', () => {
    expectMalformed([':method', 'GET', ':authority', 'example.com', ':path', '/']);
  });

  test('§8.3.1 a missing :path → malformed', () => {
    expectMalformed([':method', 'GET', ':scheme', 'https', ':authority', 'example.com']);
  });

  test('§8.3.1 an empty :path for an https URI → malformed', () => {
    expectMalformed([':method', 'GET', ':scheme', 'https', ':authority', 'example.com', ':path', '']);
  });

  test('§8.3.1 :path "*" for OPTIONS is accepted', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('*', [], 'OPTIONS'), { endStream: true });
    assert.equal(c.eventsOf('request', 1)[0]?.pseudo.path, '*');
    c.expectNoError();
  });

  test('§8.3.1 :authority may be omitted (host carries the authority)', () => {
    const c = Client.connect();
    c.sendHeaders(1, [':method', 'GET', ':scheme', 'https', ':path', '/', 'host', 'example.com'], { endStream: true });
    const r = c.eventsOf('request', 1)[0]!;
    assert.equal(r.pseudo.authority, undefined);
    assert.deepEqual(r.headers, ['host', 'example.com']);
    c.expectNoError();
  });

  test('§8.3.1 the request event exposes the pseudo-headers separately from the regular fields', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/p?q=1', ['accept', '*/*'], 'HEAD'), { endStream: true });
    const r = c.eventsOf('request', 1)[0]!;
    assert.deepEqual(
      { method: r.pseudo.method, scheme: r.pseudo.scheme, authority: r.pseudo.authority, path: r.pseudo.path },
      { method: 'HEAD', scheme: 'https', authority: 'example.com', path: '/p?q=1' },
    );
    assert.deepEqual(r.headers, ['accept', '*/*']);
    assert.equal(r.contentLength, -1);
  });

  test('§8.3 :protocol on a non-CONNECT request → malformed (RFC 8441 §4)', () => {
    expectMalformed([...BASE, ':protocol', 'websocket']);
  });

  test('§8.3 a pseudo-header field with an uppercase name → malformed', () => {
    expectMalformed([':method', 'GET', ':scheme', 'https', ':authority', 'example.com', ':Path', '/']);
  });
});

describe('RFC 9113 §8.5 the CONNECT method', () => {
  test('§8.5 CONNECT with only :method and :authority is a valid request', () => {
    const c = quietClient();
    c.sendHeaders(1, [':method', 'CONNECT', ':authority', 'example.com:443']);
    const r = c.eventsOf('request', 1)[0]!;
    assert.equal(r.pseudo.method, 'CONNECT');
    assert.equal(r.pseudo.authority, 'example.com:443');
    assert.equal(r.pseudo.scheme, undefined);
    assert.equal(r.pseudo.path, undefined);
    c.expectNoError();
  });

  test('§8.5 CONNECT with :scheme → malformed', () => {
    expectMalformed([':method', 'CONNECT', ':scheme', 'https', ':authority', 'example.com:443'], { endStream: false });
  });

  test('§8.5 CONNECT with :path → malformed', () => {
    expectMalformed([':method', 'CONNECT', ':path', '/', ':authority', 'example.com:443'], { endStream: false });
  });

  test('§8.5 CONNECT without :authority → malformed', () => {
    expectMalformed([':method', 'CONNECT'], { endStream: false });
  });

  test('§8.5 CONNECT tunnel data flows as DATA frames in both directions', () => {
    const c = quietClient();
    c.sendHeaders(1, [':method', 'CONNECT', ':authority', 'example.com:443']);
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.sendData(1, 'ping-bytes');
    c.engine.sendData(1, new TextEncoder().encode('pong-bytes'), false);
    c.drain();
    assert.equal(c.requestBody(1), 'ping-bytes');
    assert.equal(c.response(1).body, 'pong-bytes');
    c.expectNoError();
  });
});

describe('RFC 9113 §8.4 server push', () => {
  test('§8.4 the server never sends PUSH_PROMISE', () => {
    const c = Client.connect({ settings: [[S.ENABLE_PUSH, 1]] });
    c.request(1);
    assert.ok(!c.frames.some((f) => f.type === T.PUSH_PROMISE));
  });
});

describe('RFC 9113 §10.5.1 / §6.5.2 header list size', () => {
  const limit = 1000;
  const overhead = (fields: string[]): number => {
    let n = 0;
    for (let i = 0; i < fields.length; i += 2) n += fields[i]!.length + fields[i + 1]!.length + 32;
    return n;
  };

  test('§6.5.2 the server advertises SETTINGS_MAX_HEADER_LIST_SIZE', () => {
    const c = Client.connect({ engine: { limits: { maxHeaderListSize: limit } } });
    assert.equal(c.serverSettings.get(S.MAX_HEADER_LIST_SIZE), limit);
  });

  test('§10.5.1 a header list over the limit → 431 response, no request event, the connection continues', () => {
    const c = Client.connect({ engine: { limits: { maxHeaderListSize: limit } } });
    c.sendHeaders(1, req('/', ['x-big', 'a'.repeat(limit)]), { endStream: true });
    assert.equal(c.eventsOf('request', 1).length, 0);
    assert.equal(c.response(1).status, '431');
    c.readFrames();
    c.expectAlive();
    assert.equal(c.request(3).status, '200');
  });

  test('§6.5.2 header list size counts name + value + 32 per field: exactly the limit is accepted, one more octet gets 431', () => {
    const c = Client.connect({ engine: { limits: { maxHeaderListSize: limit } } });
    const base = req('/', ['x-pad', '']);
    const fill = limit - overhead(base);
    c.sendHeaders(1, req('/', ['x-pad', 'p'.repeat(fill)]), { endStream: true });
    assert.equal(c.response(1).status, '200');
    c.sendHeaders(3, req('/', ['x-pad', 'p'.repeat(fill + 1)]), { endStream: true });
    assert.equal(c.response(3).status, '431');
  });

  test('§4.3/§10.5.1 an oversized header list is still decoded: its table insertions stay usable', () => {
    const c = Client.connect({ engine: { limits: { maxHeaderListSize: limit } } });
    c.sendHeaders(1, concat(encodeFields(req()), hp.incremental('x-kept', 'v'), hp.literal('x-big', 'b'.repeat(limit))), { endStream: true });
    assert.equal(c.response(1).status, '431');
    c.sendHeaders(3, concat(encodeFields(req()), hp.indexed(62)), { endStream: true });
    assert.deepEqual(c.eventsOf('request', 3)[0]?.headers, ['x-kept', 'v']);
  });
});

describe('RFC 9113 §8.2 / §8.3.2 fields the server generates', () => {
  test('§8.2.2 the server never sends connection-specific fields, even if the application passes them', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    try {
      c.engine.sendHeaders(1, [':status', '200', 'connection', 'close', 'keep-alive', 'timeout=5', 'transfer-encoding', 'chunked', 'upgrade', 'h2c', 'proxy-connection', 'x', 'x-ok', '1'], true);
    } catch {
      // Rejecting the call is as good as stripping: nothing forbidden may reach the wire.
    }
    c.drain();
    const names = c.response(1).blocks.flatMap((b) => b.filter((_, i) => i % 2 === 0));
    for (const forbidden of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']) assert.ok(!names.includes(forbidden), forbidden);
  });

  test('§8.2 field names the server sends are lowercase', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    try {
      c.engine.sendHeaders(1, [':status', '200', 'X-Mixed-Case', 'v'], true);
    } catch {
      // Rejecting is acceptable.
    }
    c.drain();
    const names = c.response(1).blocks.flatMap((b) => b.filter((_, i) => i % 2 === 0));
    assert.ok(names.every((n) => n === n.toLowerCase()), JSON.stringify(names));
  });

  test('§8.2.1 a pseudo-header value containing LF → malformed', () => {
    expectMalformed([':method', 'GET', ':scheme', 'https', ':authority', 'example.com', ':path', '/a\nb']);
  });

  test('§8.3.1 request event carries :authority and host separately when both are present', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/', ['host', 'example.com']), { endStream: true });
    const r = c.eventsOf('request', 1)[0]!;
    assert.equal(r.pseudo.authority, 'example.com');
    assert.deepEqual(r.headers, ['host', 'example.com']);
  });
});

describe('RFC 9113 §5.4.2 / §5.1 frames after the server reset a stream for a protocol error', () => {
  test('§5.1 DATA still in flight after a content-length stream error is ignored and credited to the connection window', () => {
    const c = Client.connect({ app: 'echo' });
    c.sendHeaders(1, req('/', ['content-length', '1'], 'POST'));
    c.sendData(1, 'too long');
    c.expectRst(1, E.PROTOCOL_ERROR);
    c.sendData(1, 'more in flight');
    c.sendData(1, '', { endStream: true });
    c.expectNoError();
    assert.equal(c.request(3).status, '200');
  });

  test('§5.1 a malformed request that was reset: the client\'s late RST_STREAM for it is ignored', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/', ['Upper', 'x']), { endStream: false });
    c.expectRst(1, E.PROTOCOL_ERROR);
    c.sendRst(1, E.CANCEL);
    c.expectNoError();
  });
});

describe('RFC 9113 §10.5.1 / RFC 7541 §7.3 HPACK expansion', () => {
  test('§10.5.1 a small block that expands (repeated references to a large dynamic entry) past the header list limit → 431, memory bounded', () => {
    const c = Client.connect();
    const refs: number[] = [];
    for (let i = 0; i < 200; i++) refs.push(...hp.indexed(62));
    c.sendHeaders(1, concat(encodeFields(req()), hp.incremental('x-bomb', 'b'.repeat(3000)), refs), { endStream: true });
    assert.equal(c.eventsOf('request', 1).length, 0);
    assert.equal(c.response(1).status, '431');
    assert.equal(c.request(3).status, '200');
  });
});

describe('RFC 9113 §8.3.1 request target rules (additional)', () => {
  test('§8.3.1 :authority MUST NOT include userinfo for https → malformed', () => {
    expectMalformed([':method', 'GET', ':scheme', 'https', ':authority', 'user:pass@example.com', ':path', '/']);
  });

  test('§8.3.1 (SHOULD) a host field that differs from :authority → malformed', () => {
    expectMalformed(req('/', ['host', 'other.example']));
  });

  test('§8.3.1 host matching :authority case-insensitively is accepted', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/', ['host', 'EXAMPLE.com']), { endStream: true });
    assert.equal(c.response(1).status, '200');
  });

  test('§8.3.1 a :path that is not origin-form ("index.html") → malformed', () => {
    expectMalformed(req('index.html'));
  });

  test('§8.3.1 :path "*" with a method other than OPTIONS → malformed', () => {
    expectMalformed(req('*'));
  });

  test('§8.3.1 a :method that is not a token ("GE T") → malformed', () => {
    expectMalformed(req('/', [], 'GE T'));
  });

  test('§8.3.1 an empty :method → malformed', () => {
    expectMalformed(req('/', [], ''));
  });
});

describe('RFC 8441 §4 extended CONNECT (when the server enables it)', () => {
  const enabled = () => Client.connect({ app: 'none', engine: { settings: { enableConnectProtocol: true } } });
  const ws = [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':path', '/chat', ':authority', 'example.com'];

  test('RFC 8441 §3 the server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL = 1', () => {
    assert.equal(enabled().serverSettings.get(0x8), 1);
  });

  test('RFC 8441 §4 CONNECT with :protocol, :scheme, :path and :authority is a request with protocol set', () => {
    const c = enabled();
    c.sendHeaders(1, ws);
    const r = c.eventsOf('request', 1)[0]!;
    assert.deepEqual([r.pseudo.method, r.pseudo.protocol, r.pseudo.path, r.pseudo.scheme], ['CONNECT', 'websocket', '/chat', 'https']);
    c.expectNoError();
  });

  test('RFC 8441 §4 extended CONNECT without :path → malformed', () => {
    const c = enabled();
    c.sendHeaders(1, [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':authority', 'example.com']);
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('RFC 8441 §3 :protocol when the server did not enable the extension → malformed', () => {
    expectMalformed(ws, { endStream: false });
  });
});

describe('RFC 9113 §6.8 the client\'s GOAWAY and connection state', () => {
  test('§6.8 after the client\'s GOAWAY the engine is closing; it is done once open streams finish', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendGoaway(1, E.NO_ERROR);
    assert.equal(c.engine.isClosing, true);
    assert.equal(c.engine.isDone, false, 'stream 1 is still open');
    c.engine.sendHeaders(1, [':status', '204'], true);
    c.drain();
    assert.equal(c.engine.isDone, true);
  });

  test('§6.8 lastStreamId and openStreamCount follow the streams the server processed', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendHeaders(5, req('/', [], 'POST'));
    assert.equal(c.engine.lastStreamId, 5);
    assert.equal(c.engine.openStreamCount, 2);
    c.sendRst(5, E.CANCEL);
    assert.equal(c.engine.openStreamCount, 1);
  });
});

describe('RFC 9113 §8.5 frames on a CONNECT tunnel', () => {
  test('§8.5 a HEADERS frame (trailers) on an established CONNECT stream → stream error', () => {
    const c = quietClient();
    c.sendHeaders(1, [':method', 'CONNECT', ':authority', 'example.com:443']);
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.drain();
    c.sendData(1, 'tunnel');
    c.sendHeaders(1, ['x-trailer', '1'], { endStream: true });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §8.1 the engine refuses to frame a malformed response', () => {
  const cases: Array<[string, (c: Client) => void]> = [
    ['DATA before the response headers', (c) => c.engine.sendData(1, new Uint8Array(3), true)],
    ['trailers before the response headers', (c) => c.engine.sendTrailers(1, ['x-t', '1'])],
    ['a response whose first field is not :status', (c) => c.engine.sendHeaders(1, ['content-type', 'text/plain', ':status', '200'], true)],
    ['a 1xx status as the final response', (c) => c.engine.sendHeaders(1, [':status', '103'], true)],
    ['a second final response', (c) => {
      c.engine.sendHeaders(1, [':status', '200'], false);
      c.drain();
      c.readFrames();
      c.engine.sendHeaders(1, [':status', '500'], true);
    }],
    ['an informational response after the final one', (c) => {
      c.engine.sendHeaders(1, [':status', '200'], false);
      c.drain();
      c.readFrames();
      c.engine.sendInformational(1, 103);
    }],
    ['a pseudo-header in trailers', (c) => {
      c.engine.sendHeaders(1, [':status', '200'], false);
      c.drain();
      c.readFrames();
      c.engine.sendTrailers(1, [':status', '200']);
    }],
  ];
  for (const [name, misuse] of cases) {
    test(`§8.1 ${name} is rejected by the engine and nothing reaches the wire`, () => {
      const c = quietClient();
      c.sendHeaders(1, req(), { endStream: true });
      assert.throws(() => misuse(c));
      c.drain();
      assert.deepEqual(c.readFrames().filter((f) => f.streamId === 1), []);
      // The stream is still usable for a correct response afterwards.
      if (!c.response(1).status) {
        c.engine.sendHeaders(1, [':status', '204'], true);
        c.drain();
        assert.equal(c.response(1).status, '204');
      }
    });
  }
});
