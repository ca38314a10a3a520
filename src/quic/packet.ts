/**
 * Packet headers (RFC 9000 §17): long and short headers, Version Negotiation, Retry with its integrity tag
 * (RFC 9001 §5.8), coalesced packets (§12.2), and packet-number encoding (§17.1, Appendix A.2/A.3).
 * Parsing reads only what header protection leaves visible; the packet number is recovered in protection.ts.
 */
import { BufferReader, BufferUnderflowError, BufferWriter, concatBytes } from './buffer.js';
import type { CryptoProvider } from './crypto.js';

export const QUIC_VERSION_1 = 0x00000001;
/** RFC 9000 §17.2: connection IDs in v1 long headers are at most 20 bytes. */
export const MAX_CID_LENGTH = 20;
/** RFC 9000 §14.1: a client's Initial datagrams, and a server's datagrams carrying ack-eliciting Initials, are ≥ 1200 bytes. */
export const MIN_INITIAL_DATAGRAM = 1200;

export type LongPacketType = 'initial' | 'zeroRtt' | 'handshake' | 'retry';
export type PacketType = LongPacketType | 'oneRtt' | 'versionNegotiation';

const LONG_TYPES: readonly LongPacketType[] = ['initial', 'zeroRtt', 'handshake', 'retry'];

export function longTypeBits(type: LongPacketType): number {
  return LONG_TYPES.indexOf(type);
}

export interface PacketHeader {
  readonly type: PacketType;
  readonly longHeader: boolean;
  readonly version: number;
  readonly destinationCid: Uint8Array;
  readonly sourceCid: Uint8Array;
  /** Initial and Retry tokens (Retry: the token without its 16-byte integrity tag). */
  readonly token: Uint8Array;
  /** Offset of the (protected) packet number inside the datagram. */
  readonly pnOffset: number;
  /** End of this packet inside the datagram (the Length field for long headers; the datagram end for short ones). */
  readonly packetEnd: number;
  /** Version Negotiation: the versions offered. */
  readonly supportedVersions: readonly number[];
  /** Retry: the integrity tag. */
  readonly integrityTag: Uint8Array;
}

export class PacketParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PacketParseError';
  }
}

const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Parses the header of the packet starting at `start` in a datagram. Short headers use shortCidLength, the length
 * of the connection IDs this endpoint issues (RFC 9000 §5.1: the length is implicit in short headers).
 * Throws PacketParseError on a malformed or truncated header (the datagram's remaining bytes are then dropped,
 * §12.2 lets a receiver discard what it cannot parse).
 */
export function parsePacketHeader(datagram: Uint8Array, start: number, shortCidLength: number): PacketHeader {
  const reader = new BufferReader(datagram, start);
  try {
    const first = reader.uint8();
    if ((first & 0x80) === 0) {
      // RFC 9000 §17.3.1: 1-RTT packet; the fixed bit must be 1 (§17.3.1 "Fixed Bit").
      if ((first & 0x40) === 0) throw new PacketParseError('fixed bit is 0');
      const destinationCid = reader.bytesView(shortCidLength);
      return {
        type: 'oneRtt', longHeader: false, version: QUIC_VERSION_1, destinationCid, sourceCid: EMPTY, token: EMPTY,
        pnOffset: reader.offset, packetEnd: datagram.byteLength, supportedVersions: [], integrityTag: EMPTY,
      };
    }
    const version = reader.uint32();
    const dcidLength = reader.uint8();
    // RFC 8999 §5.1: any length up to 255 is valid for unknown versions; v1 caps at 20 (RFC 9000 §17.2).
    if (version === QUIC_VERSION_1 && dcidLength > MAX_CID_LENGTH) throw new PacketParseError('destination CID too long');
    const destinationCid = reader.bytesView(dcidLength);
    const scidLength = reader.uint8();
    if (version === QUIC_VERSION_1 && scidLength > MAX_CID_LENGTH) throw new PacketParseError('source CID too long');
    const sourceCid = reader.bytesView(scidLength);
    if (version === 0) {
      // RFC 9000 §17.2.1: Version Negotiation, a list of 32-bit versions filling the datagram.
      const supportedVersions: number[] = [];
      while (reader.remaining >= 4) supportedVersions.push(reader.uint32());
      return {
        type: 'versionNegotiation', longHeader: true, version, destinationCid, sourceCid, token: EMPTY,
        pnOffset: reader.offset, packetEnd: datagram.byteLength, supportedVersions, integrityTag: EMPTY,
      };
    }
    if (version !== QUIC_VERSION_1) {
      // Unknown version: only the invariant fields are meaningful (the server answers with Version Negotiation).
      return {
        type: 'initial', longHeader: true, version, destinationCid, sourceCid, token: EMPTY,
        pnOffset: reader.offset, packetEnd: datagram.byteLength, supportedVersions: [], integrityTag: EMPTY,
      };
    }
    if ((first & 0x40) === 0) throw new PacketParseError('fixed bit is 0');
    const type = LONG_TYPES[(first >> 4) & 0x03]!;
    if (type === 'retry') {
      // RFC 9000 §17.2.5: token runs to the last 16 bytes, the Retry Integrity Tag.
      if (reader.remaining < 16) throw new PacketParseError('Retry too short');
      const token = reader.bytesView(reader.remaining - 16);
      const integrityTag = reader.bytesView(16);
      return {
        type, longHeader: true, version, destinationCid, sourceCid, token,
        pnOffset: reader.offset, packetEnd: datagram.byteLength, supportedVersions: [], integrityTag,
      };
    }
    let token = EMPTY;
    if (type === 'initial') token = reader.bytesView(reader.varint());
    const length = reader.varint();
    const pnOffset = reader.offset;
    if (length > reader.remaining) throw new PacketParseError('Length beyond the datagram');
    return {
      type, longHeader: true, version, destinationCid, sourceCid, token,
      pnOffset, packetEnd: pnOffset + length, supportedVersions: [], integrityTag: EMPTY,
    };
  } catch (error) {
    if (error instanceof BufferUnderflowError) throw new PacketParseError('truncated header');
    throw error;
  }
}

