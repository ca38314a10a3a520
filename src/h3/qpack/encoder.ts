/**
 * QPACK encoder (RFC 9204 §2.1, §4.3, §4.5): field list in, field section bytes out; dynamic-table instructions go
 * to the encoder stream (takeInstructions()), and the peer's decoder stream comes back through
 * receiveDecoderStream().
 *
 * Policy (the RFC leaves it to the encoder; this one is simple and safe):
 *  1. Exact static match: Indexed Field Line (§4.5.2).
 *  2. Sensitive fields (authorization, proxy-authorization, set-cookie, cookies shorter than 20 bytes) are never
 *     inserted nor referenced dynamically, and carry the N bit (§4.5.4, §7.1.3) so intermediaries do not index them.
 *  3. Exact dynamic match: Indexed Field Line, if the entry is acknowledged or this section may block.
 *  4. Fields that repeat across messages (INSERTABLE_NAMES: content-type, server, cache-control, vary, user-agent, ...)
 *     are inserted (Insert with static Name Reference or with Literal Name) when they fit without evicting a
 *     referenced entry, then referenced if this section may block.
 *  5. Everything else: Literal Field Line with (static) Name Reference or with Literal Name.
 * Blocking: a section whose Required Insert Count exceeds the Known Received Count blocks the peer's decoder; the
 * encoder never has more such streams than the peer's SETTINGS_QPACK_BLOCKED_STREAMS (§2.1.2). Eviction: only
 * entries whose insertion was acknowledged and that no unacknowledged section references are evicted (§2.1.1);
 * otherwise insertion gives up and the field is sent as a literal.
 * With the peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY at 0 (or `useDynamicTable: false`) it is static-only.
 */
import { H3ErrorCode, QpackError } from '../errors.js';
import { DynamicTable, ENTRY_OVERHEAD } from './dynamic-table.js';
import { writeInsertWithLiteralName, writeInsertWithNameReference, writeSetCapacity } from './instructions.js';
import { appendPending, ByteWriter, INCOMPLETE, readInteger, readResult } from './primitives.js';
import { STATIC_LOOKUP } from './static-table.js';

const DECODER_STREAM_ERROR = H3ErrorCode.QPACK_DECODER_STREAM_ERROR;

export interface QpackEncoderOptions {
  /** Our own cap on the dynamic table we build in the peer, whatever it allows (default 4096). */
  maxTableCapacity?: number;
  /** false: static table and literals only. */
  useDynamicTable?: boolean;
  /** false: string literals are never Huffman-coded (default true: Huffman when shorter). */
  huffman?: boolean;
}

/** Names whose values are secrets (RFC 9204 §7.1.3): never in the dynamic table, always with the N bit. */
const NEVER_INDEXED_NAMES: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'set-cookie']);
/** Short cookies have little entropy and could be guessed through a compression oracle (RFC 9204 §7.1.3). */
const SHORT_COOKIE_LIMIT = 20;

/** Fields that repeat from message to message: worth a dynamic table entry. */
const INSERTABLE_NAMES: ReadonlySet<string> = new Set([
  ':authority',
  'accept',
  'accept-encoding',
  'accept-language',
  'access-control-allow-origin',
  'alt-svc',
  'cache-control',
  'content-encoding',
  'content-security-policy',
  'content-type',
  'server',
  'strict-transport-security',
  'user-agent',
  'vary',
  'x-content-type-options',
  'x-frame-options',
]);

/**
 * Field sections with dynamic references awaiting acknowledgment, over all streams. A peer that never acknowledges
 * (or never cancels the streams we reset) would otherwise make us remember sections without bound; past this many the
 * encoder stops using the dynamic table until acknowledgments arrive.
 */
export const MAX_OUTSTANDING_SECTIONS = 1000;

/** A field section not yet acknowledged: its Required Insert Count and the entries it references. */
interface OutstandingSection {
  requiredInsertCount: number;
  references: number[];
}

/** How a field line will be written once the section's Base is known. */
type Line =
  | { kind: 'static'; index: number }
  | { kind: 'dynamic'; absolute: number }
  | { kind: 'staticName'; index: number; value: string; never: boolean }
  | { kind: 'literal'; name: string; value: string; never: boolean };

