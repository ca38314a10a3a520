// RFC 7541 (HPACK) unit tests: every Appendix C vector in both directions, and each MUST of §4–§6 as an error case.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackEncoder, HpackError } from '../../src/h2/hpack/index.js';
import { decodeInteger, encodeInteger, integerResult } from '../../src/h2/hpack/integer.js';
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from '../../src/h2/hpack/huffman.js';
import { bytesToLatin1, bytesToLatin1Portable } from '../../src/h2/hpack/latin1.js';
import { readdirSync, readFileSync } from 'node:fs';

/** 'a0 b1' / '8286 84be' -> bytes (spaces and newlines ignored). */
function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  assert.equal(digits.length % 2, 0, 'odd hex string');
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function rejects(decoder: HpackDecoder, block: Uint8Array, message: RegExp): void {
  assert.throws(() => decoder.decode(block), (error: unknown) => {
    assert.ok(error instanceof HpackError, `expected HpackError, got ${String(error)}`);
    assert.match(error.message, message);
    return true;
  });
}

describe('C.1 integer representation (RFC 7541 §5.1)', () => {
  const cases: Array<[string, number, number, string]> = [
    ['C.1.1 10 with a 5-bit prefix', 10, 5, '0a'],
    ['C.1.2 1337 with a 5-bit prefix', 1337, 5, '1f9a0a'],
    ['C.1.3 42 starting at an octet boundary', 42, 8, '2a'],
  ];
  for (const [title, value, prefix, encoded] of cases) {
    test(title, () => {
      const out = new Uint8Array(8);
      const end = encodeInteger(out, 0, 0, prefix, value);
      assert.equal(toHex(out.subarray(0, end)), encoded);
      const bytes = hex(encoded);
      decodeInteger(bytes, 0, bytes.length, prefix);
      assert.equal(integerResult.value, value);
      assert.equal(integerResult.next, bytes.length);
    });
  }

  test('prefix bits above the prefix are ignored and kept by the encoder', () => {
    const out = new Uint8Array(8);
    const end = encodeInteger(out, 0, 0xe0, 5, 1337);
    assert.equal(toHex(out.subarray(0, end)), 'ff9a0a');
    decodeInteger(out, 0, end, 5);
    assert.equal(integerResult.value, 1337);
  });

  test('boundary values round-trip for every prefix size', () => {
    const out = new Uint8Array(8);
    for (let prefix = 1; prefix <= 8; prefix++) {
      const max = (1 << prefix) - 1;
      for (const value of [0, max - 1, max, max + 1, max + 127, max + 128, 2 ** 21, 2 ** 28, 0xffffffff]) {
        if (value < 0) continue;
        const end = encodeInteger(out, 0, 0, prefix, value);
        decodeInteger(out, 0, end, prefix);
        assert.equal(integerResult.value, value, `prefix ${prefix} value ${value}`);
        assert.equal(integerResult.next, end);
      }
    }
  });

  test('truncated, overflowing and over-long integers are rejected', () => {
    assert.throws(() => decodeInteger(hex('1f'), 0, 1, 5), HpackError);
    assert.throws(() => decodeInteger(hex('1f9a'), 0, 2, 5), HpackError);
    // 31 + 0x7f * (1 + 2^7 + 2^14 + 2^21) + 0x0f * 2^28 > 2^32 - 1
    assert.throws(() => decodeInteger(hex('1fffffffff0f'), 0, 6, 5), /overflow/);
    // Six continuation bytes (zeros): bounded work, rejected even though the value is small.
    assert.throws(() => decodeInteger(hex('1f80808080808000'), 0, 8, 5), /continuation/);
    // Five continuation bytes with value 2^32 - 1 are the most accepted.
    const out = new Uint8Array(8);
    const end = encodeInteger(out, 0, 0, 1, 0xffffffff);
    assert.equal(end, 6);
    decodeInteger(out, 0, end, 1);
    assert.equal(integerResult.value, 0xffffffff);
  });
});

describe('C.2 header field representation examples', () => {
  test('C.2.1 literal header field with indexing', () => {
    const decoder = new HpackDecoder();
    const block = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
    assert.deepEqual(decoder.decode(block), ['custom-key', 'custom-header']);
    assert.deepEqual(decoder.dynamicTableEntries(), [['custom-key', 'custom-header']]);
    assert.equal(decoder.tableSize, 55);
    assert.equal(decoder.lastNeverIndexed, null);
  });

  test('C.2.2 literal header field without indexing', () => {
    const decoder = new HpackDecoder();
    assert.deepEqual(decoder.decode(hex('040c 2f73 616d 706c 652f 7061 7468')), [':path', '/sample/path']);
    assert.deepEqual(decoder.dynamicTableEntries(), []);
    assert.equal(decoder.tableSize, 0);
    // Our encoder keeps :path unindexed and chooses Huffman only when shorter: same representation, Huffman value.
    const encoder = new HpackEncoder();
    const encoded = encoder.encode([':path', '/sample/path']);
    assert.equal(encoded[0], 0x04);
    assert.deepEqual(new HpackDecoder().decode(encoded), [':path', '/sample/path']);
    assert.deepEqual(encoder.dynamicTableEntries(), []);
  });

  test('C.2.3 literal header field never indexed', () => {
    const decoder = new HpackDecoder();
    assert.deepEqual(decoder.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), ['password', 'secret']);
    assert.deepEqual(decoder.dynamicTableEntries(), []);
    assert.deepEqual(decoder.lastNeverIndexed, ['password']);
  });

  test('C.2.4 indexed header field', () => {
    const decoder = new HpackDecoder();
    assert.deepEqual(decoder.decode(hex('82')), [':method', 'GET']);
    assert.equal(decoder.tableSize, 0);
    assert.equal(toHex(new HpackEncoder().encode([':method', 'GET'])), '82');
  });
});

