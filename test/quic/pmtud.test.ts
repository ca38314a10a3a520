// Path MTU discovery (RFC 9000 §14.3, RFC 8899 DPLPMTUD): the PathMtu state machine as a unit, then a client and a
// server QuicConnection over the simulated channel on paths that carry only datagrams up to N bytes, with a black
// hole that opens mid-transfer, and with a peer whose max_udp_payload_size caps the search.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BASE_PLPMTU, BLACK_HOLE_LOSSES, MAX_PROBES, PathMtu } from '../../src/quic/pmtud.js';
import { NewReno } from '../../src/quic/recovery.js';
import { Pair, patternBytes, serveDownloads } from './support/harness.js';
import type { ChannelOptions, PairOptions } from './support/harness.js';

const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Drives a PathMtu against a path that carries `mtu` bytes: returns the probe sizes, in order. */
function search(pmtu: PathMtu, mtu: number): number[] {
  const sizes: number[] = [];
  for (let size = pmtu.nextProbe(); size !== undefined; size = pmtu.nextProbe()) {
    assert.ok(sizes.length < 100, 'the search ends');
    sizes.push(size);
    pmtu.onProbeSent(size);
    if (size <= mtu) pmtu.onProbeAcked(size);
    else pmtu.onProbeLost(size);
  }
  return sizes;
}

test('PathMtu: the first probe is the largest allowed size; a path that carries it ends the search at once', () => {
  const pmtu = new PathMtu(1452);
  assert.equal(pmtu.state, 'base');
  assert.equal(pmtu.nextProbe(), undefined, 'no probe before the handshake is confirmed (start)');
  pmtu.start(65527);
  assert.deepEqual(search(pmtu, 1500), [1452]);
  assert.equal(pmtu.state, 'complete');
  assert.equal(pmtu.current, 1452);
});

test('PathMtu: MAX_PROBES losses of a size, then bisection to the exact largest size the path carries', () => {
  const pmtu = new PathMtu(1452);
  pmtu.start(65527);
  const sizes = search(pmtu, 1300);
  assert.deepEqual(sizes.slice(0, MAX_PROBES), [1452, 1452, 1452]);
  assert.equal(sizes[MAX_PROBES], 1200 + Math.ceil((1451 - 1200) / 2));
  assert.equal(pmtu.state, 'complete');
  assert.equal(pmtu.current, 1300);
  // Every size above the path's is tried MAX_PROBES times, and each bisection halves the range: about 8 sizes.
  assert.ok(sizes.length < 8 * MAX_PROBES, `${sizes.length} probes`);
});

test('PathMtu: a path that carries nothing above the base settles at 1200', () => {
  const pmtu = new PathMtu(1452);
  pmtu.start(65527);
  search(pmtu, 1200);
  assert.equal(pmtu.state, 'complete');
  assert.equal(pmtu.current, BASE_PLPMTU);
});

test("PathMtu: the peer's max_udp_payload_size and our limit bound the search; 1200 on either side disables it", () => {
  const capped = new PathMtu(1452);
  capped.start(1350);
  assert.deepEqual(search(capped, 9000), [1350]);
  const off = new PathMtu(1200);
  off.start(65527);
  assert.equal(off.state, 'disabled');
  assert.equal(off.nextProbe(), undefined);
  const peerOff = new PathMtu(1452);
  peerOff.start(1200);
  assert.equal(peerOff.state, 'disabled');
});

test('PathMtu: black hole after full-size losses with no full-size packet acknowledged; congestion losses do not count', () => {
  const pmtu = new PathMtu(1452);
  pmtu.start(65527);
  search(pmtu, 1452);
  // Congestion: losses of packets older than an acknowledged full-size packet never add up.
  for (let pn = 0; pn < 20; pn++) {
    pmtu.onAcked(100 + pn, 1452);
    assert.equal(pmtu.onLost(pn, 1452), false);
  }
  // Small packets lost never count either.
  for (let pn = 200; pn < 220; pn++) assert.equal(pmtu.onLost(pn, 1100), false);
  let losses = 0;
  for (let pn = 300; pn < 400; pn++) {
    losses++;
    if (pmtu.onLost(pn, 1452)) break;
  }
  assert.equal(losses, BLACK_HOLE_LOSSES);
  pmtu.onBlackHole();
  assert.equal(pmtu.current, BASE_PLPMTU);
  assert.equal(pmtu.state, 'searching');
  assert.equal(pmtu.nextProbe(), 1451, 'the search resumes below the size that failed');
});

test('congestion controller: a larger datagram size keeps the window in bytes, recomputes the initial window and the minimum', () => {
  const reno = new NewReno(1200);
  assert.equal(reno.congestionWindow, 12_000);
  reno.setMaxDatagramSize(1452);
  assert.equal(reno.congestionWindow, 14_520, 'RFC 9002 §7.2 initial window with the new size');
  reno.onCongestionEvent(0, 1);
  reno.onPersistentCongestion();
  assert.equal(reno.congestionWindow, 2 * 1452);
  reno.setMaxDatagramSize(1200);
  assert.equal(reno.congestionWindow, 2 * 1452, 'bytes stay bytes when the size drops');
});

const searchesDone = (pair: Pair): boolean => pair.server.pathMtu.state !== 'searching' && pair.client.pathMtu.state !== 'searching';

/**
 * Handshake, then the server sends `size` bytes to the client; checks the bytes. Runs on (idle) until both ends'
 * searches are over, calling `watch` at every step. Returns the pair.
 */
