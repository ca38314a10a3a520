/**
 * CUBIC congestion control (RFC 9438) with the same surface as NewReno: a window that grows along a cubic curve
 * anchored at the window before the last congestion event (W_max), never slower than Reno would (§4.3, the
 * "Reno-friendly" estimate), with fast convergence (§4.7). Slow start and recovery periods follow RFC 9002.
 */
import { WindowedController } from './recovery.js';
import type { SentPacket } from './recovery.js';

const C = 0.4; // RFC 9438 §5: C = 0.4
const BETA = 0.7; // §4.6: beta_cubic = 0.7
const ALPHA = (3 * (1 - BETA)) / (1 + BETA); // §4.3: alpha_cubic for the Reno-friendly region

export class Cubic extends WindowedController {
  /** Window before the last reduction, and the one before that (fast convergence), in bytes. */
  private windowMax = 0;
  private lastWindowMax = 0;
  /** Start of the current congestion-avoidance epoch (ms), K (s) and the Reno-friendly estimate (bytes). */
  private epochStart: number | undefined;
  private k = 0;
  private renoEstimate = 0;

  protected congestionAvoidance(packet: SentPacket, now: number, smoothedRtt: number): void {
    if (this.epochStart === undefined) {
      // §4.2: a new epoch; without a prior loss the curve starts at the current window (K = 0).
      this.epochStart = now;
      if (this.windowMax <= this.congestionWindow) {
        this.k = 0;
        this.windowMax = this.congestionWindow;
      } else {
        this.k = Math.cbrt((this.windowMax - this.congestionWindow) / this.maxDatagramSize / C);
      }
      this.renoEstimate = this.congestionWindow;
    }
    const mss = this.maxDatagramSize;
    // §4.2: target = W_cubic(t + RTT), in segments on the curve, converted to bytes.
    const t = (now - this.epochStart + smoothedRtt) / 1000;
    const cubicTarget = C * (t - this.k) ** 3 * mss + this.windowMax;
    // §4.3: the Reno-friendly estimate grows by alpha segments per window acknowledged.
    this.renoEstimate += (ALPHA * mss * packet.size) / this.congestionWindow;
    const target = Math.max(cubicTarget, this.renoEstimate);
    if (target > this.congestionWindow) {
      // §4.4/4.5: approach the target by (target - cwnd) / cwnd per acknowledged segment, at most 1.5× per RTT.
      this.congestionWindow += ((Math.min(target, 1.5 * this.congestionWindow) - this.congestionWindow) * packet.size) / this.congestionWindow;
    }
  }

  /** §4.6 multiplicative decrease by beta, with §4.7 fast convergence. */
  protected reducedWindow(): number {
    this.epochStart = undefined;
    this.lastWindowMax = this.windowMax;
    this.windowMax = this.congestionWindow < this.lastWindowMax ? (this.congestionWindow * (1 + BETA)) / 2 : this.congestionWindow;
    return this.congestionWindow * BETA;
  }

  override onPersistentCongestion(): void {
    super.onPersistentCongestion();
    this.epochStart = undefined;
    this.windowMax = 0;
  }
}
