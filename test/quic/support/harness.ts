/**
 * Drives a client and a server QuicConnection against each other in memory, on a simulated clock, through a
 * deterministic seeded channel that can drop (in bursts), reorder, duplicate, corrupt and black-hole datagrams.
 * No wall-clock time and no sockets: a run is a pure function of the seed.
 */
import { nodeCrypto } from '../../../src/crypto/node.js';
import { QuicConnection } from '../../../src/quic/connection.js';
import { BufferWriter, concatBytes } from '../../../src/quic/buffer.js';
import { encodeFrame } from '../../../src/quic/frames.js';
import type { Frame } from '../../../src/quic/frames.js';
import type { QuicLimits } from '../../../src/quic/limits.js';
import { sealAsClient } from './inject.js';
import { encodeShortHeader, packetNumberLength } from '../../../src/quic/packet.js';
import { protectPacket } from '../../../src/quic/protection.js';
import type { DirectionKeys } from '../../../src/quic/protection.js';
import type { QuicTls } from '../../../src/quic/tls-interface.js';
import type { PathAddress, QuicEvent } from '../../../src/quic/types.js';
import { FakeTlsClient, FakeTlsServer } from './fake-tls.js';
import type { FakeTlsOptions } from './fake-tls.js';

/** mulberry32: a tiny deterministic PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic pseudo-random bytes (the payloads the transfer tests compare). */
export function patternBytes(length: number, seed: number): Uint8Array {
  const random = prng(seed);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 4) {
    const value = (random() * 4294967296) >>> 0;
    out[i] = value & 0xff;
    if (i + 1 < length) out[i + 1] = (value >>> 8) & 0xff;
    if (i + 2 < length) out[i + 2] = (value >>> 16) & 0xff;
    if (i + 3 < length) out[i + 3] = value >>> 24;
  }
  return out;
}

export interface ChannelOptions {
  seed?: number;
  /** One-way delay, ms. */
  latency?: number;
  /** Extra random delay up to this many ms (reordering). */
  jitter?: number;
  /** Probability a datagram starts a loss burst. */
  loss?: number;
  /** Datagrams dropped per burst (1 = independent losses). */
  burst?: number;
  duplicate?: number;
  corrupt?: number;
  /** Datagrams sent while this returns true are dropped (black hole). */
  blackout?: (now: number) => boolean;
  /** Extra delay for one datagram (by direction and index) — targeted reordering. */
  delayIf?: (direction: 'toServer' | 'toClient', index: number) => number;
  /** Drop this datagram (by direction and index) — targeted tests. */
  dropIf?: (direction: 'toServer' | 'toClient', index: number, data: Uint8Array) => boolean;
  /**
   * A NAT in front of the client: what the server sends to any address but the client's current one is lost (a
   * rebinding makes the old mapping unreachable), the way test/quic/support/udp-relay.ts does over real UDP.
   */
  nat?: boolean;
}

