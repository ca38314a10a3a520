/**
 * Output buffers for small messages, carved out of shared slabs. Every `new Uint8Array(n)` gets a backing store of
 * its own (an allocation outside the JavaScript heap, tracked by the garbage collector as external memory), which
 * costs more than serializing a small response; views into one slab cost a small object each. A slab is never
 * written again once handed out: a new one starts when it is full (as Node's Buffer pool does), so the views stay
 * valid for as long as the transport holds them.
 */
const SLAB_BYTES = 64 * 1024;
/** Larger messages get a buffer of their own: a slab holds at least eight of the largest pooled ones. */
const POOLED_MAX = SLAB_BYTES / 8;

let slab = new Uint8Array(SLAB_BYTES);
let used = 0;

/** A fresh, writable buffer of `size` bytes that no other caller shares. */
export function outputBuffer(size: number): Uint8Array {
  if (size > POOLED_MAX) return new Uint8Array(size);
  if (used + size > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    used = 0;
  }
  const view = slab.subarray(used, used + size);
  // 8-byte alignment, as Node's pool keeps it.
  used += (size + 7) & ~7;
  return view;
}

const encoder = new TextEncoder();

/** Latin-1 text (every char ≤ 0xff, checked by the callers) as bytes, in a pooled buffer. */
export function latin1Bytes(text: string): Uint8Array {
  const out = outputBuffer(text.length);
  writeLatin1(text, out);
  return out;
}

/**
 * Latin-1 text into the start of `out` (at least text.length bytes). ASCII (the usual head) is its own UTF-8: one
 * encodeInto, whose counts tell whether it was; Latin-1 above 0x7f (obs-text in a value) is then written again
 * byte by byte over what UTF-8 made of it.
 */
function writeLatin1(text: string, out: Uint8Array): void {
  const length = text.length;
  const written = encoder.encodeInto(text, out);
  if (written.read !== length || written.written !== length) for (let i = 0; i < length; i++) out[i] = text.charCodeAt(i);
}

/**
 * `head` (Latin-1 text) followed by `content` (bytes, or text encoded as UTF-8) of `size` bytes, in one pooled
 * buffer: one write for a whole small message. Null when text content does not encode to exactly `size` bytes.
 */
export function messageBytes(head: string, content: Uint8Array | string, size: number): Uint8Array | null {
  const start = head.length;
  const out = outputBuffer(start + size);
  writeLatin1(head, out);
  if (typeof content !== 'string') {
    out.set(content, start);
    return out;
  }
  if (content.length === size && size <= SHORT_TEXT) {
    // Short ASCII text is copied by a loop, cheaper than a call into the encoder; anything else goes to the encoder.
    let i = 0;
    for (; i < size; i++) {
      const c = content.charCodeAt(i);
      if (c > 0x7f) break;
      out[start + i] = c;
    }
    if (i === size) return out;
  }
  const result = encoder.encodeInto(content, out.subarray(start));
  return result.read === content.length && result.written === size ? out : null;
}

/** Text content up to this length is copied by a loop when it is ASCII. */
const SHORT_TEXT = 64;

/** Text as UTF-8 bytes. */
export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}
