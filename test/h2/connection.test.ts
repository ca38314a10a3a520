import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONNECTION_PREFACE,
  ErrorCode,
  FrameType,
  H2Connection,
  SettingId,
  encodeContinuationFrame,
  encodeDataFrame,
  encodeFrame,
  encodeGoawayFrame,
  encodeHeadersFrame,
  encodePingFrame,
  encodePriorityFrame,
  encodePriorityUpdateFrame,
  encodePushPromiseFrame,
  encodeRstStreamFrame,
  encodeSettingsFrame,
  encodeWindowUpdateFrame,
  splitFrames,
} from '../../src/h2/index.js';
import type { H2Event, RequestReceivedEvent } from '../../src/h2/index.js';
import { Peer, REQUEST, concat, goawayOf, resetsOf, text, u32 } from './helpers.js';

const ofType = <T extends H2Event['type']>(events: H2Event[], type: T) =>
  events.filter((e): e is Extract<H2Event, { type: T }> => e.type === type);

function ready(options = {}): Peer {
  const peer = new Peer(options);
  peer.handshake();
  peer.read();
  return peer;
}

function expectGoaway(peer: Peer, code: number): void {
  const g = goawayOf(peer.read());
  assert.ok(g, 'expected a GOAWAY');
  assert.equal(g.code, code, `GOAWAY code ${g.code} (${g.debug})`);
  assert.equal(peer.conn.isClosing, true);
}

function expectReset(peer: Peer, streamId: number, code: number): void {
  const frames = peer.read();
  assert.equal(goawayOf(frames), undefined, 'unexpected GOAWAY');
  assert.equal(resetsOf(frames).get(streamId), code);
}

