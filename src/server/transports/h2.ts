/**
 * Drives the sans-IO HTTP/2 engine over a socket (TLS after ALPN "h2", or cleartext h2c with prior knowledge).
 *
 * Socket bytes → engine.receive() → events → requests. All output produced while handling one read (or one
 * event-loop turn of asynchronous responses) leaves in one socket write. Reading stops while the engine or the
 * socket hold more than outputHighWaterMark bytes (a peer that sends but does not read cannot make us buffer:
 * CVE-2019-9517), and a connection whose output makes no progress for writeProgressTimeout is cut
 * (zero-window slow read).
 */
import { channel } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { ErrorCode, type H2Engine, type H2Event, type H2Limits, type RequestReceivedEvent, type TracedFrame } from '../../h2/types.js';
import { ConnectionFacts, type ServerContext, type TrackedConnection } from '../context.js';
import { ClientAbortError, LazyRequest, PayloadTooLargeError, QueuedBodySource } from '../request.js';
import type { Protocol } from '../types.js';
import { Exchange } from '../core/exchange.js';
import { flowControlledBody } from '../core/stream-writer.js';
import { findRawHeader } from '../core/access-log.js';
import { TunnelingStreamWriter, type TunnelSide } from '../websocket/stream-tunnel.js';
import { DEFAULT_LIMITS } from '../../h2/limits.js';
import { H2Connection } from '../../h2/connection.js';
import { formatFrame } from '../../h2/trace.js';
import { NativeResponse } from '../response.js';

/**
 * Peer input handed to one connection's engine per event-loop turn. A socket read can deliver megabytes at once
 * (libuv reads up to 32 x 64 KiB per callback, TLS emits each 16 KiB record as its own 'data' event): handled in one
 * go, a flood (rapid reset: ~40 bytes per request) keeps every other connection waiting for the whole batch. Beyond
 * this budget the rest waits, the socket is paused, and the connection continues after the other connections had
 * their turn (setImmediate). One TLS record: bulk uploads still move a full record per turn.
 */
export const INPUT_BYTES_PER_TURN = 16 * 1024;
/**
 * DATA bytes per connection and turn for streams that can take them (engine.receivedDataBytes), budgeted apart
 * from INPUT_BYTES_PER_TURN: their handling is a copy into the request body at most, and the flow-control windows
 * bound how many a peer can send before the application reads. A bulk upload moves 16 TLS records per turn
 * instead of one, while frames that create work (requests, resets, control frames) keep the small budget.
 */
export const DATA_BYTES_PER_TURN = 256 * 1024;
/**
 * Request events per connection and turn the input budget aims at. Requests are the expensive part (a handler runs
 * for each), and a flood packs one into ~40 bytes: a connection whose last turn produced more requests than this
 * gets a smaller byte budget next turn (in proportion), which grows back once its requests thin out.
 */
const REQUESTS_PER_TURN = 32;
/** Smallest per-turn input budget: a few requests, and progress for any frame (they are received in pieces). */
const MIN_INPUT_BYTES_PER_TURN = 1024;
/**
 * Per-turn input of the connection that was just served (bytes and request events handed to the application):
 * published for instrumentation (the attack suite asserts the per-turn bound with it). No cost without subscribers.
 */
export const inputTurnChannel = channel('httpsd:h2:input-turn');
export interface InputTurnMessage {
  /** Input other than DATA for streams that could take it (bounded by INPUT_BYTES_PER_TURN). */
  bytes: number;
  /** DATA for streams that could take it (bounded by DATA_BYTES_PER_TURN plus one read slice). */
  dataBytes: number;
  requests: number;
}

/**
 * Event-loop turns, counted by one shared setImmediate scheduled when the first connection reads in a turn: a
 * connection whose turn number changed starts a fresh input budget.
 */
