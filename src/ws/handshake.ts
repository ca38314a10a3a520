/**
 * The opening handshake's rules (RFC 6455 §4.2 over HTTP/1.1, RFC 8441 §4–§5 over HTTP/2 extended CONNECT, RFC 9220
 * over HTTP/3) and extension negotiation (RFC 7692 permessage-deflate). Pure functions over header values: the
 * server feeds them what its transport parsed. SHA-1 for Sec-WebSocket-Accept is injected (no `node:` imports).
 */

/** §1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** §4.1: the only version this engine speaks; others get 426 with this value in Sec-WebSocket-Version (§4.4). */
export const WEBSOCKET_VERSION = '13';

export type HandshakeResult =
  | { ok: true; key: string | undefined; protocols: string[]; extensions: ExtensionOffer[] }
  | { ok: false; status: number; reason: string; headers: [string, string][] };

/** Header lookup: the lowercase name's values joined by ", " (how RFC 9110 §5.3 combines repeated fields), or undefined. */
export type HeaderLookup = (lowercaseName: string) => string | undefined;

/** Comma-separated list elements (RFC 9110 §5.6.1), trimmed, empty ones dropped. */
export function listElements(value: string | undefined): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const element = part.trim();
    if (element !== '') out.push(element);
  }
  return out;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BASE64_16_BYTES = /^[A-Za-z0-9+/]{22}==$/;

function refuse(status: number, reason: string, headers: [string, string][] = []): HandshakeResult {
  return { ok: false, status, reason, headers };
}

function checkVersionProtocolsExtensions(get: HeaderLookup): HandshakeResult | { protocols: string[]; extensions: ExtensionOffer[] } {
  // §4.2.1 item 6 and §4.4: a version we do not speak is answered 426 with the versions we do.
  const version = get('sec-websocket-version');
  if (version === undefined || version.trim() !== WEBSOCKET_VERSION) {
    return refuse(426, `unsupported Sec-WebSocket-Version ${JSON.stringify(version ?? '')}`, [['sec-websocket-version', WEBSOCKET_VERSION]]);
  }
  const protocols = listElements(get('sec-websocket-protocol'));
  // §4.1: subprotocol values are tokens (RFC 2616 "token"), unique.
  for (const protocol of protocols) if (!TOKEN.test(protocol)) return refuse(400, `invalid Sec-WebSocket-Protocol ${JSON.stringify(protocol)}`);
  const extensions = parseExtensions(get('sec-websocket-extensions'));
  if (extensions === null) return refuse(400, 'invalid Sec-WebSocket-Extensions');
  return { protocols, extensions };
}

/**
 * RFC 6455 §4.2.1: is this HTTP/1.1 request a valid WebSocket opening handshake? `get` reads request headers.
 * The Host check belongs to the HTTP/1.1 layer (RFC 9112 §3.2), which has run before.
 */
export function validateHttp1Upgrade(method: string, httpVersion: string, get: HeaderLookup): HandshakeResult {
  // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
  if (method !== 'GET') return refuse(405, 'a WebSocket handshake is a GET request', [['allow', 'GET']]);
  if (httpVersion === '1.0' || httpVersion === '0.9') return refuse(400, 'a WebSocket handshake needs HTTP/1.1');
  // Items 3 and 4: Upgrade contains "websocket" and Connection contains "Upgrade", both case-insensitive.
  if (!listElements(get('upgrade')).some((token) => token.toLowerCase() === 'websocket')) {
    return refuse(400, 'Upgrade does not name websocket');
  }
  if (!listElements(get('connection')).some((token) => token.toLowerCase() === 'upgrade')) {
    return refuse(400, 'Connection does not contain upgrade');
  }
  // Item 5: Sec-WebSocket-Key, "a base64-encoded value that, when decoded, is 16 bytes in length".
  const key = get('sec-websocket-key')?.trim();
  if (key === undefined || !BASE64_16_BYTES.test(key)) return refuse(400, 'missing or invalid Sec-WebSocket-Key');
  const rest = checkVersionProtocolsExtensions(get);
  if ('ok' in rest) return rest;
  return { ok: true, key, ...rest };
}

/**
 * RFC 8441 §4–§5 (and RFC 9220 for HTTP/3): an extended CONNECT with `:protocol websocket`. The HTTP/2 layer has
 * checked the pseudo-header rules (§4: :scheme and :path present, :authority); Sec-WebSocket-Key and
 * Sec-WebSocket-Accept are not used (§5: "the Sec-WebSocket-Key and Sec-WebSocket-Accept header fields are not used").
 */
export function validateExtendedConnect(method: string, protocol: string | undefined, get: HeaderLookup): HandshakeResult {
  if (method !== 'CONNECT' || protocol === undefined) return refuse(400, 'not an extended CONNECT');
  if (protocol !== 'websocket') return refuse(501, `unsupported :protocol ${JSON.stringify(protocol)}`);
  const rest = checkVersionProtocolsExtensions(get);
  if ('ok' in rest) return rest;
  return { ok: true, key: undefined, ...rest };
}

/**
 * §4.2.2 item 5.4: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). `sha1` hashes bytes (node:crypto's
 * createHash('sha1') in the server).
 */
