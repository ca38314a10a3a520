/**
 * HTTP/1.1 on the project's sans-IO engine (src/h1): TLS after ALPN chose http/1.1 (or offered none), cleartext after
 * the h2c sniff. Socket bytes → engine.receive() → events → requests through the protocol-neutral exchange core, as
 * on HTTP/2 and HTTP/3.
 *
 * - Output: everything the engine queued during one event-loop turn leaves in one socket write (one TLS record for
 *   small responses), from the read that produced it or from one shared setImmediate for asynchronous responses.
 * - Pipelining: the engine parses the next request only once the response before it ended (RFC 9112 §9.3.2), and
 *   stops asking for input beyond maxPipelineBytes; while output for a peer that does not read is above
 *   OUTPUT_HIGH_WATER_MARK, no further request is parsed and the socket is not read.
 * - Request bodies: pushed into a queue the application pulls; above BODY_HIGH_WATER_MARK unread bytes the socket is
 *   paused, so a slow reader holds the client back through TCP.
 * - Timeouts: one timer per connection for the current phase (head: headersTimeout, from the accept or the first
 *   byte of a request; body: requestTimeout from the head; between requests: idleTimeout); write progress is swept.
 */
import { METHODS } from 'node:http';
import { Socket } from 'node:net';
import { H1Connection } from '../../h1/connection.js';
import { reasonPhrase } from '../../h1/status.js';
import type { H1Event, RequestHead, ResponseHeadOptions } from '../../h1/types.js';
import { ConnectionFacts, RequestInfo, type ServerContext, type TrackedConnection } from '../context.js';
import { ClientAbortError, LazyRequest, PayloadTooLargeError, QueuedBodySource, requestView } from '../request.js';
import { Exchange, type ResponseHead, type ResponseWriter } from '../core/exchange.js';
import { SocketTunnel } from '../core/socket-tunnel.js';
import type { Tunnel } from '../core/tunnel.js';
import type { PendingUpgrade, UpgradeFacts } from '../websocket/upgrade.js';
import { NativeResponse } from '../response.js';

/**
 * How much of an unread request body the server reads and drops after the response to keep the connection for the
 * next request (the bound Go's net/http uses). Beyond it the connection is closed instead: a client sending a body
 * nobody reads costs the server a close, never an unbounded read.
 */
export const DISCARD_AFTER_RESPONSE = 256 * 1024;
/** How long a graceful shutdown waits for the first request of a connection accepted before it (ms). */
const FIRST_REQUEST_GRACE_MS = 5000;
/** How long a connection whose last response went out may keep sending (dropped) before it is cut (ms). */
const LINGER_MS = 2000;
/**
 * Output queued for one peer (socket and engine) above which no further pipelined request is parsed and the socket
 * is not read: a client that pipelines without reading cannot make the server hold its answers.
 */
const OUTPUT_HIGH_WATER_MARK = 256 * 1024;
/** Output up to this size is joined into one buffer for the write; larger output goes out as a vectored write. */
const COALESCE_BYTES = 16 * 1024;
/** Request body bytes received and not yet read by the application above which the socket is not read. */
const BODY_HIGH_WATER_MARK = 512 * 1024;
/**
 * The methods llhttp (node:http) knows: anything else is refused with 400, so an intermediary built on llhttp in
 * front of the server and the server itself read the same requests.
 */
const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);
/** The core validated every field (lowercase token names, valid values): the engine does not check them again. */
const VALIDATED: ResponseHeadOptions = Object.freeze({ validated: true });
const VALIDATED_READING: ResponseHeadOptions = Object.freeze({ validated: true, readingContent: true });

const enum Phase {
  /** Waiting for (the rest of) a request head: headersTimeout. */
  Head,
  /** A request is being answered or its body read: requestTimeout while the body arrives. */
  Request,
  /** Between requests on a kept-alive connection: idleTimeout. */
  Idle,
}

