import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  ErrorCode,
  FrameType,
  SettingId,
  encodeDataFrame,
  encodePingFrame,
  encodeSettingsFrame,
  encodeWindowUpdateFrame,
} from '../../src/h2/index.js';
import type { H2Event } from '../../src/h2/index.js';
import { Peer, REQUEST, concat, goawayOf, resetsOf, u32 } from './helpers.js';
import type { OutFrame } from './helpers.js';

const POST = [':method', 'POST', ':scheme', 'https', ':path', '/upload', ':authority', 'localhost'];

function ready(options = {}, settings: Array<[number, number]> = []): Peer {
  const peer = new Peer(options);
  peer.handshake(settings);
  peer.read();
  return peer;
}

const dataBytes = (frames: OutFrame[], streamId?: number) =>
  frames.filter((f) => f.type === FrameType.DATA && (streamId === undefined || f.streamId === streamId)).reduce((n, f) => n + f.payload.length, 0);
const windowUpdates = (frames: OutFrame[]) =>
  frames.filter((f) => f.type === FrameType.WINDOW_UPDATE).map((f) => [f.streamId, u32(f.payload)]);

describe('receive flow control driven by consume()', () => {
  test('no WINDOW_UPDATE until half the stream window is consumed, then one for the consumed amount', () => {
    const peer = ready({ settings: { initialWindowSize: 65536 }, connectionWindowSize: 1 << 20 });
    peer.request(1, POST, false);
    const chunk = new Uint8Array(16384);
    peer.send(encodeDataFrame(1, chunk));
    peer.conn.consume(1, 16384);
    assert.deepEqual(windowUpdates(peer.read()), []);
    peer.send(encodeDataFrame(1, chunk));
    peer.conn.consume(1, 16384);
    assert.deepEqual(windowUpdates(peer.read()), [[1, 32768]]);
  });

  test('the connection window is reopened at half of its size', () => {
    const peer = ready({ connectionWindowSize: 65536 });
    peer.request(1, POST, false);
    peer.send(encodeDataFrame(1, new Uint8Array(16384)));
    peer.send(encodeDataFrame(1, new Uint8Array(16384)));
    peer.conn.consume(1, 32768);
    assert.deepEqual(windowUpdates(peer.read()), [[0, 32768]]);
  });

  test('DATA beyond the stream window → RST_STREAM(FLOW_CONTROL_ERROR)', () => {
    const peer = ready({ settings: { initialWindowSize: 16384 } });
    peer.request(1, POST, false);
    peer.send(encodeDataFrame(1, new Uint8Array(16384)));
    peer.send(encodeDataFrame(1, new Uint8Array(1)));
    const frames = peer.read();
    assert.equal(resetsOf(frames).get(1), ErrorCode.FLOW_CONTROL_ERROR);
    assert.equal(goawayOf(frames), undefined);
  });

  test('DATA beyond the connection window → GOAWAY(FLOW_CONTROL_ERROR)', () => {
    const peer = ready({ connectionWindowSize: 65535 });
    peer.request(1, POST, false);
    peer.request(3, POST, false);
    for (let i = 0; i < 3; i++) peer.send(encodeDataFrame(1, new Uint8Array(16384)));
    peer.send(encodeDataFrame(3, new Uint8Array(16384)));
    assert.equal(goawayOf(peer.read())?.code, ErrorCode.FLOW_CONTROL_ERROR);
  });

  test('padding counts against flow control; flowControlledLength includes it', () => {
    const peer = ready();
    peer.request(1, POST, false);
    const events = peer.send(encodeDataFrame(1, new Uint8Array(10), { padLength: 20 }));
    const data = events.find((e) => e.type === 'data');
    assert.ok(data && data.type === 'data');
    assert.equal(data.data.length, 10);
    assert.equal(data.flowControlledLength, 31);
  });

  test('consume() after the stream closed still reopens the connection window', () => {
    const peer = ready({ connectionWindowSize: 65536 });
    peer.request(1, POST, false);
    peer.send(encodeDataFrame(1, new Uint8Array(16384)));
    peer.send(encodeDataFrame(1, new Uint8Array(16384), { endStream: true }));
    peer.conn.sendHeaders(1, [':status', '204'], true);
    assert.equal(peer.conn.openStreamCount, 0);
    peer.conn.consume(1, 32768);
    assert.deepEqual(windowUpdates(peer.read()), [[0, 32768]]);
  });

  test('no stream WINDOW_UPDATE once the peer ended its side', () => {
    const peer = ready({ settings: { initialWindowSize: 32768 }, connectionWindowSize: 1 << 20 });
    peer.request(1, POST, false);
    peer.send(encodeDataFrame(1, new Uint8Array(16384), { endStream: true }));
    peer.conn.consume(1, 16384);
    assert.deepEqual(windowUpdates(peer.read()), []);
  });

  test('bytes of reset streams go back to the connection window without consume()', () => {
    const peer = ready({ connectionWindowSize: 65536 });
    peer.request(1, POST, false);
    peer.send(encodeDataFrame(1, new Uint8Array(16384)));
    peer.send(encodeDataFrame(1, new Uint8Array(16384)));
    peer.conn.resetStream(1, ErrorCode.CANCEL);
    const updates = windowUpdates(peer.read());
    assert.deepEqual(updates, [[0, 32768]]);
  });
});

