/**
 * ServerWebSocket: one WebSocket as the app sees it, running the sans-IO engine (src/ws) over a Tunnel
 * (src/server/core/tunnel.ts) that an HTTP/1.1 Upgrade or an HTTP/2 / HTTP/3 extended CONNECT produced.
 */
import { CloseCode, WebSocketConnection, decodeUtf8, type WebSocketEvent } from '../../ws/index.js';
import type { Tunnel } from '../core/tunnel.js';
import type { PerMessageDeflate } from './deflate.js';
import type { WebSocketHub } from './hub.js';

/** The numbers of the WHATWG WebSocket readyState. */
export const ReadyState = { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 } as const;

/** send() results, as Bun reports them: bytes queued, -1 queued above the backpressure mark, 0 dropped. */
export const SEND_BACKPRESSURE = -1;
export const SEND_DROPPED = 0;

/** Queued bytes above which send() reports backpressure and drain() is promised. */
const BACKPRESSURE_MARK = 64 * 1024;

const encoder = new TextEncoder();

/** @internal A message's bytes: text UTF-8 encoded, views and buffers without copying. */
export function toBytes(data: string | ArrayBufferView | ArrayBuffer): Uint8Array {
  if (typeof data === 'string') return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

export class ServerWebSocket<Data = unknown> {
  data: Data;
  /** The subprotocol agreed in the handshake, '' when none. */
  readonly protocol: string;
  /** The Sec-WebSocket-Extensions the server answered, '' when none. */
  readonly extensions: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The HTTP protocol the tunnel came from: 'http/1.1', 'h2', 'h2c' or 'h3'. */
  readonly httpProtocol: string;

  /** @internal */ readonly engine: WebSocketConnection;
  /** @internal */ readonly subscriptions = new Set<string>();
  private state: number = ReadyState.OPEN;
  private lastActivity = Date.now();
  private pingOutstanding = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private flushScheduled = false;
  private drainWanted = false;
  /** Messages and the final close wait here while a compressed message inflates (order is kept). */
  private inputChain: Promise<void> | undefined;
  private finished = false;
  /** The tunnel was ended or is gone: nothing more is written to it. */
  private tunnelGone = false;

  constructor(
    private readonly hub: WebSocketHub,
    private readonly tunnel: Tunnel,
    options: { data: Data; protocol: string | undefined; extensions: string | undefined; deflate: PerMessageDeflate | undefined },
    private readonly deflate: PerMessageDeflate | undefined = options.deflate,
  ) {
    this.data = options.data;
    this.protocol = options.protocol ?? '';
    this.extensions = options.extensions ?? '';
    this.remoteAddress = tunnel.remoteAddress;
    this.remotePort = tunnel.remotePort;
    this.httpProtocol = tunnel.protocol;
    this.engine = new WebSocketConnection({
      role: 'server',
      perMessageDeflate: deflate !== undefined,
      limits: { maxMessageSize: hub.options.maxMessageSize },
    });
  }

  /** @internal Called by the hub once the handshake response went out. */
  start(): void {
    this.tunnel.attach({
      data: (chunk) => this.onData(chunk),
      // The peer half-closed without a Close frame: nothing more can come (§7.1.5: 1006).
      end: () => this.abort(),
      drain: () => this.onDrain(),
      close: () => this.abort(),
    });
    this.armIdleTimer();
    this.hub.callHandler('open', this, () => this.hub.handler.open?.(this));
  }

  get readyState(): number {
    return this.state;
  }

  /** Bytes queued for the peer and not yet handed to the network. */
  get bufferedAmount(): number {
    return this.engine.bufferedAmount + this.tunnel.bufferedAmount;
  }

  /**
   * Sends one message: a string as text, bytes as binary. Returns the bytes queued, -1 when queued but the peer
   * is not keeping up (drain() follows), 0 when dropped (closed, or above maxBufferedBytes).
   * `compress` (default: on when permessage-deflate was agreed and the message is above the threshold).
   */
  send(data: string | ArrayBufferView | ArrayBuffer, compress?: boolean): number {
    const binary = typeof data !== 'string';
    return this.sendBytes(toBytes(data), binary, compress);
  }

  sendText(text: string, compress?: boolean): number {
    return this.sendBytes(encoder.encode(text), false, compress);
  }

  sendBinary(data: ArrayBufferView | ArrayBuffer, compress?: boolean): number {
    return this.sendBytes(toBytes(data), true, compress);
  }

  private sendBytes(payload: Uint8Array, binary: boolean, compress: boolean | undefined): number {
    if (this.state !== ReadyState.OPEN) return SEND_DROPPED;
    if (!this.admit(payload.byteLength)) return SEND_DROPPED;
    const deflateOptions = this.hub.options.perMessageDeflate;
    if (this.deflate !== undefined && deflateOptions !== false && (compress ?? payload.byteLength >= deflateOptions.threshold)) {
      this.engine.sendMessage(this.deflate.deflate(payload), { binary, compressed: true });
    } else {
      this.engine.sendMessage(payload, { binary });
    }
    this.hub.messagesOut++;
    return this.afterQueue(payload.byteLength);
  }

  /** @internal publish(): the frame was encoded once for every subscriber. */
  sendEncodedFrame(frame: Uint8Array): number {
    if (this.state !== ReadyState.OPEN) return SEND_DROPPED;
    if (!this.admit(frame.byteLength)) return SEND_DROPPED;
    this.engine.sendEncoded(frame);
    this.hub.messagesOut++;
    return this.afterQueue(frame.byteLength);
  }

  /** A peer that does not read must not grow our memory without bound. */
  private admit(bytes: number): boolean {
    if (this.bufferedAmount + bytes <= this.hub.options.maxBufferedBytes) return true;
    if (this.hub.options.closeOnBackpressureLimit) this.fail(CloseCode.policyViolation, 'send buffer limit reached');
    return false;
  }

  private afterQueue(bytes: number): number {
    this.scheduleFlush();
    if (this.bufferedAmount > BACKPRESSURE_MARK) {
      this.drainWanted = true;
      return SEND_BACKPRESSURE;
    }
    return bytes;
  }

  ping(data: string | ArrayBufferView | ArrayBuffer = new Uint8Array(0)): boolean {
    if (this.state !== ReadyState.OPEN) return false;
    const sent = this.engine.ping(toBytes(data));
    this.scheduleFlush();
    return sent;
  }

  pong(data: string | ArrayBufferView | ArrayBuffer = new Uint8Array(0)): boolean {
    if (this.state !== ReadyState.OPEN) return false;
    const sent = this.engine.pong(toBytes(data));
    this.scheduleFlush();
    return sent;
  }

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2): code 1000 or an application code 3000–4999, reason ≤ 123 UTF-8
   * bytes. The close handler runs when the peer answers, or with 1006 after closeTimeout.
   */
  close(code: number = CloseCode.normal, reason = ''): void {
    if (this.state !== ReadyState.OPEN) return;
    this.engine.close(code, reason);
    this.state = ReadyState.CLOSING;
    this.unsubscribeAll();
    this.flush();
    this.closeTimer = setTimeout(() => {
      this.tunnel.destroy();
      this.abort();
    }, this.hub.options.closeTimeoutMs);
    this.closeTimer.unref?.();
  }

  /** Closes the tunnel at once, without a closing handshake (the close handler gets 1006). */
  terminate(): void {
    if (this.finished) return;
    this.tunnel.destroy();
    this.abort();
  }

  subscribe(topic: string): void {
    if (this.state !== ReadyState.OPEN || this.subscriptions.has(topic)) return;
    this.subscriptions.add(topic);
    this.hub.addSubscriber(topic, this as ServerWebSocket<unknown>);
  }

  unsubscribe(topic: string): void {
    if (!this.subscriptions.delete(topic)) return;
    this.hub.removeSubscriber(topic, this as ServerWebSocket<unknown>);
  }

  isSubscribed(topic: string): boolean {
    return this.subscriptions.has(topic);
  }

  /** Sends to every subscriber of `topic` (not this socket unless publishToSelf); returns how many got it. */
  publish(topic: string, data: string | ArrayBufferView | ArrayBuffer): number {
    return this.hub.publish(topic, data, this.hub.options.publishToSelf ? undefined : (this as ServerWebSocket<unknown>));
  }

  /** Runs `callback` and sends what it queued in one write. */
  cork<T>(callback: (ws: this) => T): T {
    const wasScheduled = this.flushScheduled;
    this.flushScheduled = true;
    try {
      return callback(this);
    } finally {
      this.flushScheduled = wasScheduled;
      this.flush();
    }
  }

  // ------------------------------------------------------------------ input

  private onData(chunk: Uint8Array): void {
    this.lastActivity = Date.now();
    this.pingOutstanding = false;
    let events: WebSocketEvent[];
    try {
      events = this.engine.receive(chunk);
    } catch (error) {
      // The engine never throws on peer input; anything here is our bug: contain it to this socket.
      this.hub.reportError(error, this, 'websocket engine');
      this.terminate();
      return;
    }
    // Frames the app queues while handling this batch leave in one write.
    this.flushScheduled = true;
    for (const event of events) this.dispatch(event);
    this.flushScheduled = false;
    this.flush();
  }

  private dispatch(event: WebSocketEvent): void {
    // Behind a message that is inflating, everything waits its turn: order is kept.
    if (this.inputChain !== undefined || (event.type === 'message' && event.compressed)) this.queueInput(event);
    else this.handleEvent(event);
  }

  private handleEvent(event: WebSocketEvent): void {
    switch (event.type) {
      case 'message':
        this.deliver(event.data);
        break;
      case 'ping':
        this.hub.callHandler('ping', this, () => this.hub.handler.ping?.(this, event.data));
        break;
      case 'pong':
        this.hub.callHandler('pong', this, () => this.hub.handler.pong?.(this, event.data));
        break;
      case 'closed':
        this.finish(event.code, event.reason);
        break;
    }
  }

  /** Input is paused while the chain is busy, so at most one compressed message is held (bounded memory). */
  private queueInput(event: WebSocketEvent): void {
    this.tunnel.pause();
    const chain = (this.inputChain ?? Promise.resolve()).then(() => this.handleQueued(event));
    this.inputChain = chain;
    void chain.then(() => {
      if (this.inputChain !== chain) return;
      this.inputChain = undefined;
      if (!this.finished) this.tunnel.resume();
    });
  }

  private async handleQueued(event: WebSocketEvent): Promise<void> {
    if (this.finished) return;
    if (event.type === 'message' && event.compressed) {
      let data: Uint8Array;
      try {
        data = await this.deflate!.inflate(event.data as Uint8Array);
      } catch (error) {
        const code = (error as { closeCode?: number }).closeCode ?? CloseCode.invalidPayload;
        this.fail(code, code === CloseCode.messageTooBig ? 'message too big' : 'invalid compressed message');
        return;
      }
      if (event.binary) this.deliver(data);
      else {
        // RFC 7692 §6: text is validated after inflation (RFC 6455 §8.1: 1007).
        const text = decodeUtf8(data);
        if (text === null) this.fail(CloseCode.invalidPayload, 'invalid UTF-8');
        else this.deliver(text);
      }
    } else {
      this.handleEvent(event);
    }
    this.flush();
  }

  private deliver(data: string | Uint8Array): void {
    if (this.state === ReadyState.CLOSED) return;
    this.hub.messagesIn++;
    this.hub.callHandler('message', this, () => this.hub.handler.message?.(this, data));
  }

  private onDrain(): void {
    this.flush();
    if (!this.drainWanted || this.bufferedAmount > BACKPRESSURE_MARK || this.state !== ReadyState.OPEN) return;
    this.drainWanted = false;
    this.hub.callHandler('drain', this, () => this.hub.handler.drain?.(this));
  }

  // ----------------------------------------------------------------- output

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.flushScheduled) return;
    const chunks = this.engine.dataToSendv();
    if (chunks !== null && !this.tunnelGone) {
      if (!this.tunnel.write(chunks)) this.drainWanted ||= this.state === ReadyState.OPEN && this.hub.handler.drain !== undefined;
    }
    if (this.engine.isDone && this.finished && !this.tunnelGone) {
      // §7.1.1: the server closes the TCP connection (or the stream) first, once its Close went out.
      this.tunnelGone = true;
      this.tunnel.end();
    }
  }

  // ---------------------------------------------------------------- endings

  /** @internal The app or the hub fails the socket (1008 backpressure, 1009, 1011 handler error, 1001 idle). */
  fail(code: number, reason: string): void {
    const event = this.engine.failConnection(code, reason);
    if (event?.type === 'closed') this.finish(event.code, event.reason);
    this.flush();
  }

  /** The tunnel is gone, or the closing handshake timed out: 1006 (§7.1.5). */
  private abort(): void {
    if (this.finished) return;
    this.tunnelGone = true;
    this.engine.abort();
    this.finish(CloseCode.abnormal, '');
  }

  private finish(code: number, reason: string): void {
    if (this.finished) return;
    this.finished = true;
    this.state = ReadyState.CLOSED;
    clearTimeout(this.idleTimer);
    clearTimeout(this.closeTimer);
    this.unsubscribeAll();
    this.deflate?.close();
    this.flush();
    this.hub.remove(this as ServerWebSocket<unknown>);
    this.hub.callHandler('close', this, () => this.hub.handler.close?.(this, code, reason));
  }

  private unsubscribeAll(): void {
    for (const topic of this.subscriptions) this.hub.removeSubscriber(topic, this as ServerWebSocket<unknown>);
    this.subscriptions.clear();
  }

  /**
   * One timer per socket, re-armed only when it fires (not per message): after idleTimeout/2 of silence a ping,
   * after idleTimeout of silence a 1001 close.
   */
  private armIdleTimer(): void {
    const idle = this.hub.options.idleTimeoutMs;
    if (idle === 0) return;
    const check = () => {
      if (this.finished) return;
      const silence = Date.now() - this.lastActivity;
      if (silence >= idle) {
        if (this.state === ReadyState.OPEN) this.close(CloseCode.goingAway, 'idle timeout');
        return;
      }
      if (this.hub.options.sendPings && silence >= idle / 2 && !this.pingOutstanding) {
        this.pingOutstanding = true;
        this.ping();
      }
      const wait = silence >= idle / 2 ? idle - silence : idle / 2 - silence;
      this.idleTimer = setTimeout(check, Math.max(wait, 10));
      this.idleTimer.unref?.();
    };
    this.idleTimer = setTimeout(check, idle / 2);
    this.idleTimer.unref?.();
  }
}

