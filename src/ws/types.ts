/**
 * Shared types of the sans-IO WebSocket engine (RFC 6455).
 */

/** RFC 6455 §5.2 opcodes. */
export const Opcode = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** RFC 6455 §7.4.1 status codes (and the IANA registry entries 1012–1014). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  unsupportedData: 1003,
  /** Never sent: stands for "the Close frame had no status code" (§7.1.5). */
  noStatus: 1005,
  /** Never sent: stands for "the connection closed without a Close frame" (§7.1.5). */
  abnormal: 1006,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  mandatoryExtension: 1010,
  internalError: 1011,
  serviceRestart: 1012,
  tryAgainLater: 1013,
  badGateway: 1014,
  /** Never sent: TLS handshake failure (§7.4.1). */
  tlsHandshake: 1015,
} as const;

/**
 * RFC 6455 §7.4: may this code appear in a Close frame on the wire? 1000–1003 and 1007–1014 are defined for use;
 * 1004 is reserved, 1005/1006/1015 must never be sent; 1016–2999 are reserved for future RFCs; 3000–4999 are for
 * libraries, frameworks and applications.
 */
export function isValidCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

export interface WebSocketLimits {
  /**
   * Largest message (after reassembly of fragments) accepted, in bytes; larger ones fail the connection with 1009
   * (RFC 6455 §7.4.1) as soon as a frame header announces them, before any payload is buffered. Bounds memory per
   * socket. 16 MiB is Bun's default; the `ws` package allows 100 MiB, uWebSockets 16 KiB.
   */
  maxMessageSize: number;
  /**
   * Control frames (ping, pong) a peer may send in a burst, refilled at controlFrameRatePerSecond: a ping flood
   * makes us queue one pong per ping (the h2 PING-flood family, CVE-2019-9512). Exceeding it fails with 1008.
   */
  controlFrameBurst: number;
  controlFrameRatePerSecond: number;
  /**
   * Frames of one fragmented message: empty continuation frames cost parsing but no buffer, so a flood of them is
   * bounded by count. Exceeding it fails with 1009.
   */
  maxFragmentsPerMessage: number;
}

export const DEFAULT_WEBSOCKET_LIMITS: Readonly<WebSocketLimits> = Object.freeze({
  maxMessageSize: 16 * 1024 * 1024,
  controlFrameBurst: 200,
  controlFrameRatePerSecond: 100,
  maxFragmentsPerMessage: 100_000,
});

export type WebSocketEvent =
  /** A complete message. Text is validated UTF-8 (§8.1). `compressed` messages (RSV1, RFC 7692) carry raw DEFLATE data to inflate. */
  | { type: 'message'; data: string | Uint8Array; binary: boolean; compressed: boolean }
  /** A Ping arrived; the Pong answer is already queued (§5.5.2). */
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array }
  /**
   * The connection is over. `clean`: both Close frames were exchanged (§7.1.4); `byPeer`: the peer started the
   * closing handshake, or broke the protocol so that we failed the connection (§7.1.7). `code`/`reason` are the
   * peer's (1005 when its Close had no code) or, when we failed the connection, the ones we sent. After this event,
   * write what dataToSend() still returns and close the transport (the server closes TCP first, §7.1.1).
   */
  | { type: 'closed'; code: number; reason: string; byPeer: boolean; clean: boolean };

export type ReadyState = 'open' | 'closing' | 'closed';
