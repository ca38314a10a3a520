import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_LIMITS,
  ErrorCode,
  FrameType,
  H2Connection,
  encodeContinuationFrame,
  encodeDataFrame,
  encodeFrame,
  encodeHeadersFrame,
  encodePingFrame,
  encodePriorityFrame,
  encodeRstStreamFrame,
  encodeSettingsFrame,
  encodeWindowUpdateFrame,
} from '../../src/h2/index.js';
import type { H2Limits } from '../../src/h2/index.js';
import { Peer, REQUEST, concat, goawayOf } from './helpers.js';

/** A peer with a controllable clock. */
function ready(limits: Partial<H2Limits> = {}) {
  const clock = { now: 1_000_000 };
  const peer = new Peer({ limits, now: () => clock.now });
  peer.handshake();
  peer.read();
  return { peer, clock };
}

function expectCalm(peer: Peer): void {
  const g = goawayOf(peer.read());
  assert.ok(g, 'expected GOAWAY');
  assert.equal(g.code, ErrorCode.ENHANCE_YOUR_CALM, g.debug);
  assert.ok(peer.events.some((e) => e.type === 'connectionTerminated' && !e.byPeer && e.code === ErrorCode.ENHANCE_YOUR_CALM));
}

function expectHealthy(peer: Peer): void {
  const frames = peer.read();
  assert.equal(goawayOf(frames), undefined, `unexpected GOAWAY: ${goawayOf(frames)?.debug}`);
  assert.equal(peer.conn.isClosing, false);
}

describe('DEFAULT_LIMITS', () => {
  test('has the documented defaults', () => {
    assert.equal(DEFAULT_LIMITS.maxConcurrentStreams, 100);
    assert.equal(DEFAULT_LIMITS.maxHeaderListSize, 65536);
    assert.equal(DEFAULT_LIMITS.rapidResetBurst, 1000);
    assert.equal(DEFAULT_LIMITS.rapidResetRatePerSecond, 33);
    assert.ok(Object.isFrozen(DEFAULT_LIMITS));
  });

  test('rejects invalid overrides', () => {
    assert.throws(() => new H2Connection({ limits: { maxConcurrentStreams: -1 } }), RangeError);
  });
});

describe('budgets fire with ENHANCE_YOUR_CALM', () => {
  test('rapid reset (CVE-2023-44487)', () => {
    const { peer } = ready({ rapidResetBurst: 50 });
    let id = 1;
    for (; id < 2 * 60; id += 2) {
      peer.request(id, REQUEST, false);
      peer.send(encodeRstStreamFrame(id, ErrorCode.CANCEL));
    }
    expectCalm(peer);
  });

  test('rapid reset budget refills with time', () => {
    const { peer, clock } = ready({ rapidResetBurst: 10, rapidResetRatePerSecond: 10 });
    for (let i = 0, id = 1; i < 40; i++, id += 2) {
      peer.request(id, REQUEST, false);
      peer.send(encodeRstStreamFrame(id, ErrorCode.CANCEL));
      clock.now += 200;
    }
    expectHealthy(peer);
  });

  test('server-sent resets provoked by peer errors (MadeYouReset, CVE-2025-8671)', () => {
    const { peer } = ready({ serverResetBurst: 20 });
    for (let id = 1; id < 2 * 30; id += 2) {
      peer.request(id, REQUEST, false);
      peer.send(encodeWindowUpdateFrame(id, 0)); // stream error PROTOCOL_ERROR
    }
    expectCalm(peer);
  });

  test('malformed requests count as server resets too', () => {
    const { peer } = ready({ serverResetBurst: 5 });
    for (let id = 1; id < 20; id += 2) peer.request(id, [...REQUEST, 'connection', 'close']);
    expectCalm(peer);
  });

  test('CONTINUATION flood: frame count checked before decoding (CVE-2024-27316 family)', () => {
    const { peer } = ready();
    peer.send(encodeHeadersFrame(1, new Uint8Array([0x82]), { endHeaders: false }));
    for (let i = 0; i < DEFAULT_LIMITS.maxContinuationFrames + 1; i++) {
      peer.send(encodeContinuationFrame(1, new Uint8Array([0x40, 1, 0x61, 1, 0x62]), false));
    }
    expectCalm(peer);
  });

  test('header block bytes are capped before decoding', () => {
    const { peer } = ready({ maxHeaderBlockBytes: 20000 });
    peer.send(encodeHeadersFrame(1, new Uint8Array(16000), { endHeaders: false }));
    peer.send(encodeContinuationFrame(1, new Uint8Array(16000), false));
    expectCalm(peer);
  });

  test('SETTINGS with too many entries', () => {
    const { peer } = ready();
    const entries: Array<[number, number]> = Array.from({ length: DEFAULT_LIMITS.maxSettingsEntriesPerFrame + 1 }, () => [0x3, 100]);
    peer.send(encodeSettingsFrame(entries));
    expectCalm(peer);
  });

  test('SETTINGS flood with ACKs not drained (CVE-2019-9515)', () => {
    const { peer } = ready({ maxPendingSettingsAcks: 10 });
    peer.send(concat(Array.from({ length: 11 }, () => encodeSettingsFrame([]))));
    expectCalm(peer);
  });

  test('PING flood with ACKs not drained (CVE-2019-9512)', () => {
    const { peer } = ready({ maxPendingPingAcks: 100 });
    peer.send(concat(Array.from({ length: 101 }, () => encodePingFrame())));
    expectCalm(peer);
  });

  test('PING ACK counter restarts when output is drained', () => {
    const { peer, clock } = ready({ maxPendingPingAcks: 100 });
    for (let i = 0; i < 10; i++) {
      peer.send(concat(Array.from({ length: 90 }, () => encodePingFrame())));
      peer.read();
      clock.now += 10_000;
    }
    expectHealthy(peer);
  });

  test('unsolicited PING ACK, SETTINGS ACK and GOAWAY floods count as control frames', () => {
    for (const flood of [encodePingFrame(new Uint8Array(8), true), encodeSettingsFrame([], true), encodeFrame(FrameType.GOAWAY, 0, 0, new Uint8Array(8))]) {
      const { peer } = ready({ controlFrameBurst: 50 });
      peer.send(concat(Array.from({ length: 51 }, () => flood)));
      expectCalm(peer);
    }
  });

  test('control frame flood (PRIORITY, CVE-2019-9513)', () => {
    const { peer } = ready({ controlFrameBurst: 100 });
    peer.send(concat(Array.from({ length: 101 }, (_, i) => encodePriorityFrame(2 * i + 1, { exclusive: false, dependency: 0, weight: 16 }))));
    expectCalm(peer);
  });

  test('unknown frame flood', () => {
    const { peer } = ready({ controlFrameBurst: 100 });
    peer.send(concat(Array.from({ length: 101 }, () => encodeFrame(0x42, 0, 0, new Uint8Array(1)))));
    expectCalm(peer);
  });

  test('empty DATA flood (CVE-2019-9518)', () => {
    const { peer } = ready({ emptyFrameBurst: 100 });
    peer.request(1, REQUEST, false);
    peer.send(concat(Array.from({ length: 101 }, () => encodeDataFrame(1, new Uint8Array(0)))));
    expectCalm(peer);
  });
});

