/**
 * One request/response exchange, whatever the protocol: the application's Response in, a head, body chunks and
 * trailers out through a ResponseWriter the transport implements, with backpressure, 1xx responses, abort and
 * completion (the counters and the access-log entry). The transports (src/server/transports) keep only protocol
 * code: parsing, framing, flow control, their timers.
 */
import { ClientAbortError, requestView, type LazyRequest } from '../request.js';
import {
  releaseResponseBody,
  checkBodyChunk,
  checkBodyEnd,
  iterateBody,
  prepareTrailers,
  readResponse,
  resolveTrailers,
  type PreparedTrailers,
  type ResponseParts,
} from '../response-parts.js';
import type { TrailersInit } from '../response.js';
import type { ConnectionFacts, ServerContext } from '../context.js';
import { findRawHeader } from './access-log.js';
import type { Tunnel } from './tunnel.js';
import { upgradeOf, type PendingUpgrade, type UpgradeFacts } from '../websocket/upgrade.js';
import { PROTOCOLS, type FieldFamily } from './protocols.js';
import { requestClient, tunnelForClient, type ClientAddress } from '../proxy/client.js';

/** A response head as the core hands it to a transport: validated fields, lowercase names, no pseudo-fields. */
export interface ResponseHead {
  status: number;
  /** Flat [name, value, ...]; the transport may add its own framing fields to it. */
  fields: string[];
  /** Nothing follows the head: no content, no trailers. */
  endsMessage: boolean;
  /**
   * The body length the head declares, or -1. A transport that frames the body otherwise (HTTP/1.1 chunked, for
   * trailers: RFC 9112 §7.1.2) drops the field and sets -1, and the body is then held to no length.
   */
  contentLength: number;
  /** Trailers will follow the body (already accepted by acceptsTrailers()). */
  trailers: PreparedTrailers | undefined;
}

/**
 * What a transport implements for the core to write one response. Every method is called at most in this order:
 * writeInformational* → (writeHead → (writeData | waitWritable)* → end) | writeWhole; abort() at any point.
 */
export interface ResponseWriter {
  /** The field rules of the protocol (how fields are validated and which are dropped). */
  readonly family: FieldFamily;
  /** Small string bodies are handed over as strings (for a transport that writes head and body as one string chunk). */
  readonly keepsStringBodies: boolean;
  /** The transport can no longer send anything for this exchange (its stream or socket is gone). */
  readonly closed: boolean;
  /** Whether trailers can follow this response (HTTP/1.1 needs chunked framing, so a body and HTTP/1.1). */
  acceptsTrailers(hasBody: boolean): boolean;
  /** A 1xx before the final head (RFC 9110 §15.2); fields validated. May decline silently (e.g. HTTP/1.0). */
  writeInformational(status: number, fields: string[]): void;
  /** The final head; when head.endsMessage the message is complete. */
  writeHead(head: ResponseHead): void;
  /** Head and the whole body as one message, in one write where the protocol allows. */
  writeWhole(head: ResponseHead, body: string | Uint8Array): void;
  /** A body chunk; false when the transport is above its high-water mark (wait with waitWritable()). */
  writeData(chunk: Uint8Array): boolean;
  /**
   * Resolves once more data may be written or the exchange was aborted (check state after); rejects with a
   * ClientAbortError when the peer stopped reading for too long or went away.
   */
  waitWritable(): Promise<void>;
  /** Ends the message, with trailers when given (validated fields). */
  end(trailers: string[] | undefined): void;
  /** The response cannot be completed: cut it off so the client sees an incomplete message (RFC 9112 §8, RFC 9113 §8.1). */
  abort(error: unknown): void;
  /** The core finished the exchange (counted, logged): the transport forgets it. */
  released(): void;
  /** What info.upgradeWebSocket() needs to check this request as a WebSocket handshake. */
  upgradeFacts(): UpgradeFacts;
  /**
   * Answers with the handshake head (101 on HTTP/1.1, 200 on an extended CONNECT stream) and returns the byte
   * stream the exchange becomes; undefined, with nothing written, when this request cannot switch.
   */
  switchProtocols(upgrade: PendingUpgrade): Tunnel | undefined;
}

/**
 * The exchange's response state:
 *
 *   awaiting-response ──writeHead──▶ streaming ──end──▶ sent ──delivered──▶ delivered
 *        │  └──── writeWhole / head only / switchProtocols ─▲ │
 *        └──────────────┴── peer gone / output failed ──▶ aborted ◀┘
 *
 * 'sent': the transport has the whole response; 'delivered': the transport reported it out (h1: the socket took
 * it; h2: END_STREAM framed). 'delivered' and 'aborted' are final: the exchange is counted and logged on entering them.
 */
export type ExchangeState = 'awaiting-response' | 'streaming' | 'sent' | 'delivered' | 'aborted';