export class QpackEncoder {
  readonly table = new DynamicTable();
  private readonly ownMaxCapacity: number;
  private readonly useDynamicTable: boolean;
  private readonly huffman: boolean;
  private peerMaxCapacity = 0;
  private peerBlockedStreams = 0;
  private capacitySent = false;
  /** RFC 9204 §2.1.4: inserts the decoder is known to have received (acks and increments). */
  knownReceivedCount = 0;
  private readonly outstanding = new Map<number, OutstandingSection[]>();
  private outstandingCount = 0;
  private readonly out = new ByteWriter(64);
  private readonly section = new ByteWriter(256);
  private partial: Uint8Array | null = null;

  constructor(options: QpackEncoderOptions = {}) {
    this.ownMaxCapacity = options.maxTableCapacity ?? 4096;
    this.useDynamicTable = options.useDynamicTable ?? true;
    this.huffman = options.huffman ?? true;
  }

  /** The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 §5). */
  applyPeerSettings(maxTableCapacity: number, blockedStreams: number): void {
    this.peerMaxCapacity = maxTableCapacity;
    this.peerBlockedStreams = blockedStreams;
  }

  /** Encoder-stream bytes to send, or null. Send them before (or with) the field sections that need them. */
  takeInstructions(): Uint8Array | null {
    return this.out.length === 0 ? null : this.out.take();
  }

  /** Streams whose unacknowledged sections may block the peer's decoder (RFC 9204 §2.1.2). */
  get blockingStreamCount(): number {
    let count = 0;
    for (const sections of this.outstanding.values()) {
      if (sections.some((s) => s.requiredInsertCount > this.knownReceivedCount)) count++;
    }
    return count;
  }

  private isBlocking(streamId: number): boolean {
    const sections = this.outstanding.get(streamId);
    return sections !== undefined && sections.some((s) => s.requiredInsertCount > this.knownReceivedCount);
  }

  /** RFC 9204 §3.2.3: MaxEntries from the peer's maximum capacity (for the Required Insert Count encoding). */
  private get maxEntries(): number {
    return Math.floor(this.peerMaxCapacity / ENTRY_OVERHEAD);
  }

  /** Encodes a field section for `streamId` (flat [name, value, ...] list). */
  encode(streamId: number, fields: readonly string[]): Uint8Array {
    const dynamic = this.useDynamicTable && this.peerMaxCapacity > 0 && this.outstandingCount < MAX_OUTSTANDING_SECTIONS;
    if (dynamic && !this.capacitySent) {
      // §4.3.1: the table starts at capacity 0; raise it once to what both sides accept.
      this.capacitySent = true;
      const capacity = Math.min(this.peerMaxCapacity, this.ownMaxCapacity);
      this.table.setCapacity(capacity, H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
      writeSetCapacity(this.out, capacity);
    }
    const mayBlock = dynamic && (this.isBlocking(streamId) || this.blockingStreamCount < this.peerBlockedStreams);
    const lines: Line[] = [];
    const references: number[] = [];
    const reference = (absolute: number) => {
      this.table.get(absolute)!.refs++;
      references.push(absolute);
      lines.push({ kind: 'dynamic', absolute });
    };
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      const staticEntry = STATIC_LOOKUP.get(name);
      const exact = staticEntry?.values.get(value);
      if (exact !== undefined) {
        lines.push({ kind: 'static', index: exact });
        continue;
      }
      const never = NEVER_INDEXED_NAMES.has(name) || (name === 'cookie' && value.length < SHORT_COOKIE_LIMIT);
      if (dynamic && !never) {
        const found = this.table.findField(name, value);
        if (found >= 0 && (found < this.knownReceivedCount || mayBlock)) {
          reference(found);
          continue;
        }
        if (found < 0 && this.shouldInsert(name, value)) {
          const inserted = this.insert(name, value, staticEntry?.nameIndex);
          if (mayBlock) {
            reference(inserted);
            continue;
          }
        }
      }
      lines.push(
        staticEntry !== undefined
          ? { kind: 'staticName', index: staticEntry.nameIndex, value, never }
          : { kind: 'literal', name, value, never },
      );
    }
    return this.writeSection(streamId, lines, references);
  }

  private shouldInsert(name: string, value: string): boolean {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    // Entries above a quarter of the table would churn it; an entry that needs a referenced one evicted is skipped.
    return INSERTABLE_NAMES.has(name) && size <= this.table.capacity / 4 && this.table.canMakeRoom(size, this.knownReceivedCount);
  }

  /** §4.3.2 / §4.3.3: Insert with static Name Reference, or with Literal Name. Returns the new absolute index. */
  private insert(name: string, value: string, staticNameIndex: number | undefined): number {
    if (staticNameIndex !== undefined) writeInsertWithNameReference(this.out, true, staticNameIndex, value, this.huffman);
    else writeInsertWithLiteralName(this.out, name, value, this.huffman);
    return this.table.insert(name, value, H3ErrorCode.QPACK_ENCODER_STREAM_ERROR);
  }

