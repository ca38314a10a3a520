// RFC 9113 §5: stream states, identifiers, concurrency, priority signalling, error handling, extensions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, E, FLAG, S, T, concat, encodeFields, hp, quietClient, req, u32 } from './harness.js';

/** Stream 1 left half-closed (remote): the request ended, the app has not answered. */
function halfClosedRemote(): Client {
  const c = quietClient();
  c.sendHeaders(1, req(), { endStream: true });
  assert.equal(c.eventsOf('streamEnded', 1).length, 1);
  return c;
}

/** Stream 1 left open: request headers without END_STREAM, no answer. */
function openStream(): Client {
  const c = quietClient();
  c.sendHeaders(1, req('/', [], 'POST'));
  return c;
}

/** Stream 1 closed by END_STREAM in both directions. */
function closedStream(): Client {
  const c = Client.connect();
  assert.equal(c.request(1).ended, true);
  c.readFrames();
  return c;
}

describe('RFC 9113 §5.1 stream states: idle', () => {
  test('§5.1 idle: DATA on an idle stream → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendData(1, 'x', { endStream: true });
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.1 idle / §6.4: RST_STREAM on an idle stream → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendRst(1, E.CANCEL);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.1 idle: WINDOW_UPDATE on an idle stream → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendWindowUpdate(1, 100);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.1 idle: CONTINUATION on an idle stream → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendContinuation(1, req());
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.1 idle: WINDOW_UPDATE on an idle stream above the highest open one → PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.request(1);
    c.sendWindowUpdate(5, 100);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.1 idle: PRIORITY on an idle stream is allowed', () => {
    const c = Client.connect();
    c.sendPriority(3, 0, 16);
    c.expectNoError();
  });

  test('§5.1 idle: PRIORITY does not open a stream, so a lower stream id may still be opened afterwards', () => {
    const c = Client.connect();
    c.sendPriority(9, 0, 16);
    assert.equal(c.request(3).status, '200');
    c.expectNoError();
  });

  test('§5.1 idle: HEADERS opens the stream (request event, response on the same stream)', () => {
    const c = Client.connect();
    const res = c.request(1);
    assert.equal(c.eventsOf('request', 1).length, 1);
    assert.equal(res.status, '200');
    assert.equal(res.ended, true);
  });
});

describe('RFC 9113 §5.1 stream states: open', () => {
  test('§5.1 open: DATA, WINDOW_UPDATE and PRIORITY are accepted on an open stream', () => {
    const c = openStream();
    c.sendData(1, 'abc');
    c.sendWindowUpdate(1, 10);
    c.sendPriority(1, 0, 200);
    c.expectNoError();
    assert.equal(c.requestBody(1), 'abc');
  });

  test('§5.1 open: RST_STREAM from the client closes the stream (event byPeer) and the server does not answer it with RST_STREAM (§5.4.2)', () => {
    const c = openStream();
    c.sendRst(1, E.CANCEL);
    const frames = c.expectNoError();
    assert.ok(!frames.some((f) => f.type === T.RST_STREAM));
    const reset = c.eventsOf('streamReset', 1);
    assert.equal(reset.length, 1);
    assert.equal(reset[0]!.code, E.CANCEL);
    assert.equal(reset[0]!.byPeer, true);
    assert.equal(c.engine.openStreamCount, 0);
  });

  test('§5.1 open: END_STREAM on DATA moves the stream to half-closed (remote): streamEnded event', () => {
    const c = openStream();
    c.sendData(1, 'body', { endStream: true });
    assert.equal(c.eventsOf('streamEnded', 1).length, 1);
    c.expectNoError();
  });
});

