/** The access log: one entry per finished exchange, whatever the protocol, and its line formats. */
import type { Protocol } from '../types.js';
import { PROTOCOLS } from './protocols.js';

export interface AccessLogEntry {
  remoteAddress: string;
  method: string;
  path: string;
  protocol: Protocol;
  /** The response status; 0 when the client went away before the response was complete. */
  status: number;
  bytes: number;
  referer: string;
  userAgent: string;
  durationMs: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
function clfDate(date: Date): string {
  const pad = (n: number) => (n < 10 ? '0' + n : String(n));
  return `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad(date.getUTCHours())}:${pad(
    date.getUTCMinutes(),
  )}:${pad(date.getUTCSeconds())} +0000`;
}

export type AccessLogFormat = 'combined' | 'common' | 'json' | 'short';
export const ACCESS_LOG_FORMATS: readonly AccessLogFormat[] = ['combined', 'common', 'json', 'short'];

export function formatAccessLog(format: AccessLogFormat, entry: AccessLogEntry): string {
  const quote = (s: string) => s.replace(/["\\\x00-\x1f\x7f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
  const requestLine = `${entry.method} ${entry.path} ${PROTOCOLS[entry.protocol].logLabel}`;
  switch (format) {
    case 'json':
      // Microseconds are the most a timer this coarse can say; more digits are noise in every log line.
      return JSON.stringify({ time: new Date().toISOString(), ...entry, durationMs: Math.round(entry.durationMs * 1000) / 1000 });
    case 'short':
      return `${entry.remoteAddress} "${quote(requestLine)}" ${entry.status} ${entry.bytes} ${entry.durationMs.toFixed(1)}ms`;
    case 'common':
      return `${entry.remoteAddress} - - [${clfDate(new Date())}] "${quote(requestLine)}" ${entry.status} ${entry.bytes}`;
    default:
      return `${entry.remoteAddress} - - [${clfDate(new Date())}] "${quote(requestLine)}" ${entry.status} ${entry.bytes} "${quote(
        entry.referer || '-',
      )}" "${quote(entry.userAgent || '-')}"`;
  }
}

/** Finds a header value in a flat list by lowercase name (h1 raw headers are case-insensitive). */
export function findRawHeader(raw: string[], lowerName: string): string | undefined {
  const length = lowerName.length;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === length && (name === lowerName || name.toLowerCase() === lowerName)) return raw[i + 1];
  }
  return undefined;
}
