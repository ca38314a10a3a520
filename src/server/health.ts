/**
 * The health endpoint (`healthPath`, CLI --health): answers load balancer probes before the application sees them.
 * 200 while serving; 503 from the moment a shutdown begins, so that a load balancer stops sending new requests
 * while the server still accepts and serves them (the drain delay) and before the listeners close.
 */
import type { FetchHandler } from './types.js';
import { NativeResponse } from './response.js';

/** Longest drain delay accepted (ms): a shutdown must end. */
export const MAX_DRAIN_DELAY_MS = 300_000;

export function validateHealthPath(path: string, what = 'healthPath'): string {
  if (typeof path !== 'string' || !path.startsWith('/') || /[?#\s]/.test(path)) {
    throw new TypeError(`${what} ${String(path)}: expected a path starting with "/" (no query), e.g. /health.`);
  }
  return path;
}

export function validateDrainDelay(ms: number, what = 'drainDelay'): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_DRAIN_DELAY_MS) {
    throw new TypeError(`${what} ${String(ms)}: expected milliseconds from 0 to ${MAX_DRAIN_DELAY_MS}.`);
  }
  return Math.round(ms);
}

function healthResponse(draining: boolean, head: boolean): Response {
  const body = draining ? 'draining\n' : 'ok\n';
  return new NativeResponse(head ? null : body, {
    status: draining ? 503 : 200,
    headers: {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(body.length),
      // A cached "ok" would hide the shutdown from the next probe.
      'cache-control': 'no-store',
    },
  });
}

/**
 * Puts the health endpoint in front of `handler`. Only GET and HEAD of exactly `path` are answered (a query string
 * is ignored); every other request goes through unchanged. `draining()` says whether a shutdown has begun.
 */
export function withHealthEndpoint(handler: FetchHandler, path: string, draining: () => boolean): FetchHandler {
  return (request, info) => {
    // The substring test keeps URL parsing off every other request's path.
    if ((request.method === 'GET' || request.method === 'HEAD') && request.url.includes(path) && new URL(request.url).pathname === path) {
      return healthResponse(draining(), request.method === 'HEAD');
    }
    return handler(request, info);
  };
}
