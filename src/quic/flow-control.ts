/**
 * Receive-side flow control (RFC 9000 §4.1-4.2) for a stream or the connection, with window auto-tuning in the
 * manner of quic-go: the window starts small (cheap idle connections) and doubles, up to a cap, whenever the
 * application consumes a window's worth within a couple of round trips, so a long transfer is not limited to
 * window / RTT.
 */
export class ReceiveWindow {
  /** The limit the peer was last told (initial transport parameter or last MAX_DATA / MAX_STREAM_DATA). */
  maxAdvertised: number;
  /** Highest offset (stream) or sum of highest offsets (connection) received. */
  highestReceived = 0;
  /** Bytes the application consumed (or that were discarded on its behalf). */
  consumed = 0;
  windowSize: number;
  private lastUpdateTime: number | undefined;

  constructor(initial: number, private readonly maxWindow: number) {
    this.maxAdvertised = initial;
    this.windowSize = initial;
  }

  /** RFC 9000 §4.1: true when receiving up to `offset` would exceed what we advertised. */
  exceeds(offset: number): boolean {
    return offset > this.maxAdvertised;
  }

  /** An update is worth a frame once less than half the window remains open. */
  get wantsUpdate(): boolean {
    return this.maxAdvertised - this.consumed < this.windowSize / 2;
  }

  /** Computes the new limit to advertise (auto-tuning the window first). */
  advance(now: number, smoothedRtt: number): number {
    if (this.lastUpdateTime !== undefined && now - this.lastUpdateTime < 2 * smoothedRtt) {
      this.windowSize = Math.min(this.windowSize * 2, this.maxWindow);
    }
    this.lastUpdateTime = now;
    this.maxAdvertised = Math.max(this.maxAdvertised, this.consumed + this.windowSize);
    return this.maxAdvertised;
  }
}
