/**
 * The client side of the TLS 1.3 handshake for QUIC (RFC 8446 §2, RFC 9001 §4): enough for tests and a benchmark
 * client. It offers x25519 (and optionally a secp256r1 share), follows a HelloRetryRequest, verifies the server's
 * CertificateVerify with the leaf certificate and both Finished messages, keeps tickets and resumes with them
 * (psk_dhe_ke), with 0-RTT when asked and allowed.
 */
import { hashLength } from '../crypto.js';
import type { KeyExchange, KeyExchangeGroup } from '../crypto.js';
import {
  Alert,
  CLIENT_SIGNATURE_SCHEMES,
  DEFAULT_CIPHER_SUITES,
  DEFAULT_GROUPS,
  Ext,
  GROUP_CODES,
  HELLO_RETRY_REQUEST_RANDOM,
  HandshakeType,
  LEGACY_VERSION,
  MAX_TICKET_LIFETIME,
  PSK_DHE_KE,
  QUIC_MAX_EARLY_DATA,
  TLS13,
  TransportError,
  checkAlpnList,
  cipherSuite,
  groupOf,
} from './constants.js';
import { TlsEndpoint } from './endpoint.js';
import type { CryptoLevel } from './endpoint.js';
import { handshakeMessage } from './framing.js';
import type { HandshakeMessage } from './framing.js';
import { KeySchedule, Transcript } from './keyschedule.js';
import {
  certificateVerifyInput,
  encodeAlpn,
  encodeClientHello,
  encodeClientKeyShares,
  encodeCookie,
  encodeOfferedPsks,
  encodeServerName,
  encodeU16List,
  findExtension,
  parseAlpn,
  parseCertificate,
  parseCertificateVerify,
  parseCookie,
  parseEncryptedExtensions,
  parseNewSessionTicket,
  parseSelectedGroup,
  parseServerHello,
  parseServerKeyShare,
  parseU16,
  requireEmpty,
} from './messages.js';
import type { Extension, ServerHello } from './messages.js';
import { decodeClientSession, encodeClientSession } from './tickets.js';
import type { ClientSession } from './tickets.js';
import type { CipherSuite, TlsClientConfig, TlsEvent } from './types.js';
import { Reader, bytesEqual, fail } from './wire.js';

type ClientState =
  | 'start'
  | 'waitServerHello'
  | 'waitEncryptedExtensions'
  | 'waitCertificate'
  | 'waitCertificateVerify'
  | 'waitFinished'
  | 'connected';

/** Extensions a server may send in each message, provided we offered them (RFC 8446 §4.2 table). */
const ALLOWED_IN_SERVER_HELLO = new Set<number>([Ext.supportedVersions, Ext.keyShare, Ext.preSharedKey]);
const ALLOWED_IN_RETRY = new Set<number>([Ext.supportedVersions, Ext.keyShare, Ext.cookie]);
const ALLOWED_IN_ENCRYPTED_EXTENSIONS = new Set<number>([Ext.serverName, Ext.supportedGroups, Ext.alpn, Ext.earlyData, Ext.quicTransportParameters]);

export class TlsClient extends TlsEndpoint {
  private state: ClientState = 'start';
  private readonly transcript: Transcript;
  private readonly groups: readonly KeyExchangeGroup[];
  private readonly suites: ReadonlyArray<CipherSuite['code']>;
  private readonly now: () => number;
  private exchanges: KeyExchange[] = [];
  private session: ClientSession | undefined;
  private offeredEarlyData = false;
  private retried = false;
  private cookie: Uint8Array | undefined;
  /** Extension types in our ClientHello: a server may answer only these (RFC 8446 §4.2). */
  private offered = new Set<number>();
  private suite: CipherSuite | undefined;
  private schedule: KeySchedule | undefined;
  private clientHandshakeSecret: Uint8Array | undefined;
  private serverHandshakeSecret: Uint8Array | undefined;
  private resumptionMasterSecret: Uint8Array | undefined;
  private resumed = false;
  private earlyDataAccepted = false;
  private alpn = '';
  private serverTransportParameters: Uint8Array = new Uint8Array(0);
  private leaf: Uint8Array | undefined;