const TRANSITIONS: Readonly<Record<ExchangeState, readonly ExchangeState[]>> = {
  'awaiting-response': ['streaming', 'sent', 'aborted'],
  streaming: ['sent', 'aborted'],
  sent: ['delivered', 'aborted'],
  delivered: [],
  aborted: [],
};

/** How logs name a request. */
export function requestLabel(request: LazyRequest): string {
  return `${requestView.method(request)} ${requestView.target(request)}`;
}

export class Exchange {
  private current: ExchangeState = 'awaiting-response';
  /** Set through info.setTrailers(): used when the Response itself carries none. */
  trailers: TrailersInit | undefined = undefined;
  private status = 0;
  private bytes = 0;
  private readonly started: number;
  /** The client as info.remoteAddress and the access log give it: the peer, or with trustProxy who its proxies name. */
  readonly client: ClientAddress;

  constructor(
    readonly context: ServerContext,
    readonly facts: ConnectionFacts,
    readonly request: LazyRequest,
    readonly writer: ResponseWriter,
  ) {
    this.client = context.trustProxy === undefined ? facts : requestClient(context.trustProxy, facts, request);
    context.totalRequests++;
    context.inFlightRequests++;
    this.started = context.accessLog !== undefined ? performance.now() : 0;
  }

  /** Where the response stands; changed only through the transition table (moveTo()). */
  get state(): ExchangeState {
    return this.current;
  }

  /** The response is entirely with the transport (or out): nothing more will be written. */
  get responseEnded(): boolean {
    return this.state === 'sent' || this.state === 'delivered';
  }

  /** Counted and logged: nothing about this exchange changes any more. */
  get finished(): boolean {
    return this.state === 'delivered' || this.state === 'aborted';
  }

  private moveTo(next: ExchangeState): void {
    if (!TRANSITIONS[this.current].includes(next)) throw new Error(`exchange cannot go from ${this.current} to ${next}`);
    this.current = next;
    if (next === 'delivered' || next === 'aborted') this.complete();
  }

  /** Output may still be written: the head or body is in progress and the transport still has somewhere to send it. */
  private get writing(): boolean {
    return this.state === 'streaming' && !this.writer.closed;
  }

  sendInformational(status: number, fields: string[]): void {
    if (this.state !== 'awaiting-response' || this.writer.closed) return;
    try {
      this.writer.writeInformational(status, fields);
    } catch (error) {
      // Refused before anything was written (h2: the HPACK encoder rolls a failed block back): the hint is just
      // not sent (RFC 8297 §2: hints are optional).
      this.context.onError(error, `${requestLabel(this.request)} (informational ${status} response)`);
    }
  }

  /**
   * Writes the response; returns true when it was completely handed to the transport synchronously. Never throws:
   * whatever goes wrong becomes a 500 while the head is still ours, else the response is cut off.
   */
  respond(response: Response): boolean {
    try {
      return this.write(response);
    } catch (error) {
      if (this.state === 'awaiting-response' && !this.writer.closed) {
        try {
          return this.write(this.context.failure(error, this.request));
        } catch (secondError) {
          error = secondError;
        }
      }
      this.context.onError(error, `${requestLabel(this.request)} (writing the response)`);
      this.failOutput(error);
      return false;
    }
  }

  private write(response: Response): boolean {
    const writer = this.writer;
    if (this.state !== 'awaiting-response' || writer.closed) {
      // Nobody to answer (the client went away meanwhile): release what the response holds.
      releaseResponseBody(response);
      return false;
    }
    const upgrade = upgradeOf(response);
    if (upgrade !== undefined) return this.switchProtocols(upgrade);
    const family = writer.family;
    const options = {
      family,
      keepStrings: writer.keepsStringBodies,
      isHead: requestView.method(this.request) === 'HEAD',
      serverHeader: this.context.serverHeader,
    };
    let parts: ResponseParts;
    let trailers: PreparedTrailers | undefined;
    try {
      // Everything the application supplied is validated here, before a byte is written: a bad field is a 500.
      parts = readResponse(response, options);
      trailers = prepareTrailers(parts.trailers ?? this.trailers, family);
    } catch (error) {
      // The application's response is refused as a whole: its streamed body must not keep producing unread.
      releaseResponseBody(response);
      parts = readResponse(this.context.failure(error, this.request), options);
      trailers = undefined;
    }
    this.status = parts.status;
    this.advertiseAlternatives(parts.headers);
    const body = parts.body;
    if (trailers !== undefined && !writer.acceptsTrailers(body !== null)) trailers = undefined;
    const head: ResponseHead = { status: parts.status, fields: parts.headers, endsMessage: false, contentLength: parts.contentLength, trailers };
    if (trailers === undefined) {
      if (body === null) {
        head.endsMessage = true;
        this.moveTo('sent');
        writer.writeHead(head);
        return true;
      }
      if (typeof body === 'string' || body instanceof Uint8Array) {
        this.bytes = typeof body === 'string' ? parts.contentLength : body.byteLength;
        this.moveTo('sent');
        writer.writeWhole(head, body);
        return true;
      }
    }
    this.moveTo('streaming');
    writer.writeHead(head);
    this.pump(body, trailers, head.contentLength).catch((error: unknown) => {
      if (!(error instanceof ClientAbortError)) this.context.onError(error, `${requestLabel(this.request)} (response body)`);
      this.failOutput(error);
    });
    return false;
  }

