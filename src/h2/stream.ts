/**
 * One stream's state inside the engine: its §5.1 state (stream-state.ts), both flow-control windows, request facts
 * the engine checks (content-length, CONNECT), and the queue of response DATA waiting for the scheduler.
 */
import type { HeaderList } from './types.js';
import { STREAM_OPEN } from './stream-state.js';

export class Stream {
  state: number = STREAM_OPEN;
  /** Our send window (RFC 9113 §6.9): may go negative after a SETTINGS_INITIAL_WINDOW_SIZE decrease (§6.9.2). */
  sendWindow: number;
  /** What the peer may still send us on this stream. */
  recvWindow: number;
  /** Consumed by the application but not yet returned with WINDOW_UPDATE. */
  recvUnacked = 0;
  /** Delivered in 'data' events and not yet consumed: returned to the connection window if the stream is reset. */
  recvUnconsumed = 0;
  /** content-length of the request, -1 if absent (RFC 9113 §8.1.1). */
  contentLength = -1;
  receivedBodyBytes = 0;
  /**
   * The application received a 'request' event for it, so the engine's resets of it are reported as 'streamReset'
   * (streams answered by the engine alone, such as 431, are not).
   */
  reportedToApp = false;
  /** A CONNECT request (RFC 9113 §8.5, RFC 8441): the stream carries only DATA and stream management frames. */
  tunnel = false;
  /** The final (non-1xx) response HEADERS went out: only DATA and trailers may follow (RFC 9113 §8.1). */
  finalSent = false;

  // Outbound DATA queue: references to the application's chunks.
  chunks: Uint8Array[] = [];
  chunkIndex = 0;
  chunkOffset = 0;
  queuedBytes = 0;
  /** END_STREAM (or trailers) is to follow the queued data. */
  endQueued = false;
  trailers: HeaderList | null = null;
  /** In the scheduler's send queue. */
  scheduled = false;
  /** sendData() returned false: emit 'streamWritable' once the queue drains below the high-water mark. */
  wantWritable = false;

  constructor(
    readonly id: number,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }
}
