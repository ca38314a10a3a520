/**
 * The PROXY protocol header (HAProxy, "The PROXY protocol", versions 1 and 2) that a load balancer sends before the
 * connection's own bytes to say which client it accepted. Parsing only: bytes in, a verdict out, no I/O. Strict: any
 * deviation from the specification rejects the header (the listener then closes the connection).
 */
import { isIPv4, isIPv6 } from 'node:net';

/** The addresses a header gives for the proxied connection. */
export interface ProxiedAddresses {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

export type ProxyHeaderResult =
  /** The bytes so far are a valid beginning: read more. */
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  /**
   * A complete header of `length` bytes (the connection's own bytes follow). `addresses` undefined: use the real
   * peer (v1 UNKNOWN, v2 LOCAL, or an address family other than TCP over IPv4/IPv6).
   */
  | { kind: 'complete'; length: number; addresses: ProxiedAddresses | undefined };

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** Spec §2.1: "a receiver ... can read 107 bytes": the longest v1 line, CRLF included. */
export const V1_MAX_LENGTH = 107;
/** Spec §2.2: the 12-byte v2 signature. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V2_FIXED_LENGTH = 16;
/**
 * The largest v2 header accepted: the address block plus TLVs (SSL facts, cloud endpoint ids, ...) fit in far less.
 * The specification allows 16 + 65535 bytes; a bound keeps what a connection may make us buffer small.
 */
export const V2_MAX_LENGTH = 4096;
/** Spec §2.2: address block sizes by family (INET, INET6, UNIX). */
const ADDRESS_BLOCK = { inet: 12, inet6: 36, unix: 216 } as const;

const incomplete: ProxyHeaderResult = { kind: 'incomplete' };
const invalid = (reason: string): ProxyHeaderResult => ({ kind: 'invalid', reason });

/** Whether `bytes` agrees with `expected` as far as both go. */
function agreesWith(bytes: Uint8Array, expected: Uint8Array): boolean {
  const length = Math.min(bytes.length, expected.length);
  for (let i = 0; i < length; i++) if (bytes[i] !== expected[i]) return false;
  return true;
}

/** Reads a PROXY protocol header (v1 or v2, told apart by their first byte) from the first bytes of a connection. */
export function parseProxyHeader(bytes: Uint8Array): ProxyHeaderResult {
  if (bytes.length === 0) return incomplete;
  if (bytes[0] === V1_PREFIX[0]) return parseV1(bytes);
  if (bytes[0] === V2_SIGNATURE[0]) return parseV2(bytes);
  return invalid('the connection does not start with a PROXY protocol header');
}

const V1_PORT = /^(?:0|[1-9][0-9]{0,4})$/;

function v1Port(text: string): number | undefined {
  if (!V1_PORT.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** Spec §2.1: "PROXY" SP ( "TCP4" | "TCP6" ) SP src SP dst SP srcport SP dstport CRLF, or "PROXY UNKNOWN" ... CRLF. */
function parseV1(bytes: Uint8Array): ProxyHeaderResult {
  if (!agreesWith(bytes, V1_PREFIX)) return invalid('not a PROXY protocol v1 header');
  const searchable = Math.min(bytes.length, V1_MAX_LENGTH);
  let end = -1;
  for (let i = V1_PREFIX.length; i < searchable - 1; i++) {
    if (bytes[i] === 0x0d) {
      if (bytes[i + 1] !== 0x0a) return invalid('PROXY v1 header: CR not followed by LF');
      end = i;
      break;
    }
    // Printable US-ASCII only: the line is text.
    if (bytes[i]! < 0x20 || bytes[i]! > 0x7e) return invalid('PROXY v1 header: a byte that is not printable ASCII');
  }
  if (end < 0) {
    if (bytes.length >= V1_MAX_LENGTH) return invalid(`PROXY v1 header: no CRLF within ${V1_MAX_LENGTH} bytes`);
    // The last byte may be printable or the CR of the CRLF still to come.
    const last = bytes[bytes.length - 1]!;
    if (bytes.length > V1_PREFIX.length && last !== 0x0d && (last < 0x20 || last > 0x7e)) return invalid('PROXY v1 header: a byte that is not printable ASCII');
    return incomplete;
  }
  const line = Buffer.from(bytes.buffer, bytes.byteOffset, end).toString('latin1');
  const length = end + 2;
  const fields = line.split(' ');
  // Spec §2.1: with UNKNOWN "the receiver must ignore anything presented before the CRLF".
  if (fields[1] === 'UNKNOWN') return { kind: 'complete', length, addresses: undefined };
  if (fields.length !== 6) return invalid('PROXY v1 header: expected PROXY TCP4|TCP6 SRC DST SPORT DPORT');
  const [, family, source, destination, sourcePortText, destinationPortText] = fields as [string, string, string, string, string, string];
  const isAddress = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : undefined;
  if (isAddress === undefined) return invalid(`PROXY v1 header: unknown protocol family "${family}"`);
  if (!isAddress(source) || !isAddress(destination) || source.includes('%') || destination.includes('%')) {
    return invalid(`PROXY v1 header: addresses are not ${family === 'TCP4' ? 'IPv4' : 'IPv6'} addresses`);
  }
  const sourcePort = v1Port(sourcePortText);
  const destinationPort = v1Port(destinationPortText);
  if (sourcePort === undefined || destinationPort === undefined) return invalid('PROXY v1 header: ports must be 0-65535 without leading zeros');
  return { kind: 'complete', length, addresses: { sourceAddress: source, sourcePort, destinationAddress: destination, destinationPort } };
}

function ipv6Text(bytes: Uint8Array, offset: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[offset + i]! << 8) | bytes[offset + i + 1]!).toString(16));
  // Canonical text (RFC 5952) through the URL parser, which compresses the longest zero run.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** Spec §2.2: signature, version/command, family/transport, length, address block, TLVs. */
function parseV2(bytes: Uint8Array): ProxyHeaderResult {
  if (!agreesWith(bytes, V2_SIGNATURE)) return invalid('not a PROXY protocol v2 header');
  if (bytes.length < V2_FIXED_LENGTH) return incomplete;
  const versionCommand = bytes[12]!;
  // The high four bits are the version (2); the low four the command: 0 LOCAL, 1 PROXY. Anything else is refused.
  if (versionCommand >> 4 !== 2) return invalid(`PROXY v2 header: version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid(`PROXY v2 header: unknown command ${command}`);
  const familyTransport = bytes[13]!;
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  const blockLength = (bytes[14]! << 8) | bytes[15]!;
  const length = V2_FIXED_LENGTH + blockLength;
  if (length > V2_MAX_LENGTH) return invalid(`PROXY v2 header: ${length} bytes, more than the ${V2_MAX_LENGTH} accepted`);
  // Spec §2.2: LOCAL is the proxy's own connection (a health check): the receiver uses the real endpoints and
  // discards the whole block, family included.
  if (command === 0) return bytes.length < length ? incomplete : { kind: 'complete', length, addresses: undefined };
  if (family > 3 || transport > 2) return invalid(`PROXY v2 header: unknown address family/transport 0x${familyTransport.toString(16)}`);
  const addressLength = family === 1 ? ADDRESS_BLOCK.inet : family === 2 ? ADDRESS_BLOCK.inet6 : family === 3 ? ADDRESS_BLOCK.unix : 0;
  // The length must cover the address block the family announces (TLVs may follow it).
  if (blockLength < addressLength) return invalid('PROXY v2 header: the length is shorter than the address block');
  if (bytes.length < length) return incomplete;
  // UNSPEC: an unknown layout, nothing to check; the real endpoints stand (the spec lets a receiver accept it).
  if (family === 0) return { kind: 'complete', length, addresses: undefined };
  const tlvError = checkTlvs(bytes, V2_FIXED_LENGTH + addressLength, length);
  if (tlvError !== undefined) return invalid(tlvError);
  // A UNIX socket client has no address this server can report: the real endpoints stand.
  if (family === 3) return { kind: 'complete', length, addresses: undefined };
  // A TCP listener proxies stream connections: DGRAM (or UNSPEC) over INET/INET6 is no connection of ours.
  if (transport !== 1) return invalid('PROXY v2 header: the transport is not STREAM');
  const at = V2_FIXED_LENGTH;
  const port = (offset: number) => (bytes[offset]! << 8) | bytes[offset + 1]!;
  if (family === 1) {
    const ipv4 = (offset: number) => `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
    return { kind: 'complete', length, addresses: { sourceAddress: ipv4(at), destinationAddress: ipv4(at + 4), sourcePort: port(at + 8), destinationPort: port(at + 10) } };
  }
  return {
    kind: 'complete',
    length,
    addresses: { sourceAddress: ipv6Text(bytes, at), destinationAddress: ipv6Text(bytes, at + 16), sourcePort: port(at + 32), destinationPort: port(at + 34) },
  };
}

/**
 * Spec §2.2.7: TLVs are type (1 byte), length (2 bytes), value. They are skipped (no TLV changes what this server
 * does), but each must fit exactly in the header: a TLV running past it means the header is not what it claims.
 */
function checkTlvs(bytes: Uint8Array, start: number, end: number): string | undefined {
  let at = start;
  while (at < end) {
    if (end - at < 3) return 'PROXY v2 header: a truncated TLV';
    const valueLength = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    at += 3 + valueLength;
    if (at > end) return 'PROXY v2 header: a TLV longer than the header';
  }
  return undefined;
}
