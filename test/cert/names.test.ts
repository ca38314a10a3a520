import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { caRoot } from '../../src/cert/index.js';
import { defaultFileBase, displayIp, ipToBytes, nameIsPermitted, parseConstraints, parseSubjectName } from '../../src/cert/names.js';

describe('CA folder location', () => {
  test('HTTPSD_CAROOT wins everywhere', () => {
    for (const platform of ['linux', 'darwin', 'win32'] as const) {
      assert.equal(caRoot({ HTTPSD_CAROOT: '/x/ca', HOME: '/home/u' }, platform), '/x/ca');
    }
  });
  test('Linux: XDG_DATA_HOME, else ~/.local/share; a relative XDG_DATA_HOME is ignored', () => {
    assert.equal(caRoot({ HOME: '/home/u' }, 'linux'), '/home/u/.local/share/httpsd');
    assert.equal(caRoot({ HOME: '/home/u', XDG_DATA_HOME: '/data' }, 'linux'), '/data/httpsd');
    assert.equal(caRoot({ HOME: '/home/u', XDG_DATA_HOME: 'relative' }, 'linux'), '/home/u/.local/share/httpsd');
  });
  test('macOS: Application Support; Windows: LOCALAPPDATA', () => {
    assert.equal(caRoot({ HOME: '/Users/u' }, 'darwin'), '/Users/u/Library/Application Support/httpsd');
    assert.equal(caRoot({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32'), 'C:\\Users\\u\\AppData\\Local\\httpsd');
    assert.equal(caRoot({ USERPROFILE: 'C:\\Users\\u' }, 'win32'), 'C:\\Users\\u\\AppData\\Local\\httpsd');
  });
});

describe('subject names', () => {
  test('classifies DNS names, wildcards, IPs, emails and URIs', () => {
    assert.deepEqual(parseSubjectName('LocalHost'), { kind: 'dns', value: 'localhost' });
    assert.deepEqual(parseSubjectName('*.App.Test'), { kind: 'dns', value: '*.app.test' });
    assert.deepEqual(parseSubjectName('my_service.internal'), { kind: 'dns', value: 'my_service.internal' });
    assert.deepEqual(parseSubjectName('bücher.test'), { kind: 'dns', value: 'xn--bcher-kva.test' });
    assert.equal(parseSubjectName('127.0.0.1').kind, 'ip');
    assert.equal(parseSubjectName('[::1]').value, '::1');
    assert.equal(parseSubjectName('2001:DB8:0:0:0:0:0:1').value, '2001:db8::1');
    assert.equal(parseSubjectName('::ffff:192.0.2.1').value, '::ffff:c000:201');
    assert.deepEqual(parseSubjectName('me@Example.test'), { kind: 'email', value: 'me@example.test' });
    assert.deepEqual(parseSubjectName('https://app.test/path'), { kind: 'uri', value: 'https://app.test/path' });
    assert.deepEqual(parseSubjectName('spiffe://cluster.local/ns/default/sa/web'), { kind: 'uri', value: 'spiffe://cluster.local/ns/default/sa/web' });
  });
  test('rejects malformed names with messages that name them', () => {
    for (const bad of ['', 'a b', 'foo..test', '*.*.test', 'a.*.test', '-x.test.', 'x@', 'fe80::1%eth0', 'a'.repeat(2000)]) {
      assert.throws(() => parseSubjectName(bad), { name: 'UsageError' }, bad);
    }
  });
  test('IPv6 bytes and RFC 5952 text form', () => {
    assert.deepEqual(Array.from(ipToBytes('::1')), [...Array(15).fill(0), 1]);
    assert.equal(displayIp(ipToBytes('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
    assert.equal(displayIp(ipToBytes('2001:db8:0:1:1:1:1:1')), '2001:db8:0:1:1:1:1:1');
    assert.equal(displayIp(ipToBytes('::')), '::');
  });
  test('default file names follow mkcert', () => {
    assert.equal(defaultFileBase(['localhost'], false), 'localhost');
    assert.equal(defaultFileBase(['localhost', '127.0.0.1', '::1'], false), 'localhost+2');
    assert.equal(defaultFileBase(['*.app.test'], true), '_wildcard.app.test-client');
    assert.equal(defaultFileBase(['::1'], false), '__1');
    assert.equal(defaultFileBase(['https://a.test/x'], false), 'https___a.test_x');
  });
});

describe('name constraints', () => {
  test('parses DNS subtrees and IP networks, masking host bits, with "default"', () => {
    const parsed = parseConstraints(['localhost,.test', '*.example', '127.0.0.1/8', '::1', 'default']);
    const text = parsed.map((c) => (c.kind === 'dns' ? c.value : c.cidr));
    assert.deepEqual(text, ['localhost', 'test', 'example', '127.0.0.0/8', '::1/128', 'localhost', 'test', '127.0.0.0/8', '::1/128']);
  });
  test('rejects bad entries', () => {
    for (const bad of ['', '10.0.0.0/33', '::/129', '10.0.0.0/x', 'bad name', 'a.*.test']) {
      assert.throws(() => parseConstraints([bad]), { name: 'UsageError' }, bad);
    }
  });
  test('decides membership like RFC 5280 §4.2.1.10 verifiers', () => {
    const constraints = parseConstraints(['localhost', '.test', '127.0.0.0/8', '::1']);
    const permitted = (name: string) => nameIsPermitted(parseSubjectName(name), constraints);
    assert.ok(permitted('localhost'));
    assert.ok(permitted('a.localhost'));
    assert.ok(permitted('app.test'));
    assert.ok(permitted('*.app.test'));
    assert.ok(permitted('127.1.2.3'));
    assert.ok(permitted('::1'));
    assert.ok(!permitted('example.com'));
    assert.ok(!permitted('nottest'));
    assert.ok(!permitted('test.com'));
    assert.ok(!permitted('10.0.0.1'));
    assert.ok(!permitted('::2'));
  });
});

describe('control characters', () => {
  test('emails and URIs with control or non-ASCII characters are refused', () => {
    for (const bad of ['me\u0001@a.test', 'https://a.test/\u0007', 'https://a.test/ü', 'mé@a.test']) {
      assert.throws(() => parseSubjectName(bad), { name: 'UsageError' }, JSON.stringify(bad));
    }
  });
});
