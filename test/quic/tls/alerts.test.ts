/**
 * Every alert path, each with a crafted bad message: the server fed a changed ClientHello (or bytes at the wrong
 * level, or a bad Finished), the client fed a changed ServerHello, HelloRetryRequest, server flight or ticket.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TlsClient, TlsServer } from '../../../src/quic/tls/index.js';
import type { TlsClientConfig, TlsEvent, TlsServerConfig } from '../../../src/quic/tls/index.js';
import { encodeAlpn, encodeCertificate, encodeClientKeyShares, encodeEncryptedExtensions, encodeNewSessionTicket, encodeServerKeyShare, encodeU16List } from '../../../src/quic/tls/messages.js';
import { handshakeMessage } from '../../../src/quic/tls/framing.js';
import { Writer } from '../../../src/quic/tls/wire.js';
import { Link, TICKET_KEY, alertOf, clientConfig, identity, ofType, serverConfig } from './helpers.js';
import { Ext, buildServerHello, hex, joinMessages, readHello, rebuildHello, setExtension, splitMessages, u16 } from './wire-helpers.js';
import type { HelloParts } from './wire-helpers.js';

const readU16s = (bytes: Uint8Array) => Array.from({ length: bytes.byteLength / 2 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
const HRR_RANDOM = hex('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c');

function cryptoData(events: TlsEvent[], level?: string): Uint8Array {
  const found = ofType(events, 'cryptoData').filter((e) => level === undefined || e.level === level);
  assert.ok(found.length > 0, `expected cryptoData${level ? ' at ' + level : ''}; got ${JSON.stringify(alertOf(events))}`);
  return found[0]!.data;
}

/** A real ClientHello from our client. */
function clientHello(overrides: Partial<TlsClientConfig> = {}): Uint8Array {
  return cryptoData(new TlsClient(clientConfig(overrides)).start());
}

function expectAlert(events: TlsEvent[], description: number, transportError?: number): void {
  const alert = alertOf(events);
  assert.ok(alert, `expected alert ${description}, got events ${events.map((e) => e.type).join(', ')}`);
  assert.equal(alert.description, description, alert.reason);
  assert.equal(alert.transportError, transportError, alert.reason);
  assert.equal(events[events.length - 1], alert, 'the alert is the last event');
  assert.equal(ofType(events, 'handshakeComplete').length, 0);
}

function serverAlert(hello: Uint8Array, description: number, config: Partial<TlsServerConfig> = {}, transportError?: number): TlsServer {
  const server = new TlsServer(serverConfig(config));
  expectAlert(server.receive('initial', hello), description, transportError);
  // A failed engine stays failed and silent.
  assert.deepEqual(server.receive('initial', clientHello()), []);
  return server;
}

const change = (edit: (parts: Required<HelloParts>) => void) => rebuildHello(clientHello(), edit);
const withExtension = (type: number, data: Uint8Array | undefined) => change((p) => setExtension(p.extensions, type, data));

