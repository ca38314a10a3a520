/**
 * Encoding and decoding of the TLS 1.3 handshake messages QUIC uses (RFC 8446 §4), and of the extension bodies
 * the engines understand. Decoders check syntax (lengths, vector bounds: decode_error) and the rules that hold for
 * every message of a kind (duplicate extensions, pre_shared_key last: illegal_parameter); the engines check the
 * rules that depend on what was offered or negotiated.
 */
import { Alert, Ext, HandshakeType, LEGACY_VERSION, TLS13 } from './constants.js';
import { handshakeMessage } from './framing.js';
import { Reader, Writer, fail } from './wire.js';

export interface Extension {
  type: number;
  data: Uint8Array;
}

/** RFC 8446 §4.2: "There MUST NOT be more than one extension of the same type in a given extension block." */
export function parseExtensions(r: Reader, what: string): Extension[] {
  const block = new Reader(r.vector(2, `${what} extensions`));
  const extensions: Extension[] = [];
  const seen = new Set<number>();
  while (block.remaining > 0) {
    const type = block.u16(`${what} extension type`);
    const data = block.vector(2, `${what} extension 0x${type.toString(16)}`);
    if (seen.has(type)) fail(Alert.illegalParameter, `duplicate extension 0x${type.toString(16)} in ${what}`);
    seen.add(type);
    extensions.push({ type, data });
  }
  return extensions;
}

export function writeExtensions(w: Writer, extensions: readonly Extension[]): void {
  w.vector(2, (block) => {
    for (const extension of extensions) block.u16(extension.type).vector(2, (body) => body.bytes(extension.data));
  });
}

export function findExtension(extensions: readonly Extension[], type: number): Uint8Array | undefined {
  return extensions.find((extension) => extension.type === type)?.data;
}

/** Decodes one extension body completely with `parse`, so trailing bytes are a decode_error too. */
function decodeBody<T>(data: Uint8Array, what: string, parse: (r: Reader) => T): T {
  const r = new Reader(data);
  const value = parse(r);
  r.end(what);
  return value;
}

function u16List(r: Reader, lengthBytes: 1 | 2, what: string, min: number): number[] {
  const body = r.vector(lengthBytes, what, min);
  if (body.byteLength % 2 !== 0) fail(Alert.decodeError, `${what}: odd length`);
  const list = new Reader(body);
  const values: number[] = [];
  while (list.remaining > 0) values.push(list.u16(what));
  return values;
}

const latin1 = (bytes: Uint8Array): string => String.fromCharCode(...bytes);
const fromLatin1 = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);

// ---- extension bodies ----------------------------------------------------------------------------------------

/** RFC 7301 §3.1: ProtocolNameList protocol_name_list<2..2^16-1>, ProtocolName opaque<1..2^8-1>. */
export function parseAlpn(data: Uint8Array): string[] {
  return decodeBody(data, 'application_layer_protocol_negotiation', (r) => {
    const list = new Reader(r.vector(2, 'ALPN protocol list', 2));
    const names: string[] = [];
    while (list.remaining > 0) names.push(latin1(list.vector(1, 'ALPN protocol name', 1)));
    return names;
  });
}
export function encodeAlpn(names: readonly string[]): Uint8Array {
  return new Writer().vector(2, (w) => { for (const name of names) w.vector(1, (n) => n.bytes(fromLatin1(name))); }).finish();
}

/** RFC 6066 §3 server_name: one host_name (type 0), an ASCII DNS name without a trailing dot. */
export function parseServerName(data: Uint8Array): string {
  return decodeBody(data, 'server_name', (r) => {
    const list = new Reader(r.vector(2, 'server_name list', 1));
    let hostName: string | undefined;
    while (list.remaining > 0) {
      const nameType = list.u8('server_name type');
      const name = list.vector(2, 'server_name', 1);
      if (nameType !== 0) continue;
      // RFC 6066 §3: "The ServerNameList MUST NOT contain more than one name of the same name_type."
      if (hostName !== undefined) fail(Alert.illegalParameter, 'server_name lists two host names');
      if (name.byteLength > 253) fail(Alert.illegalParameter, 'server_name longer than a DNS name can be');
      hostName = latin1(name);
    }
    if (hostName === undefined) fail(Alert.illegalParameter, 'server_name has no host_name');
    if (!/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(hostName)) {
      fail(Alert.illegalParameter, 'server_name is not an ASCII DNS host name');
    }
    return hostName.toLowerCase();
  });
}
export function encodeServerName(name: string): Uint8Array {
  return new Writer().vector(2, (w) => w.u8(0).vector(2, (n) => n.bytes(fromLatin1(name)))).finish();
}