  /**
   * RFC 7838 §3: HTTP/3 on the same port is advertised on h1 and h2 responses over TLS (PROTOCOLS[p].advertisesAltSvc),
   * unless the application set its own Alt-Svc.
   */
  private advertiseAlternatives(fields: string[]): void {
    const altSvc = this.context.altSvc;
    if (altSvc === undefined || this.facts.scheme !== 'https' || !PROTOCOLS[this.facts.protocol].advertisesAltSvc) return;
    for (let i = 0; i < fields.length; i += 2) if (fields[i]!.toLowerCase() === 'alt-svc') return;
    fields.push('alt-svc', altSvc);
  }

  /** The handler accepted a WebSocket handshake: the exchange ends with the handshake head, the hub takes the tunnel. */
  private switchProtocols(upgrade: PendingUpgrade): boolean {
    const hub = this.context.webSockets;
    const tunnel = hub === undefined ? undefined : this.writer.switchProtocols(upgrade);
    // Only the handshake request the Response was made for can switch; anything else is an application error (500).
    if (hub === undefined || tunnel === undefined) throw new TypeError('an upgradeWebSocket() Response answers only the handshake request it was made for');
    this.status = upgrade.status;
    this.moveTo('sent');
    hub.accept(tunnelForClient(tunnel, this.client), upgrade);
    this.delivered();
    return true;
  }

  /** Streams the body, never past `declaredLength` (-1: none declared, or chunked), then the trailers. */
  private async pump(body: ResponseParts['body'], trailers: PreparedTrailers | undefined, declaredLength: number): Promise<void> {
    const writer = this.writer;
    if (typeof body === 'string') body = Buffer.from(body, 'utf8');
    if (body instanceof Uint8Array) {
      this.bytes += body.byteLength;
      if (!writer.writeData(body)) await writer.waitWritable();
    } else if (body !== null) {
      const iterator = iterateBody(body);
      try {
        for await (const chunk of iterator) {
          if (!this.writing) throw new ClientAbortError();
          if (chunk.byteLength === 0) continue;
          checkBodyChunk(declaredLength, this.bytes, chunk.byteLength);
          this.bytes += chunk.byteLength;
          if (!writer.writeData(chunk)) await writer.waitWritable();
        }
      } finally {
        if (!this.writing) await iterator.return(undefined).catch(() => undefined);
      }
      checkBodyEnd(declaredLength, this.bytes);
    }
    if (!this.writing) throw new ClientAbortError();
    let list: string[] | undefined;
    if (trailers !== undefined) {
      list = await resolveTrailers(trailers, writer.family);
      if (!this.writing) throw new ClientAbortError();
    }
    this.moveTo('sent');
    writer.end(list);
  }

  /** Our side could not complete the response: the transport cuts it off, the exchange ends as it stands. */
  private failOutput(error: unknown): void {
    if (this.finished) return;
    this.writer.abort(error);
    // A response cut by us keeps its status in the log (unlike one the client walked away from, see peerGone()).
    // The transport may have reported the client gone from abort(): then the exchange is finished already.
    if (!this.finished) this.moveTo('aborted');
  }

  /** The transport delivered the whole response. */
  delivered(): void {
    if (this.state === 'sent') this.moveTo('delivered');
  }

  /**
   * The client went away, or the exchange was reset: the request's signal is aborted (even after the response,
   * for a handler still reading the body) and an unfinished response is abandoned.
   */
  peerGone(error: unknown): void {
    requestView.abort(this.request, error);
    if (this.finished) return;
    this.status = 0;
    this.moveTo('aborted');
  }

  /** Counters and the access-log entry, once. */
  private complete(): void {
    const context = this.context;
    context.inFlightRequests--;
    const log = context.accessLog;
    if (log !== undefined) {
      const request = this.request;
      const raw = requestView.rawHeaders(request);
      log({
        remoteAddress: this.client.remoteAddress,
        method: requestView.method(request),
        path: requestView.target(request),
        protocol: this.facts.protocol,
        status: this.status,
        bytes: this.bytes,
        referer: findRawHeader(raw, 'referer') ?? '',
        userAgent: findRawHeader(raw, 'user-agent') ?? '',
        durationMs: performance.now() - this.started,
      });
    }
    this.writer.released();
  }
}
