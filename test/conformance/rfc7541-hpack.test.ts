// RFC 7541 §2–§6 (+ Appendix C sequences): HPACK as seen through the engine. Every decoding error inside a HEADERS
// field block is a connection error COMPRESSION_ERROR (RFC 9113 §4.3).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, E, S, concat, hp, hpackInt, hpackRepresentations, hpackString, req } from './harness.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));

/** :method GET, :scheme https, :path / from the static table + a literal :authority. */
const STATIC_REQ = [0x82, 0x87, 0x84, ...hp.literalIndexedName(1, 'example.com')];

function sendBlock(c: Client, streamId: number, ...parts: Array<number[] | Uint8Array>): void {
  c.sendHeaders(streamId, concat(...parts), { endStream: true });
}

function expectCompressionError(...parts: Array<number[] | Uint8Array>): void {
  const c = Client.connect();
  sendBlock(c, 1, ...parts);
  c.expectGoaway(E.COMPRESSION_ERROR);
}

function headersOf(c: Client, streamId: number): string[] {
  const r = c.eventsOf('request', streamId)[0];
  assert.ok(r, `request event on stream ${streamId}`);
  return r.headers;
}

describe('RFC 7541 §2.3 / §6.1 indexing tables and indexed fields', () => {
  test('§6.1 static table entries decode to their fields (2 :method GET, 7 :scheme https, 4 :path /, 16 accept-encoding)', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.indexed(16));
    const r = c.eventsOf('request', 1)[0]!;
    assert.equal(r.pseudo.method, 'GET');
    assert.equal(r.pseudo.scheme, 'https');
    assert.equal(r.pseudo.path, '/');
    assert.equal(r.pseudo.authority, 'example.com');
    assert.deepEqual(r.headers, ['accept-encoding', 'gzip, deflate']);
  });

  test('§2.3.3 the last static entry (61 www-authenticate) and name references to it decode', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.indexed(61), hp.literalIndexedName(58, 'test-agent'));
    assert.deepEqual(headersOf(c, 1), ['www-authenticate', '', 'user-agent', 'test-agent']);
  });

  test('§6.1 index 0 → COMPRESSION_ERROR ("MUST be treated as a decoding error")', () => {
    expectCompressionError(STATIC_REQ, [0x80]);
  });

  test('§2.3.3 an index beyond static + dynamic table → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, hp.indexed(62));
  });

  test('§2.3.3 a far out-of-range index (multi-octet integer) → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, hp.indexed(100000));
  });

  test('§6.2.2 a literal whose indexed name is out of range → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, hp.literalIndexedName(70, 'v'));
  });

  test('§6.2.1 a literal with incremental indexing whose indexed name is out of range → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, hp.incrementalIndexedName(63, 'v'));
  });
});

