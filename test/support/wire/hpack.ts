/**
 * HPACK for the test suites (RFC 7541), written from the RFC and sharing no code with the engine: an encoder for
 * every representation (integers, raw and Huffman strings, indexed fields, literals, size updates: including blocks
 * no real encoder would emit), a scanner of a block's representations, and a strict decoder for the header blocks a
 * server writes (throws on any violation).
 */
import { type Bytes, bytes, latin1 } from './bytes.js';
import { HUFFMAN_CODES, STATIC_TABLE } from './hpack-tables.js';

/** RFC 7541 §5.1: an integer with an N-bit prefix; `high` holds the representation's leading bits. */
export function hpackInteger(value: number, prefixBits: number, high = 0): number[] {
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

/** The integer encoder under the short name the conformance tests use. */
export const hpackInt = hpackInteger;

/** RFC 7541 §5.2: a string literal of these octets without Huffman coding. */
export function hpackRawString(octets: ArrayLike<number>): number[] {
  return [...hpackInteger(octets.length, 7, 0x00), ...Array.from(octets)];
}

export function huffmanEncode(input: Bytes): number[] {
  const data = bytes(input);
  const out: number[] = [];
  let acc = 0n;
  let bits = 0;
  for (const b of data) {
    const [code, length] = HUFFMAN_CODES[b]!;
    acc = (acc << BigInt(length)) | BigInt(code);
    bits += length;
    while (bits >= 8) {
      bits -= 8;
      out.push(Number((acc >> BigInt(bits)) & 0xffn));
    }
    acc &= (1n << BigInt(bits)) - 1n;
  }
  // RFC 7541 §5.2: pad with the most significant bits of EOS (all ones).
  if (bits > 0) out.push(Number(((acc << BigInt(8 - bits)) | ((1n << BigInt(8 - bits)) - 1n)) & 0xffn));
  return out;
}

export function hpackString(input: Bytes, huffman = false): number[] {
  if (!huffman) return hpackRawString(bytes(input));
  const data = huffmanEncode(input);
  return [...hpackInt(data.length, 7, 0x80), ...data];
}

export const hp = {
  /** §6.1 Indexed Header Field. */
  indexed: (index: number): number[] => hpackInt(index, 7, 0x80),
  /** §6.2.1 Literal with Incremental Indexing — new name. */
  incremental: (name: string, value: string): number[] => [0x40, ...hpackString(name), ...hpackString(value)],
  /** §6.2.1 Literal with Incremental Indexing — indexed name. */
  incrementalIndexedName: (nameIndex: number, value: string): number[] => [...hpackInt(nameIndex, 6, 0x40), ...hpackString(value)],
  /** §6.2.2 Literal without Indexing — new name. */
  literal: (name: Bytes, value: Bytes, huffman = false): number[] => [0x00, ...hpackString(name, huffman), ...hpackString(value, huffman)],
  /** §6.2.2 Literal without Indexing — indexed name. */
  literalIndexedName: (nameIndex: number, value: Bytes): number[] => [...hpackInt(nameIndex, 4, 0x00), ...hpackString(value)],
  /** §6.2.3 Literal Never Indexed — new name. */
  neverIndexed: (name: string, value: string): number[] => [0x10, ...hpackString(name), ...hpackString(value)],
  /** §6.3 Dynamic Table Size Update. */
  sizeUpdate: (size: number): number[] => hpackInt(size, 5, 0x20),
};

/** An RFC 7541 §6 field representation, as named by its leading bits. */
export type HpackRepresentation = 'indexed' | 'incremental' | 'sizeUpdate' | 'withoutIndexing' | 'neverIndexed';

/**
 * The representations of a header block in order (no padding or priority fields), read from the leading bits only:
 * 1xxxxxxx indexed (§6.1), 01xxxxxx incremental indexing (§6.2.1), 001xxxxx table size update (§6.3),
 * 0000xxxx without indexing (§6.2.2), 0001xxxx never indexed (§6.2.3). Strings are skipped, not decoded.
 */
export function hpackRepresentations(block: Uint8Array): HpackRepresentation[] {
  const kinds: HpackRepresentation[] = [];
  let pos = 0;
  const readInt = (prefix: number): number => {
    const max = (1 << prefix) - 1;
    let v = block[pos++]! & max;
    if (v < max) return v;
    let m = 0;
    for (;;) {
      const b = block[pos++]!;
      v += (b & 0x7f) * 2 ** m;
      m += 7;
      if (!(b & 0x80)) return v;
    }
  };
  const skipString = (): void => {
    pos += readInt(7);
  };
  while (pos < block.length) {
    const b = block[pos]!;
    if (b & 0x80) {
      kinds.push('indexed');
      readInt(7);
    } else if ((b & 0xc0) === 0x40) {
      kinds.push('incremental');
      if (readInt(6) === 0) skipString();
      skipString();
    } else if ((b & 0xe0) === 0x20) {
      kinds.push('sizeUpdate');
      readInt(5);
    } else {
      kinds.push((b & 0xf0) === 0x10 ? 'neverIndexed' : 'withoutIndexing');
      if (readInt(4) === 0) skipString();
      skipString();
    }
  }
  return kinds;
}

/** A flat [name, value, ...] list as literal-without-indexing representations (no Huffman, no table state). */
export function encodeFields(fields: readonly string[]): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < fields.length; i += 2) out.push(...hp.literal(fields[i]!, fields[i + 1]!));
  return Uint8Array.from(out);
}

// Decoding (RFC 7541 §3–§6).