describe('server: ClientHello checks', () => {
  test('a well-formed ClientHello progresses (control)', () => {
    const events = new TlsServer(serverConfig()).receive('initial', change(() => {}));
    assert.equal(alertOf(events), undefined);
    cryptoData(events, 'initial');
  });

  test('GREASE values (RFC 8701) in suites, extensions, groups, shares, versions and schemes are ignored (control)', () => {
    const hello = change((p) => {
      p.suites = [0x2a2a, ...p.suites];
      p.extensions.unshift({ type: 0x0a0a, data: new Uint8Array(0) });
      p.extensions.push({ type: 0x1a1a, data: Uint8Array.of(0) });
      const groups = readU16s(p.extensions.find((e) => e.type === Ext.supportedGroups)!.data.subarray(2));
      setExtension(p.extensions, Ext.supportedGroups, encodeU16List([0x3a3a, ...groups]));
      const share = p.extensions.find((e) => e.type === Ext.keyShare)!.data;
      const greaseShare = hex('3a3a 0001 00');
      setExtension(p.extensions, Ext.keyShare, Buffer.concat([u16(share.byteLength - 2 + greaseShare.byteLength), greaseShare, share.subarray(2)]));
      setExtension(p.extensions, Ext.supportedVersions, hex('04 4a4a 0304'));
      const schemes = readU16s(p.extensions.find((e) => e.type === Ext.signatureAlgorithms)!.data.subarray(2));
      setExtension(p.extensions, Ext.signatureAlgorithms, encodeU16List([0x5a5a, ...schemes]));
      setExtension(p.extensions, Ext.pskKeyExchangeModes, hex('02 0b 01'));
    });
    const events = new TlsServer(serverConfig()).receive('initial', hello);
    assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
    assert.equal(ofType(events, 'cryptoData').length, 2, 'ServerHello and the handshake flight');
  });

  test('legacy_version other than 0x0303 -> protocol_version (RFC 8446 §4.1.2, §D.5)', () => {
    serverAlert(change((p) => { p.legacyVersion = 0x0300; }), 70);
    serverAlert(change((p) => { p.legacyVersion = 0x0301; }), 70);
  });
  test('no supported_versions, or one without 0x0304 -> protocol_version (RFC 8446 §4.2.1)', () => {
    serverAlert(withExtension(Ext.supportedVersions, undefined), 70);
    serverAlert(withExtension(Ext.supportedVersions, hex('04 0303 0302')), 70);
  });
  test('compression methods other than [null] -> illegal_parameter (RFC 8446 §4.1.2)', () => {
    serverAlert(change((p) => { p.compression = [0, 1]; }), 47);
    serverAlert(change((p) => { p.compression = [1]; }), 47);
  });
  test('non-empty legacy_session_id -> PROTOCOL_VIOLATION (RFC 9001 §8.4)', () => {
    serverAlert(change((p) => { p.sessionId = new Uint8Array(32).fill(1); }), 47, {}, 0x0a);
  });
  test('duplicate extension -> illegal_parameter (RFC 8446 §4.2)', () => {
    serverAlert(change((p) => { p.extensions.push({ ...p.extensions[0]! }); }), 47);
  });
  test('pre_shared_key not last -> illegal_parameter (RFC 8446 §4.2.11)', () => {
    const psk = { type: Ext.preSharedKey, data: hex('000b 0005 0102030405 00000000 0021 20' + '00'.repeat(32)) };
    serverAlert(change((p) => { p.extensions.unshift(psk); }), 47);
  });
  test('missing supported_groups or key_share -> missing_extension (RFC 8446 §9.2)', () => {
    serverAlert(withExtension(Ext.supportedGroups, undefined), 109);
    serverAlert(withExtension(Ext.keyShare, undefined), 109);
  });
  test('key share for a group not in supported_groups, or two for one group -> illegal_parameter (RFC 8446 §4.2.8)', () => {
    serverAlert(withExtension(Ext.supportedGroups, encodeU16List([0x0017])), 47);
    const share = { group: 0x001d, key: new Uint8Array(32).fill(9) };
    serverAlert(withExtension(Ext.keyShare, encodeClientKeyShares([share, share])), 47);
  });
  test('invalid x25519 share (short, or all zero) -> illegal_parameter (RFC 8446 §4.2.8.2, §7.4.2)', () => {
    serverAlert(withExtension(Ext.keyShare, encodeClientKeyShares([{ group: 0x001d, key: new Uint8Array(31).fill(9) }])), 47);
    serverAlert(withExtension(Ext.keyShare, encodeClientKeyShares([{ group: 0x001d, key: new Uint8Array(32) }])), 47);
  });
  test('invalid secp256r1 share (compressed point) -> illegal_parameter (RFC 8446 §4.2.8.2)', () => {
    const hello = rebuildHello(clientHello({ groups: ['secp256r1'] }), (p) =>
      setExtension(p.extensions, Ext.keyShare, encodeClientKeyShares([{ group: 0x0017, key: hex('02' + '11'.repeat(32)) }])));
    serverAlert(hello, 47);
  });
  test('no ALPN, or no common protocol -> no_application_protocol (RFC 9001 §8.1)', () => {
    serverAlert(withExtension(Ext.alpn, undefined), 120);
    serverAlert(withExtension(Ext.alpn, encodeAlpn(['h2', 'http/1.1'])), 120);
  });
  test('no quic_transport_parameters -> missing_extension (RFC 9001 §8.2)', () => {
    serverAlert(withExtension(Ext.quicTransportParameters, undefined), 109);
  });
  test('no common cipher suite or group -> handshake_failure', () => {
    serverAlert(change((p) => { p.suites = [0x1304, 0x00ff]; }), 40);
    serverAlert(change((p) => { p.suites = [0x1301]; }), 40, { cipherSuites: [0x1302] });
    const p384Only = change((p) => {
      setExtension(p.extensions, Ext.supportedGroups, encodeU16List([0x0018]));
      setExtension(p.extensions, Ext.keyShare, encodeClientKeyShares([{ group: 0x0018, key: new Uint8Array(97).fill(4) }]));
    });
    serverAlert(p384Only, 40);
  });
  test('no signature_algorithms on a certificate handshake -> missing_extension; none in common -> handshake_failure', () => {
    serverAlert(withExtension(Ext.signatureAlgorithms, undefined), 109);
    serverAlert(withExtension(Ext.signatureAlgorithms, encodeU16List([0x0807, 0x0401])), 40);
  });
  test('an SNI name with no certificate -> unrecognized_name; bad host name syntax -> illegal_parameter', () => {
    serverAlert(clientHello({ serverName: 'unknown.example' }), 112);
    const bad = new Writer().vector(2, (w) => w.u8(0).vector(2, (n) => n.bytes(new TextEncoder().encode('bad name/')))).finish();
    serverAlert(withExtension(Ext.serverName, bad), 47);
    const long = new Writer().vector(2, (w) => w.u8(0).vector(2, (n) => n.bytes(new Uint8Array(40_000).fill(0x61)))).finish();
    serverAlert(withExtension(Ext.serverName, long), 47);
  });
  test('pre_shared_key without psk_key_exchange_modes -> missing_extension (RFC 8446 §4.2.9)', () => {
    const psk = { type: Ext.preSharedKey, data: hex('000b 0005 0102030405 00000000 0021 20' + '00'.repeat(32)) };
    serverAlert(change((p) => { setExtension(p.extensions, Ext.pskKeyExchangeModes, undefined); p.extensions.push(psk); }), 109);
  });
  test('identities and binders of different counts -> illegal_parameter (RFC 8446 §4.2.11)', () => {
    const psk = { type: Ext.preSharedKey, data: hex('0016 0005 0102030405 00000000 0005 0102030406 00000000 0021 20' + '00'.repeat(32)) };
    serverAlert(change((p) => { p.extensions.push(psk); }), 47);
  });
  test('non-empty early_data body -> decode_error', () => {
    serverAlert(withExtension(Ext.earlyData, Uint8Array.of(0)), 50);
  });
  test('truncated or overlong ClientHello -> decode_error', () => {
    const hello = clientHello();
    const body = hello.subarray(4, hello.byteLength - 3);
    serverAlert(handshakeMessage(1, body), 50);
    serverAlert(handshakeMessage(1, Buffer.concat([hello.subarray(4), Buffer.of(0)])), 50);
    serverAlert(handshakeMessage(1, new Uint8Array(0)), 50);
    // An extension whose length runs past the block.
    serverAlert(withExtension(Ext.alpn, hex('0005 0268')), 50);
  });
  test('a ClientHello without extensions is a pre-TLS 1.3 client -> protocol_version', () => {
    serverAlert(handshakeMessage(1, readHello(clientHello()).raw.subarray(4, 4 + 2 + 32 + 1 + 2 + 6 + 2)), 70);
  });
  test('a PSK binder that does not verify -> decrypt_error (RFC 8446 §4.2.11)', () => {
    const first = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig());
    const ticket = ofType(first.clientEvents, 'sessionTicket')[0]!.ticket;
    const hello = clientHello({ sessionTicket: ticket }).slice();
    hello[hello.byteLength - 1]! ^= 1;
    serverAlert(hello, 51, { ticketKey: TICKET_KEY });
  });
});

