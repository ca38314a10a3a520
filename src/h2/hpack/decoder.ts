/**
 * HPACK decoder (RFC 7541 §2–§6): header block bytes in, flat header list out.
 */
import type { HeaderList } from '../types.js';
import { HpackError } from './errors.js';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
import { huffmanDecode } from './huffman.js';
import { decodeInteger, integerResult } from './integer.js';
import { bytesToLatin1 } from './latin1.js';
import { STATIC_TABLE_LENGTH, staticName, staticValue } from './static-table.js';

/** RFC 9113 §6.5.2: SETTINGS_HEADER_TABLE_SIZE initial value. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

export interface HpackDecoderOptions {
  /**
   * Our SETTINGS_HEADER_TABLE_SIZE in force: dynamic table size updates above it are errors (default 4096).
   * A connection should keep the default and call setMaxTableSize() once the peer ACKs a different value.
   */
  maxTableSize?: number;
  /**
   * Maximum size of the dynamic table before the peer's first size update (default 4096: RFC 9113 §6.5.2, what the
   * peer's encoder assumes before it sees our SETTINGS). Independent of maxTableSize so that blocks sent before the
   * peer saw our SETTINGS are decoded against the same table the peer used. Mostly for tests (RFC 7541 Appendix C.5).
   */
  initialTableSize?: number;
  /** Header list size (RFC 9113 §6.5.2) beyond which fields stop being collected (default Infinity). */
  maxHeaderListSize?: number;
}

/** Module-level result slot for readString: no per-string allocation besides the string itself. */
let stringEnd = 0;

export class HpackDecoder {
  /** RFC 9113 §6.5.2 SETTINGS_MAX_HEADER_LIST_SIZE we enforce on decoded blocks. Settable. */
  maxHeaderListSize: number;
  /** True when the last decode() stopped collecting fields because the header list exceeded maxHeaderListSize. */
  lastBlockTooLarge = false;
  /** Names of the fields of the last block sent as never-indexed literals (RFC 7541 §6.2.3); null when none. */
  lastNeverIndexed: string[] | null = null;

  private readonly table: DynamicTable;
  /** Upper bound for dynamic table size updates: our advertised SETTINGS_HEADER_TABLE_SIZE (RFC 7541 §6.3). */
  private tableSizeLimit: number;
  /**
   * Set when our limit dropped below the table's current maximum: the peer's encoder MUST then start its next block
   * with a dynamic table size update (RFC 7541 §4.2) before relying on the smaller table.
   */
  private sizeUpdateRequired = false;

  constructor(options?: HpackDecoderOptions) {
    const maxTableSize = options?.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    checkTableSize(maxTableSize);
    this.tableSizeLimit = maxTableSize;
    const initialTableSize = options?.initialTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    checkTableSize(initialTableSize);
    this.table = new DynamicTable(initialTableSize);
    this.maxHeaderListSize = options?.maxHeaderListSize ?? Infinity;
  }

  /** Current dynamic table occupancy in octets (RFC 7541 §4.1), for tests and tracing. */
  get tableSize(): number {
    return this.table.size;
  }

  /** Current dynamic table maximum size, as last set by the peer's size update (initially `initialTableSize`). */
  get tableMaxSize(): number {
    return this.table.maxSize;
  }

  /** Dynamic table contents, newest first, as [name, value] pairs (for tests and tracing; allocates). */
  dynamicTableEntries(): Array<[string, string]> {
    return this.table.entries();
  }

  /**
   * Our SETTINGS_HEADER_TABLE_SIZE changed and the peer acknowledged it. Updates above `size` become errors; if the
   * table is currently larger, the peer's next block must begin with a size update (RFC 7541 §4.2).
   */
  setMaxTableSize(size: number): void {
    checkTableSize(size);
    this.tableSizeLimit = size;
    if (size < this.table.maxSize) this.sizeUpdateRequired = true;
  }

