/**
 * Certificates from an ACME CA (RFC 8555) for a running server: the first issuance, renewal at two thirds of the
 * lifetime, retries with jittered exponential backoff, and the challenge answers — TLS-ALPN-01 (RFC 8737) on the TLS
 * port through src/tls's hook, HTTP-01 (RFC 8555 §8.3) through a fetch-handler wrapper.
 *
 * The protocol itself (JWS, nonces, polling) is the acme-client library's.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { rootCertificates } from 'node:tls';
import acmeClient from 'acme-client';
import type { AcmeServerStats, FetchHandler } from '../server/types.js';
import type { ManagedCertificates, TlsConfig } from '../tls/types.js';
import { createThrowawaySelfSignedCertificate } from '../cert/self-signed.js';
import { AcmeError, classifyAcmeError, describeChallengeFailure, describeUnreachable, unreachableCode, type AcmeFailureKind } from './errors.js';
import { AcmeStorage, defaultAcmeStorage, type StoredCertificate } from './storage.js';
import { validateAcmeNames } from './names.js';
import { LETS_ENCRYPT_DIRECTORY, LETS_ENCRYPT_STAGING_DIRECTORY } from './directories.js';
import { NativeResponse } from '../server/response.js';

export { LETS_ENCRYPT_DIRECTORY, LETS_ENCRYPT_STAGING_DIRECTORY };

export type AcmeChallengeType = 'tls-alpn-01' | 'http-01';

export interface AcmeOptions {
  /** The names of one certificate (the first is its CN). No wildcards: those need DNS-01. */
  domains: string[];
  /** Contact address for the CA's expiry and policy notices. */
  email?: string;
  /** The CA's directory URL. Default Let's Encrypt (production; `staging: true` for its staging CA). */
  directoryUrl?: string;
  staging?: boolean;
  /** Folder for the account key and certificates. Default `acme` in the httpsd data directory (HTTPSD_CAROOT or XDG). */
  storage?: string;
  /**
   * Challenge types in preference order. Default tls-alpn-01 then http-01; start() drops http-01 when the server has
   * no cleartext port. The CA connects to port 443 (tls-alpn-01) or 80 (http-01) of each name.
   */
  challenges?: AcmeChallengeType[];
  /** Extra CA certificates (PEM text or a file) trusted for the HTTPS connection to the directory (a private CA, Pebble). */
  directoryCa?: string;
  /** Renew when this fraction of the lifetime has passed. Default 2/3. */
  renewAt?: number;
  /** First retry delay after a failure (doubling, jittered, at most maxRetryMs). Default 60 s; a failed challenge waits 10x, a rate limit 60x. */
  retryMs?: number;
  maxRetryMs?: number;
  /** How often to poll the CA for a pending challenge or order. Default 2 s. */
  pollMs?: number;
  /** One line per issuance, renewal and failure. Default stderr. */
  log?: (line: string) => void;
  /** The clock (ms since the epoch); injectable so renewal can be tested. */
  now?: () => number;
}

export interface AcmeStats {
  names: string[];
  directoryUrl: string;
  issued: number;
  renewed: number;
  failures: number;
  lastError: string | undefined;
  notAfter: string | undefined;
  renewAfter: string | undefined;
  nextAttempt: string | undefined;
}

const DAY = 86_400_000;
/** The renewal check wakes at least this often, so a suspended machine or a changed clock is noticed. */
const MAX_SLEEP_MS = 3600_000;
const RETRY_FACTOR: Record<AcmeFailureKind, number> = { unreachable: 1, rejected: 1, challenge: 10, 'rate-limited': 60 };
const CHALLENGE_PATH = '/.well-known/acme-challenge/';
/** How long one request to the CA may take; acme-client's axios has no timeout of its own. */
const REQUEST_TIMEOUT_MS = 30_000;

