/**
 * Field validation for HTTP/3 messages (RFC 9114 §4.2, §4.3, §4.4; RFC 9110 §5.5, §8.6; RFC 9220).
 *
 * Every validator returns null when the message is well-formed, or the reason it is malformed (for traces and tests).
 */

// The generic primitives (name/value syntax, tokens, the connection-specific list, content-length) are the shared
// ones of src/http/fields.ts: RFC 9114 §4.2 applies RFC 9110's field rules exactly as RFC 9113 §8.2 does.
import {
  CONNECTION_SPECIFIC_FIELDS,
  isConnectionSpecific as isConnectionSpecificField,
  isValidFieldName,
  isValidFieldValue,
  isValidMethod as isToken,
  parseContentLength,
  stripConnectionSpecific,
} from '../http/fields.js';
export { CONNECTION_SPECIFIC_FIELDS, isConnectionSpecificField, isToken, isValidFieldName, isValidFieldValue, parseContentLength };

// --- HTTP/3 message rules ------------------------------------------------------------------------------------------

/** Request pseudo-header fields (RFC 9114 §4.3.1, RFC 9220 :protocol): the same shape HTTP/2 uses. */
export type { RequestPseudoHeaders } from '../http/fields.js';
import type { RequestPseudoHeaders } from '../http/fields.js';

export interface ValidatedRequest {
  pseudo: RequestPseudoHeaders;
  /** Regular fields only, in wire order. */
  headers: string[];
  /** Parsed content-length, or -1 when absent. */
  contentLength: number;
}

/**
 * The regular fields from `start` on: lowercase valid names, valid values, no connection-specific field, TE only
 * "trailers" (RFC 9114 §4.2). Collects content-length (agreeing repeats only, RFC 9110 §8.6) and host.
 * Returns the reason when malformed.
 */
function checkRegularFields(
  fields: readonly string[],
  start: number,
  out: string[],
  found: { contentLength: number; host: string | undefined },
): string | null {
  for (let i = start; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (name.charCodeAt(0) === 0x3a) return `pseudo-header ${name} after a regular field (RFC 9114 §4.3)`;
    if (!isValidFieldName(name)) return `invalid field name ${JSON.stringify(name)} (RFC 9114 §4.2)`;
    if (!isValidFieldValue(value)) return `invalid value for ${name} (RFC 9114 §4.2)`;
    if (isConnectionSpecificField(name)) return `connection-specific field ${name} (RFC 9114 §4.2)`;
    if (name === 'te' && value !== 'trailers') return 'TE other than "trailers" (RFC 9114 §4.2)';
    if (name === 'content-length') {
      const parsed = parseContentLength(value);
      if (parsed < 0 || (found.contentLength >= 0 && parsed !== found.contentLength)) return 'invalid content-length (RFC 9110 §8.6)';
      found.contentLength = parsed;
    } else if (name === 'host') {
      found.host = value;
    }
    out.push(name, value);
  }
  return null;
}

/**
 * RFC 9114 §4.3.1 (request pseudo-headers), §4.4 (CONNECT), RFC 9220 §3 (extended CONNECT, only when we sent
 * SETTINGS_ENABLE_CONNECT_PROTOCOL), §4.2 (field rules). Returns the request or the reason it is malformed.
 */
