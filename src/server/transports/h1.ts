/**
 * HTTP/1.1: a node:http Server that never listens. Sockets (TLS after ALPN chose http/1.1, or cleartext after the
 * h2c sniff) are handed to it with emit('connection'), so llhttp does the parsing, keep-alive and pipelining.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { ConnectionFacts, RequestInfo } from '../context.js';
import type { ServerContext, TrackedConnection } from '../context.js';
import { ClientAbortError, LazyRequest, PayloadTooLargeError, requestView, type BodySource } from '../request.js';
import { Exchange, type ResponseHead, type ResponseWriter } from '../core/exchange.js';
import { SocketTunnel } from '../core/socket-tunnel.js';
import type { Tunnel } from '../core/tunnel.js';
import type { PendingUpgrade, UpgradeFacts } from '../websocket/upgrade.js';

const kFacts = Symbol('httpsd.connectionFacts');
const kTracked = Symbol('httpsd.h1Connection');

/** Set once the connection is closing after the current response: requests parsed after it are dropped. */
const kNoMoreRequests = Symbol('httpsd.noMoreRequests');

type H1Socket = Socket & { [kFacts]?: ConnectionFacts; [kTracked]?: H1Connection; [kNoMoreRequests]?: boolean };

/**
 * How much of an unread request body the server reads and drops after the response to keep the connection for the
 * next request (the bound Go's net/http uses). Beyond it the connection is closed instead: a client sending a body
 * nobody reads costs the server a close, never an unbounded read.
 */
export const DISCARD_AFTER_RESPONSE = 256 * 1024;

