/**
 * HPACK encoder (RFC 7541): flat header list in, header block bytes out.
 *
 * Indexing policy (the RFC leaves it to the encoder, §2.1):
 *  1. Exact match in the static table, then in the dynamic table: Indexed Header Field (§6.1), usually 1 byte.
 *  2. Sensitive fields are Literal Never Indexed (§6.2.3, §7.1.3), so neither our table nor any intermediary's can
 *     be probed by a CRIME-style compression oracle: authorization, proxy-authorization, set-cookie, and cookie values
 *     shorter than 20 bytes (short cookies have little entropy and can be guessed; long ones are indexed because
 *     clients resend them on every request).
 *  3. Fields whose values rarely repeat are Literal without Indexing (§6.2.2): indexing them would only evict useful
 *     entries. :path, content-length, age, etag, last-modified, location, content-range, if-modified-since,
 *     if-none-match, x-request-id style values are per-message; so are entries bigger than half the table.
 *     Except on repeat: content-length, etag and last-modified describe a representation, and the same one served
 *     again on a connection (a hot static file, a fixed answer) repeats all three. The encoder remembers the last
 *     REPEAT_MEMORY such fields it sent without indexing; a field sent again is indexed then, and every later
 *     response refers to it in one byte. One-off values still never reach the table.
 *  4. Everything else is Literal with Incremental Indexing (§6.2.1): server, content-type, cache-control, vary, date
 *     (same within one second), ... repeat across responses and become 1-byte references.
 * Names are taken from the static or dynamic table when present. Huffman coding is used only when strictly shorter.
 */
import type { HeaderList } from '../types.js';
import { DEFAULT_HEADER_TABLE_SIZE } from './decoder.js';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
import { huffmanEncode, huffmanEncodedLength } from './huffman.js';
import { encodeInteger } from './integer.js';
import { STATIC_LOOKUP, STATIC_TABLE_LENGTH } from './static-table.js';

export interface HpackEncoderOptions {
  /** Our own cap on the encoder's dynamic table, whatever the peer allows (default 4096). */
  maxTableSize?: number;
  /**
   * encode() writes into one buffer shared by every encoder created with this option, instead of a buffer of its
   * own: its result is then only valid until the next encode() of any such encoder. For callers that copy the block
   * at once (the HTTP/2 engine frames it immediately), so an idle connection keeps no encoding buffer.
   */
  sharedOutput?: boolean;
}

/** The output buffer of the encoders created with `sharedOutput` (encoding is synchronous: one block at a time). */
let sharedScratch: Uint8Array = new Uint8Array(1024);

/** Names whose values are secrets: always Literal Never Indexed (RFC 7541 §7.1.3). */
const NEVER_INDEXED_NAMES: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'set-cookie']);

/** RFC 7541 §7.1.3: "an encoder might choose not to index values for header fields that are considered to have low entropy". */
const SHORT_COOKIE_LIMIT = 20;

/** Names whose values are (almost) unique per message: not worth a dynamic table entry. */
const UNINDEXED_NAMES: ReadonlySet<string> = new Set([
  ':path',
  'content-length',
  'age',
  'etag',
  'last-modified',
  'location',
  'content-range',
  'if-modified-since',
  'if-none-match',
  'x-request-id',
  'traceparent',
]);

/** Per-message names whose exact field is indexed the second time it is sent (rule 3's exception). */
const INDEXED_ON_REPEAT_NAMES: ReadonlySet<string> = new Set(['content-length', 'etag', 'last-modified']);

/** How many unindexed INDEXED_ON_REPEAT_NAMES fields the encoder remembers (a short scan, a few pointers). */
const REPEAT_MEMORY = 8;

/**
 * The last few fields sent without indexing that would be indexed on repeat: a ring of names and values. Only a
 * heuristic on our side (the peer never sees it), so a failed encode needs no rollback here.
 */
class RecentFields {
  private readonly names: string[] = new Array<string>(REPEAT_MEMORY).fill('');
  private readonly values: string[] = new Array<string>(REPEAT_MEMORY).fill('');
  private next = 0;

  /** Whether the field was remembered (and forgets it: it is about to be indexed); remembers it otherwise. */
  seenBefore(name: string, value: string): boolean {
    const names = this.names;
    const values = this.values;
    for (let i = 0; i < REPEAT_MEMORY; i++) {
      if (values[i] === value && names[i] === name) {
        names[i] = '';
        values[i] = '';
        return true;
      }
    }
    names[this.next] = name;
    values[this.next] = value;
    this.next = (this.next + 1) % REPEAT_MEMORY;
    return false;
  }
}

