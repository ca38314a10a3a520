/**
 * The client behind trusted proxies, from RFC 7239 `Forwarded` or the de-facto X-Forwarded-For / -Proto / -Host
 * fields. Read only when the connection's peer is trusted (TrustedProxies); the chain is walked from the right
 * (the hop nearest to us), skipping trusted hops: the first untrusted address is the client. Strict: a field that
 * does not parse is ignored as a whole (the peer stays the client), never an error for the request.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { TrustedProxies } from './trust.js';

/**
 * At most this many hops of a chain are examined, from the right. A chain of trusted hops longer than this names as
 * client the last hop examined (a trusted one): the walk is bounded whatever a client prepends.
 */
export const MAX_FORWARDED_HOPS = 32;

/** One hop of a chain: its address (undefined for RFC 7239 "unknown" or an obfuscated identifier) and port (0: none). */
interface Hop {
  address: string | undefined;
  port: number;
}

/** One RFC 7239 forwarded-element: the hop the proxy that added it received the request from, and what it saw. */
interface ForwardedElement {
  for: Hop | undefined;
  proto: string | undefined;
  host: string | undefined;
}

/** What the forwarding fields say about the client: its address and port, and the scheme and host it asked for. */
export interface ForwardedClient {
  remoteAddress: string;
  remotePort: number;
  /** The scheme the client used, when a trusted hop said (http or https only). */
  scheme: 'http' | 'https' | undefined;
  /** The authority the client asked for (a valid uri-host [":" port]), when a trusted hop said. */
  host: string | undefined;
}

const OWS = /^[ \t]+|[ \t]+$/g;
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const PORT = /^(?:0|[1-9][0-9]{0,4})$/;
const OBFUSCATED = /^_[A-Za-z0-9._-]+$/;
/** RFC 3986 §3.2.2 uri-host (IP-literal or reg-name / IPv4address) with an optional port; never empty. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+(?::(?:0|[1-9][0-9]{0,4}))?$/;

function portNumber(text: string): number | undefined {
  if (!PORT.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** Verdicts of isAuthority(): a server sees a handful of hosts. Bounded, because the host comes from the request. */
const authorityVerdicts = new Map<string, boolean>();
const MAX_REMEMBERED_AUTHORITIES = 256;

/** A uri-host [":" port] the URL parser reads back as exactly that authority (no userinfo, path or trickery). */
export function isAuthority(text: string): boolean {
  let valid = authorityVerdicts.get(text);
  if (valid === undefined) {
    valid = parsesAsAuthority(text);
    if (authorityVerdicts.size >= MAX_REMEMBERED_AUTHORITIES) authorityVerdicts.clear();
    authorityVerdicts.set(text, valid);
  }
  return valid;
}