describe('connection setup', () => {
  test('server SETTINGS and the connection WINDOW_UPDATE are queued at construction', () => {
    const conn = new H2Connection();
    assert.equal(conn.wantsWrite, true);
    const { frames } = splitFrames(conn.dataToSend()!);
    assert.equal(frames[0]!.type, FrameType.SETTINGS);
    const settings = new Map<number, number>();
    for (let o = 0; o < frames[0]!.payload.length; o += 6) {
      settings.set((frames[0]!.payload[o]! << 8) | frames[0]!.payload[o + 1]!, u32(frames[0]!.payload, o + 2));
    }
    assert.equal(settings.get(SettingId.MAX_CONCURRENT_STREAMS), 100);
    assert.equal(settings.get(SettingId.INITIAL_WINDOW_SIZE), 1024 * 1024);
    assert.equal(settings.get(SettingId.MAX_HEADER_LIST_SIZE), 65536);
    assert.equal(frames[1]!.type, FrameType.WINDOW_UPDATE);
    assert.equal(frames[1]!.streamId, 0);
    assert.equal(u32(frames[1]!.payload), 8 * 1024 * 1024 - 65535);
    assert.equal(conn.wantsWrite, false);
  });

  test('connection window is configurable', () => {
    const conn = new H2Connection({ connectionWindowSize: 65535 });
    const { frames } = splitFrames(conn.dataToSend()!);
    assert.equal(frames.length, 1);
  });

  test('the preface may arrive byte by byte', () => {
    const peer = new Peer();
    const bytes = concat([CONNECTION_PREFACE, encodeSettingsFrame([]), encodeHeadersFrame(1, peer.block(REQUEST), { endStream: true })]);
    const events: H2Event[] = [];
    for (const b of bytes) events.push(...peer.conn.receive(new Uint8Array([b])));
    assert.equal(ofType(events, 'request').length, 1);
  });

  const POST = [':method', 'POST', ...REQUEST.slice(2)];

  test('frames split across reads at every kind of boundary arrive whole; DATA views of reassembled frames are owned', () => {
    const body = new Uint8Array(5000).map((_, i) => i & 0xff);
    const frames = concat([
      encodeHeadersFrame(1, new Peer().block(POST), { endStream: false }),
      encodeDataFrame(1, body.subarray(0, 3000)),
      encodePingFrame(),
      encodeDataFrame(1, body.subarray(3000), { endStream: true }),
    ]);
    // Cut points: inside a frame header, right after one, inside a payload, on a frame boundary.
    for (const cuts of [[4], [9], [2000], [4, 3100, 3105], [frames.length - 1], [1, 2, 3, 5000, 5001, 5002]]) {
      const peer = new Peer();
      peer.handshake();
      const events: H2Event[] = [];
      let from = 0;
      for (const cut of [...cuts, frames.length]) {
        events.push(...peer.conn.receive(frames.slice(from, cut)));
        from = cut;
      }
      const data = ofType(events, 'data');
      assert.deepEqual(concat(data.map((event) => event.data.slice())), body, `cuts ${cuts}`);
      assert.equal(data.at(-1)!.endStream, true);
      assert.equal(goawayOf(peer.read()), undefined);
    }
    const peer = new Peer();
    peer.handshake();
    const split = encodeDataFrame(1, new Uint8Array(10));
    peer.request(1, POST, false);
    assert.equal(ofType(peer.send(split.subarray(0, 12)), 'data').length, 0);
    const [event] = ofType(peer.send(split.subarray(12)), 'data');
    assert.equal(event!.owned, true);
    const [inOne] = ofType(peer.data(1, 'abc'), 'data');
    assert.equal(inOne!.owned, false);
  });

  test('a frame header larger than SETTINGS_MAX_FRAME_SIZE is refused once its split header is complete', () => {
    const peer = new Peer();
    peer.handshake();
    const oversized = encodeFrame(FrameType.PING, 0, 0, new Uint8Array(16385));
    assert.equal(peer.send(oversized.subarray(0, 2)).length, 0);
    const events = peer.send(oversized.subarray(2, 20));
    assert.equal(ofType(events, 'connectionTerminated')[0]?.code, ErrorCode.FRAME_SIZE_ERROR);
  });

  test('an invalid preface is a connection PROTOCOL_ERROR (RFC 9113 §3.4)', () => {
    const peer = new Peer();
    peer.read();
    const events = peer.send(text('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    assert.equal(ofType(events, 'connectionTerminated')[0]?.code, ErrorCode.PROTOCOL_ERROR);
    expectGoaway(peer, ErrorCode.PROTOCOL_ERROR);
    assert.equal(peer.conn.isDone, true);
  });

  test('the first frame after the preface must be SETTINGS (RFC 9113 §3.4)', () => {
    const peer = new Peer();
    peer.read();
    peer.send(concat([CONNECTION_PREFACE, encodePingFrame()]));
    expectGoaway(peer, ErrorCode.PROTOCOL_ERROR);
  });
});

describe('request / response', () => {
  test('HEADERS → request event; response bytes via dataToSend()', () => {
    const peer = ready();
    const events = peer.request(1);
    const request = ofType(events, 'request')[0]!;
    assert.deepEqual(request.pseudo, { method: 'GET', scheme: 'https', authority: 'localhost', path: '/', protocol: undefined });
    assert.equal(request.endStream, true);
    assert.deepEqual(ofType(events, 'streamEnded'), [{ type: 'streamEnded', streamId: 1 }]);
    peer.conn.sendHeaders(1, [':status', '200', 'content-type', 'text/plain', 'content-length', '5'], false);
    assert.equal(peer.conn.sendData(1, text('hello'), true), true);
    const frames = peer.read();
    assert.deepEqual(frames[0]!.headers, [':status', '200', 'content-type', 'text/plain', 'content-length', '5']);
    assert.equal(frames[1]!.type, FrameType.DATA);
    assert.equal(frames[1]!.flags & 1, 1);
    assert.equal(new TextDecoder().decode(frames[1]!.payload), 'hello');
    assert.equal(peer.conn.openStreamCount, 0);
  });

  test('request body: data events, trailers, streamEnded', () => {
    const peer = ready();
    peer.request(1, [':method', 'POST', ':scheme', 'https', ':path', '/up', 'content-length', '6'], false);
    const d1 = peer.data(1, 'abc');
    assert.equal(ofType(d1, 'data')[0]!.flowControlledLength, 3);
    peer.data(1, 'def');
    const t = peer.send(encodeHeadersFrame(1, peer.block(['x-checksum', '1']), { endStream: true }));
    assert.deepEqual(ofType(t, 'trailers')[0]!.headers, ['x-checksum', '1']);
    assert.equal(ofType(t, 'streamEnded').length, 1);
  });

  test('header block split over CONTINUATION frames', () => {
    const peer = ready();
    const block = peer.block([...REQUEST, 'x-long', 'y'.repeat(300)]);
    const events = peer.send(
      concat([
        encodeHeadersFrame(1, block.subarray(0, 10), { endStream: true, endHeaders: false }),
        encodeContinuationFrame(1, block.subarray(10, 20), false),
        encodeContinuationFrame(1, block.subarray(20), true),
      ]),
    );
    const req = ofType(events, 'request')[0]!;
    assert.deepEqual(req.headers, ['x-long', 'y'.repeat(300)]);
  });

  test('what the engine keeps across receive() calls is copied (drivers may reuse read buffers)', () => {
    const peer = ready();
    const bytes = concat([
      encodeHeadersFrame(1, peer.block([...REQUEST, 'x-a', 'value-one']), { endStream: true, endHeaders: false }),
    ]);
    const cut = bytes.length - 4; // the frame arrives in two reads: its tail is buffered by the engine
    const reused = Buffer.alloc(bytes.length + 64);
    reused.set(bytes.subarray(0, cut));
    peer.conn.receive(reused.subarray(0, cut));
    reused.fill(0xee);
    reused.set(bytes.subarray(cut));
    peer.conn.receive(reused.subarray(0, bytes.length - cut));
    reused.fill(0xdd);
    const events = peer.send(encodeContinuationFrame(1, new Uint8Array(0), true));
    assert.deepEqual(ofType(events, 'request')[0]?.headers, ['x-a', 'value-one']);
  });

  test('a response header block larger than the peer frame size is split into CONTINUATION', () => {
    const peer = ready();
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200', 'x-big', 'z'.repeat(40000)], true);
    const frames = peer.read();
    assert.deepEqual(frames.map((f) => f.type), [FrameType.HEADERS, FrameType.CONTINUATION, FrameType.CONTINUATION]);
    assert.equal(frames[2]!.headers?.[3], 'z'.repeat(40000));
    assert.ok(frames.every((f) => f.payload.length <= 16384));
  });

  test('informational 103 then the final response', () => {
    const peer = ready();
    peer.request(1);
    peer.conn.sendInformational(1, 103, ['link', '</a.css>; rel=preload']);
    peer.conn.sendHeaders(1, [':status', '204'], true);
    const frames = peer.read();
    assert.deepEqual(frames[0]!.headers, [':status', '103', 'link', '</a.css>; rel=preload']);
    assert.equal(frames[0]!.flags & 1, 0);
    assert.deepEqual(frames[1]!.headers, [':status', '204']);
    assert.throws(() => peer.conn.sendInformational(1, 101));
  });

  test('response trailers wait behind queued data', () => {
    const peer = ready();
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    peer.conn.sendData(1, text('body'), false);
    peer.conn.sendTrailers(1, ['grpc-status', '0']);
    const frames = peer.read();
    assert.deepEqual(frames.map((f) => f.type), [FrameType.HEADERS, FrameType.DATA, FrameType.HEADERS]);
    assert.deepEqual(frames[2]!.headers, ['grpc-status', '0']);
    assert.equal(frames[2]!.flags & 1, 1);
  });

  test('connection-specific response fields are not generated (RFC 9113 §8.2.2)', () => {
    const peer = ready();
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200', 'connection', 'close', 'keep-alive', '5', 'x', '1'], true);
    assert.deepEqual(peer.read()[0]!.headers, [':status', '200', 'x', '1']);
  });

  test('resetStream drops queued data and sends RST_STREAM', () => {
    const peer = ready();
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    peer.conn.sendData(1, new Uint8Array(1000), false);
    peer.conn.resetStream(1, ErrorCode.CANCEL);
    const frames = peer.read();
    assert.deepEqual(frames.map((f) => f.type), [FrameType.HEADERS, FrameType.RST_STREAM]);
    assert.equal(peer.conn.bufferedBytes, 0);
  });

  test('PING is answered with the same payload; pingAck reported', () => {
    const peer = ready();
    const opaque = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const events = peer.send(encodePingFrame(opaque));
    assert.deepEqual([...ofType(events, 'ping')[0]!.data], [...opaque]);
    const ack = peer.read().find((f) => f.type === FrameType.PING)!;
    assert.equal(ack.flags, 1);
    assert.deepEqual([...ack.payload], [...opaque]);
    peer.conn.ping(opaque);
    assert.equal(peer.read()[0]!.flags, 0);
    assert.equal(ofType(peer.send(encodePingFrame(opaque, true)), 'pingAck').length, 1);
  });

  test('peer SETTINGS are applied and acknowledged; settingsChanged reported', () => {
    const peer = new Peer();
    const events = peer.handshake([[SettingId.MAX_FRAME_SIZE, 32768], [SettingId.HEADER_TABLE_SIZE, 0]]);
    assert.deepEqual(ofType(events, 'settingsChanged')[0]!.changed, { maxFrameSize: 32768, headerTableSize: 0 });
    assert.equal(peer.conn.remoteSettings.maxFrameSize, 32768);
    const acks = peer.read().filter((f) => f.type === FrameType.SETTINGS);
    assert.equal(acks.length, 0); // already read by handshake()
  });

  test('updateSettings() sends SETTINGS; a lower MAX_CONCURRENT_STREAMS is enforced at once', () => {
    const peer = ready();
    peer.conn.updateSettings({ maxConcurrentStreams: 1 });
    const settings = peer.read().find((f) => f.type === FrameType.SETTINGS)!;
    assert.deepEqual([...settings.payload], [0, 3, 0, 0, 0, 1]);
    assert.equal(peer.conn.localSettings.maxConcurrentStreams, 1);
    peer.request(1, REQUEST, false);
    peer.request(3, REQUEST, false);
    expectReset(peer, 3, ErrorCode.REFUSED_STREAM);
    assert.throws(() => peer.conn.updateSettings({ maxFrameSize: 100 }), RangeError);
  });

  test('our SETTINGS ACK is reported', () => {
    const peer = new Peer();
    peer.send(concat([CONNECTION_PREFACE, encodeSettingsFrame([])]));
    assert.equal(ofType(peer.send(encodeSettingsFrame([], true)), 'settingsAcknowledged').length, 1);
  });

  test('PRIORITY_UPDATE → priorityUpdate event (RFC 9218)', () => {
    const peer = ready();
    const events = peer.send(encodePriorityUpdateFrame(1, 'u=2, i'));
    assert.deepEqual(ofType(events, 'priorityUpdate'), [{ type: 'priorityUpdate', streamId: 1, value: 'u=2, i' }]);
  });

  test('unknown frame types and unknown flags are ignored (RFC 9113 §4.1, §5.5)', () => {
    const peer = ready();
    peer.send(encodeFrame(0xbb, 0xff, 0, new Uint8Array(10)));
    const events = peer.send(encodeHeadersFrame(1, peer.block(REQUEST), { endStream: true }));
    assert.equal(ofType(events, 'request').length, 1);
    assert.equal(goawayOf(peer.read()), undefined);
  });

  test('peer GOAWAY → connectionTerminated byPeer', () => {
    const peer = ready();
    const events = peer.send(encodeGoawayFrame(0, ErrorCode.NO_ERROR, text('bye')));
    const t = ofType(events, 'connectionTerminated')[0]!;
    assert.equal(t.byPeer, true);
    assert.equal(new TextDecoder().decode(t.debugData), 'bye');
    assert.equal(peer.conn.isClosing, true);
  });
});

describe('connection errors', () => {
  const cases: Array<[string, (p: Peer) => Uint8Array, number]> = [
    ['DATA on stream 0 (§6.1)', () => encodeDataFrame(0, text('x')), ErrorCode.PROTOCOL_ERROR],
    ['HEADERS on stream 0 (§6.2)', (p) => encodeHeadersFrame(0, p.block(REQUEST)), ErrorCode.PROTOCOL_ERROR],
    ['PRIORITY on stream 0 (§6.3)', () => encodePriorityFrame(0, { exclusive: false, dependency: 1, weight: 1 }), ErrorCode.PROTOCOL_ERROR],
    ['RST_STREAM on stream 0 (§6.4)', () => encodeRstStreamFrame(0, 0), ErrorCode.PROTOCOL_ERROR],
    ['RST_STREAM on an idle stream (§6.4)', () => encodeRstStreamFrame(1, 0), ErrorCode.PROTOCOL_ERROR],
    ['RST_STREAM of length 3 (§6.4)', () => encodeFrame(FrameType.RST_STREAM, 0, 1, new Uint8Array(3)), ErrorCode.FRAME_SIZE_ERROR],
    ['SETTINGS on a stream (§6.5)', () => encodeFrame(FrameType.SETTINGS, 0, 1, new Uint8Array(0)), ErrorCode.PROTOCOL_ERROR],
    ['SETTINGS length % 6 (§6.5)', () => encodeFrame(FrameType.SETTINGS, 0, 0, new Uint8Array(5)), ErrorCode.FRAME_SIZE_ERROR],
    ['SETTINGS ACK with payload (§6.5)', () => encodeFrame(FrameType.SETTINGS, 1, 0, new Uint8Array(6)), ErrorCode.FRAME_SIZE_ERROR],
    ['ENABLE_PUSH = 2 (§6.5.2)', () => encodeSettingsFrame([[SettingId.ENABLE_PUSH, 2]]), ErrorCode.PROTOCOL_ERROR],
    ['INITIAL_WINDOW_SIZE > 2^31-1 (§6.5.2)', () => encodeSettingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 2 ** 31]]), ErrorCode.FLOW_CONTROL_ERROR],
    ['MAX_FRAME_SIZE < 16384 (§6.5.2)', () => encodeSettingsFrame([[SettingId.MAX_FRAME_SIZE, 16383]]), ErrorCode.PROTOCOL_ERROR],
    ['MAX_FRAME_SIZE > 2^24-1 (§6.5.2)', () => encodeSettingsFrame([[SettingId.MAX_FRAME_SIZE, 2 ** 24]]), ErrorCode.PROTOCOL_ERROR],
    ['PUSH_PROMISE from a client (§8.4)', (p) => encodePushPromiseFrame(1, 2, p.block(REQUEST)), ErrorCode.PROTOCOL_ERROR],
    ['PING of length 7 (§6.7)', () => encodeFrame(FrameType.PING, 0, 0, new Uint8Array(7)), ErrorCode.FRAME_SIZE_ERROR],
    ['PING on a stream (§6.7)', () => encodeFrame(FrameType.PING, 0, 1, new Uint8Array(8)), ErrorCode.PROTOCOL_ERROR],
    ['GOAWAY on a stream (§6.8)', () => encodeFrame(FrameType.GOAWAY, 0, 1, new Uint8Array(8)), ErrorCode.PROTOCOL_ERROR],
    ['WINDOW_UPDATE 0 on the connection (§6.9)', () => encodeWindowUpdateFrame(0, 0), ErrorCode.PROTOCOL_ERROR],
    ['WINDOW_UPDATE of length 3 (§6.9)', () => encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, new Uint8Array(3)), ErrorCode.FRAME_SIZE_ERROR],
    ['WINDOW_UPDATE on an idle stream (§5.1)', () => encodeWindowUpdateFrame(1, 1), ErrorCode.PROTOCOL_ERROR],
    ['connection window overflow (§6.9.1)', () => encodeWindowUpdateFrame(0, 2 ** 31 - 1), ErrorCode.FLOW_CONTROL_ERROR],
    ['DATA on an idle stream (§5.1)', () => encodeDataFrame(1, text('x')), ErrorCode.PROTOCOL_ERROR],
    ['CONTINUATION without HEADERS (§6.10)', () => encodeContinuationFrame(1, new Uint8Array([0x82])), ErrorCode.PROTOCOL_ERROR],
    ['HEADERS on an even stream id (§5.1.1)', (p) => encodeHeadersFrame(2, p.block(REQUEST), { endStream: true }), ErrorCode.PROTOCOL_ERROR],
    ['a frame larger than MAX_FRAME_SIZE (§4.2)', () => encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(16385)), ErrorCode.FRAME_SIZE_ERROR],
    ['a broken HPACK block (§4.3)', () => encodeHeadersFrame(1, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), { endStream: true }), ErrorCode.COMPRESSION_ERROR],
    ['padding longer than the DATA payload (§6.1)', () => encodeFrame(FrameType.DATA, 0x8, 1, new Uint8Array([9, 1])), ErrorCode.PROTOCOL_ERROR],
    ['PRIORITY_UPDATE for stream 0 (RFC 9218 §7.1)', () => encodePriorityUpdateFrame(0, 'u=1'), ErrorCode.PROTOCOL_ERROR],
  ];
  for (const [name, frame, code] of cases) {
    test(name, () => {
      const peer = ready();
      const events = peer.send(frame(peer));
      const terminated = ofType(events, 'connectionTerminated')[0];
      assert.ok(terminated, 'connectionTerminated expected');
      assert.equal(terminated.byPeer, false);
      expectGoaway(peer, code);
      assert.deepEqual(peer.send(encodePingFrame()), [], 'input after a connection error is ignored');
    });
  }

  test('a frame interleaved in a field block (§6.10)', () => {
    const peer = ready();
    peer.send(encodeHeadersFrame(1, peer.block(REQUEST), { endHeaders: false, endStream: true }));
    peer.send(encodePingFrame());
    expectGoaway(peer, ErrorCode.PROTOCOL_ERROR);
  });

  test('CONTINUATION on another stream (§6.10)', () => {
    const peer = ready();
    const block = peer.block(REQUEST);
    peer.send(encodeHeadersFrame(1, block.subarray(0, 2), { endHeaders: false, endStream: true }));
    peer.send(encodeContinuationFrame(3, block.subarray(2)));
    expectGoaway(peer, ErrorCode.PROTOCOL_ERROR);
  });

  test('a stream id lower than a previous one (§5.1.1)', () => {
    const peer = ready();
    peer.request(5);
    peer.request(3);
    expectGoaway(peer, ErrorCode.PROTOCOL_ERROR);
  });

  test('DATA after END_STREAM on a closed stream is a connection STREAM_CLOSED (§5.1)', () => {
    const peer = ready();
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200'], true);
    peer.read();
    peer.data(1, 'late');
    expectGoaway(peer, ErrorCode.STREAM_CLOSED);
  });

  test('GOAWAY carries the last processed stream id', () => {
    const peer = ready();
    peer.request(1);
    peer.request(3);
    peer.send(encodeDataFrame(0, text('x')));
    assert.equal(goawayOf(peer.read())!.lastStreamId, 3);
  });
});

