/**
 * permessage-deflate (RFC 7692) for the WebSocket engine, on node:zlib. The engine (src/ws) only marks compressed
 * messages (RSV1); this module inflates them (in order, asynchronously) and deflates ours (synchronously).
 *
 * Inflation is bounded: output beyond maxMessageSize stops the inflater and fails the message with 1009, so a
 * deflate bomb (a few KiB that expand to gigabytes) costs at most maxMessageSize of memory.
 */
import * as zlib from 'node:zlib';
import type { PerMessageDeflateAgreement } from '../../ws/handshake.js';

/** RFC 7692 §7.2.1: a sync flush ends with these 4 bytes; they are removed before sending and added back on receipt. */
const FLUSH_TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export class MessageTooBigError extends Error {
  readonly closeCode = 1009;
  constructor(limit: number) {
    super(`inflated message over ${limit} bytes`);
  }
}

export class InvalidCompressedDataError extends Error {
  readonly closeCode = 1007;
}

/** Runs one operation at a time on a zlib stream: messages are compressed and inflated in order. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.tail.then(operation, operation);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export class PerMessageDeflate {
  private inflater: zlib.InflateRaw | undefined;
  private readonly inflateQueue = new Serial();
  private closed = false;

  constructor(
    readonly agreement: PerMessageDeflateAgreement,
    private readonly maxMessageSize: number,
    private readonly level = zlib.constants.Z_DEFAULT_COMPRESSION,
  ) {}

  /** The uncompressed message, or a MessageTooBigError / InvalidCompressedDataError rejection. */
  inflate(data: Uint8Array): Promise<Uint8Array> {
    return this.inflateQueue.run(() => this.inflateOne(data));
  }

  /**
   * The compressed payload to send with RSV1 set. Synchronous: the server always agrees server_no_context_takeover
   * (RFC 7692 §7.1.1.1 lets it add the parameter to any accepted offer), so every message is compressed on its own,
   * send() stays synchronous and ordered, and no deflate context is kept per socket (uWebSockets' "shared
   * compressor" trade: a little ratio for memory).
   */
  deflate(data: Uint8Array): Uint8Array {
    if (!this.agreement.serverNoContextTakeover) throw new Error('synchronous deflate needs server_no_context_takeover');
    let out = zlib.deflateRawSync(data, { windowBits: this.agreement.serverMaxWindowBits, level: this.level, memLevel: 8, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    // §7.2.1: remove the 0x00 0x00 0xff 0xff the sync flush ends with.
    if (out.byteLength >= 4 && out.subarray(out.byteLength - 4).equals(FLUSH_TRAILER)) out = out.subarray(0, out.byteLength - 4);
    // §7.2.3.6: an empty message compresses to a single 0x00 byte after removing the trailer.
    return out.byteLength === 0 ? Buffer.from([0x00]) : out;
  }

  close(): void {
    this.closed = true;
    this.inflater?.close();
    this.inflater = undefined;
  }

  private inflateOne(data: Uint8Array): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error('permessage-deflate context closed'));
    // The peer may compress with any window up to what we agreed; a 15-bit window inflates every smaller one.
    const inflater = (this.inflater ??= zlib.createInflateRaw({ windowBits: 15 }));
    return new Promise<Uint8Array>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let total = 0;
      let failed = false;
      const onData = (chunk: Buffer) => {
        total += chunk.byteLength;
        if (total > this.maxMessageSize && !failed) {
          failed = true;
          cleanup();
          // The stream's state is mid-message: it cannot be reused. The connection fails anyway.
          this.inflater = undefined;
          inflater.close();
          reject(new MessageTooBigError(this.maxMessageSize));
          return;
        }
        chunks.push(chunk);
      };
      const onError = (error: Error) => {
        if (failed) return;
        failed = true;
        cleanup();
        this.inflater = undefined;
        reject(new InvalidCompressedDataError(`invalid compressed data: ${error.message}`));
      };
      const cleanup = () => {
        inflater.off('data', onData);
        inflater.off('error', onError);
      };
      inflater.on('data', onData);
      inflater.on('error', onError);
      inflater.write(data);
      inflater.write(FLUSH_TRAILER);
      inflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        if (failed) return;
        cleanup();
        // §7.2.2: without context takeover the peer starts each message with an empty window.
        if (this.agreement.clientNoContextTakeover) inflater.reset();
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
      });
    });
  }
}