/** Reads an IncomingMessage in paused mode: llhttp stops reading the socket while the app does not read. */
class H1BodySource implements BodySource {
  private ended = false;
  private error: unknown = undefined;
  private received = 0;
  /** The app asked for bytes at least once: it consumes the body (maybe while its response streams). */
  private touched = false;
  /** Bytes dropped since discarding began, and how many may be before the connection must close. */
  private discarded = 0;
  private discardBudget = -1;
  /** The rest of the body will not be read: the connection closes after the response. */
  mustClose = false;
  private resolveWaiter: ((chunk: Uint8Array | null) => void) | undefined;
  private rejectWaiter: ((error: unknown) => void) | undefined;
  private readonly onReadable = () => this.wake();
  private readonly onDiscarded = (chunk: Buffer) => this.countDiscarded(chunk.byteLength);

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly maxBodySize: number,
    /** Content-Length, or -1 for a chunked body. */
    private readonly declaredLength: number,
    /** More arrived than may be discarded: the connection cannot be kept. */
    private readonly onDiscardOverflow: () => void,
  ) {
    req.on('readable', this.onReadable);
    req.on('end', () => {
      this.ended = true;
      this.wake();
    });
    req.on('error', (error) => this.fail(error));
    req.on('close', () => {
      if (!req.complete) this.fail(new ClientAbortError());
    });
  }

  /** Every byte of the body has arrived (read by the app or not). */
  get complete(): boolean {
    return this.ended || this.req.complete;
  }

  fail(error: unknown): void {
    if (this.error !== undefined || this.ended) return;
    this.error = error;
    const reject = this.rejectWaiter;
    this.resolveWaiter = this.rejectWaiter = undefined;
    reject?.(error);
  }

  /** A chunk, null at the end, undefined when nothing is buffered yet. Throws on error. */
  private tryRead(): Uint8Array | null | undefined {
    if (this.error !== undefined) throw this.error;
    this.touched = true;
    const chunk = this.req.read() as Buffer | null;
    if (chunk !== null) {
      this.received += chunk.byteLength;
      if (this.received > this.maxBodySize) {
        // RFC 9110 §15.5.14: the rest is never read, so the 413 closes the connection.
        const error = new PayloadTooLargeError(this.maxBodySize);
        this.mustClose = true;
        this.error = error;
        throw error;
      }
      return chunk;
    }
    return this.ended ? null : undefined;
  }

  private wake(): void {
    const resolve = this.resolveWaiter;
    const reject = this.rejectWaiter;
    if (resolve === undefined || reject === undefined) return;
    // Taken before tryRead: anything it calls may clear the waiters.
    this.resolveWaiter = this.rejectWaiter = undefined;
    let chunk: Uint8Array | null | undefined;
    try {
      chunk = this.tryRead();
    } catch (error) {
      reject(error);
      return;
    }
    if (chunk === undefined) {
      this.resolveWaiter = resolve;
      this.rejectWaiter = reject;
      return;
    }
    resolve(chunk);
  }

  read(): Uint8Array | null | Promise<Uint8Array | null> {
    let chunk: Uint8Array | null | undefined;
    try {
      chunk = this.tryRead();
    } catch (error) {
      return Promise.reject(error);
    }
    if (chunk !== undefined) return chunk;
    return new Promise((resolve, reject) => {
      this.resolveWaiter = resolve;
      this.rejectWaiter = reject;
    });
  }

  /** The app gave up on the body: the rest is dropped, the whole body still bounded by maxBodySize. */
  cancel(): void {
    this.touched = true;
    this.discard(this.maxBodySize - this.received);
  }

  /**
   * Just before the response head. A body the app never touched with more than DISCARD_AFTER_RESPONSE still to come
   * is not worth reading: the response says `connection: close` (as Go's net/http does). A body the app is reading
   * gets the benefit of the doubt: it usually ends while the response streams.
   */
  closeBeforeResponse(streamTaken: boolean): boolean {
    if (!this.mustClose && !this.complete && !this.touched && !streamTaken && this.declaredLength >= 0) {
      this.mustClose = this.declaredLength - this.received - this.req.readableLength > DISCARD_AFTER_RESPONSE;
    }
    return this.mustClose;
  }

  /** The response is written: what the app left unread is dropped, at most DISCARD_AFTER_RESPONSE more bytes. */
  responseFinished(): void {
    if (this.complete) return;
    // A handler still waiting for the body after its own response is done would wait forever otherwise.
    this.fail(new ClientAbortError('the request body was discarded after the response'));
    if (this.mustClose) {
      // The connection closes: keep reading (and dropping) so the close is a lingering one (RFC 9112 §9.6).
      this.req.off('readable', this.onReadable);
      this.req.resume();
      this.onDiscardOverflow();
      return;
    }
    const budget = this.discarded + DISCARD_AFTER_RESPONSE;
    this.discard(this.discardBudget < 0 ? budget : Math.min(this.discardBudget, budget));
  }

  /**
   * Reads and drops the rest. node:http's own discarding (req.resume() once the response is done) does nothing while
   * a 'readable' listener is attached, so that listener goes first; without this the parser never reaches the next
   * request and the keep-alive connection hangs until the idle timeout.
   */
  private discard(budget: number): void {
    this.discardBudget = budget;
    if (this.complete || this.mustClose) return;
    this.req.off('readable', this.onReadable);
    this.req.off('data', this.onDiscarded);
    this.req.on('data', this.onDiscarded);
    this.req.resume();
  }

  private countDiscarded(bytes: number): void {
    this.discarded += bytes;
    if (this.discarded > this.discardBudget && !this.mustClose) {
      this.mustClose = true;
      this.onDiscardOverflow();
    }
  }
}

/** How long a graceful shutdown waits for the first request of a connection accepted before it (ms). */
const FIRST_REQUEST_GRACE_MS = 5000;

/** Tracks one h1 socket for stats, the write-progress sweep and graceful shutdown. */
class H1Connection implements TrackedConnection {
  active = 0;
  closing = false;
  /** Requests whose response is not finished, including pipelined ones node:http has not attached yet. */
  readonly exchanges = new Set<H1ResponseWriter>();
  requests = 0;
  /** The socket became a tunnel (a WebSocket) after a 101: the WebSocket hub closes it, not the HTTP shutdown. */
  tunnelled = false;
  /** node:http times a request head only from its first byte: a connection that never sends one is ours to end. */
  firstRequestTimer: NodeJS.Timeout | undefined;
  private lastBytesWritten = 0;
  private lastProgress = Date.now();

