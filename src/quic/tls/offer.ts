/**
 * The server's reading of a ClientHello: every check RFC 8446 and RFC 9001 put on it (readOffer), the comparison
 * of a second ClientHello with the first after a HelloRetryRequest (checkSecondClientHello), and the choice of
 * cipher suite, group, ALPN protocol, PSK and 0-RTT (negotiate).
 */
import type { KeyExchangeGroup } from '../crypto.js';
import {
  Alert,
  Ext,
  GROUP_CODES,
  LEGACY_VERSION,
  PSK_DHE_KE,
  TLS13,
  TransportError,
  cipherSuite,
} from './constants.js';
import { KeySchedule } from './keyschedule.js';
import type { Transcript } from './keyschedule.js';
import {
  findExtension,
  parseAlpn,
  parseClientHello,
  parseClientKeyShares,
  parseCookie,
  parseOfferedPsks,
  parsePskModes,
  parseServerName,
  parseSupportedVersionsList,
  parseU16List,
  requireEmpty,
} from './messages.js';
import type { ClientHello, KeyShareEntry, OfferedPsks } from './messages.js';
import { openTicket, transportParametersDigest } from './tickets.js';
import type { TicketState } from './tickets.js';
import type { CipherSuite, TlsServerConfig } from './types.js';
import { bytesEqual, fail } from './wire.js';

/** RFC 8446 §8.3: how far the client's view of a ticket's age may be from ours for 0-RTT to be accepted. */
export const EARLY_DATA_AGE_TOLERANCE_MS = 10_000;
/** How many offered PSK identities the server tries to open. */
export const MAX_PSK_IDENTITIES_TRIED = 4;
/** Clock skew tolerated between the ticket's issue time and now (a ticket "from the future" beyond it is refused). */
const ISSUE_TIME_SKEW_MS = 10_000;

/** A ClientHello with its extensions decoded. */
export interface ClientOffer extends ClientHello {
  groups: number[];
  keyShares: KeyShareEntry[];
  signatureSchemes: number[] | undefined;
  alpn: string[];
  serverName: string | undefined;
  transportParameters: Uint8Array;
  pskModes: number[];
  psks: OfferedPsks | undefined;
  earlyData: boolean;
}

