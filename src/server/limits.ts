/**
 * Default connection limits. Each bounds a resource a hostile or broken client could otherwise hold forever.
 */
import type { ServerLimits } from './types.js';

export const DEFAULT_SERVER_LIMITS: Readonly<ServerLimits> = Object.freeze({
  // A TCP connection that never completes the TLS handshake holds a socket and a TLS state: drop it.
  handshakeTimeout: 10_000,
  // Slowloris: a request head dribbled one byte at a time must still finish in this window.
  headersTimeout: 20_000,
  // Idle keep-alive (h1) or idle h2 connection (no open stream).
  idleTimeout: 60_000,
  // A whole h1 request (head + body) must be read within this.
  requestTimeout: 300_000,
  // Zero-window slow read (CVE-2019-9517 style): a response that cannot make progress is aborted.
  writeProgressTimeout: 30_000,
  // 64 MiB; larger gives 413 (RFC 9110 §15.5.14).
  maxBodySize: 64 * 1024 * 1024,
  // 64 KiB request head; larger gives 431 (RFC 6585 §5).
  maxHeaderSize: 64 * 1024,
  maxConnections: 10_000,
  shutdownTimeout: 10_000,
});

export function resolveLimits(overrides: Partial<ServerLimits> | undefined): ServerLimits {
  const limits: ServerLimits = { ...DEFAULT_SERVER_LIMITS };
  if (overrides) {
    for (const key of Object.keys(overrides) as (keyof ServerLimits)[]) {
      const value = overrides[key];
      if (value === undefined) continue;
      if (typeof value !== 'number' || !(value >= 0)) {
        throw new TypeError(`limits.${key} must be a non-negative number (got ${String(value)})`);
      }
      limits[key] = value;
    }
  }
  // node:http refuses headersTimeout > requestTimeout (a head cannot take longer than the whole request) with an
  // error about a value the caller may never have set. 0 disables a timeout, so the rule only binds when both are on.
  if (limits.requestTimeout > 0 && limits.headersTimeout > limits.requestTimeout) {
    if (overrides?.headersTimeout === undefined) {
      // Only requestTimeout was lowered: the default head timeout follows it down.
      limits.headersTimeout = limits.requestTimeout;
    } else {
      throw new RangeError(
        `limits.headersTimeout (${limits.headersTimeout} ms) is longer than limits.requestTimeout (${limits.requestTimeout} ms), ` +
          'but the request head is part of the request. Fix: make headersTimeout <= requestTimeout ' +
          `(e.g. headersTimeout: ${limits.requestTimeout}) or raise requestTimeout.`,
      );
    }
  }
  return limits;
}
