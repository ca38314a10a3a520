/**
 * Drives one HTTP/3 connection (src/h3 over the QUIC endpoint, src/server/quic) into the exchange core: each request
 * stream becomes a LazyRequest with the HTTP/2-like field rules (RFC 9114 §4.2) and an Exchange writing through
 * H3Stream. The endpoint owns the UDP socket, the QUIC timers and the batching of datagrams (one service per
 * connection and event-loop turn); this module only turns HTTP/3 events into exchanges and responses into frames.
 */
import { formatFrame, H3ErrorCode, type H3Connection, type H3Event, type RequestEvent } from '../../h3/index.js';
import { ConnectionFacts, type ServerContext, type TrackedConnection } from '../context.js';
import { ClientAbortError, LazyRequest, PayloadTooLargeError, QueuedBodySource } from '../request.js';
import { Exchange } from '../core/exchange.js';
import { flowControlledBody } from '../core/stream-writer.js';
import { findRawHeader } from '../core/access-log.js';
import { TunnelingStreamWriter, type TunnelSide } from '../websocket/stream-tunnel.js';
import type { ConnectionHandler, EndpointConnection } from '../quic/endpoint.js';
import type { ServeInfo } from '../types.js';
import { NativeResponse } from '../response.js';

/** RFC 9110 §9.2.1 safe methods: what a request replayed from 0-RTT can run without harm (RFC 8470 §3). */
const EARLY_SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface Http3TransportOptions {
  /**
   * Run requests of every method that arrive in 0-RTT, before the handshake completes (the application then deals
   * with replays itself, RFC 8470 §3). Default false: unsafe methods get 425 Too Early (RFC 8470 §5.2) and the client
   * retries them after the handshake (§4.2); safe ones run, marked `early-data: 1`.
   */
  earlyDataUnsafeMethods?: boolean;
}

/**
 * One request stream: the exchange core's writer onto the HTTP/3 engine; an extended CONNECT (RFC 9220 §3) makes it
 * a WebSocket's tunnel.
 */
class H3Stream extends TunnelingStreamWriter {
  constructor(
    private readonly session: H3Session,
    id: number,
    source: QueuedBodySource | null,
    /** The :protocol of an extended CONNECT (RFC 9220 §3), else undefined. */
    connectProtocol: string | undefined,
  ) {
    super(id, source, connectProtocol);
  }

  protected get engine(): H3Connection {
    return this.session.h3;
  }

  protected get internalErrorCode(): number {
    return H3ErrorCode.H3_INTERNAL_ERROR;
  }

  protected flush(): void {
    this.session.wake();
  }

  protected forget(): void {
    this.session.forget(this.id);
  }

  override get closed(): boolean {
    return this.inbound === 'reset' || this.session.gone;
  }

  protected tunnelSide(): TunnelSide {
    const session = this.session;
    // A WebSocket over HTTP/3 (RFC 9220) is cancelled like a request: RESET_STREAM + STOP_SENDING (RFC 9114 §4.1.1).
    return { engine: session.h3, facts: session.facts, isGone: () => session.gone, cancelCode: H3ErrorCode.H3_REQUEST_CANCELLED };
  }
}

/** One HTTP/3 connection as the server tracks it (stats, graceful shutdown). */
export class H3Session implements TrackedConnection, ConnectionHandler {
  readonly facts: ConnectionFacts;
  private readonly streams = new Map<number, H3Stream>();
  /** The connection was closed (by either side) or is being closed by us: no stream can send any more. */
  gone = false;
  private draining = false;
  /** The QUIC handshake completed: requests before it arrived in 0-RTT (replayable, RFC 8470). */
  private handshakeDone = false;
  /** info.tls: QUIC always runs TLS 1.3 (RFC 9001 §4.2) with ALPN h3 (RFC 9114 §3.1); the rest once negotiated. */
  private readonly tls: NonNullable<ServeInfo['tls']> = { version: 'TLSv1.3', cipher: '', alpn: 'h3', servername: false, authorized: false };

  constructor(
    private readonly context: ServerContext,
    private readonly connection: EndpointConnection,
    private readonly options: Http3TransportOptions = {},
  ) {
    this.facts = new ConnectionFacts(connection, 'h3', 'https', this.tls);
    // RFC 9220 §3: extended CONNECT is advertised only when something can accept it (a WebSocket handler), as on h2.
    if (context.webSockets !== undefined) connection.h3.enableExtendedConnect();
    const trace = context.traceFrames;
    if (trace !== undefined) {
      // --trace-frames: every HTTP/3 frame in and out, decoded (src/h3/trace.ts), prefixed like the HTTP/2 trace.
      const prefix = `[${this.facts.remoteAddress}:${this.facts.remotePort} h3] `;
      connection.h3.traceFrames((direction, frame) => trace(prefix + formatFrame(direction, frame)));
    }
    context.live.add(this);
    context.protocolConnections.opened('h3');
  }

  get h3(): H3Connection {
    return this.connection.h3;
  }

  wake(): void {
    this.connection.wake();
  }

  handshakeComplete(facts: { alpn: string; serverName?: string; cipher?: string }): void {
    this.handshakeDone = true;
    this.tls.cipher = facts.cipher ?? '';
    this.tls.alpn = facts.alpn;
    this.tls.servername = facts.serverName ?? false;
  }

  forget(id: number): void {
    this.streams.delete(id);
    if (this.draining && this.streams.size === 0) this.closeNow();
  }