/**
 * Reads into one shared buffer instead of a fresh one per read: what net.Socket's `onread` option does for client
 * sockets, applied to accepted ones. Node allocates a buffer (memory outside the heap, freed by the garbage
 * collector) and runs the Readable machinery (a push, a 'data' event, a nextTick to read more) for every read; here
 * each read is one call into the session, and the engine copies what it keeps (a partial head, pipelined input,
 * body bytes) before the buffer is read into again. Node exposes no public switch for accepted sockets, so the
 * symbols are found on a probe socket given the option; when they are not found (another Node.js), sockets are read
 * through 'data' events as before.
 */
const READ_BUFFER_BYTES = 64 * 1024;
let readBuffer: Buffer | undefined;
/**
 * What a read is parsed from, one per level of nesting. Node reads into the shared buffer of every socket, and one
 * read can happen inside another: an empty write on a TLS socket makes it decrypt what it holds at once (TLSWrap's
 * DoWrite calls ClearOut), which can happen while a request read from another socket is being handled. Each read is
 * therefore copied out of the shared buffer before anything runs, into the buffer of its level, so that a nested
 * read can never overwrite the bytes of the read it interrupted.
 */
const parseBuffers: Buffer[] = [];
let readDepth = 0;
interface UserBufferSymbols {
  buffer: symbol;
  callback: symbol;
  generator: symbol;
}
const userBuffer: UserBufferSymbols | undefined = findUserBufferSymbols();
function findUserBufferSymbols(): UserBufferSymbols | undefined {
  try {
    const buffer = Buffer.alloc(1);
    const callback = (): void => {};
    // The option exists for client sockets (net.connect({ onread })); the types name it on connect options only.
    const probe = new Socket({ onread: { buffer, callback } } as ConstructorParameters<typeof Socket>[0]) as unknown as Record<symbol, unknown>;
    const symbols = Object.getOwnPropertySymbols(probe);
    const named = (description: string): symbol | undefined => symbols.find((symbol) => symbol.description === description);
    const found = { buffer: named('kBuffer'), callback: named('kBufferCb'), generator: named('kBufferGen') };
    (probe as unknown as Socket).destroy();
    if (found.buffer === undefined || found.callback === undefined || found.generator === undefined) return undefined;
    if (probe[found.buffer] !== buffer || probe[found.callback] !== callback || probe[found.generator] !== null) return undefined;
    return found as UserBufferSymbols;
  } catch {
    return undefined;
  }
}

/**
 * Sessions with output queued outside a socket read, flushed together by one setImmediate: one write per connection
 * and turn, and one immediate for all of them.
 */
let dirtySessions: H1Session[] = [];
let flushTicking = false;
function flushDirtySessions(): void {
  flushTicking = false;
  const sessions = dirtySessions;
  dirtySessions = [];
  for (let i = 0; i < sessions.length; i++) sessions[i]!.flush();
}

/** A request body: the engine's content events in, the application's reads out (which may invite 100-continue). */
class H1BodySource extends QueuedBodySource {
  /** The application asked for the body (read or cancelled it): it consumes the body, maybe while its response streams. */
  touched = false;

  constructor(
    private readonly session: H1Session,
    maxBodySize: number,
  ) {
    super(
      maxBodySize,
      () => session.bodyConsumed(),
      () => session.bodyConsumed(),
    );
  }

  override read(): Uint8Array | null | Promise<Uint8Array | null> {
    if (!this.touched) {
      this.touched = true;
      // RFC 9110 §10.1.1: a client that sent Expect: 100-continue waits for it before the content; inviting the
      // content only when it is read means a request answered without its body never makes the client send it.
      this.session.continueIfExpected();
    }
    return super.read();
  }

  override cancel(reason?: unknown): void {
    this.touched = true;
    super.cancel(reason);
  }
}

/** One request/response on the connection: the exchange core's writer onto the engine. */
class H1ResponseWriter implements ResponseWriter {
  readonly family = 'h1';
  /** Small string bodies are encoded by the engine straight into the one buffer that carries the whole response. */
  readonly keepsStringBodies = true;
  exchange!: Exchange;
  /** Every byte of the request content arrived (or there was none). */
  inputDone: boolean;
  /** The response is entirely with the engine. */
  outputDone = false;
  /** The final head is with the engine. */
  headSent = false;
  /** Cut off (or the connection is gone): nothing more is written for it. */
  gone = false;
  /** This response is the connection's last: it carries `connection: close`. */
  mustClose = false;
  /** When the request head arrived (ms), for requestTimeout: taken only for a request with a body. */
  readonly startedAt: number;

