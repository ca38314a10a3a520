/**
 * Public types of the server: the fetch-handler contract and serve() options.
 * Contract between src/server (serve, adapters), src/static (a fetch handler), src/tls and the CLI.
 */
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { TlsConfig } from '../tls/types.js';
import type { AcmeOptions } from '../acme/manager.js';
import type { UpgradeOptions, WebSocketHandler } from './websocket/types.js';
import type { CompressOptions } from './compress/index.js';

export type Protocol = 'http/1.1' | 'h2' | 'h2c' | 'h3';

/** Second argument of every fetch handler: facts about the connection that the Request cannot carry. */
export interface ServeInfo {
  /**
   * Client address and port ("::1", 53122). Behind a proxy (docs/deploy.md): with the PROXY protocol, the client the
   * header names; with `trustProxy`, the client the forwarding fields of a trusted peer name (port 0 when they give
   * none).
   */
  remoteAddress: string;
  remotePort: number;
  /**
   * The connection's peer (the TCP peer, or the client a PROXY protocol header names): differs from remoteAddress
   * only when `trustProxy` took the client from forwarding fields. Always present on the info objects the server
   * passes; optional only so hand-made infos stay valid.
   */
  peerAddress?: string;
  peerPort?: number;
  localAddress: string;
  localPort: number;
  protocol: Protocol;
  /** "https" over TLS, "http" for cleartext h1/h2c. */
  scheme: 'https' | 'http';
  /** Present over TLS only. */
  tls?: {
    version: string; // "TLSv1.3"
    cipher: string; // "TLS_AES_128_GCM_SHA256"
    alpn: string | false;
    servername: string | false; // SNI
    /** The verified client certificate when mTLS is on and the client sent one. */
    clientCertificate?: X509Certificate;
    clientCertificateDetails?: PeerCertificate;
    authorized: boolean;
  };
  /** Send a 1xx informational response (103 Early Hints) before the final one. No-op where impossible. */
  sendInformational(status: number, headers: HeadersInit): void;
  /** Waits for the handler's response body to be fully written (or fail); for post-response work. */
  waitUntil(promise: Promise<unknown>): void;
  /**
   * Response trailers for this request's response (any Response class): fixed fields, or a function called after
   * the body was written (e.g. to send a checksum). HTTP/2 trailing HEADERS; chunked trailers on HTTP/1.1.
   * Always present on the info objects the server passes; optional only so hand-made infos stay valid.
   */
  setTrailers?(trailers: HeadersInit | (() => HeadersInit | Promise<HeadersInit>)): void;
  /**
   * Answers a WebSocket opening handshake (an HTTP/1.1 Upgrade, RFC 6455 §4.2; an HTTP/2 extended CONNECT,
   * RFC 8441 §5): returns the Response to return from the handler, which switches the exchange to a WebSocket run
   * by serve()'s `websocket` handler, or a refusal (400, 426, 503) for a handshake that is not acceptable. Throws
   * when serve() has no `websocket` handler. Present on the info objects the server passes.
   */
  upgradeWebSocket?(request: Request, options?: UpgradeOptions): Response;
}

export type FetchHandler = (request: Request, info: ServeInfo) => Response | Promise<Response>;

export interface ServerLimits {
  /** TLS handshake must finish within this (ms). */
  handshakeTimeout: number;
  /** Request head must arrive within this (ms): slowloris. */
  headersTimeout: number;
  /** An idle keep-alive (h1) or idle h2 connection is closed after this (ms). */
  idleTimeout: number;
  /** A whole request must be read within this (ms) on h1. */
  requestTimeout: number;
  /** A response making no write progress for this long is aborted (ms): zero-window slow read. */
  writeProgressTimeout: number;
  /** Request body bytes; larger gives 413. */
  maxBodySize: number;
  /** Request head bytes; larger gives 431. */
  maxHeaderSize: number;
  /** Concurrent connections per process; more are refused. */
  maxConnections: number;
  /** Graceful close() waits this long for in-flight requests (ms) before forcing. */
  shutdownTimeout: number;
}