  constructor(
    readonly socket: Socket,
    private readonly context: ServerContext,
  ) {}

  pendingOutputBytes(): number {
    return this.socket.writableLength;
  }

  shutdown(): void {
    this.closing = true;
    if (this.active !== 0 || this.tunnelled) return;
    if (this.requests > 0) {
      this.socket.end();
      return;
    }
    // Accepted but no request read yet: as far as the client knows its first request may be on its way, and ending
    // the socket now resets it (HTTP/2 has a two-step GOAWAY for this race, RFC 9113 §6.8; HTTP/1.1 has none). Like
    // Go's net/http (golang/go#22682), such a connection counts as idle only after a grace period; a request that
    // arrives meanwhile is answered with `connection: close`.
    const grace = setTimeout(() => {
      if (this.requests === 0) this.socket.end();
    }, FIRST_REQUEST_GRACE_MS);
    grace.unref();
    this.socket.once('close', () => clearTimeout(grace));
  }

  destroy(): void {
    this.socket.destroy();
  }

  sweep(now: number): void {
    // Zero-window slow read: bytes queued for a client that does not read, with no progress for too long.
    const written = this.socket.bytesWritten;
    if (this.socket.writableLength === 0 || written !== this.lastBytesWritten) {
      this.lastBytesWritten = written;
      this.lastProgress = now;
      return;
    }
    if (now - this.lastProgress > this.context.limits.writeProgressTimeout) this.socket.destroy();
  }

  /** The socket closed: every pending request (even queued pipelined ones, which get no 'close') is aborted. */
  socketClosed(): void {
    for (const exchange of [...this.exchanges]) exchange.clientGone();
  }

  requestDone(): void {
    this.active--;
    if (this.closing && this.active === 0 && !this.tunnelled) this.socket.end();
  }
}

/**
 * Writes one response on node:http's ServerResponse for the exchange core: the head (with HTTP/1.1 framing),
 * body chunks with the socket's backpressure, chunked trailers, and the abort that closes the connection.
 */
class H1ResponseWriter implements ResponseWriter {
  readonly family = 'h1';
  readonly keepsStringBodies = true;
  exchange!: Exchange;

  constructor(
    private readonly context: ServerContext,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly connection: H1Connection,
    private readonly source: H1BodySource | null,
    /**
     * For a request node:http handed over as an 'upgrade' (its parser is gone): the bytes that followed the head,
     * already the new protocol's. Undefined for ordinary requests, which cannot switch.
     */
    private readonly upgradeHead: Buffer | undefined,
  ) {}

  get closed(): boolean {
    return this.res.destroyed;
  }

  /** Trailers need chunked framing (RFC 9112 §7.1.2): a body and an HTTP/1.1 client. */
  acceptsTrailers(hasBody: boolean): boolean {
    return hasBody && this.req.httpVersionMinor === 1;
  }

  writeInformational(status: number, fields: string[]): void {
    const res = this.res;
    // RFC 9110 §15.2: a server must not send a 1xx response to an HTTP/1.0 client.
    if (res.headersSent || this.req.httpVersionMinor === 0) return;
    // Written raw before the final head (RFC 9110 §15.2), 103 included: the fields were validated already, so
    // node:http's own early-hints checks (which throw) have nothing left to refuse.
    let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Informational'}\r\n`;
    for (let i = 0; i < fields.length; i += 2) head += `${fields[i]}: ${fields[i + 1]}\r\n`;
    (res as unknown as { _writeRaw(data: string, encoding: string): void })._writeRaw(head + '\r\n', 'latin1');
  }

  private writeFramedHead(head: ResponseHead): void {
    const fields = head.fields;
    if (this.connection.closing || this.context.closing) fields.push('connection', 'close');
    const trailers = head.trailers;
    if (trailers !== undefined) {
      // Chunked framing carries the trailers: drop the length we would otherwise send.
      const at = fields.indexOf('content-length');
      if (at >= 0 && at % 2 === 0) fields.splice(at, 2);
      head.contentLength = -1;
      if (typeof trailers !== 'function') {
        // RFC 9110 §6.6.2: announce the trailer fields that will follow.
        const names = new Set<string>();
        for (let i = 0; i < trailers.length; i += 2) names.add(trailers[i]!);
        if (names.size > 0) fields.push('trailer', [...names].join(', '));
      }
    }
    this.res.writeHead(head.status, fields);
  }

