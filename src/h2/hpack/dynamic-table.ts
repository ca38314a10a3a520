/**
 * The HPACK dynamic table (RFC 7541 §2.3.2, §4) shared by the decoder and the encoder: a ring buffer, newest entry at
 * dynamic index 1. Parallel arrays of names and values avoid one object per entry. Both sides use this one class so
 * their eviction rules (§4.3, §4.4) cannot drift apart: the peer's table must stay identical to ours.
 *
 * Subclasses that index the entries (the encoder's lookup maps) override onInsert/onEvict; the base versions are
 * empty, so the decoder pays nothing for them.
 */

/** RFC 7541 §4.1: an entry's size is its name length plus its value length plus 32 (octets). */
export const ENTRY_OVERHEAD = 32;

/** Initial ring capacity; always a power of two so slot arithmetic is a mask. */
const INITIAL_CAPACITY = 8;

export class DynamicTable {
  names: string[] = new Array<string>(INITIAL_CAPACITY);
  values: string[] = new Array<string>(INITIAL_CAPACITY);
  /** Index in the ring arrays of the oldest entry. */
  head = 0;
  length = 0;
  /** Sum of entry sizes (§4.1). */
  size = 0;
  maxSize: number;

  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }

  /** Ring slot of dynamic index `index` (1 = newest). The caller checked 1 <= index <= length. */
  slot(index: number): number {
    return (this.head + this.length - index) & (this.names.length - 1);
  }

  /** Table contents, newest first, as [name, value] pairs (for tests and tracing; allocates). */
  entries(): Array<[string, string]> {
    const entries: Array<[string, string]> = [];
    for (let index = 1; index <= this.length; index++) {
      const slot = this.slot(index);
      entries.push([this.names[slot]!, this.values[slot]!]);
    }
    return entries;
  }

  /** RFC 7541 §4.4: evict from the end until the new entry fits; an entry larger than maxSize empties the table. */
  add(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.maxSize) {
      this.evictUntil(0);
      this.head = 0;
      return;
    }
    this.evictUntil(this.maxSize - entrySize);
    if (this.length === this.names.length) this.grow();
    const slot = (this.head + this.length) & (this.names.length - 1);
    this.names[slot] = name;
    this.values[slot] = value;
    this.length++;
    this.size += entrySize;
    this.onInsert(name, value);
  }

  /** RFC 7541 §4.3: a smaller maximum evicts from the end. */
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    this.evictUntil(maxSize);
  }

  /** Empty the ring and give it room for `capacity` entries (rounded up to a power of two, at least 16). */
  protected reset(capacity: number): void {
    let ringCapacity = INITIAL_CAPACITY;
    while (ringCapacity < capacity) ringCapacity *= 2;
    this.names = new Array<string>(ringCapacity);
    this.values = new Array<string>(ringCapacity);
    this.head = 0;
    this.length = 0;
    this.size = 0;
  }

  /** Called after an entry was appended (it is the newest, at dynamic index 1). */
  protected onInsert(_name: string, _value: string): void {}

  /** Called for the oldest entry just before it leaves the table (`length` still counts it). */
  protected onEvict(_name: string, _value: string): void {}

  private evictUntil(targetSize: number): void {
    const mask = this.names.length - 1;
    while (this.size > targetSize) {
      const slot = this.head;
      const name = this.names[slot]!;
      const value = this.values[slot]!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
      this.onEvict(name, value);
      // Drop references so evicted strings can be collected.
      this.names[slot] = '';
      this.values[slot] = '';
      this.head = (slot + 1) & mask;
      this.length--;
    }
  }

  private grow(): void {
    const capacity = this.names.length;
    const names = new Array<string>(capacity * 2);
    const values = new Array<string>(capacity * 2);
    for (let i = 0; i < this.length; i++) {
      const slot = (this.head + i) & (capacity - 1);
      names[i] = this.names[slot]!;
      values[i] = this.values[slot]!;
    }
    this.names = names;
    this.values = values;
    this.head = 0;
  }
}
