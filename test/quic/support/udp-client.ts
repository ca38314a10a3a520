/**
 * The project's own QUIC client (src/quic in the client role, the TLS 1.3 client of src/quic/tls, optionally the
 * HTTP/3 engine of src/h3 on top) over a real UDP socket: the attacker of test/attacks/h3-*.test.ts and the client
 * of the WebSocket-over-HTTP/3 tests. Besides behaving, it can do what no well-behaved client does: seal any frames
 * into a correctly protected 1-RTT packet (`inject`), or send raw datagrams from its socket (`sendRaw`).
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { nodeCrypto } from '../../../src/crypto/node.js';
import { H3Connection } from '../../../src/h3/index.js';
import type { H3ConnectionOptions, H3Event } from '../../../src/h3/index.js';
import { QuicConnection } from '../../../src/quic/connection.js';
import type { Frame } from '../../../src/quic/frames.js';
import type { QuicLimits } from '../../../src/quic/limits.js';
import type { QuicEvent } from '../../../src/quic/types.js';
import { TlsClient } from '../../../src/quic/tls/index.js';
import { sealAsClient } from './inject.js';

export interface UdpClientOptions {
  port: number;
  host?: string;
  /** Local address to send from (e.g. 127.0.0.2, so a flood does not share the well-behaved client's address). */
  localAddress?: string;
  alpn?: string[];
  limits?: Partial<QuicLimits>;
  /** Run the HTTP/3 engine on top (client role). */
  h3?: Omit<H3ConnectionOptions, 'role'> | true;
}

export interface Terminated {
  code: number;
  reason: string;
  application: boolean;
  byPeer: boolean;
}

/** The CID the client's connection currently sends to (private to the engine). */
interface ClientInternals {
  peerCids: { current?: { cid: Uint8Array } };
}

export class UdpQuicClient {
  readonly quic: QuicConnection;
  readonly h3: H3Connection | undefined;
  readonly quicEvents: QuicEvent[] = [];
  readonly h3Events: H3Event[] = [];
  /** Bytes of every datagram the server sent us, and how many. */
  bytesReceived = 0;
  datagramsReceived = 0;
  terminated: Terminated | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly listeners = new Set<() => void>();
  private notifying = false;

  private constructor(
    private readonly socket: Socket,
    private readonly remote: { address: string; port: number },
    options: UdpClientOptions,
  ) {
    this.quic = new QuicConnection({
      role: 'client',
      crypto: nodeCrypto,
      tls: (transportParameters) => new TlsClient({
        crypto: nodeCrypto,
        serverName: 'localhost',
        alpn: options.alpn ?? ['h3'],
        transportParameters,
        // An attacker and a test client: the server's identity is not what these tests are about.
        verifyCertificate: () => true,
      }),
      remote,
      now: performance.now(),
      ...(options.limits ? { limits: options.limits } : {}),
    });
    if (options.h3 !== undefined) this.h3 = new H3Connection(this.quic, { ...(options.h3 === true ? {} : options.h3), role: 'client' });
    socket.on('message', (message) => {
      this.bytesReceived += message.byteLength;
      this.datagramsReceived++;
      if (this.closed) return;
      this.quic.receiveDatagram(message, remote, performance.now());
      this.service();
    });
  }

  static async connect(options: UdpClientOptions): Promise<UdpQuicClient> {
    const socket = await bindUdp(options.localAddress ?? '127.0.0.1');
    const client = new UdpQuicClient(socket, { address: options.host ?? '127.0.0.1', port: options.port }, options);
    client.service();
    return client;
  }

