// The RFC 9002 §7.7 pacer against the timer granularity it is driven with: it must not cap the rate below what the
// congestion window allows when every wake-up comes at least GRANULARITY after the last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GRANULARITY, Pacer } from '../../src/quic/recovery.js';

const MDS = 1200;

/** Sends whenever allowed, waking up no sooner than GRANULARITY after a "not yet"; returns bytes sent over `duration` ms. */
function sendFor(pacer: Pacer, congestionWindow: number, smoothedRtt: number, duration: number): number {
  let now = 0;
  let sent = 0;
  while (now < duration) {
    const at = pacer.nextSendTime(now, congestionWindow, smoothedRtt);
    if (at === undefined) {
      pacer.onSent(MDS);
      sent += MDS;
      continue;
    }
    now = Math.max(at, now + GRANULARITY);
  }
  return sent;
}

test('pacing on a sub-millisecond path keeps up with a large window despite 1 ms timers', () => {
  const window = 1000 * MDS;
  const sent = sendFor(new Pacer(MDS), window, 0.2, 100);
  // The window allows 1.25 × cwnd per GRANULARITY (smoothed_rtt is floored at it): a bucket of 10 datagrams would
  // have allowed 10 datagrams per wake-up, 1/100 of that.
  assert.ok(sent >= 0.5 * (100 / GRANULARITY) * window, `sent ${sent} bytes in 100 ms`);
});

test('pacing still spreads a window over the round trip on a long path, and bursts stay bounded', () => {
  const window = 100 * MDS;
  const pacer = new Pacer(MDS);
  const sent = sendFor(pacer, window, 50, 500);
  // 1.25 × cwnd per 50 ms for 500 ms, plus the initial bucket: never much more than that.
  assert.ok(sent <= 1.25 * window * 10 + 20 * MDS, `sent ${sent} bytes`);
  assert.ok(sent >= window * 10 * 0.8, `sent ${sent} bytes`);
  // After a long idle period, one burst is at most what the rate accrues over two granularities (or 10 datagrams).
  let burst = 0;
  while (pacer.nextSendTime(10_000, window, 50) === undefined) {
    pacer.onSent(MDS);
    burst += MDS;
  }
  assert.ok(burst <= Math.max(10 * MDS, 2 * GRANULARITY * (1.25 * window) / 50) + MDS, `burst ${burst}`);
});