export function readOffer(raw: Uint8Array, body: Uint8Array): ClientOffer {
  const hello = parseClientHello(raw, body);
  const extension = (type: number) => findExtension(hello.extensions, type);

  // RFC 8446 §D.5: legacy_version 0x0300 or below MUST be refused with protocol_version; §4.1.2 fixes it at 0x0303.
  if (hello.legacyVersion !== LEGACY_VERSION) fail(Alert.protocolVersion, `ClientHello.legacy_version 0x${hello.legacyVersion.toString(16)}`);
  // RFC 8446 §4.2.1: without supported_versions the client offers TLS 1.2 at most, which we do not speak.
  const versions = extension(Ext.supportedVersions);
  if (versions === undefined) fail(Alert.protocolVersion, 'ClientHello without supported_versions (TLS 1.2 or older)');
  if (!parseSupportedVersionsList(versions).includes(TLS13)) fail(Alert.protocolVersion, 'supported_versions does not include TLS 1.3');
  // RFC 8446 §4.1.2: "If a TLS 1.3 ClientHello is received with any other value in this field, the server MUST abort
  // the handshake with an "illegal_parameter" alert."
  if (hello.compressionMethods.byteLength !== 1 || hello.compressionMethods[0] !== 0) fail(Alert.illegalParameter, 'legacy_compression_methods is not [null]');
  // RFC 9001 §8.4: no middlebox compatibility mode in QUIC; "A server SHOULD treat the receipt of a TLS ClientHello
  // with a non-empty legacy_session_id field as a connection error of type PROTOCOL_VIOLATION."
  if (hello.sessionId.byteLength !== 0) fail(Alert.illegalParameter, 'non-empty legacy_session_id in QUIC', TransportError.protocolViolation);

  // RFC 8446 §9.2: supported_groups and key_share come together; we only do (EC)DHE (psk_dhe_ke), so both are needed.
  const groupsData = extension(Ext.supportedGroups);
  const sharesData = extension(Ext.keyShare);
  if (groupsData === undefined) fail(Alert.missingExtension, 'ClientHello without supported_groups');
  if (sharesData === undefined) fail(Alert.missingExtension, 'ClientHello without key_share');
  const groups = parseU16List(groupsData, 'supported_groups');
  const keyShares = parseClientKeyShares(sharesData);
  const shareGroups = new Set<number>();
  for (const share of keyShares) {
    // RFC 8446 §4.2.8: no two shares for one group, no share for a group not in supported_groups; "Servers MAY check
    // for violations of these rules and abort the handshake with an "illegal_parameter" alert".
    if (shareGroups.has(share.group)) fail(Alert.illegalParameter, `two key shares for group 0x${share.group.toString(16)}`);
    if (!groups.includes(share.group)) fail(Alert.illegalParameter, `key share for group 0x${share.group.toString(16)} not in supported_groups`);
    shareGroups.add(share.group);
  }

  const signatureData = extension(Ext.signatureAlgorithms);
  const signatureSchemes = signatureData === undefined ? undefined : parseU16List(signatureData, 'signature_algorithms');

  // RFC 9001 §8.1: "endpoints MUST ... close a connection with a no_application_protocol TLS alert ... if an
  // application protocol is not negotiated" — a ClientHello without ALPN cannot negotiate one.
  const alpnData = extension(Ext.alpn);
  if (alpnData === undefined) fail(Alert.noApplicationProtocol, 'ClientHello without ALPN');
  const alpn = parseAlpn(alpnData);

  // RFC 9001 §8.2: "endpoints that receive ClientHello or EncryptedExtensions messages without the
  // quic_transport_parameters extension MUST close the connection with ... missing_extension".
  const transportParameters = extension(Ext.quicTransportParameters);
  if (transportParameters === undefined) fail(Alert.missingExtension, 'ClientHello without quic_transport_parameters');

  const serverNameData = extension(Ext.serverName);
  const serverName = serverNameData === undefined ? undefined : parseServerName(serverNameData);

  const modesData = extension(Ext.pskKeyExchangeModes);
  const pskModes = modesData === undefined ? [] : parsePskModes(modesData);
  const pskData = extension(Ext.preSharedKey);
  // RFC 8446 §4.2.9: "If clients offer "pre_shared_key" without a "psk_key_exchange_modes" extension, servers MUST
  // abort the handshake." (§9.2 names the alert: missing_extension.)
  if (pskData !== undefined && modesData === undefined) fail(Alert.missingExtension, 'pre_shared_key without psk_key_exchange_modes');
  const psks = pskData === undefined ? undefined : parseOfferedPsks(pskData);

  const earlyDataBody = extension(Ext.earlyData);
  if (earlyDataBody !== undefined) requireEmpty(earlyDataBody, 'early_data');
  const cookie = extension(Ext.cookie);
  if (cookie !== undefined) parseCookie(cookie);

  return {
    ...hello,
    groups,
    keyShares,
    signatureSchemes,
    alpn,
    serverName,
    transportParameters,
    pskModes,
    psks,
    earlyData: earlyDataBody !== undefined,
  };
}

/** Extensions a second ClientHello may change (RFC 8446 §4.1.2); every other one must be repeated byte for byte. */
const MAY_CHANGE_AFTER_RETRY = new Set<number>([Ext.keyShare, Ext.preSharedKey, Ext.earlyData, Ext.cookie, Ext.padding]);

/**
 * RFC 8446 §4.1.2: after a HelloRetryRequest "the client MUST send the same ClientHello without modification,
 * except" a single key share for the selected group, no early_data, the cookie if one was sent, an updated
 * pre_shared_key, and padding. RFC 8446 §4.1.4: a server receiving a changed ClientHello "MUST abort the handshake
 * with an "illegal_parameter" alert".
 */
