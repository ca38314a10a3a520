// RFC 9113 §6: frame definitions (DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY,
// WINDOW_UPDATE and flow control, CONTINUATION).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, E, FLAG, PREFACE as PREFACE_BYTES, S, T, concat, encodeFields, frame, hp, hpackRepresentations, latin1, priorityFields, quietClient, req, settingsPayload, u32 } from './harness.js';

function postOpen(options: Parameters<typeof quietClient>[0] = {}): Client {
  const c = quietClient(options);
  c.sendHeaders(1, req('/', [], 'POST'));
  return c;
}

describe('RFC 9113 §6.1 DATA', () => {
  test('§6.1 DATA on stream 0 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendData(0, 'x');
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.1 padded DATA: the body excludes the padding; flow control counts padding and the Pad Length octet', () => {
    const c = postOpen();
    c.sendData(1, 'abc', { padLength: 10, endStream: true });
    const data = c.eventsOf('data', 1);
    assert.equal(data.map((d) => latin1(d.data)).join(''), 'abc');
    assert.equal(data.reduce((n, d) => n + d.flowControlledLength, 0), 3 + 10 + 1);
    c.expectNoError();
  });

  test('§6.1 padded DATA with zero-length padding is accepted', () => {
    const c = postOpen();
    c.sendData(1, 'abc', { padLength: 0, endStream: true });
    assert.equal(c.requestBody(1), 'abc');
    c.expectNoError();
  });

  test('§6.1 padded DATA made only of padding (Pad Length = length - 1) is accepted', () => {
    const c = postOpen();
    c.sendData(1, '', { padLength: 20 });
    c.sendData(1, 'z', { endStream: true });
    assert.equal(c.requestBody(1), 'z');
    c.expectNoError();
  });

  test('§6.1 Pad Length equal to the frame payload length → connection error PROTOCOL_ERROR', () => {
    const c = postOpen();
    c.sendFrame(T.DATA, FLAG.PADDED, 1, [5, 0, 0, 0, 0]);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.1 Pad Length greater than the frame payload length → connection error PROTOCOL_ERROR', () => {
    const c = postOpen();
    c.sendFrame(T.DATA, FLAG.PADDED, 1, [200, 0x61, 0x62]);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.1/§4.2 PADDED DATA with an empty payload (no room for Pad Length) → connection error', () => {
    const c = postOpen();
    c.sendFrame(T.DATA, FLAG.PADDED, 1, []);
    c.expectGoawayOneOf([E.FRAME_SIZE_ERROR, E.PROTOCOL_ERROR]);
  });

  test('§6.1 DATA on a stream in half-closed (remote) → stream error STREAM_CLOSED', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendData(1, 'x');
    c.expectRst(1, E.STREAM_CLOSED);
  });

  test('§6.1 empty DATA with END_STREAM ends the request', () => {
    const c = Client.connect({ app: 'echo' });
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendData(1, 'abc');
    c.sendData(1, '', { endStream: true });
    assert.equal(c.response(1).body, 'abc');
    c.expectNoError();
  });

  test('§6.1 DATA bodies are delivered in order across many frames', () => {
    const c = Client.connect({ app: 'echo' });
    c.sendHeaders(1, req('/', [], 'POST'));
    for (let i = 0; i < 10; i++) c.sendData(1, String(i));
    c.sendData(1, '!', { endStream: true });
    assert.equal(c.response(1).body, '0123456789!');
  });
});

describe('RFC 9113 §6.2 HEADERS', () => {
  test('§6.2 HEADERS on stream 0 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(0, req(), { endStream: true });
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.2 padded HEADERS: padding is removed before decoding', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/padded'), { endStream: true, padLength: 17 });
    assert.equal(c.eventsOf('request', 1)[0]?.pseudo.path, '/padded');
    assert.equal(c.response(1).status, '200');
  });

  test('§6.2 HEADERS with the PRIORITY flag: the 5 priority octets are not part of the field block', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/prio'), { endStream: true, priority: { dependsOn: 0, weight: 42 } });
    assert.equal(c.eventsOf('request', 1)[0]?.pseudo.path, '/prio');
  });

  test('§6.2 HEADERS with PADDED and PRIORITY together decode correctly', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/both'), { endStream: true, priority: { dependsOn: 0, weight: 1, exclusive: true }, padLength: 3 });
    assert.equal(c.eventsOf('request', 1)[0]?.pseudo.path, '/both');
    c.expectNoError();
  });

  test('§6.2 HEADERS Pad Length ≥ remaining payload → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    const block = encodeFields(req());
    c.sendFrame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM | FLAG.PADDED, 1, concat([block.length + 1], block));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.2 HEADERS padding that eats into the priority fields → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    // Pad Length 3 with only 5 octets after it: the padding would overlap the priority fields.
    c.sendFrame(T.HEADERS, FLAG.END_HEADERS | FLAG.PADDED | FLAG.PRIORITY, 1, concat([3], priorityFields(0, 16), ''));
    c.expectGoawayOneOf([E.PROTOCOL_ERROR, E.FRAME_SIZE_ERROR]);
  });

  test('§6.2 HEADERS with END_STREAM but without END_HEADERS: the CONTINUATION completes a body-less request', () => {
    const c = Client.connect();
    const block = encodeFields(req('/cont'));
    c.sendHeaders(1, block.subarray(0, 8), { endStream: true, endHeaders: false });
    assert.equal(c.eventsOf('request', 1).length, 0, 'no request before END_HEADERS');
    c.sendContinuation(1, block.subarray(8));
    const r = c.eventsOf('request', 1)[0]!;
    assert.equal(r.endStream, true);
    assert.equal(c.response(1).status, '200');
  });

  test('§6.2 a request without END_STREAM carries a body (endStream false in the request event)', () => {
    const c = postOpen();
    assert.equal(c.eventsOf('request', 1)[0]?.endStream, false);
  });
});