  constructor(private readonly config: TlsClientConfig) {
    super(config.crypto);
    this.transcript = new Transcript(config.crypto);
    this.groups = config.groups ?? DEFAULT_GROUPS;
    this.suites = config.cipherSuites ?? DEFAULT_CIPHER_SUITES;
    this.now = config.now ?? Date.now;
    checkAlpnList(config.alpn, 'client');
    if (this.groups.length === 0 || this.suites.length === 0) throw new Error('no groups or cipher suites to offer');
    const session = config.sessionTicket === undefined ? undefined : decodeClientSession(config.sessionTicket);
    if (session !== undefined && this.usable(session)) this.session = session;
  }

  /** A stored session is offered only when still alive and meant for this server, suite and protocols. */
  private usable(session: ClientSession): boolean {
    const age = this.now() - session.receivedAt;
    return (
      age >= 0 &&
      age < session.lifetime * 1000 &&
      session.serverName === this.config.serverName &&
      this.suites.includes(session.suite as CipherSuite['code']) &&
      this.config.alpn.includes(session.alpn)
    );
  }

  /** The first flight: the ClientHello (and the 0-RTT keys when early data is attempted). */
  start(): TlsEvent[] {
    return this.run(() => {
      if (this.state !== 'start') fail(Alert.internalError, 'start() called twice');
      this.clientRandom = this.crypto.randomBytes(32);
      const shareCount = Math.max(1, Math.min(this.config.keyShareCount ?? 1, this.groups.length));
      this.exchanges = this.groups.slice(0, shareCount).map((group) => this.crypto.generateKeyExchange(group));
      const session = this.session;
      this.offeredEarlyData = this.config.earlyData === true && session !== undefined && session.earlyData;
      const hello = this.buildClientHello();
      this.send('initial', hello);
      if (this.offeredEarlyData) {
        const suite = cipherSuite(session!.suite)!;
        const early = new KeySchedule(this.crypto, suite.hash, session!.psk);
        this.events.push({ type: 'rememberedTransportParameters', data: session!.serverTransportParameters });
        this.keys('early', 'write', suite, early.derive('c e traffic', this.crypto.hash(suite.hash, hello)), 'CLIENT_EARLY_TRAFFIC_SECRET');
      }
      this.state = 'waitServerHello';
    });
  }

  /**
   * The ClientHello (RFC 8446 §4.1.2); the second one after a retry repeats the first except for the key share,
   * the cookie, early_data and the PSK's age and binder (§4.1.2).
   */
  private buildClientHello(): Uint8Array {
    const config = this.config;
    const extensions: Extension[] = [];
    // RFC 6066 §3: literal IP addresses are not sent as server_name.
    if (config.serverName !== undefined && !/^[0-9.]+$|:/.test(config.serverName)) {
      extensions.push({ type: Ext.serverName, data: encodeServerName(config.serverName) });
    }
    extensions.push(
      { type: Ext.supportedGroups, data: encodeU16List(this.groups.map((group) => GROUP_CODES[group])) },
      { type: Ext.signatureAlgorithms, data: encodeU16List(CLIENT_SIGNATURE_SCHEMES) },
      { type: Ext.alpn, data: encodeAlpn(config.alpn) },
      { type: Ext.supportedVersions, data: encodeU16List([TLS13], 1) },
      { type: Ext.pskKeyExchangeModes, data: Uint8Array.of(1, PSK_DHE_KE) },
      { type: Ext.keyShare, data: encodeClientKeyShares(this.exchanges.map((kx) => ({ group: GROUP_CODES[kx.group], key: kx.publicKey }))) },
      { type: Ext.quicTransportParameters, data: config.transportParameters },
    );
    if (this.cookie !== undefined) extensions.push({ type: Ext.cookie, data: encodeCookie(this.cookie) });
    if (this.offeredEarlyData && !this.retried) extensions.push({ type: Ext.earlyData, data: new Uint8Array(0) });
    const session = this.session;
    const pskSuite = session === undefined ? undefined : cipherSuite(session.suite)!;
    if (session !== undefined) {
      // RFC 8446 §4.2.11.1: obfuscated_ticket_age = (age in ms + ticket_age_add) mod 2^32.
      const age = ((this.now() - session.receivedAt + session.ageAdd) >>> 0);
      const placeholder = new Uint8Array(hashLength(pskSuite!.hash));
      extensions.push({ type: Ext.preSharedKey, data: encodeOfferedPsks([{ identity: session.identity, obfuscatedTicketAge: age }], [placeholder]) });
    }
    for (const extension of extensions) this.offered.add(extension.type);
    const hello = encodeClientHello(this.clientRandom, this.suites, extensions);
    if (session !== undefined) {
      // RFC 8446 §4.2.11.2: the binder covers the transcript through the ClientHello up to the binders list
      // (here one binder: 2-byte list length, 1-byte binder length, then the binder).
      const binderLength = hashLength(pskSuite!.hash);
      const truncated = hello.subarray(0, hello.byteLength - (3 + binderLength));
      const transcriptHash = this.retried ? this.transcript.digestWith(truncated) : this.crypto.hash(pskSuite!.hash, truncated);
      const schedule = new KeySchedule(this.crypto, pskSuite!.hash, session.psk);
      hello.set(schedule.finishedMac(schedule.binderKey(), transcriptHash), hello.byteLength - binderLength);
    }
    this.transcript.add(hello);
    return hello;
  }

