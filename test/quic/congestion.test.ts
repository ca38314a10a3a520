// Congestion controllers (RFC 9002 NewReno, RFC 9438 CUBIC) as units, and CUBIC carrying a lossy transfer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cubic } from '../../src/quic/cubic.js';
import { NewReno, RttEstimator, isPersistentCongestion } from '../../src/quic/recovery.js';
import type { CongestionController, SentPacket } from '../../src/quic/recovery.js';
import { Pair, patternBytes, serveDownloads } from './support/harness.js';

const MSS = 1200;
const packet = (timeSent: number, size = MSS): SentPacket => ({ packetNumber: 0, timeSent, size, ackEliciting: true, inFlight: true, frames: [] });

/** Acks one window's worth of full packets per RTT for `rounds` round trips starting at `start`; returns cwnd per round. */
function grow(cc: CongestionController, start: number, rounds: number, rtt: number): number[] {
  const windows: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const now = start + round * rtt;
    const count = Math.floor(cc.congestionWindow / MSS);
    for (let i = 0; i < count; i++) {
      cc.onSent(MSS);
      cc.onAcked(packet(now), now + rtt, rtt);
    }
    windows.push(cc.congestionWindow);
  }
  return windows;
}

test('NewReno: slow start doubles per RTT, a loss halves the window once per recovery period', () => {
  const reno = new NewReno(MSS);
  assert.equal(reno.congestionWindow, 12_000);
  const windows = grow(reno, 0, 3, 100);
  assert.equal(windows[0], 24_000);
  assert.equal(windows[1], 48_000);
  reno.onCongestionEvent(250, 300);
  assert.equal(reno.congestionWindow, 48_000);
  reno.onCongestionEvent(290, 310); // sent before recovery began: no second reduction
  assert.equal(reno.congestionWindow, 48_000);
  const after = grow(reno, 400, 2, 100);
  assert.ok(after[1]! - after[0]! <= MSS + 1, 'congestion avoidance adds about one MSS per RTT');
  reno.onPersistentCongestion();
  assert.equal(reno.congestionWindow, 2 * MSS);
});

test('CUBIC: reduces to 0.7× and climbs back towards W_max along the cubic curve, faster than Reno', () => {
  const cubic = new Cubic(MSS);
  const reno = new NewReno(MSS);
  grow(cubic, 0, 5, 100);
  grow(reno, 0, 5, 100);
  const before = cubic.congestionWindow;
  cubic.onCongestionEvent(450, 500);
  reno.onCongestionEvent(450, 500);
  assert.equal(cubic.congestionWindow, before * 0.7);
  // K = cbrt(W_max × (1 − β) / C) ≈ 6.2 s for a 320-segment W_max: the curve is back at W_max after about K.
  const cubicWindows = grow(cubic, 600, 90, 100);
  const renoWindows = grow(reno, 600, 90, 100);
  assert.ok(cubicWindows[50]! < before, 'still below W_max before K');
  assert.ok(cubicWindows[89]! >= before, `CUBIC got back to W_max (${cubicWindows[89]} vs ${before})`);
  assert.ok(cubicWindows[89]! > renoWindows[89]!, 'and ahead of Reno');
  // Concave then convex: growth is slowest on the plateau around W_max, faster on both sides of it.
  const steps = cubicWindows.slice(1).map((w, i) => w - cubicWindows[i]!);
  const slowest = steps.indexOf(Math.min(...steps));
  assert.ok(Math.abs(cubicWindows[slowest]! - before) < 0.05 * before, 'the plateau is at W_max');
  assert.ok(steps[slowest]! < steps[0]! / 4 && steps[slowest]! < steps[steps.length - 1]! / 4);
});

test('persistent congestion needs an RTT sample and a long enough span of losses (RFC 9002 §7.6)', () => {
  const rtt = new RttEstimator();
  const lost = [packet(0), packet(5000)];
  assert.equal(isPersistentCongestion(lost, rtt, 25), false, 'no RTT sample yet');
  rtt.update(100, 0);
  assert.equal(isPersistentCongestion(lost, rtt, 25), true);
  assert.equal(isPersistentCongestion([packet(0), packet(200)], rtt, 25), false);
});

test('a 1 MB transfer at 2% loss with CUBIC on both sides', () => {
  const pair = new Pair({ congestionControl: 'cubic', channel: { seed: 21, loss: 0.02, latency: 20 } });
  const received = serveDownloads(pair, 1_000_000, 8);
  assert.ok(pair.handshake());
  const id = pair.client.openStream(false);
  pair.client.sendStreamData(id, patternBytes(10, 1), true);
  assert.ok(pair.run(() => received.ended.has(id), 300_000));
  assert.deepEqual(received.bytes(id), patternBytes(1_000_000, 8));
});