  private writeSection(streamId: number, lines: Line[], references: number[]): Uint8Array {
    const w = this.section;
    let requiredInsertCount = 0;
    for (const absolute of references) if (absolute + 1 > requiredInsertCount) requiredInsertCount = absolute + 1;
    // Base = Required Insert Count: every reference is then a plain relative index (no post-base forms needed).
    const base = requiredInsertCount;
    // §4.5.1.1 Required Insert Count encoding; §4.5.1.2 Delta Base 0 with sign 0.
    w.integer(0, 8, requiredInsertCount === 0 ? 0 : (requiredInsertCount % (2 * this.maxEntries)) + 1);
    w.integer(0, 7, 0);
    for (const line of lines) {
      switch (line.kind) {
        case 'static':
          w.integer(0xc0, 6, line.index);
          break;
        case 'dynamic':
          w.integer(0x80, 6, base - 1 - line.absolute);
          break;
        case 'staticName':
          w.integer(0x50 | (line.never ? 0x20 : 0), 4, line.index);
          w.string(0x00, 7, line.value, this.huffman);
          break;
        case 'literal':
          w.string(0x20 | (line.never ? 0x10 : 0), 3, line.name, this.huffman);
          w.string(0x00, 7, line.value, this.huffman);
          break;
      }
    }
    if (requiredInsertCount > 0) {
      let sections = this.outstanding.get(streamId);
      if (sections === undefined) this.outstanding.set(streamId, (sections = []));
      sections.push({ requiredInsertCount, references });
      this.outstandingCount++;
    }
    return w.take();
  }

  /**
   * Bytes from the peer's decoder stream (RFC 9204 §4.4). Throws QpackError(QPACK_DECODER_STREAM_ERROR) for an
   * acknowledgment of nothing, a zero or excessive Insert Count Increment. Returns the number of instructions.
   */
  receiveDecoderStream(bytes: Uint8Array): number {
    const buf = appendPending(this.partial, bytes);
    this.partial = null;
    let pos = 0;
    let count = 0;
    while (pos < buf.length) {
      const first = buf[pos]!;
      try {
        readInteger(buf, pos, buf.length, first & 0x80 ? 7 : 6, DECODER_STREAM_ERROR);
      } catch (error) {
        if (error !== INCOMPLETE) throw error;
        // An integer below 2^32 takes at most 6 bytes: anything longer was already rejected by readInteger.
        this.partial = buf.slice(pos);
        break;
      }
      pos = readResult.next;
      count++;
      const value = readResult.value;
      if (first & 0x80) this.onSectionAcknowledgment(value);
      else if (first & 0x40) this.onStreamCancellation(value);
      else this.onInsertCountIncrement(value);
    }
    return count;
  }

  /** §4.4.1: the oldest unacknowledged section of the stream was decoded. */
  private onSectionAcknowledgment(streamId: number): void {
    const sections = this.outstanding.get(streamId);
    const section = sections?.shift();
    if (section === undefined) {
      throw new QpackError(DECODER_STREAM_ERROR, `Section Acknowledgment for stream ${streamId} with no outstanding section (RFC 9204 §4.4.1)`);
    }
    if (sections!.length === 0) this.outstanding.delete(streamId);
    this.release(section);
    if (section.requiredInsertCount > this.knownReceivedCount) this.knownReceivedCount = section.requiredInsertCount;
  }

  /** §4.4.2: the stream was abandoned; its sections will never be acknowledged. */
  private onStreamCancellation(streamId: number): void {
    const sections = this.outstanding.get(streamId);
    if (sections === undefined) return;
    this.outstanding.delete(streamId);
    for (const section of sections) this.release(section);
  }

  /** §4.4.3: zero, or beyond what we inserted, is QPACK_DECODER_STREAM_ERROR. */
  private onInsertCountIncrement(increment: number): void {
    if (increment === 0 || this.knownReceivedCount + increment > this.table.insertCount) {
      throw new QpackError(DECODER_STREAM_ERROR, `invalid Insert Count Increment ${increment} (RFC 9204 §4.4.3)`);
    }
    this.knownReceivedCount += increment;
  }

  private release(section: OutstandingSection): void {
    this.outstandingCount--;
    for (const absolute of section.references) {
      const entry = this.table.get(absolute);
      if (entry !== undefined) entry.refs--;
    }
  }
}
