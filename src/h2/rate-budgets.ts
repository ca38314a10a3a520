/**
 * The engine's DoS rate budgets (limits.ts documents each number and the attack it bounds): token buckets driven by
 * the engine's injected clock. A budget that runs out ends the connection with GOAWAY(ENHANCE_YOUR_CALM); refilling
 * is computed from elapsed time when a token is taken, so no budget needs a timer.
 */
import { TokenBucket } from '../common/token-bucket.js';
import type { H2Limits } from './types.js';

/** One connection's budgets. */
export class RateBudgets {
  /** Streams the peer resets (HTTP/2 Rapid Reset, CVE-2023-44487). */
  readonly peerResets: TokenBucket;
  /** Resets and refusals the engine sends because of peer errors (MadeYouReset, CVE-2025-8671). */
  readonly engineResets: TokenBucket;
  /** Frames that carry no progress: empty DATA and header fragments (CVE-2019-9518). */
  readonly emptyFrames: TokenBucket;
  /** Control frames that cost work without moving data (CVE-2019-9512/9513/9515). */
  readonly controlFrames: TokenBucket;

  constructor(limits: H2Limits, now: number) {
    this.peerResets = new TokenBucket(limits.rapidResetBurst, limits.rapidResetRatePerSecond, now);
    this.engineResets = new TokenBucket(limits.serverResetBurst, limits.serverResetRatePerSecond, now);
    this.emptyFrames = new TokenBucket(limits.emptyFrameBurst, limits.emptyFrameRatePerSecond, now);
    this.controlFrames = new TokenBucket(limits.controlFrameBurst, limits.controlFrameRatePerSecond, now);
  }
}
