/**
 * State shared by every connection of one serve() call: the handler, limits, counters, logging, and the
 * per-request plumbing common to HTTP/1.1 and HTTP/2 (calling the handler, turning failures into 500s).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AcmeServerStats, FetchHandler, Protocol, ServeInfo, ServerLimits, ServerStats } from './types.js';
import { FastResponse, type TrailersInit } from './response.js';
import { ClientAbortError, PayloadTooLargeError, requestView, type LazyRequest } from './request.js';
import { informationalHeaders } from './response-parts.js';
import type { AccessLogEntry } from './core/access-log.js';
import { requestLabel, type Exchange } from './core/exchange.js';
import { ConnectionCounts, PROTOCOLS } from './core/protocols.js';
import { WebSocketHub } from './websocket/hub.js';
import { upgradeWebSocket } from './websocket/upgrade.js';
import type { UpgradeOptions, WebSocketHandler } from './websocket/types.js';
import { proxiedAddressesOf } from './proxy/listener.js';
import type { TrustedProxies } from './proxy/trust.js';

/** A live connection (h1 socket or h2 session) as the server tracks it for stats and shutdown. */
export interface TrackedConnection {
  /** Graceful: finish in-flight, then close. */
  shutdown(): void;
  /** Immediate. */
  destroy(): void;
  pendingOutputBytes(): number;
  /** Periodic check for idle / stalled connections (now in ms). */
  sweep?(now: number): void;
}

/** Facts about a connection, computed once and shared by its requests. */
export class ConnectionFacts {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly protocol: Protocol;
  readonly scheme: 'https' | 'http';
  private readonly socket: Pick<Socket, 'remoteAddress' | 'remotePort' | 'localAddress' | 'localPort'>;
  private tlsFacts: ServeInfo['tls'] | null | undefined;

  /** `tls`: the TLS facts when the connection is not a node:tls socket (QUIC carries its own TLS). */
  constructor(socket: Pick<Socket, 'remoteAddress' | 'remotePort' | 'localAddress' | 'localPort'>, protocol: Protocol, scheme: 'https' | 'http', tls?: ServeInfo['tls']) {
    this.socket = socket;
    // With the PROXY protocol the load balancer's header names both ends of the client's connection.
    const proxied = proxiedAddressesOf(socket);
    this.remoteAddress = proxied?.sourceAddress ?? socket.remoteAddress ?? '';
    this.remotePort = proxied?.sourcePort ?? socket.remotePort ?? 0;
    this.localAddress = proxied?.destinationAddress ?? socket.localAddress ?? '';
    this.localPort = proxied?.destinationPort ?? socket.localPort ?? 0;
    this.protocol = protocol;
    this.scheme = scheme;
    this.tlsFacts = tls ?? (scheme === 'https' ? undefined : null);
  }

  get tls(): ServeInfo['tls'] {
    if (this.tlsFacts === undefined) {
      const socket = this.socket as TLSSocket;
      const cipher = socket.getCipher?.();
      const facts: NonNullable<ServeInfo['tls']> = {
        version: socket.getProtocol?.() ?? '',
        cipher: cipher?.standardName ?? cipher?.name ?? '',
        alpn: socket.alpnProtocol ?? false,
        servername: (socket as TLSSocket & { servername?: string | false }).servername || false,
        authorized: socket.authorized === true,
      };
      const peer = socket.getPeerX509Certificate?.();
      if (peer) {
        facts.clientCertificate = peer;
        facts.clientCertificateDetails = socket.getPeerCertificate(false);
      }
      this.tlsFacts = facts;
    }
    return this.tlsFacts ?? undefined;
  }
}

