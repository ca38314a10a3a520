// Loss recovery (RFC 9002) through a deterministic seeded lossy channel on a simulated clock: handshake at 30%
// burst loss, transfer at 2% loss, corruption, duplication + reordering, and a 2 s blackout every 5 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Pair, patternBytes, serveDownloads } from './support/harness.js';
import type { ChannelOptions } from './support/harness.js';

const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Handshake, then the server sends `size` bytes on a client-opened stream; returns the pair when it all arrived. */
function download(channel: ChannelOptions, size: number, maxTime = 300_000): { pair: Pair; ok: boolean } {
  const pair = new Pair({ channel });
  const received = serveDownloads(pair, size, 7);
  if (!pair.handshake(maxTime)) return { pair, ok: false };
  const id = pair.client.openStream(false);
  pair.client.sendStreamData(id, patternBytes(100, 1), true);
  const ok = pair.run(() => received.ended.has(id), maxTime);
  if (ok) assert.equal(digest(received.bytes(id)), digest(patternBytes(size, 7)));
  return { pair, ok };
}

test('handshake completes at 30% loss in bursts of 3, for 20 seeds', () => {
  for (let seed = 1; seed <= 20; seed++) {
    // Bursts of lost PTO probes back off past the default 10 s handshake idle timeout (limits.handshakeTimeout, an
    // Initial-flood defence); this test is about recovery, so it waits as long as the idle timeout instead.
    const limits = { handshakeTimeout: 30_000 };
    const pair = new Pair({ channel: { seed, loss: 0.3, burst: 3, latency: 15 }, clientLimits: limits, serverLimits: limits });
    assert.ok(pair.handshake(120_000), `seed ${seed}: handshake`);
  }
});

test('transfer of 1 MB at 2% loss', () => {
  const { pair, ok } = download({ seed: 3, loss: 0.02, latency: 20 }, 1_000_000);
  assert.ok(ok);
  assert.ok(pair.stats.dropped > 10, `dropped ${pair.stats.dropped}`);
});

test('transfer of 500 kB with 2% corruption: damaged packets fail AEAD and are recovered', () => {
  const { pair, ok } = download({ seed: 5, corrupt: 0.02, latency: 20 }, 500_000);
  assert.ok(ok);
  assert.equal(pair.client.isClosed, false);
});

test('transfer of 500 kB with duplication and reordering', () => {
  const { ok } = download({ seed: 9, duplicate: 0.05, jitter: 15, latency: 10 }, 500_000);
  assert.ok(ok);
});

test('transfer survives a 2 s blackout every 5 s (PTO, persistent congestion)', () => {
  // The transfer starts right after the handshake (~t = 1050 ms); the first blackout hits it at 1200 ms.
  const blackout = (now: number): boolean => now >= 1200 && (now - 1200) % 5000 < 2000;
  const { pair, ok } = download({ seed: 11, latency: 30, blackout }, 3_000_000, 600_000);
  assert.ok(ok);
  assert.ok(pair.stats.dropped > 10, `dropped ${pair.stats.dropped}`);
  assert.ok(pair.now > 3200, 'the transfer outlived a blackout');
  assert.equal(pair.client.isClosed || pair.server.isClosed, false);
});

test('Handshake packets that overtake the Initial are buffered until its keys arrive (no retransmission needed)', () => {
  // A 3 kB server flight spans three datagrams; the first (Initial + Handshake) arrives 50 ms late.
  const pair = new Pair({ serverTls: { certificateBytes: 3000 }, channel: { latency: 10, delayIf: (direction, index) => (direction === 'toClient' && index === 0 ? 50 : 0) } });
  assert.ok(pair.handshake(5000));
  assert.ok(pair.now < 1000 + 120, `handshake took ${pair.now - 1000} ms`);
  assert.equal(pair.serverSent.length >= 3, true);
});
