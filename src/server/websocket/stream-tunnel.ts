/**
 * A Tunnel (src/server/core/tunnel.ts) over one stream of a multiplexed connection after an extended CONNECT:
 * HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220). write() becomes DATA (the engine's per-stream high-water mark is the
 * backpressure), input is returned to flow control only as the tunnel delivers it (pause() withholds the credit,
 * so a peer cannot make us buffer more than the stream window), end() ends the stream, destroy() cancels it.
 * What differs between HTTP/2 and HTTP/3 is behind TunnelStream.
 */
import type { Tunnel, TunnelHandlers } from '../core/tunnel.js';
import { StreamResponseWriter } from '../core/stream-writer.js';
import { isConnectionSpecific } from '../../http/fields.js';
import { ClientAbortError, type QueuedBodySource } from '../request.js';
import type { PendingUpgrade, UpgradeFacts } from './upgrade.js';

/**
 * The 2xx answering an extended CONNECT (RFC 8441 §5, RFC 9220 §3): the status, then the upgrade's fields less the
 * connection-specific ones, which are malformed in HTTP/2 (RFC 9113 §8.2.2) and HTTP/3 (RFC 9114 §4.2).
 */
export function upgradeResponseFields(upgrade: PendingUpgrade): string[] {
  const fields = [':status', String(upgrade.status)];
  for (const [name, value] of upgrade.headers) if (!isConnectionSpecific(name)) fields.push(name, value);
  return fields;
}

/** What the HTTP/2 and HTTP/3 engines both offer for one stream. */
export interface TunnelEngine {
  consume(streamId: number, bytes: number): void;
  /** One DATA frame (or only the end of the stream for empty data); false when above the high-water mark. */
  sendData(streamId: number, data: Uint8Array, endStream: boolean): boolean;
  /** HTTP/2: RST_STREAM; HTTP/3: RESET_STREAM + STOP_SENDING. */
  resetStream(streamId: number, code: number): void;
}

/** The transport's side of the stream under a tunnel. */
export interface TunnelStreamOptions {
  readonly facts: { readonly protocol: string; readonly remoteAddress: string; readonly remotePort: number };
  /** The connection is gone: nothing can be sent or credited any more. */
  isGone(): boolean;
  /** Output was handed to the engine: have it sent. */
  flush(): void;
  /** The code destroy() cancels the stream with (HTTP/2 CANCEL, HTTP/3 H3_REQUEST_CANCELLED). */
  cancelCode: number;
  /** The exchange under the tunnel is aborted (the stream's own bookkeeping; it calls gone()). */
  abort(error: Error): void;
}

const EMPTY = new Uint8Array(0);

export class StreamTunnel implements Tunnel {
  private handlers: TunnelHandlers | undefined;
  /** Input not yet delivered (before attach() or while paused), with its flow-controlled lengths. */
  private readonly pending: Uint8Array[] = [];
  private readonly pendingFlow: number[] = [];
  private paused = false;
  private peerFinished = false;
  private endDelivered = false;
  private outputEnded = false;
  private closed = false;
  private closeError: unknown = undefined;
  /** Bytes handed to the engine since it last had room for this stream (0 while it has). */
  private unacknowledged = 0;

  constructor(
    private readonly engine: TunnelEngine,
    private readonly streamId: number,
    private readonly stream: TunnelStreamOptions,
  ) {}

  get protocol(): string {
    return this.stream.facts.protocol;
  }

  get remoteAddress(): string {
    return this.stream.facts.remoteAddress;
  }

  get remotePort(): number {
    return this.stream.facts.remotePort;
  }

  private send(chunk: Uint8Array, end: boolean): boolean {
    const room = this.engine.sendData(this.streamId, chunk, end);
    this.stream.flush();
    return room;
  }

  get bufferedAmount(): number {
    return this.unacknowledged;
  }

  attach(handlers: TunnelHandlers): void {
    if (this.handlers !== undefined) throw new Error('a tunnel is attached once');
    this.handlers = handlers;
    if (this.closed) {
      queueMicrotask(() => handlers.close(this.closeError));
      return;
    }
    this.deliver();
  }

  /** DATA from the peer (a copy: the engine's view is only valid while its event is handled). */
  receive(chunk: Uint8Array, flowControlledLength: number): void {
    if (this.closed) {
      this.consume(flowControlledLength);
      return;
    }
    this.pending.push(chunk);
    this.pendingFlow.push(flowControlledLength);
    this.deliver();
  }

