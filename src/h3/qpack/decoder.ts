/**
 * QPACK decoder (RFC 9204 §2.2, §4.3–§4.5): reads the peer's encoder stream into its dynamic table, decodes field
 * sections, and writes decoder-stream instructions (Section Acknowledgment, Stream Cancellation, Insert Count
 * Increment) for the connection to send on our decoder stream.
 *
 * Bounds: the table never exceeds our SETTINGS_QPACK_MAX_TABLE_CAPACITY; at most SETTINGS_QPACK_BLOCKED_STREAMS
 * sections wait for inserts (one more is QPACK_DECOMPRESSION_FAILED, §2.1.2); a field section stops decoding as soon
 * as its size (name + value + 32 per field, RFC 9114 §4.2.2) passes maxFieldSectionSize, so a "QPACK bomb" (a few
 * bytes of references to a large entry) costs no more than that limit; a partial encoder-stream instruction is
 * buffered only up to the size an entry could have.
 */
import { H3ErrorCode, QpackError } from '../errors.js';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
import { writeInsertCountIncrement, writeSectionAcknowledgment, writeStreamCancellation } from './instructions.js';
import { appendPending, ByteWriter, INCOMPLETE, readInteger, readResult, readString } from './primitives.js';
import { STATIC_TABLE } from './static-table.js';

const DECOMPRESSION_FAILED = H3ErrorCode.QPACK_DECOMPRESSION_FAILED;
const ENCODER_STREAM_ERROR = H3ErrorCode.QPACK_ENCODER_STREAM_ERROR;

export interface QpackDecoderOptions {
  /** Our SETTINGS_QPACK_MAX_TABLE_CAPACITY: the most the peer's encoder may make us store. */
  maxTableCapacity: number;
  /** Our SETTINGS_QPACK_BLOCKED_STREAMS. */
  maxBlockedStreams: number;
  /** Our SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2). */
  maxFieldSectionSize: number;
}

/** Outcome of decoding one field section. */
export type FieldSectionResult =
  /** `fields` is a flat [name0, value0, name1, value1, ...] list in wire order. */
  | { status: 'done'; fields: string[] }
  /** Waiting for encoder-stream inserts (RFC 9204 §2.1.2); the result comes later from receiveEncoderStream(). */
  | { status: 'blocked' }
  /** Larger than maxFieldSectionSize: decoding stopped there (the section is still acknowledged). */
  | { status: 'tooLarge' };

export interface UnblockedSection {
  streamId: number;
  result: FieldSectionResult;
}

interface BlockedSection {
  block: Uint8Array;
  requiredInsertCount: number;
}

export class QpackDecoder {
  readonly table = new DynamicTable();
  private readonly maxTableCapacity: number;
  private readonly maxBlockedStreams: number;
  maxFieldSectionSize: number;
  /** Highest Insert Count the peer's encoder knows we have (RFC 9204 §2.2.2: acks and increments tell it). */
  private knownReceivedCount = 0;
  private readonly blocked = new Map<number, BlockedSection>();
  private readonly out = new ByteWriter(32);
  /** Bytes of an encoder-stream instruction that has not fully arrived. */
  private partial: Uint8Array | null = null;
  /** Encoder-stream instructions processed so far (the connection rate-limits them). */
  instructionCount = 0;

  constructor(options: QpackDecoderOptions) {
    this.maxTableCapacity = options.maxTableCapacity;
    this.maxBlockedStreams = options.maxBlockedStreams;
    this.maxFieldSectionSize = options.maxFieldSectionSize;
  }

  /** RFC 9204 §3.2.3: MaxEntries, the modulus base of the Required Insert Count encoding. */
  private get maxEntries(): number {
    return Math.floor(this.maxTableCapacity / ENTRY_OVERHEAD);
  }

  get blockedStreamCount(): number {
    return this.blocked.size;
  }

