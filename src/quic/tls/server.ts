/**
 * The server side of the TLS 1.3 handshake for QUIC (RFC 8446 §2, RFC 9001 §4).
 *
 *   initial:     ClientHello ->            <- ServerHello (or HelloRetryRequest, then ClientHello again)
 *   handshake:                             <- EncryptedExtensions, Certificate*, CertificateVerify*, Finished
 *   handshake:   Finished ->
 *   application:                           <- NewSessionTicket
 *   (* omitted when resuming with a PSK)
 */
import type { KeyExchangeGroup, SigningKey } from '../crypto.js';
import { checkSecondClientHello, negotiate, readOffer } from './offer.js';
import type { ClientOffer, Negotiation } from './offer.js';
import {
  Alert,
  DEFAULT_CIPHER_SUITES,
  checkAlpnList,
  DEFAULT_GROUPS,
  Ext,
  GROUP_CODES,
  HELLO_RETRY_REQUEST_RANDOM,
  HandshakeType,
  LEGACY_SIGNATURE_SCHEMES,
  MAX_TICKET_LIFETIME,
  QUIC_MAX_EARLY_DATA,
} from './constants.js';
import { TlsEndpoint } from './endpoint.js';
import type { CryptoLevel } from './endpoint.js';
import { handshakeMessage } from './framing.js';
import type { HandshakeMessage } from './framing.js';
import { KeySchedule, Transcript, keyLogLine } from './keyschedule.js';
import {
  SUPPORTED_VERSIONS_TLS13,
  certificateVerifyInput,
  encodeAlpn,
  encodeCertificate,
  encodeCertificateVerify,
  encodeEncryptedExtensions,
  encodeNewSessionTicket,
  encodeServerHello,
  encodeServerKeyShare,
  encodeU16,
} from './messages.js';
import type { Extension } from './messages.js';
import { sealTicket, transportParametersDigest } from './tickets.js';
import type { CipherSuite, TlsEvent, TlsServerConfig } from './types.js';
import { Writer, concatBytes, fail } from './wire.js';

type ServerState = 'waitClientHello' | 'waitSecondClientHello' | 'waitFinished' | 'connected';

const DEFAULT_TICKET_LIFETIME = 86_400;

export class TlsServer extends TlsEndpoint {
  private state: ServerState = 'waitClientHello';
  private readonly transcript: Transcript;
  private readonly groups: readonly KeyExchangeGroup[];
  private readonly suites: ReadonlyArray<CipherSuite['code']>;
  private firstOffer: ClientOffer | undefined;
  private retryGroup: KeyExchangeGroup | undefined;
  private retrySuite: CipherSuite | undefined;
  private schedule: KeySchedule | undefined;
  private suite: CipherSuite | undefined;
  private clientHandshakeSecret: Uint8Array | undefined;
  private clientApplicationSecret: Uint8Array | undefined;
  private resumptionMasterSecret: Uint8Array | undefined;
  private exporterMasterSecret: Uint8Array | undefined;
  private expectedClientFinished: Uint8Array | undefined;
  private negotiated: Negotiation | undefined;
  private ticketsIssued = 0;

  constructor(private readonly config: TlsServerConfig) {
    super(config.crypto);
    this.transcript = new Transcript(config.crypto);
    this.groups = config.groups ?? DEFAULT_GROUPS;
    this.suites = config.cipherSuites ?? DEFAULT_CIPHER_SUITES;
    if (config.ticketKey !== undefined && config.ticketKey.byteLength !== 32) throw new Error('ticketKey must be 32 bytes');
    checkAlpnList(config.alpn, 'server');
  }

  /** The exporter_master_secret (RFC 8446 §7.5), once the server Finished is sent. */
  get exporterSecret(): Uint8Array | undefined {
    return this.exporterMasterSecret;
  }

  /** One more NewSessionTicket at the application level (empty unless connected with a ticketKey). */
  issueSessionTicket(): TlsEvent[] {
    return this.run(() => this.sendSessionTicket());
  }

