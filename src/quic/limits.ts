/**
 * Resource limits of the QUIC engine and its server demux, in one object. Each field says which attack it bounds
 * and where the number comes from. Exceeding a per-connection limit closes that connection with the RFC 9000 error
 * code named beside the field; demux limits drop or Retry packets instead of creating state.
 */
export interface QuicLimits {
  /**
   * Largest UDP payload we send, and the max_udp_payload_size we advertise (RFC 9000 §18.2). Every connection starts
   * at 1200 (RFC 9000 §14: every QUIC path carries it); once the handshake is confirmed, PMTU discovery (RFC 8899
   * DPLPMTUD, src/quic/pmtud.ts) probes up to this size, also bounded by the peer's max_udp_payload_size. 1452 is
   * what a 1500-byte Ethernet path carries over IPv6 (1500 − 40 − 8), as quic-go probes; 1200 turns probing off.
   * Values below 1200 count as 1200.
   */
  maxDatagramSize: number;
  /** Our max_idle_timeout (ms, RFC 9000 §10.1): a silent peer holds state at most this long. aioquic 60 s, quic-go 30 s. */
  idleTimeout: number;
  /**
   * Idle timeout (ms) before the handshake completes: a client that sends one Initial and goes silent (an Initial
   * flood, spoofed or not) otherwise holds a connection, its TLS state and a handshake slot for the whole idleTimeout.
   * quic-go's HandshakeIdleTimeout is 5 s. Restarted by every packet received, like idleTimeout, so a slow handshake
   * over a lossy path that still makes progress completes; closed silently (RFC 9000 §10.1: there is no one to tell).
   */
  handshakeTimeout: number;
  /**
   * Initial connection receive window (initial_max_data), and the window it may auto-tune up to. A peer can make us
   * buffer at most the connection window of out-of-order stream data (RFC 9000 §4.1), so maxConnectionWindow is
   * also the bound on reassembly memory. quic-go: 512 KiB initial, 15 MiB max.
   */
  initialConnectionWindow: number;
  maxConnectionWindow: number;
  /** Same per stream (initial_max_stream_data_*): quic-go 512 KiB initial, 6 MiB max. */
  initialStreamWindow: number;
  maxStreamWindow: number;
  /**
   * Concurrent peer-opened streams (initial_max_streams_*); raised with MAX_STREAMS as streams close (RFC 9000 §4.6),
   * so the count of *live* streams, not the total, is bounded. The interop "multiplexing" case needs ≤ 1000.
   */
  maxStreamsBidi: number;
  maxStreamsUni: number;
  /** Unsent bytes buffered per stream before sendStreamData() returns false (backpressure, not a hard cap). */
  streamSendHighWater: number;
  /**
   * Out-of-order CRYPTO bytes buffered per encryption level beyond what TLS consumed: CRYPTO frames are not flow
   * controlled, so without this a peer could make us buffer unbounded handshake data (RFC 9000 §7.5 → CRYPTO_BUFFER_EXCEEDED).
   * 64 KiB covers a large certificate chain; quic-go uses 16 KiB... ×4 for post-handshake messages.
   */
  maxCryptoBuffer: number;
  /**
   * Received packet-number ranges remembered for ACKs and duplicate detection (RFC 9000 §13.2.3): a peer that
   * skips every other packet number would otherwise grow the set without limit. Older ranges are forgotten (and
   * packets below them treated as duplicates).
   */
  maxAckRanges: number;
  /** Our active_connection_id_limit (peer CIDs we store, RFC 9000 §5.1.1 → CONNECTION_ID_LIMIT_ERROR above it). */
  activeConnectionIdLimit: number;
  /**
   * Connection IDs we issue over the connection's life, counting replacements for retired ones: a peer that retires
   * CIDs in a loop would make us mint (and the demux index) new ones forever. After this many we stop replacing.
   */
  maxIssuedConnectionIds: number;
  /** RETIRE_CONNECTION_ID frames we owe but the peer has not acknowledged (RFC 9000 §5.1.2 → CONNECTION_ID_LIMIT_ERROR). */
  maxPendingRetirements: number;
  /** Demux: handshakes in progress from one source address; more Initials from it are dropped (handshake flood). */
  maxHandshakesPerAddress: number;
  /**
   * Demux: handshakes in progress in total before new clients must prove their address with a Retry round trip
   * (RFC 9000 §8.1.2): Initial floods from spoofed addresses then cost us one stateless packet each, no state.
   */
  retryThreshold: number;
  /** Demux: hard cap on handshakes in progress; Initials beyond it are dropped even with a valid token. */
  maxHandshakes: number;
  /** Demux: how long a Retry token stays valid (ms). */
  retryTokenLifetime: number;
  /**
   * Anti-amplification factor before the peer's address is validated (RFC 9000 §8.1: at most 3× the bytes
   * received). Fixed by the RFC; kept here so tests and the docs name it.
   */
  amplificationFactor: number;
  /** Our max_ack_delay (ms, RFC 9000 §18.2 default 25). */
  maxAckDelay: number;
  /** Ack-eliciting packets received before an ACK is sent at once (RFC 9000 §13.2.2 recommends 2). */
  ackElicitingThreshold: number;
}

export const DEFAULT_QUIC_LIMITS: Readonly<QuicLimits> = Object.freeze({
  maxDatagramSize: 1452,
  idleTimeout: 30_000,
  handshakeTimeout: 10_000,
  initialConnectionWindow: 1024 * 1024,
  maxConnectionWindow: 16 * 1024 * 1024,
  initialStreamWindow: 512 * 1024,
  maxStreamWindow: 6 * 1024 * 1024,
  maxStreamsBidi: 100,
  maxStreamsUni: 100,
  streamSendHighWater: 256 * 1024,
  maxCryptoBuffer: 64 * 1024,
  maxAckRanges: 64,
  activeConnectionIdLimit: 4,
  maxIssuedConnectionIds: 64,
  maxPendingRetirements: 16,
  maxHandshakesPerAddress: 16,
  retryThreshold: 100,
  maxHandshakes: 1000,
  retryTokenLifetime: 10_000,
  amplificationFactor: 3,
  maxAckDelay: 25,
  ackElicitingThreshold: 2,
});
