/**
 * One stream's two halves (RFC 9000 §3): the receiving part (reassembly, final size §4.5, flow control §4.1,
 * RESET_STREAM / STOP_SENDING) and the sending part (SendBuffer plus the peer's MAX_STREAM_DATA).
 */
import { QuicError, TransportError } from './errors.js';
import { ReceiveWindow } from './flow-control.js';
import { ReassemblyBuffer } from './reassembly.js';
import { SendBuffer } from './stream-sender.js';

/** RFC 9000 §2.1: bit 0 = initiator (0 client, 1 server), bit 1 = direction (0 bidirectional, 1 unidirectional). */
export function isUnidirectional(streamId: number): boolean {
  return (streamId & 0x02) !== 0;
}
export function isClientInitiated(streamId: number): boolean {
  return (streamId & 0x01) === 0;
}

export class QuicStream {
  // Receiving part.
  readonly reassembly = new ReassemblyBuffer();
  readonly receiveWindow: ReceiveWindow;
  finalSize: number | undefined;
  endDelivered = false;
  resetReceived = false;
  /** The application called stopSending(): incoming data is discarded (but still flow-control accounted). */
  stopped = false;
  stopSendingCode: number | undefined;
  stopSendingPending = false;
  maxStreamDataPending = false;

  // Sending part.
  readonly send = new SendBuffer();
  peerMaxStreamData: number;
  resetCode: number | undefined;
  resetPending = false;
  resetAcked = false;
  /** sendStreamData returned false; a 'streamWritable' event is owed. */
  writeBlocked = false;

  constructor(
    readonly id: number,
    readonly canSend: boolean,
    readonly canReceive: boolean,
    receiveWindow: number,
    maxReceiveWindow: number,
    peerMaxStreamData: number,
  ) {
    this.receiveWindow = new ReceiveWindow(receiveWindow, maxReceiveWindow);
    this.peerMaxStreamData = peerMaxStreamData;
  }

  /** Receiving part is finished: everything delivered, or reset, or abandoned by the app after the final size is known. */
  get receiveDone(): boolean {
    if (!this.canReceive) return true;
    return this.endDelivered || this.resetReceived || (this.stopped && this.finalSize !== undefined);
  }

  /** Sending part is finished: all data and FIN acknowledged, or a reset acknowledged. */
  get sendDone(): boolean {
    if (!this.canSend) return true;
    return this.resetAcked || this.send.allAcked;
  }

  /**
   * Validates a STREAM frame against final size and flow control and returns how far it moved the highest
   * received offset (the connection-level flow-control increment).
   */
  checkIncoming(offset: number, length: number, fin: boolean, frameType: number): number {
    const end = offset + length;
    if (this.finalSize !== undefined) {
      // RFC 9000 §4.5: data beyond the final size, or a different final size, is a FINAL_SIZE_ERROR.
      if (end > this.finalSize || (fin && end !== this.finalSize)) {
        throw new QuicError(TransportError.FINAL_SIZE_ERROR, 'stream data beyond or changing its final size', frameType);
      }
    } else if (fin && end < this.receiveWindow.highestReceived) {
      throw new QuicError(TransportError.FINAL_SIZE_ERROR, 'final size below data already received', frameType);
    }
    // RFC 9000 §4.1: more than the advertised MAX_STREAM_DATA is a FLOW_CONTROL_ERROR.
    if (this.receiveWindow.exceeds(end)) {
      throw new QuicError(TransportError.FLOW_CONTROL_ERROR, 'stream data beyond MAX_STREAM_DATA', frameType);
    }
    if (fin) this.finalSize = end;
    const increment = Math.max(0, end - this.receiveWindow.highestReceived);
    this.receiveWindow.highestReceived += increment;
    return increment;
  }
}