describe('RFC 9113 §6.3 PRIORITY', () => {
  test('§6.3 PRIORITY on stream 0 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendPriority(0, 1, 16);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.3 PRIORITY with a length other than 5 → stream error FRAME_SIZE_ERROR', () => {
    const c = postOpen();
    c.sendFrame(T.PRIORITY, 0, 1, [0, 0, 0, 0]);
    c.expectRst(1, E.FRAME_SIZE_ERROR);
  });

  test('§6.3 PRIORITY with a length of 6 → stream error FRAME_SIZE_ERROR', () => {
    const c = postOpen();
    c.sendFrame(T.PRIORITY, 0, 1, [0, 0, 0, 0, 16, 0]);
    c.expectRst(1, E.FRAME_SIZE_ERROR);
  });

  test('§6.3 PRIORITY can be sent on a stream in any state: idle, open, half-closed, closed', () => {
    const c = quietClient();
    c.sendPriority(1, 0, 16); // idle
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendPriority(1, 0, 16); // open
    c.sendData(1, '', { endStream: true });
    c.sendPriority(1, 0, 16); // half-closed (remote)
    c.engine.sendHeaders(1, [':status', '204'], true);
    c.drain();
    c.sendPriority(1, 0, 16); // closed
    c.expectNoError();
  });

  test('§6.3 PRIORITY between HEADERS and CONTINUATION → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, encodeFields(req()).subarray(0, 5), { endStream: true, endHeaders: false });
    c.sendPriority(1, 0, 16);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §6.4 RST_STREAM', () => {
  test('§6.4 RST_STREAM on stream 0 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendRst(0, E.CANCEL);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.4 RST_STREAM on an idle stream → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.request(1);
    c.sendRst(3, E.CANCEL);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.4 RST_STREAM with a length other than 4 → connection error FRAME_SIZE_ERROR', () => {
    const c = postOpen();
    c.sendFrame(T.RST_STREAM, 0, 1, [0, 0, 0]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.4 RST_STREAM with a length of 5 → connection error FRAME_SIZE_ERROR', () => {
    const c = postOpen();
    c.sendFrame(T.RST_STREAM, 0, 1, [0, 0, 0, 8, 0]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.4 after RST_STREAM the server sends nothing more on the stream (queued response data is dropped)', () => {
    const c = Client.connect({ app: 'none', settings: [[S.INITIAL_WINDOW_SIZE, 10]] });
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new Uint8Array(100), true);
    c.drain();
    c.readFrames();
    c.sendRst(1, E.CANCEL);
    c.sendWindowUpdate(0, 1000);
    const frames = c.expectNoError();
    assert.ok(!frames.some((f) => f.streamId === 1), `frames on the reset stream: ${frames.length}`);
  });
});

describe('RFC 9113 §6.5 SETTINGS', () => {
  test('§6.5 SETTINGS with ACK and a non-empty payload → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.SETTINGS, FLAG.ACK, 0, settingsPayload([[S.MAX_CONCURRENT_STREAMS, 1]]));
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.5 SETTINGS on a non-zero stream → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.SETTINGS, 0, 1, settingsPayload([[S.MAX_CONCURRENT_STREAMS, 1]]));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.5 SETTINGS length not a multiple of 6 → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.SETTINGS, 0, 0, [0, 3, 0, 0, 0, 100, 0, 4]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.5 SETTINGS of 3 octets → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.SETTINGS, 0, 0, [0, 3, 0]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.5 an empty SETTINGS frame is valid and acknowledged', () => {
    const c = Client.connect();
    c.sendSettings([]);
    const frames = c.expectNoError();
    const acks = frames.filter((f) => f.type === T.SETTINGS && f.flags & FLAG.ACK);
    assert.equal(acks.length, 1);
    assert.equal(acks[0]!.length, 0);
  });

  test('§6.5.3 every SETTINGS frame gets its own ACK, in order', () => {
    const c = Client.connect();
    c.sendSettings([[S.MAX_CONCURRENT_STREAMS, 10]]);
    c.sendSettings([[S.MAX_CONCURRENT_STREAMS, 20]]);
    c.sendSettings([[S.MAX_CONCURRENT_STREAMS, 30]]);
    const frames = c.expectNoError();
    assert.equal(frames.filter((f) => f.type === T.SETTINGS && f.flags & FLAG.ACK).length, 3);
  });

  test('§6.5.3 a SETTINGS ACK from the client produces no reply and a settingsAcknowledged event', () => {
    const c = new Client();
    c.send(concat(new TextEncoder().encode('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), new Uint8Array([0, 0, 0, 4, 0, 0, 0, 0, 0])));
    c.readFrames();
    c.sendFrame(T.SETTINGS, FLAG.ACK, 0);
    const frames = c.expectNoError();
    assert.ok(!frames.some((f) => f.type === T.SETTINGS));
    assert.equal(c.eventsOf('settingsAcknowledged').length, 1);
  });

  test('§6.5.2 SETTINGS_ENABLE_PUSH = 2 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendSettings([[S.ENABLE_PUSH, 2]]);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.5.2 SETTINGS_ENABLE_PUSH = 1 from a client is accepted', () => {
    const c = Client.connect();
    c.sendSettings([[S.ENABLE_PUSH, 1]]);
    c.expectNoError();
  });

  test('§6.5.2 SETTINGS_INITIAL_WINDOW_SIZE = 2^31 → connection error FLOW_CONTROL_ERROR', () => {
    const c = Client.connect();
    c.sendSettings([[S.INITIAL_WINDOW_SIZE, 0x80000000]]);
    c.expectGoaway(E.FLOW_CONTROL_ERROR);
  });

  test('§6.5.2 SETTINGS_INITIAL_WINDOW_SIZE = 2^32-1 → connection error FLOW_CONTROL_ERROR', () => {
    const c = Client.connect();
    c.sendSettings([[S.INITIAL_WINDOW_SIZE, 0xffffffff]]);
    c.expectGoaway(E.FLOW_CONTROL_ERROR);
  });

  test('§6.5.2 SETTINGS_INITIAL_WINDOW_SIZE = 2^31-1 is accepted', () => {
    const c = Client.connect();
    c.sendSettings([[S.INITIAL_WINDOW_SIZE, 0x7fffffff]]);
    c.expectNoError();
  });

  test('§6.5.2 SETTINGS_MAX_FRAME_SIZE below 16384 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendSettings([[S.MAX_FRAME_SIZE, 16383]]);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.5.2 SETTINGS_MAX_FRAME_SIZE above 2^24-1 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendSettings([[S.MAX_FRAME_SIZE, 16777216]]);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.5.2 SETTINGS_MAX_FRAME_SIZE bounds 16384 and 2^24-1 are accepted', () => {
    const c = Client.connect();
    c.sendSettings([[S.MAX_FRAME_SIZE, 16384]]);
    c.sendSettings([[S.MAX_FRAME_SIZE, 16777215]]);
    c.expectNoError();
  });

  test('§6.5.2 a larger client SETTINGS_MAX_FRAME_SIZE lets the server send larger DATA frames, never beyond it', () => {
    const c = Client.connect({ settings: [[S.MAX_FRAME_SIZE, 20000]], body: 'q'.repeat(50000) });
    c.request(1);
    assert.equal(c.response(1).body.length, 50000);
    assert.ok(c.frames.every((f) => f.length <= 20000));
  });

  test('§6.5.2 SETTINGS_MAX_CONCURRENT_STREAMS = 0 from a client is valid (it only limits server push)', () => {
    const c = Client.connect();
    c.sendSettings([[S.MAX_CONCURRENT_STREAMS, 0]]);
    assert.equal(c.request(1).status, '200');
    c.expectNoError();
  });

  test('§6.5.2 SETTINGS_HEADER_TABLE_SIZE = 0 from the client: response blocks never rely on the dynamic table', () => {
    const c = Client.connect({ settings: [[S.HEADER_TABLE_SIZE, 0]] });
    for (let id = 1; id <= 7; id += 2) assert.equal(c.request(id).status, '200');
    // A decoder with a zero-size table would fail on any dynamic-table reference; ours is strict about indices.
    for (const f of c.frames.filter((f) => f.type === T.HEADERS)) {
      assert.ok(!hpackRepresentations(f.payload).includes('incremental'), 'no literal with incremental indexing once the table is 0');
    }
  });

  test('§6.5.3 values in one SETTINGS frame are processed in order: the last INITIAL_WINDOW_SIZE wins', () => {
    const c = Client.connect({ app: 'none', settings: [[S.INITIAL_WINDOW_SIZE, 1], [S.INITIAL_WINDOW_SIZE, 30]] });
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new Uint8Array(100), true);
    c.drain();
    assert.equal(c.response(1).body.length, 30);
  });

  test('§6.5.2 SETTINGS_MAX_HEADER_LIST_SIZE from the client is accepted (advisory)', () => {
    const c = Client.connect({ settings: [[S.MAX_HEADER_LIST_SIZE, 100000]] });
    assert.equal(c.request(1).status, '200');
    c.expectNoError();
  });

  test('§6.5 the settingsChanged event reports the client\'s new values', () => {
    const c = Client.connect();
    c.sendSettings([[S.INITIAL_WINDOW_SIZE, 1234]]);
    const changed = c.eventsOf('settingsChanged');
    assert.equal(changed[changed.length - 1]?.changed.initialWindowSize, 1234);
    assert.equal(c.engine.remoteSettings.initialWindowSize, 1234);
  });
});

describe('RFC 9113 §6.6 PUSH_PROMISE', () => {
  test('§6.6/§8.4 a PUSH_PROMISE from a client → connection error PROTOCOL_ERROR', () => {
    const c = postOpen();
    c.sendFrame(T.PUSH_PROMISE, FLAG.END_HEADERS, 1, concat(u32(2), encodeFields(req('/pushed'))));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.6 a PUSH_PROMISE on stream 0 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.PUSH_PROMISE, FLAG.END_HEADERS, 0, concat(u32(2), encodeFields(req('/pushed'))));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §6.7 PING', () => {
  test('§6.7 PING is answered by a PING with ACK carrying the identical payload', () => {
    const c = Client.connect();
    c.sendPing([0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
    const ack = c.readFrames().find((f) => f.type === T.PING);
    assert.ok(ack);
    assert.equal(ack.flags & FLAG.ACK, FLAG.ACK);
    assert.equal(ack.streamId, 0);
    assert.deepEqual([...ack.payload], [0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]);
  });

  test('§6.7 a PING with ACK MUST NOT be answered', () => {
    const c = Client.connect();
    c.sendPing([1, 1, 1, 1, 1, 1, 1, 1], true);
    const frames = c.expectNoError();
    assert.ok(!frames.some((f) => f.type === T.PING));
  });

  test('§6.7 PING on a non-zero stream → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.PING, 0, 1, new Uint8Array(8));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.7 PING with a length other than 8 → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.PING, 0, 0, new Uint8Array(6));
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.7 PING ACK with a length other than 8 → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.PING, FLAG.ACK, 0, new Uint8Array(9));
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.7 the app\'s ping() goes out as PING on stream 0; the client\'s ACK yields a pingAck event', () => {
    const c = Client.connect();
    c.engine.ping(Uint8Array.from([7, 7, 7, 7, 7, 7, 7, 7]));
    c.drain();
    const ping = c.readFrames().find((f) => f.type === T.PING);
    assert.ok(ping);
    assert.equal(ping.flags & FLAG.ACK, 0);
    c.sendPing(ping.payload, true);
    assert.deepEqual([...(c.eventsOf('pingAck')[0]?.data ?? [])], [7, 7, 7, 7, 7, 7, 7, 7]);
  });
});

describe('RFC 9113 §6.8 GOAWAY', () => {
  test('§6.8 GOAWAY on a non-zero stream → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.GOAWAY, 0, 1, concat(u32(0), u32(0)));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.8 GOAWAY shorter than 8 octets → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.GOAWAY, 0, 0, [0, 0, 0, 0, 0, 0, 0]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.8 a client GOAWAY yields connectionTerminated (byPeer) and streams already open still get their response', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendGoaway(0, E.NO_ERROR, 'bye');
    const ev = c.eventsOf('connectionTerminated')[0];
    assert.ok(ev);
    assert.equal(ev.byPeer, true);
    assert.equal(ev.code, E.NO_ERROR);
    assert.equal(latin1(ev.debugData), 'bye');
    c.engine.sendHeaders(1, [':status', '200'], true);
    c.drain();
    assert.equal(c.response(1).status, '200');
  });

  test('§6.8 a client GOAWAY with an unknown error code is accepted (§7: no special behaviour)', () => {
    const c = quietClient();
    c.sendGoaway(0, 0xabcdef);
    assert.equal(c.eventsOf('connectionTerminated')[0]?.code, 0xabcdef);
    assert.ok(!c.readFrames().some((f) => f.type === T.GOAWAY && f.errorCode !== E.NO_ERROR));
  });

  test('§6.8 graceful shutdown: GOAWAY(2^31-1, NO_ERROR) + PING, then GOAWAY(last stream id) after the PING ACK', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.shutdown();
    c.drain();
    const first = c.readFrames();
    const goaway1 = first.find((f) => f.type === T.GOAWAY);
    assert.ok(goaway1, 'first GOAWAY');
    assert.equal(goaway1.lastStreamId, 0x7fffffff);
    assert.equal(goaway1.errorCode, E.NO_ERROR);
    const ping = first.find((f) => f.type === T.PING && !(f.flags & FLAG.ACK));
    assert.ok(ping, 'PING after the first GOAWAY');
    // A request the client sent before it saw the first GOAWAY is still accepted.
    c.sendHeaders(3, req(), { endStream: true });
    assert.equal(c.eventsOf('request', 3).length, 1);
    c.sendPing(ping.payload, true);
    const goaway2 = c.readFrames().find((f) => f.type === T.GOAWAY);
    assert.ok(goaway2, 'second GOAWAY');
    assert.equal(goaway2.lastStreamId, 3);
    assert.equal(goaway2.errorCode, E.NO_ERROR);
    // Streams above the final last-stream-id are not processed.
    c.sendHeaders(5, req(), { endStream: true });
    assert.equal(c.eventsOf('request', 5).length, 0);
    // Streams at or below it complete normally.
    c.engine.sendHeaders(1, [':status', '200'], true);
    c.engine.sendHeaders(3, [':status', '200'], true);
    c.drain();
    assert.equal(c.response(1).status, '200');
    assert.equal(c.response(3).status, '200');
    assert.equal(c.engine.isDone, true);
  });

  test('§6.8 goaway(): GOAWAY with the last processed stream id; later streams are ignored', () => {
    const c = Client.connect();
    c.request(1);
    c.request(3);
    c.engine.goaway(E.NO_ERROR);
    c.drain();
    const g = c.readFrames().find((f) => f.type === T.GOAWAY);
    assert.equal(g?.lastStreamId, 3);
    c.sendHeaders(5, req(), { endStream: true });
    assert.equal(c.eventsOf('request', 5).length, 0);
    assert.equal(c.engine.isClosing, true);
  });
});

describe('RFC 9113 §6.9 WINDOW_UPDATE', () => {
  test('§6.9 WINDOW_UPDATE with a 0 increment on a stream → stream error PROTOCOL_ERROR', () => {
    const c = postOpen();
    c.sendWindowUpdate(1, 0);
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§6.9 WINDOW_UPDATE with a 0 increment on the connection → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendWindowUpdate(0, 0);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.9 WINDOW_UPDATE with a length other than 4 → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.WINDOW_UPDATE, 0, 0, [0, 0, 1]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.9 WINDOW_UPDATE of 5 octets on a stream → connection error FRAME_SIZE_ERROR', () => {
    const c = postOpen();
    c.sendFrame(T.WINDOW_UPDATE, 0, 1, [0, 0, 0, 1, 0]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.9 the reserved bit of the increment is ignored', () => {
    const c = Client.connect();
    c.sendFrame(T.WINDOW_UPDATE, 0, 0, u32(0x80000001));
    c.expectNoError();
  });

  test('§6.9.1 a stream window above 2^31-1 → stream error FLOW_CONTROL_ERROR', () => {
    const c = postOpen();
    c.sendWindowUpdate(1, 0x7fffffff);
    c.expectRst(1, E.FLOW_CONTROL_ERROR);
  });

  test('§6.9.1 two stream WINDOW_UPDATEs summing past 2^31-1 → stream error FLOW_CONTROL_ERROR', () => {
    const c = postOpen();
    c.sendWindowUpdate(1, 0x40000000);
    c.expectNoError();
    c.sendWindowUpdate(1, 0x40000000);
    c.expectRst(1, E.FLOW_CONTROL_ERROR);
  });

  test('§6.9.1 a connection window above 2^31-1 → connection error FLOW_CONTROL_ERROR', () => {
    const c = Client.connect();
    c.sendWindowUpdate(0, 0x7fffffff);
    c.expectGoaway(E.FLOW_CONTROL_ERROR);
  });

  test('§6.9.1 a connection window exactly 2^31-1 is accepted', () => {
    const c = Client.connect();
    c.sendWindowUpdate(0, 0x7fffffff - 65535);
    c.expectNoError();
  });

  test('§6.9.1 the server respects the client\'s stream window and resumes on WINDOW_UPDATE', () => {
    const c = Client.connect({ app: 'none', settings: [[S.INITIAL_WINDOW_SIZE, 10]] });
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new Uint8Array(100).fill(0x78), true);
    c.drain();
    assert.equal(c.response(1).body.length, 10);
    assert.equal(c.response(1).ended, false);
    c.sendWindowUpdate(1, 90);
    assert.equal(c.response(1).body.length, 100);
    assert.equal(c.response(1).ended, true);
  });

  test('§6.9.1 the server respects the 65535-octet connection window and resumes on a stream-0 WINDOW_UPDATE', () => {
    const c = Client.connect({ settings: [[S.INITIAL_WINDOW_SIZE, 0x7fffffff]], body: 'w'.repeat(100000) });
    c.request(1);
    assert.equal(c.response(1).body.length, 65535);
    c.sendWindowUpdate(0, 100000 - 65535);
    assert.equal(c.response(1).body.length, 100000);
    assert.equal(c.response(1).ended, true);
  });

  test('§6.9.1 DATA exceeding the stream window the server advertised → FLOW_CONTROL_ERROR', () => {
    const c = postOpen({ engine: { settings: { initialWindowSize: 100 } } });
    assert.equal(c.serverInitialWindow, 100);
    c.sendData(1, new Uint8Array(101));
    c.expectStreamOrConnectionError(1, E.FLOW_CONTROL_ERROR);
  });

  test('§6.9.1 DATA exactly filling the stream window is accepted', () => {
    const c = postOpen({ engine: { settings: { initialWindowSize: 100 } }, autoConsume: false });
    c.sendData(1, new Uint8Array(100));
    c.expectNoError();
  });

  test('§6.9.1 padding counts against the stream window: 90 octets + 10 padding + 1 → FLOW_CONTROL_ERROR', () => {
    const c = postOpen({ engine: { settings: { initialWindowSize: 100 } }, autoConsume: false });
    c.sendData(1, new Uint8Array(90), { padLength: 10 });
    c.expectStreamOrConnectionError(1, E.FLOW_CONTROL_ERROR);
  });

  test('§6.9.1 DATA exceeding the connection window → connection error FLOW_CONTROL_ERROR', () => {
    const c = quietClient({ autoConsume: false, engine: { settings: { initialWindowSize: 0x7fffffff } } });
    const window = c.serverConnectionWindow;
    let sent = 0;
    c.sendHeaders(1, req('/', [], 'POST'));
    while (sent < window) {
      const n = Math.min(c.maxFrameSize, window - sent);
      c.sendData(1, new Uint8Array(n));
      sent += n;
    }
    c.expectNoError();
    c.sendData(1, new Uint8Array(1));
    c.expectGoaway(E.FLOW_CONTROL_ERROR);
  });

  test('§6.9.1 consumed request data reopens the windows: WINDOW_UPDATE lets the client keep sending', () => {
    const c = postOpen({ engine: { settings: { initialWindowSize: 1000 } } });
    let streamCredit = 1000;
    for (let i = 0; i < 10; i++) {
      c.sendData(1, new Uint8Array(500));
      streamCredit -= 500;
      for (const f of c.readFrames()) if (f.type === T.WINDOW_UPDATE && f.streamId === 1) streamCredit += f.increment!;
      assert.ok(streamCredit >= 500, `stream window not replenished after ${i + 1} frames`);
    }
  });

  test('§6.9.2 a SETTINGS_INITIAL_WINDOW_SIZE increase applies to open streams', () => {
    const c = Client.connect({ app: 'none', settings: [[S.INITIAL_WINDOW_SIZE, 10]] });
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new Uint8Array(100), true);
    c.drain();
    assert.equal(c.response(1).body.length, 10);
    c.sendSettings([[S.INITIAL_WINDOW_SIZE, 50]]);
    assert.equal(c.response(1).body.length, 50);
  });

  test('§6.9.2 a SETTINGS_INITIAL_WINDOW_SIZE decrease can make a stream window negative; the server waits until it is positive again', () => {
    const c = Client.connect({ app: 'none', settings: [[S.INITIAL_WINDOW_SIZE, 100]] });
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new Uint8Array(300), true);
    c.drain();
    assert.equal(c.response(1).body.length, 100);
    c.sendSettings([[S.INITIAL_WINDOW_SIZE, 50]]); // window: 50 - 100 = -50
    c.sendWindowUpdate(1, 40); // -10: still nothing
    assert.equal(c.response(1).body.length, 100);
    c.sendWindowUpdate(1, 30); // +20
    assert.equal(c.response(1).body.length, 120);
    c.expectNoError();
  });

  test('§6.9.2 SETTINGS_INITIAL_WINDOW_SIZE = 0 then a stream WINDOW_UPDATE releases exactly the increment', () => {
    const c = Client.connect({ app: 'none', settings: [[S.INITIAL_WINDOW_SIZE, 0]] });
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new Uint8Array(64), true);
    c.drain();
    assert.equal(c.response(1).status, '200', 'HEADERS are not flow controlled');
    assert.equal(c.response(1).body.length, 0);
    c.sendWindowUpdate(1, 7);
    assert.equal(c.response(1).body.length, 7);
  });

  test('§6.9.2 SETTINGS_INITIAL_WINDOW_SIZE does not change the connection window', () => {
    const c = Client.connect({ settings: [[S.INITIAL_WINDOW_SIZE, 200000]], body: 'c'.repeat(100000) });
    c.request(1);
    assert.equal(c.response(1).body.length, 65535);
  });

  test('§6.9.2 an INITIAL_WINDOW_SIZE increase that pushes an open stream window past 2^31-1 → connection error FLOW_CONTROL_ERROR', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendWindowUpdate(1, 0x7fffffff - 65535);
    c.expectNoError();
    c.sendSettings([[S.INITIAL_WINDOW_SIZE, 65536]]);
    c.expectGoaway(E.FLOW_CONTROL_ERROR);
  });
});

