// Checks the conformance harness's own codecs against RFC 7541 Appendix C and RFC 9113 §4.1, so that a harness bug
// cannot pass for an engine bug (or hide one).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, ResponseHpackDecoder, T, bytes, concat, encodeFields, frame, hpackInt, huffmanDecode, huffmanEncode, req } from './harness.js';

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((h) => parseInt(h, 16)));

describe('conformance harness self-check', () => {
  test('RFC 7541 C.1 integer examples: 10 in a 5-bit prefix, 1337 in a 5-bit prefix, 42 at an octet boundary', () => {
    assert.deepEqual(hpackInt(10, 5), [0x0a]);
    assert.deepEqual(hpackInt(1337, 5), [0x1f, 0x9a, 0x0a]);
    assert.deepEqual(hpackInt(42, 8), [0x2a]);
  });

  test('RFC 7541 C.4.1 Huffman encoding of "www.example.com" and back', () => {
    assert.deepEqual(huffmanEncode('www.example.com'), [...hex('f1e3c2e5f23a6ba0ab90f4ff')]);
    assert.equal(new TextDecoder().decode(huffmanDecode(hex('f1e3c2e5f23a6ba0ab90f4ff'))), 'www.example.com');
    assert.deepEqual(huffmanEncode('a'), [0x1f]);
  });

  test('the harness Huffman decoder rejects long padding, zero padding and EOS', () => {
    assert.throws(() => huffmanDecode(Uint8Array.from([0x1f, 0xff])));
    assert.throws(() => huffmanDecode(Uint8Array.from([0x18])));
    assert.throws(() => huffmanDecode(Uint8Array.from([0xff, 0xff, 0xff, 0xff])));
  });

  test('RFC 7541 C.6 response sequence (Huffman, 256-octet table with eviction) decodes', () => {
    const d = new ResponseHpackDecoder(256, 256);
    assert.deepEqual(d.decode(hex('488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3')), [
      ':status', '302', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:21 GMT', 'location', 'https://www.example.com',
    ]);
    assert.deepEqual(d.decode(hex('4883640effc1c0bf')), [
      ':status', '307', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:21 GMT', 'location', 'https://www.example.com',
    ]);
    assert.deepEqual(
      d.decode(hex('88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007')),
      [
        ':status', '200', 'cache-control', 'private', 'date', 'Mon, 21 Oct 2013 20:13:22 GMT', 'location', 'https://www.example.com',
        'content-encoding', 'gzip', 'set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
      ],
    );
  });

  test('RFC 9113 §4.1 frame header layout: 24-bit length, type, flags, 31-bit stream id', () => {
    assert.deepEqual([...frame(0x1, 0x5, 3, bytes([0xaa]))], [0, 0, 1, 1, 5, 0, 0, 0, 3, 0xaa]);
    assert.deepEqual([...frame(0x0, 0, 0x80000001, [], 0x123456)], [0x12, 0x34, 0x56, 0, 0, 0x80, 0, 0, 1]);
  });
});

describe('conformance harness: the checks applied to every server frame', () => {
  const open = () => {
    const c = Client.connect();
    c.sendHeaders(1, req('/', [], 'POST'));
    return c;
  };
  const status200 = encodeFields([':status', '200']);
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['DATA before the response HEADERS', frame(T.DATA, 0, 1, 'x'), /DATA before the final/],
    ['undefined flags', frame(T.PING, 0x2, 0, new Uint8Array(8)), /undefined flags/],
    ['a frame interleaved in a field block', concat(frame(T.HEADERS, 0, 1, status200), frame(T.PING, 0, 0, new Uint8Array(8))), /interleaved/],
    ['a frame after the server\'s RST_STREAM', concat(frame(T.RST_STREAM, 0, 1, [0, 0, 0, 8]), frame(T.WINDOW_UPDATE, 0, 1, [0, 0, 0, 1])), /reset/],
    ['DATA after END_STREAM', concat(frame(T.HEADERS, 5, 1, status200), frame(T.DATA, 0, 1, 'x')), /END_STREAM/],
    ['DATA beyond the flow-control window', concat(frame(T.HEADERS, 4, 1, status200), ...Array.from({ length: 5 }, () => frame(T.DATA, 0, 1, new Uint8Array(16000)))), /window/],
    ['a response without :status', frame(T.HEADERS, 4, 1, encodeFields(['x', '1'])), /:status/],
    ['pseudo-headers in trailers', concat(frame(T.HEADERS, 4, 1, status200), frame(T.HEADERS, 5, 1, status200)), /trailers/],
    ['a GOAWAY whose last-stream-id increases', concat(frame(T.GOAWAY, 0, 0, [0, 0, 0, 1, 0, 0, 0, 0]), frame(T.GOAWAY, 0, 0, [0, 0, 0, 3, 0, 0, 0, 0])), /MUST NOT increase/],
    ['a frame larger than the client\'s SETTINGS_MAX_FRAME_SIZE', concat(frame(T.HEADERS, 4, 1, status200), frame(T.DATA, 0, 1, new Uint8Array(16385))), /SETTINGS_MAX_FRAME_SIZE/],
    ['PUSH_PROMISE', frame(T.PUSH_PROMISE, 4, 1, concat([0, 0, 0, 2], status200)), /pushes/],
  ];
  for (const [name, output, message] of cases) {
    test(`the harness rejects ${name}`, () => {
      assert.throws(() => open().injectServerBytes(output), message);
    });
  }
});