describe('normal traffic never trips a budget', () => {
  test('1000 requests with bodies, pings and settings in a second', () => {
    const { peer, clock } = ready();
    for (let id = 1; id < 2000; id += 2) {
      peer.request(id, [':method', 'POST', ':scheme', 'https', ':path', '/', 'content-length', '3'], false);
      peer.send(encodeDataFrame(id, new Uint8Array(3), { endStream: true }));
      peer.conn.sendHeaders(id, [':status', '200'], true);
      if (id % 50 === 1) peer.send(encodePingFrame());
      if (id % 100 === 1) peer.send(encodeSettingsFrame([[0x4, 1 << 20]]));
      if (id % 10 === 1) peer.send(encodeWindowUpdateFrame(0, 1000));
      peer.read();
      clock.now += 1;
    }
    expectHealthy(peer);
    assert.equal(peer.conn.lastStreamId, 1999);
  });

  test('a browser-like burst: 100 concurrent requests, then navigation cancels them all', () => {
    const { peer } = ready();
    for (let id = 1; id < 200; id += 2) {
      peer.request(id, [...REQUEST, 'cookie', 'a=b', 'user-agent', 'Mozilla/5.0'], true);
      peer.send(encodePriorityFrame(id, { exclusive: false, dependency: 0, weight: 32 }));
    }
    for (let id = 1; id < 200; id += 2) peer.send(encodeRstStreamFrame(id, ErrorCode.CANCEL));
    expectHealthy(peer);
    assert.equal(peer.conn.openStreamCount, 0);
  });

  test('large header block split in CONTINUATION within limits is accepted', () => {
    const { peer } = ready();
    const block = peer.block([...REQUEST, 'x-a', 'a'.repeat(30000)]);
    const frames = [encodeHeadersFrame(1, block.subarray(0, 16000), { endStream: true, endHeaders: false }), encodeContinuationFrame(1, block.subarray(16000))];
    peer.send(concat(frames));
    assert.ok(peer.events.some((e) => e.type === 'request'));
    expectHealthy(peer);
  });

  test('outputHighWaterMark: bufferedBytes exposes unsent output for the driver', () => {
    const { peer } = ready();
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '200'], false);
    peer.conn.sendData(1, new Uint8Array(50000), true);
    assert.ok(peer.conn.bufferedBytes >= 50000);
    assert.ok(peer.conn.bufferedBytes < DEFAULT_LIMITS.outputHighWaterMark);
    peer.read();
    assert.equal(peer.conn.bufferedBytes, 0);
  });
});

test('type is exported for frame checks', () => {
  assert.equal(FrameType.PRIORITY_UPDATE, 0x10);
});