  protected expectedLevel(): CryptoLevel | undefined {
    switch (this.state) {
      case 'start':
        return undefined;
      case 'waitServerHello':
        return 'initial';
      case 'connected':
        return 'application';
      default:
        return 'handshake';
    }
  }

  protected handle(message: HandshakeMessage): void {
    const expect = (type: number, name: string) => {
      if (message.type !== type) fail(Alert.unexpectedMessage, `handshake message ${message.type} while expecting ${name}`);
    };
    switch (this.state) {
      case 'waitServerHello':
        expect(HandshakeType.serverHello, 'ServerHello');
        return this.onServerHello(message);
      case 'waitEncryptedExtensions':
        expect(HandshakeType.encryptedExtensions, 'EncryptedExtensions');
        return this.onEncryptedExtensions(message);
      case 'waitCertificate':
        // We never send post_handshake_auth or accept a CertificateRequest: only the server authenticates.
        expect(HandshakeType.certificate, 'Certificate');
        return this.onCertificate(message);
      case 'waitCertificateVerify':
        expect(HandshakeType.certificateVerify, 'CertificateVerify');
        return this.onCertificateVerify(message);
      case 'waitFinished':
        expect(HandshakeType.finished, 'Finished');
        return this.onFinished(message);
      case 'connected':
        // RFC 9001 §6: a TLS KeyUpdate is a connection error 0x010a (unexpected_message); NewSessionTicket is the
        // only post-handshake message we accept.
        expect(HandshakeType.newSessionTicket, 'NewSessionTicket');
        return this.onNewSessionTicket(message);
      case 'start':
        fail(Alert.unexpectedMessage, 'handshake data before start()');
    }
  }

  /** RFC 8446 §4.2: a server may answer only extensions we sent, and only those meant for its message. */
  private checkServerExtensions(extensions: readonly Extension[], allowed: ReadonlySet<number>, what: string): void {
    for (const extension of extensions) {
      if (extension.type === Ext.cookie && what === 'HelloRetryRequest') continue; // the one unsolicited exception
      if (!this.offered.has(extension.type)) fail(Alert.unsupportedExtension, `unsolicited extension 0x${extension.type.toString(16)} in ${what}`);
      if (!allowed.has(extension.type)) fail(Alert.illegalParameter, `extension 0x${extension.type.toString(16)} not allowed in ${what}`);
    }
  }

  /** RFC 8446 §4.1.3 checks shared by ServerHello and HelloRetryRequest. */
  private checkHello(hello: ServerHello): CipherSuite {
    // RFC 8446 §D.5 / §4.1.3: legacy_version is 0x0303 and the version is in supported_versions.
    if (hello.legacyVersion !== LEGACY_VERSION) fail(Alert.protocolVersion, `ServerHello.legacy_version 0x${hello.legacyVersion.toString(16)}`);
    const versions = findExtension(hello.extensions, Ext.supportedVersions);
    // Without supported_versions the server chose TLS 1.2 or older, which we never offered: protocol_version. (The
    // RFC 8446 §4.1.3 downgrade sentinels in the random only matter to clients that also offer TLS 1.2.)
    if (versions === undefined) fail(Alert.protocolVersion, 'ServerHello negotiates a version before TLS 1.3');
    // RFC 8446 §4.2.1: a version we did not offer is illegal_parameter.
    if (parseU16(versions, 'supported_versions') !== TLS13) fail(Alert.illegalParameter, 'ServerHello selects a version other than TLS 1.3');
    // RFC 8446 §4.1.3: the echoed session id, suite and compression method must match what we sent.
    if (hello.sessionIdEcho.byteLength !== 0) fail(Alert.illegalParameter, 'legacy_session_id_echo differs from ours');
    if (hello.compressionMethod !== 0) fail(Alert.illegalParameter, 'non-null legacy_compression_method');
    const suite = cipherSuite(hello.cipherSuite);
    if (suite === undefined || !this.suites.includes(suite.code)) fail(Alert.illegalParameter, `cipher suite 0x${hello.cipherSuite.toString(16)} was not offered`);
    // RFC 8446 §4.1.4: the ServerHello's suite must be the one the HelloRetryRequest named.
    if (this.suite !== undefined && this.suite.code !== suite.code) fail(Alert.illegalParameter, 'ServerHello suite differs from the HelloRetryRequest');
    return suite;
  }