describe('stream errors', () => {
  test('DATA on a half-closed (remote) stream → RST_STREAM(STREAM_CLOSED) (§5.1)', () => {
    const peer = ready();
    peer.request(1);
    peer.data(1, 'x');
    expectReset(peer, 1, ErrorCode.STREAM_CLOSED);
  });

  test('HEADERS on a half-closed (remote) stream → STREAM_CLOSED (§5.1)', () => {
    const peer = ready();
    peer.request(1);
    peer.send(encodeHeadersFrame(1, peer.block(['x', 'y']), { endStream: true }));
    expectReset(peer, 1, ErrorCode.STREAM_CLOSED);
  });

  test('frames after the peer reset the stream → STREAM_CLOSED (§5.1)', () => {
    const peer = ready();
    peer.request(1, REQUEST, false);
    const events = peer.send(encodeRstStreamFrame(1, ErrorCode.CANCEL));
    assert.deepEqual(ofType(events, 'streamReset'), [{ type: 'streamReset', streamId: 1, code: ErrorCode.CANCEL, byPeer: true }]);
    peer.data(1, 'x');
    expectReset(peer, 1, ErrorCode.STREAM_CLOSED);
  });

  test('frames after we reset the stream are ignored (§5.1), DATA still counts for the connection window', () => {
    const peer = ready();
    peer.request(1, REQUEST, false);
    peer.conn.resetStream(1, ErrorCode.CANCEL);
    peer.read();
    peer.data(1, 'x'.repeat(100));
    peer.send(encodeWindowUpdateFrame(1, 10));
    peer.send(encodeRstStreamFrame(1, ErrorCode.CANCEL));
    const frames = peer.read();
    assert.deepEqual(frames, []);
    assert.equal(peer.conn.isClosing, false);
  });

  test('closed-stream memory is bounded: forgotten streams give stream errors, not connection errors', () => {
    const peer = ready({ limits: { maxClosedStreamsRemembered: 4 } });
    for (let id = 1; id <= 11; id += 2) {
      peer.request(id);
      peer.conn.sendHeaders(id, [':status', '204'], true);
    }
    peer.read();
    // Stream 11 is remembered as closed after END_STREAM: DATA is a connection error there (§5.1), but stream 1
    // was forgotten, so a late DATA on it only costs a stream error.
    peer.data(1, 'late');
    expectReset(peer, 1, ErrorCode.STREAM_CLOSED);
    // HEADERS reusing a forgotten id is still a connection error (§5.1.1).
    peer.request(3);
    const g = goawayOf(peer.read());
    assert.equal(g?.code, ErrorCode.PROTOCOL_ERROR);
  });

  test('WINDOW_UPDATE 0 on a stream → stream PROTOCOL_ERROR (§6.9)', () => {
    const peer = ready();
    peer.request(1);
    peer.send(encodeWindowUpdateFrame(1, 0));
    expectReset(peer, 1, ErrorCode.PROTOCOL_ERROR);
  });

  test('stream window overflow → stream FLOW_CONTROL_ERROR (§6.9.1)', () => {
    const peer = ready();
    peer.request(1);
    peer.send(encodeWindowUpdateFrame(1, 2 ** 31 - 1));
    expectReset(peer, 1, ErrorCode.FLOW_CONTROL_ERROR);
  });

  test('PRIORITY of length 4 → stream FRAME_SIZE_ERROR (§6.3)', () => {
    const peer = ready();
    peer.request(1, REQUEST, false);
    peer.send(encodeFrame(FrameType.PRIORITY, 0, 1, new Uint8Array(4)));
    expectReset(peer, 1, ErrorCode.FRAME_SIZE_ERROR);
  });

  test('self-dependency in PRIORITY and HEADERS → stream PROTOCOL_ERROR (§5.3.1)', () => {
    const peer = ready();
    peer.send(encodePriorityFrame(1, { exclusive: false, dependency: 1, weight: 16 }));
    expectReset(peer, 1, ErrorCode.PROTOCOL_ERROR);
    peer.send(encodeHeadersFrame(3, peer.block(REQUEST), { endStream: true, priority: { exclusive: false, dependency: 3, weight: 1 } }));
    expectReset(peer, 3, ErrorCode.PROTOCOL_ERROR);
  });

  test('PRIORITY on an idle stream is allowed and does not open it', () => {
    const peer = ready();
    peer.send(encodePriorityFrame(9, { exclusive: false, dependency: 0, weight: 16 }));
    assert.equal(ofType(peer.request(1), 'request').length, 1);
    assert.deepEqual(peer.read(), []);
  });

  test('trailers without END_STREAM → stream PROTOCOL_ERROR (§8.1)', () => {
    const peer = ready();
    peer.request(1, REQUEST, false);
    peer.send(encodeHeadersFrame(1, peer.block(['x', 'y']), { endStream: false }));
    expectReset(peer, 1, ErrorCode.PROTOCOL_ERROR);
  });

  test('trailers with a pseudo-header → stream PROTOCOL_ERROR (§8.1)', () => {
    const peer = ready();
    peer.request(1, REQUEST, false);
    peer.send(encodeHeadersFrame(1, peer.block([':path', '/']), { endStream: true }));
    expectReset(peer, 1, ErrorCode.PROTOCOL_ERROR);
  });

  test('an engine reset of a known stream is reported as streamReset byPeer false', () => {
    const peer = ready();
    peer.request(1, [...REQUEST, 'content-length', '2'], false);
    const events = peer.data(1, 'abc');
    assert.deepEqual(ofType(events, 'streamReset'), [{ type: 'streamReset', streamId: 1, code: ErrorCode.PROTOCOL_ERROR, byPeer: false }]);
  });
});

