/**
 * HPACK: header compression for HTTP/2 (RFC 7541). Sans-IO, no runtime dependencies.
 *
 * Header lists are flat arrays [name0, value0, name1, value1, ...]; names and values are "byte strings" (one char per
 * octet, codes 0..255), so arbitrary octets survive a round trip and fetch's Headers accepts them.
 *
 *   const encoder = new HpackEncoder();
 *   const decoder = new HpackDecoder({ maxHeaderListSize: 65536 });
 *   const block = encoder.encode([':status', '200', 'content-type', 'text/plain']);
 *   decoder.decode(block); // [':status', '200', 'content-type', 'text/plain']
 *
 * Errors: HpackDecoder.decode throws HpackError for any malformed block; the connection must answer with a
 * connection error of type COMPRESSION_ERROR (RFC 9113 §4.3), since the shared table can no longer be trusted.
 */
export { HpackError } from './errors.js';
export { HpackDecoder, type HpackDecoderOptions } from './decoder.js';
export { HpackEncoder, type HpackEncoderOptions } from './encoder.js';