describe('RFC 9113 §6.10 CONTINUATION', () => {
  test('§6.10 CONTINUATION without a preceding HEADERS → connection error PROTOCOL_ERROR', () => {
    const c = postOpen();
    c.sendContinuation(1, ['x-a', 'b']);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 CONTINUATION after a HEADERS that had END_HEADERS → connection error PROTOCOL_ERROR', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendContinuation(1, ['x-a', 'b']);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 CONTINUATION on stream 0 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendContinuation(0, ['x-a', 'b']);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 several CONTINUATION frames assemble one field block', () => {
    const c = Client.connect();
    const block = encodeFields(req('/many', ['x-a', '1', 'x-b', '2']));
    c.sendHeaders(1, block.subarray(0, 3), { endStream: true, endHeaders: false });
    // Fragments of 16 octets: a handful of CONTINUATION frames (the engine caps their count against floods).
    for (let i = 3; i < block.length; i += 16) c.sendContinuation(1, block.subarray(i, Math.min(i + 16, block.length)), i + 16 >= block.length);
    const r = c.eventsOf('request', 1)[0]!;
    assert.equal(r.pseudo.path, '/many');
    assert.deepEqual(r.headers, ['x-a', '1', 'x-b', '2']);
  });

  test('§6.10 an empty CONTINUATION with END_HEADERS ends the block', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendContinuation(1, new Uint8Array(0));
    assert.equal(c.response(1).status, '200');
  });

  test('§6.10 a CONTINUATION on a different stream during a field block → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendContinuation(3, new Uint8Array(0));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 DATA on the same stream during a field block → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/', [], 'POST'), { endHeaders: false });
    c.sendData(1, 'x');
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 HEADERS on another stream during a field block → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendHeaders(3, req(), { endStream: true });
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 PING during a field block → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendPing();
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 SETTINGS during a field block → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendSettings([]);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 WINDOW_UPDATE during a field block → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendWindowUpdate(0, 10);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 RST_STREAM during a field block → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendRst(1, E.CANCEL);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§6.10 unknown CONTINUATION flags are ignored; only END_HEADERS matters', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendFrame(T.CONTINUATION, 0xfb & ~FLAG.END_HEADERS, 1, hp.literal('x-a', '1'));
    assert.equal(c.eventsOf('request', 1).length, 0);
    c.sendFrame(T.CONTINUATION, 0xff, 1, hp.literal('x-b', '2'));
    assert.deepEqual(c.eventsOf('request', 1)[0]?.headers, ['x-a', '1', 'x-b', '2']);
  });

  test('§6.10 trailers can span HEADERS + CONTINUATION', () => {
    const c = postOpen();
    c.sendData(1, 'body');
    c.sendHeaders(1, ['x-t1', 'a'], { endStream: true, endHeaders: false });
    c.sendContinuation(1, ['x-t2', 'b']);
    assert.deepEqual(c.eventsOf('trailers', 1)[0]?.headers, ['x-t1', 'a', 'x-t2', 'b']);
    assert.equal(c.eventsOf('streamEnded', 1).length, 1);
    c.expectNoError();
  });

  test('§6.10 padding bytes are not part of the block: padded HEADERS + CONTINUATION', () => {
    const c = Client.connect();
    const block = encodeFields(req('/pc'));
    c.sendHeaders(1, block.subarray(0, 6), { endStream: true, endHeaders: false, padLength: 4 });
    c.sendContinuation(1, block.subarray(6));
    assert.equal(c.eventsOf('request', 1)[0]?.pseudo.path, '/pc');
  });
});