describe('RFC 7541 §4 dynamic table management', () => {
  test('§2.3.2/§6.2.1 entries are inserted at the front: the newest entry is index 62', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.incremental('x-first', '1'), hp.incremental('x-second', '2'));
    sendBlock(c, 3, STATIC_REQ, hp.indexed(62), hp.indexed(63));
    assert.deepEqual(headersOf(c, 3), ['x-second', '2', 'x-first', '1']);
    c.expectNoError();
  });

  test('§6.2.1 incremental indexing with an indexed name (static name, dynamic entry)', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.incrementalIndexedName(58, 'agent/1'));
    sendBlock(c, 3, STATIC_REQ, hp.indexed(62));
    assert.deepEqual(headersOf(c, 3), ['user-agent', 'agent/1']);
  });

  test('§6.2.1 a dynamic entry can be referenced within the same block that inserted it', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.incremental('x-same', 'v'), hp.indexed(62));
    assert.deepEqual(headersOf(c, 1), ['x-same', 'v', 'x-same', 'v']);
  });

  test('§6.2.1 a literal name can refer to a dynamic entry\'s name', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.incremental('x-dyn-name', 'a'));
    sendBlock(c, 3, STATIC_REQ, hp.literalIndexedName(62, 'b'));
    assert.deepEqual(headersOf(c, 3), ['x-dyn-name', 'b']);
  });

  test('§6.2.2 a literal without indexing does not change the dynamic table', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.literal('x-not-indexed', 'v'));
    sendBlock(c, 3, STATIC_REQ, hp.indexed(62));
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§6.2.3 a literal never indexed is delivered and not inserted into the dynamic table', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.neverIndexed('authorization', 'secret'));
    assert.deepEqual(headersOf(c, 1), ['authorization', 'secret']);
    sendBlock(c, 3, STATIC_REQ, hp.indexed(62));
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.1/§4.4 entry size is name + value + 32: a table of 80 octets holds two 40-octet entries and evicts the oldest for a third', () => {
    const c = Client.connect();
    sendBlock(c, 1, hp.sizeUpdate(80), STATIC_REQ, hp.incremental('aaaa', 'bbbb'), hp.incremental('cccc', 'dddd'));
    sendBlock(c, 3, STATIC_REQ, hp.indexed(62), hp.indexed(63));
    assert.deepEqual(headersOf(c, 3), ['cccc', 'dddd', 'aaaa', 'bbbb']);
    sendBlock(c, 5, STATIC_REQ, hp.incremental('eeee', 'ffff'), hp.indexed(63));
    assert.deepEqual(headersOf(c, 5), ['eeee', 'ffff', 'cccc', 'dddd']);
    sendBlock(c, 7, STATIC_REQ, hp.indexed(64));
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.4 an entry larger than the table empties it without error', () => {
    const c = Client.connect();
    sendBlock(c, 1, hp.sizeUpdate(64), STATIC_REQ, hp.incremental('x-a', 'b'));
    sendBlock(c, 3, STATIC_REQ, hp.incremental('x-huge', 'h'.repeat(100)));
    assert.deepEqual(headersOf(c, 3), ['x-huge', 'h'.repeat(100)]);
    c.expectNoError();
    sendBlock(c, 5, STATIC_REQ, hp.indexed(62));
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.4 an entry whose name refers to an entry it evicts is still inserted correctly', () => {
    const c = Client.connect();
    sendBlock(c, 1, hp.sizeUpdate(45), STATIC_REQ, hp.incremental('x-nm', 'v1'));
    // Referencing index 62's name while inserting evicts that very entry (§4.4: the name must be read first).
    sendBlock(c, 3, STATIC_REQ, hp.incrementalIndexedName(62, 'v2'), hp.indexed(62));
    assert.deepEqual(headersOf(c, 3), ['x-nm', 'v2', 'x-nm', 'v2']);
  });
});

