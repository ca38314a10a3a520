/**
 * A minimal HPACK encoder (RFC 7541) for hostile clients: raw literals (never Huffman), indexed references and
 * dynamic table size updates, written by hand so the attack suite can build blocks no real encoder would emit.
 */

/** RFC 7541 §5.1: an integer with an N-bit prefix; `high` holds the representation's leading bits. */
export function integer(value: number, prefixBits: number, high: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [high | value];
  const out = [high | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** RFC 7541 §5.2: a string literal without Huffman coding. */
function stringLiteral(text: string): number[] {
  const bytes = Buffer.from(text, 'latin1');
  return [...integer(bytes.length, 7, 0x00), ...bytes];
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