export class AcmeManager implements ManagedCertificates {
  readonly names: string[];
  readonly directoryUrl: string;
  readonly storage: AcmeStorage;
  /** The TLS settings serve() needs: the managed files, and the hook for TLS-ALPN-01 and reloads. Spread your profile knobs over it. */
  readonly tls: TlsConfig;

  private current: StoredCertificate | undefined;
  private readonly reloaders = new Set<() => Promise<void>>();
  private readonly http01 = new Map<string, string>();
  private readonly tlsAlpn = new Map<string, { cert: string; key: string }>();
  private challengeTypes: AcmeChallengeType[];
  private client: acmeClient.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private attempts = 0;
  private nextAttempt: number | undefined;
  private renewAfter: number | undefined;
  private stopped = false;
  private readonly counters = { issued: 0, renewed: 0, failures: 0, lastError: undefined as string | undefined };
  private readonly now: () => number;
  private readonly log: (line: string) => void;

  constructor(private readonly options: AcmeOptions) {
    this.names = validateAcmeNames(options.domains);
    this.directoryUrl = options.directoryUrl ?? (options.staging === true ? LETS_ENCRYPT_STAGING_DIRECTORY : LETS_ENCRYPT_DIRECTORY);
    try {
      if (!/^https?:$/.test(new URL(this.directoryUrl).protocol)) throw new Error('not http(s)');
    } catch {
      throw new AcmeError(`--acme-directory ${this.directoryUrl}: not an http(s) URL. Use the CA's directory URL, e.g. ${LETS_ENCRYPT_DIRECTORY}.`, 'rejected');
    }
    this.storage = new AcmeStorage(options.storage ?? defaultAcmeStorage(), this.directoryUrl, this.names);
    this.challengeTypes = [...(options.challenges ?? ['tls-alpn-01', 'http-01'])];
    this.now = options.now ?? Date.now;
    this.log = options.log ?? ((line) => process.stderr.write(`httpsd acme: ${line}\n`));
    this.tls = { cert: this.storage.certFile, key: this.storage.keyFile, managed: this };
  }

  /**
   * Before the server starts: the stored certificate when there is a good one; else a check that the CA answers
   * (so an unreachable CA stops the start with its URL and the fix) and a placeholder to listen with until start().
   */
  async prepare(): Promise<void> {
    configureHttp(this.options.directoryCa);
    await this.storage.prepare();
    this.current = await this.storage.load(this.names);
    if (this.current !== undefined) return;
    const unreachable = await probeDirectory(this.directoryUrl);
    if (unreachable !== undefined) {
      throw new AcmeError(`cannot obtain a certificate for ${this.names.join(', ')}: ${unreachable.message} No certificate for these names is stored in ${this.storage.certDir} to serve meanwhile.`, 'unreachable');
    }
    const placeholder = createThrowawaySelfSignedCertificate(this.names);
    await this.storage.savePlaceholder(readFileSync(placeholder.certFile, 'utf8'), readFileSync(placeholder.keyFile, 'utf8'));
  }

  /** True once a CA-issued certificate (stored or new) is what the files hold. */
  get hasCertificate(): boolean {
    return this.current !== undefined;
  }

  /**
   * With the server listening: obtain the first certificate (rejects with the cause when that fails: the caller decides
   * whether to keep serving the placeholder), or schedule the renewal of the stored one (renewing now, in the
   * background, when it is due).
   */
  async start(server?: { httpPort?: number | undefined }): Promise<void> {
    if (server !== undefined && server.httpPort === undefined) this.challengeTypes = this.challengeTypes.filter((t) => t !== 'http-01');
    if (this.challengeTypes.length === 0) {
      throw new AcmeError('no ACME challenge can be answered: http-01 needs a cleartext port (--http-port 80) and tls-alpn-01 was not allowed.', 'rejected');
    }
    if (this.current === undefined) {
      await this.runOnce(false);
      return;
    }
    const stored = this.current;
    this.log(`using the stored certificate for ${this.names.join(', ')} (expires ${iso(stored.notAfter)}; renewal after ${iso(this.renewalTime(stored))}) from ${this.storage.certDir}`);
    this.schedule(this.renewalTime(stored));
  }

