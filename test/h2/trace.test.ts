import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, FrameType, encodeRstStreamFrame, formatFrame, traceFrame } from '../../src/h2/index.js';
import type { TracedFrame } from '../../src/h2/index.js';
import { Peer, REQUEST, text } from './helpers.js';

test('onFrame sees every frame in and out, decoded, with header lists', () => {
  const seen: Array<['in' | 'out', TracedFrame]> = [];
  const peer = new Peer({ onFrame: (direction, frame) => seen.push([direction, frame]) });
  peer.handshake();
  peer.request(1);
  peer.conn.sendHeaders(1, [':status', '200', 'content-length', '5'], false);
  peer.conn.sendData(1, text('hello'), true);
  peer.read();
  peer.request(3, REQUEST, false);
  peer.send(encodeRstStreamFrame(3, ErrorCode.CANCEL));

  const lines = seen.map(([d, f]) => formatFrame(d, f));
  assert.deepEqual(
    seen.map(([d, f]) => `${d} ${f.typeName} ${f.streamId}`),
    ['out SETTINGS 0', 'out WINDOW_UPDATE 0', 'in SETTINGS 0', 'out SETTINGS 0', 'in SETTINGS 0', 'in HEADERS 1', 'out HEADERS 1', 'out DATA 1', 'in HEADERS 3', 'in RST_STREAM 3'],
  );
  const requestHeaders = seen[5]![1];
  assert.deepEqual(requestHeaders.fields.headers, REQUEST);
  assert.equal(seen[0]![1].fields.settings && (seen[0]![1].fields.settings as Record<string, number>).MAX_CONCURRENT_STREAMS, 100);
  assert.equal(seen[1]![1].fields.increment, 8 * 1024 * 1024 - 65535);
  assert.equal(seen[9]![1].fields.errorCode, 'CANCEL');
  assert.match(lines[0]!, /^send SETTINGS frame <length=\d+, flags=0x00, stream_id=0> settings=\[MAX_CONCURRENT_STREAMS=100, /);
  assert.equal(lines[5], 'recv HEADERS frame <length=' + seen[5]![1].length + ', flags=0x05 (END_STREAM|END_HEADERS), stream_id=1> fragmentLength=' + seen[5]![1].length + ' | :method: GET; :scheme: https; :authority: localhost; :path: /');
  assert.equal(lines[7], 'send DATA frame <length=5, flags=0x01 (END_STREAM), stream_id=1> dataLength=5');
});

test('traceFrame reports invalid frames instead of throwing', () => {
  const f = traceFrame(FrameType.PING, 0, 0, new Uint8Array(3));
  assert.match(String(f.fields.invalid), /FRAME_SIZE_ERROR/);
  assert.match(formatFrame('in', traceFrame(0x77, 0, 0, new Uint8Array([1]))), /UNKNOWN\(0x77\) frame .* payload=01/);
});

test('a frame that causes a connection error is traced before the GOAWAY it provokes', () => {
  const seen: string[] = [];
  const peer = new Peer({ onFrame: (direction, frame) => seen.push(`${direction} ${frame.typeName}`) });
  peer.handshake();
  // HEADERS with END_HEADERS whose padding exceeds the payload: rejected before any decoding.
  peer.send(new Uint8Array([0, 0, 2, 0x1, 0x4 | 0x8, 0, 0, 0, 1, 9, 0x82]));
  assert.deepEqual(seen.slice(-2), ['in HEADERS', 'out GOAWAY']);
});
