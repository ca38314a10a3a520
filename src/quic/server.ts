/**
 * Server-side demultiplexing (sans-IO): which connection a datagram belongs to, and the stateless answers a server
 * gives without creating state — Version Negotiation (RFC 9000 §6.1), Retry with an AEAD-sealed token (§8.1.2),
 * Stateless Reset (§10.3). A UDP driver calls receiveDatagram() for every datagram, sends `reply` results back to
 * the source, drives returned connections, and passes each connection's events through observe() so that routing
 * follows the connection IDs it issues and retires.
 */
import { BufferReader, BufferWriter, toHex } from './buffer.js';
import { QuicConnection } from './connection.js';
import type { CryptoProvider } from './crypto.js';
import { DEFAULT_QUIC_LIMITS } from './limits.js';
import type { QuicLimits } from './limits.js';
import { encodeRetry, encodeVersionNegotiation, MIN_INITIAL_DATAGRAM, parsePacketHeader, peekDestinationCid, QUIC_VERSION_1 } from './packet.js';
import type { QuicTls } from './tls-interface.js';
import type { PacketTrace, PathAddress, QuicEvent } from './types.js';

export interface QuicServerOptions {
  crypto: CryptoProvider;
  /** A TLS 1.3 server per connection, given our encoded transport parameters. */
  tls: (localTransportParameters: Uint8Array) => QuicTls;
  limits?: Partial<QuicLimits>;
  /** Length of the connection IDs we issue (short-header packets are parsed with it). Default 8. */
  connectionIdLength?: number;
  /** 'auto' (default): Retry only once retryThreshold handshakes are in progress; 'always'; 'never'. */
  retry?: 'auto' | 'always' | 'never';
  /**
   * Secret (≥ 16 bytes) that seals Retry tokens and derives stateless reset tokens. Give the same key to every
   * process of a deployment (and across restarts) so tokens and resets stay valid; random when omitted.
   */
  staticKey?: Uint8Array;
  keyLog?: (line: string) => void;
  congestionControl?: 'newreno' | 'cubic';
  /** A packet trace of every connection (QuicConnectionOptions.onPacket). */
  onPacket?: (connection: QuicConnection, packet: PacketTrace) => void;
}

export type DemuxResult =
  | { kind: 'connection'; connection: QuicConnection; created: boolean }
  | { kind: 'reply'; data: Uint8Array; reason: 'versionNegotiation' | 'retry' | 'statelessReset' }
  | { kind: 'drop'; reason: string };

interface Tracked {
  readonly connection: QuicConnection;
  readonly addressKey: string;
  readonly routes: Set<string>;
  handshaking: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** RFC 9000 §15: versions of the form 0x?a?a?a?a are reserved for greasing Version Negotiation. */
const GREASE_VERSION = 0x1a2a3a4a;
/** RFC 9000 §10.3: the smallest packet that can look like a short-header packet carrying a token. */
const MIN_STATELESS_RESET = 21;

export class QuicServerDemux {
  private readonly crypto: CryptoProvider;
  private readonly limits: QuicLimits;
  private readonly cidLength: number;
  private readonly staticKey: Uint8Array;
  private readonly tokenKey: Uint8Array;
  private readonly routes = new Map<string, Tracked>();
  private readonly tracked = new Map<QuicConnection, Tracked>();
  private readonly handshakesByAddress = new Map<string, number>();
  private handshakes = 0;

  constructor(private readonly options: QuicServerOptions) {
    this.crypto = options.crypto;
    this.limits = { ...DEFAULT_QUIC_LIMITS, ...options.limits };
    this.cidLength = options.connectionIdLength ?? 8;
    this.staticKey = options.staticKey ?? this.crypto.randomBytes(32);
    this.tokenKey = this.crypto.hmac('sha256', this.staticKey, encoder.encode('quic retry token key')).subarray(0, 16);
  }

  get connectionCount(): number {
    return this.tracked.size;
  }
  get handshakesInProgress(): number {
    return this.handshakes;
  }

  /** RFC 9000 §10.3.2: a stateless reset token that any process holding the static key can recompute. */
  statelessResetToken(connectionId: Uint8Array): Uint8Array {
    const input = new Uint8Array(6 + connectionId.byteLength);
    input.set(encoder.encode('reset:'));
    input.set(connectionId, 6);
    return this.crypto.hmac('sha256', this.staticKey, input).subarray(0, 16);
  }

  receiveDatagram(data: Uint8Array, remote: PathAddress, now: number): DemuxResult {
    const dcid = peekDestinationCid(data, this.cidLength);
    if (dcid === undefined) return { kind: 'drop', reason: 'unparseable' };
    const known = this.routes.get(toHex(dcid));
    if (known) {
      known.connection.receiveDatagram(data, remote, now);
      return { kind: 'connection', connection: known.connection, created: false };
    }
    if ((data[0]! & 0x80) === 0) return this.statelessReset(data, dcid);
    return this.newConnection(data, remote, now);
  }

