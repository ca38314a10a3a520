/** RFC 6455 §4 opening handshake rules, RFC 8441 §4–§5 extended CONNECT, RFC 7692 §5–§7 negotiation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  acceptValue,
  negotiatePerMessageDeflate,
  parseExtensions,
  selectSubprotocol,
  validateExtendedConnect,
  validateHttp1Upgrade,
} from '../../src/ws/index.js';

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

function headers(record: Record<string, string>) {
  return (name: string) => record[name];
}

const GOOD = {
  host: 'localhost',
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
  'sec-websocket-version': '13',
};

test('§1.3 the Sec-WebSocket-Accept example', () => {
  assert.equal(acceptValue('dGhlIHNhbXBsZSBub25jZQ==', sha1), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('§4.2.1 a valid HTTP/1.1 handshake, with case-insensitive tokens and lists', () => {
  const result = validateHttp1Upgrade('GET', '1.1', headers({ ...GOOD, upgrade: 'WebSocket', connection: 'keep-alive, Upgrade', 'sec-websocket-protocol': 'chat, superchat' }));
  assert.deepEqual(result, { ok: true, key: 'dGhlIHNhbXBsZSBub25jZQ==', protocols: ['chat', 'superchat'], extensions: [] });
});

test('§4.2.1 each missing or wrong handshake field is refused with its status', () => {
  const cases: [string, string, Record<string, string>, number][] = [
    ['POST', '1.1', GOOD, 405],
    ['GET', '1.0', GOOD, 400],
    ['GET', '1.1', { ...GOOD, upgrade: 'h2c' }, 400],
    ['GET', '1.1', { ...GOOD, connection: 'keep-alive' }, 400],
    ['GET', '1.1', { ...GOOD, 'sec-websocket-key': 'short' }, 400],
    ['GET', '1.1', { ...GOOD, 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ' }, 400], // 15 bytes + no padding
    ['GET', '1.1', { ...GOOD, 'sec-websocket-protocol': 'bad protocol' }, 400],
    ['GET', '1.1', { ...GOOD, 'sec-websocket-extensions': 'permessage-deflate; x="unterminated' }, 400],
  ];
  for (const [method, version, record, status] of cases) {
    const result = validateHttp1Upgrade(method, version, headers(record));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.status, status, JSON.stringify(record));
  }
  const noKey: Record<string, string> = { ...GOOD };
  delete noKey['sec-websocket-key'];
  assert.equal((validateHttp1Upgrade('GET', '1.1', headers(noKey)) as { status: number }).status, 400);
});

test('§4.4 an unsupported version is answered 426 with Sec-WebSocket-Version: 13', () => {
  for (const version of ['8', '12', '14', '']) {
    const result = validateHttp1Upgrade('GET', '1.1', headers({ ...GOOD, 'sec-websocket-version': version }));
    assert.deepEqual(!result.ok && [result.status, result.headers], [426, [['sec-websocket-version', '13']]]);
  }
  const noVersion: Record<string, string> = { ...GOOD };
  delete noVersion['sec-websocket-version'];
  assert.equal((validateHttp1Upgrade('GET', '1.1', headers(noVersion)) as { status: number }).status, 426);
});

test('RFC 8441 §4–§5: extended CONNECT with :protocol websocket, no key needed', () => {
  const get = headers({ 'sec-websocket-version': '13', 'sec-websocket-protocol': 'chat' });
  assert.deepEqual(validateExtendedConnect('CONNECT', 'websocket', get), { ok: true, key: undefined, protocols: ['chat'], extensions: [] });
  assert.equal((validateExtendedConnect('CONNECT', 'webtransport', get) as { status: number }).status, 501);
  assert.equal((validateExtendedConnect('GET', 'websocket', get) as { status: number }).status, 400);
  assert.equal((validateExtendedConnect('CONNECT', 'websocket', headers({ 'sec-websocket-version': '8' })) as { status: number }).status, 426);
});

test('§9.1 Sec-WebSocket-Extensions parsing: several offers, parameters with and without values, quoted values', () => {
  const offers = parseExtensions('permessage-deflate; client_max_window_bits; server_max_window_bits="10", permessage-deflate, x-foo');
  assert.deepEqual(
    offers?.map((o) => [o.name, [...o.params]]),
    [
      ['permessage-deflate', [['client_max_window_bits', true], ['server_max_window_bits', '10']]],
      ['permessage-deflate', []],
      ['x-foo', []],
    ],
  );
  for (const bad of ['permessage-deflate; =1', 'bad ext', 'a; b="c d"', 'a; b="unterminated']) assert.equal(parseExtensions(bad), null, bad);
  assert.deepEqual(parseExtensions(undefined), []);
});

test('RFC 7692 §7: negotiation accepts the first acceptable offer and answers with the agreed parameters', () => {
  const plain = negotiatePerMessageDeflate(parseExtensions('permessage-deflate')!);
  assert.equal(plain?.response, 'permessage-deflate');
  const withClientBits = negotiatePerMessageDeflate(parseExtensions('permessage-deflate; client_max_window_bits')!);
  assert.equal(withClientBits?.response, 'permessage-deflate; client_max_window_bits=15');
  const serverChoice = negotiatePerMessageDeflate(parseExtensions('permessage-deflate')!, { serverNoContextTakeover: true, serverMaxWindowBits: 12 });
  assert.equal(serverChoice?.response, 'permessage-deflate; server_no_context_takeover; server_max_window_bits=12');
  // An invalid first offer is declined, the fallback accepted (§5.1: offers in preference order).
  const fallback = negotiatePerMessageDeflate(parseExtensions('permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover')!);
  assert.deepEqual(fallback && [fallback.clientNoContextTakeover, fallback.response], [true, 'permessage-deflate; client_no_context_takeover']);
  // Unknown parameters, a valued no_context_takeover, or another extension: declined.
  assert.equal(negotiatePerMessageDeflate(parseExtensions('permessage-deflate; foo=1')!), undefined);
  assert.equal(negotiatePerMessageDeflate(parseExtensions('permessage-deflate; server_no_context_takeover=1')!), undefined);
  assert.equal(negotiatePerMessageDeflate(parseExtensions('x-webkit-deflate-frame')!), undefined);
});

test('§4.2.2: the subprotocol chosen must be one the client offered', () => {
  assert.equal(selectSubprotocol(['chat', 'superchat'], 'superchat'), 'superchat');
  assert.equal(selectSubprotocol(['chat'], 'other'), undefined);
  assert.equal(selectSubprotocol([], undefined), undefined);
});
