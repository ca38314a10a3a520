/**
 * Byte helpers used by every layer (nothing here imports from the rest of httpsd).
 */

/** The chunks joined in one buffer; `total` is their summed length when the caller already knows it. */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let length = total;
  if (length === undefined) {
    length = 0;
    for (const chunk of chunks) length += chunk.byteLength;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** Output waiting for the transport: chunks in order, handed over as one buffer or as a list for a vectored write. */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private bytes = 0;

  /** Bytes queued. */
  get length(): number {
    return this.bytes;
  }

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.bytes += chunk.byteLength;
  }

  /** Everything queued as one buffer (one chunk is passed through uncopied), or null. */
  take(): Uint8Array | null {
    if (this.bytes === 0) return null;
    const out = concatBytes(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    return out;
  }

  /** Everything queued as the list of chunks (large payloads are not copied), or null. */
  takev(): Uint8Array[] | null {
    if (this.bytes === 0) return null;
    const out = this.chunks;
    this.chunks = [];
    this.bytes = 0;
    return out;
  }
}

/** Byte-wise equality (not constant-time: use the crypto provider's timingSafeEqual for secrets). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