export interface ServeOptions {
  fetch: FetchHandler;
  /** Default 8443; 0 picks a free port. */
  port?: number;
  /** Default "localhost" (both 127.0.0.1 and ::1 where available). */
  hostname?: string;
  /** TLS settings; omitted and `tls: false` means cleartext only (h1 + h2c). */
  tls?: TlsConfig | false;
  /** Also listen in cleartext on this port (h1 + h2c prior knowledge, sniffed). */
  httpPort?: number;
  /**
   * Serve HTTP/3 (QUIC over UDP) on the TLS port when TLS is on, advertised with Alt-Svc on h1 and h2 responses.
   * Default true; false binds no UDP socket.
   */
  http3?: boolean;
  /** Redirect cleartext requests to https instead of serving them. */
  redirectHttp?: boolean;
  /** ALPN order, default ["h2", "http/1.1"]. */
  alpn?: string[];
  limits?: Partial<ServerLimits>;
  /** Partial override of the HTTP/2 engine's DoS limits (src/h2/limits.ts). */
  h2Limits?: Record<string, number>;
  /** Print every HTTP/2 and HTTP/3 frame in and out, decoded (CLI --trace-frames). */
  traceFrames?: boolean | ((line: string) => void);
  /** Print every QUIC packet in and out with its frames (CLI --trace-quic); true writes to stderr. */
  traceQuic?: boolean | ((line: string) => void);
  /** Access log: a function receiving one formatted line per request, or false. */
  accessLog?: false | ((line: string) => void);
  /** Access log line format (default "combined"). */
  accessLogFormat?: 'combined' | 'common' | 'json' | 'short';
  /** Serve the stats() counters in Prometheus text format at this path (e.g. "/metrics"); off by default. */
  metricsPath?: string;
  /** Error log (handler exceptions, with the request line, never sent to the client). Default console.error. */
  onError?: (error: unknown, context: string) => void;
  /** Value of the `server` response header; false to omit. Default "httpsd". */
  serverHeader?: string | false;
  /** Use SO_REUSEPORT (for --workers on Linux). */
  reusePort?: boolean;
  /**
   * Called when a graceful close() reaches its timeout with work unfinished, before that work is cut: how many
   * requests had no finished response and how many connections were still open.
   */
  onShutdownCut?: (cut: { requests: number; connections: number }) => void;
  /**
   * WebSocket handler (open, message, close …): with it, handlers can answer handshakes with
   * info.upgradeWebSocket(), over HTTP/1.1 Upgrade and HTTP/2 extended CONNECT (RFC 8441, then advertised).
   */
  websocket?: WebSocketHandler<any>;
  /**
   * Certificates from an ACME CA (docs/acme.md) instead of `tls` (giving both is a TypeError): serve() runs acme(),
   * answers HTTP-01 on `httpPort` before the app, and `ready` waits for the first certificate (or the stored one).
   */
  acme?: AcmeOptions;
  /**
   * Compress the handler's responses (br, gzip; zstd where this Node has it) as Accept-Encoding allows: true for
   * the defaults, or options (docs/server.md, "Compression"). Off by default.
   */
  compress?: boolean | CompressOptions;
  /**
   * Make httpsd's FastResponse the global `Response` (default true), so the application's own `new Response(...)`,
   * `Response.json()` and `Response.redirect()` skip undici's construction cost (~10 µs each on Node 20) and are
   * read by the server directly. It is installed when serve() is called, before any request; `instanceof Response`
   * stays true for undici's responses (fetch() results); closing the server does not put undici's class back.
   * `false` leaves globalThis untouched. Nothing is replaced if the global is no longer undici's (another library
   * installed its own). Compatibility notes: docs/server.md, "The global Response".
   */
  fastResponse?: boolean;
  /**
   * Proxies whose X-Forwarded-For / -Proto / -Host and RFC 7239 Forwarded fields are believed: IP addresses, CIDR
   * ranges and the keywords `loopback`, `private`, `linklocal` (a list, or one comma-separated string). From a
   * trusted peer, the chain is walked from the right past trusted hops: the first untrusted one is the client
   * (info.remoteAddress, the access log), and request.url takes the scheme and host it used. Forwarded wins over
   * X-Forwarded-* when present. Off by default: no peer's forwarding fields are read.
   */
  trustProxy?: string | readonly string[] | false;
  /**
   * Every TCP connection (TLS and cleartext listeners) starts with a PROXY protocol header, v1 or v2 (HAProxy's
   * spec), sent by the load balancer in front: its client address becomes the connection's peer. A connection
   * without a valid header within limits.headersTimeout is closed. Not for HTTP/3 (UDP). Default false.
   */
  proxyProtocol?: boolean;
  /**
   * Listen on a Unix domain socket instead of hostname/port (docs/server.md, "Unix sockets"): its path, or
   * { path, mode, tls }. Cleartext h1 + h2c unless `tls: true` (then `tls` or `acme` must be set). HTTP/3 is not
   * served there. `httpPort` still adds a cleartext TCP listener.
   */
  unix?: string | UnixSocketOptions;
  /**
   * Serve listening sockets inherited from the parent process instead of hostname/port: systemd socket activation
   * (see takeSystemdSockets()) or any descriptor a parent passed. A TCP socket speaks TLS when `tls`/`acme` is
   * set, a Unix socket cleartext unless its `tls: true`.
   */
  fd?: number | InheritedSocketOptions | (number | InheritedSocketOptions)[];
  /** Answer GET/HEAD of this path with 200 while serving and 503 once shutdown begins, before the app (e.g. "/health"). */
  healthPath?: string;
  /**
   * On close(): keep accepting and serving for this long (ms, at most 300000) with `healthPath` answering 503, so
   * load balancers stop sending, before the drain starts. Default 0. close(0) skips it.
   */
  drainDelay?: number;
  /** Called with the server once every listener is up (after `ready`'s work); a throw closes the server and rejects `ready`. */
  onListen?: (server: Server) => void | Promise<void>;
  /**
   * Called when close() begins, while in-flight requests are still served; awaited before close() resolves, bounded
   * by the shutdown timeout. A throw is reported to onError and the shutdown goes on.
   */
  onShutdown?: () => void | Promise<void>;
}