describe('message rules (RFC 9113 §8)', () => {
  const malformed: Array<[string, string[], boolean?]> = [
    ['missing :method', [':scheme', 'https', ':path', '/']],
    ['missing :scheme', [':method', 'GET', ':path', '/']],
    ['missing :path', [':method', 'GET', ':scheme', 'https']],
    ['empty :path', [':method', 'GET', ':scheme', 'https', ':path', '']],
    ['duplicate :path', [':method', 'GET', ':scheme', 'https', ':path', '/', ':path', '/']],
    ['unknown pseudo-header', [':method', 'GET', ':scheme', 'https', ':path', '/', ':foo', 'x']],
    ['response pseudo-header in a request', [':method', 'GET', ':scheme', 'https', ':path', '/', ':status', '200']],
    ['pseudo-header after a regular field', [':method', 'GET', ':scheme', 'https', 'x', 'y', ':path', '/']],
    ['connection field', [...REQUEST, 'connection', 'keep-alive']],
    ['keep-alive field', [...REQUEST, 'keep-alive', '5']],
    ['proxy-connection field', [...REQUEST, 'proxy-connection', 'x']],
    ['transfer-encoding field', [...REQUEST, 'transfer-encoding', 'chunked']],
    ['upgrade field', [...REQUEST, 'upgrade', 'websocket']],
    ['te other than trailers', [...REQUEST, 'te', 'gzip']],
    ['NUL in a value', [...REQUEST, 'x', 'a\0b']],
    ['CR in a value', [...REQUEST, 'x', 'a\rb']],
    ['LF in a value', [...REQUEST, 'x', 'a\nb']],
    ['leading whitespace in a value', [...REQUEST, 'x', ' a']],
    ['trailing whitespace in a value', [...REQUEST, 'x', 'a\t']],
    ['space in a field name', [...REQUEST, 'x y', 'a']],
    ['invalid content-length', [...REQUEST, 'content-length', '1x']],
    ['conflicting content-length', [...REQUEST, 'content-length', '1', 'content-length', '2'], false],
    ['content-length with END_STREAM on HEADERS', [...REQUEST, 'content-length', '3']],
    ['CONNECT with :path', [':method', 'CONNECT', ':authority', 'a:443', ':path', '/']],
    ['CONNECT without :authority', [':method', 'CONNECT']],
    [':protocol when extended CONNECT is not enabled', [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':path', '/', ':authority', 'a']],
    ['userinfo in :authority', [':method', 'GET', ':scheme', 'https', ':path', '/', ':authority', 'u@host']],
    ['host differing from :authority', [...REQUEST, 'host', 'other']],
    [':path not origin-form', [':method', 'GET', ':scheme', 'https', ':path', 'http://x/']],
  ];
  for (const [name, headers, endStream] of malformed) {
    test(`${name} → RST_STREAM(PROTOCOL_ERROR), no request event`, () => {
      const peer = ready();
      const events = peer.request(1, headers, endStream ?? true);
      assert.equal(ofType(events, 'request').length, 0);
      expectReset(peer, 1, ErrorCode.PROTOCOL_ERROR);
      // The connection stays usable.
      assert.equal(ofType(peer.request(3), 'request').length, 1);
    });
  }

  test('an uppercase field name (sent raw, bypassing our lowercasing encoder) → PROTOCOL_ERROR (§8.2.1)', () => {
    const peer = ready();
    const literal = (name: string, value: string) => [0x00, name.length, ...text(name), value.length, ...text(value)];
    const block = concat([peer.block(REQUEST), new Uint8Array(literal('X-Upper', 'y'))]);
    const events = peer.send(encodeHeadersFrame(1, block, { endStream: true }));
    assert.equal(ofType(events, 'request').length, 0);
    expectReset(peer, 1, ErrorCode.PROTOCOL_ERROR);
  });

  test('te: trailers, cookie crumbs, OPTIONS * and CONNECT are accepted', () => {
    const peer = ready();
    const events = [
      ...peer.request(1, [...REQUEST, 'te', 'trailers', 'cookie', 'a=1', 'cookie', 'b=2']),
      ...peer.request(3, [':method', 'OPTIONS', ':scheme', 'https', ':path', '*', ':authority', 'x']),
      ...peer.request(5, [':method', 'CONNECT', ':authority', 'example.com:443'], false),
    ];
    const requests = ofType(events, 'request');
    assert.equal(requests.length, 3);
    assert.deepEqual(requests[0]!.headers, ['te', 'trailers', 'cookie', 'a=1', 'cookie', 'b=2']);
    assert.deepEqual(requests[2]!.pseudo, { method: 'CONNECT', scheme: undefined, authority: 'example.com:443', path: undefined, protocol: undefined });
  });

  test('extended CONNECT (RFC 8441) when enabled', () => {
    const peer = ready({ settings: { enableConnectProtocol: true } });
    const events = peer.request(1, [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':path', '/chat', ':authority', 'a'], false);
    assert.equal(ofType(events, 'request')[0]!.pseudo.protocol, 'websocket');
    peer.request(3, [':method', 'CONNECT', ':protocol', 'websocket', ':authority', 'a'], false);
    expectReset(peer, 3, ErrorCode.PROTOCOL_ERROR);
  });

  test('content-length must match the DATA sum (§8.1.1)', () => {
    const peer = ready();
    const ev = peer.request(1, [':method', 'POST', ':scheme', 'https', ':path', '/', 'content-length', '5'], false);
    assert.equal((ofType(ev, 'request')[0] as RequestReceivedEvent).contentLength, 5);
    peer.data(1, 'abc', true);
    expectReset(peer, 1, ErrorCode.PROTOCOL_ERROR);
    peer.request(3, [':method', 'POST', ':scheme', 'https', ':path', '/', 'content-length', '3'], false);
    const ok = peer.data(3, 'abc', true);
    assert.equal(ofType(ok, 'streamEnded').length, 1);
  });

  test('a header list over maxHeaderListSize is answered 431 by the engine', () => {
    const peer = ready({ limits: { maxHeaderListSize: 1024 } });
    const events = peer.request(1, [...REQUEST, 'x-big', 'a'.repeat(2000)]);
    assert.equal(ofType(events, 'request').length, 0);
    const frames = peer.read();
    assert.equal(frames[0]!.headers?.[1], '431');
    assert.equal(frames[0]!.flags & 1, 1);
    // With a body still coming: 431 then RST_STREAM(NO_ERROR), and the body is ignored.
    peer.request(3, [...REQUEST, 'x-big', 'a'.repeat(2000)], false);
    const f2 = peer.read();
    assert.equal(f2[0]!.headers?.[1], '431');
    assert.equal(resetsOf(f2).get(3), ErrorCode.NO_ERROR);
    peer.data(3, 'ignored', true);
    assert.deepEqual(peer.read(), []);
    assert.equal(ofType(peer.request(5), 'request').length, 1);
  });

  test('streams beyond MAX_CONCURRENT_STREAMS are refused (§5.1.2)', () => {
    const peer = ready({ limits: { maxConcurrentStreams: 2 } });
    peer.request(1, REQUEST, false);
    peer.request(3, REQUEST, false);
    const events = peer.request(5, REQUEST, false);
    assert.equal(ofType(events, 'request').length, 0);
    expectReset(peer, 5, ErrorCode.REFUSED_STREAM);
    assert.equal(peer.conn.openStreamCount, 2);
    peer.data(5, 'x'); // in flight: ignored
    assert.deepEqual(peer.read(), []);
    peer.conn.resetStream(1, ErrorCode.CANCEL);
    peer.read();
    assert.equal(ofType(peer.request(7), 'request').length, 1);
  });
});

