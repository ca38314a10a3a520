/** The static file server's command-line flags → StaticOptions, and their usage errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STATIC_CLI_OPTIONS, staticOptionsFromCli, parseCacheControl } from '../../src/static/cli.js';
import { UsageError } from '../../src/common/errors.js';

test('every documented flag is declared once, with a description', () => {
  const names = STATIC_CLI_OPTIONS.map((option) => option.name);
  for (const name of ['dotfiles', 'no-listing', 'cache-control', 'spa', 'cors', 'header', 'no-compression', 'cgi', 'cgi-prefix', 'cgi-timeout', 'cgi-dir']) {
    assert.ok(names.includes(name), name);
  }
  assert.equal(new Set(names).size, names.length);
  for (const option of STATIC_CLI_OPTIONS) assert.ok(option.description.length > 10, option.name);
  assert.equal(STATIC_CLI_OPTIONS.find((option) => option.name === 'header')!.multiple, true);
});

test('no flags: defaults (empty options)', () => {
  assert.deepEqual(staticOptionsFromCli({}), {});
});

test('flags map onto StaticOptions', () => {
  const options = staticOptionsFromCli({
    dotfiles: true,
    'no-listing': true,
    spa: true,
    'no-compression': true,
    'cache-control': '3600',
    cors: 'https://app.example',
    header: ['X-Frame-Options: DENY', 'Referrer-Policy:  no-referrer '],
    cgi: true,
    'cgi-prefix': '/scripts/',
    'cgi-timeout': '2.5',
    'cgi-dir': './bin',
  });
  assert.deepEqual(options, {
    dotfiles: true,
    listing: false,
    spa: true,
    compression: false,
    cacheControl: 'public, max-age=3600',
    cors: 'https://app.example',
    headers: { 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer' },
    cgi: { prefix: '/scripts/', timeoutMs: 2500, dir: './bin' },
  });
});

test('--cors without an origin (or *) means any origin', () => {
  assert.equal(staticOptionsFromCli({ cors: true }).cors, true);
  assert.equal(staticOptionsFromCli({ cors: '' }).cors, true);
  assert.equal(staticOptionsFromCli({ cors: '*' }).cors, true);
  assert.equal(staticOptionsFromCli({ cors: 'https://a.example/' }).cors, 'https://a.example');
  // Boolean spellings, as environment variables give them (HTTPSD_CORS=1 / HTTPSD_CORS=0).
  for (const on of ['1', 'yes', 'on', 'TRUE']) assert.equal(staticOptionsFromCli({ cors: on }).cors, true, on);
  for (const off of ['0', 'no', 'off', 'false']) assert.equal(staticOptionsFromCli({ cors: off }).cors, undefined, off);
});

test('--cache-control shorthands', () => {
  assert.equal(parseCacheControl('0'), 'public, max-age=0');
  assert.equal(parseCacheControl('immutable'), 'public, max-age=31536000, immutable');
  assert.equal(parseCacheControl('private, no-store'), 'private, no-store');
});

test('bad values are UsageErrors naming the flag and the fix', () => {
  const cases: Array<[Record<string, string | boolean | string[]>, RegExp]> = [
    [{ 'cache-control': 'bad\u0001value' }, /--cache-control/],
    [{ cors: 'not an origin' }, /--cors/],
    [{ cors: 'https://a.example/path' }, /--cors/],
    [{ header: ['NoColon'] }, /--header "NoColon".*Name: value/],
    [{ header: ['Bad Name: x'] }, /--header/],
    [{ cgi: true, 'cgi-timeout': 'soon' }, /--cgi-timeout/],
    [{ cgi: true, 'cgi-timeout': '0' }, /--cgi-timeout/],
    [{ cgi: true, 'cgi-prefix': '/../x/' }, /--cgi-prefix/],
    [{ 'cgi-timeout': '5' }, /add --cgi/],
  ];
  for (const [values, message] of cases) {
    assert.throws(
      () => staticOptionsFromCli(values),
      (error: unknown) => error instanceof UsageError && message.test(error.message),
      JSON.stringify(values),
    );
  }
});
