// The server demux: routing by connection ID, Version Negotiation, Initial size rule, Retry with sealed tokens,
// stateless reset, per-address handshake limit; a client handshakes and transfers through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCrypto } from '../../src/crypto/node.js';
import { BufferWriter } from '../../src/quic/buffer.js';
import { QuicConnection } from '../../src/quic/connection.js';
import { parsePacketHeader } from '../../src/quic/packet.js';
import { QuicServerDemux } from '../../src/quic/server.js';
import type { QuicServerOptions } from '../../src/quic/server.js';
import type { PathAddress, QuicEvent } from '../../src/quic/types.js';
import { FakeTlsClient, FakeTlsServer } from './support/fake-tls.js';
import { CLIENT_ADDRESS, SERVER_ADDRESS, patternBytes, StreamCollector } from './support/harness.js';

/** A client talking to a demux over a lossless 5 ms link, on a simulated clock. */
class DemuxWorld {
  now = 1000;
  readonly demux: QuicServerDemux;
  client: QuicConnection;
  readonly clientEvents: QuicEvent[] = [];
  readonly serverEvents: QuicEvent[] = [];
  readonly replies: string[] = [];
  readonly servers = new Set<QuicConnection>();
  private queue: { at: number; to: 'client' | 'server'; data: Uint8Array; from: PathAddress }[] = [];
  onServerEvent: (connection: QuicConnection, event: QuicEvent) => void = () => {};

  constructor(options: Partial<QuicServerOptions> = {}, clientAddress: PathAddress = CLIENT_ADDRESS) {
    this.demux = new QuicServerDemux({ crypto: nodeCrypto, tls: (tp) => new FakeTlsServer(tp, {}), ...options });
    this.client = this.newClient(clientAddress);
  }

  newClient(address: PathAddress): QuicConnection {
    this.clientAddress = address;
    this.client = new QuicConnection({ role: 'client', crypto: nodeCrypto, remote: SERVER_ADDRESS, now: this.now, tls: (tp) => new FakeTlsClient(tp, {}) });
    return this.client;
  }
  clientAddress: PathAddress = CLIENT_ADDRESS;

  step(): boolean {
    for (const { data } of this.client.datagramsToSend(this.now)) this.queue.push({ at: this.now + 5, to: 'server', data, from: this.clientAddress });
    for (const server of this.servers) {
      for (const { data, remote } of server.datagramsToSend(this.now)) this.queue.push({ at: this.now + 5, to: 'client', data, from: remote });
      const events = server.pollEvents();
      this.demux.observe(server, events);
      for (const event of events) {
        this.serverEvents.push(event);
        this.onServerEvent(server, event);
      }
    }
    this.clientEvents.push(...this.client.pollEvents());
    for (const closed of this.demux.sweep()) this.servers.delete(closed);
    const deadlines = [this.client.nextDeadline(), ...[...this.servers].map((s) => s.nextDeadline()), ...this.queue.map((q) => q.at)]
      .filter((d): d is number => d !== undefined);
    if (deadlines.length === 0) return false;
    this.now = Math.max(this.now, Math.min(...deadlines));
    const due = this.queue.filter((q) => q.at <= this.now);
    this.queue = this.queue.filter((q) => q.at > this.now);
    for (const item of due) {
      if (item.to === 'client') {
        this.client.receiveDatagram(item.data, SERVER_ADDRESS, this.now);
        continue;
      }
      const result = this.demux.receiveDatagram(item.data, item.from, this.now);
      if (result.kind === 'connection') this.servers.add(result.connection);
      if (result.kind === 'reply') {
        this.replies.push(result.reason);
        this.queue.push({ at: this.now + 5, to: 'client', data: result.data, from: SERVER_ADDRESS });
      }
    }
    this.client.onTimeout(this.now);
    for (const server of this.servers) server.onTimeout(this.now);
    return true;
  }

  run(done: () => boolean, maxTime = 30_000): boolean {
    const limit = this.now + maxTime;
    for (let steps = 0; this.now < limit; steps++) {
      if (steps > 50_000) throw new Error(`no progress at t=${this.now}`);
      if (done()) return true;
      if (!this.step()) return done();
    }
    return done();
  }
}

