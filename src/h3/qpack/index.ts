/**
 * QPACK: field compression for HTTP/3 (RFC 9204). Sans-IO; Huffman and prefix-integer codes shared with HPACK.
 * Field lists are flat arrays [name0, value0, ...] of byte strings (one char per octet).
 */
export { QpackDecoder, type QpackDecoderOptions, type FieldSectionResult, type UnblockedSection } from './decoder.js';
export { QpackEncoder, type QpackEncoderOptions } from './encoder.js';
export { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
export { STATIC_TABLE } from './static-table.js';
