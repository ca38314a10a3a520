// Field validation primitives and HTTP/3 message rules (RFC 9114 §4.2, §4.3; RFC 9110 §5.5, §8.6).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isConnectionSpecificField,
  isToken,
  isValidFieldName,
  isValidFieldValue,
  parseContentLength,
  validateRequest,
  validateResponse,
  validateTrailers,
  withoutConnectionSpecificFields,
} from '../../src/h3/fields.js';

describe('primitives', () => {
  test('field names: lowercase tokens only', () => {
    for (const ok of ['a', 'content-type', "x!#$%&'*+-.^_`|~9"]) assert.ok(isValidFieldName(ok), ok);
    for (const bad of ['', 'A', 'Content-Type', 'x y', 'x:y', 'é', 'x\u0100']) assert.ok(!isValidFieldName(bad), JSON.stringify(bad));
  });
  test('field values: no NUL/CR/LF, no surrounding whitespace', () => {
    for (const ok of ['', 'a b', 'tab\tinside', '\u00ff']) assert.ok(isValidFieldValue(ok), JSON.stringify(ok));
    for (const bad of [' a', 'a ', '\ta', 'a\r', 'a\nb', 'a\u0000', 'a\u0100']) assert.ok(!isValidFieldValue(bad), JSON.stringify(bad));
  });
  test('tokens keep their case (methods)', () => {
    assert.ok(isToken('GET') && isToken('M-SEARCH'));
    assert.ok(!isToken('') && !isToken('GET /'));
  });
  test('connection-specific fields', () => {
    for (const name of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']) assert.ok(isConnectionSpecificField(name));
    assert.ok(!isConnectionSpecificField('te'));
    assert.deepEqual(withoutConnectionSpecificFields(['a', '1', 'upgrade', 'h2c', 'b', '2']), ['a', '1', 'b', '2']);
    const clean = ['a', '1'];
    assert.equal(withoutConnectionSpecificFields(clean), clean, 'no copy when nothing to drop');
  });
  test('content-length', () => {
    assert.equal(parseContentLength('0'), 0);
    assert.equal(parseContentLength('123'), 123);
    for (const bad of ['', '-1', '1.0', ' 1', '0x10', '9999999999999999']) assert.ok(parseContentLength(bad) < 0, bad);
  });
});

describe('messages', () => {
  const GET = [':method', 'GET', ':scheme', 'https', ':authority', 'a.test', ':path', '/x'];
  test('a request splits into pseudo-headers and regular fields', () => {
    assert.deepEqual(validateRequest([...GET, 'accept', '*/*', 'content-length', '0', 'content-length', '0'], false), {
      pseudo: { method: 'GET', scheme: 'https', authority: 'a.test', path: '/x', protocol: undefined },
      headers: ['accept', '*/*', 'content-length', '0', 'content-length', '0'],
      contentLength: 0,
    });
  });
  test('Host alone satisfies the authority requirement; case-insensitive match with :authority', () => {
    assert.equal(typeof validateRequest([':method', 'GET', ':scheme', 'https', ':path', '/', 'host', 'a.test'], false), 'object');
    assert.equal(typeof validateRequest([...GET, 'host', 'A.TEST'], false), 'object');
  });
  test('OPTIONS * is allowed, other asterisk paths are not', () => {
    assert.equal(typeof validateRequest([':method', 'OPTIONS', ':scheme', 'https', ':authority', 'a', ':path', '*'], false), 'object');
    assert.equal(typeof validateRequest([':method', 'GET', ':scheme', 'https', ':authority', 'a', ':path', '*'], false), 'string');
  });
  test('conflicting content-length values are malformed', () => {
    assert.match(validateRequest([...GET, 'content-length', '1', 'content-length', '2'], false) as string, /content-length/);
  });
  test('responses and trailers', () => {
    assert.deepEqual(validateResponse([':status', '204', 'x', '1']), { status: 204, headers: ['x', '1'], contentLength: -1 });
    assert.equal(typeof validateResponse([':status', '2000']), 'string');
    assert.equal(validateTrailers(['x-sum', '1']), null);
    assert.match(validateTrailers([':status', '200']) as string, /pseudo-header/);
  });
});