/** The `info` argument: connection facts plus per-request actions. Prototype getters keep it one small object. */
export class RequestInfo implements ServeInfo {
  constructor(
    private readonly connection: ConnectionFacts,
    private readonly exchange: Exchange,
    private readonly context: ServerContext,
  ) {}
  get remoteAddress(): string {
    return this.exchange.client.remoteAddress;
  }
  get remotePort(): number {
    return this.exchange.client.remotePort;
  }
  get peerAddress(): string {
    return this.connection.remoteAddress;
  }
  get peerPort(): number {
    return this.connection.remotePort;
  }
  get localAddress(): string {
    return this.connection.localAddress;
  }
  get localPort(): number {
    return this.connection.localPort;
  }
  get protocol(): Protocol {
    return this.connection.protocol;
  }
  get scheme(): 'https' | 'http' {
    return this.connection.scheme;
  }
  get tls(): ServeInfo['tls'] {
    return this.connection.tls;
  }
  sendInformational(status: number, headers: HeadersInit): void {
    if (!Number.isInteger(status) || status < 100 || status > 199 || status === 101) {
      throw new RangeError(`informational status must be 1xx other than 101 (got ${status})`);
    }
    let fields: string[];
    try {
      fields = informationalHeaders(status, headers, PROTOCOLS[this.connection.protocol].family);
    } catch (error) {
      // Hints are optional (RFC 8297 §2, RFC 9110 §15.2): a bad one is dropped and logged, the final response is
      // unaffected and the handler is not interrupted.
      this.context.onError(error, `${requestLabel(this.exchange.request)} (informational ${status} response not sent)`);
      return;
    }
    this.exchange.sendInformational(status, fields);
  }
  setTrailers(trailers: TrailersInit): void {
    this.exchange.trailers = trailers;
  }
  waitUntil(promise: Promise<unknown>): void {
    this.context.waitUntil(promise);
  }
  upgradeWebSocket(request: Request, options?: UpgradeOptions): Response {
    return upgradeWebSocket(this.context.webSockets, this.exchange.writer.upgradeFacts(), request, options);
  }
}

export interface ContextOptions {
  handler: FetchHandler;
  limits: ServerLimits;
  serverHeader: string | false;
  onError: (error: unknown, context: string) => void;
  accessLog: ((entry: AccessLogEntry) => void) | undefined;
  metricsPath: string | undefined;
  traceFrames: ((line: string) => void) | undefined;
  h2Limits: Record<string, number> | undefined;
  websocket: WebSocketHandler<any> | undefined;
  /** Peers whose forwarding fields (X-Forwarded-*, Forwarded) name the client; undefined: nobody's are read. */
  trustProxy?: TrustedProxies | undefined;
}

const internalErrorResponse = (): Response =>
  new FastResponse('Internal Server Error\n', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });

export class ServerContext {
  readonly handler: FetchHandler;
  readonly limits: ServerLimits;
  readonly serverHeader: string | false;
  readonly onError: (error: unknown, context: string) => void;
  readonly accessLog: ((entry: AccessLogEntry) => void) | undefined;
  readonly metricsPath: string | undefined;
  readonly traceFrames: ((line: string) => void) | undefined;
  readonly h2Limits: Record<string, number> | undefined;
  /** The WebSockets of this server, when it has a `websocket` handler. */
  readonly webSockets: WebSocketHub | undefined;
  readonly trustProxy: TrustedProxies | undefined;

  connections = 0;
  /** Open connections by protocol, after the transport took them. */
  readonly protocolConnections = new ConnectionCounts();
  openStreams = 0;
  inFlightRequests = 0;
  totalRequests = 0;
  totalErrors = 0;
  closing = false;
  /** With ACME: the certificate manager's counters (set by serve() once the manager exists). */
  acmeStats: (() => AcmeServerStats) | undefined;
  readonly live = new Set<TrackedConnection>();
  /** The Alt-Svc value advertising HTTP/3 (set once serve() listens on UDP), or undefined. */
  altSvc: string | undefined = undefined;
  private readonly pendingWork = new Set<Promise<unknown>>();

  constructor(options: ContextOptions) {
    this.handler = options.handler;
    this.limits = options.limits;
    this.serverHeader = options.serverHeader;
    this.onError = options.onError;
    this.accessLog = options.accessLog;
    this.metricsPath = options.metricsPath;
    this.traceFrames = options.traceFrames;
    this.h2Limits = options.h2Limits;
    this.trustProxy = options.trustProxy;
    this.webSockets = options.websocket === undefined ? undefined : new WebSocketHub(options.websocket, options.onError);
  }

  stats(): ServerStats {
    let pending = 0;
    for (const connection of this.live) pending += connection.pendingOutputBytes();
    return {
      connections: this.connections,
      h1Connections: this.protocolConnections.total('h1Connections'),
      h2Connections: this.protocolConnections.total('h2Connections'),
      h3Connections: this.protocolConnections.total('h3Connections'),
      openStreams: this.openStreams,
      inFlightRequests: this.inFlightRequests,
      pendingOutputBytes: pending,
      totalRequests: this.totalRequests,
      totalErrors: this.totalErrors,
      ...(this.webSockets?.stats() ?? { webSockets: 0, webSocketMessagesIn: 0, webSocketMessagesOut: 0 }),
      ...this.acmeStats?.(),
    };
  }

  waitUntil(promise: Promise<unknown>): void {
    const tracked = Promise.resolve(promise).then(
      () => {},
      (error) => this.onError(error, 'waitUntil'),
    );
    this.pendingWork.add(tracked);
    tracked.finally(() => this.pendingWork.delete(tracked));
  }