describe('configuration errors throw at construction (they are ours, not the peer\'s)', () => {
  test('empty or malformed ALPN lists, a short ticket key', () => {
    assert.throws(() => new TlsServer(serverConfig({ alpn: [] })), /ALPN/);
    assert.throws(() => new TlsServer(serverConfig({ alpn: [''] })), /ALPN/);
    assert.throws(() => new TlsClient(clientConfig({ alpn: ['h3', 'x'.repeat(256)] })), /ALPN/);
    assert.throws(() => new TlsServer(serverConfig({ ticketKey: new Uint8Array(16) })), /ticketKey/);
  });
});

describe('server: framing and levels', () => {
  test('another message type where a ClientHello is due -> unexpected_message', () => {
    serverAlert(handshakeMessage(20, new Uint8Array(32)), 10);
    serverAlert(handshakeMessage(2, new Uint8Array(40)), 10);
  });
  test('data at the handshake or application level before the ClientHello -> unexpected_message', () => {
    expectAlert(new TlsServer(serverConfig()).receive('handshake', handshakeMessage(20, new Uint8Array(32))), 10);
    expectAlert(new TlsServer(serverConfig()).receive('application', handshakeMessage(4, new Uint8Array(9))), 10);
  });
  test('CRYPTO data in 0-RTT -> PROTOCOL_VIOLATION (RFC 9001 §8.3)', () => {
    expectAlert(new TlsServer(serverConfig()).receive('early', handshakeMessage(5, new Uint8Array(0))), 10, 0x0a);
  });
  test('bytes after the ClientHello at the initial level -> unexpected_message (RFC 8446 §5.1)', () => {
    const server = new TlsServer(serverConfig());
    expectAlert(server.receive('initial', Buffer.concat([clientHello(), Buffer.of(1, 0)])), 10);
  });
  test('a message larger than the 64 KiB buffer -> CRYPTO_BUFFER_EXCEEDED', () => {
    expectAlert(new TlsServer(serverConfig()).receive('initial', hex('01ffffff')), 10, 0x0d);
    const server = new TlsServer(serverConfig());
    // 65,533 + 4 header bytes: one past the limit, refused on the header alone.
    expectAlert(server.receive('initial', hex('0100fffd')), 10, 0x0d);
    // At the limit the message is awaited.
    assert.deepEqual(new TlsServer(serverConfig()).receive('initial', Buffer.concat([hex('0100fffc'), new Uint8Array(60_000)])), []);
  });
  test('a partial message waits without events', () => {
    const hello = clientHello();
    const server = new TlsServer(serverConfig());
    assert.deepEqual(server.receive('initial', hello.subarray(0, 3)), []);
    assert.deepEqual(server.receive('initial', hello.subarray(3, 100)), []);
    cryptoData(server.receive('initial', hello.subarray(100)), 'initial');
  });
});

