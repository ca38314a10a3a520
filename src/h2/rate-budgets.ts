/**
 * The engine's DoS rate budgets (limits.ts documents each number and the attack it bounds): token buckets driven by
 * the engine's injected clock. A budget that runs out ends the connection with GOAWAY(ENHANCE_YOUR_CALM); refilling
 * is computed from elapsed time when a token is taken, so no budget needs a timer.
 *
 * Each bucket is created when its budget is first drawn on: a bucket nobody took from is full, whenever it was
 * created, so a late one behaves exactly like one made with the connection, and most connections never draw on most
 * budgets (memory per idle connection).
 */
import { TokenBucket } from '../common/token-bucket.js';
import type { H2Limits } from './types.js';

/** One connection's budgets. */
export class RateBudgets {
  private peerResetBucket: TokenBucket | null = null;
  private engineResetBucket: TokenBucket | null = null;
  private emptyFrameBucket: TokenBucket | null = null;
  private controlFrameBucket: TokenBucket | null = null;

  constructor(
    private readonly limits: H2Limits,
    /** The engine's clock: a bucket starts full at the time it is created. */
    private readonly now: () => number,
  ) {}

  /** Streams the peer resets (HTTP/2 Rapid Reset, CVE-2023-44487). */
  get peerResets(): TokenBucket {
    return (this.peerResetBucket ??= new TokenBucket(this.limits.rapidResetBurst, this.limits.rapidResetRatePerSecond, this.now()));
  }

  /** Resets and refusals the engine sends because of peer errors (MadeYouReset, CVE-2025-8671). */
  get engineResets(): TokenBucket {
    return (this.engineResetBucket ??= new TokenBucket(this.limits.serverResetBurst, this.limits.serverResetRatePerSecond, this.now()));
  }

  /** Frames that carry no progress: empty DATA and header fragments (CVE-2019-9518). */
  get emptyFrames(): TokenBucket {
    return (this.emptyFrameBucket ??= new TokenBucket(this.limits.emptyFrameBurst, this.limits.emptyFrameRatePerSecond, this.now()));
  }

  /** Control frames that cost work without moving data (CVE-2019-9512/9513/9515). */
  get controlFrames(): TokenBucket {
    return (this.controlFrameBucket ??= new TokenBucket(this.limits.controlFrameBurst, this.limits.controlFrameRatePerSecond, this.now()));
  }
}
