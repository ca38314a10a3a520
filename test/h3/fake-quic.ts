// An in-memory pair of fake QUIC transports: a test double for the layer below HTTP/3 (not the thing under test).
// Each side's sendStreamData/resetStream/stopSending/close become QUIC events in the other side's inbox; stream ids
// follow RFC 9000 §2.1; a per-stream high-water mark on bytes in flight drives 'streamWritable'; consume() calls are
// counted so tests can check that every received byte is returned to flow control.
import { H3Connection } from '../../src/h3/connection.js';
import type { H3Transport, TransportEvent } from '../../src/h3/transport.js';
import type { H3ConnectionOptions, H3Event } from '../../src/h3/types.js';

export class FakeQuic implements H3Transport {
  peer!: FakeQuic;
  readonly inbox: TransportEvent[] = [];
  private nextBidi: number;
  private nextUni: number;
  private readonly opened = new Set<number>();
  private readonly inFlight = new Map<number, number>();
  private readonly overHighWater = new Set<number>();
  /** Bytes delivered to this side per stream, and bytes this side consumed. */
  readonly received = new Map<number, number>();
  readonly consumed = new Map<number, number>();
  /** What this side did to streams and the connection (for assertions). */
  readonly resets: Array<{ streamId: number; code: number }> = [];
  readonly stopSendings: Array<{ streamId: number; code: number }> = [];
  readonly finished = new Set<number>();
  closed: { code: number; reason: string } | null = null;

  constructor(
    readonly role: 'client' | 'server',
    readonly highWaterMark = 64 * 1024,
  ) {
    this.nextBidi = role === 'client' ? 0 : 1;
    this.nextUni = role === 'client' ? 2 : 3;
  }

  static pair(highWaterMark?: number): [FakeQuic, FakeQuic] {
    const client = new FakeQuic('client', highWaterMark);
    const server = new FakeQuic('server', highWaterMark);
    client.peer = server;
    server.peer = client;
    return [client, server];
  }

  openStream(unidirectional: boolean): number {
    const id = unidirectional ? this.nextUni : this.nextBidi;
    if (unidirectional) this.nextUni += 4;
    else this.nextBidi += 4;
    return id;
  }

  sendStreamData(streamId: number, data: Uint8Array, end: boolean): boolean {
    if (this.closed !== null) return true;
    if (!this.opened.has(streamId)) {
      this.opened.add(streamId);
      this.peer.inbox.push({ type: 'streamOpened', streamId });
    }
    if (end) this.finished.add(streamId);
    this.peer.inbox.push({ type: 'streamData', streamId, data: data.slice(), end });
    const inFlight = (this.inFlight.get(streamId) ?? 0) + data.length;
    this.inFlight.set(streamId, inFlight);
    if (inFlight > this.highWaterMark) {
      this.overHighWater.add(streamId);
      return false;
    }
    return true;
  }

  consume(streamId: number, bytes: number): void {
    this.consumed.set(streamId, (this.consumed.get(streamId) ?? 0) + bytes);
  }

  resetStream(streamId: number, code: number): void {
    this.resets.push({ streamId, code });
    this.peer.inbox.push({ type: 'streamReset', streamId, code, finalSize: 0 });
  }

  stopSending(streamId: number, code: number): void {
    this.stopSendings.push({ streamId, code });
    this.peer.inbox.push({ type: 'stopSending', streamId, code });
  }

  close(code: number, reason: string, application: boolean): void {
    if (this.closed !== null) return;
    this.closed = { code, reason };
    this.peer.inbox.push({ type: 'connectionTerminated', code, reason, application, byPeer: true });
  }

  /** The events waiting for this side; delivering them lowers the peer's in-flight counts. */
  pollEvents(): TransportEvent[] {
    const events = this.inbox.splice(0);
    for (const event of events) {
      if (event.type !== 'streamData') continue;
      this.received.set(event.streamId, (this.received.get(event.streamId) ?? 0) + event.data.length);
      this.peer.delivered(event.streamId, event.data.length);
    }
    return events;
  }

  private delivered(streamId: number, bytes: number): void {
    const inFlight = (this.inFlight.get(streamId) ?? 0) - bytes;
    this.inFlight.set(streamId, inFlight);
    if (inFlight <= this.highWaterMark && this.overHighWater.delete(streamId)) {
      this.inbox.push({ type: 'streamWritable', streamId });
    }
  }
}

/** One side of an HTTP/3 test connection: its fake transport, its engine and every event the engine produced. */
export interface Side {
  quic: FakeQuic;
  h3: H3Connection;
  events: H3Event[];
}

export function connectedPair(
  serverOptions: Partial<H3ConnectionOptions> = {},
  clientOptions: Partial<H3ConnectionOptions> = {},
  highWaterMark?: number,
): { client: Side; server: Side } {
  const [clientQuic, serverQuic] = FakeQuic.pair(highWaterMark);
  const client: Side = { quic: clientQuic, h3: new H3Connection(clientQuic, { ...clientOptions, role: 'client' }), events: [] };
  const server: Side = { quic: serverQuic, h3: new H3Connection(serverQuic, { ...serverOptions, role: 'server' }), events: [] };
  clientQuic.inbox.push({ type: 'handshakeComplete', alpn: 'h3', resumed: false });
  serverQuic.inbox.push({ type: 'handshakeComplete', alpn: 'h3', resumed: false });
  pump(client, server);
  return { client, server };
}

/**
 * Delivers events both ways until nothing moves. `onEvent` may answer (send calls); its sends are delivered in the
 * same loop. Bounded: a livelock fails the test instead of hanging it.
 */
export function pump(a: Side, b: Side, onEvent?: (side: Side, event: H3Event) => void): void {
  for (let round = 0; round < 10000; round++) {
    let moved = false;
    for (const side of [a, b]) {
      const incoming = side.quic.pollEvents();
      const produced = [...side.h3.pollEvents(), ...(incoming.length > 0 ? side.h3.handleEvents(incoming) : [])];
      if (incoming.length > 0 || produced.length > 0) moved = true;
      for (const event of produced) {
        side.events.push(event);
        onEvent?.(side, event);
      }
    }
    if (!moved) return;
  }
  throw new Error('pump: no quiescence after 10000 rounds');
}

/** Events of one type. */
export function eventsOf<T extends H3Event['type']>(side: Side, type: T): Array<Extract<H3Event, { type: T }>> {
  return side.events.filter((e): e is Extract<H3Event, { type: T }> => e.type === type);
}