  /** Decoder-stream bytes to send (instructions queued since the last call), or null. */
  takeInstructions(): Uint8Array | null {
    // §4.4.3: tell the encoder about inserts no Section Acknowledgment covered, so it can reference them. Computed
    // when the bytes are taken, so acknowledgments of sections decoded meanwhile make an increment unnecessary.
    if (this.table.insertCount > this.knownReceivedCount) {
      writeInsertCountIncrement(this.out, this.table.insertCount - this.knownReceivedCount);
      this.knownReceivedCount = this.table.insertCount;
    }
    return this.out.length === 0 ? null : this.out.take();
  }

  /**
   * Decode a field section (the payload of one HEADERS or PUSH_PROMISE frame) of `streamId`. A section that needs
   * inserts we have not received yet is kept and reported 'blocked'. Throws QpackError for malformed input.
   */
  decodeFieldSection(streamId: number, block: Uint8Array): FieldSectionResult {
    if (block.length === 0) throw new QpackError(DECOMPRESSION_FAILED, 'empty field section: no prefix (RFC 9204 §4.5.1)');
    let pos = 0;
    const end = block.length;
    readPrefixInteger(block, pos, end, 8);
    const requiredInsertCount = this.decodeRequiredInsertCount(readResult.value);
    pos = readResult.next;
    if (requiredInsertCount > this.table.insertCount) {
      // RFC 9204 §2.1.2: blocking beyond SETTINGS_QPACK_BLOCKED_STREAMS is a connection error.
      if (this.blocked.size >= this.maxBlockedStreams) {
        throw new QpackError(DECOMPRESSION_FAILED, `more than ${this.maxBlockedStreams} blocked streams (RFC 9204 §2.1.2)`);
      }
      this.blocked.set(streamId, { block, requiredInsertCount });
      return { status: 'blocked' };
    }
    return this.decodeLines(streamId, block, pos, requiredInsertCount);
  }

  /** The stream was reset or its reading abandoned (RFC 9204 §4.4.2): forget it and tell the encoder. */
  cancelStream(streamId: number): void {
    this.blocked.delete(streamId);
    // §4.4.2: a decoder whose maximum capacity is 0 may omit it (no references can exist).
    if (this.maxTableCapacity > 0) writeStreamCancellation(this.out, streamId);
  }

  /**
   * Bytes from the peer's encoder stream. Applies every complete instruction, then decodes the sections they
   * unblocked (returned, in the order they were blocked). Throws QpackError(QPACK_ENCODER_STREAM_ERROR) for a bad
   * instruction, or QPACK_DECOMPRESSION_FAILED if an unblocked section is malformed.
   */
  receiveEncoderStream(bytes: Uint8Array): UnblockedSection[] {
    const buf = appendPending(this.partial, bytes);
    this.partial = null;
    let pos = 0;
    const end = buf.length;
    const insertsBefore = this.table.insertCount;
    while (pos < end) {
      try {
        pos = this.applyInstruction(buf, pos, end);
        this.instructionCount++;
      } catch (error) {
        if (error !== INCOMPLETE) throw error;
        // An instruction carries at most one entry, which fits the capacity (§3.2.2): a longer partial one is bogus.
        const bound = 2 * this.maxTableCapacity + 64;
        if (end - pos > bound) {
          throw new QpackError(ENCODER_STREAM_ERROR, `partial encoder instruction longer than ${bound} bytes`);
        }
        this.partial = buf.slice(pos, end);
        break;
      }
    }
    const unblocked: UnblockedSection[] = [];
    if (this.table.insertCount !== insertsBefore) {
      for (const [streamId, section] of this.blocked) {
        if (section.requiredInsertCount > this.table.insertCount) continue;
        this.blocked.delete(streamId);
        const prefixEnd = skipPrefix(section.block);
        unblocked.push({ streamId, result: this.decodeLines(streamId, section.block, prefixEnd, section.requiredInsertCount) });
      }
    }
    return unblocked;
  }

