/**
 * serve(): listeners, protocol routing, limits, stats and graceful shutdown.
 *
 * TLS: ALPN picks h2 or http/1.1 in the configured order (an ALPNCallback, because node:http2's own ALPN list is
 * fixed); h2 goes to our HTTP/2 engine's driver, http/1.1 (or no ALPN) to our HTTP/1.1 engine's driver.
 * Cleartext: the first bytes are sniffed for the HTTP/2 connection preface (RFC 9113 §3.3, prior knowledge).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { AcmeServerStats, FetchHandler, ServeOptions, Server, ServerStats } from './types.js';
import type { TlsConfig } from '../tls/types.js';
import type { AcmeManager } from '../acme/manager.js';
import { resolveLimits } from './limits.js';
import { ServerContext } from './context.js';
import { formatAccessLog, type AccessLogEntry, type AccessLogFormat } from './core/access-log.js';
import { acceptHttp1 } from './transports/h1.js';
import { acceptHttp2 } from './transports/h2.js';
import { acceptHttp3 } from './transports/h3.js';
import { QuicEndpoint, type EndpointCertificate } from './quic/endpoint.js';
import { CONNECTION_PREFACE } from '../h2/frames.js';
import { loadTlsProvider, type TlsProviderLike } from './tls-provider.js';

const DEFAULT_ALPN = ['h2', 'http/1.1'];

function hostForUrl(hostname: string): string {
  if (hostname === '0.0.0.0' || hostname === '::' || hostname === '') return 'localhost';
  return hostname.includes(':') ? `[${hostname}]` : hostname;
}

/** Addresses to bind for a hostname: "localhost" means both loopbacks, so neither 127.0.0.1 nor ::1 clients fail. */
function bindAddresses(hostname: string): string[] {
  if (hostname === 'localhost') return ['127.0.0.1', '::1'];
  return [hostname];
}

function listen(server: net.Server, port: number, host: string, reusePort: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // reusePort (SO_REUSEPORT) exists from Node 22.12; older versions ignore the field.
    server.listen({ port, host, backlog: 1024, ...(reusePort ? { reusePort: true } : {}) } as net.ListenOptions);
  });
}

class HttpsdServer implements Server {
  ready: Promise<void>;
  urls: string[] = [];
  port = 0;
  httpPort: number | undefined = undefined;
  http3Port: number | undefined = undefined;

  private readonly context: ServerContext;
  private readonly listeners: net.Server[] = [];
  /** HTTP/3: one UDP endpoint per listening address, on the TLS port. */
  private readonly quicEndpoints: QuicEndpoint[] = [];
  private tlsProvider: TlsProviderLike | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private closePromise: Promise<void> | undefined;
  /** With `acme`: the certificate manager, from start() on. */
  private acme: AcmeManager | undefined;

  constructor(private readonly options: ServeOptions) {
    if (typeof options.fetch !== 'function') throw new TypeError('serve() needs a fetch(request, info) handler function');
    if (options.acme !== undefined && options.tls !== undefined) {
      throw new TypeError('serve() takes `acme` or `tls`, not both: both choose the certificate. For TLS profile settings with ACME, call acme() and pass { ...yourSettings, ...manager.tls } as `tls`.');
    }
    const limits = resolveLimits(options.limits);
    let accessLog: ((entry: AccessLogEntry) => void) | undefined;
    if (typeof options.accessLog === 'function') {
      const sink = options.accessLog;
      const format: AccessLogFormat = options.accessLogFormat ?? 'combined';
      accessLog = (entry) => sink(formatAccessLog(format, entry));
    }
    let traceFrames: ((line: string) => void) | undefined;
    if (options.traceFrames === true) traceFrames = (line) => process.stderr.write(line + '\n');
    else if (typeof options.traceFrames === 'function') traceFrames = options.traceFrames;
    // --redirect-http: every cleartext request (h1 or h2c: both arrive through the sniffer) gets a 308 to https.
    // Decided by the connection (info.scheme), never by the client's own :scheme. TLS requests go straight through.
    const userHandler = options.fetch;
    const redirects = options.redirectHttp === true && ((options.tls !== undefined && options.tls !== false) || options.acme !== undefined);
    this.context = new ServerContext({
      handler: this.acmeFront(
        redirects ? (request, info) => (info.scheme === 'http' ? this.redirectToHttps(request) : userHandler(request, info)) : userHandler,
      ),
      limits,
      serverHeader: options.serverHeader === undefined ? 'httpsd' : options.serverHeader,
      onError: options.onError ?? ((error, where) => console.error(`httpsd: handler error in ${where}:`, error)),
      accessLog,
      metricsPath: options.metricsPath,
      traceFrames,
      h2Limits: options.h2Limits,
      websocket: options.websocket,
    });
    this.ready = this.start();
    // A failed start surfaces through `ready`; never as an unhandled rejection when the caller ignores it.
    this.ready.catch(() => {});
  }