export function checkSecondClientHello(first: ClientOffer, second: ClientOffer, retryGroup: KeyExchangeGroup): void {
  const same =
    first.legacyVersion === second.legacyVersion &&
    bytesEqual(first.random, second.random) &&
    bytesEqual(first.sessionId, second.sessionId) &&
    bytesEqual(first.compressionMethods, second.compressionMethods) &&
    first.cipherSuites.length === second.cipherSuites.length &&
    first.cipherSuites.every((suite, i) => second.cipherSuites[i] === suite);
  if (!same) fail(Alert.illegalParameter, 'second ClientHello differs from the first outside what a retry may change');
  if (second.earlyData) fail(Alert.illegalParameter, 'early_data after HelloRetryRequest');
  // We never send a cookie, so the client has none to echo (RFC 8446 §4.2.2).
  if (findExtension(second.extensions, Ext.cookie) !== undefined) fail(Alert.illegalParameter, 'cookie we did not send');
  const expected = GROUP_CODES[retryGroup];
  if (second.keyShares.length !== 1 || second.keyShares[0]!.group !== expected) {
    fail(Alert.illegalParameter, 'second ClientHello does not carry exactly one key share of the requested group');
  }
  const types = new Set<number>([...first.extensions, ...second.extensions].map((extension) => extension.type));
  for (const type of types) {
    if (MAY_CHANGE_AFTER_RETRY.has(type)) continue;
    const before = findExtension(first.extensions, type);
    const after = findExtension(second.extensions, type);
    if (before === undefined || after === undefined || !bytesEqual(before, after)) {
      fail(Alert.illegalParameter, `extension 0x${type.toString(16)} changed in the second ClientHello`);
    }
  }
}

export interface AcceptedPsk {
  index: number;
  state: TicketState;
}

export interface Negotiation {
  suite: CipherSuite;
  group: KeyExchangeGroup;
  /** The client's share for `group`; undefined means a HelloRetryRequest is needed. */
  keyShare: KeyShareEntry | undefined;
  alpn: string;
  serverName: string | undefined;
  psk: AcceptedPsk | undefined;
  earlyDataAccepted: boolean;
}

interface NegotiationOptions {
  groups: readonly KeyExchangeGroup[];
  suites: ReadonlyArray<CipherSuite['code']>;
  /**
   * The suite a HelloRetryRequest named: the ServerHello must repeat it (RFC 8446 §4.1.4), even if, say, a ticket
   * expired in between and would change the choice.
   */
  retrySuite: CipherSuite | undefined;
  /** The transcript so far (message_hash and HelloRetryRequest after a retry), for PSK binders. */
  transcript: Transcript;
}

export function negotiate(config: TlsServerConfig, offer: ClientOffer, options: NegotiationOptions): Negotiation {
  const afterRetry = options.retrySuite !== undefined;
  const candidate = findTicket(config, offer);
  const suite = options.retrySuite ?? chooseSuite(offer, options.suites, candidate?.state);
  if (suite === undefined) fail(Alert.handshakeFailure, 'no cipher suite in common');

  // RFC 7301 §3.2 with server preference; RFC 9001 §8.1 makes a failed negotiation fatal.
  const alpn = config.alpn.find((protocol) => offer.alpn.includes(protocol));
  if (alpn === undefined) fail(Alert.noApplicationProtocol, `no ALPN protocol in common (client offered ${offer.alpn.join(', ')})`);

  // Server preference among groups the client shared; otherwise a retry for our best group it supports.
  const mutual = options.groups.filter((group) => offer.groups.includes(GROUP_CODES[group]));
  if (mutual.length === 0) fail(Alert.handshakeFailure, 'no key-exchange group in common');
  let group = mutual[0]!;
  let keyShare: KeyShareEntry | undefined;
  for (const candidateGroup of mutual) {
    keyShare = offer.keyShares.find((share) => share.group === GROUP_CODES[candidateGroup]);
    if (keyShare !== undefined) {
      group = candidateGroup;
      break;
    }
  }
  // The retried hello was checked to carry the requested share; a retry is never asked twice (RFC 8446 §4.1.4).
  if (keyShare === undefined && afterRetry) fail(Alert.illegalParameter, 'second ClientHello still lacks a usable key share');

  let psk: AcceptedPsk | undefined;
  if (keyShare !== undefined && candidate !== undefined && cipherSuite(candidate.state.suite)!.hash === suite.hash) {
    verifyBinder(config, offer, candidate, suite, options.transcript);
    psk = candidate;
  }

  const earlyDataAccepted = keyShare !== undefined && psk !== undefined && acceptsEarlyData(config, offer, psk, suite, alpn, afterRetry);
  return { suite, group, keyShare, alpn, serverName: offer.serverName, psk, earlyDataAccepted };
}

