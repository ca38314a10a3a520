/**
 * The sending half of a stream, and of each CRYPTO stream (RFC 9000 §3.1, §2.2): buffers written data until it is
 * acknowledged, hands out chunks to send (new data and retransmissions of lost ranges), and tracks FIN.
 */
import { RangeSet } from './rangeset.js';

export interface SendChunk {
  offset: number;
  data: Uint8Array;
  fin: boolean;
}

export class SendBuffer {
  /** Offset one past the last byte written by the application. */
  writtenEnd = 0;
  /** Highest offset ever sent (new data beyond it consumes flow-control credit). */
  highestSent = 0;
  finWritten = false;
  finPending = false;
  finAcked = false;
  private readonly pending = new RangeSet();
  private readonly acked = new RangeSet();
  /** Retained data: chunks starting at `base`, covering [base, writtenEnd). */
  private chunks: Uint8Array[] = [];
  private base = 0;

  write(data: Uint8Array, fin: boolean): void {
    if (data.byteLength > 0) {
      this.chunks.push(data.slice());
      this.pending.add(this.writtenEnd, this.writtenEnd + data.byteLength);
      this.writtenEnd += data.byteLength;
    }
    if (fin && !this.finWritten) {
      this.finWritten = true;
      this.finPending = true;
    }
  }

  /** Bytes written but never sent. */
  get unsent(): number {
    return this.writtenEnd - this.highestSent;
  }
  get hasPending(): boolean {
    return !this.pending.isEmpty || this.finPending;
  }
  /** Everything written, FIN included, has been acknowledged. */
  get allAcked(): boolean {
    return this.finAcked && this.base === this.writtenEnd;
  }

  /** Next chunk of at most maxBytes, not beyond maxOffset (flow control), retransmissions first (lowest offset first). */
  nextChunk(maxBytes: number, maxOffset: number): SendChunk | undefined {
    const first = this.pending.first;
    if (first === undefined) {
      if (this.finPending && this.writtenEnd <= maxOffset) {
        this.finPending = false;
        return { offset: this.writtenEnd, data: new Uint8Array(0), fin: true };
      }
      return undefined;
    }
    const [start, end] = first;
    const chunkEnd = Math.min(end, start + maxBytes, maxOffset);
    if (chunkEnd <= start) return undefined;
    const data = this.read(start, chunkEnd);
    this.pending.subtract(start, chunkEnd);
    this.highestSent = Math.max(this.highestSent, chunkEnd);
    const fin = this.finPending && chunkEnd === this.writtenEnd;
    if (fin) this.finPending = false;
    return { offset: start, data, fin };
  }

  private read(start: number, end: number): Uint8Array {
    let offset = this.base;
    const parts: Uint8Array[] = [];
    for (const chunk of this.chunks) {
      const chunkEnd = offset + chunk.byteLength;
      if (chunkEnd > start && offset < end) parts.push(chunk.subarray(Math.max(0, start - offset), Math.min(chunk.byteLength, end - offset)));
      if (chunkEnd >= end) break;
      offset = chunkEnd;
    }
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(end - start);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.byteLength;
    }
    return out;
  }

  onAcked(offset: number, length: number, fin: boolean): void {
    if (length > 0) this.acked.add(offset, offset + length);
    if (fin) this.finAcked = true;
    // Release the acknowledged prefix.
    const first = this.acked.first;
    if (first !== undefined && first[0] <= this.base && first[1] > this.base) {
      let release = first[1] - this.base;
      while (this.chunks.length > 0 && this.chunks[0]!.byteLength <= release) {
        const chunk = this.chunks.shift()!;
        release -= chunk.byteLength;
        this.base += chunk.byteLength;
      }
      if (release > 0 && this.chunks.length > 0) {
        this.chunks[0] = this.chunks[0]!.subarray(release);
        this.base += release;
      }
      this.acked.removeBelow(this.base);
    }
  }

  onLost(offset: number, length: number, fin: boolean): void {
    const end = offset + length;
    let cursor = Math.max(offset, this.base);
    for (const [s, e] of this.acked.ranges()) {
      if (e <= cursor) continue;
      if (s >= end) break;
      if (s > cursor) this.pending.add(cursor, s);
      cursor = Math.max(cursor, e);
    }
    if (cursor < end) this.pending.add(cursor, end);
    if (fin && !this.finAcked) this.finPending = true;
  }

  /** Drops everything (RESET_STREAM sent, or the CRYPTO space discarded). */
  abandon(): void {
    this.chunks = [];
    this.pending.subtract(0, Number.MAX_SAFE_INTEGER);
    this.finPending = false;
    this.base = this.writtenEnd;
  }
}
