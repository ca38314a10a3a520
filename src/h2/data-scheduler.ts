/**
 * Outbound DATA: per-stream queues of the application's chunks (references, no copies) framed on demand,
 * round-robin across streams (one frame per stream per pass), within the connection and stream flow-control windows
 * (RFC 9113 §6.9), the peer's SETTINGS_MAX_FRAME_SIZE (§4.2) and the caller's byte budget. Large frames can be
 * handed out as views of the application's chunks (dataToSendv) instead of being copied into the output buffer.
 */
import { DEFAULT_INITIAL_WINDOW_SIZE, FLAG_END_STREAM, FRAME_HEADER_LENGTH, type FrameWriter } from './frames.js';
import { canSend } from './stream-state.js';
import type { Stream } from './stream.js';
import type { HeaderList } from './types.js';
import { FrameType } from './types.js';

/** Smallest DATA payload handed out as a view: below it a copy is cheaper than another write buffer. */
const ZERO_COPY_MIN_FRAME = 2048;
const EMPTY = new Uint8Array(0);

/** What the scheduler needs from its connection (the connection itself: no closures kept per connection). */
export interface DataSchedulerHost {
  /** The stream's END_STREAM went out (last DATA frame, empty DATA or trailers): its state moves (§5.1). */
  schedulerSentEndStream(stream: Stream): void;
  /** Trailers are due on the stream after its DATA: encoded now, so HPACK state follows wire order. */
  schedulerSendTrailers(stream: Stream, trailers: HeaderList): void;
  /** A stream whose sendData() returned false drained below the high-water mark. */
  schedulerStreamWritable(stream: Stream): void;
  /** Frames written to the output from `start` on (only called when the scheduler was created with `tracing`). */
  schedulerTraceWritten(start: number): void;
}

export class DataScheduler {
  /** What we may still send on the connection (RFC 9113 §6.9.1); the peer raises it with WINDOW_UPDATE on stream 0. */
  connectionSendWindow = DEFAULT_INITIAL_WINDOW_SIZE;
  /** Queued DATA bytes over all streams. */
  totalQueuedData = 0;
  private queue: Stream[] = [];
  /** A scheduled stream has only END_STREAM/trailers to send: writable even with no connection window. */
  private controlOnlyScheduled = false;
  /** Set while framing for dataToSendv(): large payloads are appended here as views instead of copied. */
  private vector: Uint8Array[] | null = null;

  constructor(
    private readonly writer: FrameWriter,
    private readonly host: DataSchedulerHost,
    private readonly streamHighWaterMark: number,
    /** Frames are traced: report each written frame to the host (schedulerTraceWritten). */
    private readonly tracing: boolean,
  ) {}

  /** Something can be framed now. */
  get hasSendable(): boolean {
    return this.queue.length > 0 && (this.connectionSendWindow > 0 || this.controlOnlyScheduled);
  }

  get hasQueued(): boolean {
    return this.queue.length > 0;
  }

  /** DATA bytes that could be framed right now (queued and within the connection window). */
  get sendableBytes(): number {
    return Math.min(this.totalQueuedData, Math.max(0, this.connectionSendWindow));
  }

  /** Queues DATA (and END_STREAM). Returns false once the stream holds more than the high-water mark. */
  enqueue(stream: Stream, data: Uint8Array, endStream: boolean): boolean {
    if (data.length > 0) {
      stream.chunks.push(data);
      stream.queuedBytes += data.length;
      this.totalQueuedData += data.length;
    }
    if (endStream) stream.endQueued = true;
    if (data.length > 0 || endStream) this.schedule(stream);
    if (stream.queuedBytes > this.streamHighWaterMark) {
      stream.wantWritable = true;
      return false;
    }
    return true;
  }

  /** Puts a stream with something to send (or a window that opened) in the queue. */
  schedule(stream: Stream): void {
    if (stream.queuedBytes === 0) this.controlOnlyScheduled = true;
    if (stream.scheduled) return;
    stream.scheduled = true;
    this.queue.push(stream);
  }