/** Runs a handshake up to the client's Finished and hands it to `edit` before the server sees it. */
function serverWithClientFinished(edit: (finished: Uint8Array) => Uint8Array): TlsEvent[] {
  let captured: TlsEvent[] = [];
  const link = Link.connect(serverConfig(), clientConfig(), (from, level, data) => (from === 'client' && level === 'handshake' ? undefined : data));
  const finished = link.wire.find((w) => w.from === 'client' && w.level === 'handshake')!.data;
  captured = link.server.receive('handshake', edit(finished));
  return captured;
}

describe('server: client Finished', () => {
  test('a wrong verify_data -> decrypt_error (RFC 8446 §4.4.4)', () => {
    expectAlert(serverWithClientFinished((f) => { const c = f.slice(); c[10]! ^= 0x80; return c; }), 51);
  });
  test('a Finished of the wrong length -> decode_error', () => {
    expectAlert(serverWithClientFinished((f) => handshakeMessage(20, f.subarray(4, 20))), 50);
  });
  test('EndOfEarlyData (not used in QUIC, RFC 9001 §8.3) -> unexpected_message', () => {
    expectAlert(serverWithClientFinished(() => handshakeMessage(5, new Uint8Array(0))), 10);
  });
  test('after the handshake, any handshake message (KeyUpdate: RFC 9001 §6) -> unexpected_message', () => {
    const link = Link.connect(serverConfig(), clientConfig());
    expectAlert(link.server.receive('application', handshakeMessage(24, Uint8Array.of(0))), 10);
  });
});

/** The second ClientHello after a HelloRetryRequest, with `edit` applied before the server sees it. */
function secondHello(edit: (parts: Required<HelloParts>) => void): TlsEvent[] {
  const server = new TlsServer(serverConfig({ groups: ['secp256r1'] }));
  const client = new TlsClient(clientConfig());
  const retry = server.receive('initial', cryptoData(client.start()));
  const second = cryptoData(client.receive('initial', cryptoData(retry)));
  return server.receive('initial', rebuildHello(second, edit));
}