  writeHead(head: ResponseHead): void {
    this.writeFramedHead(head);
    if (head.endsMessage) this.res.end();
  }

  writeWhole(head: ResponseHead, body: string | Uint8Array): void {
    this.writeFramedHead(head);
    // One write: node:http sends head and body as a single chunk (one TLS record, no writev).
    this.res.end(body);
  }

  writeData(chunk: Uint8Array): boolean {
    return this.res.write(chunk);
  }

  /** Waits for the socket to drain; a client that stops reading is cut off after writeProgressTimeout. */
  waitWritable(): Promise<void> {
    const res = this.res;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        res.destroy();
        reject(new ClientAbortError('no write progress: client stopped reading'));
      }, this.context.limits.writeProgressTimeout);
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onClose = () => {
        cleanup();
        reject(new ClientAbortError());
      };
      const cleanup = () => {
        clearTimeout(timer);
        res.off('drain', onDrain);
        res.off('close', onClose);
      };
      res.on('drain', onDrain);
      res.on('close', onClose);
    });
  }

  end(trailers: string[] | undefined): void {
    const res = this.res;
    if (trailers !== undefined) {
      const pairs: [string, string][] = [];
      for (let i = 0; i < trailers.length; i += 2) pairs.push([trailers[i]!, trailers[i + 1]!]);
      res.addTrailers(pairs);
    }
    res.end();
  }

  abort(error: unknown): void {
    const res = this.res;
    if (error instanceof ClientAbortError) {
      res.destroy();
      return;
    }
    // The only way to signal a broken response on HTTP/1.1 is to close the connection (RFC 9112 §8: the client
    // sees an incomplete message). What was already written still goes out, nothing more does, and the socket's
    // 'close' completes the exchange.
    const socket = res.socket;
    if (socket !== null && !socket.destroyed && res.headersSent) socket.destroySoon();
    else res.destroy();
  }

  released(): void {
    this.connection.exchanges.delete(this);
    this.connection.requestDone();
  }

  upgradeFacts(): UpgradeFacts {
    return { family: 'h1', httpVersion: this.req.httpVersion };
  }

  /** RFC 9110 §15.2.2, RFC 6455 §4.2.2: 101, then the socket carries the new protocol from the next byte on. */
  switchProtocols(upgrade: PendingUpgrade): Tunnel | undefined {
    const res = this.res;
    const socket = this.req.socket;
    if (this.upgradeHead === undefined || res.headersSent || socket.destroyed) return undefined;
    let head = 'HTTP/1.1 101 Switching Protocols\r\n';
    for (const [name, value] of upgrade.headers) head += `${name}: ${value}\r\n`;
    // The response object never writes: the socket is the tunnel's now.
    res.detachSocket(socket);
    this.connection.tunnelled = true;
    socket.write(head + '\r\n', 'latin1');
    return new SocketTunnel(socket, this.upgradeHead, 'http/1.1');
  }

  /** Watches for the client going away while the response is pending or streaming. */
  watch(): void {
    this.connection.exchanges.add(this);
    this.res.on('close', () => {
      if (this.res.writableFinished) this.exchange.delivered();
      else this.clientGone();
    });
  }

  clientGone(): void {
    this.source?.fail(new ClientAbortError());
    this.exchange.peerGone(new ClientAbortError());
  }
}