describe('RFC 9113 §5.1 stream states: half-closed (remote)', () => {
  test('§5.1 half-closed (remote): DATA → stream error STREAM_CLOSED', () => {
    const c = halfClosedRemote();
    c.sendData(1, 'late');
    c.expectRst(1, E.STREAM_CLOSED);
  });

  test('§5.1 half-closed (remote): a second HEADERS → stream error STREAM_CLOSED', () => {
    const c = halfClosedRemote();
    c.sendHeaders(1, ['x-late', '1'], { endStream: true });
    c.expectRst(1, E.STREAM_CLOSED);
  });

  test('§5.1 half-closed (remote): WINDOW_UPDATE is allowed', () => {
    const c = halfClosedRemote();
    c.sendWindowUpdate(1, 1000);
    c.expectNoError();
  });

  test('§5.1 half-closed (remote): PRIORITY is allowed', () => {
    const c = halfClosedRemote();
    c.sendPriority(1, 0, 32);
    c.expectNoError();
  });

  test('§5.1 half-closed (remote): RST_STREAM is allowed and closes the stream', () => {
    const c = halfClosedRemote();
    c.sendRst(1, E.CANCEL);
    c.expectNoError();
    assert.equal(c.eventsOf('streamReset', 1).length, 1);
    assert.equal(c.engine.openStreamCount, 0);
  });

  test('§5.1 half-closed (remote): the server can still send its response, which closes the stream', () => {
    const c = halfClosedRemote();
    c.engine.sendHeaders(1, [':status', '200'], false);
    c.engine.sendData(1, new TextEncoder().encode('late answer'), true);
    c.drain();
    assert.equal(c.response(1).body, 'late answer');
    assert.equal(c.response(1).ended, true);
    assert.equal(c.engine.openStreamCount, 0);
  });
});

describe('RFC 9113 §5.1 stream states: closed', () => {
  test('§5.1/§6.1 closed (END_STREAM both ways): DATA → STREAM_CLOSED', () => {
    const c = closedStream();
    c.sendData(1, 'late');
    c.expectStreamOrConnectionError(1, E.STREAM_CLOSED);
  });

  test('§5.1/§5.1.1 closed (END_STREAM both ways): HEADERS reusing the stream id → connection error STREAM_CLOSED or PROTOCOL_ERROR', () => {
    const c = closedStream();
    c.sendHeaders(1, req(), { endStream: true });
    assert.equal(c.eventsOf('request', 1).length, 1, 'no second request on a closed stream');
    c.expectGoawayOneOf([E.STREAM_CLOSED, E.PROTOCOL_ERROR]);
  });

  test('§5.1 closed: WINDOW_UPDATE shortly after the server\'s END_STREAM is ignored', () => {
    const c = closedStream();
    c.sendWindowUpdate(1, 100);
    c.expectNoError();
  });

  test('§5.1 closed: RST_STREAM shortly after the server\'s END_STREAM is ignored (no RST_STREAM in reply)', () => {
    const c = closedStream();
    c.sendRst(1, E.CANCEL);
    c.expectNoError();
  });

  test('§5.1 closed: PRIORITY on a closed stream is allowed', () => {
    const c = closedStream();
    c.sendPriority(1, 0, 8);
    c.expectNoError();
  });

  test('§5.1 closed by the client\'s RST_STREAM: DATA afterwards → STREAM_CLOSED', () => {
    const c = openStream();
    c.sendRst(1, E.CANCEL);
    c.readFrames();
    c.sendData(1, 'late');
    c.expectStreamOrConnectionError(1, E.STREAM_CLOSED);
  });

  test('§5.1 closed by the server\'s RST_STREAM: frames the client already sent (DATA, HEADERS, WINDOW_UPDATE) MUST be ignored', () => {
    const c = openStream();
    c.engine.resetStream(1, E.CANCEL);
    c.drain();
    const rst = c.readFrames().find((f) => f.type === T.RST_STREAM);
    assert.equal(rst?.errorCode, E.CANCEL);
    c.sendData(1, 'in flight');
    c.sendWindowUpdate(1, 10);
    c.sendHeaders(1, ['x-trailer', '1'], { endStream: true });
    c.expectNoError();
    assert.equal(c.requestBody(1), '', 'no data event for a stream the server reset');
  });

  test('§5.1 closed by the server\'s RST_STREAM: DATA received still counts toward the connection window, which the server replenishes', () => {
    const c = quietClient();
    let sent = 0;
    let streamId = 1;
    // Send three connection windows' worth of DATA on streams the server resets at once: the server must keep
    // crediting the connection window (WINDOW_UPDATE on stream 0) or the client would be starved forever.
    const total = 3 * c.serverConnectionWindow;
    while (sent < total) {
      c.sendHeaders(streamId, req('/', [], 'POST'));
      c.engine.resetStream(streamId, E.CANCEL);
      c.drain();
      assert.equal(c.readFrames().find((f) => f.type === T.RST_STREAM)?.errorCode, E.CANCEL);
      let streamSent = 0;
      while (streamSent < c.serverInitialWindow && sent < total) {
        const room = Math.min(c.serverConnectionWindow - sent, c.serverInitialWindow - streamSent, 16384);
        assert.ok(room > 0, `connection window starved after ${sent} octets; server sent ${c.frames.length} frames`);
        c.sendData(streamId, new Uint8Array(room));
        sent += room;
        streamSent += room;
      }
      const unexpected = c.readFrames().filter((f) => f.type === T.GOAWAY || f.type === T.RST_STREAM);
      assert.deepEqual(unexpected, [], 'DATA on a stream the server reset is ignored, not an error');
      streamId += 2;
    }
    c.expectNoError();
  });
});