  private onServerHello(message: HandshakeMessage): void {
    const hello = parseServerHello(message.body);
    if (bytesEqual(hello.random, HELLO_RETRY_REQUEST_RANDOM)) return this.onHelloRetryRequest(message, hello);
    const suite = this.checkHello(hello);
    this.checkServerExtensions(hello.extensions, ALLOWED_IN_SERVER_HELLO, 'ServerHello');
    this.suite = suite;

    const shareData = findExtension(hello.extensions, Ext.keyShare);
    // We offer psk_dhe_ke only, so even a resumed handshake needs the server's share.
    if (shareData === undefined) fail(Alert.missingExtension, 'ServerHello without key_share');
    const share = parseServerKeyShare(shareData);
    const exchange = this.exchanges.find((kx) => GROUP_CODES[kx.group] === share.group);
    // RFC 8446 §4.2.8: the server's share must be in a group we sent a share for.
    if (exchange === undefined) fail(Alert.illegalParameter, `ServerHello key share for group 0x${share.group.toString(16)} we did not offer`);
    const sharedSecret = exchange.deriveSecret(share.key);
    if (sharedSecret === null) fail(Alert.illegalParameter, 'invalid server key share');

    let psk: Uint8Array | undefined;
    const selected = findExtension(hello.extensions, Ext.preSharedKey);
    if (selected !== undefined) {
      // RFC 8446 §4.2.11: the index must be one we offered and the suite's hash the PSK's; else illegal_parameter.
      if (parseU16(selected, 'selected_identity') !== 0) fail(Alert.illegalParameter, 'selected_identity out of range');
      if (cipherSuite(this.session!.suite)!.hash !== suite.hash) fail(Alert.illegalParameter, 'PSK selected with a suite of another hash');
      psk = this.session!.psk;
      this.resumed = true;
    }

    this.transcript.setHash(suite.hash);
    this.transcript.add(message.raw);
    const schedule = new KeySchedule(this.crypto, suite.hash, psk);
    this.schedule = schedule;
    schedule.advance(sharedSecret);
    const helloHash = this.transcript.digest();
    this.clientHandshakeSecret = schedule.derive('c hs traffic', helloHash);
    this.serverHandshakeSecret = schedule.derive('s hs traffic', helloHash);
    this.keys('handshake', 'read', suite, this.serverHandshakeSecret, 'SERVER_HANDSHAKE_TRAFFIC_SECRET');
    this.keys('handshake', 'write', suite, this.clientHandshakeSecret, 'CLIENT_HANDSHAKE_TRAFFIC_SECRET');
    this.state = 'waitEncryptedExtensions';
  }

  private onHelloRetryRequest(message: HandshakeMessage, hello: ServerHello): void {
    // RFC 8446 §4.1.4: "If a client receives a second HelloRetryRequest in the same connection ... it MUST abort the
    // handshake with an "unexpected_message" alert."
    if (this.retried) fail(Alert.unexpectedMessage, 'second HelloRetryRequest');
    const suite = this.checkHello(hello);
    this.checkServerExtensions(hello.extensions, ALLOWED_IN_RETRY, 'HelloRetryRequest');
    const selectedData = findExtension(hello.extensions, Ext.keyShare);
    const cookieData = findExtension(hello.extensions, Ext.cookie);
    // RFC 8446 §4.1.4: a retry that would not change the ClientHello is illegal_parameter.
    if (selectedData === undefined && cookieData === undefined) fail(Alert.illegalParameter, 'HelloRetryRequest changes nothing');
    if (cookieData !== undefined) this.cookie = parseCookie(cookieData).slice();
    if (selectedData !== undefined) {
      const code = parseSelectedGroup(selectedData);
      const group = groupOf(code);
      // RFC 8446 §4.2.8: the selected group must be one we support and not one we already sent a share for.
      if (group === undefined || !this.groups.includes(group)) fail(Alert.illegalParameter, `HelloRetryRequest asks for group 0x${code.toString(16)} we did not offer`);
      if (this.exchanges.some((kx) => kx.group === group)) fail(Alert.illegalParameter, 'HelloRetryRequest asks for a group we already sent a share for');
      this.exchanges = [this.crypto.generateKeyExchange(group)];
    }
    this.retried = true;
    this.suite = suite;
    // RFC 8446 §4.2.10: early data is abandoned after a retry; RFC 8446 §4.1.4: drop a PSK of another hash.
    if (this.session !== undefined && cipherSuite(this.session.suite)!.hash !== suite.hash) this.session = undefined;
    this.offered.clear();
    this.transcript.setHash(suite.hash);
    this.transcript.replaceWithMessageHash();
    this.transcript.add(message.raw);
    this.send('initial', this.buildClientHello());
  }