describe('RFC 7541 §4.2 / §6.3 dynamic table size updates', () => {
  const limitOf = (c: Client): number => c.serverSettings.get(S.HEADER_TABLE_SIZE) ?? 4096;

  test('§4.2 a size update above SETTINGS_HEADER_TABLE_SIZE → COMPRESSION_ERROR', () => {
    const c = Client.connect();
    sendBlock(c, 1, hp.sizeUpdate(limitOf(c) + 1), STATIC_REQ);
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.2 a size update equal to SETTINGS_HEADER_TABLE_SIZE is accepted', () => {
    const c = Client.connect();
    sendBlock(c, 1, hp.sizeUpdate(limitOf(c)), STATIC_REQ);
    c.expectNoError();
    assert.equal(c.eventsOf('request', 1).length, 1);
  });

  test('§4.2 the limit is the server\'s advertised SETTINGS_HEADER_TABLE_SIZE (smaller than the default)', () => {
    const c = Client.connect({ engine: { limits: { headerTableSize: 256 }, settings: { headerTableSize: 256 } } });
    assert.equal(limitOf(c), 256);
    sendBlock(c, 1, hp.sizeUpdate(256), STATIC_REQ);
    c.expectNoError();
    sendBlock(c, 3, hp.sizeUpdate(257), STATIC_REQ);
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.2 a size update after a field representation → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, hp.sizeUpdate(100));
  });

  test('§4.2 a size update after a field, arriving in a CONTINUATION → COMPRESSION_ERROR', () => {
    const c = Client.connect();
    c.sendHeaders(1, Uint8Array.from(STATIC_REQ), { endStream: true, endHeaders: false });
    c.sendContinuation(1, hp.sizeUpdate(0));
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.2 a size update at the start of a block that begins in a CONTINUATION (empty HEADERS fragment) is valid', () => {
    const c = Client.connect();
    c.sendHeaders(1, new Uint8Array(0), { endStream: true, endHeaders: false });
    c.sendContinuation(1, concat(hp.sizeUpdate(0), STATIC_REQ));
    c.expectNoError();
    assert.equal(c.eventsOf('request', 1).length, 1);
  });

  test('§4.2 two size updates at the start of a block (smallest, then final) are valid', () => {
    const c = Client.connect();
    sendBlock(c, 1, hp.sizeUpdate(0), hp.sizeUpdate(limitOf(c)), STATIC_REQ);
    c.expectNoError();
    assert.equal(c.eventsOf('request', 1).length, 1);
  });

  test('§4.3/§6.3 a size update to 0 evicts every entry', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.incremental('x-gone', '1'));
    sendBlock(c, 3, hp.sizeUpdate(0), hp.sizeUpdate(limitOf(c)), STATIC_REQ, hp.indexed(62));
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.3 reducing the size evicts the oldest entries only', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.incremental('x-old', '1'), hp.incremental('x-new', '2'));
    // Each entry is 5 + 1 + 32 = 38 octets: a 40-octet table keeps only the newest.
    sendBlock(c, 3, hp.sizeUpdate(40), STATIC_REQ, hp.indexed(62));
    assert.deepEqual(headersOf(c, 3), ['x-new', '2']);
    sendBlock(c, 5, STATIC_REQ, hp.indexed(63));
    c.expectGoaway(E.COMPRESSION_ERROR);
  });

  test('§4.2 the server\'s encoder signals a smaller table after the client lowers SETTINGS_HEADER_TABLE_SIZE', () => {
    const c = Client.connect();
    c.request(1);
    c.request(3);
    c.sendSettings([[S.HEADER_TABLE_SIZE, 0]]);
    assert.equal(c.request(5).status, '200');
    assert.equal(c.request(7).status, '200');
    assert.equal(c.decoder.maxSize, 0);
  });
});

describe('RFC 7541 §5.1 integer representation', () => {
  test('§5.1 multi-octet integers (string length 300) decode', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.literal('x-long', 'L'.repeat(300)));
    assert.deepEqual(headersOf(c, 1), ['x-long', 'L'.repeat(300)]);
  });

  test('§5.1 an integer that overflows (absurd continuation octets) → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
  });

  test('§5.1 an index integer 2^32 encoded in 6 octets → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, hpackInt(2 ** 32, 7, 0x80));
  });

  test('§5.1 a string length integer beyond any limit → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, [0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x61]);
  });

  test('§5.1 an integer truncated at the end of the block → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, [0xff]);
  });

  test('§5.1 an integer truncated after a continuation octet → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, [0xff, 0x80]);
  });
});

