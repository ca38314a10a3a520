/**
 * Datagram Packetization Layer PMTU Discovery (DPLPMTUD, RFC 8899 §5) as RFC 9000 §14.3 applies it to QUIC: every
 * path carries 1200-byte datagrams (the BASE_PLPMTU, RFC 9000 §14); larger sizes are proven by probes — a PING padded
 * to the size, in its own 1-RTT packet — that the peer acknowledges. Pure bookkeeping: the connection builds and sends
 * the probes, reports what happened to them, and sizes its datagrams (and its congestion window's segment) by
 * `current`.
 *
 * States (RFC 8899 §5.2): disabled (nothing above the base may be sent: our limit or the peer's
 * max_udp_payload_size is 1200), base (the handshake is not yet confirmed, RFC 9000 §14.3 probes only after it),
 * searching (probes in progress), complete (the largest size that works is known, to within a byte).
 * The search first tries the largest size allowed (a 1500-byte Ethernet path carries the default 1452 over IPv6 and
 * over IPv4), then bisects between the confirmed size and the smallest size that failed.
 */
export const BASE_PLPMTU = 1200;
/** RFC 8899 §5.1.2 MAX_PROBES: unacknowledged probes of one size before the size counts as too large. */
export const MAX_PROBES = 3;
/**
 * Black-hole detection (RFC 8899 §4.3): this many full-size (above BASE_PLPMTU) packets declared lost, none of them
 * followed by an acknowledged full-size packet, while something smaller sent after them was acknowledged. Losses
 * from congestion leave later full-size packets acknowledged (the count resets). 10 because with 6, bursts of 3
 * losses at 5 % (test/quic's channel, 10 seeds, 1 MB each) still looked like a black hole twice; with 10, never.
 */
export const BLACK_HOLE_LOSSES = 10;
/**
 * PTOs in a row after which the PTO probes go at BASE_PLPMTU: when the path stopped carrying full-size datagrams,
 * nothing is acknowledged until a smaller packet gets through, and the full-size losses declared then are what
 * onLost counts.
 */
export const BLACK_HOLE_PTOS = 2;

export type PmtuState = 'disabled' | 'base' | 'searching' | 'complete';

export class PathMtu {
  /** The confirmed PLPMTU: the largest datagram the connection sends. */
  current = BASE_PLPMTU;
  state: PmtuState;
  /** The most the search may reach: our limit, then also the peer's max_udp_payload_size. */
  private ceiling: number;
  /** Largest size not known to fail (the search's upper bound), and the size the next probe has. */
  private high: number;
  private nextSize: number;
  /** Size of the probe in flight, if any, and how many probes of nextSize were lost. */
  private probing: number | undefined;
  private lostAtSize = 0;
  /** Black-hole bookkeeping: newest full-size packet acknowledged, full-size losses after it. */
  private largestFullSizeAcked = -1;
  private fullSizeLosses = 0;
  /** Probes sent and lost, black holes detected (for stats and tests). */
  probesSent = 0;
  probesLost = 0;
  blackHoles = 0;

  constructor(maxSize: number) {
    this.ceiling = Math.max(BASE_PLPMTU, maxSize);
    this.high = this.ceiling;
    this.nextSize = this.ceiling;
    this.state = this.ceiling > BASE_PLPMTU ? 'base' : 'disabled';
  }

  /** RFC 8899 §5.2 BASE → SEARCHING once the handshake is confirmed, bounded by the peer's max_udp_payload_size. */
  start(peerMaxUdpPayload: number): void {
    if (this.state !== 'base') return;
    this.ceiling = Math.max(BASE_PLPMTU, Math.min(this.ceiling, peerMaxUdpPayload));
    if (this.ceiling <= BASE_PLPMTU) {
      this.state = 'disabled';
      return;
    }
    this.high = this.ceiling;
    this.resetSearch();
  }

  /** The size of the next probe, or undefined when none is due (one probe in flight at a time). */
  nextProbe(): number | undefined {
    return this.state === 'searching' && this.probing === undefined ? this.nextSize : undefined;
  }

  onProbeSent(size: number): void {
    this.probing = size;
    this.probesSent++;
  }

  /** A probe was acknowledged: its size is the new PLPMTU. Returns true when `current` changed. */
  onProbeAcked(size: number): boolean {
    if (size === this.probing) this.probing = undefined;
    if (this.state !== 'searching' || size <= this.current || size > this.high) return false;
    this.current = size;
    this.lostAtSize = 0;
    this.advance();
    return true;
  }

  /** RFC 9000 §14.4 / RFC 8899 §4.4: a lost probe says the size is too large, not that the path is congested. */
  onProbeLost(size: number): void {
    this.probesLost++;
    if (size === this.probing) this.probing = undefined;
    if (this.state !== 'searching' || size !== this.nextSize) return;
    if (++this.lostAtSize < MAX_PROBES) return;
    this.lostAtSize = 0;
    this.high = size - 1;
    this.advance();
  }

  /** The next probe bisects what is left between the confirmed size and the upper bound, or the search ends. */
  private advance(): void {
    if (this.high <= this.current) {
      this.state = 'complete';
      return;
    }
    this.nextSize = this.current + Math.ceil((this.high - this.current) / 2);
  }

  /** A non-probe packet was acknowledged. */
  onAcked(packetNumber: number, size: number): void {
    if (size > BASE_PLPMTU && packetNumber > this.largestFullSizeAcked) {
      this.largestFullSizeAcked = packetNumber;
      this.fullSizeLosses = 0;
    }
  }

  /** A non-probe packet was declared lost. Returns true when that makes it a black hole (see BLACK_HOLE_LOSSES). */
  onLost(packetNumber: number, size: number): boolean {
    if (size <= BASE_PLPMTU || packetNumber < this.largestFullSizeAcked || this.current <= BASE_PLPMTU) return false;
    return ++this.fullSizeLosses >= BLACK_HOLE_LOSSES;
  }

  /**
   * RFC 8899 §4.3 / §5.2: packets of the current size stopped arriving: back to BASE_PLPMTU, and search again below
   * the size that failed (so a path whose MTU shrank settles at its new size instead of re-probing the old one).
   */
  onBlackHole(): void {
    if (this.current <= BASE_PLPMTU) return;
    this.blackHoles++;
    this.high = this.current - 1;
    this.current = BASE_PLPMTU;
    this.resetSearch();
  }

  /** A new path (RFC 9000 §9.4: its MTU is unknown): back to BASE and search from the top again. */
  restart(): void {
    if (this.state === 'disabled' || this.state === 'base') return;
    this.current = BASE_PLPMTU;
    this.high = this.ceiling;
    this.resetSearch();
  }

  /** SEARCHING from the confirmed size, the first probe at the upper bound (the common path carries it). */
  private resetSearch(): void {
    this.probing = undefined;
    this.lostAtSize = 0;
    this.largestFullSizeAcked = -1;
    this.fullSizeLosses = 0;
    this.nextSize = this.high;
    this.state = this.high > this.current ? 'searching' : 'complete';
  }
}