  protected expectedLevel(): CryptoLevel | undefined {
    switch (this.state) {
      case 'waitClientHello':
      case 'waitSecondClientHello':
        return 'initial';
      case 'waitFinished':
        return 'handshake';
      case 'connected':
        // No post-handshake messages are expected: QUIC has no KeyUpdate (RFC 9001 §6) and we never request
        // post-handshake client authentication.
        return undefined;
    }
  }

  protected handle(message: HandshakeMessage): void {
    if (this.state === 'waitFinished') {
      if (message.type !== HandshakeType.finished) fail(Alert.unexpectedMessage, `handshake message ${message.type} while expecting Finished`);
      this.onClientFinished(message);
      return;
    }
    if (message.type !== HandshakeType.clientHello) fail(Alert.unexpectedMessage, `handshake message ${message.type} while expecting ClientHello`);
    this.onClientHello(message);
  }

  private onClientHello(message: HandshakeMessage): void {
    const offer = readOffer(message.raw, message.body);
    const first = this.firstOffer;
    if (first !== undefined) checkSecondClientHello(first, offer, this.retryGroup!);
    else this.events.push({ type: 'peerTransportParameters', data: offer.transportParameters.slice() });
    this.clientRandom = offer.random;

    const negotiation = negotiate(this.config, offer, { groups: this.groups, suites: this.suites, retrySuite: this.retrySuite, transcript: this.transcript });
    if (negotiation.keyShare === undefined) {
      this.sendHelloRetryRequest(offer, negotiation);
      return;
    }
    this.negotiated = negotiation;
    this.completeServerFlight(offer, negotiation);
  }

  /** RFC 8446 §4.1.4: ask for a key share of a group we support; the second ClientHello is checked against this one. */
  private sendHelloRetryRequest(offer: ClientOffer, negotiation: Negotiation): void {
    const suite = negotiation.suite;
    this.firstOffer = offer;
    this.retryGroup = negotiation.group;
    this.retrySuite = suite;
    this.transcript.setHash(suite.hash);
    this.transcript.add(offer.raw);
    this.transcript.replaceWithMessageHash();
    const retry = encodeServerHello(HELLO_RETRY_REQUEST_RANDOM, offer.sessionId, suite.code, [
      SUPPORTED_VERSIONS_TLS13,
      { type: Ext.keyShare, data: encodeU16(GROUP_CODES[negotiation.group]) },
    ]);
    this.transcript.add(retry);
    this.send('initial', retry);
    this.state = 'waitSecondClientHello';
  }

