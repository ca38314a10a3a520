/**
 * RFC 9112 request-head parsing: request-line (§3), field lines (§5), and the framing rules that decide how the
 * body is delimited (§6). Everything a smuggling attack plays on is refused here, with the status the RFC names.
 */
import type { BodyKind, FieldList, H1Limits, H1Options, RequestHead } from './types.js';

export class HeadError {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {}
}

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

export function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** RFC 9110 §5.5 field-value: VCHAR, obs-text, SP and HTAB inside; no CTL (CR, LF and NUL included). */
export function isFieldValue(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** RFC 9112 §3.2 / RFC 3986 §3.2.2–3.2.3: uri-host [":" port], checked for characters only. */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::[0-9]*)?$/;

function lowerCase(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return name.toLowerCase();
  }
  return name;
}

/**
 * Parses field lines (already split, without CRLF) into a flat lowercase list. RFC 9112 §5.1: no whitespace
 * between name and colon (400); §5.2: obs-fold is refused with 400; values are trimmed of OWS.
 */
export function parseFieldLines(lines: readonly string[], first: number, limits: H1Limits): FieldList {
  if (lines.length - first > limits.maxFields) throw new HeadError(431, `more than ${limits.maxFields} field lines`);
  const fields: FieldList = [];
  for (let k = first; k < lines.length; k++) {
    const line = lines[k]!;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) throw new HeadError(400, 'obsolete line folding (RFC 9112 §5.2)');
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HeadError(400, 'field line without a name and colon');
    const name = line.slice(0, colon);
    if (!isToken(name)) {
      const last = name.charCodeAt(name.length - 1);
      throw new HeadError(400, last === 0x20 || last === 0x09 ? 'whitespace before the colon (RFC 9112 §5.1)' : `invalid field name ${JSON.stringify(name)}`);
    }
    let start = colon + 1;
    let end = line.length;
    while (start < end && (line.charCodeAt(start) === 0x20 || line.charCodeAt(start) === 0x09)) start++;
    while (end > start && (line.charCodeAt(end - 1) === 0x20 || line.charCodeAt(end - 1) === 0x09)) end--;
    const value = line.slice(start, end);
    if (!isFieldValue(value)) throw new HeadError(400, `invalid characters in the value of ${lowerCase(name)}`);
    fields.push(lowerCase(name), value);
  }
  return fields;
}

export interface ParsedRequestLine {
  method: string;
  target: string;
  minorVersion: 0 | 1;
}

/** RFC 9112 §3: method SP request-target SP HTTP-version, single spaces, nothing else. */
export function parseRequestLine(line: string, limits: H1Limits, options: H1Options = {}): ParsedRequestLine {
  const firstSpace = line.indexOf(' ');
  const lastSpace = line.lastIndexOf(' ');
  if (firstSpace <= 0 || lastSpace === firstSpace) throw new HeadError(400, 'malformed request-line');
  const method = line.slice(0, firstSpace);
  const target = line.slice(firstSpace + 1, lastSpace);
  const version = line.slice(lastSpace + 1);
  if (!isToken(method)) throw new HeadError(400, 'invalid method');
  if (options.methods !== undefined && !options.methods.has(method)) throw new HeadError(400, `unknown method ${method}`);
  if (target.length > limits.maxTargetBytes) throw new HeadError(414, `request-target over ${limits.maxTargetBytes} bytes`);
  if (target.length === 0) throw new HeadError(400, 'empty request-target');
  // §3.2: the target has no whitespace (that is also what a second space inside it would be) and only visible
  // ASCII: anything else must be percent-encoded.
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw new HeadError(400, 'invalid character in the request-target');
  }
  // §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive.
  if (version.length !== 8 || !version.startsWith('HTTP/') || version.charCodeAt(6) !== 0x2e) throw new HeadError(400, 'malformed HTTP-version');
  const major = version.charCodeAt(5) - 0x30;
  const minor = version.charCodeAt(7) - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) throw new HeadError(400, 'malformed HTTP-version');
  // RFC 9110 §15.6.6: a major version we do not speak.
  if (major !== 1) throw new HeadError(505, `HTTP/${major}.${minor} is not supported`);
  if (minor > 1 && options.knownVersionsOnly === true) throw new HeadError(400, `HTTP/1.${minor} is not a known version`);
  return { method, target, minorVersion: minor === 0 ? 0 : 1 };
}

export type Framing = Pick<RequestHead, 'authority' | 'bodyKind' | 'contentLength' | 'expectContinue' | 'upgrade' | 'keepAlive'>;

function listTokens(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') out.push(token);
  }
  return out;
}

