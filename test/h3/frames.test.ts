// HTTP/3 frame codec and varints: RFC 9000 §A.1 sample varints, frame round trips, the incremental parser fed one
// byte at a time, settings decoding rules, limits validation, and trace formatting of each frame type.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { H3ErrorCode as E } from '../../src/h3/errors.js';
import {
  FrameParser,
  FrameType,
  decodeSettingsPayload,
  encodeFrame,
  encodeIdFrame,
  encodePriorityUpdateFrame,
  encodeSettingsFrame,
  frameTypeName,
  isReservedIdentifier,
  type ParsedItem,
} from '../../src/h3/frames.js';
import { resolveH3Limits, DEFAULT_H3_LIMITS } from '../../src/h3/limits.js';
import { formatFrame, traceFrame } from '../../src/h3/trace.js';
import { encodeVarint, readVarint, varintResult } from '../../src/h3/varint.js';
import { concat, hex, throwsCode, toHex } from './helpers.js';

describe('variable-length integers (RFC 9000 §16, §A.1)', () => {
  const samples: Array<[string, number]> = [
    ['25', 37],
    ['4025', 37],
    ['7bbd', 15293],
    ['9d7f3e7d', 494878333],
    ['c000000100000000', 2 ** 32],
  ];
  for (const [encoded, value] of samples) {
    test(`${encoded} = ${value}`, () => {
      const bytes = hex(encoded);
      readVarint(bytes, 0, bytes.length);
      assert.equal(varintResult.value, value);
      assert.equal(varintResult.next, bytes.length);
    });
  }
  test('shortest encodings', () => {
    assert.equal(toHex(encodeVarint(37)), '25');
    assert.equal(toHex(encodeVarint(15293)), '7bbd');
    assert.equal(toHex(encodeVarint(494878333)), '9d7f3e7d');
    assert.equal(toHex(encodeVarint(2 ** 32)), 'c000000100000000');
    assert.throws(() => encodeVarint(2 ** 62), RangeError);
  });
  test('truncated input reports next = -1', () => {
    readVarint(hex('9d7f'), 0, 2);
    assert.equal(varintResult.next, -1);
  });
});

describe('FrameParser', () => {
  const stream = concat(
    encodeFrame(FrameType.HEADERS, hex('0000d1')),
    encodeFrame(FrameType.DATA, hex('68656c6c6f')),
    encodeFrame(0x21, hex('ffff')),
    encodeFrame(FrameType.DATA, new Uint8Array(0)),
  );
  const collect = (parser: FrameParser, items: ParsedItem[]) => {
    for (let item = parser.next(); item !== null; item = parser.next()) items.push(item);
  };
  test('one byte at a time gives the same frames and payload as all at once', () => {
    const whole: ParsedItem[] = [];
    const wholeParser = new FrameParser(1024);
    wholeParser.append(stream);
    collect(wholeParser, whole);
    const piecewise: ParsedItem[] = [];
    const parser = new FrameParser(1024);
    for (const byte of stream) {
      parser.append(Uint8Array.of(byte));
      collect(parser, piecewise);
    }
    const summary = (items: ParsedItem[]) => {
      const out: string[] = [];
      for (const item of items) {
        if (item.kind === 'payload') {
          if (item.chunk.length > 0 || item.end) out.push(`payload ${item.type} ${toHex(item.chunk)}${item.end ? ' end' : ''}`);
        } else if (item.kind === 'frame') out.push(`frame ${item.type} ${toHex(item.payload)}`);
        else out.push(`header ${item.type} ${item.length}`);
      }
      return out.join('\n').replace(/\npayload (\d+) (\w*)(?= |\n|$)/g, ' +$2');
    };
    assert.equal(summary(piecewise).replace(/ \+/g, ''), summary(whole).replace(/ \+/g, ''));
    assert.ok(!parser.inFrame);
    // Overhead = everything but the 5 DATA payload bytes.
    assert.equal(parser.takeOverhead(), stream.length - 5);
  });
  test('a buffered frame above the limit is rejected at its header', () => {
    const parser = new FrameParser(10);
    parser.append(hex('01 0b'));
    throwsCode(() => parser.next(), E.H3_EXCESSIVE_LOAD);
  });
  test('DATA views handed out stay intact while more bytes arrive in small pieces', () => {
    const parser = new FrameParser(1024);
    parser.append(hex('00 0a 6162'));
    parser.append(hex('63')); // joins into an owned buffer with spare room
    assert.equal(parser.next()?.kind, 'header');
    const first = parser.next();
    assert.ok(first?.kind === 'payload');
    const seen = toHex(first.chunk);
    for (let i = 0; i < 2000; i++) parser.append(Uint8Array.of(0x7a)); // grows, never rewrites handed-out bytes
    assert.equal(toHex(first.chunk), seen);
    assert.equal(parser.bufferedBytes, 2000);
  });
  test('a large DATA frame streams through without the limit', () => {
    const parser = new FrameParser(10);
    parser.append(concat(hex('00 4064'), new Uint8Array(100)));
    assert.deepEqual(parser.next(), { kind: 'header', type: 0, length: 100 });
    const item = parser.next();
    assert.equal(item?.kind === 'payload' && item.chunk.length, 100);
  });
});

