/**
 * Interoperability with an independent TLS 1.3 stack in QUIC mode: GnuTLS (>= 3.7, its QUIC API as ngtcp2 uses
 * it), driven through test/quic/tls/peers/gnutls-quic-peer.c, compiled here with the system's gcc and libgnutls.
 * Our server against the GnuTLS client and our client against the GnuTLS server: both complete, agree on every
 * traffic secret, and see each other's transport parameters and the ALPN protocol. Skipped, saying why, where no
 * compiler or GnuTLS development files exist.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { TlsClient, TlsServer } from '../../../src/quic/tls/index.js';
import type { EncryptionLevel, TlsEvent } from '../../../src/quic/tls/index.js';
import { CLIENT_TP, SERVER_TP, TICKET_KEY, alertOf, clientConfig, identity, ofType, scratchDir, serverConfig } from './helpers.js';
import type { Identity } from './helpers.js';

/** TLS 1.3 only, no middlebox compatibility mode (RFC 9001 §8.4), as ngtcp2 configures GnuTLS. */
const PRIORITY_BASE = '%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL';
const LEVELS: EncryptionLevel[] = ['initial', 'early', 'handshake', 'application'];
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function buildPeer(): string | { skip: string } {
  try {
    const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'gnutls'], { encoding: 'utf8' }).trim().split(/\s+/);
    const version = execFileSync('pkg-config', ['--modversion', 'gnutls'], { encoding: 'utf8' }).trim();
    const [major, minor] = version.split('.').map(Number);
    if (major! < 3 || (major === 3 && minor! < 7)) return { skip: `GnuTLS ${version} has no QUIC API (needs 3.7)` };
    const binary = join(scratchDir(), 'gnutls-quic-peer');
    execFileSync('gcc', ['-O1', '-o', binary, new URL('./peers/gnutls-quic-peer.c', import.meta.url).pathname, ...flags], { stdio: 'pipe' });
    return binary;
  } catch (error) {
    return { skip: `cannot build the GnuTLS peer: ${(error as Error).message.split('\n')[0]}` };
  }
}

const built = buildPeer();
// The peer is part of the suite (.ci/run installs gcc and libgnutls28-dev): a missing one fails, it never skips.
test('the GnuTLS QUIC peer builds', () => {
  if (typeof built !== 'string') throw new Error(`${built.skip}. Fix: apt-get install gcc pkg-config libgnutls28-dev`);
});
const skip = typeof built === 'string' ? false : 'the GnuTLS peer did not build (see the failing test above)';

interface PeerOutput {
  data: Array<{ level: EncryptionLevel; bytes: Uint8Array }>;
  secrets: Map<string, string>;
  transportParameters?: string;
  done?: string;
  resumed?: boolean;
  /** Server side: it accepted 0-RTT. */
  earlyData?: boolean;
  ticket?: string;
  alert?: number;
  error?: string;
}

