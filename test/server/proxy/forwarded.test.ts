import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrustedProxies } from '../../../src/server/proxy/trust.js';
import { forwardedClient, parseForwarded, MAX_FORWARDED_HOPS } from '../../../src/server/proxy/forwarded.js';

const trustedLoopback = new TrustedProxies('loopback');

test('trustProxy entries: addresses, CIDR ranges, keywords; IPv4-mapped and zoned peers match as their address', () => {
  const trusted = new TrustedProxies('loopback, 203.0.113.0/24, 2001:db8::5');
  for (const address of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1', '203.0.113.200', '::FFFF:203.0.113.1', '2001:db8::5']) {
    assert.ok(trusted.trusts(address), address);
  }
  for (const address of ['128.0.0.1', '203.0.114.1', '2001:db8::6', '10.0.0.1', 'localhost', '', 'unknown']) assert.ok(!trusted.trusts(address), address);
  const ranges = new TrustedProxies(['private', 'linklocal']);
  for (const address of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', 'fd12::1', 'fc00::1', '169.254.1.1', 'fe80::1', 'fe80::1%eth0']) {
    assert.ok(ranges.trusts(address), address);
  }
  for (const address of ['172.32.0.1', '11.0.0.1', 'fe00::1', '127.0.0.1']) assert.ok(!ranges.trusts(address), address);
  assert.ok(new TrustedProxies('0.0.0.0/0').trusts('198.51.100.1'));
  assert.ok(!new TrustedProxies('0.0.0.0/0').trusts('2001:db8::1'));
  assert.ok(new TrustedProxies('::/0').trusts('2001:db8::1'));
  // Prefix boundaries inside a 32-bit word and across words; embedded IPv4 tails and hexadecimal mapped forms.
  const edges = new TrustedProxies('192.0.2.128/25, 2001:db8:0:1::/65, 64:ff9b::/96');
  for (const address of ['192.0.2.128', '192.0.2.255', '2001:db8:0:1::1', '2001:db8:0:1:7fff:ffff:ffff:ffff', '64:ff9b::192.0.2.1']) assert.ok(edges.trusts(address), address);
  for (const address of ['192.0.2.127', '192.0.3.128', '2001:db8:0:1:8000::', '2001:db8:0:2::', '64:ff9b:1::192.0.2.1']) assert.ok(!edges.trusts(address), address);
  assert.ok(trustedLoopback.trusts('::ffff:7f00:1'));
  assert.ok(new TrustedProxies('1.2.3.4').trusts('1.2.3.4') && !new TrustedProxies('1.2.3.4').trusts('1.2.3.5'));
});

test('Unix-socket peers ("unix:") are trusted by the keywords unix and loopback only', () => {
  assert.ok(new TrustedProxies('unix').trusts('unix:'));
  assert.ok(!new TrustedProxies('unix').trusts('127.0.0.1'), 'unix names no IP range');
  assert.ok(trustedLoopback.trusts('unix:'));
  assert.ok(!new TrustedProxies('private, 0.0.0.0/0, ::/0').trusts('unix:'));
});

test('trustProxy refuses what is not an address, a range or a keyword', () => {
  for (const bad of ['', ' , ', 'localhost', '10.0.0.0/33', '::/129', '10.0.0.0/', '10.0.0.0/8/8', '1.2.3', 'fe80::1%eth0', '10.0.0.0/08x']) {
    assert.throws(() => new TrustedProxies(bad), TypeError, JSON.stringify(bad));
  }
});

const loopback = new TrustedProxies('loopback, 10.0.0.0/8');
const client = (raw: string[], peer = '127.0.0.1') => forwardedClient(loopback, peer, 40000, raw);

test('X-Forwarded-For: walked from the right past trusted hops; the first untrusted one is the client', () => {
  assert.equal(client(['X-Forwarded-For', '198.51.100.9'])?.remoteAddress, '198.51.100.9');
  // A client-supplied value on the left is skipped over: the rightmost untrusted hop is the client.
  assert.equal(client(['x-forwarded-for', '1.1.1.1, 198.51.100.9, 10.0.0.2'])?.remoteAddress, '198.51.100.9');
  // Several field lines are one list, in order.
  assert.equal(client(['x-forwarded-for', '198.51.100.9', 'X-Forwarded-For', '10.0.0.3, 10.0.0.2'])?.remoteAddress, '198.51.100.9');
  // Every hop trusted: the leftmost is the client.
  assert.equal(client(['x-forwarded-for', '10.0.0.9, 10.0.0.2'])?.remoteAddress, '10.0.0.9');
  // Ports and bracketed IPv6.
  const withPort = client(['x-forwarded-for', '198.51.100.9:4711']);
  assert.deepEqual([withPort?.remoteAddress, withPort?.remotePort], ['198.51.100.9', 4711]);
  assert.equal(client(['x-forwarded-for', '[2001:db8::9]:443'])?.remoteAddress, '2001:db8::9');
  assert.equal(client(['x-forwarded-for', '2001:db8::9'])?.remoteAddress, '2001:db8::9');
  assert.equal(client(['x-forwarded-for', '2001:db8::9'])?.remotePort, 0);
});