/** Only the destination CID (the demux key): RFC 8999 invariants, any version. Undefined when unparseable. */
export function peekDestinationCid(datagram: Uint8Array, shortCidLength: number): Uint8Array | undefined {
  if (datagram.byteLength === 0) return undefined;
  if ((datagram[0]! & 0x80) === 0) {
    return datagram.byteLength >= 1 + shortCidLength ? datagram.subarray(1, 1 + shortCidLength) : undefined;
  }
  if (datagram.byteLength < 6) return undefined;
  const length = datagram[5]!;
  return datagram.byteLength >= 6 + length ? datagram.subarray(6, 6 + length) : undefined;
}

/** RFC 9000 §17.2.1: Version Negotiation, echoing the client's CIDs swapped. The first byte's low bits are arbitrary. */
export function encodeVersionNegotiation(
  destinationCid: Uint8Array,
  sourceCid: Uint8Array,
  versions: readonly number[],
  unusedBits: number,
): Uint8Array {
  const writer = new BufferWriter(16 + destinationCid.byteLength + sourceCid.byteLength + versions.length * 4);
  writer.uint8(0x80 | (unusedBits & 0x7f)).uint32(0);
  writer.uint8(destinationCid.byteLength).raw(destinationCid);
  writer.uint8(sourceCid.byteLength).raw(sourceCid);
  for (const version of versions) writer.uint32(version);
  return writer.finish();
}

/** RFC 9001 §5.8: the fixed AES-128-GCM key and nonce of the Retry integrity tag for QUIC v1. */
const RETRY_KEY_V1 = Uint8Array.from([0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e]);
const RETRY_NONCE_V1 = Uint8Array.from([0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb]);

/** RFC 9001 §5.8: the tag is AES-128-GCM over the Retry Pseudo-Packet (ODCID length, ODCID, Retry without tag). */
export function retryIntegrityTag(crypto: CryptoProvider, retryWithoutTag: Uint8Array, originalDestinationCid: Uint8Array): Uint8Array {
  const pseudo = concatBytes([Uint8Array.of(originalDestinationCid.byteLength), originalDestinationCid, retryWithoutTag]);
  return crypto.aead('aes-128-gcm', RETRY_KEY_V1).seal(RETRY_NONCE_V1, pseudo, EMPTY);
}