/** The semantic checks of a complete head: Host, target form, body framing, connection options. */
export function requestFraming(method: string, target: string, minorVersion: 0 | 1, fields: FieldList, singleContentLength = false): Framing {
  let host: string | undefined;
  let hostCount = 0;
  let contentLength = -1;
  const transferCodings: string[] = [];
  let sawTransferEncoding = false;
  let connectionTokens: string[] = [];
  let expect: string | undefined;
  let upgradeValue: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    switch (name) {
      case 'host':
        host = value;
        hostCount++;
        break;
      case 'content-length': {
        // §6.3 item 5: a list of identical values may be accepted as one; anything else is an unrecoverable error.
        if (singleContentLength && (contentLength !== -1 || value.includes(','))) throw new HeadError(400, 'more than one Content-Length value');
        for (const part of value.split(',')) {
          const digits = part.trim();
          if (!/^[0-9]{1,15}$/.test(digits)) throw new HeadError(400, 'invalid Content-Length');
          const length = Number(digits);
          if (contentLength !== -1 && length !== contentLength) throw new HeadError(400, 'conflicting Content-Length values');
          contentLength = length;
        }
        break;
      }
      case 'transfer-encoding':
        sawTransferEncoding = true;
        transferCodings.push(...listTokens(value));
        break;
      case 'connection':
        connectionTokens = connectionTokens.concat(listTokens(value));
        break;
      case 'expect':
        expect = expect === undefined ? value : `${expect}, ${value}`;
        break;
      case 'upgrade':
        upgradeValue = upgradeValue === undefined ? value : `${upgradeValue}, ${value}`;
        break;
    }
  }

  // §3.2: "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1 request message that lacks a
  // Host header field and to any request message that contains more than one Host header field line or a Host
  // header field with an invalid field value."
  if (hostCount > 1) throw new HeadError(400, 'more than one Host field');
  if (hostCount === 0 && minorVersion === 1) throw new HeadError(400, 'no Host field in an HTTP/1.1 request');
  if (host !== undefined && !HOST.test(host)) throw new HeadError(400, 'invalid Host field');

  let authority = host;
  if (method === 'CONNECT') {
    // §3.2.3: authority-form, host:port, for CONNECT only.
    if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+):[0-9]+$/.test(target)) throw new HeadError(400, 'CONNECT needs an authority-form target (host:port)');
    authority = target;
  } else if (target === '*') {
    // §3.2.4: asterisk-form, OPTIONS only.
    if (method !== 'OPTIONS') throw new HeadError(400, 'the * target is for OPTIONS only');
  } else if (target.charCodeAt(0) !== 0x2f) {
    // §3.2.2: absolute-form; its authority replaces Host.
    const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(target);
    if (match === null) throw new HeadError(400, 'invalid request-target');
    const fromTarget = match[1]!.slice(match[1]!.lastIndexOf('@') + 1);
    if (!HOST.test(fromTarget)) throw new HeadError(400, 'invalid authority in the request-target');
    authority = fromTarget;
  }

  let bodyKind: BodyKind = contentLength > 0 ? 'length' : 'none';
  if (sawTransferEncoding) {
    // §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing.
    if (minorVersion === 0) throw new HeadError(400, 'Transfer-Encoding in an HTTP/1.0 request');
    // §6.1: with both, a server MAY reject — and must, to stay out of request smuggling (CL.TE / TE.CL).
    if (contentLength !== -1) throw new HeadError(400, 'both Content-Length and Transfer-Encoding');
    // §6.3 item 4: chunked must be the final coding, once, or the length cannot be determined: 400 and close.
    if (transferCodings.length === 0 || transferCodings[transferCodings.length - 1] !== 'chunked') {
      throw new HeadError(400, 'chunked is not the final transfer coding');
    }
    if (transferCodings.indexOf('chunked') !== transferCodings.length - 1) throw new HeadError(400, 'chunked applied more than once');
    // §6.1: a coding we do not implement.
    if (transferCodings.length > 1) throw new HeadError(501, `unsupported transfer coding ${transferCodings[0]}`);
    bodyKind = 'chunked';
  }
  if (method === 'CONNECT' && bodyKind !== 'none') throw new HeadError(400, 'a CONNECT request has no content');

  let expectContinue = false;
  if (expect !== undefined) {
    // RFC 9110 §10.1.1: 100-continue is the only expectation; others MAY get 417.
    const expectations = listTokens(expect);
    if (expectations.some((e) => e !== '100-continue')) throw new HeadError(417, 'unsupported expectation');
    // An expectation is meaningless without content, and HTTP/1.0 clients cannot receive a 100 (§15.2).
    expectContinue = minorVersion === 1 && bodyKind !== 'none';
  }

  // §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
  const keepAlive = connectionTokens.includes('close') ? false : minorVersion === 1 || connectionTokens.includes('keep-alive');
  // RFC 9110 §7.8: Upgrade counts only when listed in Connection.
  const upgrade = upgradeValue !== undefined && connectionTokens.includes('upgrade') ? upgradeValue.toLowerCase() : undefined;
  return { authority, bodyKind, contentLength: bodyKind === 'length' ? contentLength : -1, expectContinue, upgrade, keepAlive };
}