let inputTurn = 0;
let inputTurnTicking = false;
function advanceInputTurn(): void {
  inputTurnTicking = false;
  inputTurn++;
}
function currentInputTurn(): number {
  if (!inputTurnTicking) {
    inputTurnTicking = true;
    setImmediate(advanceInputTurn);
  }
  return inputTurn;
}
/**
 * DATA bytes framed per dataToSend() call: large enough that a turn's output still leaves in one write for
 * ordinary responses, small enough that a bulk download is encrypted and written in pieces while the socket drains
 * (bounded memory per connection, and the engine's output buffer does not grow to the sum of every window).
 */
const OUTPUT_CHUNK_BYTES = 256 * 1024;

/** The stream map of every session with no stream: empty and never written (see onRequest() and forgetStream()). */
const NO_STREAMS: Map<number, H2Stream> = new Map();

/** One stream: the exchange core's writer onto the engine (core/stream-writer.ts), and an extended CONNECT's tunnel. */
class H2Stream extends TunnelingStreamWriter {
  readonly openedAt = Date.now();
  /** When END_STREAM went out (ms): a client still uploading after it is timed by the sweep. */
  outputEndedAt = 0;
  constructor(
    readonly session: H2Session,
    id: number,
    source: QueuedBodySource | null,
    /** The :protocol of an extended CONNECT (RFC 8441 §4), else undefined. */
    connectProtocol: string | undefined,
  ) {
    super(id, source, connectProtocol);
  }

  protected get engine(): H2Engine {
    return this.session.engine;
  }

  protected get internalErrorCode(): number {
    return ErrorCode.INTERNAL_ERROR;
  }

  protected flush(): void {
    this.session.scheduleFlush();
  }

  protected forget(): void {
    this.session.forgetStream(this.id);
  }

  /** The session counts responses waiting for the engine (a stuck connection stops reading). */
  protected override waitChanged(delta: number): void {
    this.session.waitingWritable += delta;
  }

  protected tunnelSide(): TunnelSide {
    const session = this.session;
    // RFC 8441 §4 / RFC 9113 §8.5: a tunnel is cancelled with RST_STREAM CANCEL.
    return { engine: session.engine, facts: session.facts, isGone: () => session.closed, cancelCode: ErrorCode.CANCEL };
  }

  protected override outputEnded(): void {
    this.outputEndedAt = Date.now();
    super.outputEnded();
  }

}

export class H2Session implements TrackedConnection {
  readonly engine: H2Engine;
  readonly facts: ConnectionFacts;
  /** The streams the application has, by id; NO_STREAMS (shared, never written) while there are none. */
  streams = NO_STREAMS;
  closed = false;
  waitingWritable = 0;
  private receiving = false;
  private flushScheduled = false;
  private readingPaused = false;
  /** Output is stuck for this peer (backpressure, see flush()). */
  private outputBlocked = false;
  /** Input read but not yet handed to the engine: it waits for the connection's next turn. */
  private backlog: Uint8Array[] = [];
  private backlogScheduled = false;
  /** The engine terminated the connection: input is no longer read into it. */
  private inputEnded = false;
  private turn = -1;
  private turnBytes = 0;
  private turnDataBytes = 0;
  private turnRequests = 0;
  /** This connection's input budget per turn, adapted to its request density (see REQUESTS_PER_TURN). A new
   * connection starts at a quarter and doubles each turn its requests stay few: a flood has no full first turn. */
  private turnBudget = INPUT_BYTES_PER_TURN / 4;
  private countedOpenStreams = 0;
  private lastActivity = Date.now();
  private readonly createdAt = Date.now();
  private lastProgress = Date.now();
  private lastFlushed = 0;
  private lastOpenStreams = 0;
  private endTimer: NodeJS.Timeout | undefined;
  /** The one timer of the engine's protocol timeouts, armed for engine.nextDeadline() (see armEngineTimer()). */
  private engineTimer: NodeJS.Timeout | undefined;
  private engineDeadline: number | undefined;
  private readonly highWaterMark: number;

