/**
 * Header field bytes <-> JavaScript strings, one char per byte (latin1 / "ByteString" as in WebIDL).
 * HPACK strings are octets (RFC 7541 §5.2); mapping each octet to the char code 0..255 loses nothing and is exactly
 * what fetch's Headers accepts. TextDecoder cannot be used: its 'latin1' label is windows-1252 (WHATWG Encoding).
 */

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;

/**
 * Node's (and Bun's) native latin1 slicing, found by feature detection on the global Buffer (no import: the engine
 * stays runtime-agnostic and falls back to pure JavaScript elsewhere). It costs a constant ~50 ns where building the
 * string char by char costs ~6 ns per byte, so it wins from about 10 bytes on.
 */
const nativeLatin1Slice: Latin1Slice | null = (() => {
  const candidate = (globalThis as { Buffer?: { prototype?: { latin1Slice?: unknown } } }).Buffer?.prototype?.latin1Slice;
  if (typeof candidate !== 'function') return null;
  try {
    const probe = Uint8Array.of(0x61, 0xe9, 0xff, 0x00);
    return (candidate as Latin1Slice).call(probe, 1, 4) === '\u00e9\u00ff\u0000' ? (candidate as Latin1Slice) : null;
  } catch {
    return null;
  }
})();

const NATIVE_THRESHOLD = 10;
/** Chunk for String.fromCharCode.apply: stays well under engines' argument-count limits. */
const APPLY_CHUNK = 8192;

/** bytes[start, end) as a latin1 string. */
export function bytesToLatin1(bytes: Uint8Array, start: number, end: number): string {
  if (end - start >= NATIVE_THRESHOLD && nativeLatin1Slice !== null) return nativeLatin1Slice.call(bytes, start, end);
  return bytesToLatin1Portable(bytes, start, end);
}

/** Pure JavaScript version (used for short strings, and everywhere on runtimes without Buffer). */
export function bytesToLatin1Portable(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length <= 32) {
    // Short strings (most header names and many values): a loop beats creating a subarray view for apply.
    let str = '';
    for (let i = start; i < end; i++) str += String.fromCharCode(bytes[i]!);
    return str;
  }
  let str = '';
  for (let i = start; i < end; i += APPLY_CHUNK) {
    str += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + APPLY_CHUNK)) as unknown as number[]);
  }
  return str;
}