/** A binary min-heap of datagrams in flight, ordered by arrival time then send order. */
class ArrivalQueue {
  private readonly items: InFlight[] = [];
  get size(): number {
    return this.items.length;
  }
  private less(a: InFlight, b: InFlight): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  push(item: InFlight): void {
    const items = this.items;
    items.push(item);
    for (let i = items.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(items[i]!, items[parent]!)) break;
      [items[i], items[parent]] = [items[parent]!, items[i]!];
      i = parent;
    }
  }
  peek(): InFlight | undefined {
    return this.items[0];
  }
  pop(): InFlight | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.less(items[left]!, items[smallest]!)) smallest = left;
        if (right < items.length && this.less(items[right]!, items[smallest]!)) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest]!, items[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

interface InFlight {
  at: number;
  seq: number;
  to: 'client' | 'server';
  data: Uint8Array;
  from: PathAddress;
}

export const CLIENT_ADDRESS: PathAddress = { address: '10.0.0.1', port: 4433 };
export const SERVER_ADDRESS: PathAddress = { address: '10.0.0.2', port: 443 };

export interface PairOptions {
  channel?: ChannelOptions;
  clientLimits?: Partial<QuicLimits>;
  serverLimits?: Partial<QuicLimits>;
  clientTls?: FakeTlsOptions;
  serverTls?: FakeTlsOptions;
  congestionControl?: 'newreno' | 'cubic';
  /** Client: receives session tickets (QuicConnectionOptions.sessionTicket). */
  sessionTicket?: (ticket: Uint8Array) => void;
  /** Real TLS engines instead of the fake: factories given each side's encoded transport parameters. */
  tls?: { client: (tp: Uint8Array) => QuicTls; server: (tp: Uint8Array) => QuicTls };
}

export class Pair {
  now = 1000;
  readonly client: QuicConnection;
  server: QuicConnection;
  clientAddress: PathAddress = CLIENT_ADDRESS;
  readonly clientEvents: QuicEvent[] = [];
  readonly serverEvents: QuicEvent[] = [];
  /** Bytes on the wire each way (after channel loss: what the receiver got). */
  readonly stats = { toServer: 0, toClient: 0, datagramsToServer: 0, datagramsToClient: 0, dropped: 0 };
  onClientEvent: (event: QuicEvent) => void = () => {};
  onServerEvent: (event: QuicEvent) => void = () => {};
  /** Every datagram the server sent, with the time (amplification checks). */
  readonly serverSent: { at: number; size: number }[] = [];
  readonly clientSent: { at: number; size: number }[] = [];
  private readonly queue = new ArrivalQueue();
  private seq = 0;
  private readonly random: () => number;
  private burstLeft = 0;
  private indices = { toServer: 0, toClient: 0 };

  constructor(private readonly options: PairOptions = {}) {
    this.random = prng(options.channel?.seed ?? 1);
    const odcid = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    this.client = new QuicConnection({
      role: 'client', crypto: nodeCrypto, remote: SERVER_ADDRESS, now: this.now, originalDestinationConnectionId: odcid,
      congestionControl: options.congestionControl ?? 'newreno',
      ...(options.sessionTicket ? { sessionTicket: options.sessionTicket } : {}),
      limits: options.clientLimits, tls: options.tls?.client ?? ((tp) => new FakeTlsClient(tp, options.clientTls ?? {})),
    });
    this.server = new QuicConnection({
      role: 'server', crypto: nodeCrypto, remote: CLIENT_ADDRESS, now: this.now, originalDestinationConnectionId: odcid,
      congestionControl: options.congestionControl ?? 'newreno',
      limits: options.serverLimits, tls: options.tls?.server ?? ((tp) => new FakeTlsServer(tp, options.serverTls ?? {})),
    });
  }

  private send(to: 'client' | 'server', data: Uint8Array, from: PathAddress): void {
    const c = this.options.channel ?? {};
    const direction = to === 'server' ? 'toServer' : 'toClient';
    const index = this.indices[direction]++;
    if (c.dropIf?.(direction, index, data)) {
      this.stats.dropped++;
      return;
    }
    if (c.blackout?.(this.now)) {
      this.stats.dropped++;
      return;
    }
    if (this.burstLeft > 0) {
      this.burstLeft--;
      this.stats.dropped++;
      return;
    }
    if (c.loss !== undefined && this.random() < c.loss) {
      this.burstLeft = (c.burst ?? 1) - 1;
      this.stats.dropped++;
      return;
    }
    let payload = data;
    if (c.corrupt !== undefined && this.random() < c.corrupt) {
      payload = data.slice();
      payload[Math.floor(this.random() * payload.byteLength)]! ^= 1 << Math.floor(this.random() * 8);
    }
    const copies = c.duplicate !== undefined && this.random() < c.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const at = this.now + (c.latency ?? 10) + (c.jitter ? this.random() * c.jitter : 0) + (c.delayIf?.(direction, index) ?? 0);
      this.queue.push({ at, seq: this.seq++, to, data: payload, from });
    }
  }

  /** Moves every datagram both endpoints want to send into the channel. */
  flush(): void {
    for (const { data, remote } of this.client.datagramsToSend(this.now)) {
      void remote;
      this.clientSent.push({ at: this.now, size: data.byteLength });
      this.send('server', data, this.clientAddress);
    }
    for (const { data, remote } of this.server.datagramsToSend(this.now)) {
      this.serverSent.push({ at: this.now, size: data.byteLength });
      if (this.options.channel?.nat && (remote.address !== this.clientAddress.address || remote.port !== this.clientAddress.port)) {
        this.stats.dropped++;
        continue;
      }
      this.send('client', data, SERVER_ADDRESS);
    }
  }

  private dispatch(): void {
    for (const event of this.client.pollEvents()) {
      this.clientEvents.push(event);
      this.onClientEvent(event);
    }
    for (const event of this.server.pollEvents()) {
      this.serverEvents.push(event);
      this.onServerEvent(event);
    }
  }

  /**
   * Runs until `done()` holds, nothing is left to happen, or `maxTime` ms of simulated time pass.
   * Returns true when done() held.
   */
  run(done: () => boolean, maxTime = 60_000, maxSteps = 2_000_000): boolean {
    const limit = this.now + maxTime;
    for (let step = 0; step < maxSteps; step++) {
      this.dispatch();
      this.flush();
      this.dispatch();
      if (done()) return true;
      let next = this.queue.peek()?.at ?? Number.POSITIVE_INFINITY;
      const clientDeadline = this.client.nextDeadline();
      const serverDeadline = this.server.nextDeadline();
      if (clientDeadline !== undefined) next = Math.min(next, clientDeadline);
      if (serverDeadline !== undefined) next = Math.min(next, serverDeadline);
      if (next === Number.POSITIVE_INFINITY || next > limit) return done();
      this.now = Math.max(this.now, next);
      while (this.queue.size > 0 && this.queue.peek()!.at <= this.now) {
        const item = this.queue.pop()!;
        if (item.to === 'server') {
          this.stats.toServer += item.data.byteLength;
          this.stats.datagramsToServer++;
          this.server.receiveDatagram(item.data, item.from, this.now);
        } else {
          this.stats.toClient += item.data.byteLength;
          this.stats.datagramsToClient++;
          this.client.receiveDatagram(item.data, item.from, this.now);
        }
      }
      if (clientDeadline !== undefined && clientDeadline <= this.now) this.client.onTimeout(this.now);
      if (serverDeadline !== undefined && serverDeadline <= this.now) this.server.onTimeout(this.now);
    }
    throw new Error('simulation did not settle');
  }

  handshake(maxTime = 60_000): boolean {
    return this.run(() => this.clientEvents.some((e) => e.type === 'handshakeComplete') && this.serverEvents.some((e) => e.type === 'handshakeComplete'), maxTime);
  }
}

