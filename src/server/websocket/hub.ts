/**
 * Every WebSocket of one serve() call: accepting tunnels, topics for fan-out, counters and graceful shutdown.
 */
import { CloseCode, encodeServerMessage } from '../../ws/index.js';
import type { Tunnel } from '../core/tunnel.js';
import { PerMessageDeflate } from './deflate.js';
import { resolveWebSocketOptions, type ResolvedWebSocketOptions } from './options.js';
import { ServerWebSocket, toBytes } from './socket.js';
import type { WebSocketHandler, WebSocketStats } from './types.js';
import type { PendingUpgrade } from './upgrade.js';

type HandlerName = 'open' | 'message' | 'close' | 'drain' | 'ping' | 'pong';

export class WebSocketHub {
  readonly options: ResolvedWebSocketOptions;
  readonly sockets = new Set<ServerWebSocket<unknown>>();
  private readonly topics = new Map<string, Set<ServerWebSocket<unknown>>>();
  messagesIn = 0;
  messagesOut = 0;
  private closing = false;
  private drained: (() => void) | undefined;

  constructor(
    readonly handler: WebSocketHandler<any>,
    private readonly onError: (error: unknown, context: string) => void,
  ) {
    this.options = resolveWebSocketOptions(handler);
  }

  /** Room for one more socket (checked when the upgrade Response is made, before the handshake is answered). */
  get hasRoom(): boolean {
    return !this.closing && this.sockets.size < this.options.maxSockets;
  }

  /** The handshake response went out on `tunnel`: the socket opens. */
  accept(tunnel: Tunnel, upgrade: PendingUpgrade): ServerWebSocket<unknown> {
    const deflate = upgrade.agreement !== undefined && this.options.perMessageDeflate !== false
      ? new PerMessageDeflate(upgrade.agreement, this.options.maxMessageSize, this.options.perMessageDeflate.level)
      : undefined;
    const ws = new ServerWebSocket<unknown>(this, tunnel, {
      data: upgrade.data,
      protocol: upgrade.protocol,
      extensions: upgrade.agreement?.response,
      deflate,
    });
    this.sockets.add(ws);
    ws.start();
    return ws;
  }

  /** Encodes the message once and queues the same frame on every subscriber. Returns how many got it. */
  publish(topic: string, data: string | ArrayBufferView | ArrayBuffer, except?: ServerWebSocket<unknown>): number {
    const subscribers = this.topics.get(topic);
    if (subscribers === undefined || subscribers.size === 0) return 0;
    const payload = typeof data === 'string' ? data : toBytes(data);
    // RSV1 is per message (RFC 7692 §6), so an uncompressed frame is valid on compressed sockets too.
    const frame = encodeServerMessage(payload);
    let delivered = 0;
    for (const ws of subscribers) {
      if (ws === except) continue;
      if (ws.sendEncodedFrame(frame) !== 0) delivered++;
    }
    return delivered;
  }

  /** @internal */
  addSubscriber(topic: string, ws: ServerWebSocket<unknown>): void {
    let set = this.topics.get(topic);
    if (set === undefined) this.topics.set(topic, (set = new Set()));
    set.add(ws);
  }

  /** @internal */
  removeSubscriber(topic: string, ws: ServerWebSocket<unknown>): void {
    const set = this.topics.get(topic);
    if (set === undefined) return;
    set.delete(ws);
    if (set.size === 0) this.topics.delete(topic);
  }

  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** @internal */
  remove(ws: ServerWebSocket<unknown>): void {
    this.sockets.delete(ws);
    if (this.sockets.size === 0) this.drained?.();
  }

  /**
   * Runs an app handler; a throw or a rejection is logged with the socket and closes it with 1011 (RFC 6455
   * §7.4.1 "internal error"), the rest of the server is untouched. Errors from the close handler are only logged.
   */
  callHandler(name: HandlerName, ws: ServerWebSocket<any>, call: () => unknown): void {
    const failed = (error: unknown) => {
      this.reportError(error, ws, `websocket ${name} handler`);
      if (name !== 'close') ws.fail(CloseCode.internalError, 'internal error');
    };
    try {
      const result = call();
      if (result instanceof Promise) result.catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  /** @internal */
  reportError(error: unknown, ws: ServerWebSocket<any>, context: string): void {
    this.onError(error, `${context} (${ws.remoteAddress}:${ws.remotePort}, ${ws.httpProtocol})`);
  }

  /**
   * Graceful shutdown: every socket gets a 1001 Close (RFC 6455 §7.4.1 "going away"); the ones still open after
   * `timeoutMs` are cut. Resolves when none is left.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    this.closing = true;
    if (this.sockets.size === 0) return;
    const done = new Promise<void>((resolve) => (this.drained = resolve));
    for (const ws of this.sockets) ws.close(CloseCode.goingAway, 'server shutting down');
    const timer = setTimeout(() => {
      for (const ws of [...this.sockets]) ws.terminate();
    }, timeoutMs);
    await done;
    clearTimeout(timer);
  }

  stats(): WebSocketStats {
    return { webSockets: this.sockets.size, webSocketMessagesIn: this.messagesIn, webSocketMessagesOut: this.messagesOut };
  }
}