  /**
   * Decode one complete header block (HEADERS + CONTINUATION payloads joined) into a new flat header list.
   * Throws HpackError on malformed input; the connection must then fail with COMPRESSION_ERROR.
   */
  decode(block: Uint8Array): HeaderList {
    const headers: HeaderList = [];
    const end = block.length;
    const table = this.table;
    const maxListSize = this.maxHeaderListSize;
    let listSize = 0;
    let collecting = true;
    let neverIndexed: string[] | null = null;
    let fieldSeen = false;
    let pos = 0;
    this.lastBlockTooLarge = false;
    this.lastNeverIndexed = null;

    if (this.sizeUpdateRequired && end > 0 && (block[0]! & 0xe0) !== 0x20) {
      throw new HpackError('expected a dynamic table size update at the start of the block (RFC 7541 §4.2)');
    }

    while (pos < end) {
      const first = block[pos]!;
      let name: string;
      let value: string;

      if ((first & 0x80) !== 0) {
        // §6.1 Indexed Header Field.
        decodeInteger(block, pos, end, 7);
        pos = integerResult.next;
        const index = integerResult.value;
        if (index === 0) throw new HpackError('indexed header field with index 0 (RFC 7541 §6.1)');
        if (index <= STATIC_TABLE_LENGTH) {
          name = staticName(index);
          value = staticValue(index);
        } else {
          const dynamicIndex = index - STATIC_TABLE_LENGTH;
          if (dynamicIndex > table.length) throw new HpackError(`index ${index} past the end of the tables (RFC 7541 §2.3.3)`);
          const slot = table.slot(dynamicIndex);
          name = table.names[slot]!;
          value = table.values[slot]!;
        }
      } else if ((first & 0x40) !== 0) {
        // §6.2.1 Literal Header Field with Incremental Indexing: always materialized, the table needs it.
        decodeInteger(block, pos, end, 6);
        pos = integerResult.next;
        const nameIndex = integerResult.value;
        if (nameIndex === 0) {
          name = readString(block, pos, end, true);
          pos = stringEnd;
        } else {
          name = this.indexedName(nameIndex);
        }
        value = readString(block, pos, end, true);
        pos = stringEnd;
        table.add(name, value);
      } else if ((first & 0x20) !== 0) {
        // §6.3 Dynamic Table Size Update: only at the beginning of a block (§4.2).
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field (RFC 7541 §4.2)');
        decodeInteger(block, pos, end, 5);
        pos = integerResult.next;
        const newSize = integerResult.value;
        if (newSize > this.tableSizeLimit) {
          throw new HpackError(
            `dynamic table size update to ${newSize} exceeds the limit ${this.tableSizeLimit} (RFC 7541 §6.3)`,
          );
        }
        table.resize(newSize);
        this.sizeUpdateRequired = false;
        continue;
      } else {
        // §6.2.2 Literal without Indexing (0000) / §6.2.3 Literal Never Indexed (0001).
        decodeInteger(block, pos, end, 4);
        pos = integerResult.next;
        const nameIndex = integerResult.value;
        if (nameIndex === 0) {
          name = readString(block, pos, end, collecting);
          pos = stringEnd;
        } else {
          name = this.indexedName(nameIndex);
        }
        value = readString(block, pos, end, collecting);
        pos = stringEnd;
      }

      fieldSeen = true;
      if (collecting) {
        listSize += name.length + value.length + ENTRY_OVERHEAD;
        if (listSize > maxListSize) {
          // HPACK bomb defence: keep decoding so the dynamic table stays in sync with the peer's encoder,
          // but stop accumulating fields (memory) and stop building strings nobody will read (CPU).
          collecting = false;
          this.lastBlockTooLarge = true;
        } else {
          headers.push(name, value);
          // 0001xxxx: §6.2.3 never-indexed literal; intermediaries must keep it never-indexed (§7.1.3).
          if ((first & 0xf0) === 0x10) (neverIndexed ??= []).push(name);
        }
      }
    }
    this.lastNeverIndexed = neverIndexed;
    return headers;
  }

  /** Name of static or dynamic entry `index` for a literal's indexed name (RFC 7541 §6.2). */
  private indexedName(index: number): string {
    if (index <= STATIC_TABLE_LENGTH) return staticName(index);
    const dynamicIndex = index - STATIC_TABLE_LENGTH;
    if (dynamicIndex > this.table.length) throw new HpackError(`name index ${index} past the end of the tables (RFC 7541 §2.3.3)`);
    return this.table.names[this.table.slot(dynamicIndex)]!;
  }
}

/**
 * RFC 7541 §5.2 string literal at block[pos]: H bit + 7-bit-prefix length + octets. Sets stringEnd.
 * Throws HpackError when the length runs past the block or the Huffman data is invalid.
 */
function readString(block: Uint8Array, pos: number, end: number, materialize: boolean): string {
  if (pos >= end) throw new HpackError('truncated header block: string literal expected (RFC 7541 §5.2)');
  const huffman = (block[pos]! & 0x80) !== 0;
  decodeInteger(block, pos, end, 7);
  const start = integerResult.next;
  const length = integerResult.value;
  if (length > end - start) throw new HpackError('string literal length exceeds the header block (RFC 7541 §5.2)');
  stringEnd = start + length;
  if (huffman) return huffmanDecode(block, start, start + length, materialize);
  return materialize ? bytesToLatin1(block, start, start + length) : '';
}

function checkTableSize(size: number): void {
  if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) {
    throw new RangeError(`HPACK table size must be an integer in 0..2^32-1, got ${size}`);
  }
}
