// RFC 9113 §3 (starting HTTP/2: the connection preface) and §4 (frame format, frame size, field section compression).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, E, FLAG, PREFACE, T, concat, encodeFields, frame, hp, quietClient, req, settingsPayload, u32 } from './harness.js';

describe('RFC 9113 §3.4 HTTP/2 connection preface', () => {
  test('§3.4 server preface: the first frame the server sends is a non-ACK SETTINGS frame on stream 0', () => {
    const c = Client.connect();
    const first = c.frames[0]!;
    assert.equal(first.type, T.SETTINGS);
    assert.equal(first.streamId, 0);
    assert.equal(first.flags & FLAG.ACK, 0);
    assert.equal(first.length % 6, 0);
  });

  test('§3.4 the SETTINGS frame of the client preface MUST be acknowledged: SETTINGS ACK, empty, stream 0', () => {
    const c = new Client();
    c.send(concat(PREFACE, frame(T.SETTINGS, 0, 0, settingsPayload([[0x3, 100]]))));
    const ack = c.readFrames().find((f) => f.type === T.SETTINGS && f.flags & FLAG.ACK);
    assert.ok(ack, 'SETTINGS ACK');
    assert.equal(ack.length, 0);
    assert.equal(ack.streamId, 0);
  });

  test('§3.4 an invalid connection preface (wrong magic) → connection error PROTOCOL_ERROR', () => {
    const c = new Client();
    c.send(concat('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n', frame(T.SETTINGS, 0, 0)));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§3.4 an HTTP/1.1 request line instead of the preface → connection error PROTOCOL_ERROR', () => {
    const c = new Client();
    c.send('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§3.4 the preface magic MUST be followed by a SETTINGS frame: a PING first → connection error PROTOCOL_ERROR', () => {
    const c = new Client();
    c.send(concat(PREFACE, frame(T.PING, 0, 0, new Uint8Array(8))));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§3.4 the preface magic followed by HEADERS (no SETTINGS) → connection error PROTOCOL_ERROR', () => {
    const c = new Client();
    c.send(concat(PREFACE, frame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, encodeFields(req()))));
    assert.equal(c.eventsOf('request').length, 0);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§3.4 the preface delivered one octet at a time is accepted and a request is served', () => {
    const c = new Client();
    const all = concat(PREFACE, frame(T.SETTINGS, 0, 0), frame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, encodeFields(req())));
    for (const b of all) c.send([b]);
    assert.equal(c.response(1).status, '200');
    assert.equal(c.response(1).body, 'hello');
  });

  test('§3.4 preface, SETTINGS and a first request in one write are all processed', () => {
    const c = new Client();
    c.send(concat(PREFACE, frame(T.SETTINGS, 0, 0), frame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, encodeFields(req()))));
    assert.equal(c.response(1).status, '200');
    c.expectNoError();
  });

  test('§3.4 a truncated preface produces no error until more bytes arrive', () => {
    const c = new Client();
    c.send(PREFACE.subarray(0, 10));
    assert.ok(!c.readFrames().some((f) => f.type === T.GOAWAY));
    c.send(concat(PREFACE.subarray(10), frame(T.SETTINGS, 0, 0)));
    c.expectNoError();
  });
});

