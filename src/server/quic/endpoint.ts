/**
 * QuicEndpoint: the UDP driver that runs the sans-IO engines (src/quic, src/quic/tls, src/h3) over a node:dgram
 * socket. Datagrams go to QuicServerDemux; each connection touched in an event-loop turn is serviced once at the
 * end of the turn (events → HTTP/3 → datagrams out), so a burst of datagrams produces one batch of sends. One timer
 * per endpoint is armed from the earliest nextDeadline() of its connections (DeadlineQueue). Each connection's
 * HTTP/3 events go to the handler `onConnection` returns (the server core's h3 transport).
 *
 * The socket is the endpoint's own, or under `httpsd --workers N` the supervisor's, relayed by connection ID
 * (./relay.ts): the endpoint then tells the relay which connection IDs are its own.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { nodeCrypto, signingKeyFrom } from '../../crypto/node.js';
import { H3Connection, H3ErrorCode } from '../../h3/index.js';
import type { H3Event, H3Limits } from '../../h3/index.js';
import { toHex } from '../../quic/buffer.js';
import { peekDestinationCid } from '../../quic/packet.js';
import { QuicServerDemux } from '../../quic/index.js';
import type { PacketTrace, QuicConnection, QuicEvent, QuicLimits } from '../../quic/index.js';
import { TlsServer } from '../../quic/tls/index.js';
import type { CertificateSelection } from '../../quic/tls/index.js';
import { DeadlineQueue } from './deadlines.js';
import { formatPacket } from './trace.js';
import { bindDatagramSocket, type DatagramSocket, type RemoteAddress } from './socket.js';

/** A certificate chain (PEM, leaf first) and its private key (PEM), optionally bound to server names. */
export interface EndpointCertificate {
  cert: string;
  key: string;
  /** SNI names this certificate answers (exact, or `*.example.com`); absent: the default certificate. */
  serverNames?: string[];
}

/** One QUIC connection as the server core sees it: its HTTP/3 engine, its addresses, and a way to have output sent. */
export interface EndpointConnection {
  readonly h3: H3Connection;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Application output was handed to h3: service the connection at the end of this turn. */
  wake(): void;
}

/** Receives one connection's HTTP/3 events (the h3 transport, src/server/transports/h3.ts). */
export interface ConnectionHandler {
  event(event: H3Event): void;
  /** The QUIC handshake completed (RFC 9001 §4.1.1): what TLS negotiated. Requests before it came in 0-RTT. */
  handshakeComplete?(facts: { alpn: string; serverName?: string; cipher?: string; resumed: boolean }): void;
  /** The QUIC connection is closed: nothing more will be sent or received. */
  closed(): void;
}

export interface QuicEndpointOptions {
  host?: string;
  port?: number;
  type?: 'udp4' | 'udp6';
  /** Fixed certificates (SNI by `serverNames`); or `selectCertificate`, which wins when both are given. */
  certificates?: EndpointCertificate[];
  /** Picks the certificate per ClientHello (the server's TLS provider: SNI, reloads); undefined refuses it. */
  selectCertificate?: (serverName: string | undefined) => CertificateSelection | undefined;
  /** Serves each connection (the server core's h3 transport). */
  onConnection: (connection: EndpointConnection) => ConnectionHandler;
  /** ALPN protocols offered, server preference. Default ['h3']. */
  alpn?: string[];
  /** Append NSS key-log lines (SSLKEYLOGFILE format) to this file (created 0600). */
  keyLogFile?: string;
  /** One line per QUIC packet in and out, with its frames (--trace-quic), prefixed with the peer's address. */
  traceQuic?: (line: string) => void;
  retry?: 'auto' | 'always' | 'never';
  /** Accept 0-RTT from resumed clients (replayable: RFC 8470). Default false. */
  earlyData?: boolean;
  /** 32-byte session-ticket key; random per endpoint when omitted (resumption within this process only). */
  ticketKey?: Uint8Array;
  staticKey?: Uint8Array;
  limits?: Partial<QuicLimits>;
  h3Limits?: Partial<H3Limits>;
  congestionControl?: 'newreno' | 'cubic';
}

