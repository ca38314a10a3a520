/**
 * Byte ranges (RFC 9110 §14): parsing, validation against the representation length, and the abuse limits that
 * §14.2 permits (overlapping or many small ranges are a known amplification vector, CVE-2011-3192 "Apache Killer").
 */

export interface ByteRange {
  /** Inclusive first byte. */
  start: number;
  /** Inclusive last byte. */
  end: number;
}

export type RangeResult =
  /** No usable Range: serve the whole representation (absent, other unit, malformed, or too abusive). */
  | { kind: 'ignore' }
  /** No range overlaps the representation: 416 with `content-range: bytes *\/size`. */
  | { kind: 'unsatisfiable' }
  | { kind: 'ranges'; ranges: ByteRange[] };

/** After coalescing, more ranges than this are not served piecewise (the whole file is sent instead). */
export const MAX_RANGES = 16;
/** A Range header longer than this is ignored outright. */
const MAX_RANGE_HEADER_LENGTH = 1024;

export function parseRange(header: string | null, size: number): RangeResult {
  if (header === null) return { kind: 'ignore' };
  if (header.length > MAX_RANGE_HEADER_LENGTH) return { kind: 'ignore' };
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match) return { kind: 'ignore' }; // unknown unit: RFC 9110 §14.2 says ignore
  // A zero-length representation has no satisfiable byte range worth a 206; send it whole.
  if (size === 0) return { kind: 'ignore' };
  const specs = match[1]!.split(',');
  const satisfiable: ByteRange[] = [];
  let sawSpec = false;
  for (const rawSpec of specs) {
    const spec = rawSpec.trim();
    if (spec === '') continue; // RFC 9110 §5.6.1: empty list elements are allowed
    sawSpec = true;
    const parts = /^(\d*)\s*-\s*(\d*)$/.exec(spec);
    if (!parts) return { kind: 'ignore' };
    const [, first, last] = parts;
    if (first === '' && last === '') return { kind: 'ignore' };
    if (first!.length > 16 || last!.length > 16) return { kind: 'ignore' };
    if (first === '') {
      // suffix-range: the last N bytes
      const suffixLength = Number(last);
      if (suffixLength === 0) continue;
      satisfiable.push({ start: Math.max(0, size - suffixLength), end: size - 1 });
      continue;
    }
    const start = Number(first);
    if (last !== '' && Number(last) < start) return { kind: 'ignore' }; // invalid range-spec → the whole field is invalid
    if (start >= size) continue; // unsatisfiable on its own
    const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
    satisfiable.push({ start, end });
  }
  if (!sawSpec) return { kind: 'ignore' };
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  const coalesced = coalesce(satisfiable);
  if (coalesced.length > MAX_RANGES) return { kind: 'ignore' };
  return { kind: 'ranges', ranges: coalesced };
}

/**
 * Merges overlapping and adjacent ranges. Keeps the client's order when nothing overlaps (§14.2 lets us
 * reorder only when coalescing); otherwise returns them ascending, which bounds the bytes sent to the file size.
 */
function coalesce(ranges: ByteRange[]): ByteRange[] {
  if (ranges.length === 1) return ranges;
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const merged: ByteRange[] = [];
  for (const range of sorted) {
    const previous = merged[merged.length - 1];
    if (previous && range.start <= previous.end + 1) previous.end = Math.max(previous.end, range.end);
    else merged.push({ ...range });
  }
  return merged.length === ranges.length ? ranges : merged;
}
