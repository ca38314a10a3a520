/**
 * RFC 7541 §5.2 / Appendix B Huffman coding.
 *
 * Decoding is a table-driven state machine consuming 4 bits at a time (the technique nghttp2 uses): the 256 internal
 * nodes of the code tree are the states, and for each (state, nibble) a precomputed transition says which state comes
 * next, whether a symbol was completed (at most one per nibble: the shortest code has 5 bits), whether EOS was hit, and
 * whether stopping there is valid padding. The table (4096 × 32-bit words) is built once at module load.
 */
import { HUFFMAN_CODES, HUFFMAN_EOS, HUFFMAN_LENGTHS } from './huffman-table.js';
import { HpackError } from './errors.js';
import { bytesToLatin1 } from './latin1.js';

const FLAG_EMIT = 1 << 8;
const SYMBOL_SHIFT = 9;
const FLAG_FAIL = 1 << 17;
const FLAG_ACCEPT = 1 << 18;
const STATE_MASK = 0xff;

/** DECODE_TABLE[(state << 4) | nibble] = nextState | FLAG_EMIT | symbol << 9 | FLAG_FAIL | FLAG_ACCEPT. */
const DECODE_TABLE: Uint32Array = buildDecodeTable();

function buildDecodeTable(): Uint32Array {
  // Tree of internal nodes: children[2n] / children[2n+1]; a child >= 0 is an internal node, < 0 is leaf -(symbol+1).
  const children: number[] = [0, 0];
  const depth: number[] = [0];
  const allOnes: boolean[] = [true];
  const UNSET = 0; // node 0 is the root and never anyone's child, so 0 can mean "no child yet"
  for (let symbol = 0; symbol <= HUFFMAN_EOS; symbol++) {
    const code = HUFFMAN_CODES[symbol]!;
    const length = HUFFMAN_LENGTHS[symbol]!;
    let node = 0;
    for (let bitIndex = length - 1; bitIndex >= 0; bitIndex--) {
      const bit = (code >>> bitIndex) & 1;
      const slot = 2 * node + bit;
      if (bitIndex === 0) {
        children[slot] = -(symbol + 1);
      } else {
        if (children[slot] === UNSET) {
          const created = depth.length;
          depth.push(depth[node]! + 1);
          allOnes.push(allOnes[node]! && bit === 1);
          children.push(UNSET, UNSET);
          children[slot] = created;
        }
        node = children[slot]!;
      }
    }
  }
  const stateCount = depth.length; // 256 for the RFC code (257 leaves)
  if (stateCount > 256) throw new Error('HPACK Huffman table: unexpected tree shape');
  // RFC 7541 §5.2: padding is the most significant bits of EOS (all ones), strictly shorter than 8 bits.
  const accepting = (node: number): boolean => node === 0 || (allOnes[node]! && depth[node]! <= 7);
  const table = new Uint32Array(256 * 16);
  for (let state = 0; state < stateCount; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bitIndex = 3; bitIndex >= 0; bitIndex--) {
        const child = children[2 * node + ((nibble >>> bitIndex) & 1)]!;
        if (child < 0) {
          const symbol = -child - 1;
          if (symbol === HUFFMAN_EOS) {
            entry |= FLAG_FAIL;
            break;
          }
          entry |= FLAG_EMIT | (symbol << SYMBOL_SHIFT);
          node = 0;
        } else {
          node = child;
        }
      }
      if ((entry & FLAG_FAIL) === 0) {
        entry |= node;
        if (accepting(node)) entry |= FLAG_ACCEPT;
      }
      table[(state << 4) | nibble] = entry;
    }
  }
  return table;
}

/** Scratch for decoded bytes, shared by all decoders: decoding is synchronous, so one buffer suffices. */
let decodeScratch: Uint8Array = new Uint8Array(4096);

/**
 * Decode the Huffman-coded bytes src[start, end) into a latin1 string (one char per byte).
 * When `materialize` is false the input is still fully validated but no string is built ('' is returned):
 * used for fields dropped after the header list grew too large.
 * Throws HpackError on EOS inside the string, padding longer than 7 bits, or padding that is not all ones.
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, materialize: boolean): string {
  // Shortest code is 5 bits: at most 8/5 output bytes per input byte.
  const maxOut = (((end - start) * 8) / 5) | 0;
  if (decodeScratch.length < maxOut) {
    let size = decodeScratch.length * 2;
    while (size < maxOut) size *= 2;
    decodeScratch = new Uint8Array(size);
  }
  const out = decodeScratch;
  const table = DECODE_TABLE;
  let outPos = 0;
  let state = 0;
  let entry = FLAG_ACCEPT; // an empty string is valid
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    entry = table[(state << 4) | (byte >>> 4)]!;
    if ((entry & FLAG_FAIL) !== 0) throw new HpackError('Huffman string contains EOS (RFC 7541 §5.2)');
    if ((entry & FLAG_EMIT) !== 0) out[outPos++] = entry >>> SYMBOL_SHIFT;
    state = entry & STATE_MASK;
    entry = table[(state << 4) | (byte & 0x0f)]!;
    if ((entry & FLAG_FAIL) !== 0) throw new HpackError('Huffman string contains EOS (RFC 7541 §5.2)');
    if ((entry & FLAG_EMIT) !== 0) out[outPos++] = entry >>> SYMBOL_SHIFT;
    state = entry & STATE_MASK;
  }
  if ((entry & FLAG_ACCEPT) === 0) {
    throw new HpackError('Huffman string has invalid padding: longer than 7 bits or not all ones (RFC 7541 §5.2)');
  }
  return materialize ? bytesToLatin1(out, 0, outPos) : '';
}

/**
 * Length in bytes of the Huffman encoding of `str`, or -1 when `str` has a char above U+00FF (not a ByteString:
 * not representable as header octets). One pass serves both the length and the validity check.
 */
export function huffmanEncodedLength(str: string): number {
  const lengths = HUFFMAN_LENGTHS;
  let bits = 0;
  let allCodes = 0;
  for (let i = 0; i < str.length; i++) {
    const code = str.charCodeAt(i);
    allCodes |= code;
    bits += lengths[code & 0xff]!;
  }
  return allCodes > 0xff ? -1 : Math.ceil(bits / 8);
}

/**
 * Huffman-encode `str` into out starting at `pos`; returns the new position. The caller reserved
 * huffmanEncodedLength(str) bytes. Pads the last byte with the most significant bits of EOS (all ones).
 */
export function huffmanEncode(str: string, out: Uint8Array, pos: number): number {
  const codes = HUFFMAN_CODES;
  const lengths = HUFFMAN_LENGTHS;
  let acc = 0; // pending bits, right-aligned; fewer than 8 between symbols
  let pending = 0;
  for (let i = 0; i < str.length; i++) {
    const symbol = str.charCodeAt(i) & 0xff;
    let code = codes[symbol]!;
    let length = lengths[symbol]!;
    if (length > 24) {
      // Keep acc within 31 bits: push the high part first (pending <= 7, so 7 + 24 bits at most).
      const highLength = length - 16;
      acc = (acc << highLength) | (code >>> 16);
      pending += highLength;
      while (pending >= 8) {
        pending -= 8;
        out[pos++] = acc >>> pending;
      }
      acc &= (1 << pending) - 1;
      code &= 0xffff;
      length = 16;
    }
    acc = (acc << length) | code;
    pending += length;
    while (pending >= 8) {
      pending -= 8;
      out[pos++] = acc >>> pending;
    }
    acc &= (1 << pending) - 1;
  }
  if (pending > 0) out[pos++] = (acc << (8 - pending)) | (0xff >>> pending);
  return pos;
}