  /** Renew now when due (the renewal timer calls this; tests with an injected clock may too). Never rejects. */
  async check(): Promise<void> {
    if (this.stopped) return;
    const due = this.current === undefined ? this.now() : this.renewalTime(this.current);
    if (this.now() < due && this.nextAttempt === undefined) {
      this.schedule(due);
      return;
    }
    if (this.nextAttempt !== undefined && this.now() < this.nextAttempt) {
      this.schedule(this.nextAttempt);
      return;
    }
    await this.runOnce(this.current !== undefined).catch(() => undefined);
  }

  stats(): AcmeStats {
    return {
      names: [...this.names],
      directoryUrl: this.directoryUrl,
      ...this.counters,
      notAfter: this.current ? iso(this.current.notAfter) : undefined,
      renewAfter: this.renewAfter !== undefined ? iso(this.renewAfter) : undefined,
      nextAttempt: this.nextAttempt !== undefined ? iso(this.nextAttempt) : undefined,
    };
  }

  /** The counters a server's stats() and /metrics carry (serve() finds them through `tls.managed`). */
  serverStats(): AcmeServerStats {
    return {
      acmeIssued: this.counters.issued,
      acmeRenewed: this.counters.renewed,
      acmeFailures: this.counters.failures,
      ...(this.current !== undefined ? { acmeNotAfterSeconds: Math.floor(this.current.notAfter / 1000) } : {}),
      ...(this.renewAfter !== undefined ? { acmeRenewAfterSeconds: Math.floor(this.renewAfter / 1000) } : {}),
    };
  }

