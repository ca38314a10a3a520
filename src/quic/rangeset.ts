/**
 * A set of non-overlapping half-open integer ranges [start, end), kept sorted ascending. Used for received packet
 * numbers (ACK generation), acknowledged ranges and stream/CRYPTO reassembly bookkeeping. `maxRanges` bounds memory:
 * a peer that makes us track many gaps (every other packet number, every other stream byte) cannot grow it without
 * limit; the lowest ranges are forgotten first (they are the least useful to acknowledge again, RFC 9000 §13.2.3).
 */
export class RangeSet {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];

  constructor(private readonly maxRanges = Number.POSITIVE_INFINITY) {}

  get length(): number {
    return this.starts.length;
  }
  get isEmpty(): boolean {
    return this.starts.length === 0;
  }
  /** Ranges, ascending. */
  *ranges(): IterableIterator<[number, number]> {
    for (let i = 0; i < this.starts.length; i++) yield [this.starts[i]!, this.ends[i]!];
  }
  /** Ranges, descending (the order ACK frames list them). */
  descending(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = this.starts.length - 1; i >= 0; i--) out.push([this.starts[i]!, this.ends[i]!]);
    return out;
  }
  get first(): [number, number] | undefined {
    return this.starts.length === 0 ? undefined : [this.starts[0]!, this.ends[0]!];
  }
  /** The largest value in the set. */
  get largest(): number | undefined {
    return this.ends.length === 0 ? undefined : this.ends[this.ends.length - 1]! - 1;
  }

  contains(value: number): boolean {
    const i = this.indexAfter(value) - 1;
    return i >= 0 && value < this.ends[i]!;
  }

  /** Index of the first range whose start is > value. */
  private indexAfter(value: number): number {
    let low = 0;
    let high = this.starts.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.starts[mid]! <= value) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  add(start: number, end = start + 1): void {
    if (end <= start) return;
    let i = this.indexAfter(start) - 1;
    if (i < 0 || this.ends[i]! < start) i++;
    // i: first range that overlaps or touches [start, end), or the insertion point.
    let j = i;
    let newStart = start;
    let newEnd = end;
    while (j < this.starts.length && this.starts[j]! <= end) {
      newStart = Math.min(newStart, this.starts[j]!);
      newEnd = Math.max(newEnd, this.ends[j]!);
      j++;
    }
    this.starts.splice(i, j - i, newStart);
    this.ends.splice(i, j - i, newEnd);
    if (this.starts.length > this.maxRanges) {
      this.starts.shift();
      this.ends.shift();
    }
  }

  /** Removes everything below `value`. */
  removeBelow(value: number): void {
    while (this.starts.length > 0 && this.ends[0]! <= value) {
      this.starts.shift();
      this.ends.shift();
    }
    if (this.starts.length > 0 && this.starts[0]! < value) this.starts[0] = value;
  }

  /** Removes [start, end). */
  subtract(start: number, end: number): void {
    // Fast path: trimming the front of the first range (how send buffers consume their pending ranges).
    if (this.starts.length > 0 && start <= this.starts[0]! && end > this.starts[0]! && end <= this.ends[0]!) {
      if (end === this.ends[0]!) {
        this.starts.shift();
        this.ends.shift();
      } else {
        this.starts[0] = end;
      }
      return;
    }
    const keptStarts: number[] = [];
    const keptEnds: number[] = [];
    for (let i = 0; i < this.starts.length; i++) {
      const s = this.starts[i]!;
      const e = this.ends[i]!;
      if (e <= start || s >= end) {
        keptStarts.push(s);
        keptEnds.push(e);
        continue;
      }
      if (s < start) {
        keptStarts.push(s);
        keptEnds.push(start);
      }
      if (e > end) {
        keptStarts.push(end);
        keptEnds.push(e);
      }
    }
    this.starts.splice(0, this.starts.length, ...keptStarts);
    this.ends.splice(0, this.ends.length, ...keptEnds);
  }
}
