/** RFC 9000 §20.1 transport error codes, and the error that carries one up to the connection. */

export const TransportError = {
  NO_ERROR: 0x00,
  INTERNAL_ERROR: 0x01,
  CONNECTION_REFUSED: 0x02,
  FLOW_CONTROL_ERROR: 0x03,
  STREAM_LIMIT_ERROR: 0x04,
  STREAM_STATE_ERROR: 0x05,
  FINAL_SIZE_ERROR: 0x06,
  FRAME_ENCODING_ERROR: 0x07,
  TRANSPORT_PARAMETER_ERROR: 0x08,
  CONNECTION_ID_LIMIT_ERROR: 0x09,
  PROTOCOL_VIOLATION: 0x0a,
  INVALID_TOKEN: 0x0b,
  APPLICATION_ERROR: 0x0c,
  CRYPTO_BUFFER_EXCEEDED: 0x0d,
  KEY_UPDATE_ERROR: 0x0e,
  AEAD_LIMIT_REACHED: 0x0f,
  NO_VIABLE_PATH: 0x10,
  /** RFC 9000 §20.1: 0x0100-0x01ff carry a TLS alert in the low byte (RFC 9001 §4.8). */
  CRYPTO_ERROR: 0x0100,
} as const;

/**
 * A violation detected while processing peer input; the connection turns it into CONNECTION_CLOSE (type 0x1c) with
 * this code and the type of the frame that triggered it (RFC 9000 §19.19).
 */
export class QuicError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly frameType = 0,
  ) {
    super(reason);
    this.name = 'QuicError';
  }
}