  constructor(
    readonly context: ServerContext,
    readonly socket: Socket,
    readonly protocol: Protocol,
  ) {
    this.facts = new ConnectionFacts(socket, protocol, protocol === 'h2c' ? 'http' : 'https');
    this.engine = new H2Connection({
      limits: context.h2Limits as Partial<H2Limits> | undefined,
      // RFC 8441 §3: extended CONNECT is advertised only when something can accept it (a WebSocket handler).
      settings: context.webSockets !== undefined ? { enableConnectProtocol: true } : undefined,
      onFrame: context.traceFrames === undefined ? undefined : frameTracer(context.traceFrames, this.facts),
    });
    this.highWaterMark = context.h2Limits?.outputHighWaterMark ?? DEFAULT_LIMITS.outputHighWaterMark;
    socket.setNoDelay?.(true);
    // Shared listeners that find the session on the socket, rather than closures made for each connection (memory
    // per idle connection).
    (socket as SessionSocket)[SESSION] = this;
    socket.on('data', onSocketData);
    socket.on('drain', onSocketDrain);
    socket.on('close', onSocketClose);
    socket.on('error', ignoreError);
  }

  /** A stream is done with: an idle connection keeps no stream map (memory per idle connection). */
  forgetStream(id: number): void {
    if (this.streams.delete(id) && this.streams.size === 0) this.streams = NO_STREAMS;
  }

  /** The socket drained: output moves again. */
  onDrain(): void {
    this.lastProgress = Date.now();
    this.flush();
  }

  pendingOutputBytes(): number {
    return this.engine.bufferedBytes + this.socket.writableLength;
  }

  onData(chunk: Uint8Array): void {
    if (this.closed) return;
    this.lastActivity = Date.now();
    // Input is handled in arrival order: while a backlog waits for its turn, new bytes queue behind it.
    if (this.backlog.length > 0) this.backlog.push(chunk);
    else this.receiveWithinBudget(chunk);
    this.flush();
  }