export function validateRequest(fields: readonly string[], enableConnectProtocol: boolean): ValidatedRequest | string {
  const seen = new Map<string, string>();
  let i = 0;
  for (; i < fields.length && fields[i]!.charCodeAt(0) === 0x3a; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    if (name !== ':method' && name !== ':scheme' && name !== ':authority' && name !== ':path' && name !== ':protocol') {
      return `pseudo-header ${name} not allowed in a request (RFC 9114 §4.3)`;
    }
    if (seen.has(name)) return `pseudo-header ${name} repeated (RFC 9114 §4.3)`;
    if (!isValidFieldValue(value)) return `invalid value for ${name} (RFC 9114 §4.2)`;
    seen.set(name, value);
  }
  const headers: string[] = [];
  const found = { contentLength: -1, host: undefined as string | undefined };
  const problem = checkRegularFields(fields, i, headers, found);
  if (problem !== null) return problem;
  const method = seen.get(':method');
  const scheme = seen.get(':scheme');
  const authority = seen.get(':authority');
  const path = seen.get(':path');
  const protocol = seen.get(':protocol');
  if (method === undefined || !isToken(method)) return 'missing or invalid :method (RFC 9114 §4.3.1)';
  if (protocol !== undefined) {
    // RFC 9220 §3: only after we advertised SETTINGS_ENABLE_CONNECT_PROTOCOL, only with CONNECT, with all of
    // :scheme, :path and :authority.
    if (!enableConnectProtocol) return ':protocol without SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220 §3)';
    if (method !== 'CONNECT') return ':protocol with a method other than CONNECT (RFC 9220 §3)';
    if (scheme === undefined || path === undefined || authority === undefined || protocol.length === 0) {
      return 'extended CONNECT needs :scheme, :path, :authority and :protocol (RFC 9220 §3)';
    }
  } else if (method === 'CONNECT') {
    // RFC 9114 §4.4: :scheme and :path omitted, :authority present.
    if (scheme !== undefined || path !== undefined) return 'CONNECT with :scheme or :path (RFC 9114 §4.4)';
    if (authority === undefined || authority.length === 0) return 'CONNECT without :authority (RFC 9114 §4.4)';
  }
  if (method !== 'CONNECT' || protocol !== undefined) {
    // RFC 9114 §4.3.1: :scheme and :path are mandatory and :path is never empty (origin-form, or "*" for OPTIONS).
    if (scheme === undefined || scheme.length === 0) return 'missing :scheme (RFC 9114 §4.3.1)';
    if (path === undefined || path.length === 0) return 'missing or empty :path (RFC 9114 §4.3.1)';
    if (path.charCodeAt(0) !== 0x2f && !(path === '*' && method === 'OPTIONS')) return ':path is not origin-form (RFC 9114 §4.3.1)';
    // RFC 9114 §4.3.1: schemes with a mandatory authority (http, https) need :authority or Host, non-empty.
    if (scheme === 'http' || scheme === 'https') {
      if (authority === undefined && found.host === undefined) return 'http(s) request without :authority or Host (RFC 9114 §4.3.1)';
      if (authority === '' || found.host === '') return 'empty :authority or Host (RFC 9114 §4.3.1)';
    }
  }
  // RFC 9114 §4.3.1: :authority MUST NOT include userinfo; Host and :authority must agree when both are present.
  if (authority !== undefined && authority.includes('@')) return ':authority with userinfo (RFC 9114 §4.3.1)';
  if (authority !== undefined && found.host !== undefined && authority.toLowerCase() !== found.host.toLowerCase()) {
    return 'Host differs from :authority (RFC 9114 §4.3.1)';
  }
  return { pseudo: { method, scheme, authority, path, protocol }, headers, contentLength: found.contentLength };
}

export interface ValidatedResponse {
  status: number;
  headers: string[];
  contentLength: number;
}

/** RFC 9114 §4.3.2: exactly one :status (three digits) and no other pseudo-header; §4.2 field rules. */
export function validateResponse(fields: readonly string[]): ValidatedResponse | string {
  if (fields[0] !== ':status') return 'response without :status first (RFC 9114 §4.3.2)';
  const status = fields[1]!;
  if (!/^[1-9][0-9][0-9]$/.test(status)) return `invalid :status ${JSON.stringify(status)} (RFC 9114 §4.3.2)`;
  const headers: string[] = [];
  const found = { contentLength: -1, host: undefined as string | undefined };
  const problem = checkRegularFields(fields, 2, headers, found);
  if (problem !== null) return problem;
  return { status: Number(status), headers, contentLength: found.contentLength };
}

/** RFC 9114 §4.1: trailers carry no pseudo-header fields; §4.2 field rules. Returns the reason when malformed. */
export function validateTrailers(fields: readonly string[]): string | null {
  return checkRegularFields(fields, 0, [], { contentLength: -1, host: undefined });
}

/** RFC 9114 §4.2: an endpoint MUST NOT generate connection-specific fields; dropped from what we send. */
export function withoutConnectionSpecificFields(fields: readonly string[]): readonly string[] {
  return stripConnectionSpecific(fields as string[]);
}
