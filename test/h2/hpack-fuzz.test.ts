// Property and fuzz tests for HPACK (RFC 7541): round trips with random tables and size changes, the table-driven
// Huffman decoder against a bit-by-bit reference, and random or mutated blocks that must only ever raise HpackError
// while keeping output and table memory within their bounds.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HpackDecoder, HpackEncoder, HpackError } from '../../src/h2/hpack/index.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from '../../src/h2/hpack/huffman.js';
import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from '../../src/h2/hpack/huffman-table.js';

const latin1Char = fc.integer({ min: 0, max: 255 }).map((code) => String.fromCharCode(code));
const latin1String = (maxLength: number) => fc.string({ unit: latin1Char, maxLength });

const commonNames = fc.constantFrom(
  ':status', ':method', ':path', ':authority', ':scheme', 'content-type', 'content-length', 'date', 'server',
  'cache-control', 'cookie', 'set-cookie', 'authorization', 'proxy-authorization', 'accept', 'accept-encoding',
  'location', 'etag', 'vary', 'x-custom', 'x-trace',
);
const randomName = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), minLength: 1, maxLength: 24 });
const headerName = fc.oneof(commonNames, randomName, latin1String(16));
const headerValue = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('', '200', '404', 'GET', 'POST', '/', 'gzip, deflate', 'text/html', 'httpsd') },
  { weight: 6, arbitrary: latin1String(48) },
  { weight: 1, arbitrary: fc.tuple(latin1Char, fc.integer({ min: 100, max: 5000 })).map(([c, n]) => c.repeat(n)) },
);
const headerList = fc.array(fc.tuple(headerName, headerValue), { maxLength: 24 }).map((pairs) => pairs.flat());

type Operation = { kind: 'block'; headers: string[] } | { kind: 'size'; sizes: number[] } | { kind: 'bad'; headers: string[] };
const tableSize = fc.oneof(fc.constantFrom(0, 1, 32, 64, 256, 4096, 8192), fc.integer({ min: 0, max: 10_000 }));
const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 5, arbitrary: headerList.map((headers) => ({ kind: 'block' as const, headers })) },
  { weight: 1, arbitrary: fc.array(tableSize, { minLength: 1, maxLength: 3 }).map((sizes) => ({ kind: 'size' as const, sizes })) },
  {
    // A list with one field that is not a ByteString somewhere: encode() must throw and change nothing.
    weight: 1,
    arbitrary: fc.tuple(headerList, fc.nat(), fc.boolean()).map(([headers, at, inName]) => {
      const position = 2 * (at % (headers.length / 2 + 1));
      const bad = inName ? ['x-\u0100', 'v'] : ['x-bad', 'v\u20ac'];
      return { kind: 'bad' as const, headers: [...headers.slice(0, position), ...bad, ...headers.slice(position)] };
    }),
  },
);

function headerListSize(headers: string[]): number {
  let size = 0;
  for (let i = 0; i < headers.length; i += 2) size += headers[i]!.length + headers[i + 1]!.length + 32;
  return size;
}

/** Bit-by-bit reference decoder straight from the Appendix B table: null when the string is invalid (§5.2). */
const REFERENCE_CODES = new Map<string, number>();
for (let symbol = 0; symbol <= 256; symbol++) REFERENCE_CODES.set(`${HUFFMAN_LENGTHS[symbol]}:${HUFFMAN_CODES[symbol]}`, symbol);
function referenceHuffmanDecode(bytes: Uint8Array): string | null {
  let out = '';
  let code = 0;
  let length = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      length++;
      const symbol = REFERENCE_CODES.get(`${length}:${code}`);
      if (symbol !== undefined) {
        if (symbol === 256) return null;
        out += String.fromCharCode(symbol);
        code = 0;
        length = 0;
      }
      if (length > 30) return null;
    }
  }
  if (length > 7 || code !== 2 ** length - 1) return null;
  return out;
}

function assertOnlyHpackError(run: () => void): boolean {
  try {
    run();
    return true;
  } catch (error) {
    if (!(error instanceof HpackError)) throw error;
    return false;
  }
}