describe('RFC 9113 §5.1.1 stream identifiers', () => {
  test('§5.1.1 a client-initiated stream with an even identifier → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(2, req(), { endStream: true });
    assert.equal(c.eventsOf('request').length, 0);
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.1.1 a new stream identifier lower than one already opened → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.request(5);
    c.sendHeaders(3, req(), { endStream: true });
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.1.1 skipping identifiers is allowed; the skipped idle streams are implicitly closed', () => {
    const c = quietClient();
    c.sendHeaders(7, req(), { endStream: true });
    c.expectNoError();
    c.sendHeaders(5, req(), { endStream: true });
    c.expectGoawayOneOf([E.PROTOCOL_ERROR, E.STREAM_CLOSED]);
  });

  test('§5.1.1 the largest stream identifier 2^31-1 is accepted', () => {
    const c = Client.connect();
    assert.equal(c.request(0x7fffffff).status, '200');
    c.expectNoError();
  });

  test('§5.1.1 HEADERS on stream 0 → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(0, req(), { endStream: true });
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.1.1 the server initiates no streams: every frame it sends is on stream 0 or a client (odd) stream', () => {
    const c = Client.connect();
    c.request(1);
    c.request(3);
    assert.ok(c.frames.every((f) => f.streamId === 0 || f.streamId % 2 === 1));
  });
});

describe('RFC 9113 §5.1.2 stream concurrency', () => {
  const limited = () => quietClient({ engine: { limits: { maxConcurrentStreams: 2 } } });

  test('§5.1.2 the server advertises its SETTINGS_MAX_CONCURRENT_STREAMS', () => {
    const c = limited();
    assert.equal(c.serverSettings.get(S.MAX_CONCURRENT_STREAMS), 2);
  });

  test('§5.1.2 a stream beyond SETTINGS_MAX_CONCURRENT_STREAMS → RST_STREAM REFUSED_STREAM (not a connection error), no request event', () => {
    const c = limited();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendHeaders(3, req(), { endStream: true });
    c.sendHeaders(5, req(), { endStream: true });
    c.expectRst(5, E.REFUSED_STREAM);
    assert.equal(c.eventsOf('request', 5).length, 0);
    assert.equal(c.eventsOf('request').length, 2);
  });

  test('§5.1.2 half-closed streams count toward the limit; once one closes a new stream is accepted', () => {
    const c = limited();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendHeaders(3, req('/', [], 'POST'));
    c.sendHeaders(5, req(), { endStream: true });
    c.expectRst(5, E.REFUSED_STREAM);
    c.engine.sendHeaders(1, [':status', '204'], true);
    c.drain();
    c.sendHeaders(7, req(), { endStream: true });
    c.expectNoError();
    assert.equal(c.eventsOf('request', 7).length, 1);
  });

  test('§5.1.2 a stream the client reset no longer counts toward the limit', () => {
    const c = limited();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendHeaders(3, req('/', [], 'POST'));
    c.sendRst(1, E.CANCEL);
    c.sendHeaders(5, req(), { endStream: true });
    c.expectNoError();
    assert.equal(c.eventsOf('request', 5).length, 1);
  });

  test('§5.1.2 refused streams are reported by RST_STREAM on their own id and DATA already in flight for them is not a connection error', () => {
    const c = limited();
    c.sendHeaders(1, req(), { endStream: true });
    c.sendHeaders(3, req(), { endStream: true });
    c.sendHeaders(5, req('/', [], 'POST'));
    c.expectRst(5, E.REFUSED_STREAM);
    c.sendData(5, 'in flight', { endStream: true });
    c.expectNoError();
  });
});