interface Session {
  readonly quic: QuicConnection;
  readonly h3: H3Connection;
  handshakeComplete: boolean;
  lastRemote: string;
  handler: ConnectionHandler;
  /** Connection IDs announced to a relaying socket (hex), withdrawn when the connection closes. */
  readonly routes: Set<string>;
}

export class QuicEndpoint {
  private readonly socket: DatagramSocket;
  private readonly demux: QuicServerDemux;
  private readonly sessions = new Map<QuicConnection, Session>();
  private readonly deadlines = new DeadlineQueue<QuicConnection>();
  private readonly dirty = new Set<QuicConnection>();
  private keyLogFd: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerAt: number | undefined;
  private flushScheduled = false;
  private closed = false;
  /** Counters for tests and the performance notes. */
  readonly stats = {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    connections: 0,
    handshakes: 0,
    resumed: 0,
    requests: 0,
    /** Requests whose HEADERS arrived before the handshake completed (0-RTT). */
    earlyRequests: 0,
    retries: 0,
    versionNegotiations: 0,
    statelessResets: 0,
    /** Datagrams of a known connection from a new address (NAT rebinding or migration). */
    pathChanges: 0,
  };

  private constructor(private readonly options: QuicEndpointOptions, socket: DatagramSocket) {
    this.socket = socket;
    if (options.keyLogFile !== undefined) this.keyLogFd = openKeyLog(options.keyLogFile);
    const selectCertificate = options.selectCertificate ?? certificateSelector(options.certificates ?? []);
    // Under a relay every worker shares the supervisor's keys: a Retry token or a ticket from one opens in another.
    const ticketKey = options.ticketKey ?? socket.shared?.ticketKey ?? nodeCrypto.randomBytes(32);
    const staticKey = options.staticKey ?? socket.shared?.staticKey;
    const alpn = options.alpn ?? ['h3'];
    const traceQuic = options.traceQuic;
    this.demux = new QuicServerDemux({
      crypto: nodeCrypto,
      tls: (transportParameters) =>
        new TlsServer({
          crypto: nodeCrypto,
          selectCertificate,
          alpn,
          transportParameters,
          now: Date.now,
          ticketKey,
          ...(options.earlyData ? { earlyData: { maxSize: 0xffffffff } } : {}),
        }),
      limits: { ...options.limits },
      ...(options.retry ? { retry: options.retry } : {}),
      ...(staticKey ? { staticKey } : {}),
      ...(this.keyLogFd !== undefined ? { keyLog: (line: string) => this.writeKeyLog(line) } : {}),
      ...(options.congestionControl ? { congestionControl: options.congestionControl } : {}),
      ...(traceQuic ? { onPacket: (quic: QuicConnection, packet: PacketTrace) => traceQuic(formatPacket(peerOf(quic.currentRemote), packet)) } : {}),
    });
    socket.onMessage((message, remote) => this.onMessage(message, remote));
  }

  /** Binds the UDP socket and starts serving. */
  static async listen(options: QuicEndpointOptions): Promise<QuicEndpoint> {
    const type = options.type ?? (options.host?.includes(':') ? 'udp6' : 'udp4');
    const socket = await bindDatagramSocket(type, options.host ?? (type === 'udp6' ? '::1' : '127.0.0.1'), options.port ?? 0);
    return new QuicEndpoint(options, socket);
  }

  get port(): number {
    return this.socket.address().port;
  }
  get address(): { address: string; port: number } {
    return this.socket.address();
  }
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Graceful shutdown: GOAWAY on every connection (RFC 9114 §5.2); requests already accepted complete. */
  shutdown(): void {
    if (this.closed) return;
    this.socket.drain?.();
    for (const session of this.sessions.values()) {
      if (!session.quic.isClosed) session.h3.shutdown();
      this.markDirty(session.quic);
    }
  }