/** Writes data to a stream respecting backpressure: continues on 'streamWritable'. */
export class StreamWriter {
  private offset = 0;
  constructor(
    private readonly connection: QuicConnection,
    readonly streamId: number,
    private readonly data: Uint8Array,
    private readonly chunk = 64 * 1024,
  ) {}

  get finished(): boolean {
    return this.offset >= this.data.byteLength;
  }

  pump(): void {
    while (this.offset < this.data.byteLength) {
      const end = Math.min(this.data.byteLength, this.offset + this.chunk);
      const more = this.connection.sendStreamData(this.streamId, this.data.subarray(this.offset, end), end === this.data.byteLength);
      this.offset = end;
      if (!more) return;
    }
  }
}

/** Collects stream data per stream, consuming it as it arrives (reopening flow-control windows). */
export class StreamCollector {
  readonly chunks = new Map<number, Uint8Array[]>();
  readonly ended = new Set<number>();
  readonly received = new Map<number, number>();
  constructor(private readonly connection: QuicConnection) {}

  handle(event: QuicEvent): void {
    if (event.type !== 'streamData') return;
    const list = this.chunks.get(event.streamId) ?? [];
    list.push(event.data.slice());
    this.received.set(event.streamId, (this.received.get(event.streamId) ?? 0) + event.data.byteLength);
    this.chunks.set(event.streamId, list);
    this.connection.consume(event.streamId, event.data.byteLength);
    if (event.end) this.ended.add(event.streamId);
  }

  bytes(streamId: number): Uint8Array {
    return concatBytes(this.chunks.get(streamId) ?? []);
  }
}

/**
 * Makes the server answer every client request stream (once its FIN arrives) with `size` pattern bytes (seed
 * `seed`), and collects what the client receives.
 */
export function serveDownloads(pair: Pair, size: number, seed: number): StreamCollector {
  const received = new StreamCollector(pair.client);
  const writers: StreamWriter[] = [];
  pair.onClientEvent = (event) => received.handle(event);
  pair.onServerEvent = (event) => {
    if (event.type === 'streamData') {
      pair.server.consume(event.streamId, event.data.byteLength);
      if (event.end) {
        const writer = new StreamWriter(pair.server, event.streamId, patternBytes(size, seed));
        writers.push(writer);
        writer.pump();
      }
    }
    if (event.type === 'streamWritable') writers.forEach((w) => w.pump());
  };
  return received;
}

/**
 * Seals `payload` (raw frame bytes) with the client's real 1-RTT keys and hands it to the server, as a hostile but
 * authenticated peer would. Returns the events the server produced.
 */
export function injectFromClient(pair: Pair, payload: Uint8Array | Frame[]): QuicEvent[] {
  pair.server.receiveDatagram(sealAsClient(pair.client, pair.server.localConnectionIds[0]!, payload), pair.clientAddress, pair.now);
  return pair.server.pollEvents();
}