/**
 * The encoder's dynamic table: the shared ring (same eviction rules as the decoder, RFC 7541 §4.4, so both tables stay
 * identical) plus lookup maps. Entries are numbered by insertion sequence; the entry with sequence s has HPACK index
 * 61 + (insertCount - s) (the newest is 62). Maps give O(1) lookups: name -> newest sequence with that name, and
 * name -> value -> newest sequence with that exact field. A name whose entries all hold one value (the usual case)
 * maps straight to the newest of them, its value read from the ring: a Map per name would cost an idle connection
 * about 180 bytes for each field of the one response it sent.
 */
class EncoderTable extends DynamicTable {
  /** Sequence number the next inserted entry gets. The oldest live entry has insertCount - length. */
  insertCount = 0;
  readonly nameToSequence = new Map<string, number>();
  readonly fieldToSequence = new Map<string, number | Map<string, number>>();

  /*
   * Block journal, so a failed encode() leaves the table exactly as it was: the peer never receives that block, and
   * any entry we added or evicted for it would silently desynchronise every later block. The table is a FIFO, so
   * (entries at block start) ++ (entries added) == (entries evicted, in order) ++ (entries now): recording the
   * evicted entries (rare; reused arrays) is enough to rebuild the start state.
   */
  private readonly evictedNames: string[] = [];
  private readonly evictedValues: string[] = [];
  private startLength = 0;
  private startInsertCount = 0;
  private startMaxSize = 0;

  beginBlock(): void {
    this.evictedNames.length = 0;
    this.evictedValues.length = 0;
    this.startLength = this.length;
    this.startInsertCount = this.insertCount;
    this.startMaxSize = this.maxSize;
  }

  /** Restore the state of the last beginBlock() (slow path: only after a failed encode). */
  rollbackBlock(): void {
    const history: Array<[string, string]> = [];
    for (let i = 0; i < this.evictedNames.length; i++) history.push([this.evictedNames[i]!, this.evictedValues[i]!]);
    const mask = this.names.length - 1;
    for (let i = 0; i < this.length; i++) {
      const slot = (this.head + i) & mask;
      history.push([this.names[slot]!, this.values[slot]!]);
    }
    this.reset(this.startLength);
    this.length = this.startLength;
    this.insertCount = this.startInsertCount;
    this.maxSize = this.startMaxSize;
    this.nameToSequence.clear();
    this.fieldToSequence.clear();
    const firstSequence = this.insertCount - this.length;
    for (let i = 0; i < this.startLength; i++) {
      const [name, value] = history[i]!;
      this.names[i] = name;
      this.values[i] = value;
      this.size += name.length + value.length + ENTRY_OVERHEAD;
      this.remember(name, value, firstSequence + i); // oldest first: newer entries overwrite
    }
    this.evictedNames.length = 0;
    this.evictedValues.length = 0;
  }

  /** HPACK index of the exact field, or 0. */
  findField(name: string, value: string): number {
    const known = this.fieldToSequence.get(name);
    if (known === undefined) return 0;
    if (typeof known === 'number') return this.valueAt(known) === value ? STATIC_TABLE_LENGTH + this.insertCount - known : 0;
    const sequence = known.get(value);
    return sequence === undefined ? 0 : STATIC_TABLE_LENGTH + this.insertCount - sequence;
  }

  /** The value of the live entry with this sequence number. */
  private valueAt(sequence: number): string {
    return this.values[this.slot(this.insertCount - sequence)]!;
  }

  /** HPACK index of the newest entry with this name, or 0. */
  findName(name: string): number {
    const sequence = this.nameToSequence.get(name);
    return sequence === undefined ? 0 : STATIC_TABLE_LENGTH + this.insertCount - sequence;
  }

  protected override onInsert(name: string, value: string): void {
    this.remember(name, value, this.insertCount++);
  }

  protected override onEvict(name: string, value: string): void {
    const sequence = this.insertCount - this.length;
    this.evictedNames.push(name);
    this.evictedValues.push(value);
    // The maps point at the newest entry for a key; only forget the key when that newest entry is this one.
    if (this.nameToSequence.get(name) === sequence) this.nameToSequence.delete(name);
    const known = this.fieldToSequence.get(name);
    if (known === sequence) {
      this.fieldToSequence.delete(name);
    } else if (typeof known === 'object' && known.get(value) === sequence) {
      known.delete(value);
      if (known.size === 0) this.fieldToSequence.delete(name);
    }
  }

  /** Indexes the entry `sequence`, already in the ring. */
  private remember(name: string, value: string, sequence: number): void {
    this.nameToSequence.set(name, sequence);
    const known = this.fieldToSequence.get(name);
    if (known === undefined) {
      this.fieldToSequence.set(name, sequence);
    } else if (typeof known === 'object') {
      known.set(value, sequence);
    } else {
      // Entries of this name held one value so far: a second value needs the per-value map.
      const knownValue = this.valueAt(known);
      this.fieldToSequence.set(name, knownValue === value ? sequence : new Map([[knownValue, known], [value, sequence]]));
    }
  }
}