describe('RFC 9113 §6.9 flow control: the server as sender', () => {
  test('§6.9.1 an empty DATA frame with END_STREAM is sent even when the stream window is 0', () => {
    const c = Client.connect({ app: 'none', settings: [[S.INITIAL_WINDOW_SIZE, 0]] });
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new Uint8Array(0), true);
    c.drain();
    assert.equal(c.response(1).ended, true);
  });

  test('§6.9.1/§8.1 response trailers wait for the flow-controlled DATA queued before them', () => {
    const c = Client.connect({ app: 'none', settings: [[S.INITIAL_WINDOW_SIZE, 5]] });
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new TextEncoder().encode('0123456789'), false);
    c.engine.sendTrailers(1, ['x-done', 'yes']);
    c.drain();
    assert.equal(c.response(1).body, '01234');
    assert.equal(c.response(1).blocks.length, 1, 'no trailers before the body is complete');
    c.sendWindowUpdate(1, 5);
    const res = c.response(1);
    assert.equal(res.body, '0123456789');
    assert.deepEqual(res.blocks[1], ['x-done', 'yes']);
    assert.equal(res.ended, true);
  });

  test('§6.9.1 the connection window is shared: two streams together never exceed it', () => {
    const c = Client.connect({ settings: [[S.INITIAL_WINDOW_SIZE, 1 << 20]], body: 'm'.repeat(50000) });
    c.request(1);
    c.request(3);
    const total = c.response(1).body.length + c.response(3).body.length;
    assert.equal(total, 65535);
    c.sendWindowUpdate(0, 100000 - 65535);
    assert.equal(c.response(1).body.length + c.response(3).body.length, 100000);
  });

  test('§6.9 a WINDOW_UPDATE for a stream whose response is blocked releases only that stream', () => {
    const c = Client.connect({ app: 'none', settings: [[S.INITIAL_WINDOW_SIZE, 0]] });
    for (const id of [1, 3]) {
      c.sendHeaders(id, req(), { endStream: true });
      c.engine.sendHeaders(id, [':status', '200'], false);
      c.engine.sendData(id, new Uint8Array(10), true);
    }
    c.drain();
    c.sendWindowUpdate(3, 10);
    assert.equal(c.response(1).body.length, 0);
    assert.equal(c.response(3).body.length, 10);
  });
});