describe('server: second ClientHello (RFC 8446 §4.1.2, §4.1.4)', () => {
  test('unchanged (control) completes the server flight', () => {
    cryptoData(secondHello(() => {}), 'handshake');
  });
  test('a different random -> illegal_parameter', () => {
    expectAlert(secondHello((p) => { p.random = new Uint8Array(32).fill(3); }), 47);
  });
  test('different cipher suites -> illegal_parameter', () => {
    expectAlert(secondHello((p) => { p.suites = [0x1301]; }), 47);
  });
  test('early_data in the second ClientHello -> illegal_parameter', () => {
    expectAlert(secondHello((p) => setExtension(p.extensions, Ext.earlyData, new Uint8Array(0))), 47);
  });
  test('a changed ALPN list -> illegal_parameter', () => {
    expectAlert(secondHello((p) => setExtension(p.extensions, Ext.alpn, encodeAlpn(['h3', 'h3-29']))), 47);
  });
  test('a dropped extension -> illegal_parameter', () => {
    expectAlert(secondHello((p) => setExtension(p.extensions, Ext.signatureAlgorithms, undefined)), 47);
  });
  test('a share of another group than the one asked for -> illegal_parameter', () => {
    expectAlert(secondHello((p) => setExtension(p.extensions, Ext.keyShare, encodeClientKeyShares([{ group: 0x001d, key: new Uint8Array(32).fill(5) }]))), 47);
  });
  test('a cookie the server never sent -> illegal_parameter', () => {
    expectAlert(secondHello((p) => setExtension(p.extensions, Ext.cookie, hex('0002 abcd'))), 47);
  });
});

/** A started client and its ClientHello. */
function startedClient(overrides: Partial<TlsClientConfig> = {}): { client: TlsClient; hello: ReturnType<typeof readHello> } {
  const client = new TlsClient(clientConfig(overrides));
  return { client, hello: readHello(cryptoData(client.start())) };
}

const SV13 = { type: Ext.supportedVersions, data: u16(0x0304) };
const x25519Share = (key = new Uint8Array(32).fill(9)) => ({ type: Ext.keyShare, data: encodeServerKeyShare({ group: 0x001d, key }) });

