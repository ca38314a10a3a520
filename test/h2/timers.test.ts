/**
 * The timer contract (nextDeadline() / onTimeout(now), engine clock injected): the SETTINGS ACK timeout
 * (RFC 9113 §6.5.3) and the graceful-shutdown PING wait (§6.8), in memory with a fake clock; then the driver's one
 * timer per connection against a real socket whose client never acknowledges our SETTINGS.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { CONNECTION_PREFACE, DEFAULT_LIMITS, ErrorCode, FrameType, encodePingFrame, encodeSettingsFrame } from '../../src/h2/index.js';
import { Peer, concat, goawayOf } from './helpers.js';
import { startServer } from '../support/server.js';

function clockedPeer(start = 1_000_000): { peer: Peer; clock: { now: number } } {
  const clock = { now: start };
  return { peer: new Peer({ now: () => clock.now }), clock };
}

describe('timer contract: SETTINGS ACK timeout (RFC 9113 §6.5.3)', () => {
  test('our initial SETTINGS sets a deadline; the ACK clears it', () => {
    const { peer, clock } = clockedPeer();
    assert.equal(peer.conn.nextDeadline(), clock.now + DEFAULT_LIMITS.settingsAckTimeout);
    peer.handshake();
    assert.equal(peer.conn.nextDeadline(), undefined);
  });

  test('before the deadline onTimeout() does nothing; at it, GOAWAY(SETTINGS_TIMEOUT) and no more deadline', () => {
    const { peer, clock } = clockedPeer();
    // The client's preface and SETTINGS, but never an ACK of ours.
    peer.send(concat([CONNECTION_PREFACE, encodeSettingsFrame([])]));
    peer.read();
    const deadline = peer.conn.nextDeadline()!;
    peer.conn.onTimeout(deadline - 1);
    assert.equal(goawayOf(peer.read()), undefined);
    assert.equal(peer.conn.isClosing, false);
    clock.now = deadline;
    peer.conn.onTimeout(deadline);
    const goaway = goawayOf(peer.read());
    assert.equal(goaway?.code, ErrorCode.SETTINGS_TIMEOUT);
    assert.ok(peer.events.some((e) => e.type === 'connectionTerminated' && e.code === ErrorCode.SETTINGS_TIMEOUT && !e.byPeer));
    assert.equal(peer.conn.nextDeadline(), undefined);
  });

  test('updateSettings() starts a new deadline from its own send time', () => {
    const { peer, clock } = clockedPeer();
    peer.handshake();
    clock.now += 5000;
    peer.conn.updateSettings({ maxConcurrentStreams: 10 });
    assert.equal(peer.conn.nextDeadline(), clock.now + DEFAULT_LIMITS.settingsAckTimeout);
    peer.read();
    peer.send(encodeSettingsFrame([], true));
    assert.equal(peer.conn.nextDeadline(), undefined);
  });
});

describe('timer contract: graceful shutdown (RFC 9113 §6.8)', () => {
  test('an unanswered shutdown PING: the final GOAWAY goes out at the deadline and the engine finishes', () => {
    const { peer, clock } = clockedPeer();
    peer.handshake();
    peer.request(1);
    peer.conn.sendHeaders(1, [':status', '204'], true);
    peer.read();
    peer.conn.shutdown();
    const first = goawayOf(peer.read());
    assert.equal(first?.lastStreamId, 0x7fffffff);
    assert.equal(peer.conn.isDone, false, 'waiting for the PING answer');
    const deadline = peer.conn.nextDeadline();
    assert.equal(deadline, clock.now + DEFAULT_LIMITS.shutdownPingTimeout);
    clock.now = deadline!;
    peer.conn.onTimeout(clock.now);
    const final = goawayOf(peer.read());
    assert.equal(final?.code, ErrorCode.NO_ERROR);
    assert.equal(final?.lastStreamId, 1);
    assert.equal(peer.conn.nextDeadline(), undefined);
    assert.equal(peer.conn.isDone, true);
  });

  test('the PING answer completes the shutdown and clears the deadline', () => {
    const { peer } = clockedPeer();
    peer.handshake();
    peer.conn.shutdown();
    const frames = peer.read();
    const ping = frames.find((f) => f.type === FrameType.PING)!;
    assert.notEqual(peer.conn.nextDeadline(), undefined);
    peer.send(encodePingFrame(ping.payload, true));
    assert.equal(goawayOf(peer.read())?.lastStreamId, 0);
    assert.equal(peer.conn.nextDeadline(), undefined);
  });
});

describe('timer contract in the driver: one timer per connection', () => {
  test('a client that never acknowledges our SETTINGS gets GOAWAY(SETTINGS_TIMEOUT) and is closed', async () => {
    const server = await startServer(() => new Response('ok'), { tls: false, h2Limits: { settingsAckTimeout: 300 } });
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      socket.on('error', () => {});
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.write(concat([CONNECTION_PREFACE, encodeSettingsFrame([])]));
      // The client hangs (no ACK): only the server's timer can end this. Generous bound for a busy machine.
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the server did not close the connection')), 10_000).unref());
      await Promise.race([closed, timeout]);
      const bytes = Buffer.concat(received);
      // The last frame the server wrote is the GOAWAY (frame header: 9 octets, GOAWAY payload 8 + debug data).
      let offset = 0;
      let goawayCode: number | undefined;
      while (offset + 9 <= bytes.length) {
        const length = bytes.readUIntBE(offset, 3);
        if (bytes[offset + 3] === FrameType.GOAWAY) goawayCode = bytes.readUInt32BE(offset + 9 + 4);
        offset += 9 + length;
      }
      assert.equal(goawayCode, ErrorCode.SETTINGS_TIMEOUT);
    } finally {
      await server.close();
    }
  });
});
