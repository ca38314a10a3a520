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
