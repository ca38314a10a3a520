/**
 * The test wire kit: HTTP/2 frames and HPACK written from RFC 9113 and RFC 7541, independent of the engine under test
 * (src/h2). Used by the conformance suite (test/conformance) and the attack suite (test/attacks).
 */
export * from './bytes.js';
export * from './constants.js';
export * from './frames.js';
export * from './hpack.js';
export { HUFFMAN_CODES, STATIC_TABLE } from './hpack-tables.js';
