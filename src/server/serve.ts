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
import { QuicEndpoint } from './quic/endpoint.js';
import { CONNECTION_PREFACE } from '../h2/frames.js';
import { loadTlsProvider, type TlsProviderLike } from './tls-provider.js';
import { compressResponses } from './compress/index.js';
import { readProxyHeader } from './proxy/listener.js';
import { TrustedProxies } from './proxy/trust.js';
import { listenWith, openSocketListeners } from './listeners.js';
import { validateDrainDelay, validateHealthPath, withHealthEndpoint } from './health.js';
import { installFastResponse, NativeResponse } from './response.js';

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

async function listen(server: net.Server, port: number, host: string, reusePort: boolean): Promise<number> {
  // reusePort (SO_REUSEPORT) exists from Node 22.12; older versions ignore the field.
  await listenWith(server, { port, host, backlog: 1024, ...(reusePort ? { reusePort: true } : {}) } as net.ListenOptions);
  return (server.address() as net.AddressInfo).port;
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
  /** From the start of close(): `healthPath` answers 503. */
  private draining = false;
  /** Listening and onListen done: a close() from then on is a shutdown the app hears of (onShutdown, drainDelay). */
  private started = false;

  constructor(private readonly options: ServeOptions) {
    if (typeof options.fetch !== 'function') throw new TypeError('serve() needs a fetch(request, info) handler function');
    // Before any request (and before the handler runs at all): the application's `new Response()` is then ours.
    if (options.fastResponse !== false) installFastResponse();
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
    // `compress` wraps the application alone: redirects and ACME answers stay as they are.
    const userHandler = options.compress ? compressResponses(options.fetch, options.compress) : options.fetch;
    if (options.drainDelay !== undefined) validateDrainDelay(options.drainDelay);
    if (options.redirectHttp === true && options.unix !== undefined) throw new TypeError('serve(): `redirectHttp` redirects to the TLS port, which `unix` replaces');
    const redirects = options.redirectHttp === true && ((options.tls !== undefined && options.tls !== false) || options.acme !== undefined);
    this.context = new ServerContext({
      handler: this.acmeFront(
        this.healthFront(redirects ? (request, info) => (info.scheme === 'http' ? this.redirectToHttps(request) : userHandler(request, info)) : userHandler),
      ),
      limits,
      serverHeader: options.serverHeader === undefined ? 'httpsd' : options.serverHeader,
      onError: options.onError ?? ((error, where) => console.error(`httpsd: handler error in ${where}:`, error)),
      accessLog,
      metricsPath: options.metricsPath,
      traceFrames,
      h2Limits: options.h2Limits,
      websocket: options.websocket,
      trustProxy: options.trustProxy === undefined || options.trustProxy === false ? undefined : new TrustedProxies(options.trustProxy),
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
        // `unix` / `fd` replace hostname:port (and HTTP/3, which needs a UDP port of its own).
        if (!(await this.listenSockets(true))) {
          this.port = await this.listenAll(() => this.createTlsListener(), hostname, port);
          this.urls.push(`https://${hostForUrl(hostname)}:${this.port}/`);
          if (options.http3 !== false) await this.listenQuic(hostname, this.port);
        }
        if (options.httpPort !== undefined) {
          this.httpPort = await this.listenAll(() => this.createCleartextListener(), hostname, options.httpPort);
          this.urls.push(`http://${hostForUrl(hostname)}:${this.httpPort}/`);
        }
      } else if (!(await this.listenSockets(false))) {
        this.port = await this.listenAll(() => this.createCleartextListener(), hostname, port);
        this.httpPort = this.port;
        this.urls.push(`http://${hostForUrl(hostname)}:${this.port}/`);
      } else if (options.httpPort !== undefined) {
        this.httpPort = await this.listenAll(() => this.createCleartextListener(), hostname, options.httpPort);
        this.urls.push(`http://${hostForUrl(hostname)}:${this.httpPort}/`);
      }
      // As the CLI does: the first certificate is obtained with the listeners up (the CA validates through them).
      await this.acme?.start(this);
      await options.onListen?.(this);
      this.started = true;
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

  /** With `healthPath`: probes are answered before redirects and the app (load balancers probe in cleartext too). */
  private healthFront(handler: FetchHandler): FetchHandler {
    const path = this.options.healthPath;
    return path === undefined ? handler : withHealthEndpoint(handler, validateHealthPath(path), () => this.draining);
  }

  /** The `unix` or `fd` listeners; false when the options name neither. */
  private async listenSockets(useTls: boolean): Promise<boolean> {
    const sockets = await openSocketListeners(this.options, {
      tls: useTls ? () => this.createTlsListener() : undefined,
      cleartext: () => this.createCleartextListener(),
    });
    if (sockets === undefined) return false;
    this.listeners.push(...sockets.servers);
    this.urls.push(...sockets.urls);
    if (sockets.tlsPort !== undefined) this.port = sockets.tlsPort;
    return true;
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
   * HTTP/3 (RFC 9114) on the TLS port over UDP. QUIC's TLS is its own engine (src/quic/tls); it takes its
   * certificates from the same provider as the TCP listener (SNI, reloads, ACME renewals, --tls-keylog). h1 and h2
   * responses then carry Alt-Svc (RFC 7838 §3) so browsers find it.
   */
  private async listenQuic(hostname: string, port: number): Promise<void> {
    const material = this.tlsProvider!.quic?.();
    if (material?.usable !== true) return;
    const { selectCertificate, keyLogFile } = material;
    const trace = this.options.traceQuic;
    const traceQuic = trace === true ? (line: string) => process.stderr.write(line + '\n') : trace || undefined;
    for (const [index, host] of bindAddresses(hostname).entries()) {
      try {
        this.quicEndpoints.push(
          await QuicEndpoint.listen({ host, port, selectCertificate, keyLogFile, traceQuic, onConnection: acceptHttp3(this.context) }),
        );
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

  /** serve()'s onShutdown, its failure reported: a shutdown goes on whatever the hook does. */
  private async runOnShutdown(): Promise<void> {
    try {
      await this.options.onShutdown?.();
    } catch (error) {
      this.context.onError(error, 'onShutdown');
    }
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

  private createTlsListener(): net.Server {
    const provider = this.tlsProvider!;
    const alpn = this.options.alpn ?? DEFAULT_ALPN;
    const context = this.context;
    // RFC 7301 §3.2: the server picks by its own preference among what the client offers, and answers no overlap
    // with a no_application_protocol alert. OpenSSL does both from a list (node:tls's ALPNProtocols); a callback in
    // JavaScript, run on every handshake, is needed only where an ACME manager may answer a TLS-ALPN-01 challenge
    // (or for an empty list, which node:tls would take as "no ALPN" rather than "refuse every protocol").
    const alpnChoice: tls.TlsOptions = provider.answersAcmeTlsAlpn === false && alpn.length > 0
      ? { ALPNProtocols: alpn }
      : {
          ALPNCallback: function (this: tls.TLSSocket, { servername, protocols }) {
            // RFC 8737 TLS-ALPN-01 (src/acme): a validation handshake for a pending challenge gets acme-tls/1.
            if (provider.answerAcmeTlsAlpn?.(this, servername, protocols) === true) return 'acme-tls/1';
            for (const candidate of alpn) if (protocols.includes(candidate)) return candidate;
            return undefined; // no overlap: no_application_protocol alert
          },
        };
    const server = tls.createServer({
      ...provider.serverOptions,
      handshakeTimeout: context.limits.handshakeTimeout,
      // Responses are written whole (one write per turn): Nagle would only add latency.
      noDelay: true,
      ...alpnChoice,
    });
    provider.attach(server);
    const proxyProtocol = this.options.proxyProtocol === true;
    server.on('connection', (socket: net.Socket) => {
      // With the PROXY protocol the front listener below admitted the socket already.
      if (!proxyProtocol) this.admit(socket);
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
    if (!proxyProtocol) return server;
    // The PROXY header precedes the TLS ClientHello: it is read on the raw socket, which then goes to the TLS server
    // (node:tls feeds it the bytes put back after the header first).
    const front = net.createServer({ noDelay: true });
    front.on('connection', (socket) => {
      if (this.admit(socket)) readProxyHeader(context, socket, () => server.emit('connection', socket));
    });
    return front;
  }

  private createCleartextListener(): net.Server {
    const server = net.createServer({ noDelay: true });
    server.on('connection', (socket) => {
      if (!this.admit(socket)) return;
      if (this.options.proxyProtocol !== true) return this.sniff(socket);
      // The PROXY header comes before everything, the h2 preface included.
      readProxyHeader(this.context, socket, () => {
        this.sniff(socket);
        socket.resume();
      });
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
    return new NativeResponse(null, { status: 308, headers: { location: `https://${url.hostname}${port}${url.pathname}${url.search}` } });
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
    this.draining = true;
    // A server that never finished starting (a bind error, a failed onListen) has nothing to announce or drain.
    const onShutdown = this.started ? this.runOnShutdown() : undefined;
    // drainDelay: load balancers see the health endpoint's 503 and stop sending while requests are still accepted.
    const drainDelay = timeoutMs === 0 || !this.started ? 0 : (this.options.drainDelay ?? 0);
    if (drainDelay > 0) await new Promise((resolve) => setTimeout(resolve, drainDelay));
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
    if (onShutdown !== undefined) await Promise.race([onShutdown, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
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

export function serve(options: ServeOptions): Server {
  return new HttpsdServer(options);
}