/** RFC 8446 §4.2.1 (ClientHello form): ProtocolVersion versions<2..254>. */
export function parseSupportedVersionsList(data: Uint8Array): number[] {
  return decodeBody(data, 'supported_versions', (r) => u16List(r, 1, 'supported_versions', 2));
}
/** RFC 8446 §4.2.7 NamedGroupList named_group_list<2..2^16-1>; §4.2.3 supported_signature_algorithms<2..2^16-2>. */
export function parseU16List(data: Uint8Array, what: string): number[] {
  return decodeBody(data, what, (r) => u16List(r, 2, what, 2));
}
export function encodeU16List(values: readonly number[], lengthBytes: 1 | 2 = 2): Uint8Array {
  return new Writer().vector(lengthBytes, (w) => { for (const value of values) w.u16(value); }).finish();
}

export interface KeyShareEntry {
  group: number;
  key: Uint8Array;
}
/** RFC 8446 §4.2.8 KeyShareClientHello: KeyShareEntry client_shares<0..2^16-1>, key_exchange<1..2^16-1>. */
export function parseClientKeyShares(data: Uint8Array): KeyShareEntry[] {
  return decodeBody(data, 'key_share', (r) => {
    const list = new Reader(r.vector(2, 'client_shares'));
    const shares: KeyShareEntry[] = [];
    while (list.remaining > 0) shares.push({ group: list.u16('key_share group'), key: list.vector(2, 'key_exchange', 1) });
    return shares;
  });
}
export function encodeClientKeyShares(shares: readonly KeyShareEntry[]): Uint8Array {
  return new Writer().vector(2, (w) => { for (const share of shares) w.u16(share.group).vector(2, (k) => k.bytes(share.key)); }).finish();
}
/** KeyShareServerHello: one KeyShareEntry. */
export function parseServerKeyShare(data: Uint8Array): KeyShareEntry {
  return decodeBody(data, 'key_share', (r) => ({ group: r.u16('key_share group'), key: r.vector(2, 'key_exchange', 1) }));
}
export function encodeServerKeyShare(share: KeyShareEntry): Uint8Array {
  return new Writer().u16(share.group).vector(2, (k) => k.bytes(share.key)).finish();
}
/** KeyShareHelloRetryRequest: NamedGroup selected_group. */
export function parseSelectedGroup(data: Uint8Array): number {
  return decodeBody(data, 'key_share', (r) => r.u16('selected_group'));
}
export function encodeU16(value: number): Uint8Array {
  return new Writer().u16(value).finish();
}
export function parseU16(data: Uint8Array, what: string): number {
  return decodeBody(data, what, (r) => r.u16(what));
}

/** RFC 8446 §4.2.9 PskKeyExchangeMode ke_modes<1..255>. */
export function parsePskModes(data: Uint8Array): number[] {
  return decodeBody(data, 'psk_key_exchange_modes', (r) => [...r.vector(1, 'ke_modes', 1)]);
}

/** RFC 8446 §4.2.2 Cookie: opaque cookie<1..2^16-1>. */
export function parseCookie(data: Uint8Array): Uint8Array {
  return decodeBody(data, 'cookie', (r) => r.vector(2, 'cookie', 1));
}
export function encodeCookie(cookie: Uint8Array): Uint8Array {
  return new Writer().vector(2, (w) => w.bytes(cookie)).finish();
}

export interface PskIdentity {
  identity: Uint8Array;
  obfuscatedTicketAge: number;
}
export interface OfferedPsks {
  identities: PskIdentity[];
  binders: Uint8Array[];
  /** Bytes of the binders vector including its 2-byte length: the tail of the ClientHello the binders do not cover. */
  bindersLength: number;
}
/** RFC 8446 §4.2.11 OfferedPsks: PskIdentity identities<7..2^16-1>; PskBinderEntry binders<33..2^16-1>. */
export function parseOfferedPsks(data: Uint8Array): OfferedPsks {
  return decodeBody(data, 'pre_shared_key', (r) => {
    const identityList = new Reader(r.vector(2, 'psk identities', 7));
    const identities: PskIdentity[] = [];
    while (identityList.remaining > 0) {
      identities.push({ identity: identityList.vector(2, 'psk identity', 1), obfuscatedTicketAge: identityList.u32('obfuscated_ticket_age') });
    }
    const bindersStart = r.position;
    const binderList = new Reader(r.vector(2, 'psk binders', 33));
    const binders: Uint8Array[] = [];
    while (binderList.remaining > 0) binders.push(binderList.vector(1, 'psk binder', 32));
    // RFC 8446 §4.2.11: one binder per identity.
    if (binders.length !== identities.length) fail(Alert.illegalParameter, `${identities.length} PSK identities but ${binders.length} binders`);
    return { identities, binders, bindersLength: r.position - bindersStart };
  });
}
export function encodeOfferedPsks(identities: readonly PskIdentity[], binders: readonly Uint8Array[]): Uint8Array {
  return new Writer()
    .vector(2, (w) => { for (const psk of identities) w.vector(2, (i) => i.bytes(psk.identity)).u32(psk.obfuscatedTicketAge); })
    .vector(2, (w) => { for (const binder of binders) w.vector(1, (b) => b.bytes(binder)); })
    .finish();
}

