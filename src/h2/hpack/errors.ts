/**
 * Any malformed header block (RFC 7541 §4–§6 violation). HPACK state is shared by the whole connection, so the
 * connection MUST treat it as a connection error of type COMPRESSION_ERROR (RFC 9113 §4.3).
 */
export class HpackError extends Error {
  override name = 'HpackError';
}