interface HuffNode {
  children: [HuffNode | undefined, HuffNode | undefined];
  symbol: number;
}
let huffmanRoot: HuffNode | undefined;
function huffmanTree(): HuffNode {
  if (huffmanRoot) return huffmanRoot;
  const root: HuffNode = { children: [undefined, undefined], symbol: -1 };
  HUFFMAN_CODES.forEach(([code, length], symbol) => {
    let node = root;
    for (let bit = length - 1; bit >= 0; bit--) {
      const b = (code >>> bit) & 1;
      node.children[b] ??= { children: [undefined, undefined], symbol: -1 };
      node = node.children[b]!;
    }
    node.symbol = symbol;
  });
  return (huffmanRoot = root);
}

export function huffmanDecode(data: Uint8Array): Uint8Array {
  const root = huffmanTree();
  const out: number[] = [];
  let node = root;
  let depth = 0;
  let allOnes = true;
  for (const byte of data) {
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >>> bit) & 1;
      node = node.children[b]!;
      depth++;
      allOnes &&= b === 1;
      if (!node) throw new Error('huffman: invalid code');
      if (node.symbol >= 0) {
        if (node.symbol === 256) throw new Error('huffman: EOS in string');
        out.push(node.symbol);
        node = root;
        depth = 0;
        allOnes = true;
      }
    }
  }
  if (depth > 7 || !allOnes) throw new Error('huffman: invalid padding');
  return Uint8Array.from(out);
}

export class ResponseHpackDecoder {
  private table: Array<[string, string]> = [];
  private size = 0;
  /** Set when our SETTINGS_HEADER_TABLE_SIZE went below the encoder's current size: the next block must shrink it. */
  private updateRequired = false;
  /** RFC 7541 §4.2: the smallest limit since the last block, which the first size update must not exceed. */
  private smallestLimit = Infinity;
  constructor(
    public maxSize = 4096,
    private limit = 4096,
  ) {}

  /** RFC 7541 §4.2: after a lower SETTINGS_HEADER_TABLE_SIZE is acknowledged, the next block starts with a size update. */
  lowerLimit(limit: number): void {
    this.limit = limit;
    this.smallestLimit = Math.min(this.smallestLimit, limit);
    if (this.maxSize > limit) this.updateRequired = true;
  }

  /** Our SETTINGS_HEADER_TABLE_SIZE changed: a larger limit lets the encoder grow the table (with a size update). */
  setLimit(limit: number): void {
    if (limit < this.limit) this.lowerLimit(limit);
    else this.limit = limit;
  }

  decode(block: Uint8Array): string[] {
    const out: string[] = [];
    let pos = 0;
    let sawField = false;
    if (this.updateRequired) {
      if (block.length === 0 || (block[0]! & 0xe0) !== 0x20) {
        throw new Error('hpack: RFC 7541 §4.2 the encoder did not signal the smaller dynamic table size');
      }
      let first = block[0]! & 0x1f;
      if (first === 0x1f) {
        let shift = 0;
        for (let i = 1; i < block.length; i++) {
          first += (block[i]! & 0x7f) * 2 ** shift;
          shift += 7;
          if (!(block[i]! & 0x80)) break;
        }
      }
      if (first > this.smallestLimit) throw new Error(`hpack: RFC 7541 §4.2 the first size update (${first}) must signal the smallest size (${this.smallestLimit})`);
    }
    this.updateRequired = false;
    this.smallestLimit = Infinity;
    const readInt = (prefixBits: number): number => {
      if (pos >= block.length) throw new Error('hpack: truncated integer');
      const max = (1 << prefixBits) - 1;
      let value = block[pos++]! & max;
      if (value < max) return value;
      let shift = 0;
      for (;;) {
        if (pos >= block.length) throw new Error('hpack: truncated integer');
        const b = block[pos++]!;
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (shift > 28) throw new Error('hpack: integer overflow');
        if ((b & 0x80) === 0) return value;
      }
    };
    const readString = (): string => {
      if (pos >= block.length) throw new Error('hpack: truncated string');
      const huffman = (block[pos]! & 0x80) !== 0;
      const length = readInt(7);
      if (pos + length > block.length) throw new Error('hpack: string overruns block');
      const raw = block.subarray(pos, pos + length);
      pos += length;
      return latin1(huffman ? huffmanDecode(raw) : raw);
    };
    const lookup = (index: number): [string, string] => {
      if (index === 0) throw new Error('hpack: index 0');
      if (index <= STATIC_TABLE.length) return [...STATIC_TABLE[index - 1]!] as [string, string];
      const entry = this.table[index - STATIC_TABLE.length - 1];
      if (!entry) throw new Error(`hpack: index ${index} out of range`);
      return entry;
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        const [name, value] = lookup(readInt(7));
        out.push(name, value);
        sawField = true;
      } else if ((b & 0xc0) === 0x40) {
        const index = readInt(6);
        const name = index === 0 ? readString() : lookup(index)[0];
        const value = readString();
        this.insert(name, value);
        out.push(name, value);
        sawField = true;
      } else if ((b & 0xe0) === 0x20) {
        if (sawField) throw new Error('hpack: table size update after a field');
        const size = readInt(5);
        if (size > this.limit) throw new Error('hpack: table size update above the limit');
        this.maxSize = size;
        this.evict(0);
      } else {
        const index = readInt(4);
        const name = index === 0 ? readString() : lookup(index)[0];
        out.push(name, readString());
        sawField = true;
      }
    }
    return out;
  }

  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + 32;
    this.evict(entrySize);
    if (entrySize <= this.maxSize) {
      this.table.unshift([name, value]);
      this.size += entrySize;
    }
  }

  private evict(room: number): void {
    while (this.table.length > 0 && this.size + room > this.maxSize) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}