export function requireEmpty(data: Uint8Array, what: string): void {
  if (data.byteLength !== 0) fail(Alert.decodeError, `${what} extension must be empty here`);
}

// ---- ClientHello -----------------------------------------------------------------------------------------------

export interface ClientHello {
  raw: Uint8Array;
  legacyVersion: number;
  random: Uint8Array;
  sessionId: Uint8Array;
  cipherSuites: number[];
  compressionMethods: Uint8Array;
  extensions: Extension[];
}

/** RFC 8446 §4.1.2. */
export function parseClientHello(raw: Uint8Array, body: Uint8Array): ClientHello {
  const r = new Reader(body);
  const legacyVersion = r.u16('legacy_version');
  const random = r.bytesOf(32, 'random');
  const sessionId = r.vector(1, 'legacy_session_id', 0, 32);
  const cipherSuites = u16List(r, 2, 'cipher_suites', 2);
  const compressionMethods = r.vector(1, 'legacy_compression_methods', 1);
  // RFC 8446 §4.1.2 requires the extensions field in TLS 1.3 (extensions<8..2^16-1>).
  if (r.remaining === 0) fail(Alert.protocolVersion, 'ClientHello without extensions (pre-TLS 1.3 client)');
  const extensions = parseExtensions(r, 'ClientHello');
  r.end('ClientHello');
  // RFC 8446 §4.2.11: "The "pre_shared_key" extension MUST be the last extension in the ClientHello ... Servers
  // MUST check that it is the last extension and otherwise fail the handshake with an "illegal_parameter" alert."
  const pskAt = extensions.findIndex((extension) => extension.type === Ext.preSharedKey);
  if (pskAt !== -1 && pskAt !== extensions.length - 1) fail(Alert.illegalParameter, 'pre_shared_key is not the last extension');
  return { raw, legacyVersion, random, sessionId, cipherSuites, compressionMethods, extensions };
}

export function encodeClientHello(random: Uint8Array, cipherSuites: readonly number[], extensions: readonly Extension[]): Uint8Array {
  const w = new Writer().u16(LEGACY_VERSION).bytes(random).u8(0); // RFC 9001 §8.4: empty legacy_session_id
  w.vector(2, (s) => { for (const suite of cipherSuites) s.u16(suite); });
  w.u8(1).u8(0); // legacy_compression_methods = [null]
  writeExtensions(w, extensions);
  return handshakeMessage(HandshakeType.clientHello, w.finish());
}

// ---- ServerHello / HelloRetryRequest -----------------------------------------------------------------------------

export interface ServerHello {
  legacyVersion: number;
  random: Uint8Array;
  sessionIdEcho: Uint8Array;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Extension[];
}

/** RFC 8446 §4.1.3. */
export function parseServerHello(body: Uint8Array): ServerHello {
  const r = new Reader(body);
  const legacyVersion = r.u16('legacy_version');
  const random = r.bytesOf(32, 'random');
  const sessionIdEcho = r.vector(1, 'legacy_session_id_echo', 0, 32);
  const cipherSuite = r.u16('cipher_suite');
  const compressionMethod = r.u8('legacy_compression_method');
  const extensions = parseExtensions(r, 'ServerHello');
  r.end('ServerHello');
  return { legacyVersion, random, sessionIdEcho, cipherSuite, compressionMethod, extensions };
}

export function encodeServerHello(random: Uint8Array, sessionIdEcho: Uint8Array, cipherSuite: number, extensions: readonly Extension[]): Uint8Array {
  const w = new Writer().u16(LEGACY_VERSION).bytes(random).vector(1, (s) => s.bytes(sessionIdEcho)).u16(cipherSuite).u8(0);
  writeExtensions(w, extensions);
  return handshakeMessage(HandshakeType.serverHello, w.finish());
}

