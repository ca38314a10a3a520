/**
 * The ResponseWriter shared by the stream-multiplexed protocols (HTTP/2 and HTTP/3): both frame a response as a
 * HEADERS section with :status, DATA with a per-stream high-water mark, trailers as a final HEADERS section, and
 * cut an unfinishable response with a stream reset (RFC 9113 §8.1, RFC 9114 §4.1). The transport supplies the
 * engine, how to flush its output, and what happens around the request half (tunnels, timers).
 */
import { QueuedBodySource, requestView } from '../request.js';
import { RequestInfo, type ConnectionFacts, type ServerContext } from '../context.js';
import type { Exchange, ResponseHead, ResponseWriter } from './exchange.js';
import type { Tunnel } from './tunnel.js';
import type { PendingUpgrade, UpgradeFacts } from '../websocket/upgrade.js';

/** The engine calls a stream writer makes (src/h2 and src/h3 spell them alike). */
export interface StreamEngine {
  sendInformational(streamId: number, status: number, fields: string[]): void;
  sendHeaders(streamId: number, fields: string[], endStream: boolean): void;
  /** False above the stream's high-water mark: wait for the engine's streamWritable event. */
  sendData(streamId: number, data: Uint8Array, endStream: boolean): boolean;
  sendTrailers(streamId: number, fields: string[]): void;
  resetStream(streamId: number, code: number): void;
}

/**
 * The request side of a stream as the server sees it (RFC 9113 §5.1, RFC 9114 §4.1): the peer is still sending the
 * body, has ended it (half-closed remote), or the stream was reset by either side. The response side is the
 * exchange's state.
 */
export type InboundState = 'receiving' | 'ended' | 'reset';

const EMPTY = new Uint8Array(0);

/**
 * A request body fed by DATA, or null when the request ended with its head. The flow-control credit goes back
 * (`credit`) only as the application reads (RFC 9113 §6.9, RFC 9000 §4.1): a slow reader holds the client to its window.
 */
export function flowControlledBody(endStream: boolean, maxBodySize: number, credit: (bytes: number) => void): QueuedBodySource | null {
  if (endStream) return null;
  return new QueuedBodySource(maxBodySize, (bytes) => bytes > 0 && credit(bytes), () => {});
}

export abstract class StreamResponseWriter implements ResponseWriter {
  readonly family = 'h2-like';
  readonly keepsStringBodies = false;
  exchange!: Exchange;
  inbound: InboundState;
  writableWaiter: (() => void) | undefined = undefined;

  constructor(
    readonly id: number,
    readonly source: QueuedBodySource | null,
  ) {
    this.inbound = source === null ? 'ended' : 'receiving';
  }

  protected abstract get engine(): StreamEngine;
  /** The protocol's "our fault" reset code (HTTP/2 INTERNAL_ERROR, H3_INTERNAL_ERROR). */
  protected abstract get internalErrorCode(): number;
  /** Have the engine's output sent this turn. */
  protected abstract flush(): void;
  /** Both halves are over: the connection forgets the stream. */
  protected abstract forget(): void;
  abstract upgradeFacts(): UpgradeFacts;
  abstract switchProtocols(upgrade: PendingUpgrade): Tunnel | undefined;

  /** A reset stream takes no more frames; a closed connection aborted every exchange already. */
  get closed(): boolean {
    return this.inbound === 'reset';
  }

  /** Trailers are a HEADERS section after any body, or none (RFC 9113 §8.1, RFC 9114 §4.1). */
  acceptsTrailers(): boolean {
    return true;
  }

  writeInformational(status: number, fields: string[]): void {
    this.engine.sendInformational(this.id, status, fields);
    this.flush();
  }

  writeHead(head: ResponseHead): void {
    const fields = head.fields;
    fields.unshift(':status', String(head.status));
    this.engine.sendHeaders(this.id, fields, head.endsMessage);
    if (head.endsMessage) this.outputEnded();
    this.flush();
  }

  writeWhole(head: ResponseHead, body: string | Uint8Array): void {
    this.writeHead(head);
    this.engine.sendData(this.id, typeof body === 'string' ? Buffer.from(body, 'utf8') : body, true);
    this.outputEnded();
  }

  writeData(chunk: Uint8Array): boolean {
    const more = this.engine.sendData(this.id, chunk, false);
    this.flush();
    return more;
  }

  /** Resolves when the engine reports the stream writable again, or the stream/connection goes away. */
  waitWritable(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.waitChanged(1);
    return new Promise<void>((resolve) => {
      this.writableWaiter = () => {
        this.writableWaiter = undefined;
        this.waitChanged(-1);
        resolve();
      };
    });
  }

  /** A response starts (+1) or stops (-1) waiting for the engine to take more data. */
  protected waitChanged(_delta: number): void {}

  end(trailers: string[] | undefined): void {
    if (trailers !== undefined) this.engine.sendTrailers(this.id, trailers);
    else this.engine.sendData(this.id, EMPTY, true);
    this.outputEnded();
    this.flush();
  }

  /**
   * RFC 9113 §8.1, RFC 9114 §4.1.2: a response that cannot be completed (a broken body, one that does not match its
   * declared content-length, bad trailers) is ended with a stream reset; the internal-error code says the fault is ours.
   */
  abort(): void {
    if (this.closed) return;
    this.inbound = 'reset';
    this.engine.resetStream(this.id, this.internalErrorCode);
    this.flush();
    this.writableWaiter?.();
  }

  released(): void {
    this.forgetIfDone();
  }

  /** The final frame is with the engine: the exchange is delivered. */
  protected outputEnded(): void {
    if (this.inbound === 'receiving') {
      // The response is complete but the client is still uploading: discard the rest (bounded by maxBodySize)
      // so the stream can close normally (RFC 9113 §8.1, RFC 9114 §4.1).
      this.source?.cancel();
    }
    this.exchange.delivered();
  }

  /** The peer ended the request. */
  inputEnded(): void {
    if (this.inbound === 'receiving') this.inbound = 'ended';
    this.source?.end();
    this.forgetIfDone();
  }

  /** The stream was reset (by the peer, the engine or us) or the connection is gone: everything pending fails. */
  reset(error: Error): void {
    if (this.inbound === 'reset') return;
    this.inbound = 'reset';
    this.source?.fail(error);
    this.writableWaiter?.();
    this.exchange.peerGone(error);
    this.forgetIfDone();
  }

  /** Hands the request to the application; its Response (or a 500) is written through this stream. */
  invoke(context: ServerContext, facts: ConnectionFacts): void {
    const exchange = this.exchange;
    const result = context.invoke(exchange.request, new RequestInfo(facts, exchange, context));
    if (result instanceof Promise) result.then((response) => exchange.respond(response));
    else exchange.respond(result);
  }

  /**
   * Answers a request the application never sees (413, 501): the body source fails, request.signal aborts, and the
   * response is written when the head is still ours. Returns whether it was.
   */
  refuse(response: Response, error: Error): boolean {
    const exchange = this.exchange;
    this.source?.fail(error);
    requestView.abort(exchange.request, error);
    if (exchange.state !== 'awaiting-response' || this.closed) return false;
    exchange.respond(response);
    return true;
  }

  protected forgetIfDone(): void {
    if (this.exchange.finished && this.inbound !== 'receiving') this.forget();
  }
}
