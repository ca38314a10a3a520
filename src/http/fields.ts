/**
 * HTTP field semantics shared by the HTTP/2 engine and any other HTTP mapping that carries fields as (name, value)
 * lists (HTTP/3 applies the same rules: RFC 9114 §4.2, §4.3): field name and value validity, the one list of
 * connection-specific fields, request pseudo-header validation, content-length parsing, final status codes.
 * Pure functions over strings: no I/O, no `node:` imports.
 */

/** A field list as a flat array: [name0, value0, name1, value1, ...] (lowercase names). */
export type FieldList = string[];

/** Pseudo-header fields of a request, validated per RFC 9113 §8.3.1 (RFC 9114 §4.3.1). */
export interface RequestPseudoHeaders {
  method: string;
  /** Absent only for CONNECT without :protocol (RFC 9113 §8.5). */
  scheme: string | undefined;
  authority: string | undefined;
  /** Absent only for CONNECT without :protocol. */
  path: string | undefined;
  /** Extended CONNECT (RFC 8441, RFC 9220). */
  protocol: string | undefined;
}

/** A request field section that passed validation. */
export interface ValidRequest {
  pseudo: RequestPseudoHeaders;
  /** Index in the field list of the first regular (non-pseudo) field name. */
  regularStart: number;
  /** content-length, -1 when absent. */
  contentLength: number;
}

// RFC 9110 §5.1 token characters, lowercase only (RFC 9113 §8.2.1: uppercase names are malformed).
const NAME_CHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

/**
 * Connection-specific fields (RFC 9113 §8.2.2, RFC 9114 §4.2): malformed in a request, never generated. The one list
 * the project uses; `te` is handled apart (allowed with the value "trailers").
 */
export const CONNECTION_SPECIFIC_FIELDS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);
/** First characters of the list: most names are rejected without a set lookup. */
const CONNECTION_SPECIFIC_FIRST = new Uint8Array(128);
for (const name of CONNECTION_SPECIFIC_FIELDS) CONNECTION_SPECIFIC_FIRST[name.charCodeAt(0)] = 1;

export function isConnectionSpecific(name: string): boolean {
  const c = name.charCodeAt(0);
  return c < 128 && CONNECTION_SPECIFIC_FIRST[c] === 1 && CONNECTION_SPECIFIC_FIELDS.has(name);
}

/** RFC 9113 §8.2.2: an endpoint MUST NOT generate connection-specific fields; returns the list without them. */
export function stripConnectionSpecific(fields: FieldList): FieldList {
  for (let i = 0; i < fields.length; i += 2) {
    if (isConnectionSpecific(fields[i]!)) {
      const out: FieldList = [];
      for (let j = 0; j < fields.length; j += 2) {
        if (!isConnectionSpecific(fields[j]!)) out.push(fields[j]!, fields[j + 1]!);
      }
      return out;
    }
  }
  return fields;
}

/** RFC 9113 §8.2.1: a non-empty lowercase token (from index `start`, to skip a pseudo-header's colon). */
export function isValidFieldName(name: string, start = 0): boolean {
  const n = name.length;
  if (n <= start) return false;
  for (let i = start; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c > 255 || NAME_CHAR[c] === 0) return false;
  }
  return true;
}

/**
 * RFC 9113 §8.2.1 / RFC 9114 §4.2: no NUL, CR or LF anywhere; no leading or trailing whitespace (SP, HTAB). A field
 * value is octets (RFC 9110 §5.5), so a character above 0xff (which could only come from an application's string,
 * never from a decoded field block) is refused rather than truncated on the wire.
 */
export function isValidFieldValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  let c = value.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return false;
  c = value.charCodeAt(n - 1);
  if (c === 0x20 || c === 0x09) return false;
  for (let i = 0; i < n; i++) {
    c = value.charCodeAt(i);
    if (c === 0x00 || c === 0x0a || c === 0x0d || c > 0xff) return false;
  }
  return true;
}

/** RFC 9110 §9.1: a method is a token (uppercase allowed). */
export function isValidMethod(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // RFC 9110 §5.6.2 tchar.
    if (c > 255 || (NAME_CHAR[c] === 0 && !(c >= 0x41 && c <= 0x5a))) return false;
  }
  return true;
}

/** Parses a content-length value: digits only (RFC 9110 §8.6); -2 when invalid. */
export function parseContentLength(value: string): number {
  const n = value.length;
  if (n === 0 || n > 15) return -2;
  let result = 0;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -2;
    result = result * 10 + c;
  }
  return result;
}

/** A three-digit final status code "200".."999" (RFC 9110 §15; 1xx are informational, RFC 9113 §8.1). */
export function isFinalStatus(status: string | undefined): boolean {
  if (status === undefined || status.length !== 3) return false;
  const a = status.charCodeAt(0);
  const b = status.charCodeAt(1);
  const c = status.charCodeAt(2);
  return a >= 0x32 && a <= 0x39 && b >= 0x30 && b <= 0x39 && c >= 0x30 && c <= 0x39;
}