interface VectorStep {
  block: string;
  headers: string[];
  table: Array<[string, string]>;
  size: number;
}

const REQUESTS: Array<{ headers: string[]; table: Array<[string, string]>; size: number }> = [
  {
    headers: [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com'],
    table: [[':authority', 'www.example.com']],
    size: 57,
  },
  {
    headers: [':method', 'GET', ':scheme', 'http', ':path', '/', ':authority', 'www.example.com', 'cache-control', 'no-cache'],
    table: [
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    size: 110,
  },
  {
    headers: [':method', 'GET', ':scheme', 'https', ':path', '/index.html', ':authority', 'www.example.com', 'custom-key', 'custom-value'],
    table: [
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ],
    size: 164,
  },
];

const DATE_21 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE_22 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSES: Array<{ headers: string[]; table: Array<[string, string]>; size: number }> = [
  {
    headers: [':status', '302', 'cache-control', 'private', 'date', DATE_21, 'location', LOCATION],
    table: [
      ['location', LOCATION],
      ['date', DATE_21],
      ['cache-control', 'private'],
      [':status', '302'],
    ],
    size: 222,
  },
  {
    headers: [':status', '307', 'cache-control', 'private', 'date', DATE_21, 'location', LOCATION],
    table: [
      [':status', '307'],
      ['location', LOCATION],
      ['date', DATE_21],
      ['cache-control', 'private'],
    ],
    size: 222,
  },
  {
    headers: [
      ':status', '200', 'cache-control', 'private', 'date', DATE_22, 'location', LOCATION,
      'content-encoding', 'gzip', 'set-cookie', COOKIE,
    ],
    table: [
      ['set-cookie', COOKIE],
      ['content-encoding', 'gzip'],
      ['date', DATE_22],
    ],
    size: 215,
  },
];

function steps(blocks: string[], expected: typeof REQUESTS): VectorStep[] {
  return blocks.map((block, i) => ({ block, ...expected[i]! }));
}

const VECTORS: Array<{ title: string; tableSize: number; steps: VectorStep[]; byteExactEncoding: boolean }> = [
  {
    title: 'C.3 requests without Huffman coding',
    tableSize: 4096,
    byteExactEncoding: false, // our encoder Huffman-codes whenever shorter
    steps: steps(
      [
        '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
        '8286 84be 5808 6e6f 2d63 6163 6865',
        '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
      ],
      REQUESTS,
    ),
  },
  {
    title: 'C.4 requests with Huffman coding',
    tableSize: 4096,
    byteExactEncoding: true,
    steps: steps(
      [
        '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
        '8286 84be 5886 a8eb 1064 9cbf',
        '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
      ],
      REQUESTS,
    ),
  },
  {
    title: 'C.5 responses without Huffman coding (256-byte table, evictions)',
    tableSize: 256,
    byteExactEncoding: false,
    steps: steps(
      [
        `4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32
         3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
        '4803 3330 37c1 c0bf',
        `88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970
         7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61
         6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
      ],
      RESPONSES,
    ),
  },
  {
    title: 'C.6 responses with Huffman coding (256-byte table, evictions)',
    tableSize: 256,
    byteExactEncoding: false, // we keep location unindexed and set-cookie never-indexed
    steps: steps(
      [
        `4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad
         1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
        '4883 640e ffc1 c0bf',
        `88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2
         e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
      ],
      RESPONSES,
    ),
  },
];

for (const vector of VECTORS) {
  describe(vector.title, () => {
    test('decoding: headers, dynamic table contents and size after each block', () => {
      const decoder = new HpackDecoder({ maxTableSize: vector.tableSize, initialTableSize: vector.tableSize });
      for (const step of vector.steps) {
        assert.deepEqual(decoder.decode(hex(step.block)), step.headers);
        assert.deepEqual(decoder.dynamicTableEntries(), step.table);
        assert.equal(decoder.tableSize, step.size);
        assert.equal(decoder.lastBlockTooLarge, false);
      }
    });

    test('encoding: blocks decode back to the same headers with tables in sync', () => {
      const encoder = new HpackEncoder({ maxTableSize: vector.tableSize });
      const decoder = new HpackDecoder();
      for (const step of vector.steps) {
        const block = encoder.encode(step.headers);
        if (vector.byteExactEncoding) assert.equal(toHex(block), step.block.replace(/\s+/g, ''));
        assert.deepEqual(decoder.decode(block.slice()), step.headers);
        assert.deepEqual(decoder.dynamicTableEntries(), encoder.dynamicTableEntries());
        assert.equal(decoder.tableSize, encoder.tableSize);
        assert.ok(encoder.tableSize <= vector.tableSize);
      }
    });
  });
}

describe('Huffman coding (RFC 7541 §5.2, Appendix B)', () => {
  test('Appendix C strings encode byte-exactly', () => {
    const cases: Array<[string, string]> = [
      ['www.example.com', 'f1e3c2e5f23a6ba0ab90f4ff'],
      ['no-cache', 'a8eb10649cbf'],
      ['custom-key', '25a849e95ba97d7f'],
      ['custom-value', '25a849e95bb8e8b4bf'],
      ['302', '6402'],
      ['private', 'aec3771a4b'],
      [DATE_21, 'd07abe941054d444a8200595040b8166e082a62d1bff'],
      [LOCATION, '9d29ad171863c78f0b97c8e9ae82ae43d3'],
      [COOKIE, '94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007'],
    ];
    for (const [text, encoded] of cases) {
      const out = new Uint8Array(huffmanEncodedLength(text));
      assert.equal(huffmanEncode(text, out, 0), out.length);
      assert.equal(toHex(out), encoded, text);
      const bytes = hex(encoded);
      assert.equal(huffmanDecode(bytes, 0, bytes.length, true), text);
    }
  });

  test('every byte value round-trips, including those with 30-bit codes', () => {
    let all = '';
    for (let c = 0; c < 256; c++) all += String.fromCharCode(c);
    for (const text of [all, all.split('').reverse().join(''), '\u00ff\u00fe\u0000\n\r\u0016', '']) {
      const out = new Uint8Array(huffmanEncodedLength(text));
      assert.equal(huffmanEncode(text, out, 0), out.length);
      assert.equal(huffmanDecode(out, 0, out.length, true), text);
    }
  });

  test('EOS inside a string is an error', () => {
    // 32 one-bits contain the 30-bit EOS code.
    assert.throws(() => huffmanDecode(hex('ffffffff'), 0, 4, true), /EOS/);
    // 'a' (00011) then EOS (30 ones) then padding.
    assert.throws(() => huffmanDecode(hex('1fffffffff'), 0, 5, true), /EOS/);
  });

  test('padding longer than 7 bits is an error', () => {
    // 'a' = 00011 + 3 bits padding is fine; an extra all-ones byte makes 11 bits of padding.
    assert.equal(huffmanDecode(hex('1f'), 0, 1, true), 'a');
    assert.throws(() => huffmanDecode(hex('1fff'), 0, 2, true), /padding/);
    // A whole byte of padding alone.
    assert.throws(() => huffmanDecode(hex('ff'), 0, 1, true), /padding/);
  });

  test('padding that is not the EOS prefix (all ones) is an error', () => {
    assert.throws(() => huffmanDecode(hex('18'), 0, 1, true), /padding/); // 00011 000
    assert.throws(() => huffmanDecode(hex('1e'), 0, 1, true), /padding/); // 00011 110
    assert.throws(() => huffmanDecode(hex('00'), 0, 1, true), /padding/); // '0' (00000) then 000
  });

  test('validation happens even when the string is not materialized', () => {
    assert.equal(huffmanDecode(hex('1f'), 0, 1, false), '');
    assert.throws(() => huffmanDecode(hex('ffffffff'), 0, 4, false), HpackError);
  });
});

describe('decoder errors (each MUST of RFC 7541 §4–§6)', () => {
  test('index 0 is an error (§6.1)', () => {
    rejects(new HpackDecoder(), hex('80'), /index 0/);
  });

  test('index past the static and dynamic tables is an error (§2.3.3)', () => {
    rejects(new HpackDecoder(), hex('be'), /past the end/); // 62 with an empty dynamic table
    rejects(new HpackDecoder(), hex('ff00'), /past the end/); // 127
    const decoder = new HpackDecoder();
    decoder.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    assert.deepEqual(decoder.decode(hex('be')), ['custom-key', 'custom-header']);
    rejects(decoder, hex('bf'), /past the end/);
  });

  test('a literal whose name index is past the tables is an error', () => {
    rejects(new HpackDecoder(), hex('7e 01 61'), /past the end/); // incremental, name index 62
    rejects(new HpackDecoder(), hex('0f2f 01 61'), /past the end/); // without indexing, name index 62
    rejects(new HpackDecoder(), hex('1f2f 01 61'), /past the end/); // never indexed, name index 62
  });

  test('a dynamic table size update after a field representation is an error (§4.2)', () => {
    rejects(new HpackDecoder(), hex('82 20'), /after a header field/);
    rejects(new HpackDecoder(), hex('20 82 3f e1 1f'), /after a header field/);
  });

  test('size updates at the start of a block are accepted, several in a row too (§4.2)', () => {
    const decoder = new HpackDecoder();
    decoder.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    assert.equal(decoder.tableSize, 55);
    assert.deepEqual(decoder.decode(hex('20 3f e1 1f 82')), [':method', 'GET']);
    assert.equal(decoder.tableSize, 0, 'the update to 0 evicted everything');
    assert.equal(decoder.tableMaxSize, 4096);
    assert.deepEqual(decoder.decode(hex('3f e1 1f')), [], 'a block with only an update is valid');
  });

  test('a size update above the negotiated limit is an error (§6.3)', () => {
    rejects(new HpackDecoder(), hex('3f e2 1f'), /exceeds the limit 4096/); // 4097
    assert.deepEqual(new HpackDecoder().decode(hex('3f e1 1f')), []); // 4096 is fine
    rejects(new HpackDecoder({ maxTableSize: 256 }), hex('3f e2 01'), /exceeds the limit 256/); // 257
    rejects(new HpackDecoder({ maxTableSize: 0 }), hex('21'), /exceeds the limit 0/);
  });

  test('after our limit shrinks, the next block must start with a size update (§4.2)', () => {
    const decoder = new HpackDecoder();
    decoder.setMaxTableSize(100);
    rejects(decoder, hex('82'), /expected a dynamic table size update/);
    const ok = new HpackDecoder();
    ok.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'));
    ok.setMaxTableSize(100);
    rejects(ok, hex('3f 46'), /exceeds the limit 100/); // 101
    assert.deepEqual(ok.decode(hex('3f 45 82')), [':method', 'GET']); // 100
    assert.equal(ok.tableMaxSize, 100);
    assert.deepEqual(ok.dynamicTableEntries(), [['custom-key', 'custom-header']]); // 55 <= 100: kept
    assert.deepEqual(ok.decode(hex('82')), [':method', 'GET'], 'only the first block needs the update');
    // Growing the limit needs no update.
    ok.setMaxTableSize(8192);
    assert.deepEqual(ok.decode(hex('82')), [':method', 'GET']);
    assert.deepEqual(ok.decode(hex('3f e1 3f')), []); // 8192
    assert.equal(ok.tableMaxSize, 8192);
  });

  test('truncated integers are errors (§5.1)', () => {
    rejects(new HpackDecoder(), hex('ff'), /truncated integer/);
    rejects(new HpackDecoder(), hex('ff 80'), /truncated integer/);
    rejects(new HpackDecoder(), hex('3f'), /truncated integer/);
    rejects(new HpackDecoder(), hex('40 7f'), /truncated integer/); // string length
  });

  test('integer overflow and excessive continuation bytes are errors (§5.1)', () => {
    rejects(new HpackDecoder(), hex('ff ff ff ff ff 0f'), /overflow/);
    rejects(new HpackDecoder(), hex('ff 80 80 80 80 80 00'), /continuation/);
    rejects(new HpackDecoder(), hex('40 7f ff ff ff ff 0f'), /overflow/); // string length overflow
  });

  test('truncated strings are errors (§5.2)', () => {
    rejects(new HpackDecoder(), hex('40'), /string literal expected/); // name missing
    rejects(new HpackDecoder(), hex('40 01 61'), /string literal expected/); // value missing
    rejects(new HpackDecoder(), hex('04'), /string literal expected/);
  });

  test('a string length beyond the block is an error (§5.2)', () => {
    rejects(new HpackDecoder(), hex('40 05 61 62'), /exceeds the header block/);
    rejects(new HpackDecoder(), hex('00 01 61 03 62 63'), /exceeds the header block/);
    rejects(new HpackDecoder(), hex('00 01 61 7f 80 80 80 08'), /exceeds the header block/); // 2^24 + 127
  });

  test('Huffman errors inside a block are HpackErrors (§5.2)', () => {
    rejects(new HpackDecoder(), hex('00 01 61 84 ff ff ff ff'), /EOS/);
    rejects(new HpackDecoder(), hex('00 01 61 82 1f ff'), /padding/);
    rejects(new HpackDecoder(), hex('00 01 61 81 18'), /padding/);
    rejects(new HpackDecoder(), hex('00 81 18 01 61'), /padding/); // in the name
    assert.deepEqual(new HpackDecoder().decode(hex('00 01 61 81 1f')), ['a', 'a']);
  });

  test('a failed literal with indexing does not half-update the table', () => {
    const decoder = new HpackDecoder();
    rejects(decoder, hex('40 01 61 81 18'), /padding/);
    assert.deepEqual(decoder.dynamicTableEntries(), []);
  });

  test('empty block decodes to an empty list', () => {
    assert.deepEqual(new HpackDecoder().decode(new Uint8Array(0)), []);
  });

  test('the table starts at the protocol default 4096 whatever limit we advertise (RFC 9113 §6.5.2)', () => {
    // A client's first HEADERS is encoded before it saw our SETTINGS: it may fill a 4096-byte table.
    const decoder = new HpackDecoder({ maxTableSize: 0 });
    assert.equal(decoder.tableMaxSize, 4096);
    const block = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
    assert.deepEqual(decoder.decode(block), ['custom-key', 'custom-header']);
    assert.deepEqual(decoder.decode(hex('be')), ['custom-key', 'custom-header']);
    rejects(decoder, hex('21'), /exceeds the limit 0/);
    assert.deepEqual(decoder.decode(hex('20 82')), [':method', 'GET']);
    assert.equal(decoder.tableSize, 0);
  });

  test('invalid table size options are programming errors (RangeError)', () => {
    assert.throws(() => new HpackDecoder({ maxTableSize: -1 }), RangeError);
    assert.throws(() => new HpackDecoder().setMaxTableSize(1.5), RangeError);
    assert.throws(() => new HpackEncoder({ maxTableSize: 2 ** 33 }), RangeError);
  });
});

describe('dynamic table (RFC 7541 §4)', () => {
  function literalWithIndexing(name: string, value: string): number[] {
    assert.ok(name.length < 127 && value.length < 127);
    return [0x40, name.length, ...Array.from(name, (c) => c.charCodeAt(0)), value.length, ...Array.from(value, (c) => c.charCodeAt(0))];
  }

  test('eviction from the end when a new entry needs room (§4.4)', () => {
    const decoder = new HpackDecoder({ maxTableSize: 100, initialTableSize: 100 });
    decoder.decode(Uint8Array.from(literalWithIndexing('aaaa', 'x'.repeat(30)))); // 66
    assert.equal(decoder.tableSize, 66);
    decoder.decode(Uint8Array.from(literalWithIndexing('b', 'y'))); // 34: 100 total, fits exactly
    assert.equal(decoder.tableSize, 100);
    decoder.decode(Uint8Array.from(literalWithIndexing('c', 'z'))); // evicts the oldest (66)
    assert.deepEqual(decoder.dynamicTableEntries(), [['c', 'z'], ['b', 'y']]);
    assert.equal(decoder.tableSize, 68);
  });

  test('an entry larger than the table empties it and is not added (§4.4)', () => {
    const decoder = new HpackDecoder({ maxTableSize: 100, initialTableSize: 100 });
    decoder.decode(Uint8Array.from(literalWithIndexing('b', 'y')));
    assert.deepEqual(decoder.decode(Uint8Array.from(literalWithIndexing('big', 'v'.repeat(70)))), ['big', 'v'.repeat(70)]);
    assert.deepEqual(decoder.dynamicTableEntries(), []);
    assert.equal(decoder.tableSize, 0);
  });

  test('a literal may name the entry it is about to evict (§4.4)', () => {
    // Table of 66 bytes holding one entry; a new entry named after index 62 evicts that very entry.
    const decoder = new HpackDecoder({ initialTableSize: 66 });
    decoder.decode(Uint8Array.from(literalWithIndexing('aaaa', 'x'.repeat(30))));
    assert.deepEqual(decoder.decode(hex('7e 02 6869')), ['aaaa', 'hi']);
    assert.deepEqual(decoder.dynamicTableEntries(), [['aaaa', 'hi']]);
  });

  test('many insertions wrap the ring buffer and keep indexes right', () => {
    const decoder = new HpackDecoder({ maxTableSize: 4096 });
    const encoder = new HpackEncoder();
    for (let i = 0; i < 2000; i++) {
      const headers = ['x-n', String(i), 'x-m', String(i % 7), 'x-k' + (i % 50), 'v' + (i % 3)];
      assert.deepEqual(decoder.decode(encoder.encode(headers).slice()), headers);
    }
    assert.deepEqual(decoder.dynamicTableEntries(), encoder.dynamicTableEntries());
  });
});

describe('header list size and the HPACK bomb', () => {
  test('list size counts name + value + 32 per field (RFC 9113 §6.5.2)', () => {
    // ':method GET' = 7 + 3 + 32 = 42; two fields = 84.
    const decoder = new HpackDecoder({ maxHeaderListSize: 84 });
    assert.deepEqual(decoder.decode(hex('8282')), [':method', 'GET', ':method', 'GET']);
    assert.equal(decoder.lastBlockTooLarge, false);
    assert.deepEqual(decoder.decode(hex('828282')), [':method', 'GET', ':method', 'GET']);
    assert.equal(decoder.lastBlockTooLarge, true);
    decoder.maxHeaderListSize = 126;
    assert.deepEqual(decoder.decode(hex('828282')), [':method', 'GET', ':method', 'GET', ':method', 'GET']);
    assert.equal(decoder.lastBlockTooLarge, false, 'the flag is reset for each block');
  });

  test('a small block referencing one large entry thousands of times returns quickly with bounded output', () => {
    const value = 'A'.repeat(4000);
    const references = 100_000;
    const block = new Uint8Array(3 + 2 + value.length + references + 200);
    let pos = 0;
    block[pos++] = 0x40; // literal with incremental indexing, literal name
    block[pos++] = 1;
    block[pos++] = 0x78; // 'x'
    block[pos++] = 0x7f; // raw, length 4000 = 127 + 3873
    block[pos++] = 0xa1; // 3873 % 128 = 33, continuation
    block[pos++] = 0x1e; // 3873 >> 7 = 30
    for (let i = 0; i < value.length; i++) block[pos++] = 0x41;
    for (let i = 0; i < references; i++) block[pos++] = 0xbe; // index 62: the 4 KB entry
    // After the limit is exceeded: a further literal with indexing must still reach the table.
    for (const byte of [0x40, 0x01, 0x79, 0x02, 0x6f, 0x6b]) block[pos++] = byte; // y: ok
    const decoder = new HpackDecoder({ maxHeaderListSize: 65536 });
    const headers = decoder.decode(block.subarray(0, pos));
    assert.equal(decoder.lastBlockTooLarge, true);
    assert.equal(headers.length, 2 * 16, '16 fields of 4033 bytes fit in 64 KiB');
    let size = 0;
    for (let i = 0; i < headers.length; i += 2) size += headers[i]!.length + headers[i + 1]!.length + 32;
    assert.ok(size <= 65536);
    // The table kept in sync with what the peer's encoder did during the whole block.
    assert.deepEqual(decoder.dynamicTableEntries().map(([n]) => n), ['y', 'x']);
    assert.equal(decoder.tableSize, 35 + 4033);
    assert.deepEqual(decoder.decode(hex('be bf')), ['y', 'ok', 'x', value]);
    assert.equal(decoder.lastBlockTooLarge, false);
  });

  test('never-indexed names are reported only for collected fields', () => {
    const decoder = new HpackDecoder({ maxHeaderListSize: 100 });
    // never-indexed password: secret (48 bytes), then never-indexed authorization (name index 23) with 40-byte value.
    const block = hex('1008 7061 7373 776f 7264 0673 6563 7265 74' + '1f08 28' + '61'.repeat(40));
    assert.deepEqual(decoder.decode(block), ['password', 'secret']);
    assert.equal(decoder.lastBlockTooLarge, true);
    assert.deepEqual(decoder.lastNeverIndexed, ['password']);
    decoder.maxHeaderListSize = Infinity;
    assert.deepEqual(decoder.decode(block), ['password', 'secret', 'authorization', 'a'.repeat(40)]);
    assert.deepEqual(decoder.lastNeverIndexed, ['password', 'authorization']);
    decoder.decode(hex('82'));
    assert.equal(decoder.lastNeverIndexed, null);
  });
});

describe('encoder policy', () => {
  test('one name with several values: each value stays a one-byte reference while it is in the table, also after the older one is evicted', () => {
    // 2 entries of 32 + 12 + 1 octets fit a 100-octet table, a third evicts the oldest (RFC 7541 §4.4).
    const encoder = new HpackEncoder({ maxTableSize: 100 });
    encoder.setMaxTableSize(100);
    const decoder = new HpackDecoder({ maxTableSize: 100 });
    decoder.setMaxTableSize(100);
    const roundTrip = (headers: string[]) => {
      const block = encoder.encode(headers).slice();
      assert.deepEqual(decoder.decode(block), headers);
      assert.deepEqual(decoder.dynamicTableEntries(), encoder.dynamicTableEntries());
      return block;
    };
    roundTrip(['x-variant-id', 'a']);
    roundTrip(['x-variant-id', 'b']);
    assert.deepEqual(encoder.dynamicTableEntries(), [['x-variant-id', 'b'], ['x-variant-id', 'a']]);
    assert.equal(toHex(roundTrip(['x-variant-id', 'a'])), 'bf'); // index 63: the older entry
    assert.equal(toHex(roundTrip(['x-variant-id', 'b'])), 'be'); // index 62: the newest
    roundTrip(['x-variant-id', 'c']); // evicts 'a'
    assert.deepEqual(encoder.dynamicTableEntries(), [['x-variant-id', 'c'], ['x-variant-id', 'b']]);
    assert.equal(toHex(roundTrip(['x-variant-id', 'b'])), 'bf');
    assert.equal(roundTrip(['x-variant-id', 'a']).length > 1, true); // gone: a literal again (name by index)
    assert.equal(toHex(roundTrip(['x-variant-id', 'a'])), 'be');
  });

  test('static exact matches are one-byte indexed fields, empty static values included', () => {
    const encoder = new HpackEncoder();
    assert.equal(toHex(encoder.encode([':method', 'POST', ':status', '404', 'accept-encoding', 'gzip, deflate', 'accept', ''])), '838d9093');
  });

  test('repeated fields become one-byte references to the dynamic table', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const headers = [':status', '200', 'content-type', 'text/html; charset=utf-8', 'server', 'httpsd'];
    const first = encoder.encode(headers).slice();
    const second = encoder.encode(headers).slice();
    assert.ok(first.length > 10);
    assert.equal(toHex(second), '88bfbe');
    assert.deepEqual(decoder.decode(first), headers);
    assert.deepEqual(decoder.decode(second), headers);
  });

  test('authorization, proxy-authorization, set-cookie and short cookies are never indexed (§7.1.3)', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const headers = [
      'authorization', 'Bearer abc',
      'proxy-authorization', 'Basic Zm9vOmJhcg==',
      'set-cookie', 'id=1; Secure',
      'cookie', 'sid=short',
      'cookie', 'long-cookie=0123456789abcdef0123456789',
    ];
    for (let round = 0; round < 2; round++) {
      const block = encoder.encode(headers).slice();
      assert.equal(block[0], 0x1f, 'authorization: never indexed, name index 23 (15 + 8)');
      assert.equal(block[1], 0x08);
      assert.deepEqual(decoder.decode(block), headers);
      assert.deepEqual(decoder.lastNeverIndexed, ['authorization', 'proxy-authorization', 'set-cookie', 'cookie']);
    }
    assert.deepEqual(encoder.dynamicTableEntries(), [['cookie', 'long-cookie=0123456789abcdef0123456789']]);
  });

  test('names reported never-indexed by a decoder stay never-indexed when re-encoded (§7.1.3)', () => {
    const upstream = new HpackDecoder();
    const headers = upstream.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74' + '0003 6162 6301 76'));
    assert.deepEqual(headers, ['password', 'secret', 'abc', 'v']);
    const encoder = new HpackEncoder();
    const block = encoder.encode(headers, upstream.lastNeverIndexed).slice();
    assert.equal(block[0], 0x10, 'never-indexed literal with a literal name');
    const downstream = new HpackDecoder();
    assert.deepEqual(downstream.decode(block), headers);
    assert.deepEqual(downstream.lastNeverIndexed, ['password']);
    assert.deepEqual(encoder.dynamicTableEntries(), [['abc', 'v']]);
  });

  test(':path and content-length are not indexed (per-message values)', () => {
    const encoder = new HpackEncoder();
    encoder.encode([':path', '/a/b/c?q=1', 'content-length', '1234']);
    assert.deepEqual(encoder.dynamicTableEntries(), []);
  });

  test('content-length, etag and last-modified are indexed when the same field is sent again', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const response = [
      ':status', '200',
      'content-type', 'text/plain; charset=utf-8',
      'etag', '"400-5f3a2b1c0d-9c2"',
      'last-modified', 'Tue, 01 Dec 2026 10:00:00 GMT',
      'content-length', '1024',
    ];
    const blocks = [0, 1, 2].map(() => encoder.encode(response).slice());
    for (const block of blocks) assert.deepEqual(decoder.decode(block), response);
    assert.ok(blocks[1]!.length > 4, 'the second response indexes what the first sent literally');
    // Newest first: last-modified, etag, content-length were added by the second block, content-type by the first.
    assert.equal(toHex(blocks[2]!), '88c1c0bfbe', 'every field of the third response is a one-byte reference');
    assert.deepEqual(encoder.dynamicTableEntries().map(([name]) => name).sort(), ['content-length', 'content-type', 'etag', 'last-modified']);
  });

  test('per-message values sent once never reach the dynamic table', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    for (let i = 0; i < 50; i++) {
      const fields = ['etag', `"${i}"`, 'last-modified', `Tue, 01 Dec 2026 10:00:${String(i).padStart(2, '0')} GMT`, 'content-length', String(i)];
      assert.deepEqual(decoder.decode(encoder.encode(fields).slice()), fields);
    }
    assert.deepEqual(encoder.dynamicTableEntries(), []);
    // Only the last few are remembered: a value from long ago is not "repeated".
    encoder.encode(['etag', '"0"']);
    assert.deepEqual(encoder.dynamicTableEntries(), []);
    encoder.encode(['etag', '"49"']);
    assert.deepEqual(encoder.dynamicTableEntries(), [['etag', '"49"']]);
  });

  test('entries larger than half the table are sent without indexing', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const big = 'v'.repeat(3000);
    const headers = ['x-big', big, 'x-small', 'v'];
    assert.deepEqual(decoder.decode(encoder.encode(headers).slice()), headers);
    assert.deepEqual(encoder.dynamicTableEntries(), [['x-small', 'v']]);
  });

  test('names come from the dynamic table when the value differs', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(['x-custom-name', 'one']).slice());
    const block = encoder.encode(['x-custom-name', 'two']).slice();
    assert.equal(block[0], 0x40 | 62, 'literal with indexing, name index 62');
    assert.deepEqual(decoder.decode(block), ['x-custom-name', 'two']);
  });

  test('Huffman only when strictly shorter', () => {
    const encoder = new HpackEncoder();
    // Control bytes have 23..30-bit codes: raw is shorter.
    const raw = encoder.encode(['x-bin', '\u0000\u0001\u0002']).slice();
    assert.deepEqual(Array.from(raw.subarray(-4)), [0x03, 0, 1, 2]);
    const huff = encoder.encode(['x-text', 'aaaaaaaa']).slice();
    assert.equal(huff[huff.length - 6], 0x85, 'H bit set, 5 bytes for 8 five-bit codes');
  });

  test('latin1 bytes round-trip unchanged in names and values', () => {
    let all = '';
    for (let c = 0; c < 256; c++) all += String.fromCharCode(c);
    const headers = ['x-all', all, 'x-high', '\u00e9\u00ff\u0080', 'x-\u00e9', 'v'];
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    for (let i = 0; i < 3; i++) assert.deepEqual(decoder.decode(encoder.encode(headers).slice()), headers);
  });

  test('names are sent lowercase whatever the caller passed (RFC 9113 §8.2)', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const block = encoder.encode(['Content-Type', 'text/plain', 'X-Mixed-Case', 'V', 'x-\u00c0B', 'v']).slice();
    assert.deepEqual(decoder.decode(block), ['content-type', 'text/plain', 'x-mixed-case', 'V', 'x-\u00c0b', 'v']);
    assert.equal(block[0], 0x5f, 'static name content-type (31) found after lowercasing');
    assert.equal(toHex(encoder.encode(['X-MIXED-CASE', 'V'])), 'bf', 'the dynamic entry is found too');
  });

  test('characters above U+00FF are rejected (not a ByteString)', () => {
    assert.throws(() => new HpackEncoder().encode(['x-a', 'caf\u00e9 \u20ac']), TypeError);
    assert.throws(() => new HpackEncoder().encode(['x-\u0100', 'v']), TypeError);
  });

  test('a failed encode leaves the table and pending size updates exactly as before (no desync)', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const filler: string[] = [];
    for (let i = 0; i < 40; i++) filler.push('x-fill-' + i, 'value-' + i); // 40 entries of ~52 bytes: a full table
    decoder.decode(encoder.encode(filler).slice());
    const before = encoder.dynamicTableEntries();
    assert.deepEqual(decoder.dynamicTableEntries(), before);
    encoder.setMaxTableSize(1000); // pending: the failed block must not consume it
    const bad = ['x-new-1', 'a', 'x-new-2', 'b', 'x-fill-3', 'changed', 'x-bad', 'snow \u2603'];
    assert.throws(() => encoder.encode(bad), TypeError);
    assert.deepEqual(encoder.dynamicTableEntries(), before);
    assert.equal(encoder.tableSize, decoder.tableSize);
    decoder.setMaxTableSize(1000);
    const good = ['x-new-1', 'a', 'x-fill-39', 'value-39', 'x-fill-3', 'value-3'];
    const block = encoder.encode(good).slice();
    assert.equal(block[0]! & 0xe0, 0x20, 'the size update is still sent');
    assert.deepEqual(decoder.decode(block), good);
    assert.deepEqual(decoder.dynamicTableEntries(), encoder.dynamicTableEntries());
    // The index maps were rebuilt correctly: repeats are one-byte references on both sides.
    const again = encoder.encode(good).slice();
    assert.ok(again.every((b) => (b & 0x80) !== 0), 'all indexed');
    assert.deepEqual(decoder.decode(again), good);
  });

  test('the scratch buffer grows for large blocks and stays valid until the next encode', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    const headers: string[] = [];
    for (let i = 0; i < 50; i++) headers.push('x-h' + i, String(i).repeat(2000));
    const block = encoder.encode(headers);
    assert.ok(block.length > 50_000);
    assert.deepEqual(decoder.decode(block), headers);
  });

  test('table size updates: own cap signalled in the first block (§4.2)', () => {
    const encoder = new HpackEncoder({ maxTableSize: 256 });
    const block = encoder.encode([':method', 'GET']);
    assert.equal(toHex(block), '3fe10182'); // 256 = 31 + 225
    assert.equal(toHex(encoder.encode([':method', 'GET'])), '82', 'signalled once');
  });

  test('table size updates: peer setting above our cap changes nothing', () => {
    const encoder = new HpackEncoder();
    encoder.setMaxTableSize(65536);
    assert.equal(toHex(encoder.encode([':method', 'GET'])), '82');
    assert.equal(encoder.tableMaxSize, 4096);
  });

  test('table size updates: shrink then grow between blocks sends the minimum then the final size (§4.2)', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(['x-a', 'one']).slice());
    assert.equal(decoder.tableSize, 38);
    encoder.setMaxTableSize(0);
    encoder.setMaxTableSize(1000);
    encoder.setMaxTableSize(2048);
    const block = encoder.encode([':method', 'GET']).slice();
    assert.equal(toHex(block), '20' + '3fe10f' + '82'); // 0, then 2048 = 31 + 2017
    assert.deepEqual(decoder.decode(block), [':method', 'GET']);
    assert.equal(decoder.tableSize, 0, 'the minimum evicted everything on both sides');
    assert.equal(decoder.tableMaxSize, 2048);
    assert.deepEqual(encoder.dynamicTableEntries(), []);
  });

  test('table size updates: a smaller size alone sends one update and evicts on both sides', () => {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    decoder.decode(encoder.encode(['x-a', 'one', 'x-b', 'two']).slice());
    encoder.setMaxTableSize(100);
    decoder.setMaxTableSize(100);
    const block = encoder.encode(['x-c', 'three']).slice();
    assert.equal(block[0], 0x3f);
    assert.deepEqual(decoder.decode(block), ['x-c', 'three']);
    assert.deepEqual(decoder.dynamicTableEntries(), encoder.dynamicTableEntries());
    assert.deepEqual(encoder.dynamicTableEntries(), [['x-c', 'three'], ['x-b', 'two']]);
    assert.equal(decoder.tableSize, 78);
  });

  test('a zero-size table still encodes everything, without indexing', () => {
    const encoder = new HpackEncoder({ maxTableSize: 0 });
    const decoder = new HpackDecoder();
    const headers = ['x-a', 'one', 'content-type', 'text/plain'];
    for (let i = 0; i < 3; i++) assert.deepEqual(decoder.decode(encoder.encode(headers).slice()), headers);
    assert.deepEqual(encoder.dynamicTableEntries(), []);
    assert.equal(decoder.tableMaxSize, 0);
  });
});

describe('latin1 conversion and portability', () => {
  test('native and portable byte->string conversions agree with Buffer latin1 for all lengths', () => {
    const bytes = new Uint8Array(20_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    for (const [start, end] of [[0, 0], [3, 4], [5, 14], [0, 33], [100, 8292], [1, 20_000], [9, 16_393]] as const) {
      const expected = Buffer.from(bytes.subarray(start, end)).toString('latin1');
      assert.equal(bytesToLatin1(bytes, start, end), expected, `native ${start}..${end}`);
      assert.equal(bytesToLatin1Portable(bytes, start, end), expected, `portable ${start}..${end}`);
    }
  });

  test('the HPACK code imports nothing from node: (runtime-agnostic engine)', () => {
    const dir = new URL('../../src/h2/hpack/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length >= 5);
    for (const file of files) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      assert.doesNotMatch(source, /from\s+['"]node:|require\(|import\(['"]node:/, file);
    }
  });
});
