// RFC 9204 (QPACK) unit tests: the static table, every Appendix B vector byte for byte, and each error path with
// its exact error code.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { QpackDecoder, QpackEncoder, STATIC_TABLE } from '../../src/h3/qpack/index.js';
import { MAX_OUTSTANDING_SECTIONS } from '../../src/h3/qpack/encoder.js';
import { ByteWriter } from '../../src/h3/qpack/primitives.js';
import {
  writeDuplicate,
  writeInsertCountIncrement,
  writeInsertWithLiteralName,
  writeInsertWithNameReference,
  writeSectionAcknowledgment,
  writeSetCapacity,
  writeStreamCancellation,
} from '../../src/h3/qpack/instructions.js';
import { H3ErrorCode } from '../../src/h3/errors.js';
import { concat, hex, throwsCode, toHex } from './helpers.js';

const { QPACK_DECOMPRESSION_FAILED, QPACK_ENCODER_STREAM_ERROR, QPACK_DECODER_STREAM_ERROR } = H3ErrorCode;

function decoder(maxTableCapacity = 220, maxBlockedStreams = 16, maxFieldSectionSize = 65536): QpackDecoder {
  return new QpackDecoder({ maxTableCapacity, maxBlockedStreams, maxFieldSectionSize });
}

function written(write: (w: ByteWriter) => void): string {
  const w = new ByteWriter(4);
  write(w);
  return toHex(w.take());
}

