/**
 * Public WebSocket types of the server: the handler an app exports beside `fetch`, and its options.
 * The shape follows what users know from Bun and crossws (open/message/close/drain on a socket object with
 * `data`), with Deno's "the upgrade is a Response" on the fetch side.
 */
import type { ServerWebSocket } from './socket.js';

export interface WebSocketHandler<Data = unknown> {
  /** The handshake finished; the socket can send. */
  open?(ws: ServerWebSocket<Data>): void | Promise<void>;
  /** A whole message: text as a string, binary as bytes. */
  message?(ws: ServerWebSocket<Data>, data: string | Uint8Array): void | Promise<void>;
  /** The socket closed: the peer's code and reason, 1006 without a closing handshake (RFC 6455 §7.1.5). */
  close?(ws: ServerWebSocket<Data>, code: number, reason: string): void | Promise<void>;
  /** The send buffer emptied after send() reported backpressure (-1). */
  drain?(ws: ServerWebSocket<Data>): void;
  ping?(ws: ServerWebSocket<Data>, data: Uint8Array): void;
  pong?(ws: ServerWebSocket<Data>, data: Uint8Array): void;

  /** Largest message accepted, bytes (after inflation); larger ones close with 1009. Default 16 MiB. */
  maxMessageSize?: number;
  /**
   * Seconds without any frame from the peer before the socket is closed (1001). With sendPings, a ping goes out
   * after half of it, so a live peer answers and stays. Default 120; 0 disables.
   */
  idleTimeout?: number;
  /** Send pings when the peer is quiet (default true). */
  sendPings?: boolean;
  /**
   * Bytes a socket may have queued for a peer that does not read. Past it, send() drops the message and returns 0
   * (or closes the socket with 1008 when closeOnBackpressureLimit is set). Default 16 MiB.
   */
  maxBufferedBytes?: number;
  closeOnBackpressureLimit?: boolean;
  /** permessage-deflate (RFC 7692): off by default (it costs CPU and memory per socket). */
  perMessageDeflate?: boolean | { threshold?: number; level?: number };
  /** publish() also sends to the publishing socket (default false). */
  publishToSelf?: boolean;
  /** Open WebSockets per process; upgrades beyond it are answered 503. Default 10,000. */
  maxSockets?: number;
  /** How long a closing handshake may take before the tunnel is cut (ms). Default 5,000. */
  closeTimeout?: number;
}

export interface UpgradeOptions<Data = unknown> {
  /** Attached to the socket as ws.data. */
  data?: Data;
  /** The subprotocol to select; must be one the client offered (else the handshake answers without one). */
  protocol?: string;
  /** Extra headers for the 101 (HTTP/1.1) or 200 (HTTP/2 and HTTP/3) response. */
  headers?: HeadersInit;
}

export interface WebSocketStats {
  webSockets: number;
  webSocketMessagesIn: number;
  webSocketMessagesOut: number;
}