  /** One encoder instruction at buf[pos] (RFC 9204 §4.3); returns the position after it. */
  private applyInstruction(buf: Uint8Array, pos: number, end: number): number {
    const first = buf[pos]!;
    const table = this.table;
    const maxString = this.maxTableCapacity;
    if (first & 0x80) {
      // §4.3.2 Insert with Name Reference: 1 T index(6), value.
      readInteger(buf, pos, end, 6, ENCODER_STREAM_ERROR);
      const index = readResult.value;
      let name: string;
      if (first & 0x40) {
        const entry = STATIC_TABLE[index];
        if (entry === undefined) throw new QpackError(ENCODER_STREAM_ERROR, `static index ${index} out of range (RFC 9204 §4.3.2)`);
        name = entry[0];
      } else {
        // Relative index: insertCount - 1 - index (§3.2.5). The name is read before the insert may evict it (§3.2.2 note).
        const entry = table.get(table.insertCount - 1 - index);
        if (entry === undefined) throw new QpackError(ENCODER_STREAM_ERROR, `dynamic relative index ${index} not in the table (RFC 9204 §4.3.2)`);
        name = entry.name;
      }
      return this.insertWithValueAt(name, buf, readResult.next, end);
    }
    if (first & 0x40) {
      // §4.3.3 Insert with Literal Name: 01 H nameLength(5), name, value.
      readString(buf, pos, end, 5, ENCODER_STREAM_ERROR, maxString);
      return this.insertWithValueAt(readResult.text, buf, readResult.next, end);
    }
    if (first & 0x20) {
      // §4.3.1 Set Dynamic Table Capacity: 001 capacity(5); above our maximum is an error.
      readInteger(buf, pos, end, 5, ENCODER_STREAM_ERROR);
      const capacity = readResult.value;
      if (capacity > this.maxTableCapacity) {
        throw new QpackError(ENCODER_STREAM_ERROR, `capacity ${capacity} above SETTINGS_QPACK_MAX_TABLE_CAPACITY ${this.maxTableCapacity} (RFC 9204 §4.3.1)`);
      }
      table.setCapacity(capacity, ENCODER_STREAM_ERROR);
      return readResult.next;
    }
    // §4.3.4 Duplicate: 000 index(5), relative.
    readInteger(buf, pos, end, 5, ENCODER_STREAM_ERROR);
    const entry = table.get(table.insertCount - 1 - readResult.value);
    if (entry === undefined) throw new QpackError(ENCODER_STREAM_ERROR, `duplicate of relative index ${readResult.value} not in the table (RFC 9204 §4.3.4)`);
    const next = readResult.next;
    table.insert(entry.name, entry.value, ENCODER_STREAM_ERROR);
    return next;
  }

  /** Reads the value string at buf[pos] and inserts (name, value); returns the position after the value. */
  private insertWithValueAt(name: string, buf: Uint8Array, pos: number, end: number): number {
    readString(buf, pos, end, 7, ENCODER_STREAM_ERROR, this.maxTableCapacity);
    const next = readResult.next;
    this.table.insert(name, readResult.text, ENCODER_STREAM_ERROR);
    return next;
  }

  /** RFC 9204 §4.5.1.1: the Required Insert Count from its encoded form. */
  private decodeRequiredInsertCount(encoded: number): number {
    if (encoded === 0) return 0;
    const maxEntries = this.maxEntries;
    const fullRange = 2 * maxEntries;
    if (encoded > fullRange) throw new QpackError(DECOMPRESSION_FAILED, `encoded Required Insert Count ${encoded} above ${fullRange} (RFC 9204 §4.5.1.1)`);
    const maxValue = this.table.insertCount + maxEntries;
    const maxWrapped = Math.floor(maxValue / fullRange) * fullRange;
    let count = maxWrapped + encoded - 1;
    if (count > maxValue) {
      if (count <= fullRange) throw new QpackError(DECOMPRESSION_FAILED, 'invalid Required Insert Count (RFC 9204 §4.5.1.1)');
      count -= fullRange;
    }
    if (count === 0) throw new QpackError(DECOMPRESSION_FAILED, 'Required Insert Count decodes to 0 (RFC 9204 §4.5.1.1)');
    return count;
  }