/** The GnuTLS process and the lines it printed, read one input-step (up to WAIT) at a time. */
class GnutlsPeer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: Array<(lines: string[]) => void> = [];
  private readonly ready: string[][] = [];
  private batch: string[] = [];
  private exited: string | undefined;
  readonly seen: PeerOutput = { data: [], secrets: new Map() };

  /**
   * `priority` is a GnuTLS priority string (the peer's default: TLS 1.3, the three AEADs, x25519 and secp256r1);
   * `ticketKey` (64 bytes, server) makes it issue tickets.
   */
  constructor(args: string[], priority?: string, ticketKey?: Uint8Array, maxEarlyData?: number) {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (priority !== undefined) env.PEER_PRIORITY = priority;
    if (ticketKey !== undefined) env.PEER_TICKET_KEY = hex(ticketKey);
    if (maxEarlyData !== undefined) env.PEER_MAX_EARLY_DATA = String(maxEarlyData);
    this.child = spawn(built as string, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    if (process.env.PEER_DEBUG) this.child.stderr.pipe(process.stderr);
    this.child.stdin.on('error', () => {}); // EPIPE after the peer died: reported through `exited`
    // A peer that dies answers every pending and later step with an ERROR, so a test fails instead of hanging.
    this.child.on('exit', (code, signal) => {
      this.exited = `ERROR peer exited (${signal ?? code})`;
      for (const waiter of this.waiting.splice(0)) waiter([this.exited]);
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      if (line !== 'WAIT') return void this.batch.push(line);
      const lines = this.batch;
      this.batch = [];
      const waiter = this.waiting.shift();
      if (waiter) waiter(lines);
      else this.ready.push(lines);
    });
  }

  /** The output of the next step, parsed; also accumulated in `seen`. */
  async step(): Promise<PeerOutput> {
    const exited = this.exited;
    const lines = this.ready.shift() ?? (exited !== undefined ? [exited] : await new Promise<string[]>((resolve) => this.waiting.push(resolve)));
    const out: PeerOutput = { data: [], secrets: new Map() };
    for (const line of lines) {
      const [kind, a, b, c] = line.split(' ');
      if (kind === 'DATA') out.data.push({ level: LEVELS[Number(a)]!, bytes: new Uint8Array(Buffer.from(b ?? '', 'hex')) });
      else if (kind === 'SECRET') this.seen.secrets.set(`${LEVELS[Number(a)]} ${b}`, c!);
      else if (kind === 'TP') this.seen.transportParameters = a;
      else if (kind === 'DONE') {
        this.seen.done = a;
        this.seen.resumed = b === '1';
        this.seen.earlyData = c === '1';
      } else if (kind === 'TICKET') this.seen.ticket = a;
      else if (kind === 'ALERT') this.seen.alert = Number(a);
      else if (kind === 'ERROR') this.seen.error = line.slice(6);
    }
    this.seen.data.push(...out.data);
    return out;
  }

  async send(level: EncryptionLevel, data: Uint8Array): Promise<PeerOutput> {
    this.child.stdin.write(`DATA ${LEVELS.indexOf(level)} ${hex(data)}\n`);
    return this.step();
  }

  /** Server: ends this connection and starts another in the same process. Resets `seen`. */
  async next(): Promise<void> {
    this.child.stdin.write('NEXT\n');
    await this.step();
    this.seen.data = [];
    this.seen.secrets = new Map();
    delete this.seen.done;
    delete this.seen.resumed;
    delete this.seen.earlyData;
  }

  close(): void {
    this.child.stdin.end();
    if (this.exited === undefined) this.child.kill();
  }
}

/** Passes data both ways until neither side has anything to say; returns our engine's events. */
async function converse(peer: GnutlsPeer, ours: TlsClient | TlsServer, first: PeerOutput | TlsEvent[]): Promise<TlsEvent[]> {
  const events: TlsEvent[] = [];
  let fromPeer: PeerOutput['data'] = Array.isArray(first) ? [] : first.data;
  let fromUs: TlsEvent[] = Array.isArray(first) ? first : [];
  events.push(...fromUs);
  for (let rounds = 0; fromPeer.length > 0 || ofType(fromUs, 'cryptoData').length > 0; rounds++) {
    assert.ok(rounds < 20, 'the conversation does not settle');
    const next: TlsEvent[] = [];
    for (const { level, bytes } of fromPeer) next.push(...ours.receive(level, bytes));
    fromPeer = [];
    for (const event of ofType(fromUs, 'cryptoData')) fromPeer.push(...(await peer.send(event.level, event.data)).data);
    events.push(...next);
    fromUs = next;
  }
  return events;
}

function secretOf(events: TlsEvent[], level: string, direction: 'read' | 'write'): string | undefined {
  const event = ofType(events, 'keysReady').find((e) => e.level === level && e.direction === direction);
  return event && hex(event.secret);
}