  private completeServerFlight(offer: ClientOffer, negotiation: Negotiation): void {
    const { suite, keyShare } = negotiation;
    this.suite = suite;
    const certificate = negotiation.psk === undefined ? this.chooseCertificate(offer) : undefined;

    const exchange = this.crypto.generateKeyExchange(negotiation.group);
    const sharedSecret = exchange.deriveSecret(keyShare!.key);
    // RFC 8446 §4.2.8.1/§4.2.8.2: an invalid share (wrong length, off the curve, low order) is illegal_parameter.
    if (sharedSecret === null) fail(Alert.illegalParameter, `invalid ${negotiation.group} key share`);

    if (this.firstOffer === undefined) this.transcript.setHash(suite.hash);
    this.transcript.add(offer.raw);
    const schedule = new KeySchedule(this.crypto, suite.hash, negotiation.psk?.state.psk);
    this.schedule = schedule;
    if (negotiation.earlyDataAccepted) {
      // RFC 8446 §7.1: client_early_traffic_secret over ClientHello.
      this.keys('early', 'read', suite, schedule.derive('c e traffic', this.transcript.digest()), 'CLIENT_EARLY_TRAFFIC_SECRET');
    }

    const serverExtensions: Extension[] = [{ type: Ext.keyShare, data: encodeServerKeyShare({ group: GROUP_CODES[negotiation.group], key: exchange.publicKey }) }, SUPPORTED_VERSIONS_TLS13];
    if (negotiation.psk !== undefined) serverExtensions.push({ type: Ext.preSharedKey, data: encodeU16(negotiation.psk.index) });
    // RFC 8446 §4.1.3: a TLS 1.3 server does not set the downgrade sentinel; the random is fully random.
    const serverHello = encodeServerHello(this.crypto.randomBytes(32), offer.sessionId, suite.code, serverExtensions);
    this.transcript.add(serverHello);
    this.send('initial', serverHello);

    schedule.advance(sharedSecret);
    const helloHash = this.transcript.digest();
    this.clientHandshakeSecret = schedule.derive('c hs traffic', helloHash);
    const serverHandshakeSecret = schedule.derive('s hs traffic', helloHash);
    this.keys('handshake', 'read', suite, this.clientHandshakeSecret, 'CLIENT_HANDSHAKE_TRAFFIC_SECRET');
    this.keys('handshake', 'write', suite, serverHandshakeSecret, 'SERVER_HANDSHAKE_TRAFFIC_SECRET');

    const flight: Uint8Array[] = [];
    const add = (bytes: Uint8Array) => {
      this.transcript.add(bytes);
      flight.push(bytes);
    };
    const encrypted: Extension[] = [
      { type: Ext.alpn, data: encodeAlpn([negotiation.alpn]) },
      { type: Ext.quicTransportParameters, data: this.config.transportParameters },
    ];
    // RFC 6066 §3: a server that used the client's server_name acknowledges it with an empty extension (in TLS 1.3,
    // in EncryptedExtensions); here that is when it picked the certificate.
    if (certificate !== undefined && offer.serverName !== undefined) encrypted.push({ type: Ext.serverName, data: new Uint8Array(0) });
    if (negotiation.earlyDataAccepted) encrypted.push({ type: Ext.earlyData, data: new Uint8Array(0) });
    add(encodeEncryptedExtensions(encrypted));
    if (certificate !== undefined) {
      add(encodeCertificate(certificate.chain));
      const signature = certificate.key.sign(certificate.scheme, certificateVerifyInput('server', this.transcript.digest()));
      add(encodeCertificateVerify(certificate.scheme, signature));
    }
    add(handshakeMessage(HandshakeType.finished, schedule.finishedMac(serverHandshakeSecret, this.transcript.digest())));
    this.send('handshake', concatBytes(...flight));

    const finishedHash = this.transcript.digest();
    this.expectedClientFinished = schedule.finishedMac(this.clientHandshakeSecret, finishedHash);
    schedule.advance();
    this.clientApplicationSecret = schedule.derive('c ap traffic', finishedHash);
    this.exporterMasterSecret = schedule.derive('exp master', finishedHash);
    this.events.push({ type: 'keyLog', line: keyLogLine('EXPORTER_SECRET', this.clientRandom, this.exporterMasterSecret) });
    // RFC 9001 §4.1.4 / §5.7: the server may send 0.5-RTT data once its Finished is out.
    this.keys('application', 'write', suite, schedule.derive('s ap traffic', finishedHash), 'SERVER_TRAFFIC_SECRET_0');
    this.state = 'waitFinished';
  }

  /** The certificate for the SNI name and the signature scheme: the key's best the client offered (RFC 8446 §4.4.2.2). */
  private chooseCertificate(offer: ClientOffer): { chain: Uint8Array[]; key: SigningKey; scheme: number } {
    // RFC 8446 §9.2: certificate authentication requires signature_algorithms.
    if (offer.signatureSchemes === undefined) fail(Alert.missingExtension, 'ClientHello without signature_algorithms');
    const selection = this.config.selectCertificate(offer.serverName);
    if (selection === undefined || selection.chain.length === 0) {
      // RFC 6066 §3: a server that does not recognise the name may send unrecognized_name.
      if (offer.serverName !== undefined) fail(Alert.unrecognizedName, `no certificate for ${offer.serverName}`);
      fail(Alert.handshakeFailure, 'no certificate for a ClientHello without server_name');
    }
    const scheme = selection.key.schemes.find((candidate) => offer.signatureSchemes!.includes(candidate) && !LEGACY_SIGNATURE_SCHEMES.includes(candidate));
    if (scheme === undefined) fail(Alert.handshakeFailure, 'no signature scheme in common with the client');
    return { chain: selection.chain, key: selection.key, scheme };
  }