  /** Closes every connection (H3_NO_ERROR), sends the closes, then the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const session of this.sessions.values()) {
      if (!session.quic.isClosed) session.h3.close(H3ErrorCode.H3_NO_ERROR, 'server shutting down');
      this.service(session, now());
    }
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const session of this.sessions.values()) session.handler.closed();
    this.sessions.clear();
    await this.socket.close();
    if (this.keyLogFd !== undefined) closeSync(this.keyLogFd);
    this.keyLogFd = undefined;
  }

  private onMessage(message: Uint8Array, remote: RemoteAddress): void {
    if (this.closed) return;
    this.stats.datagramsIn++;
    this.stats.bytesIn += message.byteLength;
    const result = this.demux.receiveDatagram(message, { address: remote.address, port: remote.port }, now());
    if (result.kind === 'reply') {
      if (result.reason === 'retry') this.stats.retries++;
      else if (result.reason === 'versionNegotiation') this.stats.versionNegotiations++;
      else this.stats.statelessResets++;
      this.send(result.data, remote.port, remote.address);
      return;
    }
    if (result.kind === 'drop') return;
    const source = `${remote.address}|${remote.port}`;
    if (result.created) this.open(result.connection, source, message);
    else {
      const session = this.sessions.get(result.connection);
      if (session && session.lastRemote !== source) {
        session.lastRemote = source;
        this.stats.pathChanges++;
      }
    }
    this.markDirty(result.connection);
  }

  private open(quic: QuicConnection, source: string, firstDatagram: Uint8Array): void {
    const separator = source.lastIndexOf('|');
    const remoteAddress = source.slice(0, separator);
    const remotePort = Number(source.slice(separator + 1));
    const h3 = new H3Connection(quic, {
      role: 'server',
      limits: { ...this.options.h3Limits },
    });
    const local = this.socket.address();
    const wake = () => {
      if (this.sessions.get(quic) === session) this.markDirty(quic);
    };
    const handler = this.options.onConnection({ h3, remoteAddress, remotePort, localAddress: local.address, localPort: local.port, wake });
    const session: Session = { quic, h3, handshakeComplete: false, lastRemote: source, handler, routes: new Set() };
    this.sessions.set(quic, session);
    this.stats.connections++;
    if (this.socket.route !== undefined) {
      // The client's Initials (and 0-RTT) keep the DCID it chose until it hears from us; later packets carry ours.
      const clientCid = peekDestinationCid(firstDatagram, 0);
      this.announceRoutes(session, [...(clientCid ? [clientCid] : []), ...quic.localConnectionIds], []);
    }
  }

  /** Under a relay: the supervisor routes these connection IDs here (announced before any packet that carries them). */
  private announceRoutes(session: Session, added: Uint8Array[], removed: Uint8Array[]): void {
    const add = added.map(toHex).filter((cid) => !session.routes.has(cid));
    const remove = removed.map(toHex).filter((cid) => session.routes.has(cid));
    for (const cid of add) session.routes.add(cid);
    for (const cid of remove) session.routes.delete(cid);
    if (add.length > 0 || remove.length > 0) this.socket.route?.(add, remove);
  }

  private markDirty(quic: QuicConnection): void {
    this.dirty.add(quic);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** End of the event-loop turn: service every connection that received input or application output. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const time = now();
    const batch = [...this.dirty];
    this.dirty.clear();
    for (const quic of batch) {
      const session = this.sessions.get(quic);
      if (session) this.service(session, time);
    }
    this.armTimer();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = undefined;
    if (this.closed) return;
    const time = now();
    for (const quic of this.deadlines.due(time)) {
      const session = this.sessions.get(quic);
      if (!session) continue;
      quic.onTimeout(time);
      this.service(session, time);
    }
    this.armTimer();
  }