  /** The first flight only (a ClientHello in a padded Initial), for floods that never finish a handshake. */
  firstFlight(): Uint8Array[] {
    return this.quic.datagramsToSend(performance.now()).map((datagram) => datagram.data);
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  get handshakeComplete(): boolean {
    return this.quicEvents.some((event) => event.type === 'handshakeComplete');
  }

  /** Processes events, sends what is due, re-arms the timer. */
  service(): void {
    if (this.closed) return;
    const now = performance.now();
    const events = this.quic.pollEvents();
    this.quicEvents.push(...events);
    for (const event of events) {
      if (event.type === 'connectionTerminated' && this.terminated === undefined) this.terminated = { ...event };
    }
    if (this.h3 !== undefined) this.takeH3Events([...this.h3.handleEvents(events), ...this.h3.pollEvents()]);
    for (const datagram of this.quic.datagramsToSend(now)) this.socket.send(datagram.data, this.remote.port, this.remote.address);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const deadline = this.quic.nextDeadline();
    if (deadline !== undefined && !this.quic.isClosed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.quic.onTimeout(performance.now());
        this.service();
      }, Math.max(0, Math.ceil(deadline - now)));
    }
    // Not re-entered: a condition that sends (and so services) must not be evaluated again inside itself.
    if (this.notifying) return;
    this.notifying = true;
    try {
      for (const listener of [...this.listeners]) listener();
    } finally {
      this.notifying = false;
    }
  }

  /** True when the server's MAX_STREAMS lets us open another bidirectional stream. */
  get canOpenStream(): boolean {
    const streams = this.quic as unknown as { peerMaxStreams: { bidi: number }; localStreamsOpened: { bidi: number } };
    return streams.peerMaxStreams.bidi > streams.localStreamsOpened.bidi;
  }

  /** Keeps the events (copying DATA, whose view is only valid now) and reopens flow control for what arrived. */
  private takeH3Events(events: H3Event[]): void {
    for (const event of events) {
      if (event.type === 'data') {
        this.h3!.consume(event.streamId, event.data.byteLength);
        this.h3Events.push({ ...event, data: event.data.slice() });
      } else this.h3Events.push(event);
    }
  }

  /** HTTP/3 GET (or `method`) of `path`: resolves with the status and the body as text. */
  async request(path: string, method = 'GET', timeoutMs = 10_000): Promise<{ status: number; body: string }> {
    const h3 = this.h3;
    if (h3 === undefined) throw new Error('no HTTP/3 engine on this client');
    const streamId = h3.sendRequest([':method', method, ':scheme', 'https', ':authority', 'localhost', ':path', path], true);
    this.service();
    const ended = (): boolean => this.h3Events.some((e) =>
      'streamId' in e && e.streamId === streamId && (e.type === 'streamEnded' || e.type === 'streamReset' || (e.type === 'data' && e.endStream) || (e.type === 'response' && e.endStream)))
      || this.terminated !== undefined;
    await this.waitFor(ended, `the response to ${method} ${path}`, timeoutMs);
    const mine = this.h3Events.filter((e) => 'streamId' in e && e.streamId === streamId);
    const response = mine.find((e) => e.type === 'response');
    if (response === undefined || response.type !== 'response') throw new Error(`no response to ${method} ${path}: ${JSON.stringify(mine.map((e) => e.type))} ${JSON.stringify(this.terminated)}`);
    const body = Buffer.concat(mine.flatMap((e) => (e.type === 'data' ? [e.data] : []))).toString('utf8');
    return { status: response.status, body };
  }

  /** Resolves when `condition` holds (checked after every datagram and timer), or rejects after `timeoutMs`. */
  waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const listener = (): void => {
        if (!condition()) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}${this.terminated ? ` (terminated: ${JSON.stringify(this.terminated)})` : ''}`));
      }, timeoutMs);
      this.listeners.add(listener);
    });
  }

  handshake(timeoutMs = 10_000): Promise<void> {
    return this.waitFor(() => this.handshakeComplete || this.terminated !== undefined, 'the handshake', timeoutMs).then(() => {
      if (!this.handshakeComplete) throw new Error(`handshake failed: ${JSON.stringify(this.terminated)}`);
    });
  }

  /** Resolves with how the server closed the connection (CONNECTION_CLOSE it sent us). */
  async closedByServer(timeoutMs = 10_000): Promise<Terminated> {
    await this.waitFor(() => this.terminated !== undefined, 'CONNECTION_CLOSE from the server', timeoutMs);
    return this.terminated!;
  }

  /** Seals `frames` (or raw frame bytes) into one 1-RTT packet under the client's current keys and sends it. */
  inject(frames: Frame[] | Uint8Array): void {
    this.sendRaw(this.seal(frames));
  }

  /** The 1-RTT datagram `inject` would send, without sending it. */
  seal(frames: Frame[] | Uint8Array): Uint8Array {
    return sealAsClient(this.quic, (this.quic as unknown as ClientInternals).peerCids.current!.cid, frames);
  }

  sendRaw(datagram: Uint8Array): void {
    this.socket.send(datagram, this.remote.port, this.remote.address);
  }

  /** Closes politely (CONNECTION_CLOSE, so the server forgets the connection at once), then the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.terminated === undefined && !this.quic.isClosed) {
      this.quic.close(0x100, 'done', true); // H3_NO_ERROR
      // Sent before the socket closes (a send still queued when it closes is lost).
      const sends = this.quic.datagramsToSend(performance.now()).map((datagram) =>
        new Promise<void>((resolve) => this.socket.send(datagram.data, this.remote.port, this.remote.address, () => resolve())));
      await Promise.all(sends);
    }
    if (this.timer) clearTimeout(this.timer);
    this.listeners.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

export async function bindUdp(address = '127.0.0.1'): Promise<Socket> {
  const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}