  private newConnection(data: Uint8Array, remote: PathAddress, now: number): DemuxResult {
    if (data.byteLength < 5) return { kind: 'drop', reason: 'unparseable' };
    const version = new BufferReader(data, 1).uint32();
    if (version !== QUIC_VERSION_1) {
      // RFC 9000 §6.1/§14.1: Version Negotiation only in answer to a datagram a client Initial could be (≥ 1200).
      if (version === 0 || data.byteLength < MIN_INITIAL_DATAGRAM) return { kind: 'drop', reason: 'unsupported version' };
      let header;
      try {
        header = parsePacketHeader(data, 0, this.cidLength);
      } catch {
        return { kind: 'drop', reason: 'unparseable' };
      }
      const unused = this.crypto.randomBytes(1)[0]!;
      const reply = encodeVersionNegotiation(header.sourceCid, header.destinationCid, [QUIC_VERSION_1, GREASE_VERSION], unused);
      return { kind: 'reply', data: reply, reason: 'versionNegotiation' };
    }
    let header;
    try {
      header = parsePacketHeader(data, 0, this.cidLength);
    } catch {
      return { kind: 'drop', reason: 'unparseable' };
    }
    // RFC 9000 §14.1: a server must drop an Initial in a datagram smaller than 1200 bytes.
    if (header.type !== 'initial') return { kind: 'drop', reason: 'not an Initial' };
    if (data.byteLength < MIN_INITIAL_DATAGRAM) return { kind: 'drop', reason: 'Initial datagram below 1200 bytes' };
    // RFC 9000 §7.2: the client's first DCID is at least 8 bytes.
    if (header.destinationCid.byteLength < 8) return { kind: 'drop', reason: 'Initial DCID shorter than 8 bytes' };
    const addressKey = `${remote.address}`;
    if (this.handshakes >= this.limits.maxHandshakes) return { kind: 'drop', reason: 'too many handshakes' };
    if ((this.handshakesByAddress.get(addressKey) ?? 0) >= this.limits.maxHandshakesPerAddress) {
      return { kind: 'drop', reason: 'too many handshakes from this address' };
    }

    let validated: { originalDestinationCid: Uint8Array; retrySourceCid: Uint8Array } | undefined;
    if (header.token.byteLength > 0) {
      validated = this.openRetryToken(header.token, remote, now);
      // The only token we issue is a Retry token, and it must come back with the Retry's CID as DCID.
      if (validated === undefined || toHex(validated.retrySourceCid) !== toHex(header.destinationCid)) {
        return { kind: 'drop', reason: 'invalid token' };
      }
    }
    const retryMode = this.options.retry ?? 'auto';
    const wantRetry = retryMode === 'always' || (retryMode === 'auto' && this.handshakes >= this.limits.retryThreshold);
    if (validated === undefined && wantRetry) {
      const retrySourceCid = this.crypto.randomBytes(this.cidLength);
      const token = this.sealRetryToken(remote, header.destinationCid, retrySourceCid, now);
      const retry = encodeRetry(this.crypto, header.sourceCid, retrySourceCid, header.destinationCid, token, this.crypto.randomBytes(1)[0]!);
      return { kind: 'reply', data: retry, reason: 'retry' };
    }

    const localConnectionId = this.crypto.randomBytes(this.cidLength);
    const onPacket = this.options.onPacket;
    const connection: QuicConnection = new QuicConnection({
      role: 'server',
      crypto: this.crypto,
      tls: this.options.tls,
      remote,
      now,
      limits: this.options.limits,
      connectionIdLength: this.cidLength,
      localConnectionId,
      originalDestinationConnectionId: validated?.originalDestinationCid ?? header.destinationCid.slice(),
      ...(validated ? { retrySourceConnectionId: validated.retrySourceCid, addressValidated: true } : {}),
      statelessResetToken: (cid) => this.statelessResetToken(cid),
      ...(this.options.keyLog ? { keyLog: this.options.keyLog } : {}),
      ...(this.options.congestionControl ? { congestionControl: this.options.congestionControl } : {}),
      ...(onPacket ? { onPacket: (packet: PacketTrace) => onPacket(connection, packet) } : {}),
    });
    const tracked: Tracked = { connection, addressKey, routes: new Set(), handshaking: true };
    this.tracked.set(connection, tracked);
    this.handshakes++;
    this.handshakesByAddress.set(addressKey, (this.handshakesByAddress.get(addressKey) ?? 0) + 1);
    // The client keeps sending Initials to the DCID it chose until it hears from us.
    this.addRoute(tracked, header.destinationCid);
    this.addRoute(tracked, localConnectionId);
    connection.receiveDatagram(data, remote, now);
    if (!connection.hasAuthenticatedPacket) {
      // A forged or corrupted Initial (it failed AEAD under the initial keys): keep no state for it.
      this.endHandshake(tracked);
      for (const key of tracked.routes) this.routes.delete(key);
      this.tracked.delete(connection);
      return { kind: 'drop', reason: 'Initial failed authentication' };
    }
    return { kind: 'connection', connection, created: true };
  }

