/**
 * HTTP/3 and QPACK error codes (RFC 9114 §8.1, RFC 9204 §6, RFC 9297 §5.2) and the exceptions that carry them
 * inside the engine. Every protocol violation ends up as one of these codes on the wire: a connection error
 * (CONNECTION_CLOSE with an application code) or a stream error (RESET_STREAM + STOP_SENDING).
 */
export const H3ErrorCode = {
  H3_NO_ERROR: 0x0100,
  H3_GENERAL_PROTOCOL_ERROR: 0x0101,
  H3_INTERNAL_ERROR: 0x0102,
  H3_STREAM_CREATION_ERROR: 0x0103,
  H3_CLOSED_CRITICAL_STREAM: 0x0104,
  H3_FRAME_UNEXPECTED: 0x0105,
  H3_FRAME_ERROR: 0x0106,
  H3_EXCESSIVE_LOAD: 0x0107,
  H3_ID_ERROR: 0x0108,
  H3_SETTINGS_ERROR: 0x0109,
  H3_MISSING_SETTINGS: 0x010a,
  H3_REQUEST_REJECTED: 0x010b,
  H3_REQUEST_CANCELLED: 0x010c,
  H3_REQUEST_INCOMPLETE: 0x010d,
  H3_MESSAGE_ERROR: 0x010e,
  H3_CONNECT_ERROR: 0x010f,
  H3_VERSION_FALLBACK: 0x0110,
  QPACK_DECOMPRESSION_FAILED: 0x0200,
  QPACK_ENCODER_STREAM_ERROR: 0x0201,
  QPACK_DECODER_STREAM_ERROR: 0x0202,
  H3_DATAGRAM_ERROR: 0x33,
} as const;
export type H3ErrorCodeName = keyof typeof H3ErrorCode;

const CODE_NAMES = new Map<number, string>(Object.entries(H3ErrorCode).map(([name, code]) => [code, name]));

/** "H3_FRAME_UNEXPECTED", or "0x1f2a" for codes we do not know (including the reserved 0x1f * N + 0x21 ones). */
export function h3ErrorCodeName(code: number): string {
  return CODE_NAMES.get(code) ?? `0x${code.toString(16)}`;
}

/**
 * A violation detected while parsing: `code` is the error code the RFC assigns to it. Whether it ends the stream or the
 * connection is decided where it is caught (QPACK errors and control-stream errors always end the connection).
 */
export class H3Error extends Error {
  override name = 'H3Error';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A QPACK violation (RFC 9204 §6): always a connection error, since the shared dynamic table can no longer be trusted. */
export class QpackError extends H3Error {
  override name = 'QpackError';
}
