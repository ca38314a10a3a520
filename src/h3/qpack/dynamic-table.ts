/**
 * The QPACK dynamic table (RFC 9204 §3.2), addressed by absolute index (§3.2.4): the first entry ever inserted is 0,
 * and an index never changes while its entry lives. Both sides keep one: the decoder's mirrors what the peer's
 * encoder told it on the encoder stream, the encoder's is the one it edits (and counts references into).
 */
import { QpackError } from '../errors.js';

/** RFC 9204 §3.2.1: an entry's size is its name length + value length + 32. */
export const ENTRY_OVERHEAD = 32;

export interface TableEntry {
  readonly name: string;
  readonly value: string;
  readonly size: number;
  /** Encoder only: field sections not yet acknowledged that reference this entry; it cannot be evicted until 0. */
  refs: number;
}

export class DynamicTable {
  /** Live entries, oldest first: entries[i] has absolute index droppedCount + i. */
  private entries: TableEntry[] = [];
  private head = 0;
  /** Entries evicted so far: the absolute index of the oldest live entry. */
  private droppedCount = 0;
  /** Total number of insertions ever (RFC 9204 §3.2.4 "Insert Count"). */
  insertCount = 0;
  /** Sum of live entry sizes. */
  size = 0;
  capacity = 0;

  get length(): number {
    return this.entries.length - this.head;
  }

  /** Absolute index of the oldest live entry. */
  get oldest(): number {
    return this.droppedCount;
  }

  /** The live entry with absolute index `absolute`, or undefined when evicted or not inserted yet. */
  get(absolute: number): TableEntry | undefined {
    if (absolute < this.droppedCount || absolute >= this.insertCount) return undefined;
    return this.entries[this.head + absolute - this.droppedCount];
  }

  /**
   * RFC 9204 §3.2.3: lowering the capacity evicts from the oldest end. `errorCode` is raised when that would evict a
   * referenced entry (the encoder must never do it; a decoder never has references).
   */
  setCapacity(capacity: number, errorCode: number): void {
    this.evictUntil(capacity, errorCode);
    this.capacity = capacity;
  }

  /**
   * RFC 9204 §3.2.2: evict until the entry fits, then append it. An entry larger than the capacity is an error
   * (`errorCode`: QPACK_ENCODER_STREAM_ERROR on the decoder side, §4.3.2).
   */
  insert(name: string, value: string, errorCode: number): number {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.capacity) {
      throw new QpackError(errorCode, `entry of ${size} bytes exceeds the dynamic table capacity ${this.capacity} (RFC 9204 §3.2.2)`);
    }
    this.evictUntil(this.capacity - size, errorCode);
    this.entries.push({ name, value, size, refs: 0 });
    this.size += size;
    return this.insertCount++;
  }

  /**
   * The encoder's §2.1.1 check: whether `size` more bytes fit after evicting only evictable entries, i.e. entries
   * whose insertion was acknowledged (absolute index below `acknowledgedCount`, the Known Received Count) and that
   * no unacknowledged field section references.
   */
  canMakeRoom(size: number, acknowledgedCount: number): boolean {
    if (size > this.capacity) return false;
    let free = this.capacity - this.size;
    for (let i = this.head; free < size && i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.refs > 0 || this.droppedCount + i - this.head >= acknowledgedCount) return false;
      free += entry.size;
    }
    return free >= size;
  }

  /** Newest live entry with this exact name and value (absolute index), or -1. */
  findField(name: string, value: string): number {
    for (let i = this.entries.length - 1; i >= this.head; i--) {
      const entry = this.entries[i]!;
      if (entry.name === name && entry.value === value) return this.droppedCount + i - this.head;
    }
    return -1;
  }

  private evictUntil(target: number, errorCode: number): void {
    while (this.size > target) {
      const entry = this.entries[this.head]!;
      if (entry.refs > 0) {
        throw new QpackError(errorCode, `dynamic table entry ${this.droppedCount} is still referenced and cannot be evicted (RFC 9204 §2.1.1)`);
      }
      this.head++;
      this.droppedCount++;
      this.size -= entry.size;
    }
    // Compact now and then so the array does not grow without bound on a long connection.
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