export function acceptValue(key: string, sha1: (data: Uint8Array) => Uint8Array): string {
  const digest = sha1(new TextEncoder().encode(key + WEBSOCKET_GUID));
  let binary = '';
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

// ------------------------------------------------------------------ extensions

export interface ExtensionOffer {
  name: string;
  /** Parameter name → value (true when the parameter has no value). */
  params: Map<string, string | true>;
}

/**
 * §9.1 Sec-WebSocket-Extensions grammar: `name *( ";" param )` with params `token [ "=" (token | quoted-string) ]`,
 * elements separated by commas. Null on a syntax error (the handshake then fails with 400).
 */
export function parseExtensions(value: string | undefined): ExtensionOffer[] | null {
  if (value === undefined) return [];
  const offers: ExtensionOffer[] = [];
  // Split on commas outside quoted strings.
  const elements: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (char === '"') quoted = !quoted;
    else if (char === '\\' && quoted) {
      current += char + (value[++i] ?? '');
      continue;
    }
    if (char === ',' && !quoted) {
      elements.push(current);
      current = '';
    } else current += char;
  }
  if (quoted) return null;
  elements.push(current);
  for (const element of elements) {
    if (element.trim() === '') continue;
    const parts = element.split(';').map((part) => part.trim());
    const name = parts[0]!;
    if (!TOKEN.test(name)) return null;
    const params = new Map<string, string | true>();
    for (const part of parts.slice(1)) {
      const equals = part.indexOf('=');
      const paramName = (equals === -1 ? part : part.slice(0, equals)).trim();
      if (!TOKEN.test(paramName)) return null;
      if (equals === -1) {
        params.set(paramName.toLowerCase(), true);
        continue;
      }
      let paramValue = part.slice(equals + 1).trim();
      if (paramValue.startsWith('"')) {
        if (paramValue.length < 2 || !paramValue.endsWith('"')) return null;
        paramValue = paramValue.slice(1, -1).replace(/\\(.)/g, '$1');
      }
      // §9.1: a quoted value, once unquoted, must still be a token.
      if (!TOKEN.test(paramValue)) return null;
      params.set(paramName.toLowerCase(), paramValue);
    }
    offers.push({ name: name.toLowerCase(), params });
  }
  return offers;
}

export interface PerMessageDeflateOptions {
  /** Ask the client not to keep its compression context between messages (saves our inflate memory). */
  clientNoContextTakeover?: boolean;
  /** Do not keep our compression context between messages (saves our deflate memory: the usual server choice). */
  serverNoContextTakeover?: boolean;
  /** Largest LZ77 window we use to compress (9–15; zlib has no 8-bit raw window). */
  serverMaxWindowBits?: number;
}

export interface PerMessageDeflateAgreement {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
  /** The Sec-WebSocket-Extensions response value. */
  response: string;
}

function windowBits(value: string | true | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return null;
  return Number(value);
}

/**
 * RFC 7692 §5–§7: accepts the first permessage-deflate offer whose parameters are valid and acceptable, or returns
 * undefined (the server then simply does not use the extension, §5). An offer with an unknown or duplicated
 * parameter or an invalid value is declined (§7: "the server MUST decline").
 */
export function negotiatePerMessageDeflate(offers: ExtensionOffer[], options: PerMessageDeflateOptions = {}): PerMessageDeflateAgreement | undefined {
  const KNOWN = new Set(['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits']);
  for (const offer of offers) {
    if (offer.name !== 'permessage-deflate') continue;
    if ([...offer.params.keys()].some((name) => !KNOWN.has(name))) continue;
    const serverNoContext = offer.params.get('server_no_context_takeover');
    const clientNoContext = offer.params.get('client_no_context_takeover');
    if ((serverNoContext !== undefined && serverNoContext !== true) || (clientNoContext !== undefined && clientNoContext !== true)) continue;
    const offeredServerBits = windowBits(offer.params.get('server_max_window_bits'));
    // zlib cannot compress raw DEFLATE with a 256-byte window (it silently uses 512), so a client that asks for
    // server_max_window_bits=8 is declined rather than sent data it may not be able to inflate (§7.1.2.1 lets the
    // server decline any offer).
    if (offeredServerBits === null || offeredServerBits === 8) continue;
    // §7.1.2.2: client_max_window_bits may come without a value ("I can limit my window if you ask").
    const clientBitsParam = offer.params.get('client_max_window_bits');
    const offeredClientBits = clientBitsParam === true ? 15 : windowBits(clientBitsParam);
    if (offeredClientBits === null) continue;

    const serverBitsWanted = options.serverMaxWindowBits ?? 15;
    if (serverBitsWanted < 9 || serverBitsWanted > 15) throw new RangeError('serverMaxWindowBits must be 9..15');
    const serverMaxWindowBits = Math.min(offeredServerBits ?? 15, serverBitsWanted);
    // Without client_max_window_bits in the offer the client uses 15 and we may not ask for less (§7.1.2.2).
    const clientMaxWindowBits = offeredClientBits ?? 15;
    const agreement: PerMessageDeflateAgreement = {
      serverNoContextTakeover: serverNoContext === true || (options.serverNoContextTakeover ?? false),
      clientNoContextTakeover: clientNoContext === true || (options.clientNoContextTakeover ?? false),
      serverMaxWindowBits,
      clientMaxWindowBits,
      response: '',
    };
    const params = ['permessage-deflate'];
    if (agreement.serverNoContextTakeover) params.push('server_no_context_takeover');
    if (agreement.clientNoContextTakeover) params.push('client_no_context_takeover');
    if (offeredServerBits !== undefined || serverMaxWindowBits < 15) params.push(`server_max_window_bits=${serverMaxWindowBits}`);
    if (clientBitsParam !== undefined) params.push(`client_max_window_bits=${clientMaxWindowBits}`);
    agreement.response = params.join('; ');
    return agreement;
  }
  return undefined;
}

/**
 * Picks the subprotocol: the app's choice must be one the client offered (§4.2.2 item 5.5: the server selects one
 * of the client's values or none). Returns undefined when the choice was not offered.
 */
export function selectSubprotocol(offered: string[], chosen: string | undefined): string | undefined {
  if (chosen === undefined) return undefined;
  return offered.includes(chosen) ? chosen : undefined;
}
