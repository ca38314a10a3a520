/**
 * Loss detection and congestion control (RFC 9002): RTT estimation (§5), packet- and time-threshold loss detection
 * (§6.1), the probe timeout (§6.2), persistent congestion (§7.6), NewReno (§7, Appendix B) and a pacer (§7.7).
 * Pure bookkeeping: the connection owns the packets and decides what to retransmit.
 */

export const PACKET_THRESHOLD = 3; // RFC 9002 §6.1.1 kPacketThreshold
export const TIME_THRESHOLD = 9 / 8; // §6.1.2 kTimeThreshold
export const GRANULARITY = 1; // ms, §6.1.2 kGranularity
export const INITIAL_RTT = 333; // ms, §6.2.2 kInitialRtt
const PERSISTENT_CONGESTION_THRESHOLD = 3; // §7.6.1

/** What the connection must redo if a packet is lost, or may release when it is acknowledged. */
export type SentFrameRecord =
  | { kind: 'crypto'; offset: number; length: number }
  | { kind: 'stream'; streamId: number; offset: number; length: number; fin: boolean }
  | { kind: 'resetStream'; streamId: number }
  | { kind: 'stopSending'; streamId: number }
  | { kind: 'maxData' }
  | { kind: 'maxStreamData'; streamId: number }
  | { kind: 'maxStreams'; bidirectional: boolean }
  | { kind: 'newConnectionId'; sequence: number }
  | { kind: 'retireConnectionId'; sequence: number }
  | { kind: 'handshakeDone' }
  | { kind: 'dataBlocked' }
  | { kind: 'newToken' };

export interface SentPacket {
  packetNumber: number;
  timeSent: number;
  size: number;
  ackEliciting: boolean;
  inFlight: boolean;
  frames: SentFrameRecord[];
  /** A PMTU probe (RFC 9000 §14.4): its loss is no congestion signal. */
  pmtuProbe?: boolean;
}

export class RttEstimator {
  latest = 0;
  smoothed = INITIAL_RTT;
  variance = INITIAL_RTT / 2;
  min = Number.POSITIVE_INFINITY;
  hasSample = false;

  /** RFC 9002 §5.3, with ack_delay already capped by the caller once the handshake is confirmed. */
  update(latestRtt: number, ackDelay: number): void {
    this.latest = latestRtt;
    if (!this.hasSample) {
      this.hasSample = true;
      this.min = latestRtt;
      this.smoothed = latestRtt;
      this.variance = latestRtt / 2;
      return;
    }
    this.min = Math.min(this.min, latestRtt);
    const adjusted = latestRtt >= this.min + ackDelay ? latestRtt - ackDelay : latestRtt;
    this.variance = (3 / 4) * this.variance + (1 / 4) * Math.abs(this.smoothed - adjusted);
    this.smoothed = (7 / 8) * this.smoothed + (1 / 8) * adjusted;
  }

  /** §6.2.1 PTO without max_ack_delay and backoff. */
  get ptoBase(): number {
    return this.smoothed + Math.max(4 * this.variance, GRANULARITY);
  }

  /** §6.1.2: max(kTimeThreshold * max(smoothed_rtt, latest_rtt), kGranularity). */
  get lossDelay(): number {
    return Math.max(TIME_THRESHOLD * Math.max(this.smoothed, this.latest), GRANULARITY);
  }
}

/** What the connection needs from a congestion controller (NewReno here, CUBIC in cubic.ts). */
export interface CongestionController {
  readonly congestionWindow: number;
  readonly bytesInFlight: number;
  /** Window left for new in-flight bytes. */
  readonly available: number;
  onSent(bytes: number): void;
  /** Packets leaving flight without a congestion signal (discarded keys, Retry, path change). */
  onRemoved(bytes: number): void;
  onAcked(packet: SentPacket, now: number, smoothedRtt: number): void;
  /** A loss of a packet sent at timeSent (one reduction per recovery period). */
  onCongestionEvent(timeSent: number, now: number): void;
  onPersistentCongestion(): void;
  /** The path's datagram size changed (PMTU discovery, RFC 9002 §7.2). */
  setMaxDatagramSize(size: number): void;
}

/**
 * What every window-based controller shares (RFC 9002 §7.2, §7.3.2, §7.6.2): the initial and minimum windows,
 * bytes in flight, slow start, and one reduction per recovery period. Subclasses decide how congestion avoidance
 * grows the window and how far a loss shrinks it.
 */
export abstract class WindowedController implements CongestionController {
  congestionWindow: number;
  bytesInFlight = 0;
  slowStartThreshold = Number.POSITIVE_INFINITY;
  protected recoveryStartTime = Number.NEGATIVE_INFINITY;
  protected minimumWindow: number;

  constructor(protected maxDatagramSize: number) {
    this.congestionWindow = initialWindow(maxDatagramSize);
    this.minimumWindow = 2 * maxDatagramSize;
  }

  /**
   * §7.2: the window is in bytes and stays as it is, but what is measured in datagrams follows the new size: the
   * minimum window, Reno's and CUBIC's growth per window. Before any congestion event the initial window is
   * recalculated with the new size (it only grows: probing raises the size once the handshake is confirmed).
   */
  setMaxDatagramSize(size: number): void {
    this.maxDatagramSize = size;
    this.minimumWindow = 2 * size;
    if (this.slowStartThreshold === Number.POSITIVE_INFINITY) this.congestionWindow = Math.max(this.congestionWindow, initialWindow(size));
    this.congestionWindow = Math.max(this.congestionWindow, this.minimumWindow);
  }

