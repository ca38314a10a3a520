/**
 * Client and server in memory with node:crypto and real certificates: every suite and group, HelloRetryRequest,
 * resumption, 0-RTT accepted and refused, fragmented delivery, extra tickets.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyExchangeGroup } from '../../../src/quic/crypto.js';
import { TlsClient, TlsServer } from '../../../src/quic/tls/index.js';
import type { CipherSuite, TlsEvent } from '../../../src/quic/tls/index.js';
import { HandshakeReassembler } from '../../../src/quic/tls/framing.js';
import { rebuildHello, setExtension, splitMessages } from './wire-helpers.js';
import { encodeOfferedPsks, parseEncryptedExtensions } from '../../../src/quic/tls/messages.js';
import { decodeClientSession, encodeClientSession } from '../../../src/quic/tls/tickets.js';
import { CLIENT_TP, Link, SERVER_TP, TICKET_KEY, alertOf, clientConfig, identity, ofType, serverConfig } from './helpers.js';

const HRR_RANDOM = 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c';

/** Handshake message types in a flight, in order. */
function messageTypes(data: Uint8Array): number[] {
  const reassembler = new HandshakeReassembler();
  reassembler.push(data);
  const types: number[] = [];
  for (let message = reassembler.next(); message !== undefined; message = reassembler.next()) types.push(message.type);
  return types;
}

function secrets(events: TlsEvent[], level: string, direction: 'read' | 'write'): string | undefined {
  const event = ofType(events, 'keysReady').find((e) => e.level === level && e.direction === direction);
  return event === undefined ? undefined : Buffer.from(event.secret).toString('hex');
}

/** Both sides completed, agree on every secret, and saw each other's transport parameters. */
function assertConnected(link: Link): void {
  assert.equal(alertOf(link.clientEvents), undefined, alertOf(link.clientEvents)?.reason);
  assert.equal(alertOf(link.serverEvents), undefined, alertOf(link.serverEvents)?.reason);
  const client = link.completion('client');
  const server = link.completion('server');
  assert.ok(client && server, 'both sides complete');
  assert.equal(client.alpn, 'h3');
  assert.equal(server.alpn, 'h3');
  assert.equal(client.resumed, server.resumed);
  assert.equal(client.earlyDataAccepted, server.earlyDataAccepted);
  for (const level of ['handshake', 'application']) {
    assert.ok(secrets(link.clientEvents, level, 'write'));
    assert.equal(secrets(link.clientEvents, level, 'write'), secrets(link.serverEvents, level, 'read'), `${level} client->server`);
    assert.equal(secrets(link.serverEvents, level, 'write'), secrets(link.clientEvents, level, 'read'), `${level} server->client`);
  }
  assert.deepEqual(ofType(link.serverEvents, 'peerTransportParameters')[0]!.data, CLIENT_TP);
  assert.deepEqual(ofType(link.clientEvents, 'peerTransportParameters')[0]!.data, SERVER_TP);
}

function firstTicket(link: Link): Uint8Array {
  const ticket = ofType(link.clientEvents, 'sessionTicket')[0];
  assert.ok(ticket, 'client received a ticket');
  return ticket.ticket;
}