  /** The stream closed: its queued data will never be sent. */
  discard(stream: Stream): void {
    if (stream.queuedBytes > 0) {
      this.totalQueuedData -= stream.queuedBytes;
      stream.queuedBytes = 0;
    }
    stream.chunks = [];
    stream.trailers = null;
    stream.endQueued = false;
  }

  /** The connection ended: nothing queued will be sent. */
  clear(): void {
    this.queue = [];
    this.totalQueuedData = 0;
  }

  /** Frames queued DATA into the writer (copies) or, with `vector`, partly as views appended to it. */
  write(maxBytes: number, maxFrameSize: number, vector: Uint8Array[] | null): void {
    if (this.queue.length > 0) {
      this.vector = vector;
      try {
        this.writeQueued(maxBytes, maxFrameSize);
      } finally {
        this.vector = null;
      }
    }
    this.controlOnlyScheduled = false;
  }

  /**
   * Room for everything one writeQueued() call can copy, reserved once: growing by doubling would copy the output
   * each time (many small responses in one turn add up to tens of KiB). With views, only frames below
   * ZERO_COPY_MIN_FRAME are copied: at most one such piece per stream is counted, so large bodies never reserve what
   * they do not use.
   */
  private reserveOutput(maxBytes: number, maxFrameSize: number): void {
    const queue = this.queue;
    const copiesAll = this.vector === null;
    let sendable = 0;
    for (let i = 0; i < queue.length; i++) {
      const s = queue[i]!;
      if (s.queuedBytes > 0 && s.sendWindow > 0) {
        const bytes = Math.min(s.queuedBytes, s.sendWindow);
        sendable += copiesAll ? bytes : Math.min(bytes, ZERO_COPY_MIN_FRAME - 1);
      }
    }
    const dataBound = Math.min(maxBytes, sendable, Math.max(0, this.connectionSendWindow));
    if (dataBound > 0) {
      const frameBound = Math.ceil(dataBound / maxFrameSize) + queue.length;
      this.writer.ensure(dataBound + frameBound * FRAME_HEADER_LENGTH);
    }
  }

  /**
   * One frame per stream per pass, round-robin. Streams blocked by their own window leave the queue until a
   * WINDOW_UPDATE; streams blocked by the connection window or maxBytes keep their place.
   */
  private writeQueued(maxBytes: number, maxFrameSize: number): void {
    const queue = this.queue;
    const blocked: Stream[] = [];
    const highWaterMark = this.streamHighWaterMark;
    const host = this.host;
    let budget = maxBytes;
    let head = 0;
    this.reserveOutput(budget, maxFrameSize);
    while (head < queue.length) {
      const stream = queue[head++]!;
      if (!canSend(stream.state)) {
        stream.scheduled = false;
        continue;
      }
      if (stream.queuedBytes > 0) {
        if (stream.sendWindow <= 0) {
          // Resumed by WINDOW_UPDATE or a SETTINGS_INITIAL_WINDOW_SIZE increase.
          stream.scheduled = false;
          continue;
        }
        const size = Math.min(stream.queuedBytes, stream.sendWindow, this.connectionSendWindow, maxFrameSize, budget);
        if (size <= 0) {
          blocked.push(stream);
          continue;
        }
        const last = size === stream.queuedBytes && stream.endQueued && stream.trailers === null;
        this.writeDataFrame(stream, size, last);
        stream.sendWindow -= size;
        this.connectionSendWindow -= size;
        this.totalQueuedData -= size;
        budget -= size;
        if (stream.wantWritable && stream.queuedBytes <= highWaterMark) {
          stream.wantWritable = false;
          host.schedulerStreamWritable(stream);
        }
        if (last) {
          stream.scheduled = false;
          stream.endQueued = false;
          host.schedulerSentEndStream(stream);
          continue;
        }
        if (stream.queuedBytes > 0 || stream.endQueued) queue.push(stream);
        else stream.scheduled = false;
      } else if (stream.endQueued) {
        stream.scheduled = false;
        const trailers = stream.trailers;
        if (trailers !== null) {
          stream.trailers = null;
          host.schedulerSendTrailers(stream, trailers);
        } else {
          this.writer.ensure(FRAME_HEADER_LENGTH);
          const start = this.writer.length;
          this.writer.header(0, FrameType.DATA, FLAG_END_STREAM, stream.id);
          if (this.tracing) host.schedulerTraceWritten(start);
        }
        stream.endQueued = false;
        host.schedulerSentEndStream(stream);
      } else {
        stream.scheduled = false;
      }
    }
    this.queue = blocked;
  }

