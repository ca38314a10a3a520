/**
 * Which peer-initiated stream ids are new. QUIC delivers each stream in order but not streams in order of their ids:
 * opening stream 8 implicitly opens 0 and 4 (RFC 9000 §2.1, §3.2), whose data may arrive later. So "id below the
 * highest seen" does not mean "a stream we already finished": the ids skipped over are remembered until their data
 * arrives. The skipped ids are streams the peer has open, so QUIC's MAX_STREAMS bounds them; `maxSkipped` is the
 * engine's own bound in case the transport's is larger.
 */
import { H3Error, H3ErrorCode } from './errors.js';

export class PeerStreamIds {
  private highest = -1;
  private readonly skipped = new Set<number>();

  constructor(
    /** The lowest id of this kind (0 client bidi, 2 client uni, 3 server uni); ids step by 4. */
    private readonly first: number,
    private readonly maxSkipped: number,
  ) {}

  /** True the first time data for `streamId` arrives, false for a stream seen before (late data after we finished). */
  isNew(streamId: number): boolean {
    if (streamId > this.highest) {
      const from = this.highest < 0 ? this.first : this.highest + 4;
      if ((streamId - from) / 4 + this.skipped.size > this.maxSkipped) {
        throw new H3Error(H3ErrorCode.H3_EXCESSIVE_LOAD, `stream ${streamId} skips over more than ${this.maxSkipped} unopened streams`);
      }
      for (let id = from; id < streamId; id += 4) this.skipped.add(id);
      this.highest = streamId;
      return true;
    }
    return this.skipped.delete(streamId);
  }

  /** Highest id seen, -1 before the first. */
  get highestSeen(): number {
    return this.highest;
  }

  /** Ids below the highest whose streams have not shown up yet. */
  get pendingCount(): number {
    return this.skipped.size;
  }
}
