/**
 * The supervisor's half of the HTTP/3 relay (src/server/quic/relay.ts) over a real UDP socket, with stand-ins for
 * the workers' IPC channels: a worker's bind shares one socket per address, an unknown DCID goes to one worker by
 * the client's address, an announced connection ID overrides that (and stops when withdrawn or when its worker
 * is gone), outgoing datagrams leave from the shared port, a draining worker takes no new clients, and a worker
 * that stops reading its channel gets datagrams dropped, not queued without bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:cluster';
import { createSocket, type Socket } from 'node:dgram';
import { QuicRelay } from '../../../src/server/quic/relay.js';
import { waitFor } from '../../support/server.js';

interface FakeWorker {
  worker: Worker;
  received: { type: string; [key: string]: unknown }[];
  /** Datagrams delivered to this worker (bytes as hex). */
  datagrams(): string[];
}

/** A worker's IPC channel as the relay sees it; `stalled`: messages are never written (no send callback). */
function fakeWorker(stalled = false): FakeWorker {
  const received: FakeWorker['received'] = [];
  const worker = {
    isConnected: () => true,
    send(message: FakeWorker['received'][number], callback?: () => void) {
      received.push(message);
      if (!stalled) setImmediate(() => callback?.());
      return true;
    },
  } as unknown as Worker;
  const datagrams = () => received.filter((m) => m.type === 'httpsd:quic-in').flatMap((m) => (m.datagrams as [Uint8Array][]).map(([data]) => Buffer.from(data).toString('hex')));
  return { worker, received, datagrams };
}

async function bind(relay: QuicRelay, fake: FakeWorker, port: number): Promise<{ socket: string; port: number }> {
  const before = fake.received.length;
  relay.handle(fake.worker, { type: 'httpsd:quic-bind', id: before + 1, udpType: 'udp4', host: '127.0.0.1', port });
  await waitFor(() => fake.received.length > before, 'the bind reply');
  const reply = fake.received.at(-1)!;
  assert.equal(reply.type, 'httpsd:quic-bound', JSON.stringify(reply));
  return { socket: reply.socket as string, port: reply.port as number };
}

async function client(): Promise<{ socket: Socket; port: number; replies: Buffer[] }> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (message) => replies.push(message));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { socket, port: socket.address().port, replies };
}

/** A short-header datagram for our 8-byte CID. */
function shortHeader(cid: string, marker: number): Buffer {
  return Buffer.concat([Buffer.of(0x40), Buffer.from(cid, 'hex'), Buffer.alloc(30, marker)]);
}

/** A long-header Initial-like datagram with a client-chosen DCID. */
function longHeader(dcid: string, marker: number): Buffer {
  const id = Buffer.from(dcid, 'hex');
  return Buffer.concat([Buffer.of(0xc0, 0, 0, 0, 1, id.length), id, Buffer.of(0), Buffer.alloc(30, marker)]);
}

test('the relay routes by announced connection ID, else by client address, and sends from the shared port', { timeout: 60_000 }, async () => {
  const relay = new QuicRelay();
  const a = fakeWorker();
  const b = fakeWorker();
  const first = await bind(relay, a, 0);
  const second = await bind(relay, b, first.port);
  assert.deepEqual(second, first, 'one socket per address, shared by both workers');
  const peers = await Promise.all(Array.from({ length: 16 }, client));
  try {
    // New clients: each one's datagrams all go to one worker; with 16 clients both workers get some (2^-15 odds).
    for (const [index, peer] of peers.entries()) for (let n = 0; n < 3; n++) peer.socket.send(longHeader('a1b2c3d4e5f60718', index), first.port, '127.0.0.1');
    await waitFor(() => a.datagrams().length + b.datagrams().length === 48, 'all 48 datagrams delivered');
    for (const [index] of peers.entries()) {
      const marker = Buffer.alloc(30, index).toString('hex');
      const atA = a.datagrams().filter((d) => d.endsWith(marker)).length;
      const atB = b.datagrams().filter((d) => d.endsWith(marker)).length;
      assert.ok((atA === 3 && atB === 0) || (atA === 0 && atB === 3), `client ${index}: ${atA} at a, ${atB} at b`);
    }
    assert.ok(a.datagrams().length > 0 && b.datagrams().length > 0, 'both workers take new clients');

    // Worker a announces a CID and replies: the reply leaves from the shared port; the CID now routes to a.
    const peer = peers[0]!;
    relay.handle(a.worker, { type: 'httpsd:quic-out', socket: first.socket, add: ['0102030405060708'], remove: [], datagrams: [[Buffer.from('reply'), '127.0.0.1', peer.port]] });
    await waitFor(() => peer.replies.length === 1, 'the reply');
    assert.equal(peer.replies[0]!.toString(), 'reply');
    const fromOtherPorts = peers.slice(1).map((other, index) => {
      other.socket.send(shortHeader('0102030405060708', 100 + index), first.port, '127.0.0.1');
      return Buffer.alloc(30, 100 + index).toString('hex');
    });
    await waitFor(() => fromOtherPorts.every((marker) => a.datagrams().some((d) => d.endsWith(marker))), 'every datagram for the CID at worker a, whatever its source port');
    assert.ok(!b.datagrams().some((d) => fromOtherPorts.some((marker) => d.endsWith(marker))));

    // Its worker gone, the CID routes nowhere: every datagram goes by address, to b, the only worker left.
    relay.forget(a.worker);
    const after = peers.slice(1).map((other, index) => {
      other.socket.send(shortHeader('0102030405060708', 200 + index), first.port, '127.0.0.1');
      return Buffer.alloc(30, 200 + index).toString('hex');
    });
    await waitFor(() => after.every((marker) => b.datagrams().some((d) => d.endsWith(marker))), 'worker a is gone: everything reaches b');

    // Draining: b takes no new clients; with no worker accepting, unknown DCIDs are dropped.
    relay.handle(b.worker, { type: 'httpsd:quic-drain', socket: first.socket });
    const count = b.datagrams().length;
    peer.socket.send(longHeader('ffeeddccbbaa9988', 250), first.port, '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(b.datagrams().length, count);
  } finally {
    for (const peer of peers) peer.socket.close();
    relay.close();
  }
});

test('a worker that stops reading its channel: datagrams beyond the backlog are dropped, not queued', { timeout: 60_000 }, async () => {
  const relay = new QuicRelay();
  const stalled = fakeWorker(true);
  // The bind reply is itself a message the stalled channel never writes, which is fine: it is sent.
  const { port } = await bind(relay, stalled, 0);
  const peer = await client();
  try {
    // About one datagram per event-loop turn (one batch each), until the bound is hit.
    for (let sent = 0; sent < 2000 && relay.stats.dropped === 0; sent++) {
      peer.socket.send(longHeader('a1b2c3d4e5f60718', sent % 256), port, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.ok(relay.stats.dropped > 0, 'nothing was dropped');
    assert.equal(relay.stats.messagesIn, 64, 'no batch beyond the backlog bound');
  } finally {
    peer.socket.close();
    relay.close();
  }
});
