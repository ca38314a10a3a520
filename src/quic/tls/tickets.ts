/**
 * Session tickets. The server keeps no session cache: a ticket is the resumption state sealed under ticketKey with
 * the provider's AEAD (AES-256-GCM, random 96-bit nonce, a fixed label as AAD so no other sealed blob of ours can
 * pass for a ticket). The client side keeps what it needs to resume in an opaque blob of its own.
 */
import type { CryptoProvider } from '../crypto.js';
import { Reader, TlsAlertError, Writer, concatBytes } from './wire.js';

const TICKET_AAD = new TextEncoder().encode('httpsd TLS 1.3 session ticket v1');
const TICKET_VERSION = 1;
const SESSION_VERSION = 1;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;

/** What the server seals into a ticket (RFC 8446 §4.6.1 says what a server must remember to resume). */
export interface TicketState {
  suite: number;
  /** The resumption PSK. */
  psk: Uint8Array;
  /** Milliseconds since the epoch. */
  issuedAt: number;
  /** Seconds. */
  lifetime: number;
  ageAdd: number;
  alpn: string;
  serverName: string | undefined;
  /** 0 when the ticket allows no 0-RTT. */
  maxEarlyData: number;
  /** SHA-256 of the transport parameters sent with the ticket: 0-RTT needs them unchanged (RFC 9001 §4.6.2). */
  transportParametersDigest: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function writeText(w: Writer, text: string | undefined): void {
  w.u8(text === undefined ? 0 : 1).vector(1, (t) => t.bytes(encoder.encode(text ?? '')));
}
function readText(r: Reader): string | undefined {
  const present = r.u8();
  const bytes = r.vector(1, 'text');
  return present === 1 ? decoder.decode(bytes) : undefined;
}
/** Milliseconds as two u32 halves (exact up to 2^53). */
function writeTime(w: Writer, ms: number): void {
  w.u32(Math.floor(ms / 0x100000000)).u32(ms % 0x100000000);
}
function readTime(r: Reader): number {
  return r.u32() * 0x100000000 + r.u32();
}

export function sealTicket(crypto: CryptoProvider, ticketKey: Uint8Array, state: TicketState): Uint8Array {
  const w = new Writer().u8(TICKET_VERSION).u16(state.suite).vector(1, (p) => p.bytes(state.psk));
  writeTime(w, state.issuedAt);
  w.u32(state.lifetime).u32(state.ageAdd);
  writeText(w, state.alpn);
  writeText(w, state.serverName);
  w.u32(state.maxEarlyData).vector(1, (d) => d.bytes(state.transportParametersDigest));
  const nonce = crypto.randomBytes(NONCE_LENGTH);
  return concatBytes(nonce, crypto.aead('aes-256-gcm', ticketKey).seal(nonce, TICKET_AAD, w.finish()));
}

/** The ticket's state, or undefined for anything not sealed by us under this key (never throws). */
export function openTicket(crypto: CryptoProvider, ticketKey: Uint8Array, ticket: Uint8Array): TicketState | undefined {
  if (ticket.byteLength < NONCE_LENGTH + TAG_LENGTH) return undefined;
  const plain = crypto.aead('aes-256-gcm', ticketKey).open(ticket.subarray(0, NONCE_LENGTH), TICKET_AAD, ticket.subarray(NONCE_LENGTH));
  if (plain === null) return undefined;
  return decodeOrUndefined(() => {
    const r = new Reader(plain);
    if (r.u8() !== TICKET_VERSION) return undefined;
    const state: TicketState = {
      suite: r.u16(),
      psk: r.vector(1, 'psk').slice(),
      issuedAt: readTime(r),
      lifetime: r.u32(),
      ageAdd: r.u32(),
      alpn: readText(r) ?? '',
      serverName: readText(r),
      maxEarlyData: r.u32(),
      transportParametersDigest: r.vector(1, 'digest').slice(),
    };
    r.end('ticket');
    return state;
  });
}

/** What the client keeps from a NewSessionTicket (RFC 8446 §4.6.1, RFC 9001 §4.6.1, RFC 9000 §7.4.1). */
export interface ClientSession {
  suite: number;
  psk: Uint8Array;
  /** The ticket as received: the PSK identity. */
  identity: Uint8Array;
  ageAdd: number;
  /** Milliseconds since the epoch. */
  receivedAt: number;
  /** Seconds. */
  lifetime: number;
  alpn: string;
  serverName: string | undefined;
  /** Whether the ticket allows 0-RTT (its early_data extension was present). */
  earlyData: boolean;
  serverTransportParameters: Uint8Array;
}

export function encodeClientSession(session: ClientSession): Uint8Array {
  const w = new Writer().u8(SESSION_VERSION).u16(session.suite).vector(1, (p) => p.bytes(session.psk)).vector(2, (i) => i.bytes(session.identity));
  w.u32(session.ageAdd);
  writeTime(w, session.receivedAt);
  w.u32(session.lifetime);
  writeText(w, session.alpn);
  writeText(w, session.serverName);
  w.u8(session.earlyData ? 1 : 0).vector(2, (t) => t.bytes(session.serverTransportParameters));
  return w.finish();
}

/** The session in a blob from encodeClientSession, or undefined when it is not one. */
export function decodeClientSession(blob: Uint8Array): ClientSession | undefined {
  return decodeOrUndefined(() => {
    const r = new Reader(blob);
    if (r.u8() !== SESSION_VERSION) return undefined;
    const session: ClientSession = {
      suite: r.u16(),
      psk: r.vector(1, 'psk').slice(),
      identity: r.vector(2, 'identity', 1).slice(),
      ageAdd: r.u32(),
      receivedAt: readTime(r),
      lifetime: r.u32(),
      alpn: readText(r) ?? '',
      serverName: readText(r),
      earlyData: r.u8() === 1,
      serverTransportParameters: r.vector(2, 'transport parameters').slice(),
    };
    r.end('session');
    return session;
  });
}

function decodeOrUndefined<T>(decode: () => T | undefined): T | undefined {
  try {
    return decode();
  } catch (error) {
    if (error instanceof TlsAlertError || error instanceof TypeError) return undefined;
    throw error;
  }
}

/**
 * Transport parameters a client remembers with a ticket and applies to 0-RTT (RFC 9000 §7.4.1; max_datagram_frame_size
 * per RFC 9221 §3). The others (connection IDs, stateless_reset_token, …) differ on every connection by design.
 */
const ZERO_RTT_PARAMETERS = new Set([0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0e, 0x20]);

function readVarint(bytes: Uint8Array, offset: number): [value: number, next: number] | undefined {
  if (offset >= bytes.byteLength) return undefined;
  const length = 1 << (bytes[offset]! >> 6);
  if (offset + length > bytes.byteLength) return undefined;
  let value = bytes[offset]! & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + bytes[offset + i]!;
  return [value, offset + length];
}

/**
 * The digest a ticket keeps of our transport parameters so that 0-RTT is accepted only while the values that bound
 * the client's 0-RTT are unchanged (RFC 9001 §4.6.2). Only the §7.4.1 parameters count: hashing the whole encoding
 * (which carries per-connection CIDs and the stateless reset token) would refuse every 0-RTT attempt. Bytes that are
 * not a transport-parameter list are hashed whole.
 */
export function transportParametersDigest(crypto: CryptoProvider, transportParameters: Uint8Array): Uint8Array {
  const kept: Array<[id: number, entry: Uint8Array]> = [];
  let offset = 0;
  while (offset < transportParameters.byteLength) {
    const id = readVarint(transportParameters, offset);
    const length = id && readVarint(transportParameters, id[1]);
    if (!id || !length || length[1] + length[0] > transportParameters.byteLength) {
      return crypto.hash('sha256', transportParameters);
    }
    const end = length[1] + length[0];
    if (ZERO_RTT_PARAMETERS.has(id[0])) kept.push([id[0], transportParameters.subarray(offset, end)]);
    offset = end;
  }
  kept.sort((a, b) => a[0] - b[0]);
  return crypto.hash('sha256', concatBytes(...kept.map(([, entry]) => entry)));
}