function parsesAsAuthority(text: string): boolean {
  if (!AUTHORITY.test(text)) return false;
  if (text.startsWith('[') && !isIPv6(text.slice(1, text.lastIndexOf(']')))) return false;
  try {
    const url = new URL(`http://${text}/`);
    return url.host !== '' && url.pathname === '/' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

/** An X-Forwarded-For element: IPv4, IPv6, "IPv4:port" or "[IPv6]" / "[IPv6]:port". */
function xForwardedForHop(text: string): Hop | undefined {
  if (isIPv4(text) || (isIPv6(text) && !text.includes('%'))) return { address: text, port: 0 };
  let address: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    address = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return undefined;
    portText = rest === '' ? undefined : rest.slice(1);
    if (!isIPv6(address) || address.includes('%')) return undefined;
  } else {
    const colon = text.indexOf(':');
    if (colon < 0) return undefined;
    address = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (!isIPv4(address)) return undefined;
  }
  const port = portText === undefined ? 0 : portNumber(portText);
  return port === undefined ? undefined : { address, port };
}

/** RFC 7239 §6 node = nodename [ ":" node-port ]; nodename = IPv4address / "[" IPv6address "]" / "unknown" / obfnode. */
function forwardedNode(text: string): Hop | undefined {
  let name = text;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return undefined;
    name = text.slice(0, close + 1);
    const rest = text.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
  } else {
    const colon = text.indexOf(':');
    if (colon >= 0) {
      name = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  let port = 0;
  // RFC 7239 §6.3: node-port = port / obfport.
  if (portText !== undefined && !OBFUSCATED.test(portText)) {
    const parsed = portNumber(portText);
    if (parsed === undefined) return undefined;
    port = parsed;
  }
  if (name.startsWith('[')) {
    const address = name.slice(1, -1);
    return isIPv6(address) && !address.includes('%') ? { address, port } : undefined;
  }
  if (isIPv4(name)) return { address: name, port };
  // RFC 7239 §6.2 / §6.3: "unknown" and obfuscated identifiers name no address.
  if (name.toLowerCase() === 'unknown' || OBFUSCATED.test(name)) return { address: undefined, port };
  return undefined;
}

/**
 * RFC 7239 §4: Forwarded = 1#forwarded-element; forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] );
 * forwarded-pair = token "=" value; value = token / quoted-string. undefined when anything does not parse.
 */
export function parseForwarded(value: string): ForwardedElement[] | undefined {
  const elements: ForwardedElement[] = [];
  let element: ForwardedElement = { for: undefined, proto: undefined, host: undefined };
  let seen = new Set<string>();
  let pairs = 0;
  let i = 0;
  const length = value.length;
  const skipSpace = () => {
    while (i < length && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const finishElement = () => {
    // RFC 9110 §5.6.1: empty list elements are allowed and ignored.
    if (pairs > 0) elements.push(element);
    element = { for: undefined, proto: undefined, host: undefined };
    seen = new Set();
    pairs = 0;
  };
  while (i <= length) {
    skipSpace();
    if (i === length) break;
    if (value[i] === ',' || value[i] === ';') {
      if (value[i] === ',') finishElement();
      i++;
      continue;
    }
    const equals = value.indexOf('=', i);
    if (equals < 0) return undefined;
    const name = value.slice(i, equals).toLowerCase();
    if (!TCHAR.test(name)) return undefined;
    i = equals + 1;
    let text = '';
    if (value[i] === '"') {
      // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE (RFC 9110 §5.6.4).
      i++;
      let closed = false;
      while (i < length) {
        const c = value.charCodeAt(i);
        if (c === 0x22) {
          closed = true;
          i++;
          break;
        }
        if (c === 0x5c) {
          const next = value.charCodeAt(i + 1);
          if (!(next === 0x09 || (next >= 0x20 && next !== 0x7f))) return undefined;
          text += value[i + 1];
          i += 2;
          continue;
        }
        if (!(c === 0x09 || (c >= 0x20 && c !== 0x7f))) return undefined;
        text += value[i];
        i++;
      }
      if (!closed) return undefined;
    } else {
      let end = i;
      while (end < length && value[end] !== ';' && value[end] !== ',' && value[end] !== ' ' && value[end] !== '\t') end++;
      text = value.slice(i, end);
      if (!TCHAR.test(text)) return undefined;
      i = end;
    }
    // RFC 7239 §4: each parameter MUST NOT occur more than once per forwarded-element.
    if (seen.has(name)) return undefined;
    seen.add(name);
    pairs++;
    if (name === 'for' || name === 'by') {
      const node = forwardedNode(text);
      if (node === undefined) return undefined;
      if (name === 'for') element.for = node;
    } else if (name === 'proto') {
      // RFC 7239 §5.4: a URI scheme name (RFC 3986 §3.1).
      if (!/^[A-Za-z][A-Za-z0-9+\-.]*$/.test(text)) return undefined;
      element.proto = text.toLowerCase();
    } else if (name === 'host') {
      // RFC 7239 §5.3: the Host request header field as the proxy received it.
      if (!isAuthority(text)) return undefined;
      element.host = text;
    }
    skipSpace();
    if (i < length && value[i] !== ';' && value[i] !== ',') return undefined;
  }
  finishElement();
  return elements.length > 0 ? elements : undefined;
}

/** The values of every field line with this (lowercase) name, joined as one list (RFC 9110 §5.3). */
function fieldValue(raw: readonly string[], lowerName: string): string | undefined {
  let joined: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== lowerName.length || name.toLowerCase() !== lowerName) continue;
    joined = joined === undefined ? raw[i + 1]! : `${joined}, ${raw[i + 1]!}`;
  }
  return joined;
}

/** The list elements of a field value, trimmed, empty ones dropped (RFC 9110 §5.6.1). */
function listElements(value: string): string[] {
  return value
    .split(',')
    .map((element) => element.replace(OWS, ''))
    .filter((element) => element !== '');
}

/** http or https, whatever the case; anything else is no scheme this server can put in request.url. */
function webScheme(text: string | undefined): 'http' | 'https' | undefined {
  const lower = text?.toLowerCase();
  return lower === 'http' || lower === 'https' ? lower : undefined;
}

/**
 * Walks hops from the right: `hops[i]` is who the hop at i + 1 (or, for the last one, the peer) received the request
 * from. Returns the index of the client's hop and the client, or index -1 when no hop was taken.
 */
function walk(trusted: TrustedProxies, peer: Hop & { address: string }, hops: readonly (Hop | undefined)[]): { index: number; client: { address: string; port: number } } {
  let client: { address: string; port: number } = peer;
  let index = -1;
  const lowest = Math.max(0, hops.length - MAX_FORWARDED_HOPS);
  for (let i = hops.length - 1; i >= lowest && trusted.trusts(client.address); i--) {
    index = i;
    const hop = hops[i];
    // "unknown", an obfuscated node or an element without `for`: the client is beyond what anyone can tell; the
    // nearest known hop (a trusted proxy) stands for it.
    if (hop === undefined || hop.address === undefined) break;
    client = { address: hop.address, port: hop.port };
  }
  return { index, client };
}

/**
 * The client according to the forwarding fields of a request whose connection peer is `peer`, or undefined when the
 * peer is not trusted or the request carries no forwarding field. RFC 7239 `Forwarded` wins when present: then the
 * X-Forwarded-* fields are not read at all (and a malformed Forwarded leaves the peer as the client).
 */
export function forwardedClient(trusted: TrustedProxies, peerAddress: string, peerPort: number, raw: readonly string[]): ForwardedClient | undefined {
  if (!trusted.trusts(peerAddress)) return undefined;
  const peer = { address: peerAddress, port: peerPort };
  const forwarded = fieldValue(raw, 'forwarded');
  if (forwarded !== undefined) {
    const elements = parseForwarded(forwarded);
    if (elements === undefined) return undefined;
    const { index, client } = walk(trusted, peer, elements.map((element) => element.for));
    // The element naming the client was added by the outermost trusted proxy: its proto and host are what the
    // client used (RFC 7239 §5.3, §5.4).
    const outermost = index < 0 ? undefined : elements[index]!;
    return { remoteAddress: client.address, remotePort: client.port, scheme: webScheme(outermost?.proto), host: outermost?.host };
  }
  const forwardedFor = fieldValue(raw, 'x-forwarded-for');
  const forwardedProto = fieldValue(raw, 'x-forwarded-proto');
  const forwardedHost = fieldValue(raw, 'x-forwarded-host');
  if (forwardedFor === undefined && forwardedProto === undefined && forwardedHost === undefined) return undefined;
  let client: { address: string; port: number } = peer;
  if (forwardedFor !== undefined) {
    const hops = listElements(forwardedFor).map(xForwardedForHop);
    // One element that is no address makes the whole field suspect: it is ignored.
    if (hops.length > 0 && !hops.includes(undefined)) client = walk(trusted, peer, hops).client;
  }
  // X-Forwarded-Proto and -Host carry no hop structure: the value the nearest proxy (the rightmost) gave is used,
  // never one a client could have put further left.
  const proto = forwardedProto === undefined ? undefined : listElements(forwardedProto).at(-1);
  const host = forwardedHost === undefined ? undefined : listElements(forwardedHost).at(-1);
  return {
    remoteAddress: client.address,
    remotePort: client.port,
    scheme: webScheme(proto),
    host: host !== undefined && isAuthority(host) ? host : undefined,
  };
}