  event(event: H3Event): void {
    switch (event.type) {
      case 'request':
        this.onRequest(event);
        break;
      case 'data': {
        const stream = this.streams.get(event.streamId);
        if (stream?.tunnel !== undefined) {
          // The engine's view is only valid during this event: the tunnel keeps a copy until delivered.
          if (event.data.byteLength > 0) stream.tunnel.receive(event.data.slice(), event.data.byteLength);
          if (event.endStream) stream.inputEnded();
          break;
        }
        const source = stream?.source;
        if (source === undefined || source === null) {
          // Nobody reads it: keep the stream's flow-control window open.
          this.h3.consume(event.streamId, event.data.byteLength);
          break;
        }
        // The engine's view is only valid during this event: copy what the application reads later.
        if (event.data.byteLength > 0 && !source.push(event.data.slice(), event.data.byteLength)) this.bodyTooLarge(stream!);
        if (event.endStream) stream!.inputEnded();
        break;
      }
      case 'streamEnded':
        this.streams.get(event.streamId)?.inputEnded();
        break;
      case 'streamReset':
        this.streams.get(event.streamId)?.reset(new ClientAbortError('the client reset the stream'));
        break;
      case 'streamWritable': {
        const stream = this.streams.get(event.streamId);
        stream?.writableWaiter?.();
        stream?.tunnel?.writable();
        break;
      }
      case 'connectionTerminated':
        this.abortAll(new ClientAbortError('connection terminated'));
        this.gone = true;
        break;
      default:
        break;
    }
  }

  private onRequest(event: RequestEvent): void {
    const context = this.context;
    const { pseudo, headers, streamId } = event;
    const h3 = this.h3;
    const source = flowControlledBody(event.endStream, context.limits.maxBodySize, (bytes) => {
      if (this.gone) return;
      h3.consume(streamId, bytes);
      this.wake();
    });
    const authority = pseudo.authority ?? findRawHeader(headers, 'host') ?? this.facts.localAddress;
    // RFC 8470 §5.1: a request that came in 0-RTT carries `Early-Data: 1` so the application knows it may be a replay.
    const early = !this.handshakeDone;
    const fields = early ? [...headers, 'early-data', '1'] : headers;
    const request = new LazyRequest(pseudo.method, pseudo.scheme ?? 'https', authority, pseudo.path ?? '/', fields, 'h2-like', source);
    const stream = new H3Stream(this, streamId, source, pseudo.protocol);
    const exchange = new Exchange(context, this.facts, request, stream);
    stream.exchange = exchange;
    this.streams.set(streamId, stream);
    if (event.contentLength > context.limits.maxBodySize) {
      this.bodyTooLarge(stream);
      return;
    }
    if (early && !EARLY_SAFE_METHODS.has(pseudo.method) && this.options.earlyDataUnsafeMethods !== true) {
      // RFC 8470 §5.2: 425 Too Early rather than risk acting twice on a replayed unsafe request; the client sends it
      // again once the handshake is complete (§4.2).
      stream.refuse(new NativeResponse('Too Early\n', { status: 425, headers: { 'content-type': 'text/plain' } }), new ClientAbortError('request in 0-RTT refused'));
      return;
    }
    if (pseudo.method === 'CONNECT' && (pseudo.protocol === undefined || context.webSockets === undefined)) {
      // RFC 9114 §4.4: a tunnel to a target; no proxy here (501, as on HTTP/1.1 and HTTP/2), never the handler. An
      // extended CONNECT (RFC 9220 §3, accepted by the engine only when advertised) goes to the handler.
      stream.refuse(new NativeResponse(null, { status: 501 }), new ClientAbortError('CONNECT is not supported'));
      return;
    }
    if (source !== null && findRawHeader(headers, 'expect')?.toLowerCase() === '100-continue') {
      // RFC 9110 §10.1.1: the body is read through flow control, so inviting it costs nothing.
      this.h3.sendInformational(streamId, 100);
      this.wake();
    }
    stream.invoke(context, this.facts);
  }

  /** RFC 9110 §15.5.14: 413; the rest of the body is discarded as it arrives (the source is failed). */
  private bodyTooLarge(stream: H3Stream): void {
    const error = new PayloadTooLargeError(this.context.limits.maxBodySize);
    stream.refuse(this.context.failure(error, stream.exchange.request), error);
  }

  private abortAll(error: Error): void {
    for (const stream of [...this.streams.values()]) stream.reset(error);
  }

  /** The endpoint reports the QUIC connection closed. */
  closed(): void {
    this.abortAll(new ClientAbortError('connection closed'));
    this.forgetConnection();
  }

  private forgetConnection(): void {
    if (!this.context.live.delete(this)) return;
    this.gone = true;
    this.context.protocolConnections.closed('h3');
  }

  /** GOAWAY (RFC 9114 §5.2): requests already accepted complete, then the connection closes. */
  shutdown(): void {
    if (this.gone) return;
    this.draining = true;
    this.h3.shutdown();
    this.wake();
    if (this.streams.size === 0) this.closeNow();
  }

  destroy(): void {
    this.abortAll(new ClientAbortError('server closed'));
    this.closeNow();
  }

  private closeNow(): void {
    if (this.gone) return;
    this.h3.close(H3ErrorCode.H3_NO_ERROR, 'server shutting down');
    this.wake();
    this.forgetConnection();
  }

  /** QUIC buffers its own output under flow and congestion control; none waits in this transport. */
  pendingOutputBytes(): number {
    return 0;
  }
}

/** The endpoint's per-connection hook: every QUIC connection becomes an H3Session of this server. */
export function acceptHttp3(context: ServerContext, options: Http3TransportOptions = {}): (connection: EndpointConnection) => ConnectionHandler {
  return (connection) => new H3Session(context, connection, options);
}
