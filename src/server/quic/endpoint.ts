/**
 * QuicEndpoint: the UDP driver that runs the sans-IO engines (src/quic, src/quic/tls, src/h3) over a node:dgram
 * socket. Datagrams go to QuicServerDemux; each connection touched in an event-loop turn is serviced once at the
 * end of the turn (events → HTTP/3 → datagrams out), so a burst of datagrams produces one batch of sends. One timer
 * per endpoint is armed from the earliest nextDeadline() of its connections (DeadlineQueue).
 *
 * The request API (`onRequest`) is deliberately small and internal: the server core will replace it with its
 * fetch-handler dispatch.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { nodeCrypto, signingKeyFrom } from '../../crypto/node.js';
import { H3Connection, H3ErrorCode } from '../../h3/index.js';
import type { FieldList, H3Event, H3Limits, RequestPseudoHeaders } from '../../h3/index.js';
import { QuicServerDemux } from '../../quic/index.js';
import type { QuicConnection, QuicEvent, QuicLimits } from '../../quic/index.js';
import { TlsServer } from '../../quic/tls/index.js';
import type { CertificateSelection } from '../../quic/tls/index.js';
import { DeadlineQueue } from './deadlines.js';

/** A certificate chain (PEM, leaf first) and its private key (PEM), optionally bound to server names. */
export interface EndpointCertificate {
  cert: string;
  key: string;
  /** SNI names this certificate answers (exact, or `*.example.com`); absent: the default certificate. */
  serverNames?: string[];
}

/** Sends the response; `body` is written with QUIC backpressure. Call once. */
export type Respond = (status: number, fields: FieldList, body?: Uint8Array | string) => void;

/** Internal request hook (the server core replaces it): `body` is the request body as a byte stream. */
export type RequestHandler = (streamId: number, pseudo: RequestPseudoHeaders, fields: FieldList, body: Readable, respond: Respond) => void;

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
  certificates: EndpointCertificate[];
  /** Serves each connection through the server core; when given, onRequest is not used. */
  onConnection?: (connection: EndpointConnection) => ConnectionHandler;
  /** The minimal request hook (interop harness): used when onConnection is absent. */
  onRequest?: RequestHandler;
  /** ALPN protocols offered, server preference. Default ['h3']. */
  alpn?: string[];
  /** Append NSS key-log lines (SSLKEYLOGFILE format) to this file. */
  keyLogFile?: string;
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

/** Response bytes waiting for QUIC to accept them (sendData returned false). */
interface PendingBody {
  data: Uint8Array;
  offset: number;
}

interface Session {
  readonly quic: QuicConnection;
  readonly h3: H3Connection;
  readonly bodies: Map<number, Readable>;
  readonly pending: Map<number, PendingBody>;
  handshakeComplete: boolean;
  lastRemote: string;
  handler: ConnectionHandler | undefined;
}

/** How much response body is handed to QUIC per call: QUIC's high-water mark decides when to stop. */
const WRITE_CHUNK = 64 * 1024;
const textEncoder = new TextEncoder();

export class QuicEndpoint {
  private readonly socket: Socket;
  private readonly demux: QuicServerDemux;
  private readonly sessions = new Map<QuicConnection, Session>();
  private readonly deadlines = new DeadlineQueue<QuicConnection>();
  private readonly dirty = new Set<QuicConnection>();
  private readonly keyLog: WriteStream | undefined;
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