describe('full handshakes', () => {
  const suites: Array<CipherSuite['code']> = [0x1301, 0x1302, 0x1303];
  const groups: KeyExchangeGroup[] = ['x25519', 'secp256r1'];
  for (const suite of suites) {
    for (const group of groups) {
      test(`suite 0x${suite.toString(16)} with ${group}`, () => {
        const link = Link.connect(serverConfig({ cipherSuites: [suite] }), clientConfig({ groups: [group] }));
        assertConnected(link);
        const keys = ofType(link.serverEvents, 'keysReady');
        assert.ok(keys.every((event) => event.suite.code === suite));
        assert.equal(keys.find((e) => e.level === 'handshake')!.secret.byteLength, suite === 0x1302 ? 48 : 32);
        const firstFlight = link.wire.filter((w) => w.from === 'server');
        assert.deepEqual(messageTypes(firstFlight[0]!.data), [2]);
        assert.deepEqual(messageTypes(firstFlight[1]!.data), [8, 11, 15, 20], 'EE, Certificate, CertificateVerify, Finished');
        assert.deepEqual(messageTypes(link.wire.filter((w) => w.from === 'client')[1]!.data), [20]);
        assert.equal(link.completion('server')!.serverName, 'localhost');
        const encryptedExtensions = parseEncryptedExtensions(splitMessages(firstFlight[1]!.data)[0]!.body);
        assert.deepEqual(encryptedExtensions.find((e) => e.type === 0)?.data, new Uint8Array(0), 'server_name acknowledged (RFC 6066 §3)');
        assert.equal(link.completion('server')!.resumed, false);
      });
    }
  }

  test('RSA-2048 certificate signs with rsa_pss_rsae_sha256', () => {
    const rsa = identity('rsa');
    const link = Link.connect(serverConfig({}, rsa), clientConfig({}, rsa));
    assertConnected(link);
    const flight = link.wire.find((w) => w.from === 'server' && w.level === 'handshake')!.data;
    const reassembler = new HandshakeReassembler();
    reassembler.push(flight);
    let message = reassembler.next();
    while (message !== undefined && message.type !== 15) message = reassembler.next();
    assert.equal((message!.body[0]! << 8) | message!.body[1]!, 0x0804);
  });

  test('ECDSA P-256 certificate signs with ecdsa_secp256r1_sha256, verified with the leaf', () => {
    const link = Link.connect(serverConfig(), clientConfig());
    assertConnected(link);
    const flight = link.wire.find((w) => w.from === 'server' && w.level === 'handshake')!.data;
    assert.ok(Buffer.from(flight).includes(Buffer.from(identity().der)), 'the certificate travels');
  });

  test('server cipher-suite preference wins; the client list order does not', () => {
    const link = Link.connect(serverConfig({ cipherSuites: [0x1303, 0x1301] }), clientConfig({ cipherSuites: [0x1301, 0x1302, 0x1303] }));
    assertConnected(link);
    assert.equal(ofType(link.clientEvents, 'keysReady')[0]!.suite.code, 0x1303);
  });

  test('key-log lines name the client random and each secret', () => {
    const link = Link.connect(serverConfig(), clientConfig());
    const lines = ofType(link.serverEvents, 'keyLog').map((event) => event.line.split(' '));
    assert.deepEqual(lines.map((l) => l[0]).sort(), [
      'CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'EXPORTER_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_TRAFFIC_SECRET_0',
    ]);
    const clientHello = link.wire[0]!.data;
    const random = Buffer.from(clientHello.subarray(6, 38)).toString('hex');
    assert.ok(lines.every((l) => l[1] === random && /^[0-9a-f]{64}$/.test(l[2]!)));
    assert.equal(lines.find((l) => l[0] === 'SERVER_TRAFFIC_SECRET_0')![2], secrets(link.serverEvents, 'application', 'write'));
  });

  test('a client pinned to another certificate refuses with bad_certificate', () => {
    const link = Link.connect(serverConfig(), clientConfig({}, identity('rsa')));
    assert.equal(alertOf(link.clientEvents)?.description, 42);
    assert.equal(link.completion('server'), undefined);
  });

  test('a client without a certificate verifier fails closed', () => {
    const link = Link.connect(serverConfig(), clientConfig({ verifyCertificate: undefined }));
    assert.equal(alertOf(link.clientEvents)?.description, 42);
  });

  test('byte-at-a-time delivery (fragmented CRYPTO data) still completes', () => {
    const server = new TlsServer(serverConfig());
    const client = new TlsClient(clientConfig());
    const deliver = (to: TlsClient | TlsServer, events: TlsEvent[]): TlsEvent[] => {
      const out: TlsEvent[] = [];
      for (const event of events) {
        if (event.type !== 'cryptoData') continue;
        for (let i = 0; i < event.data.byteLength; i++) out.push(...to.receive(event.level, event.data.subarray(i, i + 1)));
      }
      return out;
    };
    const serverEvents = deliver(server, client.start());
    const clientEvents = deliver(client, serverEvents);
    const serverDone = deliver(server, clientEvents);
    assert.ok(ofType(clientEvents, 'handshakeComplete')[0]);
    assert.ok(ofType(serverDone, 'handshakeComplete')[0]);
  });

  test('several messages in one receive() are all processed', () => {
    const link = Link.connect(serverConfig(), clientConfig());
    // The server's handshake flight is EE+Certificate+CertificateVerify+Finished in one cryptoData.
    assert.equal(link.wire.filter((w) => w.from === 'server' && w.level === 'handshake').length, 1);
    assertConnected(link);
  });
});