  /**
   * Hands the engine at most what is left of this turn's INPUT_BYTES_PER_TURN; the rest goes to the backlog, which
   * drainBacklog() continues on a later turn. Returns false when the budget ran out.
   */
  private receiveWithinBudget(chunk: Uint8Array): boolean {
    const turn = currentInputTurn();
    if (turn !== this.turn) {
      this.adaptTurnBudget();
      this.turn = turn;
      this.turnBytes = 0;
      this.turnDataBytes = 0;
      this.turnRequests = 0;
    }
    const room = this.turnBudget - this.turnBytes;
    if (room <= 0 || this.turnDataBytes >= DATA_BYTES_PER_TURN) {
      this.deferInput(chunk);
      return false;
    }
    // Each slice fits what is left of the other-input budget, whatever it turns out to hold.
    const fits = chunk.length <= room;
    const slice = fits ? chunk : chunk.subarray(0, room);
    this.receiving = true;
    try {
      const events = this.engine.receive(slice);
      const dataBytes = this.engine.receivedDataBytes;
      this.turnDataBytes += dataBytes;
      this.turnBytes += slice.length - dataBytes;
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        if (event.type === 'request') this.turnRequests++;
        // The engine ended the connection: it ignores all further input, so none is kept.
        else if (event.type === 'connectionTerminated' && !event.byPeer) this.inputEnded = true;
        this.handleEvent(event);
      }
    } finally {
      this.receiving = false;
    }
    if (inputTurnChannel.hasSubscribers) {
      inputTurnChannel.publish({ bytes: this.turnBytes, dataBytes: this.turnDataBytes, requests: this.turnRequests } satisfies InputTurnMessage);
    }
    if (fits) return true;
    this.deferInput(chunk.subarray(room));
    return false;
  }

  /** After a turn: fewer bytes next turn if it produced too many requests, more again once they thin out. */
  private adaptTurnBudget(): void {
    const requests = this.turnRequests;
    if (requests > REQUESTS_PER_TURN) {
      const scaled = Math.floor((this.turnBytes * REQUESTS_PER_TURN) / requests);
      this.turnBudget = Math.max(MIN_INPUT_BYTES_PER_TURN, Math.min(this.turnBudget, scaled));
    } else if (requests <= REQUESTS_PER_TURN / 2 && this.turnBytes + this.turnDataBytes >= this.turnBudget && this.turnBudget < INPUT_BYTES_PER_TURN) {
      this.turnBudget = Math.min(INPUT_BYTES_PER_TURN, this.turnBudget * 2);
    }
  }

  /** Queues input at the head of the backlog, stops reading and schedules the next turn. */
  private deferInput(rest: Uint8Array): void {
    if (this.closed) return;
    if (this.inputEnded) {
      this.backlog = [];
      return;
    }
    this.backlog.unshift(rest);
    this.updateReading();
    if (!this.backlogScheduled) {
      this.backlogScheduled = true;
      setImmediate(drainSessionBacklog, this);
    }
  }

  drainBacklog(): void {
    this.backlogScheduled = false;
    if (this.closed) return;
    while (this.backlog.length > 0 && !this.closed && !this.inputEnded) {
      if (!this.receiveWithinBudget(this.backlog.shift()!)) break;
    }
    if (this.inputEnded) this.backlog = [];
    if (this.backlog.length === 0) this.updateReading();
    this.flush();
  }

  /** Reading stops while output is stuck for this peer or input waits in the backlog. */
  private updateReading(): void {
    const pause = this.outputBlocked || this.backlog.length > 0;
    if (pause === this.readingPaused || this.closed) return;
    this.readingPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  scheduleFlush(): void {
    if (this.flushScheduled || this.receiving || this.closed) return;
    this.flushScheduled = true;
    setImmediate(flushSession, this);
  }

  flush(evenWithBacklog = false): void {
    this.flushScheduled = false;
    if (this.closed) return;
    // The output of one read leaves after the whole read was handled, as if it had fit in one turn: a response
    // framed between two slices of a read would close its stream before frames the peer sent for it in that same
    // read (and turn a stream error into a connection error, RFC 9113 §5.1). drainBacklog() flushes at the end.
    if (this.backlog.length > 0 && !evenWithBacklog) return;
    try {
      this.writeOutput();
    } catch (error) {
      // Framing or encoding our own output failed: the engine's state can no longer be trusted, so the connection
      // ends (its streams are aborted on 'close'). Never let it reach the event loop, which would end the process.
      this.context.onError(error, `HTTP/2 connection ${this.facts.remoteAddress}:${this.facts.remotePort} (output)`);
      this.socket.destroy();
    }
  }

  private writeOutput(): void {
    const socket = this.socket;
    const engine = this.engine;
    // Events the engine produced outside receive() (streamWritable after output went out).
    for (let round = 0; round < 4; round++) {
      while (!socket.writableNeedDrain) {
        const parts = engine.dataToSendv(OUTPUT_CHUNK_BYTES);
        if (parts === null) break;
        if (parts.length === 1) {
          socket.write(parts[0]!);
        } else {
          // One writev: frame headers and views of the response bodies, no copy on our side.
          socket.cork();
          for (let i = 0; i < parts.length; i++) socket.write(parts[i]!);
          socket.uncork();
        }
      }
      const events = engine.pollEvents();
      if (events.length === 0) break;
      for (let i = 0; i < events.length; i++) this.handleEvent(events[i]!);
    }
    this.syncOpenStreams();
    this.armEngineTimer();
    // Backpressure: stop reading while too much output is stuck for this peer. Engine bytes count only while the
    // socket itself is blocked (the peer is not reading TCP): bytes that merely wait for a stream's flow-control
    // window must not stop us reading the WINDOW_UPDATE that releases them.
    const pending = socket.writableLength + (socket.writableNeedDrain ? engine.bufferedBytes : 0);
    this.outputBlocked = pending > this.highWaterMark;
    this.updateReading();
    if (engine.isDone) this.end();
  }

  /**
   * Keeps one timer armed for the engine's next protocol deadline (SETTINGS ACK timeout, graceful-shutdown PING):
   * the sans-IO timer contract, read after every call into the engine (every flush). The driver's own timeouts are
   * about the socket and the application (write progress, idle connection, request bodies) and stay in sweep().
   */
  private armEngineTimer(): void {
    const deadline = this.engine.nextDeadline();
    if (deadline === this.engineDeadline) return;
    if (this.engineTimer !== undefined) clearTimeout(this.engineTimer);
    this.engineTimer = undefined;
    this.engineDeadline = deadline;
    if (deadline === undefined) return;
    this.engineTimer = setTimeout(onSessionEngineTimer, Math.max(0, deadline - Date.now()), this);
    this.engineTimer.unref();
  }

  onEngineTimer(): void {
    this.engineTimer = undefined;
    this.engineDeadline = undefined;
    if (this.closed) return;
    this.engine.onTimeout(Date.now());
    // What the timeout produced (GOAWAY, connectionTerminated) goes out with this flush, or with the backlog's.
    this.flush();
  }

  private syncOpenStreams(): void {
    const open = this.engine.openStreamCount;
    if (open !== this.countedOpenStreams) {
      this.context.openStreams += open - this.countedOpenStreams;
      this.countedOpenStreams = open;
    }
  }

  private handleEvent(event: H2Event): void {
    switch (event.type) {
      case 'request':
        this.onRequest(event);
        break;
      case 'data': {
        const stream = this.streams.get(event.streamId);
        if (stream?.tunnel !== undefined) {
          stream.tunnel.receive(event.owned ? event.data : event.data.slice(), event.flowControlledLength);
          break;
        }
        const source = stream?.source;
        if (source === undefined || source === null) {
          // No one will read it: keep the connection window open.
          this.engine.consume(event.streamId, event.flowControlledLength);
          break;
        }
        // Unless the engine owns it, the event's view is only valid until the next receive(): copy what the app
        // will read later.
        if (!source.push(event.owned ? event.data : event.data.slice(), event.flowControlledLength)) this.bodyTooLarge(stream!);
        if (event.endStream) stream!.inputEnded();
        break;
      }
      case 'streamEnded': {
        const stream = this.streams.get(event.streamId);
        stream?.inputEnded();
        break;
      }
      case 'streamReset': {
        const stream = this.streams.get(event.streamId);
        stream?.reset(new ClientAbortError(event.byPeer ? 'the client reset the stream' : 'stream error'));
        break;
      }
      case 'streamWritable': {
        const stream = this.streams.get(event.streamId);
        stream?.writableWaiter?.();
        stream?.tunnel?.writable();
        break;
      }
      case 'connectionTerminated':
        // The engine ended the connection (protocol error, DoS budget) or the peer reported an error: no stream
        // will see more input, so handlers are told now. A peer's graceful GOAWAY(NO_ERROR) lets accepted streams
        // complete (RFC 9113 §6.8).
        if (!event.byPeer || event.code !== ErrorCode.NO_ERROR) {
          this.abortAll(new ClientAbortError(`connection terminated (error code ${event.code})`));
        }
        break;
      default:
        break;
    }
  }

  private onRequest(event: RequestReceivedEvent): void {
    const context = this.context;
    const pseudo = event.pseudo;
    const streamId = event.streamId;
    const headers = event.headers;
    const engine = this.engine;
    const source = flowControlledBody(event.endStream, context.limits.maxBodySize, (bytes) => {
      if (this.closed) return;
      engine.consume(streamId, bytes);
      this.scheduleFlush();
    });
    if (!event.endStream && findRawHeader(headers, 'expect')?.toLowerCase() === '100-continue') {
      // RFC 9110 §10.1.1: the client waits for 100 before sending the body; the body is read through flow control,
      // so inviting it costs nothing.
      this.engine.sendInformational(streamId, 100);
    }
    const authority = pseudo.authority ?? findRawHeader(headers, 'host') ?? this.facts.localAddress;
    const scheme = pseudo.scheme ?? this.facts.scheme;
    const request = new LazyRequest(pseudo.method, scheme, authority, pseudo.path ?? '/', headers, 'h2-like', source);
    const stream = new H2Stream(this, streamId, source, pseudo.protocol);
    const exchange = new Exchange(context, this.facts, request, stream);
    stream.exchange = exchange;
    if (this.streams === NO_STREAMS) this.streams = new Map();
    this.streams.set(streamId, stream);
    if (event.contentLength > context.limits.maxBodySize) {
      this.bodyTooLarge(stream);
      return;
    }
    if (pseudo.method === 'CONNECT' && (pseudo.protocol === undefined || context.webSockets === undefined)) {
      // RFC 9113 §8.5: a tunnel request to a target (extended CONNECT is advertised only with a WebSocket handler,
      // and otherwise the engine refuses :protocol). No proxy here: 501 as on HTTP/1.1 (see refuseConnect in
      // transports/h1.ts), never the fetch handler. An extended CONNECT (RFC 8441 §4) goes to the handler.
      this.refuse(stream, new NativeResponse(null, { status: 501 }), new ClientAbortError('CONNECT is not supported'));
      return;
    }
    stream.invoke(context, this.facts);
  }

  /** RFC 9110 §15.5.14: 413, then RST_STREAM so the client stops sending (RFC 9113 §8.1). */
  private bodyTooLarge(stream: H2Stream): void {
    const error = new PayloadTooLargeError(this.context.limits.maxBodySize);
    this.refuse(stream, this.context.failure(error, stream.exchange.request), error);
  }

  /** Answers a request the handler never sees, then RST_STREAM so the client stops sending (RFC 9113 §8.1). */
  private refuse(stream: H2Stream, response: Response, error: Error): void {
    const exchange = stream.exchange;
    if (stream.refuse(response, error)) {
      // Hand the 413 to the socket before the reset drops whatever is still queued for the stream.
      const wasReceiving = this.receiving;
      this.receiving = false;
      this.flush(true);
      this.receiving = wasReceiving;
    }
    if (!stream.closed && !this.closed) {
      this.engine.resetStream(stream.id, exchange.state === 'awaiting-response' ? ErrorCode.CANCEL : ErrorCode.NO_ERROR);
      stream.reset(error);
    }
  }

  private abortAll(error: Error): void {
    for (const stream of [...this.streams.values()]) stream.reset(error);
  }

  /** Graceful: GOAWAY (two-step, RFC 9113 §6.8), let open streams finish, then close. */
  shutdown(): void {
    if (this.closed) return;
    this.engine.shutdown();
    this.flush();
  }

  destroy(): void {
    this.socket.destroy();
  }

  sweep(now: number): void {
    if (this.closed) return;
    const limits = this.context.limits;
    const socket = this.socket;
    const engine = this.engine;
    const flushed = socket.bytesWritten - socket.writableLength;
    const open = engine.openStreamCount;
    if (flushed !== this.lastFlushed || open < this.lastOpenStreams) this.lastProgress = now;
    this.lastFlushed = flushed;
    this.lastOpenStreams = open;
    // Output is stuck when the socket holds bytes, a response waits for window, or streams whose responses we
    // finished are still open inside the engine (their DATA is blocked by a zero flow-control window).
    const stuck = socket.writableLength > 0 || this.waitingWritable > 0 || open > this.streams.size;
    if (stuck && now - this.lastProgress > limits.writeProgressTimeout) {
      this.engine.goaway(ErrorCode.ENHANCE_YOUR_CALM);
      this.abortAll(new ClientAbortError('no write progress: client stopped reading'));
      socket.destroy();
      return;
    }
    for (const stream of this.streams.values()) {
      // A tunnel's input has no end in sight by design: the WebSocket above it times itself.
      if (stream.inbound !== 'receiving' || stream.tunnel !== undefined) continue;
      // A request body that never finishes: after the response went out (idleTimeout), or at all (requestTimeout),
      // the stream is reset so it cannot pin the connection forever.
      const expired =
        (stream.exchange.responseEnded && now - stream.outputEndedAt > limits.idleTimeout) || now - stream.openedAt > limits.requestTimeout;
      if (expired) {
        engine.resetStream(stream.id, ErrorCode.CANCEL);
        stream.reset(new ClientAbortError('request body timed out'));
        this.scheduleFlush();
      }
    }
    // A connection that has not sent a complete first request within headersTimeout (TLS done, then silence or a
    // dribbled preface) is closed like an HTTP/1.1 slowloris.
    const idleFor = engine.lastStreamId === 0 ? now - this.createdAt : now - this.lastActivity;
    const idleLimit = engine.lastStreamId === 0 ? Math.min(limits.headersTimeout, limits.idleTimeout) : limits.idleTimeout;
    if (!stuck && open === 0 && this.streams.size === 0 && idleFor > idleLimit && !engine.isClosing) {
      // Idle connection: say goodbye cleanly (GOAWAY NO_ERROR), then close.
      this.engine.goaway(ErrorCode.NO_ERROR);
      this.flush();
      this.end();
    }
  }

  /** Flushes and closes the socket, forcing it after a grace period. */
  private end(): void {
    if (this.endTimer !== undefined || this.closed) return;
    this.socket.end();
    this.endTimer = setTimeout(() => this.socket.destroy(), 2000);
    this.endTimer.unref();
  }

  onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog = [];
    if (this.endTimer !== undefined) clearTimeout(this.endTimer);
    if (this.engineTimer !== undefined) clearTimeout(this.engineTimer);
    // Most connections close with no stream open (a client that made its requests and left): building an Error
    // (its stack trace) for nobody costs microseconds per connection.
    if (this.streams.size > 0) this.abortAll(new ClientAbortError('the connection closed'));
    this.streams = NO_STREAMS;
    this.context.openStreams -= this.countedOpenStreams;
    this.countedOpenStreams = 0;
    this.context.protocolConnections.closed(this.protocol);
    this.context.live.delete(this);
  }
}

