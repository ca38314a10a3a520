/**
 * Frozen header records are validated once per field family and reused: the result must be exactly what scanning
 * them afresh gives, every time, and records whose fields could still vary are never reused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FastResponse } from '../../src/server/response.js';
import { readResponse } from '../../src/server/response-parts.js';
import type { FieldFamily } from '../../src/server/core/protocols.js';

/** Records with array values (node-style multi-valued fields) are accepted at run time, beyond the HeadersInit type. */
const read = (headers: object, family: FieldFamily = 'h2-like') =>
  readResponse(new FastResponse('body', { headers: headers as HeadersInit }), { family, isHead: false, serverHeader: false }).headers;

const fields = { 'Content-Type': 'text/plain', ETag: ' "x" ', connection: 'close', 'content-length': '4', 'set-cookie': ['a=1', 'b=2'] };

test('a frozen record gives what the same record unfrozen gives, per family, on every response', () => {
  const frozen = Object.freeze({ ...fields, 'set-cookie': Object.freeze([...fields['set-cookie']]) });
  for (const family of ['h2-like', 'h1'] as const) {
    const expected = read({ ...fields }, family);
    for (let i = 0; i < 3; i++) {
      const got = read(frozen, family);
      assert.deepEqual(got, expected, family);
      got.push('mutated', 'by the caller');
    }
  }
  assert.ok(!read(frozen, 'h2-like').includes('connection'), 'connection-specific fields still dropped for h2');
  assert.ok(read(frozen, 'h1').includes('connection'));
});

test('an invalid field in a frozen record throws every time', () => {
  const bad = Object.freeze({ 'x-ok': '1', 'x-bad': 'a\u0001b' });
  for (let i = 0; i < 2; i++) assert.throws(() => read(bad), /x-bad/);
});

test('frozen records whose fields can still vary are read afresh', () => {
  let value = 'one';
  const withGetter = Object.freeze(Object.defineProperty({}, 'x-value', { get: () => value, enumerable: true }));
  assert.deepEqual(read(withGetter).slice(0, 2), ['x-value', 'one']);
  value = 'two';
  assert.deepEqual(read(withGetter).slice(0, 2), ['x-value', 'two']);
  const list = ['a=1'];
  const withArray = Object.freeze({ 'set-cookie': list });
  assert.equal(read(withArray).filter((item) => item === 'set-cookie').length, 1);
  list.push('b=2');
  assert.equal(read(withArray).filter((item) => item === 'set-cookie').length, 2);
});