describe('RFC 9113 §5.3 prioritization signals', () => {
  test('§5.3.1 HEADERS whose priority makes the stream depend on itself → stream error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, priority: { dependsOn: 1, weight: 16 } });
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§5.3.1 a PRIORITY frame making an open stream depend on itself → stream error PROTOCOL_ERROR', () => {
    const c = openStream();
    c.sendPriority(1, 1, 16);
    c.expectRst(1, E.PROTOCOL_ERROR);
  });

  test('§5.3.2 priority signals are otherwise ignored: HEADERS with exclusive dependency on an unknown stream is served', () => {
    const c = Client.connect();
    c.sendHeaders(1, req(), { endStream: true, priority: { dependsOn: 99, weight: 256, exclusive: true } });
    assert.equal(c.response(1).status, '200');
    c.expectNoError();
  });
});

describe('RFC 9113 §5.4 error handling', () => {
  test('§5.4.1 the GOAWAY of a connection error carries the last stream id the server processed', () => {
    const c = Client.connect();
    c.request(1);
    c.request(3);
    c.sendFrame(T.PING, 0, 1, new Uint8Array(8));
    c.expectGoaway(E.PROTOCOL_ERROR, { lastStreamId: 3 });
  });

  test('§5.4.1 with no stream processed, the GOAWAY last stream id is 0', () => {
    const c = Client.connect();
    c.sendFrame(T.PING, 0, 1, new Uint8Array(8));
    c.expectGoaway(E.PROTOCOL_ERROR, { lastStreamId: 0 });
  });

  test('§5.4.2 a stream error affects only its stream: other streams complete', () => {
    const c = quietClient();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.sendHeaders(3, req('/', ['Upper-Case', '1']), { endStream: true }); // malformed (§8.2.1)
    c.expectRst(3, E.PROTOCOL_ERROR);
    c.sendData(1, 'ok', { endStream: true });
    c.engine.sendHeaders(1, [':status', '200'], true);
    c.drain();
    assert.equal(c.response(1).status, '200');
    c.expectNoError();
  });

  test('§5.4.2 the server MUST NOT answer a RST_STREAM with a RST_STREAM, even an unknown error code (§7)', () => {
    const c = openStream();
    c.sendRst(1, 0xdeadbeef);
    const frames = c.expectNoError();
    assert.ok(!frames.some((f) => f.type === T.RST_STREAM));
    assert.equal(c.eventsOf('streamReset', 1)[0]?.code, 0xdeadbeef);
  });

  test('§5.4.2 RST_STREAM sent by the server for a stream error is reported to the app as streamReset byPeer=false', () => {
    const c = halfClosedRemote();
    c.sendData(1, 'late');
    c.expectRst(1, E.STREAM_CLOSED);
    const ev = c.eventsOf('streamReset', 1);
    assert.equal(ev.length, 1);
    assert.equal(ev[0]!.byPeer, false);
    assert.equal(ev[0]!.code, E.STREAM_CLOSED);
  });
});

