/** WebSocket handler options with their defaults applied (documented in types.ts). */
import type { WebSocketHandler } from './types.js';

export interface ResolvedWebSocketOptions {
  maxMessageSize: number;
  idleTimeoutMs: number;
  sendPings: boolean;
  maxBufferedBytes: number;
  closeOnBackpressureLimit: boolean;
  perMessageDeflate: false | { threshold: number; level: number };
  publishToSelf: boolean;
  maxSockets: number;
  closeTimeoutMs: number;
}

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`websocket.${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(value)}`);
  }
  return value;
}

export function resolveWebSocketOptions(handler: WebSocketHandler<never>): ResolvedWebSocketOptions {
  const deflate = handler.perMessageDeflate;
  return {
    maxMessageSize: positive('maxMessageSize', handler.maxMessageSize, 16 * 1024 * 1024),
    idleTimeoutMs: positive('idleTimeout', handler.idleTimeout, 120, true) * 1000,
    sendPings: handler.sendPings ?? true,
    maxBufferedBytes: positive('maxBufferedBytes', handler.maxBufferedBytes, 16 * 1024 * 1024),
    closeOnBackpressureLimit: handler.closeOnBackpressureLimit ?? false,
    perMessageDeflate:
      deflate === undefined || deflate === false
        ? false
        : {
            // Small messages gain nothing from DEFLATE and cost a zlib call each.
            threshold: positive('perMessageDeflate.threshold', deflate === true ? undefined : deflate.threshold, 1024, true),
            level: deflate === true || deflate.level === undefined ? 6 : Math.max(0, Math.min(9, Math.trunc(deflate.level))),
          },
    publishToSelf: handler.publishToSelf ?? false,
    maxSockets: positive('maxSockets', handler.maxSockets, 10_000),
    closeTimeoutMs: positive('closeTimeout', handler.closeTimeout, 5000),
  };
}