describe('send flow control', () => {
  test('DATA respects the peer stream window (65535 by default) and resumes on WINDOW_UPDATE', () => {
    const peer = ready();
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    peer.conn.sendData(1, new Uint8Array(100000), true);
    let frames = peer.read();
    assert.equal(dataBytes(frames), 65535);
    assert.ok(frames.filter((f) => f.type === FrameType.DATA).every((f) => f.payload.length <= 16384));
    assert.equal(peer.conn.wantsWrite, false);
    const events: H2Event[] = peer.send(encodeWindowUpdateFrame(1, 50000));
    assert.ok(events.some((e) => e.type === 'windowUpdated' && e.streamId === 1));
    frames = peer.read();
    // The connection window (65535) is exhausted too.
    assert.equal(dataBytes(frames), 0);
    peer.send(encodeWindowUpdateFrame(0, 50000));
    frames = peer.read();
    assert.equal(dataBytes(frames), 100000 - 65535);
    assert.equal(frames.at(-1)!.flags & 1, 1);
    assert.equal(peer.conn.openStreamCount, 0);
  });

  test('many small and odd-sized chunks are framed byte-exact across frame and window boundaries', () => {
    const peer = ready({}, [[SettingId.INITIAL_WINDOW_SIZE, 30000]]);
    peer.send(encodeWindowUpdateFrame(0, 1 << 22));
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    const expected: number[] = [];
    let n = 0;
    for (let i = 0; i < 700; i++) {
      const chunk = new Uint8Array((i * 37) % 251 + 1).map(() => n++ & 0xff);
      expected.push(...chunk);
      peer.conn.sendData(1, chunk, i === 699);
    }
    const received: number[] = [];
    let frames = peer.read();
    for (let round = 0; round < 20 && received.length < expected.length; round++) {
      for (const f of frames) if (f.type === FrameType.DATA) received.push(...f.payload);
      assert.ok(frames.every((f) => f.payload.length <= 16384));
      peer.send(encodeWindowUpdateFrame(1, 30000));
      frames = peer.read();
    }
    for (const f of frames) if (f.type === FrameType.DATA) received.push(...f.payload);
    assert.equal(received.length, expected.length);
    assert.deepEqual(received, expected);
    assert.equal(peer.conn.openStreamCount, 0);
  });

  test('respects the peer SETTINGS_MAX_FRAME_SIZE', () => {
    const peer = ready({}, [[SettingId.MAX_FRAME_SIZE, 32768], [SettingId.INITIAL_WINDOW_SIZE, 1 << 20]]);
    peer.send(encodeWindowUpdateFrame(0, 1 << 20));
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    peer.conn.sendData(1, new Uint8Array(70000), true);
    const sizes = peer.read().filter((f) => f.type === FrameType.DATA).map((f) => f.payload.length);
    assert.deepEqual(sizes, [32768, 32768, 70000 - 65536]);
  });

  test('SETTINGS_INITIAL_WINDOW_SIZE changes apply to open streams, may go negative (§6.9.2)', () => {
    const peer = ready();
    peer.send(encodeWindowUpdateFrame(0, 1 << 20));
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    peer.conn.sendData(1, new Uint8Array(60000), false);
    assert.equal(dataBytes(peer.read()), 60000);
    peer.send(encodeSettingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 1000]]));
    assert.equal(peer.conn.streamSendWindowSize(1), 1000 - 60000);
    peer.conn.sendData(1, new Uint8Array(5000), true);
    assert.equal(dataBytes(peer.read()), 0);
    peer.send(encodeWindowUpdateFrame(1, 59000 + 2000));
    assert.equal(dataBytes(peer.read()), 2000);
    peer.send(encodeSettingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 4000]]));
    assert.equal(dataBytes(peer.read()), 3000);
  });

  test('an INITIAL_WINDOW_SIZE that overflows an open stream window is a FLOW_CONTROL_ERROR', () => {
    const peer = ready();
    peer.request(1);
    peer.send(encodeWindowUpdateFrame(1, 2 ** 31 - 1 - 65535));
    peer.send(encodeSettingsFrame([[SettingId.INITIAL_WINDOW_SIZE, 65536]]));
    assert.equal(goawayOf(peer.read())?.code, ErrorCode.FLOW_CONTROL_ERROR);
  });

  test('round-robin across streams, one frame each per turn', () => {
    const peer = ready({}, [[SettingId.INITIAL_WINDOW_SIZE, 1 << 20]]);
    peer.send(encodeWindowUpdateFrame(0, 1 << 22));
    for (const id of [1, 3, 5]) {
      peer.request(id);
      peer.conn.sendHeaders(id, [':status', '200'], false);
      peer.conn.sendData(id, new Uint8Array(16384 * 3), true);
    }
    const order = peer.read().filter((f) => f.type === FrameType.DATA).map((f) => f.streamId);
    assert.deepEqual(order, [1, 3, 5, 1, 3, 5, 1, 3, 5]);
  });

  test('maxBytes bounds the DATA written per call and keeps fairness across calls', () => {
    const peer = ready({}, [[SettingId.INITIAL_WINDOW_SIZE, 1 << 20]]);
    peer.send(encodeWindowUpdateFrame(0, 1 << 22));
    for (const id of [1, 3]) {
      peer.request(id);
      peer.conn.sendHeaders(id, [':status', '200'], false);
      peer.conn.sendData(id, new Uint8Array(30000), true);
    }
    const first = peer.read(20000);
    assert.equal(dataBytes(first), 20000);
    const second = peer.read(20000);
    assert.equal(dataBytes(second), 20000);
    assert.equal(dataBytes(second, 3) > 0, true);
  });

  test('sendData returns false above streamHighWaterMark; streamWritable once drained', () => {
    const peer = ready({ limits: { streamHighWaterMark: 20000 } });
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    assert.equal(peer.conn.sendData(1, new Uint8Array(15000), false), true);
    assert.equal(peer.conn.sendData(1, new Uint8Array(15000), false), false);
    assert.ok(peer.conn.bufferedBytes >= 30000);
    peer.read(5000);
    assert.equal(peer.events.some((e) => e.type === 'streamWritable'), false);
    peer.read();
    assert.ok(peer.events.some((e) => e.type === 'streamWritable' && e.streamId === 1));
  });

  test('END_STREAM with no data goes out even when the connection window is empty', () => {
    const peer = ready();
    peer.request(1);
    peer.request(3);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    peer.conn.sendData(1, new Uint8Array(65535), true);
    peer.read();
    peer.conn.sendHeaders(3, [':status', '200'], false);
    peer.conn.sendData(3, new Uint8Array(0), true);
    assert.equal(peer.conn.wantsWrite, true);
    const frames = peer.read();
    assert.equal(frames.at(-1)!.type, FrameType.DATA);
    assert.equal(frames.at(-1)!.flags & 1, 1);
    assert.equal(peer.conn.openStreamCount, 0);
  });

  test('sendData on a stream the peer reset is a no-op', () => {
    const peer = ready();
    peer.request(1, REQUEST, false);
    peer.send(new Uint8Array([0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 8]));
    assert.equal(peer.conn.sendData(1, new Uint8Array(10), true), true);
    assert.deepEqual(peer.read(), []);
  });
});