  constructor(
    private readonly session: H1Session,
    readonly head: RequestHead,
    readonly source: H1BodySource | null,
  ) {
    this.inputDone = source === null;
    this.startedAt = source === null ? 0 : Date.now();
  }

  get closed(): boolean {
    return this.gone || this.session.closed;
  }

  /** Trailers need chunked framing (RFC 9112 §7.1.2): a body and an HTTP/1.1 client. */
  acceptsTrailers(hasBody: boolean): boolean {
    return hasBody && this.head.minorVersion === 1;
  }

  writeInformational(status: number, fields: string[]): void {
    // The engine declines HTTP/1.0 clients (RFC 9110 §15.2) and anything after the final head.
    if (this.session.engine.sendInformational(status, fields)) this.session.scheduleFlush();
  }

  /** The final head; `end`: nothing follows, or the whole content, sent with the head as one message. */
  private sendHead(head: ResponseHead, end: boolean | Uint8Array | string): void {
    const fields = head.fields;
    if (this.mustClose || this.session.closing) fields.push('connection', 'close');
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
    const source = this.source;
    // A body the application is reading (maybe into this very response) gets the benefit of the doubt: whether the
    // connection persists is decided at the end of the response, when usually the whole body has been read.
    const reading = source !== null && !this.inputDone && (source.touched || requestView.bodyStreamTaken(this.exchange.request));
    const options = reading ? VALIDATED_READING : VALIDATED;
    if (typeof end === 'boolean') this.session.engine.sendHeaders(head.status, fields, end, options);
    else this.session.engine.sendResponse(head.status, fields, end, options);
    this.headSent = true;
  }

  writeHead(head: ResponseHead): void {
    this.sendHead(head, head.endsMessage);
    if (head.endsMessage) this.session.outputEnded(this);
    else this.session.scheduleFlush();
  }

  writeWhole(head: ResponseHead, body: string | Uint8Array): void {
    this.sendHead(head, body);
    this.session.outputEnded(this);
  }

  writeData(chunk: Uint8Array): boolean {
    const session = this.session;
    session.engine.sendData(chunk);
    session.scheduleFlush();
    return !session.outputBlocked();
  }

  /** Resolves when the socket drained below the mark, or the connection is gone (the core checks `closed`). */
  waitWritable(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => this.session.waitWritable(resolve));
  }

  end(trailers: string[] | undefined): void {
    const engine = this.session.engine;
    if (trailers !== undefined) engine.sendTrailers(trailers);
    else engine.endResponse();
    this.session.outputEnded(this);
  }

  abort(error: unknown): void {
    if (this.gone) return;
    this.gone = true;
    // RFC 9112 §8: a broken response can only be signalled by closing the connection (the client sees an incomplete
    // message). What was written still goes out, nothing more does; the socket's close completes the exchange.
    this.session.abortConnection(error instanceof ClientAbortError || !this.headSent);
  }

  released(): void {
    this.session.released(this);
  }

  upgradeFacts(): UpgradeFacts {
    return { family: 'h1', httpVersion: `1.${this.head.minorVersion}` };
  }

  /** RFC 9110 §15.2.2, RFC 6455 §4.2.2: 101, then the socket carries the new protocol from the next byte on. */
  switchProtocols(upgrade: PendingUpgrade): Tunnel | undefined {
    if (this.head.upgrade === undefined || this.headSent || this.closed) return undefined;
    const fields: string[] = [];
    for (const [name, value] of upgrade.headers) fields.push(name.toLowerCase(), value);
    this.session.engine.sendHeaders(101, fields, false);
    this.headSent = true;
    this.outputDone = true;
    return this.session.becomeTunnel();
  }

  /** The connection is gone: a pending read of the body fails, request.signal aborts, the response is abandoned. */
  connectionGone(error: Error): void {
    this.gone = true;
    if (!this.inputDone) this.source?.fail(error);
    this.exchange.peerGone(error);
  }
}

