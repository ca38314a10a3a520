import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProxyHeader, V1_MAX_LENGTH, V2_MAX_LENGTH } from '../../../src/server/proxy/proxy-protocol.js';
import { proxyV1, proxyV2 } from './proxy-client.js';

const complete = (bytes: Uint8Array) => {
  const result = parseProxyHeader(bytes);
  assert.equal(result.kind, 'complete', JSON.stringify(result));
  return result as Extract<ReturnType<typeof parseProxyHeader>, { kind: 'complete' }>;
};

test('PROXY v1 TCP4 and TCP6: addresses, ports and the header length (the bytes after it are not consumed)', () => {
  const header = proxyV1('TCP4', '203.0.113.7', '192.0.2.1', 56324, 443);
  const result = complete(Buffer.concat([header, Buffer.from('GET / HTTP/1.1\r\n')]));
  assert.equal(result.length, header.length);
  assert.deepEqual(result.addresses, { sourceAddress: '203.0.113.7', sourcePort: 56324, destinationAddress: '192.0.2.1', destinationPort: 443 });
  const six = complete(proxyV1('TCP6', '2001:db8::7', '2001:db8::1', 65535, 0));
  assert.deepEqual(six.addresses, { sourceAddress: '2001:db8::7', sourcePort: 65535, destinationAddress: '2001:db8::1', destinationPort: 0 });
});

test('PROXY v1 UNKNOWN: complete, the real peer stands (what follows UNKNOWN is ignored)', () => {
  assert.equal(complete(Buffer.from('PROXY UNKNOWN\r\n')).addresses, undefined);
  assert.equal(complete(Buffer.from('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n')).addresses, undefined);
});

test('PROXY v1 arriving one byte at a time is incomplete until its CRLF', () => {
  const header = proxyV1('TCP4', '198.51.100.2', '192.0.2.1', 1, 2);
  for (let i = 1; i < header.length; i++) assert.equal(parseProxyHeader(header.subarray(0, i)).kind, 'incomplete', `at ${i} bytes`);
  assert.equal(complete(header).length, header.length);
});

test('PROXY v1 malformed headers are invalid', () => {
  const cases: [string, string][] = [
    ['GET / HTTP/1.1\r\n', 'not PROXY'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 'LF without CR'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX', 'CR without LF'],
    ['PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', 'double space'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', 'missing port'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', 'extra field'],
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', 'unknown family'],
    ['PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n', 'lowercase family'],
    ['PROXY TCP4 ::1 5.6.7.8 1 2\r\n', 'IPv6 in TCP4'],
    ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', 'IPv4 in TCP6'],
    ['PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', 'octet out of range'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', 'port out of range'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n', 'leading zero'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', 'negative port'],
    ['PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', 'zone index'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x00\r\n', 'NUL byte'],
    ['PROXY \x01', 'control byte before the end'],
  ];
  for (const [text, why] of cases) assert.equal(parseProxyHeader(Buffer.from(text, 'latin1')).kind, 'invalid', why);
  // No CRLF within 107 bytes: invalid once 107 bytes are in, whatever follows.
  const long = Buffer.from('PROXY UNKNOWN ' + 'x'.repeat(200), 'latin1');
  assert.equal(parseProxyHeader(long.subarray(0, V1_MAX_LENGTH - 1)).kind, 'incomplete');
  assert.equal(parseProxyHeader(long.subarray(0, V1_MAX_LENGTH)).kind, 'invalid');
  // The longest legal line (107 bytes with its CRLF) is accepted.
  const longest = Buffer.from(`PROXY UNKNOWN ${'f'.repeat(V1_MAX_LENGTH - 16)}\r\n`, 'latin1');
  assert.equal(longest.length, V1_MAX_LENGTH);
  assert.equal(complete(longest).length, V1_MAX_LENGTH);
});

test('PROXY v2 PROXY over INET and INET6, with TLVs skipped; LOCAL keeps the real peer', () => {
  const four = proxyV2({ source: '203.0.113.7', destination: '192.0.2.1', sourcePort: 56324, destinationPort: 443, tlvs: [[0x01, Buffer.from('h2')], [0x04, Buffer.alloc(0)]] });
  const result = complete(Buffer.concat([four, Buffer.from([0x16, 0x03, 0x01])]));
  assert.equal(result.length, four.length);
  assert.deepEqual(result.addresses, { sourceAddress: '203.0.113.7', sourcePort: 56324, destinationAddress: '192.0.2.1', destinationPort: 443 });
  const six = complete(proxyV2({ source: '2001:db8::7', destination: '::1', sourcePort: 1, destinationPort: 2 }));
  assert.deepEqual(six.addresses, { sourceAddress: '2001:db8::7', sourcePort: 1, destinationAddress: '::1', destinationPort: 2 });
  const local = complete(proxyV2({ command: 'LOCAL' }));
  assert.equal(local.addresses, undefined);
  assert.equal(local.length, 16);
  // UNSPEC and UNIX families carry no TCP client: the real peer stands.
  assert.equal(complete(proxyV2({ family: 0x00, block: Buffer.alloc(0) })).addresses, undefined);
  assert.equal(complete(proxyV2({ family: 0x31, block: Buffer.alloc(216) })).addresses, undefined);
});

test('PROXY v2 arriving one byte at a time is incomplete until its last byte', () => {
  const header = proxyV2({ source: '198.51.100.2', destination: '192.0.2.1', sourcePort: 3, destinationPort: 4, tlvs: [[0x05, Buffer.from('id')]] });
  for (let i = 1; i < header.length; i++) assert.equal(parseProxyHeader(header.subarray(0, i)).kind, 'incomplete', `at ${i} bytes`);
  assert.equal(complete(header).length, header.length);
});

test('PROXY v2 malformed headers are invalid', () => {
  const valid = proxyV2({ source: '1.2.3.4', destination: '5.6.7.8', sourcePort: 1, destinationPort: 2 });
  const patched = (offset: number, byte: number) => {
    const copy = Buffer.from(valid);
    copy[offset] = byte;
    return copy;
  };
  const cases: [Uint8Array, string][] = [
    [patched(11, 0x0b), 'signature'],
    [patched(12, 0x11), 'version 1'],
    [patched(12, 0x22), 'command 2'],
    [patched(13, 0x41), 'family 4'],
    [patched(13, 0x13), 'transport 3'],
    [patched(13, 0x12), 'DGRAM over INET'],
    [proxyV2({ family: 0x21, block: Buffer.alloc(12) }), 'INET6 with an INET-sized block'],
    [proxyV2({ source: '1.2.3.4', destination: '5.6.7.8', sourcePort: 1, destinationPort: 2, rawTlvs: Buffer.from([0x01, 0x00]) }), 'truncated TLV'],
    [proxyV2({ source: '1.2.3.4', destination: '5.6.7.8', sourcePort: 1, destinationPort: 2, rawTlvs: Buffer.from([0x01, 0x00, 0x05, 0x61]) }), 'TLV past the end'],
  ];
  for (const [bytes, why] of cases) assert.equal(parseProxyHeader(bytes).kind, 'invalid', why);
  // A declared length beyond the bound is refused from the fixed part alone, before anything is buffered.
  const huge = Buffer.from(valid.subarray(0, 16));
  huge.writeUInt16BE(V2_MAX_LENGTH, 14);
  assert.equal(parseProxyHeader(huge).kind, 'invalid');
  // A first byte that starts neither version.
  assert.equal(parseProxyHeader(Buffer.from([0x16, 0x03, 0x01])).kind, 'invalid');
});