/** The first offered identity that is a live ticket of ours for this server name (RFC 8446 §4.2.11, §4.6.1). */
function findTicket(config: TlsServerConfig, offer: ClientOffer): AcceptedPsk | undefined {
  // We accept only psk_dhe_ke (RFC 8446 §4.2.9): psk_ke alone would give up forward secrecy; such a client gets a
  // full handshake.
  if (config.ticketKey === undefined || offer.psks === undefined || !offer.pskModes.includes(PSK_DHE_KE)) return undefined;
  const now = config.now();
  // Each identity costs an AEAD open; a ClientHello can carry thousands of them, so only the first few are tried
  // (a client offers its best ticket first; ours offers one).
  const tried = Math.min(offer.psks.identities.length, MAX_PSK_IDENTITIES_TRIED);
  for (let index = 0; index < tried; index++) {
    const state = openTicket(config.crypto, config.ticketKey, offer.psks.identities[index]!.identity);
    if (state === undefined || cipherSuite(state.suite) === undefined) continue;
    const age = now - state.issuedAt;
    // RFC 8446 §4.6.1: "Servers MUST NOT use any value greater than 604800 seconds" and must not resume past it.
    if (age < -ISSUE_TIME_SKEW_MS || age > state.lifetime * 1000) continue;
    // RFC 8446 §4.2.11 / §4.6.1: a session resumes only for the server name it was established for.
    if (state.serverName !== offer.serverName) continue;
    return { index, state };
  }
  return undefined;
}

/** Server preference, except that a resumable ticket's own suite wins when offered (so its PSK and 0-RTT apply). */
function chooseSuite(offer: ClientOffer, suites: ReadonlyArray<CipherSuite['code']>, ticket: TicketState | undefined): CipherSuite | undefined {
  const usable = suites.filter((code) => offer.cipherSuites.includes(code));
  if (ticket !== undefined && usable.includes(ticket.suite as CipherSuite['code'])) return cipherSuite(ticket.suite);
  return usable.length === 0 ? undefined : cipherSuite(usable[0]!);
}

/**
 * RFC 8446 §4.2.11.2: the binder is the Finished-style HMAC, under a key from the PSK's binder_key, of the
 * transcript through the ClientHello truncated before the binders list. "If this value does not validate, the
 * server MUST abort the handshake" (decrypt_error, §6.2).
 */
function verifyBinder(config: TlsServerConfig, offer: ClientOffer, psk: AcceptedPsk, suite: CipherSuite, transcript: Transcript): void {
  const psks = offer.psks!;
  const truncated = offer.raw.subarray(0, offer.raw.byteLength - psks.bindersLength);
  const transcriptHash = transcript.hash === undefined ? config.crypto.hash(suite.hash, truncated) : transcript.digestWith(truncated);
  const schedule = new KeySchedule(config.crypto, suite.hash, psk.state.psk);
  const expected = schedule.finishedMac(schedule.binderKey(), transcriptHash);
  if (!config.crypto.timingSafeEqual(psks.binders[psk.index]!, expected)) fail(Alert.decryptError, 'PSK binder does not verify');
}

/**
 * 0-RTT is accepted only when every condition holds: configured; offered in a first ClientHello (RFC 8446 §4.2.10:
 * not after a retry); the first identity chosen; the ticket issued with 0-RTT allowed; same suite and ALPN; the
 * transport parameters we send unchanged since the ticket (RFC 9001 §4.6.2); and a fresh ticket age (§8.3).
 */
function acceptsEarlyData(config: TlsServerConfig, offer: ClientOffer, psk: AcceptedPsk, suite: CipherSuite, alpn: string, afterRetry: boolean): boolean {
  if (config.earlyData === undefined || config.earlyData.maxSize <= 0 || !offer.earlyData || afterRetry) return false;
  const state = psk.state;
  if (psk.index !== 0 || state.maxEarlyData === 0 || state.suite !== suite.code || state.alpn !== alpn) return false;
  if (!bytesEqual(state.transportParametersDigest, transportParametersDigest(config.crypto, config.transportParameters))) return false;
  const clientAge = (offer.psks!.identities[0]!.obfuscatedTicketAge - state.ageAdd) >>> 0;
  const serverAge = config.now() - state.issuedAt;
  return Math.abs(clientAge - serverAge) <= EARLY_DATA_AGE_TOLERANCE_MS;
}