export function encodeRetry(
  crypto: CryptoProvider,
  destinationCid: Uint8Array,
  sourceCid: Uint8Array,
  originalDestinationCid: Uint8Array,
  token: Uint8Array,
  unusedBits = 0,
): Uint8Array {
  const writer = new BufferWriter(64 + token.byteLength);
  writer.uint8(0xc0 | (longTypeBits('retry') << 4) | (unusedBits & 0x0f)).uint32(QUIC_VERSION_1);
  writer.uint8(destinationCid.byteLength).raw(destinationCid);
  writer.uint8(sourceCid.byteLength).raw(sourceCid);
  writer.raw(token);
  const body = writer.finish();
  return concatBytes([body, retryIntegrityTag(crypto, body, originalDestinationCid)]);
}

/** Checks a received Retry's tag against the DCID the client first sent. */
export function verifyRetry(crypto: CryptoProvider, datagram: Uint8Array, header: PacketHeader, originalDestinationCid: Uint8Array): boolean {
  const withoutTag = datagram.subarray(0, header.packetEnd - 16);
  return crypto.timingSafeEqual(retryIntegrityTag(crypto, withoutTag, originalDestinationCid), header.integrityTag);
}

/**
 * RFC 9000 §17.1 and Appendix A.2: the number of bytes to send a packet number in, enough to represent more than
 * twice the range of packets the peer has not acknowledged.
 */
export function packetNumberLength(packetNumber: number, largestAcked: number | undefined): 1 | 2 | 3 | 4 {
  const unacked = largestAcked === undefined ? packetNumber + 1 : packetNumber - largestAcked;
  const bits = Math.floor(Math.log2(Math.max(unacked, 1))) + 2;
  const bytes = Math.ceil(bits / 8);
  return bytes <= 1 ? 1 : bytes === 2 ? 2 : bytes === 3 ? 3 : 4;
}

/** RFC 9000 Appendix A.3: recover the full packet number closest to largest + 1. */
export function decodePacketNumber(largest: number, truncated: number, bits: number): number {
  const expected = largest + 1;
  const window = 2 ** bits;
  const halfWindow = window / 2;
  // (expected & ~mask) | truncated, with arithmetic that stays exact above 2^32.
  const candidate = expected - (expected % window) + truncated;
  if (candidate <= expected - halfWindow && candidate < 2 ** 62 - window) return candidate + window;
  if (candidate > expected + halfWindow && candidate >= window) return candidate - window;
  return candidate;
}

/** The plaintext header of a long-header packet, with the Length field sized for `payloadLength` (pn + payload + tag). */
export function encodeLongHeader(
  type: 'initial' | 'zeroRtt' | 'handshake',
  destinationCid: Uint8Array,
  sourceCid: Uint8Array,
  token: Uint8Array,
  packetNumber: number,
  pnLength: 1 | 2 | 3 | 4,
  lengthField: number,
  writer = new BufferWriter(32 + destinationCid.byteLength + sourceCid.byteLength + token.byteLength),
): { header: Uint8Array; pnOffset: number } {
  writer.reset();
  writer.uint8(0xc0 | (longTypeBits(type) << 4) | (pnLength - 1)).uint32(QUIC_VERSION_1);
  writer.uint8(destinationCid.byteLength).raw(destinationCid);
  writer.uint8(sourceCid.byteLength).raw(sourceCid);
  if (type === 'initial') writer.varint(token.byteLength).raw(token);
  // Always 2 bytes: packets never exceed 16383 bytes, and a fixed size lets the builder compute padding up front.
  writer.varint(lengthField, 2);
  const pnOffset = writer.length;
  writePacketNumber(writer, packetNumber, pnLength);
  return { header: writer.finish(), pnOffset };
}

/** RFC 9000 §17.3.1: short header with spin bit 0 and the key phase. */
export function encodeShortHeader(
  destinationCid: Uint8Array,
  packetNumber: number,
  pnLength: 1 | 2 | 3 | 4,
  keyPhase: number,
  writer = new BufferWriter(8 + destinationCid.byteLength),
): { header: Uint8Array; pnOffset: number } {
  writer.reset();
  writer.uint8(0x40 | ((keyPhase & 1) << 2) | (pnLength - 1)).raw(destinationCid);
  const pnOffset = writer.length;
  writePacketNumber(writer, packetNumber, pnLength);
  return { header: writer.finish(), pnOffset };
}

function writePacketNumber(writer: BufferWriter, packetNumber: number, pnLength: number): void {
  for (let i = pnLength - 1; i >= 0; i--) writer.uint8(Math.floor(packetNumber / 2 ** (8 * i)) & 0xff);
}
