/** Public types of the QUIC engine: options, events, addresses. */
import type { CryptoProvider } from './crypto.js';
import type { QuicLimits } from './limits.js';
import type { QuicTls } from './tls-interface.js';
import type { Frame } from './frames.js';

/** A UDP peer address. Two addresses are the same path when both fields are equal. */
export interface PathAddress {
  readonly address: string;
  readonly port: number;
}

export function sameAddress(a: PathAddress, b: PathAddress): boolean {
  return a.address === b.address && a.port === b.port;
}

export interface QuicConnectionOptions {
  role: 'client' | 'server';
  crypto: CryptoProvider;
  /**
   * The TLS 1.3 engine. A factory receives our encoded transport parameters (RFC 9000 §18, which TLS carries in its
   * quic_transport_parameters extension) — use it when TLS needs them at construction (TlsServerConfig does).
   */
  tls: QuicTls | ((localTransportParameters: Uint8Array) => QuicTls);
  /** The peer's address (client: the server; server: where the first Initial came from). */
  remote: PathAddress;
  /** The current time in ms; every later call passes its own `now` on the same clock. */
  now: number;
  limits?: Partial<QuicLimits>;
  /** Our first Source Connection ID. Server: chosen by the demux; client: random when omitted. */
  localConnectionId?: Uint8Array;
  /** Length of the connection IDs we issue (short headers carry them without a length; the demux parses with it). Default 8. */
  connectionIdLength?: number;
  /**
   * Client: the Destination Connection ID of its first Initial (random 8 bytes when omitted). Server: the client's
   * first DCID (original_destination_connection_id, RFC 9000 §7.3); after a Retry, the one recovered from the token.
   */
  originalDestinationConnectionId?: Uint8Array;
  /** Server after a Retry: the Source Connection ID it put in the Retry (retry_source_connection_id). */
  retrySourceConnectionId?: Uint8Array;
  /** Server: the client proved its address with a Retry token (RFC 9000 §8.1.2), so no amplification limit. */
  addressValidated?: boolean;
  /** Client: a token from a Retry or NEW_TOKEN to put in Initials. */
  token?: Uint8Array;
  /** Stateless reset token for a CID we issue (RFC 9000 §10.3.2: the demux derives them from a static key). Random when omitted. */
  statelessResetToken?: (connectionId: Uint8Array) => Uint8Array;
  /** Client: a TLS session ticket to keep for resumption / 0-RTT on a later connection (TlsClientConfig.sessionTicket). */
  sessionTicket?: (ticket: Uint8Array) => void;
  /** Congestion controller: RFC 9002 NewReno (default) or RFC 9438 CUBIC. */
  congestionControl?: 'newreno' | 'cubic';
  /** NSS key-log lines from TLS (SSLKEYLOGFILE format), for Wireshark and the interop runner. */
  keyLog?: (line: string) => void;
  /** Every packet sent, and every packet received and authenticated, with its frames (a packet trace). */
  onPacket?: (packet: PacketTrace) => void;
}

/** One packet for a trace: sent packets are decoded from their plaintext, so leave onPacket unset when not tracing. */
export interface PacketTrace {
  direction: 'in' | 'out';
  type: 'initial' | 'handshake' | 'zeroRtt' | 'oneRtt';
  packetNumber: number;
  /** Bytes on the wire, header and AEAD tag included. */
  size: number;
  frames: Frame[];
  /** A PMTU probe (RFC 9000 §14.4: PING + PADDING testing whether the path carries datagrams of `size` bytes). */
  pmtuProbe?: boolean;
}

export type QuicEvent =
  /** `cipher`: the negotiated TLS 1.3 suite's IANA name (e.g. TLS_AES_128_GCM_SHA256). */
  | { type: 'handshakeComplete'; alpn: string; serverName?: string; resumed: boolean; cipher?: string }
  | { type: 'streamOpened'; streamId: number }
  | { type: 'streamData'; streamId: number; data: Uint8Array; end: boolean }
  | { type: 'streamReset'; streamId: number; code: number; finalSize: number }
  | { type: 'stopSending'; streamId: number; code: number }
  | { type: 'streamWritable'; streamId: number }
  | { type: 'connectionIdIssued'; connectionId: Uint8Array }
  | { type: 'connectionIdRetired'; connectionId: Uint8Array }
  | { type: 'connectionTerminated'; code: number; reason: string; application: boolean; byPeer: boolean };