describe('RFC 7541 §5.2 string literal representation', () => {
  test('§5.2 a string whose length runs past the end of the block → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, [0x00, 0x05, 0x61, 0x62]);
  });

  test('§5.2 a literal representation truncated before its value → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, [0x00, ...hpackString('x-a')]);
  });

  test('§5.2 Huffman-encoded names and values decode', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.literal('x-huffman', 'Hello, World! ~ 0123', true));
    assert.deepEqual(headersOf(c, 1), ['x-huffman', 'Hello, World! ~ 0123']);
  });

  test('§5.2 every octet value round-trips through Huffman decoding', () => {
    const c = Client.connect();
    const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i)).replace(/[\0\n\r]/g, '');
    const value = `v${all.replace(/^[ \t]+|[ \t]+$/g, '')}v`;
    sendBlock(c, 1, STATIC_REQ, [0x00, ...hpackString('x-all', true), ...hpackString(value, true)]);
    c.expectNoError();
    assert.deepEqual(headersOf(c, 1), ['x-all', value]);
  });

  test('§5.2 an empty Huffman-encoded value decodes to the empty string', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, [0x00, ...hpackString('x-empty'), 0x80]);
    assert.deepEqual(headersOf(c, 1), ['x-empty', '']);
  });

  test('§5.2 Huffman padding longer than 7 bits → COMPRESSION_ERROR', () => {
    // 'a' is 00011 (5 bits); 0x1f 0xff pads with 11 one-bits.
    expectCompressionError(STATIC_REQ, [0x00, ...hpackString('x-a'), 0x82, 0x1f, 0xff]);
  });

  test('§5.2 Huffman padding that is not the EOS prefix (zero bits) → COMPRESSION_ERROR', () => {
    // 'a' (00011) followed by 000: padding must be ones.
    expectCompressionError(STATIC_REQ, [0x00, ...hpackString('x-a'), 0x81, 0x18]);
  });

  test('§5.2 a Huffman string containing the EOS symbol → COMPRESSION_ERROR', () => {
    // EOS = 30 one-bits, then 2 one-bits of padding.
    expectCompressionError(STATIC_REQ, [0x00, ...hpackString('x-a'), 0x84, 0xff, 0xff, 0xff, 0xff]);
  });

  test('§5.2 a Huffman-encoded name with invalid padding → COMPRESSION_ERROR', () => {
    expectCompressionError(STATIC_REQ, [0x00, 0x82, 0x1f, 0xff, ...hpackString('v')]);
  });

  test('§5.2 Huffman strings inside a field block that also uses raw strings and the dynamic table', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, [0x40, ...hpackString('x-mix', true), ...hpackString('raw')]);
    sendBlock(c, 3, STATIC_REQ, hp.indexed(62));
    assert.deepEqual(headersOf(c, 3), ['x-mix', 'raw']);
  });
});

describe('RFC 7541 Appendix C request sequences through the engine', () => {
  test('C.3 requests without Huffman coding (three requests sharing the dynamic table)', () => {
    const c = Client.connect();
    c.sendHeaders(1, hex('828684410f7777772e6578616d706c652e636f6d'), { endStream: true });
    c.sendHeaders(3, hex('828684be58086e6f2d6361636865'), { endStream: true });
    c.sendHeaders(5, hex('828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'), { endStream: true });
    const [r1, r2, r3] = [1, 3, 5].map((id) => c.eventsOf('request', id)[0]!);
    assert.deepEqual([r1!.pseudo.method, r1!.pseudo.scheme, r1!.pseudo.path, r1!.pseudo.authority], ['GET', 'http', '/', 'www.example.com']);
    assert.deepEqual(r2!.headers, ['cache-control', 'no-cache']);
    assert.equal(r2!.pseudo.authority, 'www.example.com');
    assert.deepEqual([r3!.pseudo.scheme, r3!.pseudo.path, r3!.pseudo.authority], ['https', '/index.html', 'www.example.com']);
    assert.deepEqual(r3!.headers, ['custom-key', 'custom-value']);
    c.expectNoError();
  });

  test('C.4 requests with Huffman coding (three requests sharing the dynamic table)', () => {
    const c = Client.connect();
    c.sendHeaders(1, hex('828684418cf1e3c2e5f23a6ba0ab90f4ff'), { endStream: true });
    c.sendHeaders(3, hex('828684be5886a8eb10649cbf'), { endStream: true });
    c.sendHeaders(5, hex('828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'), { endStream: true });
    const [r1, r2, r3] = [1, 3, 5].map((id) => c.eventsOf('request', id)[0]!);
    assert.equal(r1!.pseudo.authority, 'www.example.com');
    assert.deepEqual(r2!.headers, ['cache-control', 'no-cache']);
    assert.deepEqual(r3!.headers, ['custom-key', 'custom-value']);
    assert.equal(r3!.pseudo.path, '/index.html');
    c.expectNoError();
  });
});