/** Representation patterns (first-byte flags) and their integer prefix sizes (RFC 7541 §6). */
const INDEXED = 0x80; // §6.1, 7-bit index
const LITERAL_INCREMENTAL = 0x40; // §6.2.1, 6-bit name index
const LITERAL_WITHOUT_INDEXING = 0x00; // §6.2.2, 4-bit name index
const LITERAL_NEVER_INDEXED = 0x10; // §6.2.3, 4-bit name index
const SIZE_UPDATE = 0x20; // §6.3, 5-bit size

export class HpackEncoder {
  private readonly table: EncoderTable;
  /** Our own cap (constructor option). */
  private readonly ownMaxTableSize: number;
  /** Pending dynamic table size changes to signal at the start of the next block (RFC 7541 §4.2). */
  private sizeChangePending = false;
  private pendingMinimumSize = 0;
  private pendingFinalSize = 0;
  /** Own output buffer; null with `sharedOutput` (sharedScratch). */
  private scratch: Uint8Array | null;
  /** Created on the first field that could be indexed on repeat. */
  private recent: RecentFields | undefined;

  constructor(options?: HpackEncoderOptions) {
    this.scratch = options?.sharedOutput === true ? null : new Uint8Array(1024);
    const ownMax = options?.maxTableSize ?? DEFAULT_HEADER_TABLE_SIZE;
    checkTableSize(ownMax);
    this.ownMaxTableSize = ownMax;
    // Until the peer's SETTINGS arrive both sides assume the protocol default (RFC 9113 §6.5.2).
    this.table = new EncoderTable(DEFAULT_HEADER_TABLE_SIZE);
    if (ownMax !== DEFAULT_HEADER_TABLE_SIZE) this.setMaxTableSize(DEFAULT_HEADER_TABLE_SIZE);
  }

  /** Current dynamic table occupancy in octets (for tests and tracing). */
  get tableSize(): number {
    return this.table.size;
  }

  /** Dynamic table contents, newest first, as [name, value] pairs (for tests and tracing; allocates). */
  dynamicTableEntries(): Array<[string, string]> {
    return this.table.entries();
  }

