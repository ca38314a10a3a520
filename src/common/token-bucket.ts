/**
 * A token bucket driven by an injected clock: the rate budgets of every engine (HTTP/2, HTTP/3, WebSocket) that
 * bound floods of cheap frames. Refilling is computed from elapsed time when tokens are taken, so no budget needs a
 * timer. Imports nothing from the rest of httpsd.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly ratePerMs: number;
  /** `burst` events at once, refilled at `ratePerSecond`; `now` in ms on the caller's clock. */
  constructor(
    private readonly burst: number,
    ratePerSecond: number,
    now: number,
  ) {
    this.tokens = burst;
    this.ratePerMs = ratePerSecond / 1000;
    this.last = now;
  }

  /** Takes `count` tokens; false when the bucket holds fewer (the budget is exceeded). */
  take(now: number, count = 1): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.ratePerMs);
      this.last = now;
    }
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }
}