  private onEncryptedExtensions(message: HandshakeMessage): void {
    const extensions = parseEncryptedExtensions(message.body);
    this.checkServerExtensions(extensions, ALLOWED_IN_ENCRYPTED_EXTENSIONS, 'EncryptedExtensions');
    const alpnData = findExtension(extensions, Ext.alpn);
    // RFC 9001 §8.1: no negotiated protocol is no_application_protocol.
    if (alpnData === undefined) fail(Alert.noApplicationProtocol, 'server selected no ALPN protocol');
    const alpn = parseAlpn(alpnData);
    // RFC 7301 §3.1: the server's list holds exactly one protocol, one the client offered.
    if (alpn.length !== 1 || !this.config.alpn.includes(alpn[0]!)) fail(Alert.illegalParameter, 'server selected an ALPN protocol we did not offer');
    this.alpn = alpn[0]!;
    const transportParameters = findExtension(extensions, Ext.quicTransportParameters);
    // RFC 9001 §8.2: missing quic_transport_parameters is missing_extension.
    if (transportParameters === undefined) fail(Alert.missingExtension, 'EncryptedExtensions without quic_transport_parameters');
    this.serverTransportParameters = transportParameters.slice();
    this.events.push({ type: 'peerTransportParameters', data: this.serverTransportParameters });
    const serverName = findExtension(extensions, Ext.serverName);
    if (serverName !== undefined) requireEmpty(serverName, 'server_name');
    const earlyData = findExtension(extensions, Ext.earlyData);
    if (earlyData !== undefined) {
      requireEmpty(earlyData, 'early_data');
      // RFC 8446 §4.2.10: accepted early data must come with the PSK of the first identity, and "If any of these
      // checks fail ... the client MUST abort the handshake with an "illegal_parameter" alert" (ALPN included).
      if (!this.offeredEarlyData || this.retried || !this.resumed) fail(Alert.illegalParameter, 'early_data accepted without a 0-RTT offer');
      if (this.session!.alpn !== this.alpn || this.session!.suite !== this.suite!.code) fail(Alert.illegalParameter, '0-RTT accepted under another ALPN protocol or suite');
      this.earlyDataAccepted = true;
    }
    this.transcript.add(message.raw);
    this.state = this.resumed ? 'waitFinished' : 'waitCertificate';
  }

  private onCertificate(message: HandshakeMessage): void {
    const certificate = parseCertificate(message.body);
    // RFC 8446 §4.4.2: the context is empty in the server's Certificate.
    if (certificate.context.byteLength !== 0) fail(Alert.illegalParameter, 'server Certificate with a request context');
    // RFC 8446 §4.4.2.4: "If the server supplies an empty Certificate message, the client MUST abort the handshake
    // with a "decode_error" alert."
    if (certificate.entries.length === 0) fail(Alert.decodeError, 'empty server Certificate');
    for (const entry of certificate.entries) {
      // We request neither OCSP stapling nor SCTs, so no entry may carry extensions (RFC 8446 §4.4.2).
      if (entry.extensions.length > 0) fail(Alert.unsupportedExtension, 'unsolicited CertificateEntry extension');
    }
    const chain = certificate.entries.map((entry) => entry.data.slice());
    const verify = this.config.verifyCertificate;
    // RFC 8446 §6.2 bad_certificate; without a verifier nothing is trusted (fail closed).
    if (verify === undefined || !verify(chain, this.config.serverName)) fail(Alert.badCertificate, 'server certificate not accepted');
    this.leaf = chain[0];
    this.transcript.add(message.raw);
    this.state = 'waitCertificateVerify';
  }