const handshakeDone = (world: DemuxWorld) => () => world.clientEvents.some((e) => e.type === 'handshakeComplete') && world.serverEvents.some((e) => e.type === 'handshakeComplete');

test('a client handshakes through the demux and transfers data; routes follow issued CIDs', () => {
  const world = new DemuxWorld();
  assert.ok(world.run(handshakeDone(world)));
  assert.equal(world.demux.connectionCount, 1);
  assert.equal(world.demux.handshakesInProgress, 0);
  assert.deepEqual(world.replies, []);
  // Every CID the server issued routes to its connection.
  const server = [...world.servers][0]!;
  for (const cid of server.localConnectionIds) {
    const probe = new BufferWriter().uint8(0x40).raw(cid).raw(new Uint8Array(30)).finish();
    const result = world.demux.receiveDatagram(probe, CLIENT_ADDRESS, world.now);
    assert.equal(result.kind === 'connection' && result.connection, server);
  }
  const collector = new StreamCollector(world.client);
  world.onServerEvent = (connection, event) => {
    if (event.type === 'streamData' && event.end) connection.sendStreamData(event.streamId, patternBytes(100_000, 4), true);
  };
  const id = world.client.openStream(false);
  world.client.sendStreamData(id, patternBytes(10, 1), true);
  assert.ok(world.run(() => {
    for (const event of world.clientEvents.splice(0)) collector.handle(event);
    return collector.ended.has(id);
  }));
  assert.deepEqual(collector.bytes(id), patternBytes(100_000, 4));
});

test('Retry (RFC 9000 §8.1.2): the client comes back with the token and the handshake authenticates the CIDs', () => {
  const world = new DemuxWorld({ retry: 'always' });
  assert.ok(world.run(handshakeDone(world)));
  assert.deepEqual(world.replies, ['retry']);
  assert.equal(world.demux.connectionCount, 1);
  // The validated client was not subject to the amplification limit.
  assert.ok([...world.servers][0]!.pathValidated);
});

test('Retry tokens are bound to the client address, expire, and cannot be altered', () => {
  const staticKey = patternBytes(32, 5);
  const world = new DemuxWorld({ retry: 'always', staticKey, limits: { retryTokenLifetime: 5000 } });
  // Capture the client's second Initial (the one carrying the token).
  let withToken: Uint8Array | undefined;
  const demuxReceive = world.demux.receiveDatagram.bind(world.demux);
  world.demux.receiveDatagram = (data, remote, now) => {
    const header = parsePacketHeader(data, 0, 8);
    if (header.type === 'initial' && header.token.byteLength > 0 && withToken === undefined) withToken = data.slice();
    return demuxReceive(data, remote, now);
  };
  assert.ok(world.run(handshakeDone(world)));
  assert.ok(withToken);
  // Another process with the same key (a fresh demux, no routes) judges the token on its own.
  const fresh = (): QuicServerDemux => new QuicServerDemux({ crypto: nodeCrypto, tls: (tp) => new FakeTlsServer(tp, {}), retry: 'always', staticKey, limits: { retryTokenLifetime: 5000 } });
  assert.deepEqual(fresh().receiveDatagram(withToken, { address: '192.0.2.1', port: 1 }, world.now), { kind: 'drop', reason: 'invalid token' });
  assert.deepEqual(fresh().receiveDatagram(withToken, CLIENT_ADDRESS, world.now + 10_000), { kind: 'drop', reason: 'invalid token' });
  const header = parsePacketHeader(withToken, 0, 8);
  const tampered = withToken.slice();
  tampered[header.pnOffset - 10]! ^= 1; // inside the token (the 2-byte Length field and the token precede pnOffset)
  assert.deepEqual(fresh().receiveDatagram(tampered, CLIENT_ADDRESS, world.now), { kind: 'drop', reason: 'invalid token' });
  assert.equal(fresh().receiveDatagram(withToken, CLIENT_ADDRESS, world.now).kind, 'connection');
});

