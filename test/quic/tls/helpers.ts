/**
 * Test fixtures for the TLS 1.3 engine: real keys (node:crypto) with certificates made by openssl, configs with
 * pinned certificate checks, and an in-memory link that carries CRYPTO data between a client and a server.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCrypto, signingKeyFrom } from '../../../src/crypto/node.js';
import type { SigningKey } from '../../../src/quic/crypto.js';
import { TlsClient, TlsServer } from '../../../src/quic/tls/index.js';
import type { EncryptionLevel, TlsClientConfig, TlsEvent, TlsServerConfig } from '../../../src/quic/tls/index.js';

export interface Identity {
  der: Uint8Array;
  key: SigningKey;
  privateKey: KeyObject;
  /** PEM files of the certificate and key, for external peers. */
  certPemFile: string;
  keyPemFile: string;
}

const identities = new Map<string, Identity>();
let workDir: string | undefined;

/** A temporary directory for this test process, removed at exit. */
export function scratchDir(): string {
  if (workDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'httpsd-tls13-'));
    workDir = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

/** A self-signed certificate for `name` on a fresh ECDSA P-256 or RSA-2048 key. */
export function identity(kind: 'ecdsa' | 'rsa' = 'ecdsa', name = 'localhost'): Identity {
  const cacheKey = `${kind}/${name}`;
  const cached = identities.get(cacheKey);
  if (cached !== undefined) return cached;
  const dir = scratchDir();
  const pair = kind === 'ecdsa' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir, `${kind}-${name}.key`);
  const certFile = join(dir, `${kind}-${name}.der`);
  writeFileSync(keyFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  execFileSync('openssl', ['req', '-x509', '-new', '-key', keyFile, '-days', '1', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-outform', 'DER', '-out', certFile], { stdio: 'ignore' });
  const certificate = new X509Certificate(readFileSync(certFile));
  const certPemFile = join(dir, `${kind}-${name}.pem`);
  writeFileSync(certPemFile, certificate.toString());
  const der = new Uint8Array(certificate.raw);
  const result = { der, key: signingKeyFrom(pair.privateKey), privateKey: pair.privateKey, certPemFile, keyPemFile: keyFile };
  identities.set(cacheKey, result);
  return result;
}

export const SERVER_TP = Uint8Array.of(0x01, 0x02, 0x40, 0x64);
export const CLIENT_TP = Uint8Array.of(0x0f, 0x00);
export const TICKET_KEY = new Uint8Array(randomBytes(32));

export function serverConfig(overrides: Partial<TlsServerConfig> = {}, who: Identity = identity()): TlsServerConfig {
  return {
    crypto: nodeCrypto,
    selectCertificate: (serverName) => (serverName === undefined || serverName === 'localhost' ? { chain: [who.der], key: who.key } : undefined),
    alpn: ['h3'],
    transportParameters: SERVER_TP,
    now: () => Date.now(),
    ...overrides,
  };
}

export function clientConfig(overrides: Partial<TlsClientConfig> = {}, pinned: Identity = identity()): TlsClientConfig {
  return {
    crypto: nodeCrypto,
    serverName: 'localhost',
    alpn: ['h3'],
    transportParameters: CLIENT_TP,
    verifyCertificate: (chain) => chain.length > 0 && Buffer.from(chain[0]!).equals(Buffer.from(pinned.der)),
    ...overrides,
  };
}

export const ofType = <T extends TlsEvent['type']>(events: readonly TlsEvent[], type: T) =>
  events.filter((event): event is Extract<TlsEvent, { type: T }> => event.type === type);

export function alertOf(events: readonly TlsEvent[]): Extract<TlsEvent, { type: 'alert' }> | undefined {
  return ofType(events, 'alert')[0];
}

/** Carries each side's cryptoData to the other until both are quiet; records every event and what was sent. */
export class Link {
  readonly clientEvents: TlsEvent[] = [];
  readonly serverEvents: TlsEvent[] = [];
  /** Every cryptoData event in order, with its sender. */
  readonly wire: Array<{ from: 'client' | 'server'; level: EncryptionLevel; data: Uint8Array }> = [];

  constructor(
    readonly client: TlsClient,
    readonly server: TlsServer,
    /** Lets a test rewrite or drop a flight in flight. */
    private readonly tamper: (from: 'client' | 'server', level: EncryptionLevel, data: Uint8Array) => Uint8Array | undefined = (_f, _l, d) => d,
  ) {}

  static connect(server: TlsServerConfig, client: TlsClientConfig, tamper?: Link['tamper']): Link {
    const link = new Link(new TlsClient(client), new TlsServer(server), tamper);
    link.run(link.client.start(), 'client');
    return link;
  }

  run(initial: TlsEvent[], from: 'client' | 'server'): void {
    const queue: Array<{ from: 'client' | 'server'; events: TlsEvent[] }> = [{ from, events: initial }];
    for (let rounds = 0; queue.length > 0; rounds++) {
      if (rounds > 50) throw new Error('handshake does not settle');
      const { from: sender, events } = queue.shift()!;
      (sender === 'client' ? this.clientEvents : this.serverEvents).push(...events);
      for (const event of events) {
        if (event.type !== 'cryptoData') continue;
        this.wire.push({ from: sender, level: event.level, data: event.data });
        const data = this.tamper(sender, event.level, event.data);
        if (data === undefined) continue;
        if (sender === 'client') queue.push({ from: 'server', events: this.server.receive(event.level, data) });
        else queue.push({ from: 'client', events: this.client.receive(event.level, data) });
      }
    }
  }

  completion(side: 'client' | 'server') {
    return ofType(side === 'client' ? this.clientEvents : this.serverEvents, 'handshakeComplete')[0];
  }
}