describe('client: ServerHello and HelloRetryRequest checks', () => {
  test('legacy_version other than 0x0303 -> protocol_version', () => {
    expectAlert(startedClient().client.receive('initial', buildServerHello({ legacyVersion: 0x0302, extensions: [x25519Share(), SV13] })), 70);
  });
  test('no supported_versions (a TLS 1.2 answer) -> protocol_version; another version -> illegal_parameter', () => {
    expectAlert(startedClient().client.receive('initial', buildServerHello({ extensions: [x25519Share()] })), 70);
    expectAlert(startedClient().client.receive('initial', buildServerHello({ extensions: [x25519Share(), { type: Ext.supportedVersions, data: u16(0x0303) }] })), 47);
  });
  test('a session id echo, compression or suite we did not send -> illegal_parameter', () => {
    expectAlert(startedClient().client.receive('initial', buildServerHello({ sessionId: Uint8Array.of(1), extensions: [x25519Share(), SV13] })), 47);
    expectAlert(startedClient().client.receive('initial', buildServerHello({ compression: 1, extensions: [x25519Share(), SV13] })), 47);
    expectAlert(startedClient({ cipherSuites: [0x1301] }).client.receive('initial', buildServerHello({ suite: 0x1302, extensions: [x25519Share(), SV13] })), 47);
  });
  test('an unsolicited extension -> unsupported_extension; an offered one not allowed there -> illegal_parameter', () => {
    expectAlert(startedClient().client.receive('initial', buildServerHello({ extensions: [x25519Share(), SV13, { type: 0x1234, data: new Uint8Array(0) }] })), 110);
    expectAlert(startedClient().client.receive('initial', buildServerHello({ extensions: [x25519Share(), SV13, { type: Ext.alpn, data: encodeAlpn(['h3']) }] })), 47);
  });
  test('no key_share -> missing_extension; a share in a group we did not send -> illegal_parameter; a bad share -> illegal_parameter', () => {
    expectAlert(startedClient().client.receive('initial', buildServerHello({ extensions: [SV13] })), 109);
    const p256 = { type: Ext.keyShare, data: encodeServerKeyShare({ group: 0x0017, key: hex('04' + '11'.repeat(64)) }) };
    expectAlert(startedClient().client.receive('initial', buildServerHello({ extensions: [p256, SV13] })), 47);
    expectAlert(startedClient().client.receive('initial', buildServerHello({ extensions: [x25519Share(new Uint8Array(32)), SV13] })), 47);
  });
  test('pre_shared_key selected when none was offered -> unsupported_extension', () => {
    expectAlert(startedClient().client.receive('initial', buildServerHello({ extensions: [x25519Share(), SV13, { type: Ext.preSharedKey, data: u16(0) }] })), 110);
  });
  test('a HelloRetryRequest for a group we already sent, or do not support, or changing nothing -> illegal_parameter', () => {
    const retry = (extensions: Parameters<typeof buildServerHello>[0]['extensions']) => buildServerHello({ random: HRR_RANDOM, extensions });
    expectAlert(startedClient().client.receive('initial', retry([SV13, { type: Ext.keyShare, data: u16(0x001d) }])), 47);
    expectAlert(startedClient().client.receive('initial', retry([SV13, { type: Ext.keyShare, data: u16(0x0018) }])), 47);
    expectAlert(startedClient().client.receive('initial', retry([SV13])), 47);
  });
  test('a second HelloRetryRequest -> unexpected_message', () => {
    const { client } = startedClient();
    const retry = buildServerHello({ random: HRR_RANDOM, extensions: [SV13, { type: Ext.keyShare, data: u16(0x0017) }] });
    cryptoData(client.receive('initial', retry));
    expectAlert(client.receive('initial', retry), 10);
  });
  test('a ServerHello whose suite differs from the HelloRetryRequest -> illegal_parameter', () => {
    const { client } = startedClient();
    cryptoData(client.receive('initial', buildServerHello({ random: HRR_RANDOM, suite: 0x1301, extensions: [SV13, { type: Ext.keyShare, data: u16(0x0017) }] })));
    const p256 = { type: Ext.keyShare, data: encodeServerKeyShare({ group: 0x0017, key: hex('04' + '11'.repeat(64)) }) };
    expectAlert(client.receive('initial', buildServerHello({ suite: 0x1303, extensions: [p256, SV13] })), 47);
  });
  test('a HelloRetryRequest cookie is echoed in the second ClientHello', () => {
    const { client } = startedClient();
    const cookie = { type: Ext.cookie, data: hex('0003 c0ffee') };
    const second = readHello(cryptoData(client.receive('initial', buildServerHello({ random: HRR_RANDOM, extensions: [SV13, cookie] }))));
    assert.deepEqual(second.extensions.find((e) => e.type === Ext.cookie)?.data, cookie.data);
  });
});

/** A full handshake whose server handshake flight is rewritten message by message before the client sees it. */
function tamperedFlight(edit: (messages: Uint8Array[]) => Uint8Array[], server: Partial<TlsServerConfig> = {}): TlsEvent[] {
  const link = Link.connect(serverConfig(server), clientConfig(), (from, level, data) =>
    from === 'server' && level === 'handshake' ? joinMessages(edit(splitMessages(data).map((m) => m.raw))) : data);
  return link.clientEvents;
}

const flipLastByte = (message: Uint8Array) => { const copy = message.slice(); copy[copy.byteLength - 1]! ^= 1; return copy; };