  /**
   * Hands `size` queued bytes of a stream out as one DATA frame: as views of the application's chunks after a frame
   * header (dataToSendv, large frames: no copy), else copied into the writer.
   */
  private writeDataFrame(stream: Stream, size: number, endStream: boolean): void {
    const vector = this.vector;
    if (vector !== null && size >= ZERO_COPY_MIN_FRAME) {
      this.writeDataFrameViews(vector, stream, size, endStream);
      return;
    }
    const writer = this.writer;
    writer.ensure(FRAME_HEADER_LENGTH + size);
    const start = writer.length;
    writer.header(size, FrameType.DATA, endStream ? FLAG_END_STREAM : 0, stream.id);
    let remaining = size;
    const chunks = stream.chunks;
    while (remaining > 0) {
      const chunk = chunks[stream.chunkIndex]!;
      const available = chunk.length - stream.chunkOffset;
      const n = available < remaining ? available : remaining;
      writer.buf.set(
        n === chunk.length ? chunk : chunk.subarray(stream.chunkOffset, stream.chunkOffset + n),
        writer.length,
      );
      writer.length += n;
      remaining -= n;
      if (n === available) {
        chunks[stream.chunkIndex] = EMPTY; // drop the reference early
        stream.chunkIndex++;
        stream.chunkOffset = 0;
      } else {
        stream.chunkOffset += n;
      }
    }
    this.compactQueue(stream, size);
    if (this.tracing) this.host.schedulerTraceWritten(start);
  }

  private writeDataFrameViews(vector: Uint8Array[], stream: Stream, size: number, endStream: boolean): void {
    const writer = this.writer;
    writer.ensure(FRAME_HEADER_LENGTH);
    writer.header(size, FrameType.DATA, endStream ? FLAG_END_STREAM : 0, stream.id);
    // Everything written before (control frames, earlier headers) and this header leave as one view, in order.
    vector.push(writer.cut()!);
    let remaining = size;
    const chunks = stream.chunks;
    while (remaining > 0) {
      const chunk = chunks[stream.chunkIndex]!;
      const offset = stream.chunkOffset;
      const available = chunk.length - offset;
      const n = available < remaining ? available : remaining;
      vector.push(n === chunk.length ? chunk : chunk.subarray(offset, offset + n));
      remaining -= n;
      if (n === available) {
        chunks[stream.chunkIndex] = EMPTY;
        stream.chunkIndex++;
        stream.chunkOffset = 0;
      } else {
        stream.chunkOffset += n;
      }
    }
    this.compactQueue(stream, size);
  }

  /**
   * `size` bytes left the stream's queue (both DATA output paths): release fully sent chunks so the queue array does
   * not keep growing while the stream stays busy. Kept out of the per-chunk walks, which each keep their own loop:
   * one walk shared by the copy and the view paths mixes their type feedback and measurably slows dataToSendv.
   */
  private compactQueue(stream: Stream, size: number): void {
    stream.queuedBytes -= size;
    const chunks = stream.chunks;
    if (stream.chunkIndex === chunks.length) {
      stream.chunks = [];
      stream.chunkIndex = 0;
    } else if (stream.chunkIndex > 64) {
      stream.chunks = chunks.slice(stream.chunkIndex);
      stream.chunkIndex = 0;
    }
  }
}