describe('SETTINGS', () => {
  test('round trip, unknown identifiers kept for the caller to ignore', () => {
    const frame = encodeSettingsFrame([[0x01, 4096], [0x06, 65536], [0x21, 0]]);
    assert.deepEqual(decodeSettingsPayload(frame.subarray(2)), [[0x01, 4096], [0x06, 65536], [0x21, 0]]);
  });
  for (const id of [0x00, 0x02, 0x03, 0x04, 0x05]) {
    test(`HTTP/2 identifier 0x${id.toString(16)} is H3_SETTINGS_ERROR`, () => {
      throwsCode(() => decodeSettingsPayload(encodeSettingsFrame([[id, 1]]).subarray(2)), E.H3_SETTINGS_ERROR);
    });
  }
  test('a value cut short is H3_FRAME_ERROR', () => throwsCode(() => decodeSettingsPayload(hex('01 40')), E.H3_FRAME_ERROR));
});

describe('identifiers and names', () => {
  test('reserved identifiers are 0x1f * N + 0x21', () => {
    assert.ok(isReservedIdentifier(0x21) && isReservedIdentifier(0x40) && isReservedIdentifier(0x21 + 0x1f * 1000));
    assert.ok(!isReservedIdentifier(0x20) && !isReservedIdentifier(0x22) && !isReservedIdentifier(0x04));
    assert.equal(frameTypeName(0x06), 'HTTP2_PING');
    assert.equal(frameTypeName(0x40), 'RESERVED(0x40)');
    assert.equal(frameTypeName(0xf0700), 'PRIORITY_UPDATE_REQUEST');
  });
});

describe('limits', () => {
  test('overrides merge over the defaults; negative values are refused', () => {
    assert.equal(resolveH3Limits({ qpackBlockedStreams: 0 }).qpackBlockedStreams, 0);
    assert.equal(resolveH3Limits(undefined).maxFieldSectionSize, DEFAULT_H3_LIMITS.maxFieldSectionSize);
    assert.throws(() => resolveH3Limits({ maxFieldSectionSize: -1 }), RangeError);
  });
});

describe('trace', () => {
  const line = (frame: Uint8Array, streamId = 3) => {
    readVarint(frame, 0, frame.length);
    const type = varintResult.value;
    readVarint(frame, varintResult.next, frame.length);
    return formatFrame('in', traceFrame(type, streamId, varintResult.value, frame.subarray(varintResult.next)));
  };
  test('one line per frame type', () => {
    assert.equal(line(encodeSettingsFrame([[0x01, 0], [0x07, 0]])), 'recv SETTINGS frame <length=4, stream_id=3> settings=[QPACK_MAX_TABLE_CAPACITY=0, QPACK_BLOCKED_STREAMS=0]');
    assert.equal(line(encodeIdFrame(FrameType.GOAWAY, 8)), 'recv GOAWAY frame <length=1, stream_id=3> id=8');
    assert.equal(line(encodeIdFrame(FrameType.MAX_PUSH_ID, 3)), 'recv MAX_PUSH_ID frame <length=1, stream_id=3> id=3');
    assert.equal(line(encodePriorityUpdateFrame(FrameType.PRIORITY_UPDATE_REQUEST, 4, 'u=2')), 'recv PRIORITY_UPDATE_REQUEST frame <length=4, stream_id=3> prioritizedElementId=4 value=u=2');
    assert.equal(line(encodeFrame(FrameType.GOAWAY, hex('0000'))), 'recv GOAWAY frame <length=2, stream_id=3> invalid=H3_FRAME_ERROR: GOAWAY payload must be exactly one variable-length integer (RFC 9114 §7.1)');
    assert.equal(formatFrame('out', traceFrame(FrameType.DATA, 0, 5, null)), 'send DATA frame <length=5, stream_id=0> dataLength=5');
    assert.equal(
      formatFrame('in', traceFrame(FrameType.HEADERS, 0, 3, null, [':method', 'GET', ':path', '/'])),
      'recv HEADERS frame <length=3, stream_id=0> | :method: GET; :path: /',
    );
  });
});