  private armTimer(): void {
    const at = this.deadlines.peek();
    if (at === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === undefined) return;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, Math.ceil(at - now())));
  }

  /** Events → HTTP/3 → application; then the connection's datagrams; then its next deadline. */
  private service(session: Session, time: number): void {
    const { quic, h3 } = session;
    for (let rounds = 0; rounds < 16; rounds++) {
      const events: QuicEvent[] = quic.pollEvents();
      if (events.length > 0) this.demux.observe(quic, events);
      for (const event of events) {
        if (event.type === 'handshakeComplete') {
          session.handshakeComplete = true;
          session.handler?.handshakeComplete?.(event);
          this.stats.handshakes++;
          if (event.resumed) this.stats.resumed++;
        } else if (this.socket.route !== undefined && (event.type === 'connectionIdIssued' || event.type === 'connectionIdRetired')) {
          // Before the datagrams that carry NEW_CONNECTION_ID: the relay learns a CID before the peer can use it.
          this.announceRoutes(session, event.type === 'connectionIdIssued' ? [event.connectionId] : [], event.type === 'connectionIdRetired' ? [event.connectionId] : []);
        }
      }
      const h3Events = [...h3.handleEvents(events), ...h3.pollEvents()];
      if (events.length === 0 && h3Events.length === 0) break;
      for (const event of h3Events) this.onH3Event(session, event);
    }
    for (const datagram of quic.datagramsToSend(time)) this.send(datagram.data, datagram.remote.port, datagram.remote.address);
    if (quic.isClosed) {
      this.deadlines.forget(quic);
      this.sessions.delete(quic);
      session.handler.closed();
      this.demux.sweep();
      if (session.routes.size > 0) this.socket.route?.([], [...session.routes]);
      return;
    }
    this.deadlines.schedule(quic, quic.nextDeadline());
  }

  private onH3Event(session: Session, event: H3Event): void {
    if (event.type === 'request') {
      this.stats.requests++;
      if (!session.handshakeComplete) this.stats.earlyRequests++;
    }
    session.handler.event(event);
  }

  private send(data: Uint8Array, port: number, address: string): void {
    this.stats.datagramsOut++;
    this.stats.bytesOut += data.byteLength;
    this.socket.send(data, port, address);
  }

  private writeKeyLog(line: string): void {
    if (this.keyLogFd === undefined) return;
    try {
      // Synchronous, O_APPEND, one line per write: whole lines even with the TCP listener writing the same file.
      writeSync(this.keyLogFd, `${line}\n`);
    } catch {
      // A full disk stops key logging, never the connection.
      closeSync(this.keyLogFd);
      this.keyLogFd = undefined;
    }
  }
}

function now(): number {
  return performance.now();
}

/** The peer as the HTTP/2 trace shows it too: `[127.0.0.1:53012] recv …`. */
function peerOf(remote: RemoteAddress): string {
  return `${remote.address}:${remote.port}`;
}

function openKeyLog(path: string): number {
  const fd = openSync(path, 'a', 0o600);
  try {
    // The file holds session secrets: tighten an existing file too (as the TCP listener's key log does).
    fchmodSync(fd, 0o600);
  } catch {
    // Not ours to chmod: it still works.
  }
  return fd;
}

/** PEM blocks of one kind, decoded to DER. */
export function pemBlocks(pem: string, label = 'CERTIFICATE'): Uint8Array[] {
  const pattern = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`, 'g');
  return [...pem.matchAll(pattern)].map((match) => new Uint8Array(Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64')));
}

/** SNI selection (RFC 6066 §3): an exact name, then a one-label wildcard, then the default certificate. */
export function certificateSelector(certificates: EndpointCertificate[]): (serverName: string | undefined) => CertificateSelection | undefined {
  const loaded = certificates.map((certificate) => {
    const chain = pemBlocks(certificate.cert);
    if (chain.length === 0) throw new Error('certificate PEM holds no CERTIFICATE block');
    // Fails early on a key that does not belong to the leaf.
    if (!new X509Certificate(Buffer.from(chain[0]!)).checkPrivateKey(createPrivateKey(certificate.key))) {
      throw new Error('private key does not match the certificate');
    }
    return { selection: { chain, key: signingKeyFrom(createPrivateKey(certificate.key)) }, names: certificate.serverNames?.map((name) => name.toLowerCase()) };
  });
  const fallback = loaded.find((entry) => entry.names === undefined) ?? loaded[0];
  return (serverName) => {
    if (serverName !== undefined) {
      const name = serverName.toLowerCase();
      const wildcard = `*.${name.split('.').slice(1).join('.')}`;
      const match = loaded.find((entry) => entry.names?.includes(name)) ?? loaded.find((entry) => entry.names?.includes(wildcard));
      if (match) return match.selection;
    }
    return fallback?.selection;
  };
}
