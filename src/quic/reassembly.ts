/**
 * In-order delivery of CRYPTO and STREAM data that may arrive out of order, duplicated or overlapping
 * (RFC 9000 §2.2, §19.6). Memory is bounded by the caller: flow control for streams, maxCryptoBuffer for CRYPTO.
 */
import { RangeSet } from './rangeset.js';

export class ReassemblyBuffer {
  /** Bytes delivered in order so far. */
  delivered = 0;
  private readonly chunks = new Map<number, Uint8Array>();
  private readonly received = new RangeSet();
  private buffered = 0;

  /** Bytes held out of order (not yet deliverable). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds data at offset; returns the bytes that became contiguous (possibly several chunks), in order. */
  insert(offset: number, data: Uint8Array): Uint8Array[] {
    let start = offset;
    let bytes = data;
    if (start < this.delivered) {
      bytes = bytes.subarray(Math.min(bytes.byteLength, this.delivered - start));
      start = this.delivered;
    }
    if (bytes.byteLength === 0) return [];
    const end = start + bytes.byteLength;
    if (this.isCovered(start, end)) return [];
    if (start > this.delivered) {
      // Keep the longest chunk per offset; overlapping chunks are trimmed on delivery.
      const existing = this.chunks.get(start);
      if (existing === undefined || existing.byteLength < bytes.byteLength) {
        this.buffered += bytes.byteLength - (existing?.byteLength ?? 0);
        this.chunks.set(start, bytes.slice());
      }
      this.received.add(start, end);
      return [];
    }
    const out: Uint8Array[] = [bytes];
    this.delivered = end;
    this.received.add(start, end);
    this.drain(out);
    this.received.removeBelow(this.delivered);
    return out;
  }

  private isCovered(start: number, end: number): boolean {
    for (const [s, e] of this.received.ranges()) if (s <= start && e >= end) return true;
    return false;
  }

  private drain(out: Uint8Array[]): void {
    for (;;) {
      let progressed = false;
      for (const [offset, chunk] of this.chunks) {
        if (offset > this.delivered) continue;
        this.chunks.delete(offset);
        this.buffered -= chunk.byteLength;
        const end = offset + chunk.byteLength;
        if (end > this.delivered) {
          out.push(chunk.subarray(this.delivered - offset));
          this.delivered = end;
        }
        progressed = true;
      }
      if (!progressed) return;
    }
  }
}