describe('RFC 9113 §4.1 frame format', () => {
  test('§4.1 "Implementations MUST ignore and discard frames of unknown types" (stream 0)', () => {
    const c = Client.connect();
    c.sendFrame(0xfa, 0, 0, 'extension payload');
    c.expectNoError();
  });

  test('§4.1 an unknown frame type on an open stream is ignored and the request completes', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: false });
    c.sendFrame(0xfb, 0xff, 1, 'x');
    c.sendData(1, 'body', { endStream: true });
    assert.equal(c.response(1).status, '200');
    c.expectNoError();
  });

  test('§4.1 an unknown frame type on an idle stream is ignored (no PROTOCOL_ERROR)', () => {
    const c = Client.connect();
    c.sendFrame(0xfc, 0, 7, 'x');
    c.expectNoError();
    assert.equal(c.request(1).status, '200');
  });

  test('§4.1 unknown flags on DATA MUST be ignored', () => {
    const c = Client.connect({ app: 'echo' });
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendFrame(T.DATA, 0xf6 | FLAG.END_STREAM, 1, 'abc');
    assert.equal(c.response(1).body, 'abc');
    c.expectNoError();
  });

  test('§4.1 unknown flags on HEADERS MUST be ignored', () => {
    const c = Client.connect();
    c.sendFrame(T.HEADERS, 0xd2 | FLAG.END_HEADERS | FLAG.END_STREAM, 1, encodeFields(req()));
    assert.equal(c.response(1).status, '200');
    c.expectNoError();
  });

  test('§4.1 unknown flags on PING are ignored; the ACK leaves undefined flags unset', () => {
    const c = Client.connect();
    c.sendFrame(T.PING, 0xfe, 0, [1, 2, 3, 4, 5, 6, 7, 8]);
    const ack = c.readFrames().find((f) => f.type === T.PING);
    assert.ok(ack, 'PING ACK');
    assert.equal(ack.flags, FLAG.ACK);
    assert.deepEqual([...ack.payload], [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('§4.1 unknown flags on SETTINGS are ignored (still acknowledged)', () => {
    const c = Client.connect();
    c.sendFrame(T.SETTINGS, 0xfe, 0, settingsPayload([[0x3, 50]]));
    const frames = c.expectNoError();
    assert.ok(frames.some((f) => f.type === T.SETTINGS && f.flags === FLAG.ACK));
  });

  test('§4.1 unknown flags on WINDOW_UPDATE, PRIORITY and RST_STREAM are ignored', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendFrame(T.WINDOW_UPDATE, 0xff, 0, u32(100));
    c.sendFrame(T.WINDOW_UPDATE, 0xff, 1, u32(100));
    c.sendFrame(T.PRIORITY, 0xff, 1, [0, 0, 0, 0, 15]);
    c.expectNoError();
    c.sendFrame(T.RST_STREAM, 0xff, 1, u32(E.CANCEL));
    c.expectNoError();
    assert.equal(c.eventsOf('streamReset', 1).length, 1);
  });

  test('§4.1 the reserved bit of the stream identifier MUST be ignored when receiving', () => {
    const c = Client.connect();
    c.sendFrame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 0x80000001, encodeFields(req()));
    assert.equal(c.response(1).status, '200');
    c.expectNoError();
  });

  test('§4.1 the reserved bit MUST remain unset when sending', () => {
    const c = Client.connect();
    c.request(1);
    c.request(3);
    c.sendWindowUpdate(0, 1000);
    assert.ok(c.frames.length > 0);
    assert.ok(c.frames.every((f) => !f.reservedBit));
  });

  test('§4.1 a frame header split across receive() calls is reassembled', () => {
    const c = Client.connect();
    const f = frame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, encodeFields(req()));
    c.send(f.subarray(0, 4));
    c.send(f.subarray(4, 11));
    c.send(f.subarray(11));
    assert.equal(c.response(1).status, '200');
  });
});

