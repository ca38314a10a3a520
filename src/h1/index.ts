/**
 * httpsd/h1: a sans-IO HTTP/1.1 server engine (RFC 9112). No I/O and no `node:` imports: feed bytes to
 * receive(), act on the events, write what dataToSend() returns.
 */
export * from './types.js';
export { H1Connection, FramingError } from './connection.js';
export { DEFAULT_H1_LIMITS } from './limits.js';
export { reasonPhrase } from './status.js';
export { isToken, isFieldValue } from './fields.js';
