/**
 * TLS policy: turns a TlsConfig into node:tls server options (Mozilla profiles, SNI, mTLS, session tickets), and keeps
 * them current (hot reload, ticket key rotation, OCSP stapling, key log). ALPN is not set here: the server owns it.
 */
import { X509Certificate, constants as cryptoConstants, createHash, randomBytes, randomFillSync } from 'node:crypto';
import { closeSync, fchmodSync, openSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { isIP } from 'node:net';
import { basename, dirname, resolve } from 'node:path';
import { createSecureContext, type SecureContext, type SecureVersion, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { TlsConfigError } from './errors.js';
import { loadCaBundle, loadPair, subjectLine, type LoadedPair } from './material.js';
import { OcspStapler, ocspResponderUrl } from './ocsp.js';
import { PROFILES, compareVersions, isProfileName, type TlsProfile } from './profiles.js';
import { SniTable, validateSniPattern } from './sni.js';
import type { TlsConfig, TlsProfileName } from './types.js';

export { TlsConfigError } from './errors.js';
export { PROFILES, PROFILE_NAMES, parseTlsVersion, type TlsProfile } from './profiles.js';
export type { TlsConfig, TlsProfileName, CertKeyPair, ManagedCertificates } from './types.js';
export type { LoadedPair } from './material.js';

/** RFC 8737 §6.2: the ALPN protocol ID of TLS-ALPN-01 validation handshakes. */
export const ACME_TLS_ALPN = 'acme-tls/1';

export interface TlsProvider {
  /**
   * Options for tls.createServer: default certificate, SNICallback (picks the pair by server name, wildcards, default
   * fallback; follows reloads), minVersion/maxVersion, ciphers, ecdhCurve, honorCipherOrder, requestCert /
   * rejectUnauthorized / ca for mTLS, ticketKeys, sessionTimeout. No ALPN: the server owns ALPN.
   */
  serverOptions: TlsOptions;
  /** Re-read every file and swap contexts atomically; existing connections untouched; on a bad new pair throw a TlsConfigError and keep the old contexts. */
  reload(): Promise<void>;
  /** Attach hooks to a tls.Server (before it accepts connections): key log, OCSP stapling, ticket key rotation. */
  attach(server: TlsServer): void;
  close(): void;
  /** Lines for the start banner: profile, protocol versions, certificate subject, SANs, issuer, expiry. */
  describe(): string[];
  /** Fetch OCSP responses now for every configured certificate that names a responder (attach() starts this too). */
  refreshOcsp(): Promise<void>;
  /** Replace the session ticket key now (the timer does this every ticketKeyRotationMs). */
  rotateTicketKeys(): void;
  /** The default certificate's leaf (current after reloads), e.g. for checkCertificateCoversHost. */
  leafCertificate(): X509Certificate;
  /**
   * For the server's ALPNCallback (which runs before certificate selection): true when the ClientHello offers
   * `acme-tls/1` for a name with a pending TLS-ALPN-01 challenge. The server must then select `acme-tls/1` and close
   * the connection after the handshake (RFC 8737 §3); this provider presents the challenge certificate to `socket`.
   */
  answerAcmeTlsAlpn(socket: TLSSocket, servername: string, protocols: readonly string[]): boolean;
  /** false when answerAcmeTlsAlpn() always returns false (no ACME manager): the server's ALPN then needs no callback. */
  readonly answersAcmeTlsAlpn: boolean;
  /**
   * The pair a handshake naming `servername` gets (SNI entry, wildcard, else the default), from the current material:
   * reloads (SIGHUP, file watch, ACME renewals) apply to the next call. For the QUIC TLS engine (src/quic/tls).
   */
  pairFor(servername: string | undefined): LoadedPair;
}

/** Default ticket key lifetime: keys older than this no longer encrypt tickets (forward secrecy for resumed sessions, RFC 5077 §5.5). */
export const DEFAULT_TICKET_ROTATION_MS = 12 * 3600_000;
export const DEFAULT_SESSION_TIMEOUT_S = 7200;
const WATCH_DEBOUNCE_MS = 250;

/** The settings every secure context shares (default and SNI ones), derived once from the config. */
interface Policy {
  profileName: TlsProfileName;
  profile: TlsProfile;
  minVersion: SecureVersion;
  maxVersion: SecureVersion;
  ciphers: string;
  ecdhCurve: string;
  honorCipherOrder: boolean;
  secureOptions: number;
  sessionTimeout: number;
  sessionIdContext: string;
  clientCert: 'none' | 'request' | 'require';
}

interface LoadedState {
  defaultPair: LoadedPair;
  sni: SniTable<{ pair: LoadedPair; context: SecureContext }>;
  sniPairs: Array<{ name: string; pair: LoadedPair }>;
  ca?: { pem: string; files: string[]; certificates: X509Certificate[] };
  files: string[];
  warnings: string[];
}

function resolvePolicy(config: TlsConfig): Policy {
  const profileName = config.profile ?? 'intermediate';
  if (!isProfileName(profileName)) {
    throw new TlsConfigError(`Unknown TLS profile "${String(profileName)}" (--tls-profile). Accepted: modern, intermediate, old.`);
  }
  const profile = PROFILES[profileName];
  const minVersion = config.minVersion ?? profile.minVersion;
  const maxVersion = config.maxVersion ?? profile.maxVersion;
  if (compareVersions(minVersion, maxVersion) > 0) {
    throw new TlsConfigError(`--tls-min ${minVersion} is above --tls-max ${maxVersion}. Fix: make the floor lower than or equal to the ceiling.`);
  }
  if (compareVersions(minVersion, 'TLSv1.2') < 0 && profileName !== 'old') {
    // TLS 1.0/1.1 have no AEAD suites and need SHA-1 signatures (OpenSSL 3 security level 0); the profile must say so.
    throw new TlsConfigError(`--tls-min ${minVersion} needs --tls-profile old: the ${profileName} profile has no cipher suites usable below TLS 1.2.`);
  }
  let ciphers: string;
  if (config.ciphers === undefined) {
    ciphers = `${profile.ciphers}:${profile.ciphersuites}`;
  } else if (isProfileName(config.ciphers)) {
    const other = PROFILES[config.ciphers];
    ciphers = `${other.ciphers}:${other.ciphersuites}`;
  } else {
    const custom = config.ciphers.trim();
    // A TLS 1.2-only string keeps the profile's TLS 1.3 suites (and vice versa), so one knob does not break the other version.
    const items = custom.split(':').filter(Boolean);
    const hasTls13 = items.some((c) => c.startsWith('TLS_'));
    const hasTls12 = items.some((c) => !c.startsWith('TLS_'));
    ciphers = [hasTls12 ? items.filter((c) => !c.startsWith('TLS_')).join(':') : profile.ciphers, hasTls13 ? items.filter((c) => c.startsWith('TLS_')).join(':') : profile.ciphersuites].join(':');
  }
  const curves = (config.curves ?? profile.curves).map((c) => c.trim()).filter(Boolean);
  if (curves.length === 0) throw new TlsConfigError('--curves is empty. Fix: name at least one group, e.g. --curves X25519,P-256.');
  const clientCert = config.clientCert ?? (config.clientCa !== undefined ? 'require' : 'none');
  if (clientCert !== 'none' && config.clientCa === undefined) {
    throw new TlsConfigError(`--client-cert ${clientCert} needs --client-ca FILE: the CA bundle that signs the accepted client certificates.`);
  }
  let secureOptions = cryptoConstants.SSL_OP_NO_RENEGOTIATION; // client-initiated renegotiation is a CPU DoS (CVE-2011-1473)
  if (config.sessionTickets === false) secureOptions |= cryptoConstants.SSL_OP_NO_TICKET;
  return {
    profileName,
    profile,
    minVersion,
    maxVersion,
    ciphers,
    ecdhCurve: curves.join(':'),
    honorCipherOrder: config.honorCipherOrder ?? profile.honorCipherOrder,
    secureOptions,
    sessionTimeout: config.sessionTimeout ?? DEFAULT_SESSION_TIMEOUT_S,
    // OpenSSL refuses to resume sessions of a server that verifies client certificates without a session ID
    // context (SSL_R_SESSION_ID_CONTEXT_UNINITIALIZED); a fixed one also keeps it stable across reloads.
    sessionIdContext: createHash('sha256').update('httpsd tls session').digest('hex').slice(0, 32),
    clientCert,
  };
}

function contextOptions(policy: Policy, caPem: string | undefined): TlsOptions {
  return {
    minVersion: policy.minVersion,
    maxVersion: policy.maxVersion,
    ciphers: policy.ciphers,
    ecdhCurve: policy.ecdhCurve,
    honorCipherOrder: policy.honorCipherOrder,
    secureOptions: policy.secureOptions,
    sessionTimeout: policy.sessionTimeout,
    sessionIdContext: policy.sessionIdContext,
    // Only "old" lists DHE suites; OpenSSL's automatic groups match the key size (RFC 7919 FFDHE, >= 2048 bits).
    ...(policy.profileName === 'old' ? { dhparam: 'auto' } : {}),
    ...(caPem !== undefined ? { ca: caPem } : {}),
  };
}

/** Builds a context, translating OpenSSL's complaints about policy knobs into messages that name the flag. */
function buildContext(policy: Policy, caPem: string | undefined, pair: LoadedPair, config: TlsConfig): SecureContext {
  try {
    return createSecureContext({ ...contextOptions(policy, caPem), ...pair.contextOptions });
  } catch (error) {
    const message = (error as Error).message;
    if (/ECDH curve|curve|group/i.test(message)) {
      throw new TlsConfigError(`--curves ${policy.ecdhCurve.replace(/:/g, ',')} is not accepted by OpenSSL (${message}). Accepted names include X25519, X448, P-256, P-384, P-521.`);
    }
    if (/cipher/i.test(message) || (config.ciphers !== undefined && /invalid argument/i.test(message))) {
      throw new TlsConfigError(`--ciphers "${config.ciphers ?? policy.ciphers}" is not accepted by OpenSSL (${message}). Use a profile name (modern, intermediate, old) or an OpenSSL cipher string such as ECDHE-ECDSA-AES128-GCM-SHA256:TLS_AES_128_GCM_SHA256.`);
    }
    throw new TlsConfigError(`The ${pair.label} cannot be used (${message}). Fix: check the certificate and key files.`);
  }
}

async function loadState(config: TlsConfig, policy: Policy): Promise<LoadedState> {
  if (config.pfx === undefined && (config.cert === undefined || config.key === undefined)) {
    throw new TlsConfigError(
      config.cert === undefined && config.key === undefined
        ? 'No certificate configured. Fix: give --cert FILE and --key FILE, or --pfx FILE (for development, `httpsd cert localhost`).'
        : config.cert === undefined
          ? 'A --key was given without its --cert. Fix: add --cert FILE (PEM chain, leaf first).'
          : 'A --cert was given without its --key. Fix: add --key FILE.',
    );
  }
  const inherited = { passphrase: config.passphrase, passphraseFile: config.passphraseFile };
  const defaultPair = await loadPair(config, inherited);
  const ca = config.clientCa !== undefined ? await loadCaBundle(config.clientCa) : undefined;
  const caPem = ca?.pem;
  // Build the default context once too: it is what tls.createServer will build, and it surfaces bad knobs early.
  buildContext(policy, caPem, defaultPair, config);
  const sni = new SniTable<{ pair: LoadedPair; context: SecureContext }>();
  const sniPairs: Array<{ name: string; pair: LoadedPair }> = [];
  for (const [pattern, pairConfig] of Object.entries(config.sni ?? {})) {
    const checked = validateSniPattern(pattern);
    if ('error' in checked) throw new TlsConfigError(`--sni ${checked.error}. Fix: use NAME=CERT,KEY with NAME like example.test or *.example.test.`);
    const pair = await loadPair(pairConfig, { ...inherited, certFlag: `--sni ${pattern}=CERT`, keyFlag: `--sni ${pattern}=CERT,KEY` });
    const defaultType = defaultPair.leaf.publicKey.asymmetricKeyType;
    const sniType = pair.leaf.publicKey.asymmetricKeyType;
    if (sniType !== defaultType) {
      // node:tls applies an SNI context by installing its certificate into the connection's slot for that key type
      // (SSL_use_certificate), leaving the default certificate in its own slot: with an ECDSA default and an RSA SNI
      // certificate, OpenSSL would still pick the default for clients preferring ECDSA (every TLS 1.3 client).
      throw new TlsConfigError(
        `--sni ${pattern}: the ${pair.label} has a ${keyTypeName(sniType)} key but the default ${defaultPair.label} has a ${keyTypeName(defaultType)} key; node:tls cannot serve both types reliably by name. Fix: issue all certificates with the same key type (e.g. ECDSA P-256 everywhere).`,
      );
    }
    sni.set(checked.name, { pair, context: buildContext(policy, caPem, pair, config) });
    sniPairs.push({ name: checked.name, pair });
  }
  const files = new Set<string>([...defaultPair.files, ...sniPairs.flatMap((p) => p.pair.files), ...(ca?.files ?? [])]);
  const warnings = [...defaultPair.warnings, ...sniPairs.flatMap((p) => p.pair.warnings)];
  return { defaultPair, sni, sniPairs, ca, files: [...files], warnings };
}

function keyTypeName(type: string | undefined): string {
  return type === 'ec' ? 'ECDSA' : type === 'rsa' ? 'RSA' : type === 'rsa-pss' ? 'RSA-PSS' : (type ?? 'unknown').toUpperCase();
}

function describeNames(cert: X509Certificate): string {
  return cert.subjectAltName ?? '(no subjectAltName: clients will reject it)';
}

/**
 * null when the certificate covers `host` (DNS name or IP, wildcards per RFC 6125), else a warning for the banner.
 * Wildcard hosts ("0.0.0.0", "::") and empty hosts cannot be judged and give null.
 */
export function checkCertificateCoversHost(certPem: string | Uint8Array | X509Certificate, host: string): string | null {
  let cert: X509Certificate;
  try {
    cert = certPem instanceof X509Certificate ? certPem : new X509Certificate(certPem);
  } catch {
    return null;
  }
  const bare = host.trim().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (bare === '' || bare === '0.0.0.0' || bare === '::') return null;
  const covered = isIP(bare) ? cert.checkIP(bare) !== undefined : cert.checkHost(bare, { subject: 'never', wildcards: true, partialWildcards: false, multiLabelWildcards: false }) !== undefined;
  if (covered) return null;
  return `WARNING: the certificate (${subjectLine(cert)}; names: ${describeNames(cert)}) does not cover "${bare}": clients will report a name mismatch. Fix: issue a certificate that includes ${bare} (e.g. \`httpsd cert ${bare}\`).`;
}

/** A session ticket key (48 random bytes) and its parts as OpenSSL's ticket key callback takes them. */
interface TicketKey {
  raw: Buffer;
  name: Buffer;
  hmac: Buffer;
  aes: Buffer;
}

function newTicketKey(): TicketKey {
  const raw = randomBytes(48);
  return { raw, name: raw.subarray(0, 16), hmac: raw.subarray(16, 32), aes: raw.subarray(32, 48) };
}

/**
 * Fresh random IVs for ticket encryption, drawn from a block filled at once: TLS 1.3 servers issue two tickets per
 * full handshake, and one call into the CSPRNG per 256 tickets costs less than one per ticket. Each IV is handed
 * out once (node copies it before the next callback can run).
 */
class IvPool {
  private readonly block = Buffer.alloc(16 * 256);
  private offset = this.block.length;

  next(): Buffer {
    if (this.offset === this.block.length) {
      randomFillSync(this.block);
      this.offset = 0;
    }
    const iv = this.block.subarray(this.offset, this.offset + 16);
    this.offset += 16;
    return iv;
  }
}

/** The parts of node's native SecureContext used for multi-key session tickets (present in Node 20 and 22). */
interface TicketKeyHookContext {
  enableTicketKeyCallback?: () => void;
  onticketkeycallback?: (name: Buffer, iv: Buffer, encrypt: boolean) => unknown[];
}

class Provider implements TlsProvider {
  serverOptions: TlsOptions;
  private state: LoadedState;
  private readonly servers = new Set<TlsServer>();
  private readonly detachers: Array<() => void> = [];
  private readonly ocspListeners = new Map<TlsServer, (certificate: Buffer, issuer: Buffer | null, callback: (err: Error | null, resp: Buffer | null) => void) => void>();
  /** Current ticket key first, then the previous one (still accepted for decryption). 48 bytes each: name, HMAC, AES. */
  private ticketKeyRing: TicketKey[] = [];
  private readonly ticketIvs = new IvPool();
  /** Servers whose ticket keys we serve through the key callback (the ring); the others only get setTicketKeys. */
  private readonly ringServers = new WeakSet<TlsServer>();
  private rotationTimer: NodeJS.Timeout | undefined;
  private keylogFd: number | undefined;
  private readonly stapler: OcspStapler;
  private watchers = new Map<string, FSWatcher>();
  private watchTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private closed = false;
  /** Connections whose ALPNCallback chose acme-tls/1, with the challenge context their SNICallback must present. */
  private readonly acmeChallenges = new WeakMap<TLSSocket, SecureContext>();
  private unbindManaged: (() => void) | undefined;

  constructor(
    private readonly config: TlsConfig,
    private readonly policy: Policy,
    state: LoadedState,
    private readonly warn: (message: string) => void,
  ) {
    this.state = state;
    this.stapler = new OcspStapler(warn);
    if (config.sessionTickets !== false) this.ticketKeyRing = [newTicketKey()];
    this.serverOptions = this.buildServerOptions();
    if (config.keylogFile !== undefined) this.keylogFd = openKeylog(config.keylogFile);
    if (config.watch) this.rewatch();
    this.unbindManaged = config.managed?.bind(() => this.reload());
  }

  answerAcmeTlsAlpn(socket: TLSSocket, servername: string, protocols: readonly string[]): boolean {
    if (!protocols.includes(ACME_TLS_ALPN) || this.config.managed === undefined || this.closed) return false;
    const pair = this.config.managed.tlsAlpnCertificate(servername);
    if (pair === undefined) return false;
    // RFC 8737 §3: the challenge certificate is self-signed and presented only on this handshake. It carries the
    // policy's versions and groups, but no client-certificate CA: the validation server presents none.
    this.acmeChallenges.set(socket, createSecureContext({ ...contextOptions(this.policy, undefined), cert: pair.cert, key: pair.key }));
    return true;
  }

  /**
   * Whether a handshake ever needs a certificate other than the default one: SNI entries, or TLS-ALPN-01 challenges
   * (which an ACME manager may start at any time). Neither changes on reload (the names are the config's).
   */
  private get choosesCertificate(): boolean {
    return this.state.sni.size > 0 || this.config.managed !== undefined;
  }

  get answersAcmeTlsAlpn(): boolean {
    return this.config.managed !== undefined;
  }

  private buildServerOptions(): TlsOptions {
    const policy = this.policy;
    const options: TlsOptions = {
      ...contextOptions(policy, this.state.ca?.pem),
      ...this.state.defaultPair.contextOptions,
      requestCert: policy.clientCert !== 'none',
      rejectUnauthorized: policy.clientCert === 'require',
    };
    // With one certificate, OpenSSL presents the default context without asking: an SNICallback would make node:tls
    // suspend every handshake for a call into JavaScript (its certificate callback) that always answers "default".
    // Reloads go through server.setSecureContext() either way.
    if (this.choosesCertificate) options.SNICallback = this.sniCallback();
    if (this.ticketKeys) options.ticketKeys = this.ticketKeys;
    return options;
  }

  private sniCallback(): NonNullable<TlsOptions['SNICallback']> {
    const challenges = this.acmeChallenges;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the SNICallback's own `this` is the socket
    const provider = this;
    // A function, not an arrow: node:tls calls it with the connection's TLSSocket as `this`.
    return function (this: TLSSocket, servername, callback) {
      // The ALPNCallback runs first (OpenSSL selects ALPN before the certificate): an acme-tls/1 handshake it
      // accepted gets the challenge certificate, never a served one.
      const challenge = challenges.get(this);
      if (challenge !== undefined) {
        challenges.delete(this);
        callback(null, challenge);
        return;
      }
      // Looked up on every handshake, so a reload (which replaces this.state) applies to the next ClientHello.
      const entry = provider.state.sni.lookup(servername);
      callback(null, entry?.context);
    };
  }

  attach(server: TlsServer): void {
    if (this.closed || this.servers.has(server)) return;
    this.servers.add(server);
    if (this.keylogFd !== undefined) {
      const onKeylog = (line: Buffer, _socket: TLSSocket) => this.writeKeylog(line);
      server.on('keylog', onKeylog);
      this.detachers.push(() => server.off('keylog', onKeylog));
    }
    this.syncOcspListener(server);
    if (this.config.ocspStapling !== false) void this.refreshOcsp();
    if (this.ticketKeys && !this.rotationTimer) {
      const period = this.config.ticketKeyRotationMs ?? DEFAULT_TICKET_ROTATION_MS;
      this.rotationTimer = setInterval(() => this.rotateTicketKeys(), period);
      this.rotationTimer.unref();
    }
    if (this.ticketKeys) this.installTicketKeys(server);
  }

  /** Whether any loaded certificate names an OCSP responder (only those can be stapled). */
  private get staplesOcsp(): boolean {
    if (this.config.ocspStapling === false) return false;
    const { defaultPair, sniPairs } = this.state;
    return ocspResponderUrl(defaultPair.leaf) !== undefined || sniPairs.some(({ pair }) => ocspResponderUrl(pair.leaf) !== undefined);
  }

  /**
   * node:tls suspends every handshake of a server with an 'OCSPRequest' listener for a call into JavaScript (its
   * certificate callback), whether or not the client asks for a status: the listener is there only while some
   * certificate has a responder to staple from. A reload decides again (node:tls looks per connection).
   */
  private syncOcspListener(server: TlsServer): void {
    const installed = this.ocspListeners.get(server);
    const wanted = this.staplesOcsp;
    if (wanted && installed === undefined) {
      const onOcsp = (certificate: Buffer, issuer: Buffer | null, callback: (err: Error | null, resp: Buffer | null) => void) => this.stapler.handle(certificate, issuer, callback);
      server.on('OCSPRequest', onOcsp);
      this.ocspListeners.set(server, onOcsp);
    } else if (!wanted && installed !== undefined) {
      server.off('OCSPRequest', installed);
      this.ocspListeners.delete(server);
    }
  }

  private get ticketKeys(): Buffer | undefined {
    return this.ticketKeyRing[0]?.raw;
  }

  /**
   * Node's public API holds one ticket key per server (setTicketKeys), so a rotation would orphan every ticket
   * issued before it. Where the secure context exposes OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_cb,
   * reached through node's context object), tickets are sealed with the current key and opened with the current or
   * the previous one, as RFC 5077 §5.5 suggests; elsewhere the single-key API is the fallback.
   */
  private installTicketKeys(server: TlsServer): void {
    const context = (server as unknown as { _sharedCreds?: { context?: TicketKeyHookContext } })._sharedCreds?.context;
    if (context && typeof context.enableTicketKeyCallback === 'function') {
      context.enableTicketKeyCallback();
      context.onticketkeycallback = (name, _iv, encrypt) => this.ticketKeyCallback(name, encrypt);
      this.ringServers.add(server);
      return;
    }
    this.ringServers.delete(server);
    server.setTicketKeys(this.ticketKeys!);
  }

  /** Returns [status, hmacKey, aesKey, keyName, iv]: status 1 = use, 2 = use and reissue (old key), 0 = unknown ticket. */
  private ticketKeyCallback(name: Buffer, encrypt: boolean): [number, Buffer, Buffer, Buffer?, Buffer?] {
    // Called for every ticket issued and every ticket presented: the keys' parts are cut once, at rotation.
    const current = this.ticketKeyRing[0]!;
    if (encrypt) return [1, current.hmac, current.aes, current.name, this.ticketIvs.next()];
    const index = this.ticketKeyRing.findIndex((key) => key.name.equals(name));
    if (index < 0) return [0, current.hmac, current.aes]; // full handshake, never an error
    const key = this.ticketKeyRing[index]!;
    return [index === 0 ? 1 : 2, key.hmac, key.aes];
  }

  /** A new current ticket key; the previous one keeps opening tickets until the next rotation. */
  rotateTicketKeys(): void {
    if (!this.ticketKeys) return;
    this.ticketKeyRing = [newTicketKey(), this.ticketKeyRing[0]!];
    this.serverOptions.ticketKeys = this.ticketKeys;
    for (const server of this.servers) {
      if (!this.ringServers.has(server)) server.setTicketKeys(this.ticketKeys!);
    }
  }

  private writeKeylog(line: Buffer): void {
    if (this.keylogFd === undefined) return;
    try {
      // Synchronous and O_APPEND: each NSS line lands whole even with several processes writing one file.
      writeSync(this.keylogFd, line);
    } catch (error) {
      this.warn(`Key log ${this.config.keylogFile}: ${(error as Error).message}; key logging stopped.`);
      this.closeKeylog();
    }
  }

  private closeKeylog(): void {
    if (this.keylogFd !== undefined) {
      try {
        closeSync(this.keylogFd);
      } catch {
        /* already closed */
      }
      this.keylogFd = undefined;
    }
  }

  leafCertificate(): X509Certificate {
    return this.state.defaultPair.leaf;
  }

  pairFor(servername: string | undefined): LoadedPair {
    const state = this.state;
    return (servername === undefined ? undefined : state.sni.lookup(servername)?.pair) ?? state.defaultPair;
  }

  async refreshOcsp(): Promise<void> {
    if (this.config.ocspStapling === false) return;
    const chains = [this.state.defaultPair.chain, ...this.state.sniPairs.map((p) => p.pair.chain)];
    await this.stapler.prefetch(chains);
  }

  reload(): Promise<void> {
    // Reloads are serialized: a SIGHUP during a watch-triggered reload waits for it, then reads the files again.
    const run = async () => {
      const next = await loadState(this.config, this.policy);
      if (this.closed) return;
      // One assignment: the SNICallback sees either the old table or the new one, never a mix.
      this.state = next;
      const fresh = this.buildServerOptions();
      for (const key of ['cert', 'key', 'pfx', 'passphrase', 'ca'] as const) delete this.serverOptions[key];
      Object.assign(this.serverOptions, fresh);
      for (const server of this.servers) {
        // Replaces the server's default context for new connections only; sockets keep a reference to the context
        // they started with, so open connections and handshakes in flight are untouched.
        server.setSecureContext(this.serverOptions);
        // setSecureContext made a new default context: hook its ticket keys again.
        if (this.ticketKeys) this.installTicketKeys(server);
        this.syncOcspListener(server);
      }
      for (const warning of next.warnings) this.warn(warning);
      if (this.config.watch) this.rewatch();
      if (this.servers.size > 0) void this.refreshOcsp();
    };
    const previous = this.reloading ?? Promise.resolve();
    const job = previous.catch(() => undefined).then(run);
    this.reloading = job;
    void job.finally(() => {
      if (this.reloading === job) this.reloading = undefined;
    }).catch(() => undefined);
    return job;
  }

  /** Watch the directories holding our files (editors and ACME clients replace files by rename, which a file watch would miss). */
  private rewatch(): void {
    const wanted = new Map<string, Set<string>>();
    const passphraseFile = this.config.passphraseFile;
    for (const file of [...this.state.files, ...(passphraseFile ? [passphraseFile] : [])]) {
      const abs = resolve(file);
      const dir = dirname(abs);
      if (!wanted.has(dir)) wanted.set(dir, new Set());
      wanted.get(dir)!.add(basename(abs));
    }
    for (const [dir, watcher] of this.watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const [dir, names] of wanted) {
      this.watchers.get(dir)?.close();
      try {
        const watcher = watch(dir, { persistent: false }, (_event, filename) => {
          if (filename !== null && !names.has(filename.toString())) return;
          this.scheduleWatchReload();
        });
        watcher.on('error', (error) => this.warn(`Watching ${dir} for certificate changes failed: ${error.message}`));
        this.watchers.set(dir, watcher);
      } catch (error) {
        this.warn(`Cannot watch ${dir} for certificate changes (${(error as Error).message}); reload with SIGHUP instead.`);
      }
    }
  }

  private scheduleWatchReload(): void {
    // Debounce: a renewal writes the certificate and the key in separate steps; reload once both have landed.
    if (this.watchTimer) clearTimeout(this.watchTimer);
    this.watchTimer = setTimeout(() => {
      this.watchTimer = undefined;
      this.reload().then(
        () => this.warn(`TLS certificates reloaded (file change):\n${this.describeCertificates().map((line) => `  ${line}`).join('\n')}`),
        (error: unknown) => this.warn(`Certificate files changed but could not be reloaded; still serving the previous ones. ${(error as Error).message}`),
      );
    }, WATCH_DEBOUNCE_MS);
    this.watchTimer.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.rotationTimer) clearInterval(this.rotationTimer);
    if (this.watchTimer) clearTimeout(this.watchTimer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    for (const detach of this.detachers.splice(0)) detach();
    for (const [server, onOcsp] of this.ocspListeners) server.off('OCSPRequest', onOcsp);
    this.ocspListeners.clear();
    this.servers.clear();
    this.stapler.clear();
    this.closeKeylog();
    this.unbindManaged?.();
  }

  /** Per certificate (default, then SNI): subject and file, names, issuer and expiry. */
  private describeCertificates(): string[] {
    const lines: string[] = [];
    const describePair = (pair: LoadedPair, prefix: string) => {
      const leaf = pair.leaf;
      const days = Math.floor((new Date(leaf.validTo).getTime() - Date.now()) / 86_400_000);
      lines.push(`${prefix}${subjectLine(leaf)} (${pair.label})`);
      lines.push(`  names: ${describeNames(leaf)}`);
      lines.push(`  issuer: ${leaf.issuer.replace(/\n/g, ', ')}; expires ${new Date(leaf.validTo).toISOString()} (${days} days)${pair.chain.length > 1 ? `; chain of ${pair.chain.length}` : ''}`);
      if (ocspResponderUrl(leaf) && this.config.ocspStapling !== false) lines.push(`  OCSP stapling from ${ocspResponderUrl(leaf)}`);
    };
    describePair(this.state.defaultPair, 'Certificate: ');
    for (const { name, pair } of this.state.sniPairs) describePair(pair, `SNI ${name}: `);
    return lines;
  }

  describe(): string[] {
    const p = this.policy;
    const versions = p.minVersion === p.maxVersion ? p.minVersion : `${p.minVersion}–${p.maxVersion}`;
    const lines = [`TLS profile ${p.profileName} (${p.profile.summary}): ${versions}${this.config.ciphers !== undefined ? `, ciphers ${this.config.ciphers}` : ''}, groups ${p.ecdhCurve.replace(/:/g, ', ')}`];
    lines.push(...this.describeCertificates());
    if (p.clientCert !== 'none') {
      lines.push(`Client certificates ${p.clientCert === 'require' ? 'required' : 'requested'}, verified against ${this.state.ca?.certificates.map(subjectLine).join('; ')}`);
    }
    lines.push(this.ticketKeys ? `Session tickets on (key rotated every ${Math.round((this.config.ticketKeyRotationMs ?? DEFAULT_TICKET_ROTATION_MS) / 3600_000)} h)` : 'Session tickets off');
    if (this.config.keylogFile !== undefined) lines.push(`WARNING: TLS secrets are being written to ${this.config.keylogFile} (key log, for debugging only)`);
    return lines;
  }
}

function openKeylog(path: string): number {
  try {
    const fd = openSync(path, 'a', 0o600);
    try {
      // The file holds session secrets: tighten an existing file too.
      fchmodSync(fd, 0o600);
    } catch {
      /* not ours to chmod; it still works */
    }
    return fd;
  } catch (error) {
    throw new TlsConfigError(`Cannot open the key log file ${path} (--tls-keylog): ${(error as Error).message}. Fix: choose a writable path.`);
  }
}

export async function createTlsProvider(config: TlsConfig): Promise<TlsProvider> {
  const warn = config.onWarning ?? ((message: string) => console.warn(message));
  const policy = resolvePolicy(config);
  const state = await loadState(config, policy);
  const provider = new Provider(config, policy, state, warn);
  // Said once at start (and again by every reload): not-yet-valid or soon-expiring certificates, chain order.
  for (const warning of state.warnings) warn(warning);
  return provider;
}