  private async start(): Promise<void> {
    const options = this.options;
    const hostname = options.hostname ?? 'localhost';
    const port = options.port ?? 8443;
    const useTls = (options.tls !== undefined && options.tls !== false) || options.acme !== undefined;
    try {
      if (useTls) {
        this.tlsProvider = await loadTlsProvider(await this.certificateConfig());
        this.port = await this.listenAll(() => this.createTlsListener(), hostname, port);
        this.urls.push(`https://${hostForUrl(hostname)}:${this.port}/`);
        // HTTP/3 takes the default certificate once, at start: with ACME-managed certificates (a placeholder at
        // first, renewed later) it would serve a stale one, so h3 waits until it follows reloads.
        if (options.http3 !== false && this.context.acmeStats === undefined) await this.listenQuic(hostname, this.port);
        if (options.httpPort !== undefined) {
          this.httpPort = await this.listenAll(() => this.createCleartextListener(), hostname, options.httpPort);
          this.urls.push(`http://${hostForUrl(hostname)}:${this.httpPort}/`);
        }
      } else {
        this.port = await this.listenAll(() => this.createCleartextListener(), hostname, port);
        this.httpPort = this.port;
        this.urls.push(`http://${hostForUrl(hostname)}:${this.port}/`);
      }
      // As the CLI does: the first certificate is obtained with the listeners up (the CA validates through them).
      await this.acme?.start(this);
    } catch (error) {
      await this.close(0);
      throw error;
    }
    const limits = this.context.limits;
    const interval = Math.max(25, Math.min(1000, Math.floor(Math.min(limits.idleTimeout, limits.writeProgressTimeout) / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const connection of this.context.live) connection.sweep?.(now);
    }, interval);
    this.sweeper.unref();
  }

  /** `tls`, or with `acme` the managed files of acme() (the stored certificate, or a placeholder until start()). */
  private async certificateConfig(): Promise<TlsConfig> {
    let config = this.options.tls as TlsConfig;
    if (this.options.acme !== undefined) {
      // Loaded on demand: servers without ACME never load the ACME client.
      const { acme } = await import('../acme/index.js');
      this.acme = await acme(this.options.acme);
      config = this.acme.tls;
    }
    // Whoever manages the certificate (serve({ acme }) or an acme() manager passed as `tls`) adds its counters.
    const managed = config.managed as { serverStats?: () => AcmeServerStats } | undefined;
    if (typeof managed?.serverStats === 'function') this.context.acmeStats = () => managed.serverStats!();
    return config;
  }

  /** With `acme`: HTTP-01 answers come before the app and before the redirect to https (the CA asks in cleartext). */
  private acmeFront(handler: FetchHandler): FetchHandler {
    if (this.options.acme === undefined) return handler;
    let front: FetchHandler | undefined;
    // No request arrives before the listeners, which start() opens once the manager exists.
    return (request, info) => (front ??= this.acme!.fetch(handler))(request, info);
  }