export function createHttp1Server(context: ServerContext, scheme: 'https' | 'http'): http.Server {
  const limits = context.limits;
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeout,
      requestTimeout: limits.requestTimeout,
      keepAliveTimeout: limits.idleTimeout,
      maxHeaderSize: limits.maxHeaderSize,
      // How often node:http checks headersTimeout/requestTimeout: fine enough for short test limits.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeout / 4))),
      noDelay: true,
      // Checked in handleRequest with the other Host rules, so that nothing pipelined behind the 400 is served.
      requireHostHeader: false,
    },
    (req, res) => handleRequest(context, scheme, req, res),
  );
  server.on('clientError', onClientError);
  server.on('connect', refuseConnect);
  // Only with a WebSocket handler: without an 'upgrade' listener node:http serves Upgrade requests as ordinary
  // ones, which is what an application without WebSockets gets.
  if (context.webSockets !== undefined) {
    server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => handleUpgradeRequest(context, scheme, req, socket, head));
  }
  // This server never listens; 'listening' starts node:http's connection tracking (headers/request timeouts,
  // closeIdleConnections) for the sockets we hand it.
  server.emit('listening');
  return server;
}

const kErrorAnswered = Symbol('httpsd.clientErrorAnswered');
/** How long a connection that got an error response may keep sending before it is cut. */
const LINGER_MS = 2000;

/**
 * A request node:http could not parse (or that timed out). Answers with the right status, then closes "lingering"
 * (RFC 9112 §9.6): our side ends, the rest of the client's input is read and dropped for a moment. Closing with
 * unread input would make the kernel send a TCP RST, which can destroy the error response before the client reads it.
 */
function onClientError(error: Error & { code?: string }, socket: Socket & { [kErrorAnswered]?: boolean }): void {
  // Input that keeps arriving after the answer reports the same error again: the linger timer handles it.
  if (socket[kErrorAnswered] || socket.destroyed) return;
  socket[kErrorAnswered] = true;
  const code = error.code;
  if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  let status = 400;
  if (code === 'HPE_HEADER_OVERFLOW') status = 431; // RFC 6585 §5
  else if (code === 'ERR_HTTP_REQUEST_TIMEOUT') status = 408; // RFC 9110 §15.5.9
  else if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') status = 413;
  // A slow client (408): nothing worth lingering for.
  answerAndClose(socket, status, status !== 408);
}

/**
 * CONNECT asks the server to become a tunnel (RFC 9110 §9.3.6), a proxy function httpsd does not have for any
 * target: 501 Not Implemented (RFC 9110 §15.6.2), never the fetch handler. Not 405: its Allow header would have to
 * list the methods of the target resource, and an authority-form target names no resource here (nor does the
 * server know which methods the handler takes). node:http hands CONNECT over as a detached socket ('connect').
 */
function refuseConnect(_req: http.IncomingMessage, socket: Socket): void {
  answerAndClose(socket, 501, true);
}

/** Writes a bodiless status with `connection: close` on a socket node:http no longer parses, and closes it. */
function answerAndClose(socket: Socket, status: number, linger: boolean): void {
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  if (!linger) {
    socket.destroySoon();
    return;
  }
  socket.on('data', () => {});
  socket.resume();
  lingeringClose(socket);
}

const kLingering = Symbol('httpsd.lingering');

/**
 * Ends our side and destroys the socket once the client closes too, or after LINGER_MS. Whoever reads the socket
 * (node:http's parser, or the caller) keeps dropping its input meanwhile, so no RST destroys the last response.
 */