describe('HelloRetryRequest (RFC 8446 §4.1.4)', () => {
  test('client shares secp256r1, server wants x25519: retry then success', () => {
    const link = Link.connect(serverConfig({ groups: ['x25519'] }), clientConfig({ groups: ['secp256r1', 'x25519'] }));
    assertConnected(link);
    const fromServer = link.wire.filter((w) => w.from === 'server' && w.level === 'initial');
    assert.equal(fromServer.length, 2);
    assert.equal(Buffer.from(fromServer[0]!.data.subarray(6, 38)).toString('hex'), HRR_RANDOM);
    assert.equal(link.wire.filter((w) => w.from === 'client' && w.level === 'initial').length, 2);
    assert.equal(ofType(link.serverEvents, 'peerTransportParameters').length, 1, 'transport parameters reported once');
  });

  test('client shares x25519, server only secp256r1: retry then success', () => {
    const link = Link.connect(serverConfig({ groups: ['secp256r1'] }), clientConfig());
    assertConnected(link);
    assert.equal(link.wire.filter((w) => w.from === 'client' && w.level === 'initial').length, 2);
  });

  test('two key shares up front avoid the retry', () => {
    const link = Link.connect(serverConfig({ groups: ['secp256r1'] }), clientConfig({ keyShareCount: 2 }));
    assertConnected(link);
    assert.equal(link.wire.filter((w) => w.level === 'initial').length, 2);
  });

  test('with SHA-384 suite (the message_hash uses the suite hash)', () => {
    const link = Link.connect(serverConfig({ groups: ['secp256r1'], cipherSuites: [0x1302] }), clientConfig());
    assertConnected(link);
  });
});