describe('RFC 9113 §5.5 extending HTTP/2', () => {
  test('§5.5 unknown frame types are discarded, even with flags, on any stream state', () => {
    const c = halfClosedRemote();
    c.sendFrame(0x20, 0xff, 1, 'x');
    c.sendFrame(0x21, 0, 0, '');
    c.sendFrame(0x22, 0, 99, 'idle');
    c.expectNoError();
  });

  test('§5.5 an extension frame in the middle of a field block → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    const block = encodeFields(req());
    c.sendHeaders(1, block.subarray(0, 10), { endStream: true, endHeaders: false });
    c.sendFrame(0xfa, 0, 1, 'ext');
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.5 an extension frame on stream 0 in the middle of a field block → connection error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    const block = encodeFields(req());
    c.sendHeaders(1, block.subarray(0, 10), { endStream: true, endHeaders: false });
    c.sendFrame(0xfa, 0, 0, 'ext');
    c.expectGoaway(E.PROTOCOL_ERROR);
  });

  test('§5.5 unknown SETTINGS identifiers are ignored', () => {
    const c = Client.connect();
    c.sendSettings([[0x0, 1], [0xff, 7], [0xabcd, 0xffffffff]]);
    const frames = c.expectNoError();
    assert.ok(frames.some((f) => f.type === T.SETTINGS && f.flags & FLAG.ACK));
  });

  test('§5.5 the dynamic table is unaffected by an ignored extension frame between two requests', () => {
    const c = Client.connect();
    c.sendHeaders(1, concat(encodeFields(req()), hp.incremental('x-a', 'b')), { endStream: true });
    c.sendFrame(0xfa, 0, 0, u32(0));
    c.sendHeaders(3, concat(encodeFields(req()), hp.indexed(62)), { endStream: true });
    assert.deepEqual(c.eventsOf('request', 3)[0]?.headers, ['x-a', 'b']);
  });
});

describe('RFC 9113 §5.1 closed-stream bookkeeping at scale', () => {
  test('§5.1.1/§6.1 DATA on a stream implicitly closed by a higher stream id → STREAM_CLOSED', () => {
    const c = quietClient();
    c.sendHeaders(5, req('/', [], 'POST'));
    c.sendData(3, 'x');
    c.expectStreamOrConnectionError(3, E.STREAM_CLOSED);
  });

  test('§5.1 a stream closed long ago (1100 streams later) is still closed, not idle: DATA → STREAM_CLOSED', () => {
    const c = Client.connect();
    for (let id = 1; id <= 2201; id += 2) c.request(id);
    assert.equal(c.response(2201).status, '200');
    c.readFrames();
    c.sendData(1, 'ancient');
    c.expectStreamOrConnectionError(1, E.STREAM_CLOSED);
  });

  test('§5.1 WINDOW_UPDATE, PRIORITY and RST_STREAM on a long-closed stream are not treated as idle-stream errors', () => {
    const c = Client.connect();
    for (let id = 1; id <= 2201; id += 2) c.request(id);
    c.readFrames();
    c.sendPriority(1, 0, 16);
    c.expectNoError();
    c.sendWindowUpdate(1, 10);
    c.sendRst(1, E.CANCEL);
    const frames = c.readFrames();
    assert.ok(!frames.some((f) => f.type === T.GOAWAY && f.errorCode === E.PROTOCOL_ERROR), 'not an idle-stream PROTOCOL_ERROR');
  });

  test('§5.1.1 after many streams, a HEADERS with a lower id is still a connection error PROTOCOL_ERROR (or STREAM_CLOSED)', () => {
    const c = Client.connect();
    for (let id = 1; id <= 2201; id += 2) c.request(id);
    c.readFrames();
    c.sendHeaders(1001, req(), { endStream: true });
    assert.equal(c.eventsOf('request', 1001).length, 1);
    c.expectGoawayOneOf([E.PROTOCOL_ERROR, E.STREAM_CLOSED]);
  });
});