describe('receivedDataBytes: the input a driver may budget apart', () => {
  test('counts DATA frames a stream can take, header included, and nothing else', () => {
    const peer = ready({ settings: { initialWindowSize: 65536 } });
    peer.request(1, POST, false);
    assert.equal(peer.conn.receivedDataBytes, 0, 'HEADERS');
    peer.send(concat([encodeDataFrame(1, new Uint8Array(1000)), encodePingFrame(), encodeDataFrame(1, new Uint8Array(500))]));
    assert.equal(peer.conn.receivedDataBytes, 9 + 1000 + 9 + 500);
    peer.send(encodeDataFrame(1, new Uint8Array(0), { endStream: true }));
    assert.equal(peer.conn.receivedDataBytes, 9);
    peer.send(encodeDataFrame(1, new Uint8Array(100)));
    assert.equal(peer.conn.receivedDataBytes, 0, 'after END_STREAM: not welcome');
    peer.send(encodeDataFrame(7, new Uint8Array(100)));
    assert.equal(peer.conn.receivedDataBytes, 0, 'an idle stream');
  });

  test('DATA beyond the stream window is not counted', () => {
    const peer = ready({ settings: { initialWindowSize: 16384 } });
    peer.request(1, POST, false);
    peer.send(encodeDataFrame(1, new Uint8Array(10000)));
    assert.equal(peer.conn.receivedDataBytes, 10009);
    peer.send(encodeDataFrame(1, new Uint8Array(10000)));
    assert.equal(peer.conn.receivedDataBytes, 0);
  });

  test('a frame split across calls counts the part of it each call held, once its header is known', () => {
    const peer = ready();
    peer.request(1, POST, false);
    const frame = encodeDataFrame(1, new Uint8Array(3000));
    peer.send(frame.subarray(0, 5));
    assert.equal(peer.conn.receivedDataBytes, 0, 'header not complete yet');
    peer.send(frame.subarray(5, 1000));
    assert.equal(peer.conn.receivedDataBytes, 1000 - 9, 'the payload part, once the header is known');
    const events = peer.send(frame.subarray(1000));
    assert.equal(peer.conn.receivedDataBytes, frame.length - 1000);
    assert.equal(events.filter((event) => event.type === 'data').length, 1);
  });
});
