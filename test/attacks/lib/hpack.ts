/**
 * HPACK for hostile clients: raw literals (never Huffman), indexed references and dynamic table size updates from the
 * test wire kit (test/support/wire), so the attack suite can build blocks no real encoder would emit.
 */
import { hp, hpackInteger } from '../../support/wire/index.js';

export { hpackInteger as integer };

/** RFC 7541 §6.2.2: literal header field without indexing, new name. */
export const literal = (name: string, value: string): number[] => hp.literal(name, value);

/** RFC 7541 §6.2.1: literal header field with incremental indexing, new name (enters the dynamic table). */
export const literalIndexed = (name: string, value: string): number[] => hp.incremental(name, value);

/** RFC 7541 §6.1: indexed header field (static 1..61, dynamic 62..). */
export const indexed = hp.indexed;

/** RFC 7541 §6.3: dynamic table size update. */
export const tableSizeUpdate = hp.sizeUpdate;

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