describe('client: server flight checks', () => {
  test('untouched flight (control) completes', () => {
    assert.ok(ofType(tamperedFlight((m) => m), 'handshakeComplete')[0]);
  });
  test('EncryptedExtensions without quic_transport_parameters -> missing_extension (RFC 9001 §8.2)', () => {
    expectAlert(tamperedFlight((m) => [encodeEncryptedExtensions([{ type: Ext.alpn, data: encodeAlpn(['h3']) }]), ...m.slice(1)]), 109);
  });
  test('EncryptedExtensions without ALPN -> no_application_protocol; with one we did not offer -> illegal_parameter', () => {
    const tp = { type: Ext.quicTransportParameters, data: Uint8Array.of(1) };
    expectAlert(tamperedFlight((m) => [encodeEncryptedExtensions([tp]), ...m.slice(1)]), 120);
    expectAlert(tamperedFlight((m) => [encodeEncryptedExtensions([tp, { type: Ext.alpn, data: encodeAlpn(['h2']) }]), ...m.slice(1)]), 47);
  });
  test('early_data in EncryptedExtensions without a 0-RTT offer -> unsupported_extension', () => {
    const tp = { type: Ext.quicTransportParameters, data: Uint8Array.of(1) };
    expectAlert(tamperedFlight((m) => [encodeEncryptedExtensions([tp, { type: Ext.alpn, data: encodeAlpn(['h3']) }, { type: Ext.earlyData, data: new Uint8Array(0) }]), ...m.slice(1)]), 110);
  });
  test('a key_share in EncryptedExtensions -> illegal_parameter', () => {
    expectAlert(tamperedFlight((m) => [encodeEncryptedExtensions([x25519Share()]), ...m.slice(1)]), 47);
  });
  test('an empty Certificate -> decode_error (RFC 8446 §4.4.2.4)', () => {
    expectAlert(tamperedFlight((m) => [m[0]!, encodeCertificate([]), ...m.slice(2)]), 50);
  });
  test('a Certificate with a request context -> illegal_parameter', () => {
    expectAlert(tamperedFlight((m) => { const c = m[1]!.slice(); c[4] = 1; return [m[0]!, handshakeMessage(11, Buffer.concat([Buffer.of(1, 0), c.subarray(5)])), ...m.slice(2)]; }), 47);
  });
  test('a CertificateVerify that does not verify -> decrypt_error (RFC 8446 §4.4.3)', () => {
    expectAlert(tamperedFlight((m) => [m[0]!, m[1]!, flipLastByte(m[2]!), m[3]!]), 51);
  });
  test('a key that can only sign legacy schemes (PKCS#1 v1.5) is never used for CertificateVerify -> handshake_failure', () => {
    const who = identity('rsa');
    const pkcs1Only = { schemes: [0x0401], sign: () => new Uint8Array(256) };
    const events = new TlsServer(serverConfig({ selectCertificate: () => ({ chain: [who.der], key: pkcs1Only }) })).receive('initial', withExtension(Ext.signatureAlgorithms, encodeU16List([0x0401, 0x0804])));
    expectAlert(events, 40);
  });
  test('a CertificateVerify scheme we did not offer -> illegal_parameter', () => {
    expectAlert(tamperedFlight((m) => { const cv = m[2]!.slice(); cv[4] = 0x04; cv[5] = 0x01; return [m[0]!, m[1]!, cv, m[3]!]; }), 47);
  });
  test('a server Finished that does not verify -> decrypt_error (RFC 8446 §4.4.4)', () => {
    expectAlert(tamperedFlight((m) => [m[0]!, m[1]!, m[2]!, flipLastByte(m[3]!)]), 51);
  });
  test('messages out of order -> unexpected_message', () => {
    expectAlert(tamperedFlight((m) => [m[0]!, m[2]!, m[1]!, m[3]!]), 10);
    expectAlert(tamperedFlight((m) => [m[1]!, m[0]!, m[2]!, m[3]!]), 10);
  });
  test('a CertificateRequest (never asked for) -> unexpected_message', () => {
    expectAlert(tamperedFlight((m) => [m[0]!, handshakeMessage(13, hex('00 0000')), ...m.slice(1)]), 10);
  });
});

describe('client: post-handshake messages', () => {
  const connected = () => Link.connect(serverConfig(), clientConfig()).client;
  const ticket = (lifetime: number, extensions: Array<{ type: number; data: Uint8Array }> = []) =>
    encodeNewSessionTicket({ lifetime, ageAdd: 1, nonce: Uint8Array.of(0), ticket: Uint8Array.of(1, 2, 3) }, extensions);

  test('a NewSessionTicket is stored (control); lifetime 0 is not', () => {
    assert.equal(ofType(connected().receive('application', ticket(60)), 'sessionTicket').length, 1);
    assert.deepEqual(connected().receive('application', ticket(0)), []);
  });
  test('ticket_lifetime above seven days -> illegal_parameter (RFC 8446 §4.6.1)', () => {
    expectAlert(connected().receive('application', ticket(604_801)), 47);
  });
  test('max_early_data_size other than 0xffffffff -> PROTOCOL_VIOLATION (RFC 9001 §4.6.1)', () => {
    expectAlert(connected().receive('application', ticket(60, [{ type: Ext.earlyData, data: hex('00004000') }])), 47, 0x0a);
  });
  test('KeyUpdate -> unexpected_message (RFC 9001 §6)', () => {
    expectAlert(connected().receive('application', handshakeMessage(24, Uint8Array.of(0))), 10);
  });
});