describe('RFC 9113 §4.2 frame size', () => {
  test('§4.2 a DATA frame larger than SETTINGS_MAX_FRAME_SIZE → FRAME_SIZE_ERROR', () => {
    const c = quietClient();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendData(1, new Uint8Array(c.maxFrameSize + 1));
    c.expectStreamOrConnectionError(1, E.FRAME_SIZE_ERROR);
  });

  test('§4.2 an oversized HEADERS frame (carries a field block) → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    const block = encodeFields(req('/', ['x-big', 'a'.repeat(c.maxFrameSize)]));
    c.sendFrame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, block);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§4.2 an oversized CONTINUATION frame → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendFrame(T.CONTINUATION, FLAG.END_HEADERS, 1, hp.literal('x-big', 'a'.repeat(c.maxFrameSize)));
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§4.2 an oversized SETTINGS frame → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    const count = Math.ceil((c.maxFrameSize + 1) / 6);
    c.sendFrame(T.SETTINGS, 0, 0, settingsPayload(Array.from({ length: count }, () => [0x3, 100] as [number, number])));
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§4.2 an oversized frame on stream 0 (unknown type) → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(0xfa, 0, 0, new Uint8Array(c.maxFrameSize + 1));
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§4.2 a frame header announcing more than SETTINGS_MAX_FRAME_SIZE is rejected before its payload arrives', () => {
    const c = Client.connect();
    // Only the 9-octet header: the size check must not wait for (or buffer) 16 MiB of payload.
    c.send(frame(T.HEADERS, FLAG.END_HEADERS, 1, [], 0xffffff).subarray(0, 9));
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§4.2 a DATA frame of exactly SETTINGS_MAX_FRAME_SIZE is accepted', () => {
    const c = Client.connect({ app: 'echo' });
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendData(1, new Uint8Array(c.maxFrameSize).fill(0x61), { endStream: true });
    c.expectNoError();
    assert.equal(c.requestBody(1).length, c.maxFrameSize);
  });

  test('§4.2 frames up to the larger SETTINGS_MAX_FRAME_SIZE the server advertised are accepted', () => {
    const c = Client.connect({ engine: { settings: { maxFrameSize: 32768 } } });
    assert.equal(c.maxFrameSize, 32768);
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendData(1, new Uint8Array(20000), { endStream: true });
    c.expectNoError();
    assert.equal(c.requestBody(1).length, 20000);
  });

  test('§4.2 the server never sends a frame larger than the client\'s SETTINGS_MAX_FRAME_SIZE (16384 default)', () => {
    const c = Client.connect({ body: 'z'.repeat(40000) });
    c.request(1);
    const res = c.response(1);
    assert.equal(res.body.length, 40000);
    assert.ok(c.frames.every((f) => f.length <= 16384), 'every frame ≤ 16384 octets');
  });

  test('§4.2 HEADERS with the PRIORITY flag too short for the priority fields → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.HEADERS, FLAG.END_HEADERS | FLAG.PRIORITY, 1, [0, 0, 0]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });
});

describe('RFC 9113 §4.3 field section compression and decompression', () => {
  test('§4.3 a field block that fails to decode → connection error COMPRESSION_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, concat(encodeFields(req()), [0x80]), { endStream: true });
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.3 the dynamic table is shared by every field block on the connection', () => {
    const c = Client.connect();
    c.sendHeaders(1, concat(encodeFields(req()), hp.incremental('x-shared', 'one')), { endStream: true });
    c.sendHeaders(3, concat(encodeFields(req()), hp.indexed(62)), { endStream: true });
    const r = c.eventsOf('request', 3)[0]!;
    assert.deepEqual(r.headers, ['x-shared', 'one']);
    c.expectNoError();
  });

  test('§4.3 a field block on a refused stream is still decoded, keeping the dynamic table in sync', () => {
    const c = Client.connect({ app: 'none', engine: { limits: { maxConcurrentStreams: 1 } } });
    c.sendHeaders(1, req(), { endStream: true });
    c.sendHeaders(3, concat(encodeFields(req()), hp.incremental('x-refused', 'kept')), { endStream: true });
    c.expectRst(3, E.REFUSED_STREAM);
    c.engine.sendHeaders(1, [':status', '204'], true);
    c.drain();
    c.sendHeaders(5, concat(encodeFields(req()), hp.indexed(62)), { endStream: true });
    assert.deepEqual(c.eventsOf('request', 5)[0]?.headers, ['x-refused', 'kept']);
    c.expectNoError();
  });

  test('§4.3 a field block on a stream the server reset is still decoded (late trailers update the table)', () => {
    const c = quietClient();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.engine.resetStream(1, E.CANCEL);
    c.drain();
    c.sendHeaders(1, hp.incremental('x-trailer', 'late'), { endStream: true });
    c.sendHeaders(3, concat(encodeFields(req()), hp.indexed(62)), { endStream: true });
    assert.deepEqual(c.eventsOf('request', 3)[0]?.headers, ['x-trailer', 'late']);
    assert.equal(c.eventsOf('trailers', 1).length, 0, 'frames on a stream the server reset are discarded');
  });

  test('§4.3 a field block split inside a string literal across HEADERS and CONTINUATION decodes', () => {
    const c = Client.connect();
    const block = encodeFields(req('/split', ['x-long', 'v'.repeat(100)]));
    c.sendHeaders(1, block.subarray(0, 50), { endStream: true, endHeaders: false });
    c.sendContinuation(1, block.subarray(50, 51), false);
    c.sendContinuation(1, block.subarray(51), true);
    const r = c.eventsOf('request', 1)[0]!;
    assert.equal(r.pseudo.path, '/split');
    assert.deepEqual(r.headers, ['x-long', 'v'.repeat(100)]);
  });

  test('§4.3 the server\'s response field blocks decode with one decoder across many responses', () => {
    const c = Client.connect();
    for (let id = 1; id <= 21; id += 2) assert.equal(c.request(id).status, '200');
    c.expectNoError();
  });
});