  private onCertificateVerify(message: HandshakeMessage): void {
    const { scheme, signature } = parseCertificateVerify(message.body);
    // RFC 8446 §4.4.3: the scheme must be one we offered in signature_algorithms.
    if (!CLIENT_SIGNATURE_SCHEMES.includes(scheme)) fail(Alert.illegalParameter, `CertificateVerify scheme 0x${scheme.toString(16)} was not offered`);
    const input = certificateVerifyInput('server', this.transcript.digest());
    // RFC 8446 §4.4.3: "If the verification fails, the receiver MUST terminate the handshake with a
    // "decrypt_error" alert."
    if (!this.crypto.verifySignature(scheme, this.leaf!, input, signature)) fail(Alert.decryptError, 'CertificateVerify signature does not verify');
    this.transcript.add(message.raw);
    this.state = 'waitFinished';
  }

  private onFinished(message: HandshakeMessage): void {
    const schedule = this.schedule!;
    const suite = this.suite!;
    if (message.body.byteLength !== schedule.hashLength) fail(Alert.decodeError, 'Finished of the wrong length');
    const expected = schedule.finishedMac(this.serverHandshakeSecret!, this.transcript.digest());
    // RFC 8446 §4.4.4: a wrong verify_data is decrypt_error; compared in constant time.
    if (!this.crypto.timingSafeEqual(message.body, expected)) fail(Alert.decryptError, 'server Finished does not verify');
    this.transcript.add(message.raw);
    const finishedHash = this.transcript.digest();
    const clientFinished = handshakeMessage(HandshakeType.finished, schedule.finishedMac(this.clientHandshakeSecret!, finishedHash));
    schedule.advance();
    this.keys('application', 'read', suite, schedule.derive('s ap traffic', finishedHash), 'SERVER_TRAFFIC_SECRET_0');
    this.send('handshake', clientFinished);
    this.keys('application', 'write', suite, schedule.derive('c ap traffic', finishedHash), 'CLIENT_TRAFFIC_SECRET_0');
    this.transcript.add(clientFinished);
    this.resumptionMasterSecret = schedule.derive('res master', this.transcript.digest());
    this.state = 'connected';
    this.clientHandshakeSecret = undefined;
    this.serverHandshakeSecret = undefined;
    this.exchanges = [];
    this.events.push({ type: 'handshakeComplete', alpn: this.alpn, serverName: this.config.serverName, resumed: this.resumed, earlyDataAccepted: this.earlyDataAccepted });
  }

  private onNewSessionTicket(message: HandshakeMessage): void {
    const ticket = parseNewSessionTicket(message.body);
    // RFC 8446 §4.6.1: "Servers MUST NOT use any value greater than 604800 seconds."
    if (ticket.lifetime > MAX_TICKET_LIFETIME) fail(Alert.illegalParameter, 'ticket_lifetime above seven days');
    let earlyData = false;
    const earlyDataBody = findExtension(ticket.extensions, Ext.earlyData);
    if (earlyDataBody !== undefined) {
      const r = new Reader(earlyDataBody);
      const maxEarlyData = r.u32('max_early_data_size');
      r.end('early_data');
      // RFC 9001 §4.6.1: any other value "MUST" be treated "as a connection error of type PROTOCOL_VIOLATION".
      if (maxEarlyData !== QUIC_MAX_EARLY_DATA) fail(Alert.illegalParameter, 'max_early_data_size other than 0xffffffff', TransportError.protocolViolation);
      earlyData = true;
    }
    // A zero lifetime means "do not cache" (RFC 8446 §4.6.1).
    if (ticket.lifetime === 0) return;
    const suite = this.suite!;
    const session: ClientSession = {
      suite: suite.code,
      psk: this.schedule!.resumptionPsk(this.resumptionMasterSecret!, ticket.nonce),
      identity: ticket.ticket.slice(),
      ageAdd: ticket.ageAdd,
      receivedAt: this.now(),
      lifetime: ticket.lifetime,
      alpn: this.alpn,
      serverName: this.config.serverName,
      earlyData,
      serverTransportParameters: this.serverTransportParameters,
    };
    this.events.push({ type: 'sessionTicket', ticket: encodeClientSession(session) });
  }
}