function lingeringClose(socket: H1Socket & { [kLingering]?: boolean }): void {
  socket[kNoMoreRequests] = true;
  if (socket[kLingering] || socket.destroyed) return;
  socket[kLingering] = true;
  if (!socket.writableEnded) socket.end();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** Hands an accepted socket to node:http and tracks it. */
export function acceptHttp1(context: ServerContext, server: http.Server, socket: Socket): void {
  const connection = new H1Connection(socket, context);
  (socket as H1Socket)[kTracked] = connection;
  context.protocolConnections.opened('http/1.1');
  context.live.add(connection);
  connection.firstRequestTimer = setTimeout(() => {
    if (connection.requests === 0) socket.destroy();
  }, context.limits.headersTimeout);
  connection.firstRequestTimer.unref();
  socket.once('close', () => {
    clearTimeout(connection.firstRequestTimer);
    context.protocolConnections.closed('http/1.1');
    context.live.delete(connection);
    connection.socketClosed();
  });
  if (context.closing) connection.closing = true;
  // node:http would read a TLS socket's handle natively (parser.consume). When pipelined responses back up it
  // pauses the parser and the socket, but TLS still hands over records it has already decrypted, which the paused
  // parser rejects (HPE_PAUSED): a client that pipelines and reads every answer had its connection cut. Through
  // 'data' events instead, a paused socket keeps those bytes until the parser resumes.
  const handle = (socket as unknown as { _handle?: { _consumed?: boolean } })._handle;
  if (handle) handle._consumed = true;
  server.emit('connection', socket);
}

/**
 * RFC 9112 §3.2 / RFC 3986 §3.2.2: Host = uri-host [ ":" port ], where uri-host is an IP-literal in brackets or a
 * reg-name / IPv4address (unreserved, pct-encoded and sub-delims characters). Empty is allowed (no authority).
 */
const VALID_HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

/** The status for a request head RFC 9112 tells a server to refuse that llhttp lets through, or 0. */
function headRefusal(req: http.IncomingMessage, target: string, host: string | undefined, hosts: number, otherCoding: boolean): number {
  // llhttp accepts "HTTP/2.0" in a request line; this is an HTTP/1.x parser (RFC 9110 §15.6.6).
  if (req.httpVersionMajor !== 1) return 505;
  // RFC 9112 §3.2: an HTTP/1.1 request without Host, or any with more than one Host field line or an invalid one,
  // MUST get 400.
  if (hosts > 1 || (host !== undefined && !VALID_HOST.test(host)) || (hosts === 0 && req.httpVersionMinor === 1)) return 400;
  // RFC 9112 §6.1: a transfer coding the server does not understand SHOULD get 501.
  if (otherCoding) return 501;
  // RFC 9112 §3.2.4: asterisk-form is only for OPTIONS.
  if (target === '*' && req.method !== 'OPTIONS') return 400;
  return 0;
}

/** The authority of a request without Host (HTTP/1.0): the address and port the client connected to. */
function localAuthority(facts: ConnectionFacts): string {
  const address = facts.localAddress.includes(':') ? `[${facts.localAddress}]` : facts.localAddress;
  return `${address}:${facts.localPort}`;
}

/**
 * A request with `Upgrade` that node:http detached from its parser: it gets a response object of its own on the
 * socket, so the handler runs as for any request. An upgrade answer switches the socket to a tunnel; any other
 * response is written normally and the connection closes after it (nothing after the head was parsed).
 */
function handleUpgradeRequest(context: ServerContext, scheme: 'https' | 'http', req: http.IncomingMessage, socket: Socket, head: Buffer): void {
  socket.pause();
  const start = () => {
    if (socket.destroyed) return;
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.once('finish', () => {
      // Input after the response is dropped while our side closes (RFC 9112 §9.6).
      socket.on('data', () => {});
      socket.resume();
      lingeringClose(socket);
    });
    handleRequest(context, scheme, req, res, head);
  };
  // A response still being written for an earlier request owns the socket until it is done.
  const busy = (socket as Socket & { _httpMessage?: http.ServerResponse | null })._httpMessage;
  if (busy) busy.once('close', start);
  else start();
}

function handleRequest(
  context: ServerContext,
  scheme: 'https' | 'http',
  req: http.IncomingMessage,
  res: http.ServerResponse,
  upgradeHead?: Buffer,
): void {
  const socket = req.socket as H1Socket;
  if (socket[kNoMoreRequests]) {
    // Pipelined behind a refused request or a body the server gave up on: the connection is closing and what
    // follows may be the smuggled part of a malformed message. Never served.
    req.resume();
    return;
  }
  const connection = socket[kTracked]!;
  connection.active++;
  if (connection.requests++ === 0) clearTimeout(connection.firstRequestTimer);
  const facts = (socket[kFacts] ??= new ConnectionFacts(socket, 'http/1.1', scheme));
  const raw = req.rawHeaders;

  // One pass over the head for the fields the adapter needs (llhttp has checked the framing ones already).
  let host: string | undefined;
  let hosts = 0;
  let contentLength: string | undefined;
  let chunked = false;
  let otherCoding = false;
  let upgrade = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4) {
      if (name === 'host' || name === 'Host' || name.toLowerCase() === 'host') {
        host = raw[i + 1];
        hosts++;
      }
    } else if (name.length === 14) {
      if (name.toLowerCase() === 'content-length') contentLength = raw[i + 1];
    } else if (name.length === 17) {
      if (name.toLowerCase() === 'transfer-encoding') {
        chunked = true;
        // llhttp guarantees chunked is the final coding; anything before it is a coding we cannot undo.
        if (raw[i + 1]!.trim().toLowerCase() !== 'chunked') otherCoding = true;
      }
    } else if (name.length === 7) {
      if (name.toLowerCase() === 'upgrade') upgrade = true;
    }
  }
  const method = req.method!;
  let source: H1BodySource | null = null;
  const declaredLength = contentLength === undefined ? 0 : Number(contentLength);
  if ((declaredLength > 0 || chunked) && upgradeHead === undefined) {
    source = new H1BodySource(req, context.limits.maxBodySize, chunked ? -1 : declaredLength, () => {
      // Too much left to drop: once the response is out the connection goes; until then, stop reading.
      if (res.writableFinished) lingeringClose(socket);
      else req.pause();
    });
    res.once('finish', () => source!.responseFinished());
  }
  const target = req.url ?? '/';
  let authority = host || localAuthority(facts);
  let headers = raw;
  let refusal = headRefusal(req, target, host, hosts, otherCoding);
  if (refusal === 0 && target.charCodeAt(0) !== 47 /* / */ && target !== '*') {
    // Absolute-form (llhttp refuses authority-form outside CONNECT). RFC 9112 §3.2.2 / §3.3: the target URI is the
    // request-target and Host is ignored; the handler's Host header says the same as its URL.
    const absolute = URL.canParse(target) ? new URL(target) : undefined;
    if (absolute === undefined || absolute.host === '' || !/^https?:$/.test(absolute.protocol)) refusal = 400;
    else {
      authority = absolute.host;
      headers = raw.slice();
      for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() === 'host') headers[i + 1] = authority;
    }
  }
  const request = new LazyRequest(method, scheme, authority, target, headers, 'h1', source);
  const writer = new H1ResponseWriter(context, req, res, connection, source, upgradeHead);
  const exchange = new Exchange(context, facts, request, writer);
  writer.exchange = exchange;
  if (upgrade) {
    // No upgrade is performed, but llhttp stops at the end of an Upgrade request and node:http drops whatever
    // followed it in the same read: a request pipelined behind it would never be answered. Close after this one.
    res.shouldKeepAlive = false;
    socket[kNoMoreRequests] = true;
  }
  const respond = source === null ? (response: Response) => exchange.respond(response) : (response: Response) => {
    if (!source.complete) {
      // node:http ends a `connection: close` response with destroySoon(): with body bytes still unread the kernel
      // would answer them with a RST that can destroy the response before the client reads it.
      socket.destroySoon = () => lingeringClose(socket);
      // A body stream the app took (e.g. `new Response(request.body)`) is read by the response itself.
      if (source.closeBeforeResponse(requestView.bodyStreamTaken(request))) res.shouldKeepAlive = false;
    }
    return exchange.respond(response);
  };

  if (refusal !== 0) {
    res.shouldKeepAlive = false;
    socket[kNoMoreRequests] = true;
    respond(new Response(`${http.STATUS_CODES[refusal]}\n`, { status: refusal, headers: { 'content-type': 'text/plain; charset=utf-8' } }));
    writer.watch();
    return;
  }
  if (declaredLength > context.limits.maxBodySize) {
    // RFC 9110 §15.5.14: refuse before reading any of it.
    respond(context.failure(new PayloadTooLargeError(context.limits.maxBodySize), request));
    writer.watch();
    return;
  }
  const info = new RequestInfo(facts, exchange, context);
  const result = context.invoke(request, info);
  if (result instanceof Promise) {
    writer.watch();
    result.then(respond);
    return;
  }
  if (respond(result) && source === null) exchange.delivered();
  else writer.watch();
}