describe('graceful shutdown (RFC 9113 §6.8)', () => {
  test('GOAWAY(2^31-1) + PING, then GOAWAY(last id) on the PING ACK', () => {
    const peer = ready();
    peer.request(1, REQUEST, false);
    peer.conn.shutdown();
    const first = peer.read();
    assert.equal(goawayOf(first)!.lastStreamId, 2 ** 31 - 1);
    const ping = first.find((f) => f.type === FrameType.PING)!;
    assert.equal(peer.conn.isClosing, true);
    // A request that was in flight is still processed.
    assert.equal(ofType(peer.request(3), 'request').length, 1);
    peer.send(encodePingFrame(ping.payload, true));
    const second = peer.read();
    assert.equal(goawayOf(second)!.lastStreamId, 3);
    // Streams above the last id are ignored.
    assert.equal(ofType(peer.request(5), 'request').length, 0);
    assert.equal(peer.conn.isDone, false);
    peer.conn.sendHeaders(1, [':status', '200'], true);
    peer.conn.sendHeaders(3, [':status', '200'], true);
    peer.data(1, 'end', true);
    peer.read();
    assert.equal(peer.conn.openStreamCount, 0);
    assert.equal(peer.conn.isDone, true);
  });

  test('a connection error during a graceful shutdown still lets the driver finish (isDone)', () => {
    const peer = ready();
    peer.conn.shutdown();
    peer.read();
    peer.send(encodeDataFrame(0, text('x')));
    peer.read();
    assert.equal(peer.conn.isDone, true);
  });

  test('goaway() is immediate with the last processed id', () => {
    const peer = ready();
    peer.request(1);
    peer.conn.goaway();
    assert.equal(goawayOf(peer.read())!.lastStreamId, 1);
    assert.equal(ofType(peer.request(3), 'request').length, 0);
  });
});
