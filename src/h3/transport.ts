/**
 * What HTTP/3 needs from QUIC: the subset of src/quic's QuicConnection the engine calls, and the QUIC events it reads.
 * The engine depends on this interface only, so it runs over the real QUIC engine or over an in-memory pair of fake
 * transports in tests. Stream ids follow RFC 9000 §2.1: the two low bits are initiator (0 client, 1 server) and
 * direction (0 bidirectional, 2 unidirectional).
 */
export interface H3Transport {
  /** Opens a locally initiated stream; returns its id. */
  openStream(unidirectional: boolean): number;
  /** Queues bytes (and optionally FIN). Returns false above the stream's high-water mark: wait for 'streamWritable'. */
  sendStreamData(streamId: number, data: Uint8Array, end: boolean): boolean;
  /** Returns `bytes` of received stream data to flow control (application-driven, RFC 9000 §4). */
  consume(streamId: number, bytes: number): void;
  resetStream(streamId: number, code: number): void;
  stopSending(streamId: number, code: number): void;
  /** CONNECTION_CLOSE; `application` true for HTTP/3 codes (frame type 0x1d, RFC 9000 §19.19). */
  close(code: number, reason: string, application: boolean): void;
}

/**
 * The QUIC events HTTP/3 acts on; others (whatever else the transport reports) are ignored. The engine keeps
 * `streamData.data` without copying (partial frames, field sections waiting for QPACK inserts, DATA views handed to
 * the application): a transport must not reuse or modify those arrays after delivering them.
 */
export type TransportEvent =
  | { type: 'handshakeComplete'; alpn: string; serverName?: string; resumed: boolean }
  | { type: 'streamOpened'; streamId: number }
  | { type: 'streamData'; streamId: number; data: Uint8Array; end: boolean }
  | { type: 'streamReset'; streamId: number; code: number; finalSize: number }
  | { type: 'stopSending'; streamId: number; code: number }
  | { type: 'streamWritable'; streamId: number }
  | { type: 'connectionTerminated'; code: number; reason: string; application: boolean; byPeer: boolean };

/** RFC 9000 §2.1 stream id helpers. */
export const isClientInitiated = (streamId: number): boolean => (streamId & 1) === 0;
export const isUnidirectional = (streamId: number): boolean => (streamId & 2) !== 0;
export const isClientBidirectional = (streamId: number): boolean => streamId % 4 === 0;