/** The socket of an HTTP/2 connection carries its session, for the shared listeners below. */
const SESSION = Symbol('httpsd.h2.session');
type SessionSocket = Socket & { [SESSION]: H2Session };

function onSocketData(this: Socket, chunk: Buffer): void {
  (this as SessionSocket)[SESSION].onData(chunk);
}

function onSocketDrain(this: Socket): void {
  (this as SessionSocket)[SESSION].onDrain();
}

function onSocketClose(this: Socket): void {
  (this as SessionSocket)[SESSION].onClose();
}

/** A reset by the peer must never surface as an uncaught 'error'; 'close' follows and ends the session. */
function ignoreError(): void {}

function flushSession(session: H2Session): void {
  session.flush();
}

function drainSessionBacklog(session: H2Session): void {
  session.drainBacklog();
}

function onSessionEngineTimer(session: H2Session): void {
  session.onEngineTimer();
}

/** The trace hook of one connection (serve({ traceFrames })): each frame, prefixed with the peer's address. */
function frameTracer(trace: (line: string) => void, facts: ConnectionFacts): (direction: 'in' | 'out', frame: TracedFrame) => void {
  const prefix = `[${facts.remoteAddress}:${facts.remotePort}] `;
  return (direction, frame) => trace(prefix + formatFrame(direction, frame));
}

/** Starts HTTP/2 on a socket. `initial` holds bytes already read (the sniffed h2c preface). */
export function acceptHttp2(context: ServerContext, socket: Socket, protocol: Protocol, initial: Buffer | null): void {
  context.protocolConnections.opened(protocol);
  const session = new H2Session(context, socket, protocol);
  context.live.add(session);
  if (context.closing) session.shutdown();
  if (initial !== null) {
    // Resumed first: onData() pauses the socket again if the sniffed bytes exceed this turn's input budget.
    socket.resume();
    session.onData(initial);
  } else {
    // Our SETTINGS go out right away (RFC 9113 §3.4: the server preface).
    session.flush();
  }
}
