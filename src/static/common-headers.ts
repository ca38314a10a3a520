/**
 * What every static response carries (nosniff, CORS, the configured extra headers), and the small responses
 * built from it: plain-text statuses and empty HEAD bodies.
 */
import type { StaticConfig } from './config.js';
import { NativeResponse } from '../server/response.js';

const CORS_EXPOSED_HEADERS = 'content-length, content-range, content-encoding, accept-ranges, etag, last-modified';

/** Adds the common fields to a plain record (lowercase names), which FastResponse hands to the server as is. */
export function withCommonFields(config: StaticConfig, fields: Record<string, string>): Record<string, string> {
  fields['x-content-type-options'] = 'nosniff';
  if (config.corsOrigin !== undefined) {
    fields['access-control-allow-origin'] = config.corsOrigin;
    fields['access-control-expose-headers'] = CORS_EXPOSED_HEADERS;
    if (config.corsOrigin !== '*') fields['vary'] = fields['vary'] ? `${fields['vary']}, origin` : 'origin';
  }
  for (const [name, value] of config.extraHeaders) fields[name] = value;
  return fields;
}

/** withCommonFields for a Headers object. */
export function withCommonHeaders(config: StaticConfig, headers: Headers): Headers {
  headers.set('x-content-type-options', 'nosniff');
  if (config.corsOrigin !== undefined) {
    headers.set('access-control-allow-origin', config.corsOrigin);
    headers.set('access-control-expose-headers', CORS_EXPOSED_HEADERS);
    if (config.corsOrigin !== '*') headers.append('vary', 'origin');
  }
  for (const [name, value] of config.extraHeaders) headers.set(name, value);
  return headers;
}

/**
 * The body of a HEAD response: empty, but a stream rather than null, so that a server treats the declared
 * Content-Length as the length GET would send (RFC 9110 §9.3.2) instead of the length of "no body" (0).
 */
export function headBody(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ pull: (controller) => controller.close() });
}

/** A short plain-text answer (`message` and a newline) with the common headers; no body for HEAD. */
export function textResponse(
  config: StaticConfig,
  status: number,
  message: string,
  init: Record<string, string> = {},
  head = false,
): Response {
  const body = `${message}\n`;
  const headers = new Headers(init);
  headers.set('content-type', 'text/plain; charset=utf-8');
  headers.set('content-length', String(Buffer.byteLength(body)));
  return new NativeResponse(head ? headBody() : body, { status, headers: withCommonHeaders(config, headers) });
}