  /** Current dynamic table maximum (what the peer's decoder has been told, or will be at the next block). */
  get tableMaxSize(): number {
    return this.sizeChangePending ? this.pendingFinalSize : this.table.maxSize;
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE. The table uses min(size, own cap); the change is signalled at the start
   * of the next block. If the size shrank and grew again between two blocks, both the minimum and the final size
   * are sent, so the peer's decoder evicts exactly what we evicted (RFC 7541 §4.2).
   */
  setMaxTableSize(size: number): void {
    checkTableSize(size);
    const effective = Math.min(size, this.ownMaxTableSize);
    if (!this.sizeChangePending) {
      this.sizeChangePending = true;
      this.pendingMinimumSize = effective;
    } else if (effective < this.pendingMinimumSize) {
      this.pendingMinimumSize = effective;
    }
    this.pendingFinalSize = effective;
  }

  /**
   * Encode a flat header list (values latin1: char codes 0..255) into one header block. Names are sent lowercase
   * (ASCII A-Z are lowercased here, RFC 9113 §8.2); validating names and values is the caller's job.
   * Returns a view of an internal buffer, valid until the next encode() call.
   * `neverIndexNames`: extra names to send as never-indexed literals, e.g. what HpackDecoder.lastNeverIndexed
   * reported for a message being forwarded (an intermediary MUST keep them never-indexed, RFC 7541 §7.1.3).
   * Throws TypeError if a name or value has a char above U+00FF (not representable as octets).
   */
  encode(headers: HeaderList, neverIndexNames?: readonly string[] | null): Uint8Array {
    const table = this.table;
    let out = this.scratch ?? sharedScratch;
    let pos = 0;
    table.beginBlock();
    const savedSizeChangePending = this.sizeChangePending;

    if (this.sizeChangePending) {
      this.sizeChangePending = false;
      if (this.pendingMinimumSize < table.maxSize) {
        pos = encodeInteger(out, pos, SIZE_UPDATE, 5, this.pendingMinimumSize);
        table.resize(this.pendingMinimumSize);
      }
      if (this.pendingFinalSize !== table.maxSize) {
        pos = encodeInteger(out, pos, SIZE_UPDATE, 5, this.pendingFinalSize);
        table.resize(this.pendingFinalSize);
      }
    }

    const count = headers.length;
    for (let i = 0; i + 1 < count; i += 2) {
      let name = headers[i]!;
      const value = headers[i + 1]!;
      // Worst case: 2 integers of 6 bytes + raw name + raw value (Huffman is only chosen when shorter).
      const needed = pos + 16 + name.length + value.length;
      if (needed > out.length) out = this.growScratch(needed, pos);

      let staticEntry = STATIC_LOOKUP.get(name);
      if (staticEntry === undefined) {
        // RFC 9113 §8.2: field names MUST be lowercase on the wire. Static names are known lowercase; others are
        // checked (a short scan) so a caller's 'X-Foo' can never produce a malformed message.
        const lower = asciiLowercase(name);
        if (lower !== name) {
          name = lower;
          staticEntry = STATIC_LOOKUP.get(name);
        }
      }
      let nameIndex = 0;
      if (staticEntry !== undefined) {
        const exact = staticEntry.values.get(value);
        if (exact !== undefined) {
          out[pos++] = INDEXED | exact; // static indexes are < 127: one byte
          continue;
        }
        nameIndex = staticEntry.nameIndex;
      }

      let representation: number;
      let prefixBits: number;
      if (
        NEVER_INDEXED_NAMES.has(name) ||
        (name === 'cookie' && value.length < SHORT_COOKIE_LIMIT) ||
        (neverIndexNames != null && neverIndexNames.includes(name))
      ) {
        representation = LITERAL_NEVER_INDEXED;
        prefixBits = 4;
      } else {
        const dynamicExact = table.findField(name, value);
        if (dynamicExact !== 0) {
          pos = encodeInteger(out, pos, INDEXED, 7, dynamicExact);
          continue;
        }
        const entrySize = name.length + value.length + ENTRY_OVERHEAD;
        if (entrySize > table.maxSize >>> 1 || (UNINDEXED_NAMES.has(name) && !this.indexOnRepeat(name, value))) {
          representation = LITERAL_WITHOUT_INDEXING;
          prefixBits = 4;
        } else {
          representation = LITERAL_INCREMENTAL;
          prefixBits = 6;
        }
      }
      if (nameIndex === 0) nameIndex = table.findName(name);

      if (nameIndex !== 0) {
        pos = encodeInteger(out, pos, representation, prefixBits, nameIndex);
      } else {
        out[pos++] = representation;
        pos = encodeString(out, pos, name);
      }
      if (pos >= 0) pos = encodeString(out, pos, value);
      if (pos < 0) {
        // Not representable as octets: undo this block's table changes so the encoder stays usable and in sync.
        table.rollbackBlock();
        this.sizeChangePending = savedSizeChangePending;
        throw new TypeError(`header field ${JSON.stringify(name)} has a character above U+00FF: not a ByteString`);
      }
      if (representation === LITERAL_INCREMENTAL) table.add(name, value);
    }
    return out.subarray(0, pos);
  }

  /** Rule 3's exception: whether this per-message field was sent moments ago and is worth an entry now. */
  private indexOnRepeat(name: string, value: string): boolean {
    if (!INDEXED_ON_REPEAT_NAMES.has(name)) return false;
    return (this.recent ??= new RecentFields()).seenBefore(name, value);
  }

  private growScratch(needed: number, used: number): Uint8Array {
    const current = this.scratch ?? sharedScratch;
    let size = current.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(current.subarray(0, used));
    if (this.scratch === null) sharedScratch = grown;
    else this.scratch = grown;
    return grown;
  }
}

/** `name` with ASCII A-Z lowercased (other octets untouched); the same string when there is nothing to change. */
function asciiLowercase(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 0x41 && code <= 0x5a) {
      let lower = name.slice(0, i);
      for (let j = i; j < name.length; j++) {
        const c = name.charCodeAt(j);
        lower += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
      }
      return lower;
    }
  }
  return name;
}

/**
 * RFC 7541 §5.2 string literal: Huffman only when strictly shorter than the raw octets.
 * Returns the new position, or -1 when `str` has a char above U+00FF (nothing meaningful was written).
 */
function encodeString(out: Uint8Array, pos: number, str: string): number {
  const rawLength = str.length;
  const huffmanLength = huffmanEncodedLength(str);
  if (huffmanLength < 0) return -1;
  if (huffmanLength < rawLength) {
    pos = encodeInteger(out, pos, 0x80, 7, huffmanLength);
    return huffmanEncode(str, out, pos);
  }
  pos = encodeInteger(out, pos, 0x00, 7, rawLength);
  for (let i = 0; i < rawLength; i++) out[pos++] = str.charCodeAt(i);
  return pos;
}

function checkTableSize(size: number): void {
  if (!Number.isInteger(size) || size < 0 || size > 0xffffffff) {
    throw new RangeError(`HPACK table size must be an integer in 0..2^32-1, got ${size}`);
  }
}