  private onClientFinished(message: HandshakeMessage): void {
    // RFC 8446 §4.4.4: "Recipients of Finished messages MUST verify that the contents are correct and if incorrect
    // MUST terminate the connection with a "decrypt_error" alert." (The length is a syntax matter: decode_error.)
    if (message.body.byteLength !== this.schedule!.hashLength) fail(Alert.decodeError, 'Finished of the wrong length');
    if (!this.crypto.timingSafeEqual(message.body, this.expectedClientFinished!)) fail(Alert.decryptError, 'client Finished does not verify');
    this.transcript.add(message.raw);
    this.resumptionMasterSecret = this.schedule!.derive('res master', this.transcript.digest());
    this.keys('application', 'read', this.suite!, this.clientApplicationSecret!, 'CLIENT_TRAFFIC_SECRET_0');
    this.state = 'connected';
    // What only the handshake needed goes; a long-lived connection keeps the schedule and resumption secret only.
    this.firstOffer = undefined;
    this.clientHandshakeSecret = undefined;
    this.clientApplicationSecret = undefined;
    this.expectedClientFinished = undefined;
    const negotiation = this.negotiated!;
    this.events.push({
      type: 'handshakeComplete',
      alpn: negotiation.alpn,
      serverName: negotiation.serverName,
      resumed: negotiation.psk !== undefined,
      earlyDataAccepted: negotiation.earlyDataAccepted,
    });
    this.sendSessionTicket();
  }

  /** RFC 8446 §4.6.1 NewSessionTicket, sealed state inside (see tickets.ts). */
  private sendSessionTicket(): void {
    const ticketKey = this.config.ticketKey;
    if (ticketKey === undefined || this.state !== 'connected' || this.ticketsIssued >= 255) return;
    const suite = this.suite!;
    const negotiation = this.negotiated!;
    const nonce = Uint8Array.of(this.ticketsIssued++);
    const lifetime = Math.min(Math.max(1, Math.floor(this.config.ticketLifetime ?? DEFAULT_TICKET_LIFETIME)), MAX_TICKET_LIFETIME);
    const ageAddBytes = this.crypto.randomBytes(4);
    const ageAdd = ((ageAddBytes[0]! << 24) | (ageAddBytes[1]! << 16) | (ageAddBytes[2]! << 8) | ageAddBytes[3]!) >>> 0;
    const maxEarlyData = Math.max(0, Math.min(QUIC_MAX_EARLY_DATA, Math.floor(this.config.earlyData?.maxSize ?? 0)));
    const ticket = sealTicket(this.crypto, ticketKey, {
      suite: suite.code,
      psk: this.schedule!.resumptionPsk(this.resumptionMasterSecret!, nonce),
      issuedAt: this.config.now(),
      lifetime,
      ageAdd,
      alpn: negotiation.alpn,
      serverName: negotiation.serverName,
      maxEarlyData,
      transportParametersDigest: transportParametersDigest(this.crypto, this.config.transportParameters),
    });
    // RFC 9001 §4.6.1: in QUIC the early_data extension, when present, carries 0xffffffff.
    const extensions: Extension[] = maxEarlyData > 0 ? [{ type: Ext.earlyData, data: new Writer().u32(QUIC_MAX_EARLY_DATA).finish() }] : [];
    this.send('application', encodeNewSessionTicket({ lifetime, ageAdd, nonce, ticket }, extensions));
  }
}