  /** Post-response work registered with info.waitUntil(), for graceful shutdown. */
  async settleBackgroundWork(): Promise<void> {
    while (this.pendingWork.size > 0) await Promise.all([...this.pendingWork]);
  }

  /**
   * Calls the handler. Returns the Response synchronously when the handler did (so it can be written in the same
   * turn), else a promise. Never throws or rejects: failures become a 500 (413 for an oversized body) and are logged.
   */
  invoke(request: LazyRequest, info: RequestInfo): Response | Promise<Response> {
    if (this.metricsPath !== undefined && requestView.method(request) === 'GET' && pathOf(requestView.target(request)) === this.metricsPath) {
      return new FastResponse(this.prometheusText(), {
        headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' },
      });
    }
    let result: Response | Promise<Response>;
    try {
      result = this.handler(request, info);
    } catch (error) {
      return this.failure(error, request);
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<Response>).then === 'function') {
      return (result as Promise<Response>).then(
        (response) => response,
        (error: unknown) => this.failure(error, request),
      );
    }
    return result;
  }

  /** The response for a failed handler. The error goes to the log with the request line, never to the client. */
  failure(error: unknown, request: LazyRequest): Response {
    if (error instanceof PayloadTooLargeError) {
      return new FastResponse('Payload Too Large\n', { status: 413, headers: { connection: 'close' } });
    }
    // A client that went away mid-request is not a handler failure: the handler saw its body read fail, and the
    // 500 below is never written.
    if (requestView.aborted(request) || error instanceof ClientAbortError) return internalErrorResponse();
    this.totalErrors++;
    this.onError(error, requestLabel(request));
    return internalErrorResponse();
  }

  prometheusText(): string {
    const stats = this.stats();
    const lines: string[] = [];
    const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number) => {
      lines.push(`# HELP httpsd_${name} ${help}`, `# TYPE httpsd_${name} ${type}`, `httpsd_${name} ${value}`);
    };
    metric('connections', 'gauge', 'Open connections.', stats.connections);
    metric('h1_connections', 'gauge', 'Open HTTP/1.1 connections.', stats.h1Connections);
    metric('h2_connections', 'gauge', 'Open HTTP/2 connections (h2 and h2c).', stats.h2Connections);
    metric('h3_connections', 'gauge', 'Open HTTP/3 connections.', stats.h3Connections);
    metric('open_streams', 'gauge', 'Open HTTP/2 streams.', stats.openStreams);
    metric('in_flight_requests', 'gauge', 'Requests whose response is not finished.', stats.inFlightRequests);
    metric('pending_output_bytes', 'gauge', 'Bytes queued for writing to sockets.', stats.pendingOutputBytes);
    metric('requests_total', 'counter', 'Requests received.', stats.totalRequests);
    metric('handler_errors_total', 'counter', 'Handler failures answered with 500.', stats.totalErrors);
    metric('websockets', 'gauge', 'Open WebSockets.', stats.webSockets);
    metric('websocket_messages_in_total', 'counter', 'WebSocket messages received.', stats.webSocketMessagesIn);
    metric('websocket_messages_out_total', 'counter', 'WebSocket messages sent.', stats.webSocketMessagesOut);
    metric('resident_memory_bytes', 'gauge', 'Resident set size.', process.memoryUsage.rss());
    if (stats.acmeIssued !== undefined) {
      metric('acme_certificates_issued_total', 'counter', 'Certificates obtained from the ACME CA (first issuance).', stats.acmeIssued);
      metric('acme_certificates_renewed_total', 'counter', 'Certificates renewed from the ACME CA.', stats.acmeRenewed ?? 0);
      metric('acme_failures_total', 'counter', 'Failed ACME issuance or renewal attempts.', stats.acmeFailures ?? 0);
      // Timestamps, so that an alert reads `httpsd_acme_certificate_expiry_timestamp_seconds - time() < 7 * 86400`.
      if (stats.acmeNotAfterSeconds !== undefined) metric('acme_certificate_expiry_timestamp_seconds', 'gauge', 'Expiry of the served ACME certificate (Unix time).', stats.acmeNotAfterSeconds);
      if (stats.acmeRenewAfterSeconds !== undefined) metric('acme_renewal_timestamp_seconds', 'gauge', 'When the renewal of the ACME certificate is due (Unix time).', stats.acmeRenewAfterSeconds);
    }
    return lines.join('\n') + '\n';
  }
}

function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}
