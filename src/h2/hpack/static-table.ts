/**
 * RFC 7541 Appendix A: the static table (indexes 1..61), plus the lookup maps the encoder uses so a field's
 * best static representation is found with at most two Map lookups and no string concatenation.
 */

/** Flat [name1, value1, name2, value2, ...]; static index i lives at positions 2(i-1) and 2(i-1)+1. */
// prettier-ignore
const STATIC_FIELDS: readonly string[] = [
  ':authority', '', ':method', 'GET', ':method', 'POST', ':path', '/', ':path', '/index.html',
  ':scheme', 'http', ':scheme', 'https', ':status', '200', ':status', '204', ':status', '206',
  ':status', '304', ':status', '400', ':status', '404', ':status', '500', 'accept-charset', '',
  'accept-encoding', 'gzip, deflate', 'accept-language', '', 'accept-ranges', '', 'accept', '',
  'access-control-allow-origin', '', 'age', '', 'allow', '', 'authorization', '', 'cache-control', '',
  'content-disposition', '', 'content-encoding', '', 'content-language', '', 'content-length', '',
  'content-location', '', 'content-range', '', 'content-type', '', 'cookie', '', 'date', '', 'etag', '',
  'expect', '', 'expires', '', 'from', '', 'host', '', 'if-match', '', 'if-modified-since', '',
  'if-none-match', '', 'if-range', '', 'if-unmodified-since', '', 'last-modified', '', 'link', '',
  'location', '', 'max-forwards', '', 'proxy-authenticate', '', 'proxy-authorization', '', 'range', '',
  'referer', '', 'refresh', '', 'retry-after', '', 'server', '', 'set-cookie', '',
  'strict-transport-security', '', 'transfer-encoding', '', 'user-agent', '', 'vary', '', 'via', '',
  'www-authenticate', '',
];

export const STATIC_TABLE_LENGTH = 61;

/** Name of static entry `index` (1-based). The caller has checked 1 <= index <= 61. */
export function staticName(index: number): string {
  return STATIC_FIELDS[2 * index - 2]!;
}

/** Value of static entry `index` (1-based). */
export function staticValue(index: number): string {
  return STATIC_FIELDS[2 * index - 1]!;
}

/** For one name: the lowest static index carrying it, and exact name+value matches. */
export interface StaticNameEntry {
  readonly nameIndex: number;
  readonly values: ReadonlyMap<string, number>;
}

/** name -> { nameIndex, values: value -> index }. Every static entry is an exact match for its value ('' included). */
export const STATIC_LOOKUP: ReadonlyMap<string, StaticNameEntry> = (() => {
  const byName = new Map<string, { nameIndex: number; values: Map<string, number> }>();
  for (let index = 1; index <= STATIC_TABLE_LENGTH; index++) {
    const name = staticName(index);
    let entry = byName.get(name);
    if (entry === undefined) {
      entry = { nameIndex: index, values: new Map() };
      byName.set(name, entry);
    }
    if (!entry.values.has(staticValue(index))) entry.values.set(staticValue(index), index);
  }
  return byName;
})();