test('Version Negotiation for an unknown version; small or non-Initial packets create no state', () => {
  const demux = new QuicServerDemux({ crypto: nodeCrypto, tls: (tp) => new FakeTlsServer(tp, {}) });
  const unknown = new BufferWriter().uint8(0xc0).uint32(0xff00001d).uint8(8).raw(patternBytes(8, 1)).uint8(4).raw(patternBytes(4, 2)).raw(new Uint8Array(1200)).finish();
  const result = demux.receiveDatagram(unknown, CLIENT_ADDRESS, 0);
  assert.equal(result.kind, 'reply');
  if (result.kind !== 'reply') return;
  const vn = parsePacketHeader(result.data, 0, 8);
  assert.equal(vn.type, 'versionNegotiation');
  assert.deepEqual(vn.destinationCid, patternBytes(4, 2));
  assert.deepEqual(vn.sourceCid, patternBytes(8, 1));
  assert.ok(vn.supportedVersions.includes(1));
  assert.equal(demux.receiveDatagram(unknown.subarray(0, 200), CLIENT_ADDRESS, 0).kind, 'drop');
  // A real client Initial cut below 1200 bytes is dropped (RFC 9000 §14.1).
  const short = new BufferWriter().uint8(0xc0).uint32(1).uint8(8).raw(patternBytes(8, 3)).uint8(0).varint(0).varint(100, 2).raw(new Uint8Array(100)).finish();
  assert.deepEqual(demux.receiveDatagram(short, CLIENT_ADDRESS, 0), { kind: 'drop', reason: 'Initial datagram below 1200 bytes' });
  assert.equal(demux.connectionCount, 0);
  const client = new QuicConnection({ role: 'client', crypto: nodeCrypto, remote: SERVER_ADDRESS, now: 0, tls: (tp) => new FakeTlsClient(tp, {}) });
  assert.equal(demux.receiveDatagram(client.datagramsToSend(0)[0]!.data, CLIENT_ADDRESS, 0).kind, 'connection');
  assert.equal(demux.connectionCount, 1);
});

test('handshakes in progress per source address are capped', () => {
  const demux = new QuicServerDemux({ crypto: nodeCrypto, tls: (tp) => new FakeTlsServer(tp, {}), limits: { maxHandshakesPerAddress: 3 } });
  const results: string[] = [];
  for (let i = 0; i < 5; i++) {
    const client = new QuicConnection({ role: 'client', crypto: nodeCrypto, remote: SERVER_ADDRESS, now: 0, tls: (tp) => new FakeTlsClient(tp, {}) });
    const result = demux.receiveDatagram(client.datagramsToSend(0)[0]!.data, { address: '198.51.100.7', port: 1000 + i }, 0);
    results.push(result.kind === 'drop' ? result.reason : result.kind);
  }
  assert.deepEqual(results, ['connection', 'connection', 'connection', 'too many handshakes from this address', 'too many handshakes from this address']);
  const other = new QuicConnection({ role: 'client', crypto: nodeCrypto, remote: SERVER_ADDRESS, now: 0, tls: (tp) => new FakeTlsClient(tp, {}) });
  assert.equal(demux.receiveDatagram(other.datagramsToSend(0)[0]!.data, { address: '198.51.100.8', port: 1 }, 0).kind, 'connection');
});

test('stateless reset: a restarted server (same key) resets a client whose connection it lost', () => {
  const key = patternBytes(32, 99);
  const world = new DemuxWorld({ staticKey: key });
  assert.ok(world.run(handshakeDone(world)));
  const restarted = new QuicServerDemux({ crypto: nodeCrypto, tls: (tp) => new FakeTlsServer(tp, {}), staticKey: key });
  const id = world.client.openStream(false);
  world.client.sendStreamData(id, patternBytes(100, 1), false);
  const [datagram] = world.client.datagramsToSend(world.now);
  const result = restarted.receiveDatagram(datagram!.data, CLIENT_ADDRESS, world.now);
  assert.equal(result.kind, 'reply');
  if (result.kind !== 'reply') return;
  assert.equal(result.reason, 'statelessReset');
  assert.ok(result.data.byteLength < datagram!.data.byteLength);
  world.client.receiveDatagram(result.data, SERVER_ADDRESS, world.now);
  assert.deepEqual(world.client.pollEvents().find((e) => e.type === 'connectionTerminated'), {
    type: 'connectionTerminated', code: 0, reason: 'stateless reset', application: false, byPeer: true,
  });
  // A tiny packet gets no reset (it could not be told apart from a reset itself).
  assert.equal(restarted.receiveDatagram(datagram!.data.subarray(0, 21), CLIENT_ADDRESS, world.now).kind, 'drop');
});