  get available(): number {
    return Math.max(0, this.congestionWindow - this.bytesInFlight);
  }

  onSent(bytes: number): void {
    this.bytesInFlight += bytes;
  }

  onRemoved(bytes: number): void {
    this.bytesInFlight = Math.max(0, this.bytesInFlight - bytes);
  }

  onAcked(packet: SentPacket, now: number, smoothedRtt: number): void {
    this.onRemoved(packet.size);
    // §7.3.2: no growth during recovery for packets sent before it began.
    if (packet.timeSent <= this.recoveryStartTime) return;
    if (this.congestionWindow < this.slowStartThreshold) this.congestionWindow += packet.size;
    else this.congestionAvoidance(packet, now, smoothedRtt);
  }

  /** §7.3.2: one window reduction per round trip: losses of packets sent before recovery began are ignored. */
  onCongestionEvent(timeSent: number, now: number): void {
    if (timeSent <= this.recoveryStartTime) return;
    this.recoveryStartTime = now;
    this.slowStartThreshold = Math.max(this.reducedWindow(), this.minimumWindow);
    this.congestionWindow = this.slowStartThreshold;
  }

  /** §7.6.2: collapse to the minimum window. */
  onPersistentCongestion(): void {
    this.congestionWindow = this.minimumWindow;
    this.recoveryStartTime = Number.NEGATIVE_INFINITY;
  }

  protected abstract congestionAvoidance(packet: SentPacket, now: number, smoothedRtt: number): void;
  /** The window after a congestion event (before the minimum-window floor). */
  protected abstract reducedWindow(): number;
}

/** §7.2: min(10 * max_datagram_size, max(14720, 2 * max_datagram_size)). */
function initialWindow(maxDatagramSize: number): number {
  return Math.min(10 * maxDatagramSize, Math.max(14720, 2 * maxDatagramSize));
}

/** RFC 9002 §7 / Appendix B: NewReno: one datagram per window acknowledged, half the window on loss. */
export class NewReno extends WindowedController {
  protected congestionAvoidance(packet: SentPacket): void {
    this.congestionWindow += (this.maxDatagramSize * packet.size) / this.congestionWindow;
  }

  protected reducedWindow(): number {
    return this.congestionWindow / 2;
  }
}

/**
 * RFC 9002 §7.7 pacer: a token bucket filled at 1.25 × cwnd / smoothed_rtt. It holds what that rate accrues over
 * two timer granularities (at least an initial-window burst, at most the window): the connection reports "may not
 * send before T" through nextDeadline, and a timer cannot wake it sooner than GRANULARITY, so a smaller bucket would
 * cap the rate at bucket / GRANULARITY whatever the window (10 datagrams a millisecond, 12 MB/s, on a sub-millisecond
 * path). quic-go sizes its burst the same way (pacer.maxBurstSize).
 */
export class Pacer {
  private tokens: number;
  private lastUpdate: number | undefined;

  constructor(private maxDatagramSize: number) {
    this.tokens = 10 * maxDatagramSize;
  }

  /** PMTU discovery changed the datagram size: bursts and the "a full datagram may go" test follow it. */
  setMaxDatagramSize(size: number): void {
    this.maxDatagramSize = size;
  }

  private capacity(congestionWindow: number, rate: number): number {
    const burst = Math.max(10 * this.maxDatagramSize, 2 * GRANULARITY * rate);
    return Math.max(2 * this.maxDatagramSize, Math.min(burst, congestionWindow));
  }

  private refill(now: number, congestionWindow: number, smoothedRtt: number): void {
    if (this.lastUpdate !== undefined && now > this.lastUpdate) {
      const rate = (1.25 * congestionWindow) / Math.max(smoothedRtt, GRANULARITY);
      this.tokens = Math.min(this.capacity(congestionWindow, rate), this.tokens + (now - this.lastUpdate) * rate);
    }
    this.lastUpdate = now;
  }

  /** undefined when a full datagram may go now, else the time when it may. */
  nextSendTime(now: number, congestionWindow: number, smoothedRtt: number): number | undefined {
    this.refill(now, congestionWindow, smoothedRtt);
    // One byte of tolerance: floating-point refill must not leave us waiting for a fraction of a byte.
    if (this.tokens >= this.maxDatagramSize - 1) return undefined;
    const rate = (1.25 * congestionWindow) / Math.max(smoothedRtt, GRANULARITY);
    const at = now + (this.maxDatagramSize - this.tokens) / rate;
    return at > now ? at : undefined;
  }

  onSent(bytes: number): void {
    this.tokens = Math.max(0, this.tokens - bytes);
  }
}

/**
 * §7.6.2: persistent congestion when ack-eliciting packets lost across more than the persistent-congestion
 * duration, with no packet in between acknowledged (the caller passes only such a contiguous lost run).
 */
export function isPersistentCongestion(lost: readonly SentPacket[], rtt: RttEstimator, maxAckDelay: number): boolean {
  if (!rtt.hasSample) return false;
  // RFC 9000 §14.4: lost PMTU probes say nothing about congestion.
  const ackEliciting = lost.filter((p) => p.ackEliciting && p.pmtuProbe !== true);
  if (ackEliciting.length < 2) return false;
  const duration = (rtt.ptoBase + maxAckDelay) * PERSISTENT_CONGESTION_THRESHOLD;
  return ackEliciting[ackEliciting.length - 1]!.timeSent - ackEliciting[0]!.timeSent > duration;
}