  /** Keeps routing in step with a connection's events; call with every batch from connection.pollEvents(). */
  observe(connection: QuicConnection, events: readonly QuicEvent[]): void {
    const tracked = this.tracked.get(connection);
    if (tracked === undefined) return;
    for (const event of events) {
      if (event.type === 'connectionIdIssued') this.addRoute(tracked, event.connectionId);
      else if (event.type === 'connectionIdRetired') {
        const key = toHex(event.connectionId);
        tracked.routes.delete(key);
        this.routes.delete(key);
      } else if (event.type === 'handshakeComplete' || event.type === 'connectionTerminated') this.endHandshake(tracked);
    }
  }

  /** Forgets closed connections (isClosed) and returns them. */
  sweep(): QuicConnection[] {
    const removed: QuicConnection[] = [];
    for (const tracked of this.tracked.values()) {
      if (!tracked.connection.isClosed) continue;
      this.endHandshake(tracked);
      for (const key of tracked.routes) this.routes.delete(key);
      this.tracked.delete(tracked.connection);
      removed.push(tracked.connection);
    }
    return removed;
  }

  private addRoute(tracked: Tracked, cid: Uint8Array): void {
    const key = toHex(cid);
    tracked.routes.add(key);
    this.routes.set(key, tracked);
  }

  private endHandshake(tracked: Tracked): void {
    if (!tracked.handshaking) return;
    tracked.handshaking = false;
    this.handshakes--;
    const count = (this.handshakesByAddress.get(tracked.addressKey) ?? 1) - 1;
    if (count <= 0) this.handshakesByAddress.delete(tracked.addressKey);
    else this.handshakesByAddress.set(tracked.addressKey, count);
  }

  /**
   * RFC 9000 §10.3: an unknown short-header packet gets a Stateless Reset: random bytes that look like a short
   * header, ending in the token for its DCID. Always shorter than what triggered it (§10.3.3: no reset loops, no
   * amplification).
   */
  private statelessReset(data: Uint8Array, dcid: Uint8Array): DemuxResult {
    if (data.byteLength <= MIN_STATELESS_RESET) return { kind: 'drop', reason: 'too short to answer with a stateless reset' };
    const length = Math.max(MIN_STATELESS_RESET, Math.min(data.byteLength - 1, 43));
    const reset = this.crypto.randomBytes(length);
    reset[0] = 0x40 | (reset[0]! & 0x3f);
    reset.set(this.statelessResetToken(dcid), length - 16);
    return { kind: 'reply', data: reset, reason: 'statelessReset' };
  }

  /** Token = nonce ‖ AES-128-GCM(time, ODCID, Retry SCID, client address). */
  private sealRetryToken(remote: PathAddress, originalDestinationCid: Uint8Array, retrySourceCid: Uint8Array, now: number): Uint8Array {
    const plain = new BufferWriter(64);
    const issued = Math.floor(now);
    plain.uint32(Math.floor(issued / 2 ** 32)).uint32(issued % 2 ** 32);
    plain.uint8(originalDestinationCid.byteLength).raw(originalDestinationCid);
    plain.uint8(retrySourceCid.byteLength).raw(retrySourceCid);
    plain.raw(encoder.encode(`${remote.address}|${remote.port}`));
    const nonce = this.crypto.randomBytes(12);
    const sealed = this.crypto.aead('aes-128-gcm', this.tokenKey).seal(nonce, encoder.encode('retry'), plain.finish());
    const token = new Uint8Array(12 + sealed.byteLength);
    token.set(nonce);
    token.set(sealed, 12);
    return token;
  }

  private openRetryToken(token: Uint8Array, remote: PathAddress, now: number): { originalDestinationCid: Uint8Array; retrySourceCid: Uint8Array } | undefined {
    if (token.byteLength < 12 + 16 + 10) return undefined;
    const plain = this.crypto.aead('aes-128-gcm', this.tokenKey).open(token.subarray(0, 12), encoder.encode('retry'), token.subarray(12));
    if (plain === null) return undefined;
    try {
      const reader = new BufferReader(plain);
      const issued = reader.uint32() * 2 ** 32 + reader.uint32();
      const originalDestinationCid = reader.bytesView(reader.uint8()).slice();
      const retrySourceCid = reader.bytesView(reader.uint8()).slice();
      const address = decoder.decode(reader.bytesView(reader.remaining));
      if (address !== `${remote.address}|${remote.port}`) return undefined;
      if (now - issued > this.limits.retryTokenLifetime || issued - now > 1000) return undefined;
      return { originalDestinationCid, retrySourceCid };
    } catch {
      return undefined;
    }
  }
}