test('forwarding fields from an untrusted peer are not read', () => {
  assert.equal(client(['x-forwarded-for', '198.51.100.9', 'x-forwarded-proto', 'https'], '198.51.100.1'), undefined);
  assert.equal(client(['forwarded', 'for=198.51.100.9'], '192.0.2.1'), undefined);
  // A trusted peer without forwarding fields: nothing to say.
  assert.equal(client(['host', 'example.com']), undefined);
});

test('malformed X-Forwarded-For is ignored as a whole: the peer stays the client', () => {
  for (const value of ['198.51.100.9, garbage', 'unknown', '198.51.100.9:99999', '1.2.3.4:01', '[::1', '[::1]x', '2001:db8::9:443x', '300.1.1.1', 'fe80::1%eth0', '1.2.3.4 5.6.7.8']) {
    assert.equal(client(['x-forwarded-for', value])?.remoteAddress, '127.0.0.1', value);
  }
});

test('X-Forwarded-Proto and -Host: the rightmost value, validated', () => {
  const result = client(['x-forwarded-for', '198.51.100.9', 'x-forwarded-proto', 'http, HTTPS', 'x-forwarded-host', 'evil.example, app.example.com:8443']);
  assert.deepEqual([result?.scheme, result?.host], ['https', 'app.example.com:8443']);
  for (const proto of ['ftp', 'https x', '']) assert.equal(client(['x-forwarded-proto', proto])?.scheme, undefined, proto);
  for (const host of ['a/b', 'user@host', 'host:port', 'a b', '[zz::1]', 'host:65536', 'h?x', 'h#x']) {
    assert.equal(client(['x-forwarded-host', host])?.host, undefined, host);
  }
  assert.equal(client(['x-forwarded-host', '[2001:db8::1]:8443'])?.host, '[2001:db8::1]:8443');
});

test('RFC 7239 Forwarded: parsed strictly, walked like X-Forwarded-For, proto and host from the client\'s element', () => {
  assert.deepEqual(parseForwarded('for=192.0.2.43, for="[2001:db8:cafe::17]:4711";proto=https;host="example.com"'), [
    { for: { address: '192.0.2.43', port: 0 }, proto: undefined, host: undefined },
    { for: { address: '2001:db8:cafe::17', port: 4711 }, proto: 'https', host: 'example.com' },
  ]);
  const result = client([
    'Forwarded',
    'for=1.1.1.1;proto=http;host=spoofed.example, for=198.51.100.9;proto=https;host=app.example.com, for=10.0.0.2;proto=http;host=inner',
  ]);
  assert.deepEqual(result, { remoteAddress: '198.51.100.9', remotePort: 0, scheme: 'https', host: 'app.example.com' });
  // Forwarded wins over X-Forwarded-*.
  assert.equal(client(['x-forwarded-for', '203.0.113.1', 'forwarded', 'for=198.51.100.9'])?.remoteAddress, '198.51.100.9');
  // "unknown" and obfuscated nodes name no address: the nearest known hop stands for the client.
  assert.equal(client(['forwarded', 'for=unknown'])?.remoteAddress, '127.0.0.1');
  assert.equal(client(['forwarded', 'for=_hidden, for=10.0.0.2'])?.remoteAddress, '10.0.0.2');
  assert.equal(client(['forwarded', 'for="_gazonk:_port"'])?.remoteAddress, '127.0.0.1');
  // Case-insensitive parameter names; empty list elements and pairs are allowed; extensions are ignored.
  assert.equal(client(['forwarded', 'For=198.51.100.9;;Secret=x, ,'])?.remoteAddress, '198.51.100.9');
});

test('malformed Forwarded is ignored as a whole, X-Forwarded-* with it', () => {
  const values = [
    'for=2001:db8::1', // IPv6 must be bracketed (and so quoted)
    'for=192.0.2.43:80', // ':' is no token character: a port needs quotes
    'for="192.0.2.43', // unterminated quoted-string
    'for=192.0.2.43;for=192.0.2.44', // a parameter twice in one element
    'for', // no value
    'for=192.0.2.43 proto=https',
    'for=garbage',
    'for="[2001:db8::1]:99999"',
    'proto="h t t p"',
    'host="a/b"',
    'for="\x01"',
    '=x',
  ];
  for (const value of values) {
    // undefined: nothing is taken from the fields, the peer stays the client.
    assert.equal(client(['forwarded', value, 'x-forwarded-for', '198.51.100.9']), undefined, value);
    assert.equal(parseForwarded(value), undefined, value);
  }
});

test(`a chain of trusted hops is walked at most ${MAX_FORWARDED_HOPS} hops deep`, () => {
  const chain = Array.from({ length: MAX_FORWARDED_HOPS + 10 }, (_, i) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`);
  // Every hop trusted: the walk stops at the last hop it examined, MAX_FORWARDED_HOPS from the right.
  const result = client(['x-forwarded-for', ['198.51.100.9', ...chain].join(', ')]);
  assert.equal(result?.remoteAddress, chain[chain.length - MAX_FORWARDED_HOPS]);
});