  private constructor(private readonly options: QuicEndpointOptions, socket: Socket) {
    this.socket = socket;
    this.keyLog = options.keyLogFile === undefined ? undefined : createWriteStream(options.keyLogFile, { flags: 'a' });
    const selectCertificate = certificateSelector(options.certificates);
    const ticketKey = options.ticketKey ?? nodeCrypto.randomBytes(32);
    const alpn = options.alpn ?? ['h3'];
    const keyLog = this.keyLog;
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
      ...(options.staticKey ? { staticKey: options.staticKey } : {}),
      ...(keyLog ? { keyLog: (line: string) => keyLog.write(`${line}\n`) } : {}),
      ...(options.congestionControl ? { congestionControl: options.congestionControl } : {}),
    });
    socket.on('message', (message, remote) => this.onMessage(message, remote));
    // A send error (e.g. ICMP unreachable reported on a later send) concerns one peer, never the endpoint.
    socket.on('error', () => {});
  }

  /** Binds the UDP socket and starts serving. */
  static async listen(options: QuicEndpointOptions): Promise<QuicEndpoint> {
    const type = options.type ?? (options.host?.includes(':') ? 'udp6' : 'udp4');
    const socket = createSocket({ type, reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(options.port ?? 0, options.host ?? (type === 'udp6' ? '::1' : '127.0.0.1'), () => {
        socket.off('error', reject);
        resolve();
      });
    });
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
    for (const session of this.sessions.values()) {
      for (const body of session.bodies.values()) body.destroy();
      session.handler?.closed();
    }
    this.sessions.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    if (this.keyLog) await new Promise<void>((resolve) => this.keyLog!.end(() => resolve()));
  }

  private onMessage(message: Buffer, remote: RemoteInfo): void {
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
    if (result.created) this.open(result.connection, source);
    else {
      const session = this.sessions.get(result.connection);
      if (session && session.lastRemote !== source) {
        session.lastRemote = source;
        this.stats.pathChanges++;
      }
    }
    this.markDirty(result.connection);
  }

  private open(quic: QuicConnection, source: string): void {
    const h3 = new H3Connection(quic, { role: 'server', limits: { ...this.options.h3Limits } });
    const session: Session = { quic, h3, bodies: new Map(), pending: new Map(), handshakeComplete: false, lastRemote: source, handler: undefined };
    this.sessions.set(quic, session);
    this.stats.connections++;
    const onConnection = this.options.onConnection;
    if (onConnection !== undefined) {
      const separator = source.lastIndexOf('|');
      const local = this.socket.address();
      session.handler = onConnection({
        h3,
        remoteAddress: source.slice(0, separator),
        remotePort: Number(source.slice(separator + 1)),
        localAddress: local.address,
        localPort: local.port,
        wake: () => {
          if (this.sessions.get(quic) === session) this.markDirty(quic);
        },
      });
    }
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
        if (event.type !== 'handshakeComplete') continue;
        session.handshakeComplete = true;
        session.handler?.handshakeComplete?.(event);
        this.stats.handshakes++;
        if (event.resumed) this.stats.resumed++;
      }
      const h3Events = [...h3.handleEvents(events), ...h3.pollEvents()];
      if (events.length === 0 && h3Events.length === 0) break;
      for (const event of h3Events) this.onH3Event(session, event);
    }
    for (const datagram of quic.datagramsToSend(time)) this.send(datagram.data, datagram.remote.port, datagram.remote.address);
    if (quic.isClosed) {
      this.deadlines.forget(quic);
      this.sessions.delete(quic);
      for (const body of session.bodies.values()) body.destroy();
      session.handler?.closed();
      this.demux.sweep();
      return;
    }
    this.deadlines.schedule(quic, quic.nextDeadline());
  }

  private onH3Event(session: Session, event: H3Event): void {
    if (event.type === 'request') {
      this.stats.requests++;
      if (!session.handshakeComplete) this.stats.earlyRequests++;
    }
    if (session.handler !== undefined) {
      session.handler.event(event);
      return;
    }
    switch (event.type) {
      case 'request': {
        const onRequest = this.options.onRequest;
        if (onRequest === undefined) {
          session.h3.resetStream(event.streamId, H3ErrorCode.H3_REQUEST_REJECTED);
          break;
        }
        const body = new Readable({ read() {} });
        if (event.endStream) body.push(null);
        else session.bodies.set(event.streamId, body);
        const streamId = event.streamId;
        let responded = false;
        const respond: Respond = (status, fields, content) => {
          if (responded) throw new Error('respond() called twice');
          responded = true;
          this.respond(session, streamId, status, fields, content);
        };
        try {
          onRequest(streamId, event.pseudo, event.headers, body, respond);
        } catch {
          // An application bug answers this request with 500 (no stack leaked) and nothing else.
          if (!responded) respond(500, ['content-type', 'text/plain'], 'internal server error\n');
        }
        break;
      }
      case 'data': {
        // The bytes are handed over now, so flow control reopens now (RFC 9000 §4: the receiver consumed them).
        session.h3.consume(event.streamId, event.data.byteLength);
        const body = session.bodies.get(event.streamId);
        if (body) {
          if (event.data.byteLength > 0) body.push(Buffer.from(event.data));
          if (event.endStream) {
            body.push(null);
            session.bodies.delete(event.streamId);
          }
        }
        break;
      }
      case 'streamEnded': {
        const body = session.bodies.get(event.streamId);
        if (body) {
          body.push(null);
          session.bodies.delete(event.streamId);
        }
        break;
      }
      case 'streamReset': {
        session.bodies.get(event.streamId)?.destroy(new Error(`stream reset (code 0x${event.code.toString(16)})`));
        session.bodies.delete(event.streamId);
        session.pending.delete(event.streamId);
        break;
      }
      case 'streamWritable':
        this.writePending(session, event.streamId);
        break;
      case 'connectionTerminated':
        for (const body of session.bodies.values()) body.destroy(new Error('connection closed'));
        session.bodies.clear();
        session.pending.clear();
        break;
      default:
        break;
    }
  }

  private respond(session: Session, streamId: number, status: number, fields: FieldList, content: Uint8Array | string | undefined): void {
    if (session.quic.isClosed || session.h3.isTerminated) return;
    const data = typeof content === 'string' ? textEncoder.encode(content) : content ?? new Uint8Array(0);
    try {
      session.h3.sendHeaders(streamId, [':status', String(status), ...fields], data.byteLength === 0);
    } catch {
      // The stream is gone (reset by the peer) or the fields are invalid: the request gets a reset, not a crash.
      session.h3.resetStream(streamId, H3ErrorCode.H3_INTERNAL_ERROR);
      this.markDirty(session.quic);
      return;
    }
    if (data.byteLength > 0) {
      session.pending.set(streamId, { data, offset: 0 });
      this.writePending(session, streamId);
    }
    this.markDirty(session.quic);
  }

  private writePending(session: Session, streamId: number): void {
    const pending = session.pending.get(streamId);
    if (!pending) return;
    while (pending.offset < pending.data.byteLength) {
      const end = Math.min(pending.offset + WRITE_CHUNK, pending.data.byteLength);
      const chunk = pending.data.subarray(pending.offset, end);
      pending.offset = end;
      const last = end === pending.data.byteLength;
      let accepted: boolean;
      try {
        accepted = session.h3.sendData(streamId, chunk, last);
      } catch {
        // The peer stopped the stream (STOP_SENDING) or the connection is closing: the rest is not wanted.
        session.pending.delete(streamId);
        return;
      }
      if (!accepted) break;
    }
    if (pending.offset >= pending.data.byteLength) session.pending.delete(streamId);
    this.markDirty(session.quic);
  }

  private send(data: Uint8Array, port: number, address: string): void {
    this.stats.datagramsOut++;
    this.stats.bytesOut += data.byteLength;
    this.socket.send(data, port, address);
  }
}

function now(): number {
  return performance.now();
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