/**
 * A trailer section (RFC 9113 §8.1): no pseudo-header fields, valid names and values (§8.2.1), no
 * connection-specific fields (§8.2.2).
 */
export function isValidTrailerSection(fields: FieldList): boolean {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    if (!isValidFieldName(name) || !isValidFieldValue(fields[i + 1]!) || isConnectionSpecific(name)) return false;
  }
  return true;
}

/**
 * A request field section: RFC 9113 §8.2, §8.3.1, §8.5 and RFC 8441 §4 (RFC 9114 §4.3.1 and RFC 9220 state the same
 * rules for HTTP/3). `extendedConnect`: the endpoint advertised extended CONNECT, so :protocol is allowed.
 * `endStream`: the field section ends the request (no body may follow). Returns null for a malformed request.
 */
export function validateRequestFields(fields: FieldList, endStream: boolean, extendedConnect: boolean): ValidRequest | null {
  let method: string | undefined;
  let scheme: string | undefined;
  let authority: string | undefined;
  let path: string | undefined;
  let protocol: string | undefined;
  const n = fields.length;
  let i = 0;
  // RFC 9113 §8.3: pseudo-header fields come first, each at most once, only the defined request ones.
  for (; i < n; i += 2) {
    const name = fields[i]!;
    if (name.charCodeAt(0) !== 0x3a) break;
    const value = fields[i + 1]!;
    if (!isValidFieldValue(value)) return null;
    switch (name) {
      case ':method':
        if (method !== undefined || !isValidMethod(value)) return null;
        method = value;
        break;
      case ':scheme':
        if (scheme !== undefined || value.length === 0) return null;
        scheme = value;
        break;
      case ':authority':
        if (authority !== undefined) return null;
        authority = value;
        break;
      case ':path':
        if (path !== undefined) return null;
        path = value;
        break;
      case ':protocol':
        // RFC 8441 §4: only when the endpoint advertised SETTINGS_ENABLE_CONNECT_PROTOCOL.
        if (protocol !== undefined || !extendedConnect || value.length === 0) return null;
        protocol = value;
        break;
      default:
        // Unknown pseudo-headers and response pseudo-headers (:status) make the request malformed.
        return null;
    }
  }
  const regularStart = i;
  let contentLength = -1;
  let host: string | undefined;
  for (; i < n; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    // RFC 9113 §8.2.1: lowercase token names only (a pseudo-header after a regular field fails here too, §8.3).
    if (!isValidFieldName(name) || !isValidFieldValue(value)) return null;
    const c = name.charCodeAt(0);
    if (c === 0x63 /* c */ && name === 'content-length') {
      const parsed = parseContentLength(value);
      // RFC 9110 §8.6: repeated values must agree.
      if (parsed < 0 || (contentLength >= 0 && parsed !== contentLength)) return null;
      contentLength = parsed;
    } else if (c === 0x74 /* t */ && name === 'te') {
      // RFC 9113 §8.2.2: TE may only carry "trailers".
      if (value !== 'trailers') return null;
    } else if (c === 0x68 /* h */ && name === 'host') {
      host = value;
    } else if (isConnectionSpecific(name)) {
      return null;
    }
  }
  if (method === undefined) return null;
  if (method === 'CONNECT' && protocol === undefined) {
    // RFC 9113 §8.5: CONNECT carries :authority only; :scheme and :path are omitted.
    if (scheme !== undefined || path !== undefined || authority === undefined || authority.length === 0) return null;
  } else {
    // RFC 8441 §4: :protocol only with CONNECT.
    if (protocol !== undefined && method !== 'CONNECT') return null;
    // RFC 9113 §8.3.1: :method, :scheme and :path are mandatory; :path is never empty for http(s).
    if (scheme === undefined || path === undefined || path.length === 0) return null;
    // :path is origin-form ("/...") or "*" for OPTIONS (RFC 9113 §8.3.1, RFC 9110 §7.1).
    if (path.charCodeAt(0) !== 0x2f && !(path === '*' && method === 'OPTIONS')) return null;
    if (protocol !== undefined && authority === undefined) return null;
  }
  // RFC 9113 §8.3.1: no userinfo in :authority; a Host that differs from :authority is malformed (SHOULD).
  if (authority !== undefined && authority.includes('@')) return null;
  if (host !== undefined && authority !== undefined && host !== authority && host.toLowerCase() !== authority.toLowerCase()) {
    return null;
  }
  // RFC 9113 §8.1.1: END_STREAM on HEADERS means a zero-length body.
  if (endStream && contentLength > 0) return null;
  return { pseudo: { method, scheme, authority, path, protocol }, regularStart, contentLength };
}