describe('GnuTLS in QUIC mode as the peer', { skip }, () => {
  for (const [kind, suitePriority] of [
    ['ecdsa', '+AES-128-GCM'],
    ['ecdsa', '+AES-256-GCM'],
    ['rsa', '+CHACHA20-POLY1305'],
  ] as const) {
    test(`GnuTLS client -> our server (${kind} certificate, ${suitePriority.slice(1)})`, async () => {
      const priority = `${PRIORITY_BASE}:${suitePriority}:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1`;
      const peer = new GnutlsPeer(['client', 'h3', 'localhost', hex(CLIENT_TP)], priority);
      try {
        const who: Identity = identity(kind);
        const server = new TlsServer(serverConfig({}, who));
        const events = await converse(peer, server, await peer.step());
        assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
        assert.equal(peer.seen.error, undefined);
        assert.equal(peer.seen.done, 'h3');
        assert.ok(ofType(events, 'handshakeComplete')[0], 'our server completed');
        assert.equal(ofType(events, 'keysReady')[0]!.suite.aead, suitePriority.slice(1).toLowerCase());
        assert.equal(peer.seen.transportParameters, hex(SERVER_TP));
        assert.equal(hex(ofType(events, 'peerTransportParameters')[0]!.data), hex(CLIENT_TP));
        for (const level of ['handshake', 'application']) {
          assert.equal(peer.seen.secrets.get(`${level} write`), secretOf(events, level, 'read'), `${level}: client write = server read`);
          assert.equal(peer.seen.secrets.get(`${level} read`), secretOf(events, level, 'write'), `${level}: server write = client read`);
        }
      } finally {
        peer.close();
      }
    });
  }

  test('GnuTLS client sharing x25519 and secp384r1 -> our secp256r1-only server retries, GnuTLS follows', async () => {
    // GnuTLS sends a share for each of the first two groups, so this list makes its shares x25519 and secp384r1.
    const priority = `${PRIORITY_BASE}:+AES-128-GCM:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP384R1:+GROUP-SECP256R1`;
    const peer = new GnutlsPeer(['client', 'h3', 'localhost', hex(CLIENT_TP)], priority);
    try {
      const server = new TlsServer(serverConfig({ groups: ['secp256r1'] }));
      const first = await peer.step();
      const events = await converse(peer, server, first);
      assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
      assert.equal(peer.seen.done, 'h3');
      assert.equal(peer.seen.data.filter((d) => d.level === 'initial').length, 2, 'two ClientHellos');
      const retry = ofType(events, 'cryptoData').find((e) => e.level === 'initial')!.data;
      assert.equal(hex(retry.subarray(6, 38)), 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'HelloRetryRequest random');
      assert.equal(peer.seen.secrets.get('application write'), secretOf(events, 'application', 'read'));
    } finally {
      peer.close();
    }
  });

  test('GnuTLS client stores our NewSessionTicket and resumes with it (binder, PSK, 0-RTT secrets agree)', async () => {
    const config = serverConfig({ ticketKey: TICKET_KEY, earlyData: { maxSize: 0xffff } });
    const first = new GnutlsPeer(['client', 'h3', 'localhost', hex(CLIENT_TP)]);
    let ticket: string | undefined;
    try {
      const events = await converse(first, new TlsServer(config), await first.step());
      assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
      assert.equal(first.seen.resumed, false);
      ticket = first.seen.ticket;
      assert.ok(ticket, 'GnuTLS accepted our NewSessionTicket');
    } finally {
      first.close();
    }
    const again = new GnutlsPeer(['client', 'h3', 'localhost', hex(CLIENT_TP), ticket]);
    try {
      const events = await converse(again, new TlsServer(config), await again.step());
      assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
      assert.equal(again.seen.error, undefined);
      assert.equal(again.seen.done, 'h3');
      assert.equal(again.seen.resumed, true, 'GnuTLS resumed');
      const completion = ofType(events, 'handshakeComplete')[0]!;
      assert.equal(completion.resumed, true);
      for (const level of ['handshake', 'application']) {
        assert.equal(again.seen.secrets.get(`${level} write`), secretOf(events, level, 'read'), `${level}: client write = server read`);
      }
      // GnuTLS offers 0-RTT with a ticket that allows it; we accept, and the client_early_traffic_secret agrees.
      assert.equal(completion.earlyDataAccepted, true);
      assert.ok(again.seen.secrets.get('early write'));
      assert.equal(again.seen.secrets.get('early write'), secretOf(events, 'early', 'read'));
    } finally {
      again.close();
    }
  });

  for (const kind of ['ecdsa', 'rsa'] as const) {
    test(`our client -> GnuTLS server (${kind} certificate)`, async () => {
      const who = identity(kind);
      const peer = new GnutlsPeer(['server', 'h3', who.certPemFile, who.keyPemFile, hex(SERVER_TP)]);
      try {
        const client = new TlsClient(clientConfig({}, who));
        const events = await converse(peer, client, client.start());
        assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
        assert.equal(peer.seen.error, undefined);
        assert.equal(peer.seen.done, 'h3');
        assert.equal(ofType(events, 'handshakeComplete')[0]?.alpn, 'h3');
        assert.equal(peer.seen.transportParameters, hex(CLIENT_TP));
        assert.equal(hex(ofType(events, 'peerTransportParameters')[0]!.data), hex(SERVER_TP));
        for (const level of ['handshake', 'application']) {
          assert.equal(peer.seen.secrets.get(`${level} read`), secretOf(events, level, 'write'), `${level}: client write = server read`);
          assert.equal(peer.seen.secrets.get(`${level} write`), secretOf(events, level, 'read'), `${level}: server write = client read`);
        }
      } finally {
        peer.close();
      }
    });
  }

  test('our client stores a GnuTLS NewSessionTicket and resumes with it; its 0-RTT offer is refused cleanly', async () => {
    const who = identity('ecdsa');
    const ticketKey = new Uint8Array(randomBytes(64));
    const first = new GnutlsPeer(['server', 'h3', who.certPemFile, who.keyPemFile, hex(SERVER_TP)], undefined, ticketKey);
    let ticket: Uint8Array | undefined;
    try {
      const client = new TlsClient(clientConfig({}, who));
      const events = await converse(first, client, client.start());
      assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
      ticket = ofType(events, 'sessionTicket')[0]?.ticket;
      assert.ok(ticket, 'GnuTLS sent a ticket we accepted');
    } finally {
      first.close();
    }
    const again = new GnutlsPeer(['server', 'h3', who.certPemFile, who.keyPemFile, hex(SERVER_TP)], undefined, ticketKey);
    try {
      const client = new TlsClient(clientConfig({ sessionTicket: ticket, earlyData: true }, who));
      const events = await converse(again, client, client.start());
      assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
      assert.equal(again.seen.resumed, true, 'GnuTLS resumed');
      const completion = ofType(events, 'handshakeComplete')[0];
      assert.equal(completion?.resumed, true);
      assert.equal(again.seen.secrets.get('application read'), secretOf(events, 'application', 'write'));
      // 0-RTT offered, and refused: GnuTLS's anti-replay window starts with its process, so it turns down early data
      // on any ticket older than that ("ticket is created before recording has started"). The refusal must be
      // clean: resumed, no early_data in EncryptedExtensions, no alert.
      assert.ok(secretOf(events, 'early', 'write'), 'our client sent 0-RTT keys');
      assert.equal(again.seen.earlyData, false);
      assert.equal(completion?.earlyDataAccepted, false);
    } finally {
      again.close();
    }
  });

  test('our client resumes with 0-RTT and a GnuTLS server accepts it (early secrets agree)', async () => {
    const who = identity('ecdsa');
    const peer = new GnutlsPeer(['server', 'h3', who.certPemFile, who.keyPemFile, hex(SERVER_TP)], undefined, new Uint8Array(randomBytes(64)));
    try {
      const first = new TlsClient(clientConfig({}, who));
      const firstEvents = await converse(peer, first, first.start());
      const ticket = ofType(firstEvents, 'sessionTicket')[0]?.ticket;
      assert.ok(ticket);
      await peer.next(); // same process: GnuTLS's anti-replay window now covers the ticket
      const client = new TlsClient(clientConfig({ sessionTicket: ticket, earlyData: true }, who));
      const events = await converse(peer, client, client.start());
      assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
      assert.equal(peer.seen.resumed, true);
      assert.equal(peer.seen.earlyData, true, 'GnuTLS accepted 0-RTT');
      const completion = ofType(events, 'handshakeComplete')[0];
      assert.equal(completion?.earlyDataAccepted, true);
      assert.equal(peer.seen.secrets.get('early read'), secretOf(events, 'early', 'write'));
      assert.deepEqual(ofType(events, 'rememberedTransportParameters')[0]?.data, SERVER_TP);
    } finally {
      peer.close();
    }
  });

  test('a GnuTLS server whose tickets carry max_early_data_size 16384 -> our client: PROTOCOL_VIOLATION (RFC 9001 §4.6.1)', async () => {
    const who = identity('ecdsa');
    const peer = new GnutlsPeer(['server', 'h3', who.certPemFile, who.keyPemFile, hex(SERVER_TP)], undefined, new Uint8Array(randomBytes(64)), 16384);
    try {
      const client = new TlsClient(clientConfig({}, who));
      const events = await converse(peer, client, client.start());
      assert.ok(ofType(events, 'handshakeComplete')[0], 'the handshake itself completed');
      const alert = alertOf(events);
      assert.equal(alert?.description, 47);
      assert.equal(alert?.transportError, 0x0a);
    } finally {
      peer.close();
    }
  });

  test('GnuTLS client offering no ALPN we serve -> our no_application_protocol alert', async () => {
    const peer = new GnutlsPeer(['client', 'h2', 'localhost', hex(CLIENT_TP)]);
    try {
      const events = new TlsServer(serverConfig()).receive('initial', (await peer.step()).data[0]!.bytes);
      assert.equal(alertOf(events)?.description, 120);
    } finally {
      peer.close();
    }
  });
});