describe('RFC 9113 §6.5.3 settings synchronisation (the server\'s own SETTINGS)', () => {
  test('§6.5.3 updateSettings() sends a SETTINGS frame; the client\'s ACK yields settingsAcknowledged', () => {
    const c = Client.connect();
    c.engine.updateSettings({ maxConcurrentStreams: 7 });
    c.drain();
    const s = c.readFrames().find((f) => f.type === T.SETTINGS);
    assert.ok(s && !(s.flags & FLAG.ACK));
    assert.deepEqual(s.settings, [[S.MAX_CONCURRENT_STREAMS, 7]]);
    const before = c.eventsOf('settingsAcknowledged').length;
    c.sendFrame(T.SETTINGS, FLAG.ACK, 0);
    assert.equal(c.eventsOf('settingsAcknowledged').length, before + 1);
  });

  test('§6.5.3/§6.9.2 a smaller receive window the server announced binds only after the client\'s ACK', () => {
    const c = quietClient({ autoConsume: false, engine: { settings: { initialWindowSize: 1000 } } });
    c.engine.updateSettings({ initialWindowSize: 100 });
    c.drain();
    c.readFrames();
    // Not acknowledged yet: the client may still use the old 1000-octet window.
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendData(1, new Uint8Array(500));
    c.expectNoError();
    c.sendFrame(T.SETTINGS, FLAG.ACK, 0);
    c.sendHeaders(3, req('/', [], 'POST'));
    c.sendData(3, new Uint8Array(101));
    c.expectStreamOrConnectionError(3, E.FLOW_CONTROL_ERROR);
  });

  test('§6.5.3/§4.2 a smaller SETTINGS_MAX_FRAME_SIZE the server announced binds only after the client\'s ACK', () => {
    const c = quietClient({ engine: { settings: { maxFrameSize: 32768 } } });
    c.engine.updateSettings({ maxFrameSize: 16384 });
    c.drain();
    c.readFrames();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendData(1, new Uint8Array(20000));
    c.expectNoError();
    c.sendFrame(T.SETTINGS, FLAG.ACK, 0);
    c.sendData(1, new Uint8Array(16385));
    c.expectStreamOrConnectionError(1, E.FRAME_SIZE_ERROR);
  });

  test('§6.5.3/RFC 7541 §4.2 a smaller SETTINGS_HEADER_TABLE_SIZE the server announced binds only after the client\'s ACK', () => {
    const c = Client.connect();
    c.sendHeaders(1, concat(encodeFields(req()), hp.incremental('x-entry', 'v')), { endStream: true });
    c.engine.updateSettings({ headerTableSize: 0 });
    c.drain();
    c.readFrames();
    // Before the ACK the client's encoder still uses the old table.
    c.sendHeaders(3, concat(encodeFields(req()), hp.indexed(62)), { endStream: true });
    assert.deepEqual(c.eventsOf('request', 3)[0]?.headers, ['x-entry', 'v']);
    c.sendFrame(T.SETTINGS, FLAG.ACK, 0);
    c.sendHeaders(5, concat(hp.sizeUpdate(0), encodeFields(req())), { endStream: true });
    c.expectNoError();
    c.sendHeaders(7, concat(hp.sizeUpdate(4096), encodeFields(req())), { endStream: true });
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§6.5.3/§6.9.2 a server initial window below 65535 binds only once the client ACKed the server preface', () => {
    const c = new Client({ app: 'none', autoConsume: false, engine: { settings: { initialWindowSize: 100 } } });
    // A client may send its request body before it has even read the server's SETTINGS: the default 65535 applies.
    c.send(concat(PREFACE_BYTES, frame(T.SETTINGS, 0, 0), frame(T.HEADERS, FLAG.END_HEADERS, 1, encodeFields(req('/', [], 'POST')))));
    c.sendData(1, new Uint8Array(1000));
    c.expectNoError();
    assert.equal(c.eventsOf('data', 1).length, 1);
    c.sendFrame(T.SETTINGS, FLAG.ACK, 0);
    c.sendHeaders(3, req('/', [], 'POST'));
    c.sendData(3, new Uint8Array(101));
    c.expectStreamOrConnectionError(3, E.FLOW_CONTROL_ERROR);
  });

  test('§6.5.3/RFC 7541 §4.2 a server SETTINGS_HEADER_TABLE_SIZE below 4096 binds only once the client ACKed it', () => {
    const c = new Client({ engine: { limits: { headerTableSize: 256 }, settings: { headerTableSize: 256 } } });
    const entries = [1, 2, 3, 4, 5].flatMap((i) => hp.incremental(`x-entry-${i}`, 'v'.repeat(60)));
    // Before the ACK the client's encoder uses the 4096-octet default table: five ~100-octet entries all stay.
    c.send(concat(PREFACE_BYTES, frame(T.SETTINGS, 0, 0), frame(T.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, concat(encodeFields(req()), entries))));
    c.sendHeaders(3, concat(encodeFields(req()), hp.indexed(66), hp.indexed(62)), { endStream: true });
    assert.deepEqual(c.eventsOf('request', 3)[0]?.headers, ['x-entry-1', 'v'.repeat(60), 'x-entry-5', 'v'.repeat(60)]);
    c.expectNoError();
  });

  test('§6.9.2 the connection window starts at 65535 whatever the engine is configured with (it can only grow)', () => {
    const c = quietClient({ autoConsume: false, engine: { connectionWindowSize: 1000 } });
    assert.equal(c.serverConnectionWindow, 65535);
    for (let id = 1; id <= 7; id += 2) {
      c.sendHeaders(id, req('/', [], 'POST'));
      c.sendData(id, new Uint8Array(16000));
    }
    c.expectNoError();
  });

  test('§6.5.2/§4.2 response header blocks larger than the client\'s SETTINGS_MAX_FRAME_SIZE are split into HEADERS + CONTINUATION', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200', 'x-large', 'L'.repeat(40000)], true);
    c.drain();
    const frames = c.frames.filter((f) => f.streamId === 1);
    assert.equal(frames[0]!.type, T.HEADERS);
    assert.equal(frames[0]!.flags & FLAG.END_HEADERS, 0);
    assert.ok(frames.slice(1).every((f) => f.type === T.CONTINUATION));
    assert.ok(frames.every((f) => f.length <= 16384));
    assert.deepEqual(c.response(1).headers, [':status', '200', 'x-large', 'L'.repeat(40000)]);
    assert.equal(c.response(1).ended, true);
  });
});

