/** Property-based checks (fast-check) of the path decoder and the range parser: invariants over arbitrary input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { resolve, sep } from 'node:path';
import { decodePathSegments } from '../../src/static/paths.js';
import { parseRange, MAX_RANGES } from '../../src/static/ranges.js';
import { chooseEncoding } from '../../src/static/negotiation.js';

/** Path-ish strings: heavy on the characters that matter for traversal. */
const pathPiece = fc.oneof(
  fc.constantFrom('/', '.', '..', '%2e', '%2E', '%2f', '%2F', '%5c', '%5C', '\\', '%00', '%25', '%', 'a', 'b.txt', '%c0%ae', '%ff', '.env', '~'),
  fc.string({ maxLength: 4 }),
);
const rawPath = fc.array(pathPiece, { maxLength: 12 }).map((pieces) => '/' + pieces.join(''));

test('decoded segments never escape the root, whatever the request path', () => {
  const root = resolve('/srv/www');
  fc.assert(
    fc.property(rawPath, fc.boolean(), (path, dotfiles) => {
      const decoded = decodePathSegments(path, dotfiles);
      if (!decoded.ok) return;
      for (const segment of decoded.segments) {
        assert.ok(segment !== '' && segment !== '.' && segment !== '..');
        assert.ok(!segment.includes('/') && !segment.includes('\\') && !segment.includes('\0'));
        if (!dotfiles) assert.ok(!segment.startsWith('.'));
      }
      const joined = resolve(root, ...decoded.segments);
      assert.ok(joined === root || joined.startsWith(root + sep), `${path} → ${joined}`);
    }),
    { numRuns: 5000 },
  );
});

test('decoding happens exactly once', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 20 }), (name) => {
      // A name that is itself percent-encoded text survives one decode as that text.
      const encodedOnce = encodeURIComponent(name);
      const decoded = decodePathSegments('/' + encodeURIComponent(encodedOnce), true);
      if (decoded.ok) assert.deepEqual(decoded.segments, [encodedOnce]);
    }),
  );
});

test('parsed ranges are inside the representation, ordered, bounded in number and never overlap', () => {
  const spec = fc.oneof(
    fc.tuple(fc.nat(3000), fc.nat(3000)).map(([a, b]) => `${a}-${b}`),
    fc.nat(3000).map((a) => `${a}-`),
    fc.nat(3000).map((n) => `-${n}`),
    fc.constantFrom('', ' ', 'x', '1-2-3', '-'),
  );
  fc.assert(
    fc.property(fc.array(spec, { maxLength: 40 }), fc.integer({ min: 0, max: 2500 }), (specs, size) => {
      const result = parseRange('bytes=' + specs.join(','), size);
      if (result.kind !== 'ranges') return;
      assert.ok(result.ranges.length >= 1 && result.ranges.length <= MAX_RANGES);
      for (const range of result.ranges) {
        assert.ok(Number.isInteger(range.start) && Number.isInteger(range.end));
        assert.ok(range.start >= 0 && range.start <= range.end && range.end < size);
      }
      const sorted = [...result.ranges].sort((a, b) => a.start - b.start);
      for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.start > sorted[i - 1]!.end + 1, 'overlap or adjacency left');
      const total = result.ranges.reduce((sum, range) => sum + range.end - range.start + 1, 0);
      assert.ok(total <= size, 'more bytes than the file');
    }),
    { numRuns: 3000 },
  );
});

test('content negotiation only picks available, acceptable codings', () => {
  const coding = fc.constantFrom('br', 'gzip', 'zstd', 'identity', '*', 'deflate', 'x-gzip');
  const q = fc.constantFrom('', ';q=0', ';q=0.5', ';q=1', ';q=0.001', ';q=2', ';q=abc');
  fc.assert(
    fc.property(
      fc.array(fc.tuple(coding, q), { maxLength: 6 }),
      fc.subarray(['br', 'zstd', 'gzip'] as const),
      (items, available) => {
        const header = items.map(([name, quality]) => name + quality).join(', ');
        const chosen = chooseEncoding(header, available);
        if (chosen === 'identity') return;
        assert.ok(available.includes(chosen));
        // Never a coding the client excluded with q=0 (explicitly, or through * when not listed).
        const explicit =
          items.find(([name]) => name === chosen) ?? (chosen === 'gzip' ? items.find(([name]) => name === 'x-gzip') : undefined);
        // Invalid qvalues (q=2, q=abc) count as 0: refusing is the safe reading.
        if (explicit) assert.ok(![';q=0', ';q=abc', ';q=2'].includes(explicit[1]), header);
        else {
          const wildcard = items.find(([name]) => name === '*');
          assert.ok(wildcard !== undefined && ![';q=0', ';q=abc', ';q=2'].includes(wildcard[1]), header);
        }
      },
    ),
    { numRuns: 3000 },
  );
});