export class H1Session implements TrackedConnection {
  readonly engine: H1Connection;
  readonly facts: ConnectionFacts;
  closed = false;
  /** Graceful shutdown: the response in progress is the last (`connection: close`). */
  closing = false;
  /** The socket became a tunnel (a WebSocket) after a 101: the WebSocket hub closes it, not the HTTP shutdown. */
  tunnelled = false;
  /** The exchange whose request the engine holds (undefined between requests). */
  private current: H1ResponseWriter | undefined = undefined;
  private requests = 0;
  /** Handling events: a response that ends meanwhile lets the running loop parse the next request. */
  private dispatching = false;
  private flushScheduled = false;
  private readingPaused = false;
  /** Our side is closing (lingering close): input is read and dropped until the client closes or LINGER_MS. */
  private ending = false;
  private writableWaiter: (() => void) | undefined = undefined;
  private phase = Phase.Head;
  private phaseSince = Date.now();
  private deadline = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerAt = 0;
  private graceTimer: NodeJS.Timeout | undefined = undefined;
  private lingerTimer: NodeJS.Timeout | undefined = undefined;
  private lastBytesWritten = 0;
  private lastProgress = Date.now();
  private readonly onDataListener = (chunk: Buffer) => this.onData(chunk, true);
  private readonly onReadListener = (length: number, buffer: Buffer) => this.onRead(length, buffer);
  private readonly onEndListener = () => this.onEnd();
  private readonly onDrainListener = () => this.onDrain();
  private readonly timerCallback = () => this.onTimer();

  constructor(
    readonly context: ServerContext,
    readonly socket: Socket,
    readonly scheme: 'https' | 'http',
  ) {
    const limits = context.limits;
    this.facts = new ConnectionFacts(socket, 'http/1.1', scheme);
    // The head size bounds the work; the field count only stops floods of tiny fields.
    const maxFields = Math.max(100, Math.floor(limits.maxHeaderSize / 16));
    this.engine = new H1Connection({
      limits: {
        // maxHeaderSize counts as in node:http: target, names and values. The raw head may add each line's ": " and
        // CRLF (4 bytes a field line) and the request line's spaces, version and the final empty line.
        maxHeadContentBytes: limits.maxHeaderSize,
        maxHeadBytes: limits.maxHeaderSize + 4 * maxFields + 32,
        maxFields,
        maxDiscardBytes: DISCARD_AFTER_RESPONSE,
      },
      methods: KNOWN_METHODS,
      singleContentLength: true,
      knownVersionsOnly: true,
    });
    socket.setNoDelay?.(true);
    // Bytes the socket read before this session (already in its Readable buffer) still come as 'data'.
    socket.on('data', this.onDataListener);
    this.readIntoSharedBuffer();
    socket.on('end', this.onEndListener);
    socket.on('drain', this.onDrainListener);
    socket.on('close', () => this.onClose());
    socket.on('error', () => {});
    this.updateDeadline();
  }