  /** Decodes the field lines after the prefix; `pos` points at the Base byte. */
  private decodeLines(streamId: number, block: Uint8Array, pos: number, requiredInsertCount: number): FieldSectionResult {
    const end = block.length;
    // §4.5.1.2 Base: sign bit and Delta Base (7-bit prefix).
    readPrefixInteger(block, pos, end, 7);
    const negative = (block[pos]! & 0x80) !== 0;
    const deltaBase = readResult.value;
    pos = readResult.next;
    let base: number;
    if (negative) {
      base = requiredInsertCount - deltaBase - 1;
      if (base < 0) throw new QpackError(DECOMPRESSION_FAILED, 'negative Base (RFC 9204 §4.5.1.2)');
    } else {
      base = requiredInsertCount + deltaBase;
    }
    const table = this.table;
    const limit = this.maxFieldSectionSize;
    const fields: string[] = [];
    let size = 0;
    let highestReference = -1;
    /** The dynamic entry at absolute index `absolute`, which must be below the Required Insert Count (§2.2.3). */
    const dynamicEntry = (absolute: number) => {
      const entry = absolute < requiredInsertCount ? table.get(absolute) : undefined;
      if (entry === undefined) {
        throw new QpackError(DECOMPRESSION_FAILED, `reference to dynamic entry ${absolute}: evicted, or not below Required Insert Count ${requiredInsertCount} (RFC 9204 §2.2.3)`);
      }
      if (absolute > highestReference) highestReference = absolute;
      return entry;
    };
    while (pos < end) {
      const first = block[pos]!;
      let name: string;
      let value: string;
      if (first & 0x80) {
        // §4.5.2 Indexed Field Line: 1 T index(6).
        readPrefixInteger(block, pos, end, 6);
        pos = readResult.next;
        if (first & 0x40) {
          const entry = staticEntry(readResult.value);
          name = entry[0];
          value = entry[1];
        } else {
          const entry = dynamicEntry(base - 1 - readResult.value);
          name = entry.name;
          value = entry.value;
        }
      } else if (first & 0x40) {
        // §4.5.4 Literal Field Line with Name Reference: 01 N T index(4), value.
        readPrefixInteger(block, pos, end, 4);
        name = first & 0x10 ? staticEntry(readResult.value)[0] : dynamicEntry(base - 1 - readResult.value).name;
        if (!readFieldString(block, readResult.next, end, 7, limit - size - name.length - ENTRY_OVERHEAD)) {
          return this.finish(streamId, requiredInsertCount, -1, null);
        }
        value = readResult.text;
        pos = readResult.next;
      } else if (first & 0x20) {
        // §4.5.6 Literal Field Line with Literal Name: 001 N H nameLength(3), name, value.
        if (!readFieldString(block, pos, end, 3, limit - size - ENTRY_OVERHEAD)) return this.finish(streamId, requiredInsertCount, -1, null);
        name = readResult.text;
        if (!readFieldString(block, readResult.next, end, 7, limit - size - ENTRY_OVERHEAD - name.length)) {
          return this.finish(streamId, requiredInsertCount, -1, null);
        }
        value = readResult.text;
        pos = readResult.next;
      } else if (first & 0x10) {
        // §4.5.3 Indexed Field Line with Post-Base Index: 0001 index(4).
        readPrefixInteger(block, pos, end, 4);
        pos = readResult.next;
        const entry = dynamicEntry(base + readResult.value);
        name = entry.name;
        value = entry.value;
      } else {
        // §4.5.5 Literal Field Line with Post-Base Name Reference: 0000 N index(3), value.
        readPrefixInteger(block, pos, end, 3);
        name = dynamicEntry(base + readResult.value).name;
        if (!readFieldString(block, readResult.next, end, 7, limit - size - name.length - ENTRY_OVERHEAD)) {
          return this.finish(streamId, requiredInsertCount, -1, null);
        }
        value = readResult.text;
        pos = readResult.next;
      }
      size += name.length + value.length + ENTRY_OVERHEAD;
      // RFC 9114 §4.2.2: stop the moment the section is too large; nothing more is decoded or stored.
      if (size > limit) return this.finish(streamId, requiredInsertCount, -1, null);
      fields.push(name, value);
    }
    return this.finish(streamId, requiredInsertCount, highestReference, fields);
  }