describe('resumption and 0-RTT', () => {
  const earlyServer = (overrides = {}) => serverConfig({ ticketKey: TICKET_KEY, earlyData: { maxSize: 0xffff }, ...overrides });

  test('a ticket resumes with psk_dhe_ke: no Certificate, both sides resumed', () => {
    const first = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig());
    assertConnected(first);
    const again = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig({ sessionTicket: firstTicket(first) }));
    assertConnected(again);
    assert.equal(again.completion('server')!.resumed, true);
    assert.deepEqual(messageTypes(again.wire.find((w) => w.from === 'server' && w.level === 'handshake')!.data), [8, 20]);
    // A resumed connection gets a fresh ticket, which resumes again.
    const third = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig({ sessionTicket: firstTicket(again) }));
    assert.equal(third.completion('client')!.resumed, true);
  });

  for (const suite of [0x1301, 0x1302, 0x1303] as const) {
    test(`resumption and 0-RTT under suite 0x${suite.toString(16)}`, () => {
      const first = Link.connect(earlyServer({ cipherSuites: [suite] }), clientConfig());
      const again = Link.connect(earlyServer({ cipherSuites: [suite] }), clientConfig({ sessionTicket: firstTicket(first), earlyData: true }));
      assertConnected(again);
      assert.equal(again.completion('server')!.earlyDataAccepted, true);
      assert.equal(secrets(again.clientEvents, 'early', 'write'), secrets(again.serverEvents, 'early', 'read'));
      assert.ok(secrets(again.clientEvents, 'early', 'write'));
      assert.deepEqual(ofType(again.clientEvents, 'rememberedTransportParameters')[0]!.data, SERVER_TP);
      assert.ok(ofType(again.serverEvents, 'keyLog').some((e) => e.line.startsWith('CLIENT_EARLY_TRAFFIC_SECRET ')));
    });
  }

  test('0-RTT refused when the server has earlyData off (resumption still works)', () => {
    const first = Link.connect(earlyServer(), clientConfig());
    const again = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig({ sessionTicket: firstTicket(first), earlyData: true }));
    assertConnected(again);
    assert.equal(again.completion('server')!.resumed, true);
    assert.equal(again.completion('server')!.earlyDataAccepted, false);
    assert.equal(secrets(again.serverEvents, 'early', 'read'), undefined);
  });

  test('a ticket issued without 0-RTT does not enable it later', () => {
    const first = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig());
    const again = Link.connect(earlyServer(), clientConfig({ sessionTicket: firstTicket(first), earlyData: true }));
    assertConnected(again);
    assert.equal(again.completion('client')!.earlyDataAccepted, false);
    assert.equal(ofType(again.clientEvents, 'keysReady').some((e) => e.level === 'early'), false, 'client did not even try');
  });

  test('0-RTT refused when our transport parameters changed since the ticket (RFC 9001 §4.6.2)', () => {
    const first = Link.connect(earlyServer(), clientConfig());
    const again = Link.connect(earlyServer({ transportParameters: Uint8Array.of(9, 9) }), clientConfig({ sessionTicket: firstTicket(first), earlyData: true }));
    assert.equal(again.completion('server')!.resumed, true);
    assert.equal(again.completion('server')!.earlyDataAccepted, false);
  });

  test('0-RTT accepted when only per-connection transport parameters differ, refused when a §7.4.1 limit changes (RFC 9001 §4.6.2)', () => {
    // initial_source_connection_id (0x0f) and stateless_reset_token (0x02) change on every connection; initial_max_data (0x04) bounds 0-RTT.
    const parameters = (cid: number, maxData: number) =>
      Uint8Array.of(0x0f, 0x04, cid, cid, cid, cid, 0x02, 0x10, ...new Array<number>(16).fill(cid), 0x04, 0x02, 0x40, maxData);
    const first = Link.connect(earlyServer({ transportParameters: parameters(1, 0x10) }), clientConfig());
    const again = Link.connect(earlyServer({ transportParameters: parameters(2, 0x10) }), clientConfig({ sessionTicket: firstTicket(first), earlyData: true }));
    assert.equal(again.completion('server')!.resumed, true);
    assert.equal(again.completion('server')!.earlyDataAccepted, true, 'new CIDs and reset token must not refuse 0-RTT');
    const lowered = Link.connect(earlyServer({ transportParameters: parameters(3, 0x08) }), clientConfig({ sessionTicket: firstTicket(first), earlyData: true }));
    assert.equal(lowered.completion('server')!.resumed, true);
    assert.equal(lowered.completion('server')!.earlyDataAccepted, false, 'a changed initial_max_data must refuse 0-RTT');
  });

  test('0-RTT refused when the ticket age disagrees by more than the freshness window (RFC 8446 §8.3)', () => {
    const first = Link.connect(earlyServer(), clientConfig());
    const again = Link.connect(earlyServer({ now: () => Date.now() + 60_000 }), clientConfig({ sessionTicket: firstTicket(first), earlyData: true }));
    assert.equal(again.completion('server')!.resumed, true);
    assert.equal(again.completion('server')!.earlyDataAccepted, false);
  });

  test('a ticket that expires between the two ClientHellos: the ServerHello keeps the HelloRetryRequest suite', () => {
    const first = Link.connect(serverConfig({ ticketKey: TICKET_KEY, ticketLifetime: 10, cipherSuites: [0x1303] }), clientConfig());
    let calls = 0;
    const now = () => Date.now() + (calls++ === 0 ? 0 : 11_000);
    const again = Link.connect(
      serverConfig({ ticketKey: TICKET_KEY, groups: ['secp256r1'], cipherSuites: [0x1301, 0x1303], now }),
      clientConfig({ sessionTicket: firstTicket(first) }),
    );
    assertConnected(again);
    assert.equal(again.completion('server')!.resumed, false, 'the ticket had expired by the second ClientHello');
    assert.ok(ofType(again.serverEvents, 'keysReady').every((event) => event.suite.code === 0x1303));
  });

  test('0-RTT is dropped after a HelloRetryRequest, resumption survives it (binder over the retry transcript)', () => {
    const first = Link.connect(earlyServer(), clientConfig());
    const again = Link.connect(earlyServer({ groups: ['secp256r1'] }), clientConfig({ sessionTicket: firstTicket(first), earlyData: true }));
    assertConnected(again);
    assert.equal(again.completion('server')!.resumed, true);
    assert.equal(again.completion('server')!.earlyDataAccepted, false);
  });

  test('an expired ticket, or one under another ticket key, falls back to a full handshake', () => {
    const first = Link.connect(earlyServer({ ticketLifetime: 10 }), clientConfig());
    const expired = Link.connect(earlyServer({ now: () => Date.now() + 11_000 }), clientConfig({ sessionTicket: firstTicket(first) }));
    assertConnected(expired);
    const offered = decodeClientSession(firstTicket(first))!.identity;
    assert.ok(Buffer.from(expired.wire[0]!.data).includes(Buffer.from(offered)), 'the client did offer the ticket');
    assert.equal(expired.completion('server')!.resumed, false);
    const otherKey = Link.connect(earlyServer({ ticketKey: new Uint8Array(32).fill(7) }), clientConfig({ sessionTicket: firstTicket(first), earlyData: true }));
    assertConnected(otherKey);
    assert.equal(otherKey.completion('server')!.resumed, false);
  });

  test('a ticket for another server name is not resumed by the server', () => {
    const first = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig());
    // Our client would not offer it under another name; rewrite its session record so it does.
    const session = decodeClientSession(firstTicket(first))!;
    const ticket = encodeClientSession({ ...session, serverName: 'other.example' });
    const server = serverConfig({ ticketKey: TICKET_KEY, selectCertificate: () => ({ chain: [identity().der], key: identity().key }) });
    const again = Link.connect(server, clientConfig({ sessionTicket: ticket, serverName: 'other.example' }));
    assert.ok(Buffer.from(again.wire[0]!.data).includes(Buffer.from(session.identity)), 'the ticket was offered');
    assertConnected(again);
    assert.equal(again.completion('server')!.resumed, false);
  });

  test('only the first four PSK identities are tried (each costs an AEAD open)', () => {
    const first = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig());
    const session = decodeClientSession(firstTicket(first))!;
    const withJunk = (junk: number) => {
      const hello = new TlsClient(clientConfig({ sessionTicket: firstTicket(first) })).start();
      const raw = ofType(hello, 'cryptoData')[0]!.data;
      // Rebuild pre_shared_key with `junk` unknown identities ahead of the real one (binder recomputed below).
      return rebuildHello(raw, (p) => {
        const identities = [...Array.from({ length: junk }, (_, i) => ({ identity: new Uint8Array(40).fill(i + 1), obfuscatedTicketAge: 0 })), { identity: session.identity, obfuscatedTicketAge: 0 }];
        const binders = identities.map(() => new Uint8Array(32));
        setExtension(p.extensions, 41, encodeOfferedPsks(identities, binders));
      });
    };
    // With the real ticket fourth, it is found, and its (zero) binder fails: decrypt_error proves it was tried.
    assert.equal(alertOf(new TlsServer(serverConfig({ ticketKey: TICKET_KEY })).receive('initial', withJunk(3)))?.description, 51);
    // Fifth: never opened, so a full handshake goes ahead.
    const events = new TlsServer(serverConfig({ ticketKey: TICKET_KEY })).receive('initial', withJunk(4));
    assert.equal(alertOf(events), undefined);
    assert.equal(ofType(events, 'cryptoData').length, 2);
  });

  test('issueSessionTicket sends more tickets; each resumes', () => {
    const link = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig());
    link.run(link.server.issueSessionTicket(), 'server');
    const tickets = ofType(link.clientEvents, 'sessionTicket');
    assert.equal(tickets.length, 2);
    assert.notDeepEqual(tickets[0]!.ticket, tickets[1]!.ticket);
    const again = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig({ sessionTicket: tickets[1]!.ticket }));
    assert.equal(again.completion('client')!.resumed, true);
  });

  test('no ticket key, no tickets', () => {
    const link = Link.connect(serverConfig(), clientConfig());
    assert.equal(ofType(link.clientEvents, 'sessionTicket').length, 0);
    assert.deepEqual(link.server.issueSessionTicket(), []);
  });

  test('a garbage session blob is ignored by the client', () => {
    const link = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig({ sessionTicket: Uint8Array.of(1, 2, 3) }));
    assertConnected(link);
    assert.equal(link.completion('client')!.resumed, false);
  });
});