  /** Wraps the app: HTTP-01 requests (RFC 8555 §8.3) are answered here and never reach it. */
  fetch(handler: FetchHandler): FetchHandler {
    return (request, info) => {
      // A substring test first: every request of the app passes here.
      if (!request.url.includes(CHALLENGE_PATH)) return handler(request, info);
      const path = new URL(request.url).pathname;
      if (!path.startsWith(CHALLENGE_PATH)) return handler(request, info);
      const keyAuthorization = this.http01.get(path.slice(CHALLENGE_PATH.length));
      if (keyAuthorization === undefined || (request.method !== 'GET' && request.method !== 'HEAD')) {
        return new NativeResponse('No such ACME challenge.\n', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
      }
      return new NativeResponse(keyAuthorization, { status: 200, headers: { 'content-type': 'application/octet-stream' } });
    };
  }

  tlsAlpnCertificate(servername: string): { cert: string; key: string } | undefined {
    return this.tlsAlpn.get(servername.toLowerCase().replace(/\.$/, ''));
  }

  bind(reload: () => Promise<void>): () => void {
    this.reloaders.add(reload);
    return () => this.reloaders.delete(reload);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private renewalTime(certificate: StoredCertificate): number {
    const fraction = this.options.renewAt ?? 2 / 3;
    return certificate.notBefore + (certificate.notAfter - certificate.notBefore) * fraction;
  }

  private schedule(at: number): void {
    if (this.stopped) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.current !== undefined) this.renewAfter = this.renewalTime(this.current);
    this.timer = setTimeout(() => void this.check(), Math.max(0, Math.min(at - this.now(), MAX_SLEEP_MS)));
    this.timer.unref();
  }

  /** One issuance at a time; a failure is logged, counted and retried later (and rethrown to the caller). */
  private runOnce(renewal: boolean): Promise<void> {
    this.running ??= this.issue(renewal)
      .catch(async (error: unknown) => {
        // acme-client retries a refused connection for over a minute and then loses its code (it reads the missing
        // response): a direct request to the directory tells "unreachable" from a refusal by the CA.
        if (error instanceof AcmeError || unreachableCode(error) !== undefined) throw error;
        throw (await probeDirectory(this.directoryUrl)) ?? error;
      })
      .then(
        () => {
          this.attempts = 0;
          this.nextAttempt = undefined;
          // stop() during an issuance leaves nothing to schedule (the server is closing).
          if (this.current !== undefined) this.schedule(this.renewalTime(this.current));
        },
        (error: unknown) => {
          const failure = classifyAcmeError(error, this.directoryUrl);
          this.counters.failures++;
          this.counters.lastError = failure.message;
          this.attempts++;
          const base = (this.options.retryMs ?? 60_000) * RETRY_FACTOR[failure.kind];
          const delay = Math.min(base * 2 ** (this.attempts - 1), this.options.maxRetryMs ?? DAY);
          // ±25 %: many servers restarted together must not retry in lockstep against the CA.
          this.nextAttempt = this.now() + Math.round(delay * (0.75 + Math.random() * 0.5));
          const serving = this.current !== undefined ? `still serving the certificate that expires ${iso(this.current.notAfter)}` : 'serving a placeholder certificate meanwhile';
          this.log(`${renewal ? 'renewal' : 'issuance'} for ${this.names.join(', ')} failed (attempt ${this.attempts}): ${failure.message} Next attempt ${iso(this.nextAttempt)}; ${serving}.`);
          this.schedule(this.nextAttempt);
          throw failure;
        },
      )
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async issue(renewal: boolean): Promise<void> {
    const unreachable = await probeDirectory(this.directoryUrl);
    if (unreachable !== undefined) throw unreachable;
    const client = await this.acmeClient();
    const order = await client.createOrder({ identifiers: this.names.map((value) => ({ type: 'dns', value })) });
    const authorizations = await client.getAuthorizations(order);
    await Promise.all(authorizations.map((authorization) => this.authorize(client, authorization)));
    const [keyPem, csr] = await acmeClient.crypto.createCsr({ commonName: this.names[0], altNames: this.names }, await acmeClient.crypto.createPrivateEcdsaKey());
    const finalized = await client.finalizeOrder(order, csr);
    const chain = await client.getCertificate(finalized);
    if (this.stopped) return;
    this.current = await this.storage.save(this.names, chain, keyPem.toString(), this.now());
    // The existing reload path: new handshakes get the new pair, open connections keep theirs.
    await Promise.all([...this.reloaders].map((reload) => reload()));
    if (renewal) this.counters.renewed++;
    else this.counters.issued++;
    this.log(
      `${renewal ? 'renewed' : 'issued'} the certificate for ${this.names.join(', ')} from ${this.directoryUrl}: valid until ${iso(this.current.notAfter)}, renewal after ${iso(this.renewalTime(this.current))} (${this.storage.certFile})`,
    );
  }

  private async acmeClient(): Promise<acmeClient.Client> {
    if (this.client !== undefined) return this.client;
    const accountKey = await this.storage.accountKey(async () => (await acmeClient.crypto.createPrivateEcdsaKey()).toString());
    const accountUrl = await this.storage.accountUrl();
    const poll = this.options.pollMs ?? 2000;
    const client = new acmeClient.Client({
      directoryUrl: this.directoryUrl,
      accountKey,
      ...(accountUrl !== undefined ? { accountUrl } : {}),
      backoffAttempts: 30,
      backoffMin: poll,
      backoffMax: Math.max(poll, 10_000),
    });
    if (accountUrl === undefined) {
      // RFC 8555 §7.3: registering with an existing key returns that account; its URL is kept for the next start.
      await client.createAccount({ termsOfServiceAgreed: true, ...(this.options.email ? { contact: [`mailto:${this.options.email}`] } : {}) });
      await this.storage.saveAccountUrl(client.getAccountUrl());
    }
    this.client = client;
    return client;
  }

  private async authorize(client: acmeClient.Client, authorization: acmeClient.Authorization): Promise<void> {
    if (authorization.status === 'valid') return; // RFC 8555 §7.1.4: a still-valid authorization needs no new challenge
    const name = authorization.identifier.value;
    const type = this.challengeTypes.find((t) => authorization.challenges.some((c) => c.type === t));
    const challenge = authorization.challenges.find((c) => c.type === type);
    if (type === undefined || challenge === undefined) {
      throw new AcmeError(`the CA offers no challenge httpsd can answer for ${name} (offered: ${authorization.challenges.map((c) => c.type).join(', ')}; usable: ${this.challengeTypes.join(', ')}).`, 'rejected');
    }
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    if (type === 'http-01') {
      this.http01.set(challenge.token, keyAuthorization);
    } else {
      // Same key type as the served certificates (ECDSA): node:tls installs an SNI context's certificate in the slot of
      // its key type, so an RSA challenge certificate would lose to an ECDSA default.
      const [key, cert] = await acmeClient.crypto.createAlpnCertificate(authorization, keyAuthorization, await acmeClient.crypto.createPrivateEcdsaKey());
      this.tlsAlpn.set(name.toLowerCase(), { cert: cert.toString(), key: key.toString() });
    }
    try {
      await client.completeChallenge(challenge);
      await client.waitForValidStatus(challenge);
    } catch (error) {
      if (unreachableCode(error) !== undefined) throw error;
      // The problem document of the challenge names the cause (RFC 8555 §8: "error" on an invalid challenge).
      const problem = await client
        .getAuthorizations({ authorizations: [authorization.url] } as unknown as acmeClient.Order)
        .then((list) => list[0]?.challenges.find((c) => c.type === type)?.error as { type?: string; detail?: string } | undefined)
        .catch(() => undefined);
      throw new AcmeError(describeChallengeFailure(name, type, problem?.type, problem?.detail ?? (error as Error).message), 'challenge');
    } finally {
      this.http01.delete(challenge.token);
      this.tlsAlpn.delete(name.toLowerCase());
    }
  }
}

let configuredCa: string | undefined;

/**
 * acme-client sends every request through one axios instance: give it a timeout (a CA that hangs must fail, not stall
 * renewals forever) and, when asked, trust an extra CA for the directory's HTTPS.
 */
function configureHttp(directoryCa: string | undefined): void {
  const defaults = acmeClient.axios.defaults;
  if (!defaults.timeout) defaults.timeout = REQUEST_TIMEOUT_MS;
  if (directoryCa === undefined || directoryCa === configuredCa) return;
  const pem = directoryCa.includes('-----BEGIN') ? directoryCa : readFileSync(directoryCa, 'utf8');
  defaults.httpsAgent = new https.Agent({ ca: [...rootCertificates, pem], keepAlive: true });
  configuredCa = directoryCa;
}

/** undefined when the directory answers 200; else the AcmeError that says why it cannot be reached. */
function probeDirectory(directoryUrl: string): Promise<AcmeError | undefined> {
  return new Promise((resolve) => {
    const agent = acmeClient.axios.defaults.httpsAgent as https.Agent | undefined;
    const get = directoryUrl.startsWith('https:') ? https.get : http.get;
    const request = get(directoryUrl, { timeout: REQUEST_TIMEOUT_MS, ...(agent && directoryUrl.startsWith('https:') ? { agent } : {}) }, (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      resolve(status === 200 ? undefined : new AcmeError(`the ACME directory ${directoryUrl} answered HTTP ${status}. Fix: check the URL (--acme-directory), or wait if the CA reports an outage.`, 'unreachable'));
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    request.on('error', (error) => resolve(new AcmeError(describeUnreachable(directoryUrl, unreachableCode(error) ?? (error as NodeJS.ErrnoException).code ?? error.message), 'unreachable')));
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