export interface UnixSocketOptions {
  path: string;
  /** File mode applied after bind: 0o660 or "660" lets the socket's group connect. Default: the umask's. */
  mode?: number | string;
  /** Serve TLS (h2 + http/1.1 by ALPN) on the socket instead of cleartext h1 + h2c. */
  tls?: boolean;
}

export interface InheritedSocketOptions {
  /** The descriptor: 3, "3" or "fd://3". */
  fd: number | string;
  /** TLS or cleartext; default TLS for a TCP socket when serve() has TLS, cleartext for a Unix socket. */
  tls?: boolean;
}

/** What ACME adds to ServerStats, named after the manager's own stats(): present only when ACME is on. */
export interface AcmeServerStats {
  /** Certificates obtained, renewals done and failed attempts (issuance or renewal) since the start. */
  acmeIssued: number;
  acmeRenewed: number;
  acmeFailures: number;
  /** Expiry of the CA-issued certificate served (Unix seconds); absent while a placeholder is served. */
  acmeNotAfterSeconds?: number;
  /** When its renewal is due (Unix seconds); absent before the first certificate. */
  acmeRenewAfterSeconds?: number;
}

/** Counters for introspection (and the optional /metrics endpoint). All return to zero when idle. */
export interface ServerStats extends Partial<AcmeServerStats> {
  connections: number;
  h1Connections: number;
  h2Connections: number;
  /** Open HTTP/3 (QUIC) connections. */
  h3Connections: number;
  openStreams: number;
  inFlightRequests: number;
  pendingOutputBytes: number;
  totalRequests: number;
  totalErrors: number;
  /** Open WebSockets, and messages received and sent by them (0 without a `websocket` handler). */
  webSockets: number;
  webSocketMessagesIn: number;
  webSocketMessagesOut: number;
}

export interface Server {
  /** Resolves once every listener is bound (with `acme`: and the first certificate is obtained or loaded). */
  ready: Promise<void>;
  /** Bound URLs, e.g. ["https://localhost:8443/", "http://localhost:8080/"] (valid after ready). */
  urls: string[];
  /** Actual bound TLS port (useful with port 0); cleartext port in httpPort. */
  port: number;
  httpPort: number | undefined;
  /** The UDP port serving HTTP/3 (the TLS port), or undefined when HTTP/3 is off (valid after ready). */
  http3Port: number | undefined;
  /** Graceful: stop accepting, GOAWAY / connection: close, wait for in-flight up to timeout (ms), then close. */
  close(timeoutMs?: number): Promise<void>;
  /** Re-read certificates (SIGHUP). */
  reload(): Promise<void>;
  stats(): ServerStats;
  /** Sends a message to every WebSocket subscribed to `topic` (ws.subscribe()); returns how many got it. */
  publish(topic: string, data: string | ArrayBufferView | ArrayBuffer): number;
  /** Human-readable TLS facts for a start banner (profile, versions, certificate subject, expiry); [] without TLS. */
  describeTls(): string[];
}