export const SUPPORTED_VERSIONS_TLS13: Extension = { type: Ext.supportedVersions, data: encodeU16(TLS13) };

// ---- EncryptedExtensions, Certificate, CertificateVerify, Finished, NewSessionTicket -------------------------------

export function parseEncryptedExtensions(body: Uint8Array): Extension[] {
  const r = new Reader(body);
  const extensions = parseExtensions(r, 'EncryptedExtensions');
  r.end('EncryptedExtensions');
  return extensions;
}
export function encodeEncryptedExtensions(extensions: readonly Extension[]): Uint8Array {
  const w = new Writer();
  writeExtensions(w, extensions);
  return handshakeMessage(HandshakeType.encryptedExtensions, w.finish());
}

export interface CertificateMessage {
  context: Uint8Array;
  entries: Array<{ data: Uint8Array; extensions: Extension[] }>;
}
/** RFC 8446 §4.4.2: certificate_request_context<0..2^8-1>, CertificateEntry certificate_list<0..2^24-1>. */
export function parseCertificate(body: Uint8Array): CertificateMessage {
  const r = new Reader(body);
  const context = r.vector(1, 'certificate_request_context');
  const list = new Reader(r.vector(3, 'certificate_list'));
  r.end('Certificate');
  const entries: CertificateMessage['entries'] = [];
  while (list.remaining > 0) {
    const data = list.vector(3, 'cert_data', 1);
    entries.push({ data, extensions: parseExtensions(list, 'CertificateEntry') });
  }
  return { context, entries };
}
/** Each CertificateEntry with empty extensions: we answer no status_request or signed_certificate_timestamp. */
export function encodeCertificate(chain: readonly Uint8Array[]): Uint8Array {
  const w = new Writer().u8(0).vector(3, (list) => {
    for (const der of chain) list.vector(3, (c) => c.bytes(der)).u16(0);
  });
  return handshakeMessage(HandshakeType.certificate, w.finish());
}

/** RFC 8446 §4.4.3: SignatureScheme algorithm; opaque signature<0..2^16-1>. */
export function parseCertificateVerify(body: Uint8Array): { scheme: number; signature: Uint8Array } {
  const r = new Reader(body);
  const scheme = r.u16('CertificateVerify algorithm');
  const signature = r.vector(2, 'CertificateVerify signature');
  r.end('CertificateVerify');
  return { scheme, signature };
}
export function encodeCertificateVerify(scheme: number, signature: Uint8Array): Uint8Array {
  return handshakeMessage(HandshakeType.certificateVerify, new Writer().u16(scheme).vector(2, (s) => s.bytes(signature)).finish());
}

const CV_PREFIX = new Uint8Array(64).fill(0x20);
const encoder = new TextEncoder();
/** RFC 8446 §4.4.3: 64 spaces, the context string, a zero byte, then the transcript hash. */
export function certificateVerifyInput(role: 'server' | 'client', transcriptHash: Uint8Array): Uint8Array {
  const context = encoder.encode(`TLS 1.3, ${role} CertificateVerify`);
  const out = new Uint8Array(64 + context.byteLength + 1 + transcriptHash.byteLength);
  out.set(CV_PREFIX, 0);
  out.set(context, 64);
  out.set(transcriptHash, 64 + context.byteLength + 1);
  return out;
}

export interface NewSessionTicket {
  lifetime: number;
  ageAdd: number;
  nonce: Uint8Array;
  ticket: Uint8Array;
  extensions: Extension[];
}
/** RFC 8446 §4.6.1. */
export function parseNewSessionTicket(body: Uint8Array): NewSessionTicket {
  const r = new Reader(body);
  const lifetime = r.u32('ticket_lifetime');
  const ageAdd = r.u32('ticket_age_add');
  const nonce = r.vector(1, 'ticket_nonce');
  const ticket = r.vector(2, 'ticket', 1);
  const extensions = parseExtensions(r, 'NewSessionTicket');
  r.end('NewSessionTicket');
  return { lifetime, ageAdd, nonce, ticket, extensions };
}
export function encodeNewSessionTicket(ticket: Omit<NewSessionTicket, 'extensions'>, extensions: readonly Extension[]): Uint8Array {
  const w = new Writer().u32(ticket.lifetime).u32(ticket.ageAdd).vector(1, (n) => n.bytes(ticket.nonce)).vector(2, (t) => t.bytes(ticket.ticket));
  writeExtensions(w, extensions);
  return handshakeMessage(HandshakeType.newSessionTicket, w.finish());
}