  /** Acknowledges a section with dynamic references (§4.4.1) and checks its Required Insert Count was exact. */
  private finish(streamId: number, requiredInsertCount: number, highestReference: number, fields: string[] | null): FieldSectionResult {
    if (fields !== null && requiredInsertCount > 0 && highestReference + 1 !== requiredInsertCount) {
      // RFC 9204 §4.5.1.1: a conformant encoder declares exactly the count it needs; a larger one is an error.
      throw new QpackError(DECOMPRESSION_FAILED, `Required Insert Count ${requiredInsertCount} larger than needed (RFC 9204 §4.5.1.1)`);
    }
    if (requiredInsertCount > 0) {
      writeSectionAcknowledgment(this.out, streamId);
      if (requiredInsertCount > this.knownReceivedCount) this.knownReceivedCount = requiredInsertCount;
    }
    return fields === null ? { status: 'tooLarge' } : { status: 'done', fields };
  }
}

function staticEntry(index: number): readonly [string, string] {
  const entry = STATIC_TABLE[index];
  if (entry === undefined) throw new QpackError(DECOMPRESSION_FAILED, `static index ${index} out of range (RFC 9204 §3.1)`);
  return entry;
}

/** A prefix integer inside a field section, which arrives whole: truncation is malformed. */
function readPrefixInteger(block: Uint8Array, pos: number, end: number, prefixBits: number): void {
  try {
    readInteger(block, pos, end, prefixBits, DECOMPRESSION_FAILED);
  } catch (error) {
    if (error === INCOMPLETE) throw new QpackError(DECOMPRESSION_FAILED, 'truncated integer in field section (RFC 9204 §4.5)');
    throw error;
  }
}

/** Smallest decoded length of a Huffman string of `encoded` bytes: the longest code is 30 bits (RFC 7541 Appendix B). */
function minimumHuffmanDecodedLength(encoded: number): number {
  return Math.floor((encoded * 8) / 30);
}

/**
 * A string literal inside a field section. `room` is what is left of the size limit: a string that cannot fit is not
 * decoded at all (returns false), so a huge literal costs no decoding work.
 */
function readFieldString(block: Uint8Array, pos: number, end: number, prefixBits: number, room: number): boolean {
  readPrefixInteger(block, pos, end, prefixBits);
  const encoded = readResult.value;
  const huffman = (block[pos]! & (1 << prefixBits)) !== 0;
  if ((huffman ? minimumHuffmanDecodedLength(encoded) : encoded) > room) return false;
  try {
    readString(block, pos, end, prefixBits, DECOMPRESSION_FAILED, Number.MAX_SAFE_INTEGER, true);
  } catch (error) {
    if (error === INCOMPLETE) throw new QpackError(DECOMPRESSION_FAILED, 'truncated string in field section (RFC 9204 §4.5)');
    throw error;
  }
  return true;
}

/** Position after the two prefix integers (Required Insert Count, Base) of a section already validated once. */
function skipPrefix(block: Uint8Array): number {
  readInteger(block, 0, block.length, 8, DECOMPRESSION_FAILED);
  return readResult.next;
}
