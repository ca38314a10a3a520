// Every connection and stream error RFC 9114 / RFC 9204 / RFC 9218 / RFC 9220 names, each provoked by a crafted input
// from a raw peer, checked for its exact error code; and what must be ignored (unknown frames, streams, settings).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { H3ErrorCode as E } from '../../src/h3/errors.js';
import { FrameType, encodeFrame, encodeIdFrame, encodeSettingsFrame, encodePriorityUpdateFrame } from '../../src/h3/frames.js';
import { encodeVarint } from '../../src/h3/varint.js';
import { concat, hex, latin1Bytes, toHex } from './helpers.js';
import { QpackDecoder } from '../../src/h3/qpack/decoder.js';
import { GET, RawPeer } from './raw-peer.js';

const data = (bytes: Uint8Array | string) => encodeFrame(FrameType.DATA, typeof bytes === 'string' ? latin1Bytes(bytes) : bytes);

describe('server: connection errors', () => {
  const cases: Array<[string, number, (peer: RawPeer) => void]> = [
    ['first control frame is not SETTINGS → H3_MISSING_SETTINGS', E.H3_MISSING_SETTINGS, (p) => p.openControl(encodeIdFrame(FrameType.GOAWAY, 0))],
    ['second SETTINGS → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => (p.openControl(), p.control(encodeSettingsFrame([])))],
    ['DATA on the control stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => (p.openControl(), p.control(data('x')))],
    ['HEADERS on the control stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => (p.openControl(), p.control(p.headers(2, GET)))],
    ['PUSH_PROMISE on the control stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => (p.openControl(), p.control(encodeFrame(FrameType.PUSH_PROMISE, hex('00 0000'))))],
    ['HTTP/2 PING (0x06) on the control stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => (p.openControl(), p.control(encodeFrame(0x06, new Uint8Array(8))))],
    ['HTTP/2 setting 0x02 → H3_SETTINGS_ERROR', E.H3_SETTINGS_ERROR, (p) => p.openControl(encodeSettingsFrame([[0x02, 0]]))],
    ['HTTP/2 setting 0x04 → H3_SETTINGS_ERROR', E.H3_SETTINGS_ERROR, (p) => p.openControl(encodeSettingsFrame([[0x04, 65535]]))],
    ['setting given twice → H3_SETTINGS_ERROR', E.H3_SETTINGS_ERROR, (p) => p.openControl(encodeSettingsFrame([[0x06, 1], [0x06, 2]]))],
    ['ENABLE_CONNECT_PROTOCOL = 2 → H3_SETTINGS_ERROR', E.H3_SETTINGS_ERROR, (p) => p.openControl(encodeSettingsFrame([[0x08, 2]]))],
    ['H3_DATAGRAM = 5 → H3_SETTINGS_ERROR', E.H3_SETTINGS_ERROR, (p) => p.openControl(encodeSettingsFrame([[0x33, 5]]))],
    ['truncated SETTINGS payload → H3_FRAME_ERROR', E.H3_FRAME_ERROR, (p) => p.openControl(encodeFrame(FrameType.SETTINGS, hex('06')))],
    ['second control stream → H3_STREAM_CREATION_ERROR', E.H3_STREAM_CREATION_ERROR, (p) => (p.openControl(), p.openControl())],
    ['second QPACK encoder stream → H3_STREAM_CREATION_ERROR', E.H3_STREAM_CREATION_ERROR, (p) => (p.openUni(0x02), p.openUni(0x02))],
    ['second QPACK decoder stream → H3_STREAM_CREATION_ERROR', E.H3_STREAM_CREATION_ERROR, (p) => (p.openUni(0x03), p.openUni(0x03))],
    ['push stream from a client → H3_STREAM_CREATION_ERROR', E.H3_STREAM_CREATION_ERROR, (p) => p.openUni(0x01, hex('00'))],
    ['control stream closed → H3_CLOSED_CRITICAL_STREAM', E.H3_CLOSED_CRITICAL_STREAM, (p) => (p.openControl(), p.control(new Uint8Array(0), true))],
    ['QPACK encoder stream closed → H3_CLOSED_CRITICAL_STREAM', E.H3_CLOSED_CRITICAL_STREAM, (p) => p.openUni(0x02, new Uint8Array(0), true)],
    ['QPACK decoder stream reset → H3_CLOSED_CRITICAL_STREAM', E.H3_CLOSED_CRITICAL_STREAM, (p) => p.quic.resetStream(p.openUni(0x03), 0)],
    ['control stream reset → H3_CLOSED_CRITICAL_STREAM', E.H3_CLOSED_CRITICAL_STREAM, (p) => p.quic.resetStream(p.openControl(), 0)],
    ['STOP_SENDING on our control stream → H3_CLOSED_CRITICAL_STREAM', E.H3_CLOSED_CRITICAL_STREAM, (p) => p.quic.stopSending(3, E.H3_NO_ERROR)],
    ['DATA before HEADERS → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(data('x'))],
    ['HEADERS after trailers → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(concat(p.headers(0, GET), p.headers(0, ['x', '1']), p.headers(0, ['y', '2'])))],
    ['DATA after trailers → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(concat(p.headers(0, GET), p.headers(0, ['x', '1']), data('z')))],
    ['SETTINGS on a request stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(encodeSettingsFrame([]))],
    ['GOAWAY on a request stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(concat(p.headers(0, GET), encodeIdFrame(FrameType.GOAWAY, 0)))],
    ['MAX_PUSH_ID on a request stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(encodeIdFrame(FrameType.MAX_PUSH_ID, 1))],
    ['CANCEL_PUSH on a request stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(encodeIdFrame(FrameType.CANCEL_PUSH, 1))],
    ['PRIORITY_UPDATE on a request stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(encodePriorityUpdateFrame(FrameType.PRIORITY_UPDATE_REQUEST, 0, 'u=1'))],
    ['PUSH_PROMISE from a client → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(concat(p.headers(0, GET), encodeFrame(FrameType.PUSH_PROMISE, hex('00 0000'))))],
    ['HTTP/2 PRIORITY (0x02) on a request stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(encodeFrame(0x02, new Uint8Array(5)))],
    ['HTTP/2 WINDOW_UPDATE (0x08) on a request stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(encodeFrame(0x08, new Uint8Array(4)))],
    ['HTTP/2 CONTINUATION (0x09) on a request stream → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => p.request(concat(p.headers(0, GET), encodeFrame(0x09, new Uint8Array(1))))],
    ['GOAWAY payload of two varints → H3_FRAME_ERROR', E.H3_FRAME_ERROR, (p) => (p.openControl(), p.control(encodeFrame(FrameType.GOAWAY, hex('0000'))))],
    ['empty MAX_PUSH_ID → H3_FRAME_ERROR', E.H3_FRAME_ERROR, (p) => (p.openControl(), p.control(encodeFrame(FrameType.MAX_PUSH_ID, new Uint8Array(0))))],
    ['GOAWAY push id increasing → H3_ID_ERROR', E.H3_ID_ERROR, (p) => (p.openControl(), p.control(concat(encodeIdFrame(FrameType.GOAWAY, 4), encodeIdFrame(FrameType.GOAWAY, 8))))],
    ['MAX_PUSH_ID decreasing → H3_ID_ERROR', E.H3_ID_ERROR, (p) => (p.openControl(), p.control(concat(encodeIdFrame(FrameType.MAX_PUSH_ID, 5), encodeIdFrame(FrameType.MAX_PUSH_ID, 4))))],
    ['CANCEL_PUSH for a push never promised → H3_ID_ERROR', E.H3_ID_ERROR, (p) => (p.openControl(), p.control(encodeIdFrame(FrameType.CANCEL_PUSH, 0)))],
    ['PRIORITY_UPDATE for a non-request stream → H3_ID_ERROR', E.H3_ID_ERROR, (p) => (p.openControl(), p.control(encodePriorityUpdateFrame(FrameType.PRIORITY_UPDATE_REQUEST, 2, 'u=1')))],
    ['PRIORITY_UPDATE for a push → H3_ID_ERROR', E.H3_ID_ERROR, (p) => (p.openControl(), p.control(encodePriorityUpdateFrame(FrameType.PRIORITY_UPDATE_PUSH, 0, 'u=1')))],
    ['PRIORITY_UPDATE with a non-ASCII value → H3_FRAME_ERROR', E.H3_FRAME_ERROR, (p) => (p.openControl(), p.control(encodeFrame(FrameType.PRIORITY_UPDATE_REQUEST, hex('00 ff'))))],
    ['request stream ends inside a frame → H3_FRAME_ERROR', E.H3_FRAME_ERROR, (p) => p.request(p.headers(0, GET).subarray(0, 4))],
    ['request stream ends inside a frame header → H3_FRAME_ERROR', E.H3_FRAME_ERROR, (p) => p.request(concat(p.headers(0, GET), hex('40')))],
    ['HEADERS frame above maxBufferedFrameBytes → H3_EXCESSIVE_LOAD', E.H3_EXCESSIVE_LOAD, (p) => p.request(hex('01 80 10 00 00'), false)],
    ['malformed field section → QPACK_DECOMPRESSION_FAILED', E.QPACK_DECOMPRESSION_FAILED, (p) => p.request(encodeFrame(FrameType.HEADERS, hex('0000 ff7f')))],
    ['empty field section → QPACK_DECOMPRESSION_FAILED', E.QPACK_DECOMPRESSION_FAILED, (p) => p.request(encodeFrame(FrameType.HEADERS, new Uint8Array(0)))],
    ['bad encoder-stream instruction → QPACK_ENCODER_STREAM_ERROR', E.QPACK_ENCODER_STREAM_ERROR, (p) => p.openUni(0x02, hex('ff24 0161'))],
    ['bad decoder-stream instruction → QPACK_DECODER_STREAM_ERROR', E.QPACK_DECODER_STREAM_ERROR, (p) => p.openUni(0x03, hex('81'))],
    ['more blocked streams than advertised → QPACK_DECOMPRESSION_FAILED', E.QPACK_DECOMPRESSION_FAILED, (p) => {
      for (let i = 0; i < 17; i++) p.request(encodeFrame(FrameType.HEADERS, hex('0200 80')), false);
    }],
  ];
  for (const [title, code, provoke] of cases) {
    test(title, () => {
      const peer = new RawPeer('server');
      provoke(peer);
      peer.expectConnectionError(code);
    });
  }
});

describe('client: connection errors', () => {
  const cases: Array<[string, number, (peer: RawPeer) => void]> = [
    ['server-initiated bidirectional stream → H3_STREAM_CREATION_ERROR', E.H3_STREAM_CREATION_ERROR, (p) => p.request(hex('00'))],
    ['push stream without MAX_PUSH_ID → H3_ID_ERROR', E.H3_ID_ERROR, (p) => p.openUni(0x01, hex('00'))],
    ['GOAWAY with a non-request stream id → H3_ID_ERROR', E.H3_ID_ERROR, (p) => (p.openControl(), p.control(encodeIdFrame(FrameType.GOAWAY, 2)))],
    ['GOAWAY id increasing → H3_ID_ERROR', E.H3_ID_ERROR, (p) => (p.openControl(), p.control(concat(encodeIdFrame(FrameType.GOAWAY, 4), encodeIdFrame(FrameType.GOAWAY, 8))))],
    ['MAX_PUSH_ID from a server → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => (p.openControl(), p.control(encodeIdFrame(FrameType.MAX_PUSH_ID, 1)))],
    ['PRIORITY_UPDATE from a server → H3_FRAME_UNEXPECTED', E.H3_FRAME_UNEXPECTED, (p) => (p.openControl(), p.control(encodePriorityUpdateFrame(FrameType.PRIORITY_UPDATE_REQUEST, 0, 'u=1')))],
    ['CANCEL_PUSH without MAX_PUSH_ID → H3_ID_ERROR', E.H3_ID_ERROR, (p) => (p.openControl(), p.control(encodeIdFrame(FrameType.CANCEL_PUSH, 0)))],
    ['PUSH_PROMISE without MAX_PUSH_ID → H3_ID_ERROR', E.H3_ID_ERROR, (p) => {
      const id = p.engine.sendRequest(GET, true);
      p.deliver();
      p.send(id, concat(encodeFrame(FrameType.PUSH_PROMISE, hex('00 0000'))));
    }],
  ];
  for (const [title, code, provoke] of cases) {
    test(title, () => {
      const peer = new RawPeer('client');
      provoke(peer);
      peer.expectConnectionError(code);
    });
  }
});

describe('server: stream errors (H3_MESSAGE_ERROR and friends)', () => {
  const malformed: Array<[string, string[]]> = [
    ['uppercase field name', [...GET, 'X-Upper', '1']],
    ['connection-specific field', [...GET, 'connection', 'close']],
    ['transfer-encoding', [...GET, 'transfer-encoding', 'chunked']],
    ['TE other than trailers', [...GET, 'te', 'gzip']],
    ['missing :path', [':method', 'GET', ':scheme', 'https', ':authority', 'a.test']],
    ['empty :path', [':method', 'GET', ':scheme', 'https', ':authority', 'a.test', ':path', '']],
    ['missing :method', [':scheme', 'https', ':authority', 'a.test', ':path', '/']],
    ['missing :scheme', [':method', 'GET', ':authority', 'a.test', ':path', '/']],
    ['https without :authority or Host', [':method', 'GET', ':scheme', 'https', ':path', '/']],
    ['Host differs from :authority', [...GET, 'host', 'b.test']],
    [':authority with userinfo', [':method', 'GET', ':scheme', 'https', ':authority', 'u@a.test', ':path', '/']],
    ['repeated :method', [':method', 'GET', ':method', 'GET', ':scheme', 'https', ':authority', 'a.test', ':path', '/']],
    ['response pseudo-header in a request', [...GET.slice(0, 6), ':status', '200', ':path', '/']],
    ['pseudo-header after a regular field', [':method', 'GET', ':scheme', 'https', 'x', '1', ':authority', 'a.test', ':path', '/']],
    ['CONNECT with :path', [':method', 'CONNECT', ':authority', 'a.test:443', ':path', '/']],
    ['CONNECT without :authority', [':method', 'CONNECT']],
    [':protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL', [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':authority', 'a.test', ':path', '/ws']],
    ['value with a newline', [...GET, 'x-bad', 'a\nb']],
    ['invalid content-length', [...GET, 'content-length', '1x']],
  ];
  for (const [title, fields] of malformed) {
    test(`${title} → H3_MESSAGE_ERROR`, () => {
      const peer = new RawPeer('server');
      const id = peer.request(peer.headers(0, fields));
      peer.expectStreamError(id, E.H3_MESSAGE_ERROR);
      assert.equal(peer.events.filter((e) => e.type === 'request').length, 0);
    });
  }
  test('more DATA than content-length → H3_MESSAGE_ERROR', () => {
    const peer = new RawPeer('server');
    const id = peer.request(concat(peer.headers(0, [...GET, 'content-length', '2']), data('abc')));
    peer.expectStreamError(id, E.H3_MESSAGE_ERROR);
  });
  test('less DATA than content-length at the end → H3_MESSAGE_ERROR', () => {
    const peer = new RawPeer('server');
    const id = peer.request(concat(peer.headers(0, [...GET, 'content-length', '5']), data('abc')));
    peer.expectStreamError(id, E.H3_MESSAGE_ERROR);
  });
  test('content-length > 0 with no body → H3_MESSAGE_ERROR', () => {
    const peer = new RawPeer('server');
    const id = peer.request(peer.headers(0, [...GET, 'content-length', '5']));
    peer.expectStreamError(id, E.H3_MESSAGE_ERROR);
  });
  test('trailers with a pseudo-header → H3_MESSAGE_ERROR', () => {
    const peer = new RawPeer('server');
    const id = peer.request(concat(peer.headers(0, GET), peer.headers(0, [':path', '/'])));
    peer.expectStreamError(id, E.H3_MESSAGE_ERROR);
  });
  test('stream ends before HEADERS → H3_REQUEST_INCOMPLETE', () => {
    const peer = new RawPeer('server');
    const id = peer.request(new Uint8Array(0));
    peer.expectStreamError(id, E.H3_REQUEST_INCOMPLETE);
  });
  test('valid CONNECT and extended CONNECT (when enabled) are accepted', () => {
    const peer = new RawPeer('server', { enableConnectProtocol: true });
    peer.request(peer.headers(0, [':method', 'CONNECT', ':authority', 'a.test:443']), false);
    peer.request(peer.headers(4, [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', 'https', ':authority', 'a.test', ':path', '/ws']), false);
    peer.deliver();
    const requests = peer.events.filter((e) => e.type === 'request');
    assert.equal(requests.length, 2);
    assert.equal(peer.engineQuic.closed, null);
  });
  test('HEADERS on an established CONNECT tunnel → H3_FRAME_UNEXPECTED', () => {
    const peer = new RawPeer('server');
    peer.request(concat(peer.headers(0, [':method', 'CONNECT', ':authority', 'a.test:443']), data('tunnel'), peer.headers(0, ['x', '1'])), false);
    peer.expectConnectionError(E.H3_FRAME_UNEXPECTED);
  });
  test('a field section above SETTINGS_MAX_FIELD_SECTION_SIZE gets 431 from the engine', () => {
    const peer = new RawPeer('server', { limits: { maxFieldSectionSize: 200 } });
    const id = peer.request(peer.headers(0, [...GET, 'x-big', 'b'.repeat(300)]), false);
    peer.deliver();
    assert.equal(peer.events.filter((e) => e.type === 'request').length, 0);
    assert.deepEqual(peer.engineQuic.stopSendings, [{ streamId: id, code: E.H3_NO_ERROR }]);
    assert.ok(peer.engineQuic.finished.has(id), 'response sent and finished');
    assert.equal(peer.engineQuic.closed, null);
  });
});

describe('ignored: unknown frames, streams and settings (RFC 9114 §9)', () => {
  test('reserved and unknown frame types on request and control streams are skipped', () => {
    const peer = new RawPeer('server');
    peer.openControl(encodeSettingsFrame([[0x21, 7], [0x4242, 1]]));
    peer.control(concat(encodeFrame(0x21, hex('0102')), encodeFrame(0x1234, new Uint8Array(100))));
    const id = peer.request(concat(encodeFrame(0x40, hex('ff')), peer.headers(0, GET), encodeFrame(0x3f, new Uint8Array(0)), encodeFrame(0x21 + 0x1f, hex('00'))));
    peer.deliver();
    assert.equal(peer.engineQuic.closed, null);
    assert.equal(peer.events.filter((e) => e.type === 'request').length, 1);
    assert.ok(peer.events.some((e) => e.type === 'streamEnded' && e.streamId === id));
    assert.ok(peer.events.some((e) => e.type === 'settings'));
    // Every byte was returned to flow control by the engine (no DATA here).
    assert.equal(peer.engineQuic.consumed.get(id), peer.engineQuic.received.get(id));
    assert.equal(peer.engineQuic.consumed.get(peer.controlStream), peer.engineQuic.received.get(peer.controlStream));
  });
  test('unknown and reserved unidirectional stream types get STOP_SENDING(H3_STREAM_CREATION_ERROR)', () => {
    const peer = new RawPeer('server');
    const grease = peer.openUni(0x21 + 0x1f * 3, hex('010203'));
    const unknown = peer.openUni(0x54, hex('00'));
    peer.deliver();
    assert.deepEqual(peer.engineQuic.stopSendings, [
      { streamId: grease, code: E.H3_STREAM_CREATION_ERROR },
      { streamId: unknown, code: E.H3_STREAM_CREATION_ERROR },
    ]);
    peer.send(grease, hex('0405'), true);
    peer.deliver();
    assert.equal(peer.engineQuic.closed, null);
  });
  test('a stream type split across deliveries', () => {
    const peer = new RawPeer('server');
    const id = peer.quic.openStream(true);
    const control = concat(encodeVarint(0x00), encodeSettingsFrame([]));
    const typed = concat(hex('4000'), control.subarray(1)); // control type as a 2-byte varint
    peer.send(id, typed.subarray(0, 1));
    peer.deliver();
    peer.send(id, typed.subarray(1));
    peer.deliver();
    assert.ok(peer.events.some((e) => e.type === 'settings'));
  });
});

describe('limits', () => {
  test('PRIORITY_UPDATE flood → H3_EXCESSIVE_LOAD', () => {
    let now = 0;
    const peer = new RawPeer('server', { limits: { controlFrameBurst: 10, controlFrameRatePerSecond: 1 }, now: () => now });
    peer.openControl();
    for (let i = 0; i < 10; i++) peer.control(encodePriorityUpdateFrame(FrameType.PRIORITY_UPDATE_REQUEST, 0, 'u=1'));
    peer.deliver();
    assert.equal(peer.engineQuic.closed, null, 'the burst is allowed');
    now += 1000; // one more token
    peer.control(encodePriorityUpdateFrame(FrameType.PRIORITY_UPDATE_REQUEST, 0, 'u=2'));
    peer.deliver();
    assert.equal(peer.engineQuic.closed, null);
    peer.control(encodePriorityUpdateFrame(FrameType.PRIORITY_UPDATE_REQUEST, 0, 'u=3'));
    peer.expectConnectionError(E.H3_EXCESSIVE_LOAD);
  });
  test('encoder-stream instruction flood → H3_EXCESSIVE_LOAD', () => {
    const peer = new RawPeer('server', { limits: { encoderInstructionBurst: 50, encoderInstructionRatePerSecond: 0 }, now: () => 0 });
    // Set capacity, one insert, then Duplicates churning the table.
    peer.openUni(0x02, concat(hex('3fe11f'), hex('4161 0162'), new Uint8Array(60).fill(0x00)));
    peer.expectConnectionError(E.H3_EXCESSIVE_LOAD);
  });
  // Rapid Reset: requests cancelled before an answer. An incomplete request is cancelled with RESET_STREAM; a complete
  // one (FIN received, where RFC 9000 §3.2 lets RESET_STREAM be ignored) with STOP_SENDING.
  for (const [how, end] of [['RESET_STREAM', false], ['STOP_SENDING', true]] as const) {
    test(`Rapid Reset: requests cancelled with ${how} before an answer → H3_EXCESSIVE_LOAD`, () => {
      const peer = new RawPeer('server', { limits: { rapidResetBurst: 5, rapidResetRatePerSecond: 0 }, now: () => 0 });
      for (let i = 0; i < 6; i++) {
        const id = peer.request(peer.headers(4 * i, GET), end);
        peer.deliver();
        if (how === 'RESET_STREAM') peer.quic.resetStream(id, E.H3_REQUEST_CANCELLED);
        else peer.quic.stopSending(id, E.H3_REQUEST_CANCELLED);
      }
      peer.expectConnectionError(E.H3_EXCESSIVE_LOAD);
    });
  }
  test('a request stream reset before any byte: the server resets its half too (the stream closes), and it counts as Rapid Reset', () => {
    const peer = new RawPeer('server', { limits: { rapidResetBurst: 5, rapidResetRatePerSecond: 0 }, now: () => 0 });
    peer.quic.resetStream(peer.quic.openStream(false), E.H3_REQUEST_CANCELLED);
    peer.deliver();
    assert.deepEqual(peer.engineQuic.resets, [{ streamId: 0, code: E.H3_REQUEST_CANCELLED }]);
    for (let i = 1; i < 6; i++) peer.quic.resetStream(peer.quic.openStream(false), E.H3_REQUEST_CANCELLED);
    peer.expectConnectionError(E.H3_EXCESSIVE_LOAD);
  });
  test('MadeYouReset: malformed requests forcing engine resets → H3_EXCESSIVE_LOAD', () => {
    const peer = new RawPeer('server', { limits: { streamErrorBurst: 3, streamErrorRatePerSecond: 0 }, now: () => 0 });
    for (let i = 0; i < 3; i++) peer.request(peer.headers(4 * i, [...GET, 'Bad', 'x']));
    peer.deliver();
    assert.equal(peer.engineQuic.closed, null, 'three stream errors are within the budget');
    peer.request(peer.headers(12, [...GET, 'Bad', 'x']));
    peer.expectConnectionError(E.H3_EXCESSIVE_LOAD);
  });
  test('empty DATA and unknown frames on a request stream: a flood → H3_EXCESSIVE_LOAD', () => {
    const peer = new RawPeer('server', { limits: { emptyFrameBurst: 20, emptyFrameRatePerSecond: 0 }, now: () => 0 });
    const id = peer.request(peer.headers(0, GET), false);
    for (let i = 0; i < 10; i++) peer.send(id, concat(data(''), encodeFrame(0x21, hex('00'))));
    peer.deliver();
    assert.equal(peer.engineQuic.closed, null, '20 frames are within the budget');
    peer.send(id, data(''));
    peer.expectConnectionError(E.H3_EXCESSIVE_LOAD);
  });
  test('too many unidirectional streams → H3_EXCESSIVE_LOAD', () => {
    const peer = new RawPeer('server', { limits: { maxUnidirectionalStreams: 4 } });
    for (let i = 0; i < 5; i++) peer.openUni(0x21 + 0x1f * i);
    peer.expectConnectionError(E.H3_EXCESSIVE_LOAD);
  });
  test('more concurrent requests than allowed are refused with H3_REQUEST_REJECTED', () => {
    const peer = new RawPeer('server', { limits: { maxConcurrentRequestStreams: 2 } });
    for (let i = 0; i < 3; i++) peer.request(peer.headers(4 * i, GET), false);
    peer.deliver();
    assert.deepEqual(peer.engineQuic.resets, [{ streamId: 8, code: E.H3_REQUEST_REJECTED }]);
    assert.equal(peer.events.filter((e) => e.type === 'request').length, 2);
  });
});

describe('streams arriving out of id order (RFC 9000 §2.1: opening a stream opens the lower ids)', () => {
  test('request stream 4 before 0, and the control stream after the QPACK streams', () => {
    const peer = new RawPeer('server');
    const encoder = peer.quic.openStream(true);
    const decoder = peer.quic.openStream(true);
    const control = peer.quic.openStream(true);
    assert.deepEqual([encoder, decoder, control], [2, 6, 10]);
    peer.send(control, concat(encodeVarint(0x00), encodeSettingsFrame([])));
    peer.send(decoder, encodeVarint(0x03));
    peer.send(encoder, encodeVarint(0x02));
    const first = peer.quic.openStream(false);
    const second = peer.quic.openStream(false);
    peer.send(second, peer.headers(second, [...GET.slice(0, 6), ':path', '/second']), true);
    peer.deliver();
    peer.send(first, peer.headers(first, [...GET.slice(0, 6), ':path', '/first']), true);
    peer.deliver();
    assert.equal(peer.engineQuic.closed, null);
    assert.deepEqual(peer.events.filter((e) => e.type === 'request').map((e) => e.type === 'request' && e.pseudo.path), ['/second', '/first']);
    assert.ok(peer.events.some((e) => e.type === 'settings'));
  });
  test('graceful shutdown waits for a skipped-over stream below the GOAWAY id', () => {
    const peer = new RawPeer('server');
    peer.quic.openStream(false); // stream 0: opened implicitly, data still in flight
    const second = peer.request(peer.headers(4, GET), true);
    peer.deliver();
    peer.engine.sendHeaders(second, [':status', '200'], true);
    peer.engine.shutdown();
    assert.ok(!peer.engine.isDone, 'stream 0 may still arrive and must be served');
    peer.send(0, peer.headers(0, GET), true);
    peer.deliver();
    peer.engine.sendHeaders(0, [':status', '200'], true);
    assert.ok(peer.engine.isDone);
  });
  test('a stream id far beyond anything opened → H3_EXCESSIVE_LOAD', () => {
    const peer = new RawPeer('server', { limits: { maxConcurrentRequestStreams: 10 } });
    peer.send(4 * 50, peer.headers(200, GET), true);
    peer.expectConnectionError(E.H3_EXCESSIVE_LOAD);
  });
});

describe('QPACK blocking across streams', () => {
  test('a request referencing an insert not yet received waits, then arrives', () => {
    const peer = new RawPeer('server');
    // Section: Required Insert Count 1 (encoded 2), Base 1; indexed dynamic relative 0; then static :method GET etc.
    const section = concat(hex('0200'), hex('d1 d7'), hex('50 06'), latin1Bytes('a.test'), hex('c1'), hex('80'));
    const id = peer.request(encodeFrame(FrameType.HEADERS, section));
    peer.deliver();
    assert.equal(peer.events.filter((e) => e.type === 'request').length, 0, 'blocked');
    // Encoder stream: capacity 220, insert x-from-table: yes (literal name).
    peer.openUni(0x02, concat(hex('3fbd01'), hex('4c'), latin1Bytes('x-from-table'), hex('03'), latin1Bytes('yes')));
    peer.deliver();
    const request = peer.events.find((e) => e.type === 'request');
    assert.ok(request !== undefined && request.type === 'request');
    assert.deepEqual(request.headers, ['x-from-table', 'yes']);
    assert.ok(peer.events.some((e) => e.type === 'streamEnded' && e.streamId === id));
    assert.equal(peer.engineQuic.closed, null);
  });
});

describe('client: malformed responses are stream errors', () => {
  const cases: Array<[string, string[]]> = [
    ['missing :status', ['content-type', 'text/plain']],
    ['non-numeric :status', [':status', '2xx']],
    ['101 Switching Protocols', [':status', '101']],
    ['request pseudo-header in a response', [':status', '200', ':path', '/']],
    ['connection-specific field', [':status', '200', 'keep-alive', '5']],
  ];
  for (const [title, fields] of cases) {
    test(`${title} → H3_MESSAGE_ERROR`, () => {
      const peer = new RawPeer('client');
      const id = peer.engine.sendRequest(GET, true);
      peer.deliver();
      peer.send(id, peer.headers(id, fields), true);
      peer.expectStreamError(id, E.H3_MESSAGE_ERROR);
    });
  }
  test('HEAD, 204 and 304 responses: content-length describes no body here (RFC 9110 §8.6)', () => {
    const peer = new RawPeer('client');
    const head = peer.engine.sendRequest([':method', 'HEAD', ...GET.slice(2)], true);
    const get304 = peer.engine.sendRequest(GET, true);
    peer.deliver();
    peer.send(head, peer.headers(head, [':status', '200', 'content-length', '1234']), true);
    peer.send(get304, peer.headers(get304, [':status', '304', 'content-length', '99']), true);
    peer.deliver();
    assert.deepEqual(peer.events.filter((e) => e.type === 'streamEnded').map((e) => e.streamId), [head, get304]);
    assert.equal(peer.engineQuic.resets.length + peer.engineQuic.stopSendings.length, 0);
  });
  test('response body longer than its content-length → H3_MESSAGE_ERROR', () => {
    const peer = new RawPeer('client');
    const id = peer.engine.sendRequest(GET, true);
    peer.deliver();
    peer.send(id, concat(peer.headers(id, [':status', '200', 'content-length', '1']), data('ab')), true);
    peer.expectStreamError(id, E.H3_MESSAGE_ERROR);
  });
});

describe('stream lifecycle details', () => {
  test('trailers above SETTINGS_MAX_FIELD_SECTION_SIZE → stream error H3_EXCESSIVE_LOAD', () => {
    const peer = new RawPeer('server', { limits: { maxFieldSectionSize: 300 } });
    const id = peer.request(concat(peer.headers(0, GET), peer.headers(0, ['x-big', 'b'.repeat(400)])));
    peer.expectStreamError(id, E.H3_EXCESSIVE_LOAD);
  });
  test('a blocked stream that is reset is cancelled on the QPACK decoder stream (RFC 9204 §4.4.2)', () => {
    const peer = new RawPeer('server');
    const id = peer.request(encodeFrame(FrameType.HEADERS, hex('0200 80')), false);
    peer.deliver();
    peer.quic.resetStream(id, E.H3_REQUEST_CANCELLED);
    peer.deliver();
    assert.deepEqual(peer.events.filter((e) => e.type === 'streamReset'), [{ type: 'streamReset', streamId: id, code: E.H3_REQUEST_CANCELLED, byPeer: true }]);
    // The engine's decoder stream is its third unidirectional stream (3 control, 7 encoder, 11 decoder).
    assert.equal(toHex(peer.fromEngine.get(11) ?? null), '03' + '40');
    assert.equal(peer.engineQuic.closed, null);
  });
  test('STOP_SENDING on a request stream: the engine resets its response side', () => {
    const peer = new RawPeer('server');
    const id = peer.request(peer.headers(0, GET));
    peer.deliver();
    peer.quic.stopSending(id, E.H3_REQUEST_CANCELLED);
    peer.deliver();
    assert.deepEqual(peer.engineQuic.resets, [{ streamId: id, code: E.H3_REQUEST_CANCELLED }]);
    assert.ok(peer.events.some((e) => e.type === 'streamReset' && e.byPeer));
    assert.equal(peer.engine.openRequestCount, 0);
  });
  test('sendHeaders above the peer SETTINGS_MAX_FIELD_SECTION_SIZE is refused before anything is sent', () => {
    const peer = new RawPeer('server');
    peer.openControl(encodeSettingsFrame([[0x06, 100]]));
    const id = peer.request(peer.headers(0, GET));
    peer.deliver();
    assert.throws(() => peer.engine.sendHeaders(id, [':status', '200', 'x-big', 'b'.repeat(100)], true), RangeError);
    peer.engine.sendHeaders(id, [':status', '200'], true);
    assert.ok(peer.engineQuic.finished.has(id));
  });
  test('malformed outgoing fields are refused before anything is sent', () => {
    const peer = new RawPeer('server');
    const id = peer.request(peer.headers(0, GET));
    peer.deliver();
    for (const bad of [['X-Upper', '1'], ['x-crlf', 'a\r\nb'], ['x-space', ' a'], ['x', '1', ':late', 'pseudo']]) {
      assert.throws(() => peer.engine.sendHeaders(id, [':status', '200', ...bad], true), RangeError, bad[0]);
    }
    assert.throws(() => peer.engine.sendHeaders(id, [':status', '200', 'odd'], true), RangeError);
    peer.engine.sendHeaders(id, [':status', '200'], true);
    peer.deliver();
    assert.equal(peer.framesFromEngine(id, FrameType.HEADERS).length, 1);
  });
  test('connection-specific fields are dropped from what the engine sends (RFC 9114 §4.2)', () => {
    const peer = new RawPeer('server');
    const id = peer.request(peer.headers(0, GET));
    peer.deliver();
    peer.engine.sendHeaders(id, [':status', '200', 'connection', 'close', 'transfer-encoding', 'chunked', 'x-ok', '1'], true);
    peer.deliver();
    const [section] = peer.framesFromEngine(id, FrameType.HEADERS);
    // The raw peer advertised no dynamic table, so a static-only decoder reads it.
    const decoder = new QpackDecoder({ maxTableCapacity: 0, maxBlockedStreams: 0, maxFieldSectionSize: 65536 });
    assert.deepEqual(decoder.decodeFieldSection(id, section!), { status: 'done', fields: [':status', '200', 'x-ok', '1'] });
  });
});