  /** Switches the socket to reads into the shared buffer (see userBuffer), when this Node.js allows it. */
  private readIntoSharedBuffer(): void {
    const handle = (this.socket as unknown as { _handle?: { useUserBuffer?: (buffer: Uint8Array) => void } })._handle;
    if (userBuffer === undefined || typeof handle?.useUserBuffer !== 'function') return;
    readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES);
    const socket = this.socket as unknown as Record<symbol, unknown>;
    socket[userBuffer.buffer] = readBuffer;
    socket[userBuffer.callback] = this.onReadListener;
    socket[userBuffer.generator] = null;
    handle.useUserBuffer(readBuffer);
  }

  /**
   * `length` bytes read into the shared buffer. Returning false stops reading (as a full Readable would). After a
   * 101 the socket's reads cannot go back to Node's own buffers: they are handed to the Readable as copies, which is
   * what it would have received.
   */
  private onRead(length: number, buffer: Buffer): boolean {
    if (this.tunnelled) return this.socket.push(Buffer.from(buffer.subarray(0, length)));
    const bytes = (parseBuffers[readDepth] ??= Buffer.allocUnsafe(READ_BUFFER_BYTES)).subarray(0, length);
    bytes.set(buffer.subarray(0, length));
    readDepth++;
    try {
      this.onData(bytes, false);
    } finally {
      readDepth--;
    }
    return true;
  }

  pendingOutputBytes(): number {
    return this.socket.writableLength + this.engine.bufferedOutputBytes;
  }

  outputBlocked(): boolean {
    return this.socket.writableLength + this.engine.bufferedOutputBytes > OUTPUT_HIGH_WATER_MARK;
  }

  // ------------------------------------------------------------------ input

  /** `owned`: the chunk is this read's own (body bytes may be kept as views); else it is reused after the call. */
  onData(chunk: Buffer, owned: boolean): void {
    if (this.closed || this.tunnelled || this.ending) return;
    this.dispatching = true;
    try {
      this.handleEvents(this.engine.receive(chunk), owned ? chunk : undefined);
    } finally {
      this.dispatching = false;
    }
    this.drive();
    // Output of synchronous responses leaves with this read.
    this.flush();
  }

  private onEnd(): void {
    if (this.closed || this.tunnelled || this.ending) return;
    this.dispatching = true;
    try {
      this.handleEvents(this.engine.receiveEnd(), undefined);
    } finally {
      this.dispatching = false;
    }
    this.flush();
  }

  /** Parses pipelined requests the engine holds, one at a time as their predecessors' responses end. */
  private drive(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      const engine = this.engine;
      while (!this.closed && !this.tunnelled && engine.currentRequest === undefined && engine.bufferedInputBytes > 0 && !this.outputBlocked()) {
        const events = engine.pollEvents();
        if (events.length === 0) break;
        this.handleEvents(events, undefined);
      }
    } finally {
      this.dispatching = false;
    }
    this.updateDeadline();
    this.updateReading();
  }

  private handleEvents(events: H1Event[], chunk: Buffer | undefined): void {
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      switch (event.type) {
        case 'request':
          this.onRequest(event);
          break;
        case 'data': {
          const writer = this.current;
          const source = writer?.source;
          if (source === undefined || source === null) break;
          // Views into the socket's own chunk stay valid; views into the engine's buffer are reused: copy those.
          const data = chunk !== undefined && event.data.buffer === chunk.buffer ? event.data : Buffer.from(event.data);
          if (!source.push(data, data.byteLength)) {
            // RFC 9110 §15.5.14: over maxBodySize. The handler's read fails (413); the rest is never read.
            writer!.mustClose = true;
          }
          break;
        }
        case 'requestEnded': {
          const writer = this.current;
          if (writer !== undefined) {
            writer.inputDone = true;
            writer.source?.end();
          }
          break;
        }
        case 'inputEnded': {
          // The client half-closed: a body still arriving was cut short.
          const writer = this.current;
          if (writer !== undefined && !writer.inputDone) {
            writer.inputDone = true;
            writer.source?.fail(new ClientAbortError());
          }
          break;
        }
        case 'protocolError': {
          const writer = this.current;
          if (writer === undefined) break;
          if (!writer.inputDone) {
            writer.inputDone = true;
            writer.source?.fail(new ClientAbortError(`malformed request body: ${event.reason}`));
          }
          // The engine queued its error answer in place of the response still pending: that exchange is over.
          if (!writer.headSent) writer.connectionGone(new ClientAbortError(`malformed request: ${event.reason}`));
          break;
        }
        default:
          break;
      }
    }
  }

  private onRequest(head: RequestHead): void {
    const context = this.context;
    const facts = this.facts;
    this.requests++;
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    const method = head.method;
    const target = head.target;
    let authority = head.authority || localAuthority(facts);
    let fields = head.fields;
    let refusal = 0;
    if (method === 'CONNECT') {
      // CONNECT asks the server to become a tunnel (RFC 9110 §9.3.6), a proxy function httpsd does not have for any
      // target: 501 (RFC 9110 §15.6.2), never the fetch handler, and the connection closes (the client may already be
      // sending into the tunnel it asked for).
      refusal = 501;
      authority = localAuthority(facts);
    } else if (target.charCodeAt(0) !== 47 /* / */ && target !== '*') {
      // Absolute-form. RFC 9112 §3.2.2 / §3.3: the target URI is the request-target and Host is ignored; the
      // handler's Host header says the same as its URL.
      const absolute = URL.canParse(target) ? new URL(target) : undefined;
      if (absolute === undefined || absolute.host === '' || !/^https?:$/.test(absolute.protocol)) refusal = 400;
      else {
        authority = absolute.host;
        fields = fields.slice();
        for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'host') fields[i + 1] = authority;
      }
    }
    const source = head.bodyKind === 'none' ? null : new H1BodySource(this, context.limits.maxBodySize);
    const request = new LazyRequest(method, this.scheme, authority, target, fields, 'h1', source);
    const writer = new H1ResponseWriter(this, head, source);
    const exchange = new Exchange(context, facts, request, writer);
    writer.exchange = exchange;
    this.current = writer;
    // An Upgrade that is not performed: the bytes after the head may already be the other protocol's.
    if (head.upgrade !== undefined) writer.mustClose = true;
    if (refusal !== 0) {
      writer.mustClose = true;
      requestView.abort(request, new ClientAbortError('the request was refused'));
      exchange.respond(new NativeResponse(`${reasonPhrase(refusal)}\n`, { status: refusal, headers: { 'content-type': 'text/plain; charset=utf-8' } }));
      return;
    }
    if (head.contentLength > context.limits.maxBodySize) {
      // RFC 9110 §15.5.14: refuse before reading any of it; the connection closes rather than read the rest.
      writer.mustClose = true;
      const error = new PayloadTooLargeError(context.limits.maxBodySize);
      source?.fail(error);
      requestView.abort(request, error);
      exchange.respond(context.failure(error, request));
      return;
    }
    const result = context.invoke(request, new RequestInfo(facts, exchange, context));
    if (result instanceof Promise) result.then((response) => exchange.respond(response));
    else exchange.respond(result);
  }

  /** The application read the body for the first time: 100 Continue if the client waits for it. */
  continueIfExpected(): void {
    if (this.closed || this.ending) return;
    if (this.engine.continueIfExpected()) this.scheduleFlush();
  }

  /** The application took body bytes: reading resumes once the queue is below the mark. */
  bodyConsumed(): void {
    if (this.readingPaused) this.updateReading();
  }

  // ----------------------------------------------------------------- output

  /** The response is entirely with the engine. */
  outputEnded(writer: H1ResponseWriter): void {
    writer.outputDone = true;
    if (!writer.inputDone && this.engine.currentRequest === undefined) writer.inputDone = true;
    if (!writer.inputDone) {
      // What the application left unread is dropped by the engine (at most DISCARD_AFTER_RESPONSE more); a handler
      // still waiting for it after its own response is done would wait forever otherwise.
      writer.source?.fail(new ClientAbortError('the request body was discarded after the response'));
    }
    writer.exchange.delivered();
    // Inside a read (or a drive), the caller flushes when it is done; otherwise the next request may be waiting.
    if (this.dispatching) return;
    this.drive();
    this.scheduleFlush();
  }

  released(writer: H1ResponseWriter): void {
    if (this.current === writer && this.engine.currentRequest === undefined) this.current = undefined;
  }

  scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    dirtySessions.push(this);
    if (!flushTicking) {
      flushTicking = true;
      setImmediate(flushDirtySessions);
    }
  }

  /** Writes what the engine queued (one write, vectored when it is several pieces), then what follows from it. */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.tunnelled) return;
    const socket = this.socket;
    const engine = this.engine;
    const queued = engine.bufferedOutputBytes;
    const parts = engine.dataToSendv();
    if (parts !== null && socket.writable) {
      if (parts.length === 1) socket.write(parts[0]!);
      else if (queued <= COALESCE_BYTES) {
        // Small output in pieces (a 1xx and a head, a head and a chunk): joined in one (pooled) buffer, one write,
        // one TLS record. A vectored write costs a write request per piece and, on TLS, one record per piece.
        socket.write(Buffer.concat(parts, queued));
      } else {
        socket.cork();
        for (let i = 0; i < parts.length; i++) socket.write(parts[i]!);
        socket.uncork();
      }
    }
    if (this.engine.isDone) {
      this.endConnection();
      return;
    }
    if (this.closing && this.engine.currentRequest === undefined && this.requests > 0) {
      this.endConnection();
      return;
    }
    if (!this.outputBlocked()) {
      const waiter = this.writableWaiter;
      this.writableWaiter = undefined;
      waiter?.();
    }
    this.updateReading();
  }

  waitWritable(resolve: () => void): void {
    this.writableWaiter = resolve;
    if (!this.outputBlocked()) this.scheduleFlush();
  }

  private onDrain(): void {
    this.lastProgress = Date.now();
    if (this.closed || this.tunnelled) return;
    this.flush();
    this.drive();
    this.flush();
  }

  /** Reading stops while output for this peer is stuck, pipelined input is at its bound, or the body queue is full. */
  private updateReading(): void {
    if (this.closed || this.tunnelled) return;
    const source = this.current?.source;
    const pause =
      !this.ending && (this.outputBlocked() || !this.engine.wantsInput || (source !== undefined && source !== null && source.queuedBytes > BODY_HIGH_WATER_MARK));
    if (pause === this.readingPaused) return;
    this.readingPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  /** The exchange cut its response: close now (`immediately`) or after what is queued went out. */
  abortConnection(immediately: boolean): void {
    if (this.closed) return;
    if (immediately) {
      this.socket.destroy();
      return;
    }
    this.engine.abortResponse();
    this.flush();
  }

  /** After the 101: the socket is the tunnel's from the next byte on, with the bytes that followed the head. */
  becomeTunnel(): Tunnel {
    this.tunnelled = true;
    const pieces: Uint8Array[] = [];
    for (const event of this.engine.pollEvents()) if (event.type === 'tunnelData') pieces.push(event.data.slice());
    const socket = this.socket;
    const head = this.engine.dataToSend();
    if (head !== null) socket.write(head);
    socket.off('data', this.onDataListener);
    socket.off('end', this.onEndListener);
    socket.off('drain', this.onDrainListener);
    this.clearTimers();
    this.current = undefined;
    return new SocketTunnel(socket, Buffer.concat(pieces), 'http/1.1');
  }

  // ----------------------------------------------------------- connection end

  /**
   * Ends our side, then reads and drops what the client still sends until it closes too, or LINGER_MS (RFC 9112
   * §9.6): closing with unread input would make the kernel send a TCP RST, which can destroy the last response
   * before the client read it.
   */
  private endConnection(): void {
    if (this.ending || this.closed) return;
    this.ending = true;
    this.clearTimers();
    const socket = this.socket;
    if (!socket.writableEnded) socket.end();
    this.lingerTimer = setTimeout(() => socket.destroy(), LINGER_MS);
    this.lingerTimer.unref();
    this.readingPaused = false;
    socket.resume();
  }

  shutdown(): void {
    this.closing = true;
    if (this.closed || this.tunnelled || this.engine.currentRequest !== undefined) return;
    if (this.requests > 0) {
      this.endConnection();
      return;
    }
    // Accepted but no request read yet: as far as the client knows its first request may be on its way, and ending
    // the socket now resets it (HTTP/2 has a two-step GOAWAY for this race, RFC 9113 §6.8; HTTP/1.1 has none). Like
    // Go's net/http (golang/go#22682), such a connection counts as idle only after a grace period; a request that
    // arrives meanwhile is answered with `connection: close`.
    this.graceTimer = setTimeout(() => {
      if (this.requests === 0) this.endConnection();
    }, FIRST_REQUEST_GRACE_MS);
    this.graceTimer.unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Zero-window slow read: bytes queued for a client that does not read, with no progress for too long. */
  sweep(now: number): void {
    if (this.closed || this.tunnelled) return;
    const socket = this.socket;
    const written = socket.bytesWritten;
    if (socket.writableLength === 0 || written !== this.lastBytesWritten) {
      this.lastBytesWritten = written;
      this.lastProgress = now;
      return;
    }
    if (now - this.lastProgress > this.context.limits.writeProgressTimeout) socket.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    if (this.graceTimer !== undefined) clearTimeout(this.graceTimer);
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    const context = this.context;
    context.protocolConnections.closed('http/1.1');
    context.live.delete(this);
    const writer = this.current;
    this.current = undefined;
    if (writer !== undefined && !this.tunnelled) writer.connectionGone(new ClientAbortError());
    const waiter = this.writableWaiter;
    this.writableWaiter = undefined;
    waiter?.();
  }

  // ------------------------------------------------------------------ timers

  /** The phase the connection is in and its deadline; one timer, re-armed only when a deadline comes earlier. */
  private updateDeadline(): void {
    if (this.closed || this.tunnelled || this.ending) return;
    const limits = this.context.limits;
    const engine = this.engine;
    let deadline: number;
    if (engine.currentRequest !== undefined) {
      this.phase = Phase.Request;
      const writer = this.current;
      deadline = writer !== undefined && !writer.inputDone && limits.requestTimeout > 0 ? writer.startedAt + limits.requestTimeout : 0;
    } else if (this.requests === 0 || engine.bufferedInputBytes > 0) {
      if (this.phase !== Phase.Head) {
        this.phase = Phase.Head;
        this.phaseSince = Date.now();
      }
      deadline = limits.headersTimeout > 0 ? this.phaseSince + limits.headersTimeout : 0;
    } else {
      if (this.phase !== Phase.Idle) {
        this.phase = Phase.Idle;
        this.phaseSince = Date.now();
      }
      deadline = limits.idleTimeout > 0 ? this.phaseSince + limits.idleTimeout : 0;
    }
    this.deadline = deadline;
    if (deadline !== 0 && (this.timerAt === 0 || deadline < this.timerAt)) this.armTimer(deadline);
  }

  private armTimer(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.timerCallback, Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private clearTimers(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = 0;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAt = 0;
    if (this.closed || this.tunnelled || this.ending) return;
    this.updateDeadline();
    const deadline = this.deadline;
    if (deadline === 0) return;
    if (Date.now() < deadline) {
      if (this.timerAt === 0) this.armTimer(deadline);
      return;
    }
    this.expire();
  }

  /** The current phase's timeout passed. */
  private expire(): void {
    const socket = this.socket;
    switch (this.phase) {
      case Phase.Head:
        if (this.engine.bufferedInputBytes === 0) {
          // Nothing of a request arrived: nobody to answer.
          socket.destroy();
          return;
        }
        // RFC 9110 §15.5.9: 408 for a head that did not complete in time; a slow client is not worth lingering for.
        if (socket.writable) socket.write('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        socket.destroySoon();
        this.ending = true;
        return;
      case Phase.Idle:
        this.endConnection();
        return;
      case Phase.Request: {
        // The body did not arrive within requestTimeout.
        const writer = this.current;
        const error = new ClientAbortError('the request body timed out');
        if (writer === undefined || writer.headSent) {
          socket.destroy();
          return;
        }
        writer.connectionGone(error);
        writer.outputDone = true;
        this.engine.sendHeaders(408, ['content-length', '0', 'connection', 'close'], true, VALIDATED);
        this.flush();
        return;
      }
    }
  }
}

/** The authority of a request without Host (HTTP/1.0): the address and port the client connected to. */
function localAuthority(facts: ConnectionFacts): string {
  const address = facts.localAddress.includes(':') ? `[${facts.localAddress}]` : facts.localAddress;
  return `${address}:${facts.localPort}`;
}

/** Starts HTTP/1.1 on a socket and tracks it. `initial` holds bytes already read (by the h2c sniff). */
export function acceptHttp1(context: ServerContext, socket: Socket, scheme: 'https' | 'http', initial: Buffer | null): void {
  context.protocolConnections.opened('http/1.1');
  const session = new H1Session(context, socket, scheme);
  context.live.add(session);
  if (context.closing) session.shutdown();
  if (initial !== null && initial.byteLength > 0) session.onData(initial, true);
  socket.resume();
}