describe('static table (RFC 9204 Appendix A)', () => {
  test('has 99 entries', () => assert.equal(STATIC_TABLE.length, 99));
  test('every entry matches the RFC text (fixtures/rfc9204-appendix-a.md)', () => {
    const text = readFileSync(new URL('./fixtures/rfc9204-appendix-a.md', import.meta.url), 'utf8');
    const rows = text
      .split('\n')
      .map((line) => /^\| (\d+) +\| (\S+) +\| (.*?) *\|$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [Number(m[1]), m[2]!, m[3]!.replace(/\\([*'])/g, '$1')] as const);
    assert.equal(rows.length, 99);
    for (const [index, name, value] of rows) assert.deepEqual(STATIC_TABLE[index], [name, value], `entry ${index}`);
  });
  // Spot checks typed from the RFC's table, including every boundary between runs of one name.
  const rfc: Array<[number, string, string]> = [
    [0, ':authority', ''],
    [1, ':path', '/'],
    [2, 'age', '0'],
    [14, 'set-cookie', ''],
    [15, ':method', 'CONNECT'],
    [21, ':method', 'PUT'],
    [22, ':scheme', 'http'],
    [23, ':scheme', 'https'],
    [24, ':status', '103'],
    [28, ':status', '503'],
    [29, 'accept', '*/*'],
    [31, 'accept-encoding', 'gzip, deflate, br'],
    [41, 'cache-control', 'public, max-age=31536000'],
    [46, 'content-type', 'application/json'],
    [52, 'content-type', 'text/html; charset=utf-8'],
    [54, 'content-type', 'text/plain;charset=utf-8'],
    [55, 'range', 'bytes=0-'],
    [58, 'strict-transport-security', 'max-age=31536000; includesubdomains; preload'],
    [62, 'x-xss-protection', '1; mode=block'],
    [63, ':status', '100'],
    [71, ':status', '500'],
    [72, 'accept-language', ''],
    [73, 'access-control-allow-credentials', 'FALSE'],
    [75, 'access-control-allow-headers', '*'],
    [83, 'alt-svc', 'clear'],
    [84, 'authorization', ''],
    [85, 'content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"],
    [86, 'early-data', '1'],
    [92, 'server', ''],
    [95, 'user-agent', ''],
    [96, 'x-forwarded-for', ''],
    [97, 'x-frame-options', 'deny'],
    [98, 'x-frame-options', 'sameorigin'],
  ];
  for (const [index, name, value] of rfc) {
    test(`entry ${index} is ${name}: ${value}`, () => assert.deepEqual(STATIC_TABLE[index], [name, value]));
  }
  test('names are lowercase tokens and every [name, value] pair is unique', () => {
    const seen = new Set<string>();
    for (const [name, value] of STATIC_TABLE) {
      assert.match(name, /^:?[a-z-]+$/);
      assert.ok(!seen.has(`${name}\0${value}`), `${name}: ${value} twice`);
      seen.add(`${name}\0${value}`);
    }
  });
});

describe('RFC 9204 Appendix B, decoder side', () => {
  const d = decoder(220);
  test('B.1 Literal Field Line with Name Reference', () => {
    const result = d.decodeFieldSection(0, hex('0000 510b 2f69 6e64 6578 2e68 746d 6c'));
    assert.deepEqual(result, { status: 'done', fields: [':path', '/index.html'] });
    assert.equal(d.takeInstructions(), null, 'Required Insert Count 0: no acknowledgment');
  });
  test('B.2 Dynamic Table: inserts, post-base references, Section Acknowledgment', () => {
    const unblocked = d.receiveEncoderStream(
      hex('3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468'),
    );
    assert.deepEqual(unblocked, []);
    assert.equal(d.table.capacity, 220);
    assert.equal(d.table.size, 106);
    const result = d.decodeFieldSection(4, hex('0381 10 11'));
    assert.deepEqual(result, { status: 'done', fields: [':authority', 'www.example.com', ':path', '/sample/path'] });
    assert.equal(toHex(d.takeInstructions()), '84');
  });
  test('B.3 Speculative Insert, Insert Count Increment', () => {
    d.receiveEncoderStream(hex('4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565'));
    assert.equal(d.table.size, 160);
    assert.equal(toHex(d.takeInstructions()), '01');
  });
  test('B.4 Duplicate Instruction, Stream Cancellation', () => {
    d.receiveEncoderStream(hex('02'));
    assert.equal(d.table.size, 217);
    assert.deepEqual(d.table.get(3), { name: ':authority', value: 'www.example.com', size: 57, refs: 0 });
    const result = d.decodeFieldSection(8, hex('0500 80 c1 81'));
    assert.deepEqual(result, {
      status: 'done',
      fields: [':authority', 'www.example.com', ':path', '/', 'custom-key', 'custom-value'],
    });
    assert.equal(toHex(d.takeInstructions()), '88');
    d.cancelStream(8);
    assert.equal(toHex(d.takeInstructions()), '48');
  });
  test('B.5 Dynamic Table Insert, Eviction', () => {
    d.receiveEncoderStream(hex('810d 6375 7374 6f6d 2d76 616c 7565 32'));
    assert.equal(d.table.size, 215);
    assert.equal(d.table.oldest, 1, 'entry 0 evicted');
    assert.deepEqual([d.table.get(4)?.name, d.table.get(4)?.value], ['custom-key', 'custom-value2']);
    assert.equal(toHex(d.takeInstructions()), '01');
  });
});

describe('RFC 9204 Appendix B, encoder side', () => {
  test('B.1 field section from the encoder (static-only, no Huffman)', () => {
    const e = new QpackEncoder({ huffman: false });
    assert.equal(toHex(e.encode(0, [':path', '/index.html'])), '0000510b2f696e6465782e68746d6c');
    assert.equal(e.takeInstructions(), null);
  });
  test('B.2–B.5 instruction encodings', () => {
    assert.equal(written((w) => writeSetCapacity(w, 220)), '3fbd01');
    assert.equal(written((w) => writeInsertWithNameReference(w, true, 0, 'www.example.com', false)), 'c00f7777772e6578616d706c652e636f6d');
    assert.equal(written((w) => writeInsertWithNameReference(w, true, 1, '/sample/path', false)), 'c10c2f73616d706c652f70617468');
    assert.equal(written((w) => writeSectionAcknowledgment(w, 4)), '84');
    assert.equal(written((w) => writeInsertWithLiteralName(w, 'custom-key', 'custom-value', false)), '4a637573746f6d2d6b65790c637573746f6d2d76616c7565');
    assert.equal(written((w) => writeInsertCountIncrement(w, 1)), '01');
    assert.equal(written((w) => writeDuplicate(w, 2)), '02');
    assert.equal(written((w) => writeStreamCancellation(w, 8)), '48');
    assert.equal(written((w) => writeInsertWithNameReference(w, false, 1, 'custom-value2', false)), '810d637573746f6d2d76616c756532');
  });
  test('the encoder processes the Appendix B decoder stream (84, 01, 48)', () => {
    const e = new QpackEncoder();
    e.applyPeerSettings(4096, 100);
    e.encode(4, [':authority', 'www.example.com']);
    assert.equal(e.blockingStreamCount, 1);
    assert.equal(e.receiveDecoderStream(hex('84')), 1);
    assert.equal(e.knownReceivedCount, 1);
    assert.equal(e.blockingStreamCount, 0);
    e.encode(8, [':authority', 'www.example.com']);
    assert.equal(e.table.get(0)?.refs, 1);
    e.receiveDecoderStream(hex('48'));
    assert.equal(e.table.get(0)?.refs, 0, 'Stream Cancellation releases the reference');
  });
});

describe('encoder policy', () => {
  test('static-only when the peer allows no dynamic table', () => {
    const e = new QpackEncoder();
    const block = e.encode(0, [':status', '200', 'content-type', 'text/x-custom', 'server', 'httpsd']);
    assert.equal(e.takeInstructions(), null);
    assert.equal(block[0], 0);
    assert.deepEqual(decoder(0).decodeFieldSection(0, block), {
      status: 'done',
      fields: [':status', '200', 'content-type', 'text/x-custom', 'server', 'httpsd'],
    });
  });
  test('inserts common response fields, never sensitive ones; N bit on sensitive literals', () => {
    const e = new QpackEncoder();
    e.applyPeerSettings(4096, 10);
    const fields = [':status', '200', 'server', 'httpsd', 'set-cookie', 'id=secret', 'authorization', 'Basic x', 'x-id', '1'];
    const block = e.encode(0, fields);
    const d = decoder(4096);
    d.receiveEncoderStream(e.takeInstructions()!);
    assert.deepEqual(d.decodeFieldSection(0, block), { status: 'done', fields });
    assert.equal(e.table.insertCount, 1, 'only server inserted');
    assert.equal(e.table.get(0)?.name, 'server');
    // set-cookie: Literal with static name reference (index 14) and N=1: 0111 xxxx -> 0x7e for index 14.
    assert.ok(block.includes(0x7e), 'set-cookie has the N bit');
  });
  test('never blocks more streams than the peer allows', () => {
    const e = new QpackEncoder();
    e.applyPeerSettings(4096, 1);
    e.encode(0, ['content-type', 'text/a']);
    assert.equal(e.blockingStreamCount, 1);
    const second = e.encode(4, ['content-type', 'text/b']);
    assert.equal(e.blockingStreamCount, 1, 'second stream must not block');
    assert.equal(second[0], 0, 'Required Insert Count 0');
  });
  test('never evicts a referenced entry: insertion gives up instead', () => {
    const e = new QpackEncoder({ maxTableCapacity: 200 });
    e.applyPeerSettings(200, 10);
    e.encode(0, ['server', 'a'.repeat(10)]);
    e.encode(4, ['server', 'b'.repeat(10)]);
    const before = e.table.insertCount;
    // Needs room only eviction of referenced entries could make.
    e.encode(8, ['content-type', 'c'.repeat(10)]);
    assert.ok(e.table.insertCount <= before + 1);
    assert.ok(e.table.get(0) !== undefined && e.table.get(0)!.refs > 0, 'entry 0 still present and referenced');
  });
});

describe('encoder memory bound', () => {
  test('a peer that never acknowledges cannot make the encoder remember sections without bound', () => {
    const e = new QpackEncoder();
    e.applyPeerSettings(4096, 100);
    e.encode(0, ['server', 'httpsd']);
    e.receiveDecoderStream(hex('01')); // the insert is acknowledged, sections never are
    for (let i = 1; i <= MAX_OUTSTANDING_SECTIONS + 10; i++) e.encode(4 * i, ['server', 'httpsd']);
    const last = e.encode(999_996, ['server', 'httpsd']);
    assert.equal(last[0], 0, 'static-only once the bound is reached');
    e.receiveDecoderStream(hex('80')); // acknowledging stream 0 frees one slot
    assert.notEqual(e.encode(999_992, ['server', 'httpsd'])[0], 0);
  });
});

describe('encoder eviction rule (RFC 9204 §2.1.1)', () => {
  test('an entry is not evicted before its insertion is acknowledged, even if never referenced', () => {
    const e = new QpackEncoder({ maxTableCapacity: 200 });
    e.applyPeerSettings(200, 0); // no blocking allowed: new entries are inserted but not referenced
    e.encode(0, ['server', 'a'.repeat(10)]);
    e.encode(4, ['server', 'b'.repeat(10)]);
    e.encode(8, ['server', 'c'.repeat(10)]);
    e.encode(12, ['server', 'd'.repeat(10)]);
    assert.equal(e.table.insertCount, 4, 'four 48-byte entries fill 192 of 200 bytes');
    e.encode(16, ['server', 'e'.repeat(10)]);
    assert.equal(e.table.insertCount, 4, 'no insert: it would evict an unacknowledged entry');
    e.receiveDecoderStream(hex('01')); // Insert Count Increment 1: entry 0 is acknowledged
    e.encode(20, ['server', 'f'.repeat(10)]);
    assert.equal(e.table.insertCount, 5);
    assert.equal(e.table.oldest, 1, 'entry 0 evicted once acknowledged');
  });
});

describe('encoder stream errors: QPACK_ENCODER_STREAM_ERROR (0x201)', () => {
  const cases: Array<[string, string]> = [
    ['capacity above SETTINGS_QPACK_MAX_TABLE_CAPACITY', '3fbe01'],
    ['static name reference out of range', 'ff24 0161'],
    ['dynamic name reference to an empty table', '3fbd01 80 0161'],
    ['duplicate of a missing entry', '3fbd01 00'],
    ['entry larger than the capacity', '2a 4161 0161'],
    ['Huffman string containing EOS', '3fbd01 c0 84 ffffffff'],
    ['integer above 2^32-1', '3f ffffffffff0f'],
  ];
  for (const [title, bytes] of cases) {
    test(title, () => throwsCode(() => decoder(220).receiveEncoderStream(hex(bytes)), QPACK_ENCODER_STREAM_ERROR));
  }
  test('a partial instruction longer than any entry could be', () => {
    const d = decoder(64);
    throwsCode(() => d.receiveEncoderStream(concat(hex('3f21 c0 7f ff 01'), new Uint8Array(300))), QPACK_ENCODER_STREAM_ERROR);
  });
  test('instructions split across many deliveries are reassembled', () => {
    const d = decoder(220);
    const bytes = hex('3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d');
    for (const byte of bytes) d.receiveEncoderStream(Uint8Array.of(byte));
    assert.equal(d.table.get(0)?.value, 'www.example.com');
  });
});

describe('field section errors: QPACK_DECOMPRESSION_FAILED (0x200)', () => {
  const withTwoEntries = () => {
    const d = decoder(220);
    d.receiveEncoderStream(hex('3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468'));
    return d;
  };
  const cases: Array<[string, string]> = [
    ['empty section', ''],
    ['truncated prefix', '00'],
    ['encoded Required Insert Count above 2 * MaxEntries', '0e00'],
    ['negative Base', '0282 80'],
    ['static index 99', '0000 ff24'],
    ['reference at or above the Required Insert Count', '0200 10'],
    ['Required Insert Count larger than needed', '0300 81'],
    ['truncated string', '0000 5f'],
    ['truncated literal value', '0000 5105 61'],
    ['post-base name reference to a missing entry', '0300 0a 0161'],
  ];
  for (const [title, bytes] of cases) {
    test(title, () => throwsCode(() => withTwoEntries().decodeFieldSection(0, hex(bytes)), QPACK_DECOMPRESSION_FAILED));
  }
  test('reference to an evicted entry', () => {
    const d = withTwoEntries();
    d.receiveEncoderStream(hex('20')); // Set Dynamic Table Capacity 0 evicts both
    throwsCode(() => d.decodeFieldSection(0, hex('0300 81')), QPACK_DECOMPRESSION_FAILED);
  });
  test('Required Insert Count wrapping to 0', () => {
    // MaxEntries = 6, FullRange = 12; with 0 inserts, encoded 1 decodes to 0 + 1 - 1 = 0.
    throwsCode(() => decoder(220).decodeFieldSection(0, hex('0100')), QPACK_DECOMPRESSION_FAILED);
  });
  test('more blocked streams than SETTINGS_QPACK_BLOCKED_STREAMS', () => {
    const d = decoder(220, 2);
    assert.deepEqual(d.decodeFieldSection(0, hex('0200 80')), { status: 'blocked' });
    assert.deepEqual(d.decodeFieldSection(4, hex('0200 80')), { status: 'blocked' });
    throwsCode(() => d.decodeFieldSection(8, hex('0200 80')), QPACK_DECOMPRESSION_FAILED, /blocked/);
  });
  test('blocked with 0 allowed blocked streams', () => {
    throwsCode(() => decoder(220, 0).decodeFieldSection(0, hex('0200 80')), QPACK_DECOMPRESSION_FAILED);
  });
});

describe('blocked sections', () => {
  test('unblock when the inserts arrive, in order, with acknowledgments', () => {
    const d = decoder(220);
    assert.deepEqual(d.decodeFieldSection(4, hex('0381 10 11')), { status: 'blocked' });
    assert.equal(d.blockedStreamCount, 1);
    const first = d.receiveEncoderStream(hex('3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d'));
    assert.deepEqual(first, [], 'one insert is not enough');
    const second = d.receiveEncoderStream(hex('c10c 2f73 616d 706c 652f 7061 7468'));
    assert.deepEqual(second, [{ streamId: 4, result: { status: 'done', fields: [':authority', 'www.example.com', ':path', '/sample/path'] } }]);
    assert.equal(toHex(d.takeInstructions()), '84');
    assert.equal(d.blockedStreamCount, 0);
  });
  test('a cancelled blocked stream is forgotten and cancelled on the decoder stream', () => {
    const d = decoder(220);
    d.decodeFieldSection(4, hex('0200 80'));
    d.cancelStream(4);
    assert.equal(d.blockedStreamCount, 0);
    assert.equal(toHex(d.takeInstructions()), '44');
  });
});

describe('decoder stream errors: QPACK_DECODER_STREAM_ERROR (0x202)', () => {
  test('Section Acknowledgment with nothing outstanding', () => {
    throwsCode(() => new QpackEncoder().receiveDecoderStream(hex('84')), QPACK_DECODER_STREAM_ERROR);
  });
  test('Insert Count Increment of 0', () => {
    throwsCode(() => new QpackEncoder().receiveDecoderStream(hex('00')), QPACK_DECODER_STREAM_ERROR);
  });
  test('Insert Count Increment beyond the inserts made', () => {
    const e = new QpackEncoder();
    e.applyPeerSettings(4096, 10);
    e.encode(0, ['server', 'x']);
    throwsCode(() => e.receiveDecoderStream(hex('02')), QPACK_DECODER_STREAM_ERROR);
  });
  test('Stream Cancellation of an unknown stream is harmless', () => {
    assert.equal(new QpackEncoder().receiveDecoderStream(hex('48')), 1);
  });
  test('instructions split across deliveries', () => {
    const e = new QpackEncoder();
    e.applyPeerSettings(4096, 10);
    e.encode(200, ['server', 'x']);
    assert.equal(e.receiveDecoderStream(hex('ff')), 0);
    assert.equal(e.receiveDecoderStream(hex('49')), 1); // 127 + 73 = 200
    assert.equal(e.knownReceivedCount, 1);
  });
});

describe('field section size limit (QPACK bomb)', () => {
  test('many references to one large entry stop at the limit', () => {
    const d = decoder(4096, 16, 16 * 1024);
    const w = new ByteWriter();
    writeSetCapacity(w, 4096);
    writeInsertWithLiteralName(w, 'x-bomb', 'b'.repeat(4000), false);
    d.receiveEncoderStream(w.take());
    // 10000 one-byte references would decode to 40 MB.
    const section = concat(hex('0200'), new Uint8Array(10000).fill(0x80));
    assert.deepEqual(d.decodeFieldSection(0, section), { status: 'tooLarge' });
    assert.equal(toHex(d.takeInstructions()), '80', 'still acknowledged, so the encoder can release its references');
  });
  test('a literal longer than the limit is not even decoded', () => {
    // Declared Huffman length 40000 of bytes that would be invalid Huffman (EOS): rejected by size before decoding.
    const d = decoder(0, 0, 1024);
    const section = concat(hex('0000 2161 ffc1b702'), new Uint8Array(40000).fill(0xff));
    assert.deepEqual(d.decodeFieldSection(0, section), { status: 'tooLarge' });
  });
  test('exactly at the limit is accepted', () => {
    const d = decoder(0, 0, 32 + 1 + 3);
    assert.deepEqual(d.decodeFieldSection(0, hex('0000 2161 03 626262')), { status: 'done', fields: ['a', 'bbb'] });
    assert.deepEqual(decoder(0, 0, 32 + 1 + 2).decodeFieldSection(0, hex('0000 2161 03 626262')), { status: 'tooLarge' });
  });
});
