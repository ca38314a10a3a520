/**
 * A minimal HPACK encoder (RFC 7541) for hostile clients: raw literals (never Huffman), indexed references and
 * dynamic table size updates, written by hand so the attack suite can build blocks no real encoder would emit.
 */

import { hpackInteger as integer, hpackRawString } from '../../support/h2-wire-constants.js';

export { integer };

/** RFC 7541 §5.2: a string literal without Huffman coding. */
function stringLiteral(text: string): number[] {
  return hpackRawString(Buffer.from(text, 'latin1'));
}

/** RFC 7541 §6.2.2: literal header field without indexing, new name. */
export function literal(name: string, value: string): number[] {
  return [0x00, ...stringLiteral(name), ...stringLiteral(value)];
}

/** RFC 7541 §6.2.1: literal header field with incremental indexing, new name (enters the dynamic table). */
export function literalIndexed(name: string, value: string): number[] {
  return [0x40, ...stringLiteral(name), ...stringLiteral(value)];
}

/** RFC 7541 §6.1: indexed header field (static 1..61, dynamic 62..). */
export function indexed(index: number): number[] {
  return integer(index, 7, 0x80);
}

/** RFC 7541 §6.3: dynamic table size update. */
export function tableSizeUpdate(size: number): number[] {
  return integer(size, 5, 0x20);
}

/** A GET-style request block made only of literals: nothing in it depends on the encoder's table state. */
export function requestBlock(
  options: { method?: string; path?: string; authority?: string; headers?: [string, string][] } = {},
): Buffer {
  const fields: number[] = [
    ...literal(':method', options.method ?? 'GET'),
    ...literal(':scheme', 'https'),
    ...literal(':authority', options.authority ?? 'localhost'),
    ...literal(':path', options.path ?? '/'),
  ];
  for (const [name, value] of options.headers ?? []) fields.push(...literal(name, value));
  return Buffer.from(fields);
}
