/**
 * Wire forms of the encoder-stream (RFC 9204 §4.3) and decoder-stream (§4.4) instructions, one function each, so the
 * encoder, the decoder and the tests (RFC 9204 Appendix B vectors) write them the same way.
 */
import type { ByteWriter } from './primitives.js';

/** §4.3.1 Set Dynamic Table Capacity: 001 capacity(5). */
export function writeSetCapacity(w: ByteWriter, capacity: number): void {
  w.integer(0x20, 5, capacity);
}

/** §4.3.2 Insert with Name Reference: 1 T index(6), value(H, 7). Dynamic indexes are relative (§3.2.5). */
export function writeInsertWithNameReference(w: ByteWriter, isStatic: boolean, index: number, value: string, huffman = true): void {
  w.integer(isStatic ? 0xc0 : 0x80, 6, index);
  w.string(0x00, 7, value, huffman);
}

/** §4.3.3 Insert with Literal Name: 01 H nameLength(5), name, value(H, 7). */
export function writeInsertWithLiteralName(w: ByteWriter, name: string, value: string, huffman = true): void {
  w.string(0x40, 5, name, huffman);
  w.string(0x00, 7, value, huffman);
}

/** §4.3.4 Duplicate: 000 relativeIndex(5). */
export function writeDuplicate(w: ByteWriter, relativeIndex: number): void {
  w.integer(0x00, 5, relativeIndex);
}

/** §4.4.1 Section Acknowledgment: 1 streamId(7). */
export function writeSectionAcknowledgment(w: ByteWriter, streamId: number): void {
  w.integer(0x80, 7, streamId);
}

/** §4.4.2 Stream Cancellation: 01 streamId(6). */
export function writeStreamCancellation(w: ByteWriter, streamId: number): void {
  w.integer(0x40, 6, streamId);
}

/** §4.4.3 Insert Count Increment: 00 increment(6). */
export function writeInsertCountIncrement(w: ByteWriter, increment: number): void {
  w.integer(0x00, 6, increment);
}
