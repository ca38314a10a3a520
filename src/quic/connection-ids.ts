/**
 * Connection ID management (RFC 9000 §5.1): the IDs we issue (NEW_CONNECTION_ID, retired by the peer with
 * RETIRE_CONNECTION_ID) and the IDs the peer issued to us (bounded by our active_connection_id_limit).
 */
import { bytesEqual } from './buffer.js';
import { QuicError, TransportError } from './errors.js';

export interface IssuedConnectionId {
  readonly sequence: number;
  readonly cid: Uint8Array;
  readonly resetToken: Uint8Array;
  /** NEW_CONNECTION_ID still to be (re)sent. */
  pending: boolean;
}

export class LocalConnectionIds {
  readonly active = new Map<number, IssuedConnectionId>();
  nextSequence = 0;
  retirePriorTo = 0;

  constructor(private readonly maxIssued: number) {}

  get issuedTotal(): number {
    return this.nextSequence;
  }
  get canIssue(): boolean {
    return this.nextSequence < this.maxIssued;
  }

  add(cid: Uint8Array, resetToken: Uint8Array, pending: boolean): IssuedConnectionId {
    const entry: IssuedConnectionId = { sequence: this.nextSequence++, cid, resetToken, pending };
    this.active.set(entry.sequence, entry);
    return entry;
  }

  has(cid: Uint8Array): boolean {
    for (const entry of this.active.values()) if (bytesEqual(entry.cid, cid)) return true;
    return false;
  }

  /**
   * RFC 9000 §19.16: retiring a sequence number never issued, or the CID the packet was sent to, is a
   * PROTOCOL_VIOLATION. Returns the retired entry (undefined if already retired).
   */
  retire(sequence: number, packetDestinationCid: Uint8Array): IssuedConnectionId | undefined {
    if (sequence >= this.nextSequence) {
      throw new QuicError(TransportError.PROTOCOL_VIOLATION, 'RETIRE_CONNECTION_ID for an unissued sequence number', 0x19);
    }
    const entry = this.active.get(sequence);
    if (entry === undefined) return undefined;
    if (bytesEqual(entry.cid, packetDestinationCid)) {
      throw new QuicError(TransportError.PROTOCOL_VIOLATION, 'RETIRE_CONNECTION_ID names the CID it was sent to', 0x19);
    }
    this.active.delete(sequence);
    return entry;
  }
}

export interface PeerConnectionId {
  readonly sequence: number;
  readonly cid: Uint8Array;
  readonly resetToken: Uint8Array | undefined;
}

export class PeerConnectionIds {
  readonly active = new Map<number, PeerConnectionId>();
  /** Sequence numbers we must send RETIRE_CONNECTION_ID for (not yet acknowledged). */
  readonly pendingRetire = new Set<number>();
  private retiredBelow = 0;
  currentSequence = 0;

  constructor(
    private readonly activeLimit: number,
    private readonly maxPendingRetirements: number,
  ) {}

  get current(): PeerConnectionId | undefined {
    return this.active.get(this.currentSequence);
  }

  setInitial(cid: Uint8Array, resetToken?: Uint8Array): void {
    this.active.clear();
    this.active.set(0, { sequence: 0, cid, resetToken });
    this.currentSequence = 0;
  }

  /** Stateless reset token of sequence 0 arrives later, in the server's transport parameters. */
  setInitialResetToken(token: Uint8Array): void {
    const entry = this.active.get(0);
    if (entry) this.active.set(0, { ...entry, resetToken: token });
  }

  /** RFC 9000 §19.15 and §5.1.1-5.1.2. */
  add(sequence: number, retirePriorTo: number, cid: Uint8Array, resetToken: Uint8Array): void {
    const existing = this.active.get(sequence);
    if (existing) {
      // §19.15: the same sequence number with a different CID or token is a PROTOCOL_VIOLATION.
      if (!bytesEqual(existing.cid, cid) || (existing.resetToken && !bytesEqual(existing.resetToken, resetToken))) {
        throw new QuicError(TransportError.PROTOCOL_VIOLATION, 'NEW_CONNECTION_ID reuses a sequence number', 0x18);
      }
      return;
    }
    if (sequence < this.retiredBelow) {
      // §19.15: an ID below Retire Prior To arriving late is retired at once.
      this.queueRetire(sequence);
      return;
    }
    this.active.set(sequence, { sequence, cid, resetToken });
    if (retirePriorTo > this.retiredBelow) {
      this.retiredBelow = retirePriorTo;
      for (const seq of [...this.active.keys()]) {
        if (seq < retirePriorTo) {
          this.active.delete(seq);
          this.queueRetire(seq);
        }
      }
      if (!this.active.has(this.currentSequence)) this.currentSequence = Math.min(...this.active.keys());
    }
    // §5.1.1: more active IDs than our active_connection_id_limit is a CONNECTION_ID_LIMIT_ERROR.
    if (this.active.size > this.activeLimit) {
      throw new QuicError(TransportError.CONNECTION_ID_LIMIT_ERROR, 'peer exceeded active_connection_id_limit', 0x18);
    }
  }

  private queueRetire(sequence: number): void {
    this.pendingRetire.add(sequence);
    // §5.1.2: bound the retirements we owe.
    if (this.pendingRetire.size > this.maxPendingRetirements) {
      throw new QuicError(TransportError.CONNECTION_ID_LIMIT_ERROR, 'too many connection IDs retired at once', 0x18);
    }
  }

  /** Switches to an unused peer CID (after a path change, §9.5); false if none is spare. */
  rotate(): boolean {
    const next = [...this.active.keys()].filter((s) => s > this.currentSequence).sort((a, b) => a - b)[0];
    if (next === undefined) return false;
    this.active.delete(this.currentSequence);
    this.queueRetire(this.currentSequence);
    this.currentSequence = next;
    return true;
  }

  hasResetToken(token: Uint8Array, equal: (a: Uint8Array, b: Uint8Array) => boolean): boolean {
    for (const entry of this.active.values()) if (entry.resetToken && equal(entry.resetToken, token)) return true;
    return false;
  }
}
