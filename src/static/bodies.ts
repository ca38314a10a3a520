/**
 * Response bodies read from disk on demand.
 *
 * Every body is a pull-based ReadableStream: a chunk of at most CHUNK_SIZE bytes is read from the file only when
 * the consumer (the HTTP/1.1 socket or the HTTP/2 flow-control window) asks for one, so a 1 GiB file sent to a slow
 * client costs a constant amount of memory. The file handle is closed on end, error and cancel.
 */
import type { OpenFile } from './open-file.js';
import { constants as zlibConstants, createBrotliCompress, createGzip } from 'node:zlib';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { ByteRange } from './ranges.js';

export const CHUNK_SIZE = 64 * 1024;

/** Reads `[start, end]` (inclusive) of an open file in chunks, calling `onChunk` for each (awaiting it). */
async function readSpan(
  file: OpenFile,
  start: number,
  end: number,
  next: () => Promise<void>,
  emit: (chunk: Uint8Array) => void,
): Promise<void> {
  let position = start;
  while (position <= end) {
    const length = Math.min(CHUNK_SIZE, end - position + 1);
    const buffer = Buffer.allocUnsafe(length);
    const bytesRead = await file.read(buffer, 0, length, position);
    if (bytesRead === 0) throw new Error('file shrank while being sent');
    position += bytesRead;
    emit(buffer.subarray(0, bytesRead));
    if (position <= end) await next();
  }
}

/**
 * A stream over pieces of a file (raw byte spans and literal strings such as multipart part headers),
 * produced one chunk per pull. Closes the file when done, failed or cancelled.
 */
export function fileStream(file: OpenFile, pieces: Array<ByteRange | Uint8Array>): ReadableStream<Uint8Array> {
  const closeFile = (): void => file.close();
  let pieceIndex = 0;
  let position = -1;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          while (pieceIndex < pieces.length) {
            const piece = pieces[pieceIndex]!;
            if (piece instanceof Uint8Array) {
              pieceIndex++;
              controller.enqueue(piece);
              return;
            }
            if (position < 0) position = piece.start;
            if (position > piece.end) {
              pieceIndex++;
              position = -1;
              continue;
            }
            const length = Math.min(CHUNK_SIZE, piece.end - position + 1);
            const buffer = Buffer.allocUnsafe(length);
            const bytesRead = await file.read(buffer, 0, length, position);
            if (bytesRead === 0) throw new Error('file shrank while being sent');
            position += bytesRead;
            controller.enqueue(new Uint8Array(buffer.buffer, buffer.byteOffset, bytesRead));
            return;
          }
          closeFile();
          controller.close();
        } catch (error) {
          closeFile();
          controller.error(error);
        }
      },
      cancel() {
        closeFile();
      },
    },
    // highWaterMark 0: nothing is read before the consumer asks.
    { highWaterMark: 0 },
  );
}

/** Whether this Node's zlib has zstd (added in Node 22.15 / 23.8; absent on Node 20). */
export const ZSTD_AVAILABLE = typeof (zlib as unknown as Record<string, unknown>)['createZstdCompress'] === 'function';

export type OnTheFlyCoding = 'br' | 'gzip' | 'zstd';

export function onTheFlyCodings(): OnTheFlyCoding[] {
  return ZSTD_AVAILABLE ? ['br', 'zstd', 'gzip'] : ['br', 'gzip'];
}

function createCompressor(coding: OnTheFlyCoding, sizeHint: number): Transform {
  if (coding === 'br') {
    return createBrotliCompress({
      params: {
        // Quality 4: most of brotli's gain at a fraction of the CPU of the default 11, which is meant for offline use.
        [zlibConstants.BROTLI_PARAM_QUALITY]: 4,
        [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT,
        [zlibConstants.BROTLI_PARAM_SIZE_HINT]: sizeHint,
      },
    });
  }
  if (coding === 'zstd') {
    const create = (zlib as unknown as Record<string, (options?: object) => Transform>)['createZstdCompress']!;
    return create();
  }
  return createGzip({ level: 6 });
}

/**
 * The whole file, compressed while streaming. Backpressure runs end to end: the compressor's output is read only
 * when the consumer pulls, and file chunks are written into the compressor only while it accepts them.
 */
export function compressedFileStream(file: OpenFile, size: number, coding: OnTheFlyCoding): ReadableStream<Uint8Array> {
  const compressor = createCompressor(coding, size);
  let closed = false;
  const cleanup = (): void => {
    if (closed) return;
    closed = true;
    compressor.destroy();
    file.close();
  };
  let feederError: unknown;
  // Feeds the compressor from the file, waiting for 'drain' whenever its buffer is full.
  const feed = async (): Promise<void> => {
    try {
      await readSpan(
        file,
        0,
        size - 1,
        () =>
          compressor.writableNeedDrain && !closed
            ? new Promise<void>((resolve) => {
                compressor.once('drain', resolve);
                compressor.once('close', resolve);
              })
            : Promise.resolve(),
        (chunk) => {
          if (!closed) compressor.write(chunk);
        },
      );
      if (!closed) compressor.end();
    } catch (error) {
      feederError = error;
      compressor.destroy(error as Error);
    }
  };
  const output = compressor[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!started) {
          started = true;
          void feed();
        }
        try {
          const { value, done } = await output.next();
          if (done) {
            cleanup();
            controller.close();
          } else {
            controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
          }
        } catch (error) {
          cleanup();
          controller.error(feederError ?? error);
        }
      },
      cancel() {
        cleanup();
      },
    },
    { highWaterMark: 0 },
  );
}