  private async listenAll(create: () => net.Server, hostname: string, port: number): Promise<number> {
    const addresses = bindAddresses(hostname);
    let bound = port;
    for (let i = 0; i < addresses.length; i++) {
      const server = create();
      try {
        bound = await listen(server, i === 0 ? port : bound, addresses[i]!, this.options.reusePort === true);
        this.listeners.push(server);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // A host without IPv6 loopback still serves on 127.0.0.1.
        if (i > 0 && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' || code === 'EINVAL')) continue;
        throw error;
      }
    }
    return bound;
  }

  /**
   * HTTP/3 (RFC 9114) on the TLS port over UDP, with the default certificate of the TLS material (QUIC's TLS is its
   * own engine, src/quic/tls: SNI entries and reloads are not shared with it). h1 and h2 responses then carry
   * Alt-Svc (RFC 7838 §3) so browsers find it.
   */
  private async listenQuic(hostname: string, port: number): Promise<void> {
    const certificate = defaultCertificate(this.tlsProvider!.serverOptions);
    if (certificate === undefined) return;
    for (const [index, host] of bindAddresses(hostname).entries()) {
      try {
        this.quicEndpoints.push(await QuicEndpoint.listen({ host, port, certificates: [certificate], onConnection: acceptHttp3(this.context) }));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // As for TCP: a host without IPv6 loopback still serves on 127.0.0.1.
        if (index > 0 && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT' || code === 'EINVAL')) continue;
        throw error;
      }
    }
    this.context.altSvc = `h3=":${port}"; ma=86400`;
    this.http3Port = port;
  }

  /** Counts raw TCP connections and refuses those beyond limits.maxConnections. */
  private admit(socket: net.Socket): boolean {
    const context = this.context;
    if (context.closing || context.connections >= context.limits.maxConnections) {
      socket.destroy();
      return false;
    }
    context.connections++;
    socket.once('close', () => context.connections--);
    // A reset by the peer must never surface as an uncaught 'error'.
    socket.on('error', () => {});
    return true;
  }

  private createTlsListener(): tls.Server {
    const provider = this.tlsProvider!;
    const alpn = this.options.alpn ?? DEFAULT_ALPN;
    const context = this.context;
    const server = tls.createServer({
      ...provider.serverOptions,
      handshakeTimeout: context.limits.handshakeTimeout,
      // Responses are written whole (one write per turn): Nagle would only add latency.
      noDelay: true,
      // RFC 7301 §3.2: the server picks by its own preference among what the client offers.
      ALPNCallback: function (this: tls.TLSSocket, { servername, protocols }) {
        // RFC 8737 TLS-ALPN-01 (src/acme): a validation handshake for a pending challenge gets acme-tls/1.
        if (provider.answerAcmeTlsAlpn?.(this, servername, protocols) === true) return 'acme-tls/1';
        for (const candidate of alpn) if (protocols.includes(candidate)) return candidate;
        return undefined; // no overlap: no_application_protocol alert
      },
    });
    provider.attach(server);
    server.on('connection', (socket: net.Socket) => {
      this.admit(socket);
    });
    server.on('tlsClientError', (_error: Error, socket: tls.TLSSocket) => {
      // Handshake failures (garbage, bad certificates) and stalls only cost that connection. node:tls does not
      // destroy the socket itself on ERR_TLS_HANDSHAKE_TIMEOUT: without this, a silent client holds it forever.
      socket.destroy();
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      socket.on('error', () => {});
      // RFC 8737 §3: an acme-tls/1 connection ends with its handshake; it never reaches the app.
      if (socket.alpnProtocol === 'acme-tls/1') return void socket.end(() => socket.destroy());
      if (socket.alpnProtocol === 'h2') acceptHttp2(context, socket, 'h2', null);
      else acceptHttp1(context, socket, 'https', null);
    });
    return server;
  }

  private createCleartextListener(): net.Server {
    const server = net.createServer({ noDelay: true });
    server.on('connection', (socket) => {
      if (!this.admit(socket)) return;
      this.sniff(socket);
    });
    return server;
  }

  /** Reads until the first bytes either are the h2 preface or cannot be; handles a preface split across reads. */
  private sniff(socket: net.Socket): void {
    const context = this.context;
    let received: Buffer | null = null;
    const timer = setTimeout(() => socket.destroy(), context.limits.headersTimeout);
    const onData = (chunk: Buffer) => {
      received = received === null ? chunk : Buffer.concat([received, chunk]);
      const length = Math.min(received.length, CONNECTION_PREFACE.length);
      if (received.compare(CONNECTION_PREFACE, 0, length, 0, length) === 0 && length < CONNECTION_PREFACE.length) return; // need more
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (length === CONNECTION_PREFACE.length && received.compare(CONNECTION_PREFACE, 0, length, 0, length) === 0) {
        acceptHttp2(context, socket, 'h2c', received);
      } else {
        // The sniffed bytes are the first of an HTTP/1.1 request: the engine reads them first.
        acceptHttp1(context, socket, 'http', received);
      }
    };
    const onClose = () => clearTimeout(timer);
    socket.on('data', onData);
    socket.once('close', onClose);
  }

  /** RFC 9110 §15.4.9: 308 keeps the method and body; the host is the one the client asked for, on the TLS port. */
  private redirectToHttps(request: Request): Response {
    const url = new URL(request.url);
    const port = this.port === 443 ? '' : `:${this.port}`;
    return new Response(null, { status: 308, headers: { location: `https://${url.hostname}${port}${url.pathname}${url.search}` } });
  }

  stats(): ServerStats {
    return this.context.stats();
  }

  publish(topic: string, data: string | ArrayBufferView | ArrayBuffer): number {
    return this.context.webSockets?.publish(topic, data) ?? 0;
  }

  describeTls(): string[] {
    return this.tlsProvider?.describe() ?? [];
  }

  async reload(): Promise<void> {
    await this.tlsProvider?.reload();
  }

  close(timeoutMs?: number): Promise<void> {
    this.closePromise ??= this.shutdown(timeoutMs ?? this.context.limits.shutdownTimeout);
    return this.closePromise;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    const context = this.context;
    context.closing = true;
    // No renewal starts while draining; one in flight stops before it swaps certificates.
    this.acme?.stop();
    // 1. Stop accepting (the close callbacks only fire once every connection is gone: not awaited here).
    const listenersClosed = Promise.all(this.listeners.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    // 2. GOAWAY on h2, connection: close on h1, idle keep-alive sockets closed now; WebSockets get a 1001 Close
    // (RFC 6455 §7.4.1 "going away") and are cut at the timeout.
    const webSocketsClosed = context.webSockets?.shutdown(timeoutMs);
    // (Each HTTP/1.1 connection's shutdown() decides: idle ones end now, one whose first request has not been read
    // yet gets a grace period.)
    for (const connection of context.live) connection.shutdown();
    for (const endpoint of this.quicEndpoints) endpoint.shutdown();
    // 3. Let in-flight requests finish, up to the timeout; then force.
    const deadline = Date.now() + timeoutMs;
    while ((context.live.size > 0 || context.inFlightRequests > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (context.live.size > 0 || context.inFlightRequests > 0) {
      this.options.onShutdownCut?.({ requests: context.inFlightRequests, connections: context.live.size });
    }
    for (const connection of [...context.live]) connection.destroy();
    await webSocketsClosed;
    await listenersClosed;
    await Promise.all(this.quicEndpoints.map((endpoint) => endpoint.close()));
    const remaining = deadline - Date.now();
    if (remaining > 0) {
      await Promise.race([context.settleBackgroundWork(), new Promise((resolve) => setTimeout(resolve, remaining).unref())]);
    }
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.tlsProvider?.close();
  }
}

/**
 * The default certificate and key of the TLS material as PEM (what the QUIC endpoint's TLS engine loads); undefined
 * for material node:tls reads but the QUIC engine does not (PKCS#12, encrypted keys): HTTP/3 is then not served.
 */
function defaultCertificate(options: tls.TlsOptions): EndpointCertificate | undefined {
  const pem = (value: unknown): string | undefined => {
    const first: unknown = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') return first;
    if (Buffer.isBuffer(first)) return first.toString('utf8');
    if (first !== null && typeof first === 'object' && 'pem' in first && !('passphrase' in first)) return pem((first as { pem: unknown }).pem);
    return undefined;
  };
  const cert = pem(options.cert);
  const key = options.passphrase === undefined ? pem(options.key) : undefined;
  if (cert === undefined || key === undefined || key.includes('ENCRYPTED')) return undefined;
  return { cert, key };
}

export function serve(options: ServeOptions): Server {
  return new HttpsdServer(options);
}