describe('RFC 9113 §4.1 framing across receive() boundaries', () => {
  test('§4.1 a complex exchange fed one octet at a time yields the same events as one write', () => {
    const script = concat(
      PREFACE,
      frame(T.SETTINGS, 0, 0, settingsPayload([[0x4, 1 << 20]])),
      frame(T.HEADERS, FLAG.PADDED | FLAG.PRIORITY, 1, concat([3], [0, 0, 0, 0, 15], encodeFields(req('/x', [], 'POST')).subarray(0, 20), [0, 0, 0])),
      frame(T.CONTINUATION, FLAG.END_HEADERS, 1, encodeFields(req('/x', [], 'POST')).subarray(20)),
      frame(T.DATA, FLAG.PADDED, 1, concat([2], 'abc', [0, 0])),
      frame(0xee, 0, 0, 'ext'),
      frame(T.DATA, 0, 1, 'def'),
      frame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, encodeFields(['x-t', 'y'])),
    );
    const whole = new Client({ app: 'echo' });
    whole.send(script);
    const split = new Client({ app: 'echo' });
    for (const b of script) split.send([b]);
    const summary = (c: Client) => c.events.filter((e) => e.type !== 'data').map((e) => JSON.stringify(e, (_, v) => (v instanceof Uint8Array ? [...v] : v)));
    assert.deepEqual(summary(split), summary(whole));
    assert.equal(split.requestBody(1), 'abcdef');
    assert.equal(split.response(1).body, 'abcdef');
    assert.deepEqual(split.eventsOf('trailers', 1)[0]?.headers, ['x-t', 'y']);
  });

  test('§5.4.1 frames after a connection error in the same receive() call are not processed', () => {
    const c = Client.connect();
    c.send(
      concat(
        frame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, encodeFields(req())),
        frame(T.PING, 0, 1, new Uint8Array(8)),
        frame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, encodeFields(req())),
      ),
    );
    assert.equal(c.eventsOf('request', 1).length, 1);
    assert.equal(c.eventsOf('request', 3).length, 0);
    c.expectGoaway(E.PROTOCOL_ERROR, { lastStreamId: 1 });
  });
});

describe('RFC 9113 §4.3 every field block is decoded, whatever happens to its stream', () => {
  test('§4.3 an undecodable block on a stream that would be refused (concurrency) → COMPRESSION_ERROR', () => {
    const c = quietClient({ engine: { limits: { maxConcurrentStreams: 1 } } });
    c.sendHeaders(1, req(), { endStream: true });
    c.sendHeaders(3, concat(encodeFields(req()), [0x80]), { endStream: true });
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.3 an undecodable trailer block on a stream the server reset → COMPRESSION_ERROR', () => {
    const c = quietClient();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.engine.resetStream(1, E.CANCEL);
    c.drain();
    c.readFrames();
    c.sendHeaders(1, hp.indexed(70), { endStream: true });
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.3 an undecodable block on a new stream after the server\'s GOAWAY → COMPRESSION_ERROR', () => {
    const c = quietClient();
    c.request(1);
    c.engine.goaway(E.NO_ERROR);
    c.drain();
    c.readFrames();
    c.sendHeaders(3, concat(encodeFields(req()), [0x80]), { endStream: true });
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.3 an undecodable block on a malformed request is still a connection COMPRESSION_ERROR, not a stream error', () => {
    const c = Client.connect();
    c.sendHeaders(1, concat(encodeFields(['X-Upper', '1']), [0x80]), { endStream: true });
    c.expectGoaway(E.COMPRESSION_ERROR);
  });
});