function download(size: number, channel: ChannelOptions, options: Omit<PairOptions, 'channel'> = {}, watch?: (pair: Pair) => void): Pair {
  const pair = new Pair({ ...options, channel });
  const received = serveDownloads(pair, size, 7);
  assert.ok(pair.handshake(10_000), 'handshake');
  const id = pair.client.openStream(false);
  pair.client.sendStreamData(id, patternBytes(100, 1), true);
  assert.ok(pair.run(() => {
    watch?.(pair);
    return received.ended.has(id) && searchesDone(pair);
  }, 600_000), 'transfer');
  assert.equal(digest(received.bytes(id)), digest(patternBytes(size, 7)));
  return pair;
}

test('an unrestricted path: both ends settle at 1452 and the transfer uses full 1452-byte datagrams', () => {
  const pair = download(1_000_000, { latency: 10 });
  assert.deepEqual({ size: pair.server.pathMtu.size, state: pair.server.pathMtu.state }, { size: 1452, state: 'complete' });
  assert.deepEqual({ size: pair.client.pathMtu.size, state: pair.client.pathMtu.state }, { size: 1452, state: 'complete' });
  const sizes = pair.serverSent.map((datagram) => datagram.size);
  assert.ok(Math.max(...sizes) === 1452);
  // 1 MB in 1452-byte datagrams is about 700 of them; at 1200 bytes it would take over 850.
  assert.ok(sizes.filter((size) => size === 1452).length > 650, `${sizes.filter((size) => size === 1452).length} full datagrams`);
  assert.equal(pair.server.pathMtu.probesLost, 0);
});

test('a path that drops datagrams above N bytes: the search settles at N exactly, and lost probes never shrink the window', () => {
  const mtu = 1333;
  let windowShrank = false;
  let lastWindow = 0;
  const pair = download(400_000, { latency: 10, dropIf: (_direction, _index, data) => data.byteLength > mtu }, {}, (p) => {
    // No datagram of the transfer itself is lost: only probes are, so a window that ever shrinks counted them.
    const { window } = p.server.congestionWindow;
    if (window < lastWindow) windowShrank = true;
    lastWindow = window;
  });
  for (const side of [pair.server, pair.client]) {
    assert.equal(side.pathMtu.state, 'complete');
    assert.equal(side.pathMtu.size, mtu);
  }
  assert.ok(pair.server.pathMtu.probesLost >= 3 * MAX_PROBES, `${pair.server.pathMtu.probesLost} probes lost`);
  assert.equal(windowShrank, false, 'a lost probe reduced the congestion window');
  assert.equal(pair.server.pathMtu.blackHoles, 0);
  assert.ok(pair.serverSent.some((datagram) => datagram.size === mtu), 'the transfer used the discovered size');
});

test("the peer's max_udp_payload_size caps the probes; our own maxDatagramSize 1200 sends no probe at all", () => {
  const capped = download(300_000, { latency: 10 }, { clientLimits: { maxDatagramSize: 1300 } });
  assert.equal(capped.server.pathMtu.size, 1300);
  assert.ok(Math.max(...capped.serverSent.map((d) => d.size)) <= 1300, 'nothing above the client’s max_udp_payload_size');
  assert.equal(capped.client.pathMtu.size, 1300, 'the client probes up to its own limit');

  const off = download(300_000, { latency: 10 }, { serverLimits: { maxDatagramSize: 1200 } });
  assert.equal(off.server.pathMtu.state, 'disabled');
  assert.equal(off.server.pathMtu.probesSent, 0);
  assert.ok(Math.max(...off.serverSent.map((d) => d.size)) <= 1200);
  assert.equal(off.client.pathMtu.size, 1200, 'the server advertised 1200: the client stays there too');
});

test('a black hole for datagrams above 1200 opens mid-transfer: back to 1200, and the transfer completes', () => {
  // The hole opens 60 ms (two round trips) after the server's search completed at 1452, while the 3 MB transfer is under way.
  const hole = { opensAt: Number.POSITIVE_INFINITY, now: 0, sizeBefore: 0 };
  const channel: ChannelOptions = { latency: 15, dropIf: (_direction, _index, data) => hole.now >= hole.opensAt && data.byteLength > 1200 };
  const pair = download(3_000_000, channel, {}, (p) => {
    hole.now = p.now;
    if (hole.opensAt === Number.POSITIVE_INFINITY && p.server.pathMtu.state === 'complete') hole.opensAt = p.now + 60;
    if (p.now < hole.opensAt) hole.sizeBefore = p.server.pathMtu.size;
  });
  assert.equal(hole.sizeBefore, 1452, 'full-size datagrams went through before the black hole');
  assert.ok(hole.opensAt < pair.now, 'the black hole opened during the transfer');
  assert.ok(pair.server.pathMtu.blackHoles >= 1, 'black hole detected');
  assert.equal(pair.server.pathMtu.size, 1200);
  assert.equal(pair.server.pathMtu.state, 'complete', 'the search below the failed size found nothing above 1200');
  assert.equal(pair.server.isClosed, false);
});

test('bursty congestion loss (5 % in bursts of 3) is not taken for a black hole', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const pair = download(1_000_000, { seed, loss: 0.05, burst: 3, latency: 20 });
    assert.equal(pair.server.pathMtu.blackHoles, 0, `seed ${seed}`);
    assert.equal(pair.server.pathMtu.size, 1452, `seed ${seed}`);
  }
});