describe('RFC 9113 §6.8 frames after the server\'s GOAWAY', () => {
  test('§6.8 after GOAWAY, frames on streams at or below the last stream id are still processed', () => {
    const c = quietClient();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.engine.goaway(E.NO_ERROR);
    c.drain();
    assert.equal(c.readFrames().find((f) => f.type === T.GOAWAY)?.lastStreamId, 1);
    c.sendData(1, 'after goaway', { endStream: true });
    assert.equal(c.requestBody(1), 'after goaway');
    assert.equal(c.eventsOf('streamEnded', 1).length, 1);
    c.engine.sendHeaders(1, [':status', '200'], true);
    c.drain();
    assert.equal(c.response(1).status, '200');
    assert.equal(c.engine.isDone, true);
  });

  test('§6.8 after GOAWAY, new streams above the last stream id are ignored without a connection error, and their DATA does not break flow control', () => {
    const c = quietClient();
    c.request(1);
    c.engine.goaway(E.NO_ERROR);
    c.drain();
    c.readFrames();
    c.sendHeaders(3, req('/', [], 'POST'));
    c.sendData(3, new Uint8Array(1000));
    assert.equal(c.eventsOf('request', 3).length, 0);
    const frames = c.readFrames();
    assert.ok(!frames.some((f) => f.type === T.GOAWAY && f.errorCode !== E.NO_ERROR), 'no connection error');
  });
});

describe('RFC 9113 §5.1 / §6 additional state cases', () => {
  test('§5.1.1 a refused stream id still counts as used: a lower new stream id afterwards → PROTOCOL_ERROR', () => {
    const c = quietClient({ engine: { limits: { maxConcurrentStreams: 1 } } });
    c.sendHeaders(1, req(), { endStream: true });
    c.sendHeaders(7, req(), { endStream: true });
    c.expectRst(7, E.REFUSED_STREAM);
    c.sendHeaders(5, req(), { endStream: true });
    c.expectGoawayOneOf([E.PROTOCOL_ERROR, E.STREAM_CLOSED]);
  });

  test('§5.1 half-closed (local): after the server\'s complete response the client may still send trailers', () => {
    const c = quietClient();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.engine.sendHeaders(1, [':status', '200'], true);
    c.drain();
    c.sendData(1, 'late body');
    c.sendHeaders(1, ['x-t', 'done'], { endStream: true });
    assert.deepEqual(c.eventsOf('trailers', 1)[0]?.headers, ['x-t', 'done']);
    assert.equal(c.engine.openStreamCount, 0);
    c.expectNoError();
  });

  test('§5.3.1 a self-dependency in a HEADERS block split over CONTINUATION → stream error PROTOCOL_ERROR', () => {
    const c = Client.connect();
    const block = encodeFields(req());
    c.sendHeaders(3, block.subarray(0, 5), { endStream: true, endHeaders: false, priority: { dependsOn: 3, weight: 16 } });
    c.sendContinuation(3, block.subarray(5));
    c.expectRst(3, E.PROTOCOL_ERROR);
    assert.equal(c.eventsOf('request', 3).length, 0);
  });

  test('§6.1 a few empty DATA frames without END_STREAM are legal', () => {
    const c = Client.connect({ app: 'echo' });
    c.sendHeaders(1, req('/', [], 'POST'));
    for (let i = 0; i < 5; i++) c.sendData(1, '');
    c.sendData(1, 'x', { endStream: true });
    assert.equal(c.response(1).body, 'x');
    c.expectNoError();
  });

  test('§5.1 RST_STREAM from the client on a half-closed (local) stream closes it quietly', () => {
    const c = quietClient();
    c.sendHeaders(1, req('/', [], 'POST'));
    c.engine.sendHeaders(1, [':status', '200'], true);
    c.drain();
    c.readFrames();
    c.sendRst(1, E.NO_ERROR);
    const frames = c.expectNoError();
    assert.ok(!frames.some((f) => f.streamId === 1));
    assert.equal(c.engine.openStreamCount, 0);
  });
});