describe('HPACK properties', () => {
  test('encode -> decode round-trips random header lists; tables stay in sync across blocks and size changes', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 100, 256, 4096, 8192, 65536), fc.array(operation, { maxLength: 30 }), (encoderCap, operations) => {
        const encoder = new HpackEncoder({ maxTableSize: encoderCap });
        const decoder = new HpackDecoder();
        for (const op of operations) {
          if (op.kind === 'size') {
            // Each SETTINGS_HEADER_TABLE_SIZE the decoder side advertises and the peer applies before its next block.
            for (const size of op.sizes) {
              encoder.setMaxTableSize(size);
              decoder.setMaxTableSize(size);
            }
            continue;
          }
          if (op.kind === 'bad') {
            const before = encoder.dynamicTableEntries();
            assert.throws(() => encoder.encode(op.headers), TypeError);
            assert.deepEqual(encoder.dynamicTableEntries(), before);
            continue;
          }
          const block = encoder.encode(op.headers).slice();
          // Names go out lowercase (RFC 9113 §8.2): only ASCII A-Z change, every other octet is kept.
          const expected = op.headers.map((field, f) => (f % 2 === 0 ? field.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : field));
          assert.deepEqual(decoder.decode(block), expected);
          assert.equal(decoder.lastBlockTooLarge, false);
          assert.deepEqual(decoder.dynamicTableEntries(), encoder.dynamicTableEntries());
          assert.equal(decoder.tableSize, encoder.tableSize);
          assert.ok(encoder.tableSize <= Math.min(encoderCap, decoder.tableMaxSize) || encoder.tableSize === 0);
          assert.ok(decoder.tableSize <= decoder.tableMaxSize);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('the table-driven Huffman decoder agrees with a bit-by-bit reference on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const expected = referenceHuffmanDecode(bytes);
        let actual: string | null;
        try {
          actual = huffmanDecode(bytes, 0, bytes.length, true);
        } catch (error) {
          if (!(error instanceof HpackError)) throw error;
          actual = null;
        }
        assert.equal(actual, expected);
      }),
      { numRuns: 5000 },
    );
  });

  test('Huffman: random latin1 strings round-trip; mutated encodings agree with the reference', () => {
    fc.assert(
      fc.property(latin1String(80), fc.nat(), fc.integer({ min: 0, max: 255 }), (text, where, xor) => {
        const encoded = new Uint8Array(huffmanEncodedLength(text));
        assert.equal(huffmanEncode(text, encoded, 0), encoded.length);
        assert.equal(huffmanDecode(encoded, 0, encoded.length, true), text);
        assert.equal(referenceHuffmanDecode(encoded), text);
        if (encoded.length === 0) return;
        encoded[where % encoded.length]! ^= xor;
        let actual: string | null;
        try {
          actual = huffmanDecode(encoded, 0, encoded.length, true);
        } catch (error) {
          if (!(error instanceof HpackError)) throw error;
          actual = null;
        }
        assert.equal(actual, referenceHuffmanDecode(encoded));
      }),
      { numRuns: 2000 },
    );
  });

  test('random byte blocks only ever raise HpackError and respect the list and table bounds', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.constantFrom(0, 64, 4096),
        (blocks, maxHeaderListSize, maxTableSize) => {
          const decoder = new HpackDecoder({ maxTableSize, maxHeaderListSize });
          for (const block of blocks) {
            assertOnlyHpackError(() => {
              const headers = decoder.decode(block);
              assert.ok(headerListSize(headers) <= maxHeaderListSize);
              assert.equal(headers.length % 2, 0);
            });
            assert.ok(decoder.tableSize <= decoder.tableMaxSize);
            assert.ok(decoder.tableMaxSize <= Math.max(4096, maxTableSize));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  test('blocks biased towards valid representations (indexes, literals, updates) only ever raise HpackError', () => {
    // Random bytes rarely get past the first representation; these pieces form mostly-valid blocks.
    const piece = fc.oneof(
      fc.integer({ min: 0x80, max: 0xff }).map((b) => [b]), // indexed, 7-bit prefix
      fc.tuple(fc.integer({ min: 0x40, max: 0x7f }), fc.uint8Array({ maxLength: 12 })).map(([b, rest]) => [b, ...rest]),
      fc.tuple(fc.integer({ min: 0x00, max: 0x1f }), fc.uint8Array({ maxLength: 12 })).map(([b, rest]) => [b, ...rest]),
      fc.integer({ min: 0x20, max: 0x3f }).map((b) => [b]), // size update
      fc.tuple(fc.constantFrom(0x40, 0x00, 0x10), latin1String(6), latin1String(20), fc.boolean()).map(([kind, name, value, huffman]) => {
        const bytes: number[] = [kind];
        for (const text of [name, value]) {
          if (huffman) {
            const out = new Uint8Array(huffmanEncodedLength(text));
            huffmanEncode(text, out, 0);
            bytes.push(0x80 | Math.min(out.length, 127), ...out);
          } else {
            bytes.push(Math.min(text.length, 127), ...Array.from(text, (c) => c.charCodeAt(0)));
          }
        }
        return bytes;
      }),
    );
    fc.assert(
      fc.property(fc.array(fc.array(piece, { maxLength: 20 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 3000 }), (blocks, maxHeaderListSize) => {
        const decoder = new HpackDecoder({ maxHeaderListSize });
        for (const pieces of blocks) {
          const block = Uint8Array.from(pieces.flat());
          assertOnlyHpackError(() => {
            const headers = decoder.decode(block);
            assert.ok(headerListSize(headers) <= maxHeaderListSize);
          });
          assert.ok(decoder.tableSize <= decoder.tableMaxSize);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated valid blocks (flips, truncations, insertions) only ever raise HpackError', () => {
    const mutation = fc.oneof(
      fc.tuple(fc.constant('flip' as const), fc.nat(), fc.integer({ min: 1, max: 255 })),
      fc.tuple(fc.constant('truncate' as const), fc.nat(), fc.constant(0)),
      fc.tuple(fc.constant('insert' as const), fc.nat(), fc.integer({ min: 0, max: 255 })),
    );
    fc.assert(
      fc.property(fc.array(headerList, { minLength: 1, maxLength: 5 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (lists, mutations) => {
        const encoder = new HpackEncoder();
        const decoder = new HpackDecoder({ maxHeaderListSize: 16384 });
        for (const headers of lists) {
          let bytes = Array.from(encoder.encode(headers));
          for (const [kind, where, byte] of mutations) {
            if (bytes.length === 0) break;
            const at = where % bytes.length;
            if (kind === 'flip') bytes[at]! ^= byte;
            else if (kind === 'truncate') bytes = bytes.slice(0, at);
            else bytes.splice(at, 0, byte);
          }
          const ok = assertOnlyHpackError(() => {
            const decoded = decoder.decode(Uint8Array.from(bytes));
            assert.ok(headerListSize(decoded) <= 16384);
          });
          assert.ok(decoder.tableSize <= decoder.tableMaxSize);
          if (!ok) return; // the connection would be closed with COMPRESSION_ERROR
        }
      }),
      { numRuns: 1500 },
    );
  });
});