describe('RFC 9218 §7.1 PRIORITY_UPDATE (the extension the engine parses)', () => {
  const PRIORITY_UPDATE = 0x10;

  test('RFC 9218 §7.1 PRIORITY_UPDATE on stream 0 yields a priorityUpdate event', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendFrame(PRIORITY_UPDATE, 0, 0, concat(u32(1), 'u=1, i'));
    assert.deepEqual(c.eventsOf('priorityUpdate').map((e) => [e.streamId, e.value]), [[1, 'u=1, i']]);
    c.expectNoError();
  });

  test('RFC 9218 §7.1 PRIORITY_UPDATE on a non-zero stream → connection error PROTOCOL_ERROR', () => {
    const c = quietClient();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendFrame(PRIORITY_UPDATE, 0, 1, concat(u32(1), 'u=1'));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('RFC 9218 §7.1 PRIORITY_UPDATE for prioritized stream 0 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(PRIORITY_UPDATE, 0, 0, concat(u32(0), 'u=1'));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('RFC 9218 §7.1 PRIORITY_UPDATE shorter than 4 octets → connection error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(PRIORITY_UPDATE, 0, 0, [0, 0, 1]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('RFC 9218 §7.1 PRIORITY_UPDATE for a not-yet-opened stream is accepted', () => {
    const c = Client.connect();
    c.sendFrame(PRIORITY_UPDATE, 0, 0, concat(u32(5), 'u=0'));
    c.expectNoError();
    assert.equal(c.request(5).status, '200');
  });

  test('RFC 9218 §7.1 PRIORITY_UPDATE between HEADERS and CONTINUATION → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, endHeaders: false });
    c.sendFrame(PRIORITY_UPDATE, 0, 0, concat(u32(1), 'u=1'));
    c.expectGoaway(E.PROTOCOL_ERROR);
  });
});

describe('RFC 9113 §6.9.1 the server\'s own window advertisements', () => {
  test('§6.9.1 "A sender MUST NOT allow a flow-control window to exceed 2^31-1": maximal windows stay within bounds while data is consumed', () => {
    const c = quietClient({ engine: { settings: { initialWindowSize: 0x7fffffff }, connectionWindowSize: 0x7fffffff } });
    const streamWindow = new Map<number, number>();
    let connectionWindow = c.serverConnectionWindow;
    assert.ok(connectionWindow <= 0x7fffffff);
    for (let id = 1; id <= 9; id += 2) {
      c.sendHeaders(id, req('/', [], 'POST'));
      streamWindow.set(id, c.serverInitialWindow);
      for (let i = 0; i < 8; i++) {
        c.sendData(id, new Uint8Array(16384));
        connectionWindow -= 16384;
        streamWindow.set(id, streamWindow.get(id)! - 16384);
        for (const f of c.readFrames()) {
          if (f.type !== T.WINDOW_UPDATE) continue;
          if (f.streamId === 0) connectionWindow += f.increment!;
          else streamWindow.set(f.streamId, streamWindow.get(f.streamId)! + f.increment!);
          assert.ok(connectionWindow <= 0x7fffffff, `connection window ${connectionWindow}`);
          assert.ok(streamWindow.get(f.streamId)! <= 0x7fffffff, `stream ${f.streamId} window`);
        }
      }
      c.sendData(id, '', { endStream: true });
    }
    c.expectNoError();
  });

  test('§6.9 the server advertises its connection receive window with a WINDOW_UPDATE on stream 0 (or keeps 65535)', () => {
    const c = Client.connect({ engine: { connectionWindowSize: 1 << 20 } });
    assert.equal(c.serverConnectionWindow, 1 << 20);
  });
});

describe('RFC 9113 §6.3 invalid PRIORITY frames on streams that are not open', () => {
  test('§6.3 PRIORITY with a length other than 5 on an idle client stream → stream error FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.sendFrame(T.PRIORITY, 0, 3, [0, 0, 0, 0]);
    c.expectRst(3, E.FRAME_SIZE_ERROR);
  });

  test('§5.3.1 PRIORITY making an idle client stream depend on itself → stream error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendPriority(5, 5, 16);
    c.expectRst(5, E.PROTOCOL_ERROR);
  });

  test('§6.3/§6.4 an invalid PRIORITY naming an even (server-initiated) idle stream → connection error, never RST_STREAM on our own idle stream', () => {
    const c = Client.connect();
    c.sendFrame(T.PRIORITY, 0, 2, [0, 0, 0, 0]);
    c.expectGoaway(E.FRAME_SIZE_ERROR);
  });

  test('§6.3 a valid PRIORITY naming an even stream id is ignored', () => {
    const c = Client.connect();
    c.sendPriority(2, 0, 16);
    c.expectNoError();
  });

  test('§6.3 PRIORITY with a bad length on a closed stream is a stream error: RST_STREAM FRAME_SIZE_ERROR', () => {
    const c = Client.connect();
    c.request(1);
    c.readFrames();
    c.sendFrame(T.PRIORITY, 0, 1, [0, 0, 0, 0, 0, 0]);
    c.expectRst(1, E.FRAME_SIZE_ERROR);
  });
});