  private deliver(): void {
    const handlers = this.handlers;
    if (handlers === undefined) return;
    while (!this.paused && !this.closed && this.pending.length > 0) {
      const chunk = this.pending.shift()!;
      this.consume(this.pendingFlow.shift()!);
      handlers.data(chunk);
    }
    if (this.peerFinished && this.pending.length === 0 && !this.endDelivered && !this.closed) {
      this.endDelivered = true;
      handlers.end();
      this.closeIfBothEnded();
    }
  }

  private consume(bytes: number): void {
    if (bytes === 0 || this.stream.isGone()) return;
    this.engine.consume(this.streamId, bytes);
    this.stream.flush();
  }

  write(chunks: Uint8Array | readonly Uint8Array[]): boolean {
    if (this.closed || this.outputEnded) return false;
    const list = chunks instanceof Uint8Array ? [chunks] : chunks;
    let room = true;
    for (const chunk of list) {
      if (chunk.byteLength === 0) continue;
      room = this.send(chunk, false);
      this.unacknowledged = room ? 0 : this.unacknowledged + chunk.byteLength;
    }
    return room;
  }

  /** The engine has room for the stream again (streamWritable). */
  writable(): void {
    if (this.unacknowledged === 0 || this.closed) return;
    this.unacknowledged = 0;
    this.handlers?.drain();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.deliver();
  }

  end(): void {
    if (this.closed || this.outputEnded) return;
    this.outputEnded = true;
    this.send(EMPTY, true);
    this.closeIfBothEnded();
  }

  destroy(): void {
    if (this.closed) return;
    if (!this.stream.isGone()) {
      this.engine.resetStream(this.streamId, this.stream.cancelCode);
      this.stream.flush();
    }
    this.stream.abort(new ClientAbortError('the tunnel was destroyed'));
  }

  /** The peer ended its side: after what is pending, the tunnel's input ends. */
  peerEnded(): void {
    this.peerFinished = true;
    this.deliver();
  }

  /** The stream was reset or the connection closed. */
  gone(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    let credit = 0;
    for (const length of this.pendingFlow) credit += length;
    this.pending.length = 0;
    this.pendingFlow.length = 0;
    this.consume(credit);
    this.handlers?.close(error);
  }

  private closeIfBothEnded(): void {
    if (this.closed || !this.outputEnded || !this.endDelivered) return;
    this.closed = true;
    this.handlers?.close();
  }
}

/** What a transport tells TunnelingStreamWriter about its stream. */
export interface TunnelSide extends Pick<TunnelStreamOptions, 'facts' | 'isGone' | 'cancelCode'> {
  engine: TunnelEngine;
}

/**
 * The stream writer of HTTP/2 and HTTP/3 with extended CONNECT: answers it with a 2xx that leaves the stream open
 * (RFC 8441 §5, RFC 9220 §3) and from then on the stream's DATA is a StreamTunnel's, in both directions.
 */
export abstract class TunnelingStreamWriter extends StreamResponseWriter {
  /** The stream became a tunnel (extended CONNECT answered with 2xx). */
  tunnel: StreamTunnel | undefined = undefined;

  constructor(
    id: number,
    source: QueuedBodySource | null,
    /** The :protocol of an extended CONNECT, else undefined. */
    private readonly connectProtocol: string | undefined,
  ) {
    super(id, source);
  }

  /** The transport's side of the tunnel: its engine, facts, liveness and cancel code. */
  protected abstract tunnelSide(): TunnelSide;

  upgradeFacts(): UpgradeFacts {
    return { family: 'h2', connectProtocol: this.connectProtocol };
  }

  switchProtocols(upgrade: PendingUpgrade): Tunnel | undefined {
    const side = this.tunnelSide();
    if (this.connectProtocol === undefined || this.inbound !== 'receiving' || side.isGone()) return undefined;
    this.engine.sendHeaders(this.id, upgradeResponseFields(upgrade), false);
    this.flush();
    this.tunnel = new StreamTunnel(side.engine, this.id, { ...side, flush: () => this.flush(), abort: (error) => this.reset(error) });
    return this.tunnel;
  }

  override inputEnded(): void {
    super.inputEnded();
    this.tunnel?.peerEnded();
  }

  override reset(error: Error): void {
    if (this.inbound === 'reset') return;
    super.reset(error);
    this.tunnel?.gone(error);
  }
}