describe('RFC 7541 §7 the server\'s encoder', () => {
  test('§7.1.3 sensitive response fields (set-cookie) are sent as never-indexed literals and decode correctly', () => {
    const c = Client.connect({ app: 'none' });
    c.sendHeaders(1, req(), { endStream: true });
    c.engine.sendHeaders(1, [':status', '200', 'set-cookie', 'session=abcdef0123456789'], true);
    c.drain();
    const res = c.response(1);
    assert.deepEqual(res.headers, [':status', '200', 'set-cookie', 'session=abcdef0123456789']);
    const headersFrame = c.frames.find((f) => f.type === 0x1 && f.streamId === 1)!;
    assert.ok(hpackRepresentations(headersFrame.payload).includes('neverIndexed'), 'set-cookie encoded as Literal Never Indexed (0001xxxx)');
  });

  test('§4 response blocks stay decodable across many responses with repeated and varying fields', () => {
    const c = Client.connect({ app: 'none' });
    for (let i = 0; i < 30; i++) {
      const id = 2 * i + 1;
      c.sendHeaders(id, req(), { endStream: true });
      c.engine.sendHeaders(id, [':status', i % 2 ? '404' : '200', 'x-seq', String(i), 'server', 'httpsd', 'x-pad', 'p'.repeat(i * 20)], true);
      c.drain();
      assert.deepEqual(c.response(id).headers, [':status', i % 2 ? '404' : '200', 'x-seq', String(i), 'server', 'httpsd', 'x-pad', 'p'.repeat(i * 20)]);
    }
  });
});

describe('RFC 7541 §4 the server\'s encoder under table size changes', () => {
  const fields = (i: number): string[] => [':status', ['200', '404', '204', '301'][i % 4]!, 'x-seq', String(i), 'server', 'httpsd', 'cache-control', i % 3 ? 'no-store' : 'max-age=60', 'x-pad', 'p'.repeat((i * 37) % 150)];

  function exchange(c: Client, from: number, count: number): void {
    for (let i = 0; i < count; i++) {
      const id = from + 2 * i;
      c.sendHeaders(id, req(), { endStream: true });
      c.engine.sendHeaders(id, fields(i), true);
      c.drain();
      assert.deepEqual(c.response(id).headers, fields(i), `response on stream ${id}`);
    }
  }

  test('§4.1/§4.4 a small client table (200 octets): the encoder evicts exactly as the decoder does', () => {
    const c = Client.connect({ app: 'none', settings: [[S.HEADER_TABLE_SIZE, 200]] });
    exchange(c, 1, 40);
  });

  test('§4.2 the client shrinks the table mid-connection (to 64) and grows it back (to 4096)', () => {
    const c = Client.connect({ app: 'none' });
    exchange(c, 1, 10);
    c.sendSettings([[S.HEADER_TABLE_SIZE, 64]]);
    exchange(c, 21, 10);
    assert.ok(c.decoder.maxSize <= 64);
    c.sendSettings([[S.HEADER_TABLE_SIZE, 4096]]);
    exchange(c, 41, 10);
  });

  test('§4.2 a client table larger than the default (65536) is honoured', () => {
    const c = Client.connect({ app: 'none', settings: [[S.HEADER_TABLE_SIZE, 65536]] });
    exchange(c, 1, 20);
  });

  test('§4.2 two table size changes before the next block: the encoder signals the smallest, then the final size', () => {
    const c = Client.connect({ app: 'none' });
    exchange(c, 1, 5);
    c.sendSettings([[S.HEADER_TABLE_SIZE, 0]]);
    c.sendSettings([[S.HEADER_TABLE_SIZE, 4096]]);
    // The harness decoder saw the limit drop to 0: the next block must start with a size update to 0.
    exchange(c, 11, 5);
  });
});

describe('RFC 7541 §4.2 the engine\'s decoder after its own table size decrease', () => {
  test('§4.2 once a smaller SETTINGS_HEADER_TABLE_SIZE is acknowledged, a block without a leading size update → COMPRESSION_ERROR', () => {
    const c = Client.connect();
    sendBlock(c, 1, STATIC_REQ, hp.incremental('x-entry', 'v'));
    c.engine.updateSettings({ headerTableSize: 0 });
    c.drain();
    c.readFrames();
    c.sendFrame(0x4, 0x1, 0);
    sendBlock(c, 3, STATIC_REQ, hp.indexed(62));
    c.expectGoaway(E.COMPRESSION_ERROR);
  });
});
