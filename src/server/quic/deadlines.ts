/**
 * The endpoint's timer queue: a binary min-heap of (deadline, key) entries. Rescheduling a key pushes a new entry
 * and bumps the key's generation, so stale entries are skipped when they surface (lazy deletion): O(log n) per
 * change, one timer for the whole endpoint however many connections it drives.
 */
interface Entry<K> {
  at: number;
  key: K;
  generation: number;
}

export class DeadlineQueue<K> {
  private readonly heap: Entry<K>[] = [];
  private readonly generations = new Map<K, { generation: number; at: number | undefined }>();

  /** Sets (or clears, with undefined) the deadline of `key`. */
  schedule(key: K, at: number | undefined): void {
    const current = this.generations.get(key);
    if (current !== undefined && current.at === at) return;
    const generation = (current?.generation ?? 0) + 1;
    this.generations.set(key, { generation, at });
    if (at !== undefined) this.push({ at, key, generation });
    // Without this, a long-lived queue keeps one stale entry per reschedule until each surfaces.
    if (this.heap.length > 64 && this.heap.length > 4 * this.generations.size) this.compact();
  }

  forget(key: K): void {
    this.generations.delete(key);
  }

  /** The earliest live deadline, or undefined when nothing is scheduled. */
  peek(): number | undefined {
    this.dropStale();
    return this.heap[0]?.at;
  }

  /** Removes and returns every key whose deadline is at or before `now`. */
  due(now: number): K[] {
    const keys: K[] = [];
    for (;;) {
      this.dropStale();
      const top = this.heap[0];
      if (top === undefined || top.at > now) return keys;
      this.pop();
      this.generations.set(top.key, { generation: top.generation, at: undefined });
      keys.push(top.key);
    }
  }

  private isLive(entry: Entry<K>): boolean {
    const current = this.generations.get(entry.key);
    return current !== undefined && current.generation === entry.generation && current.at === entry.at;
  }

  private dropStale(): void {
    while (this.heap.length > 0 && !this.isLive(this.heap[0]!)) this.pop();
  }

  private compact(): void {
    const live = this.heap.filter((entry) => this.isLive(entry));
    this.heap.length = 0;
    for (const entry of live) this.push(entry);
  }

  private push(entry: Entry<K>): void {
    const heap = this.heap;
    heap.push(entry);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= last.at) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
  }
}
