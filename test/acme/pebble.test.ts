/**
 * ACME against a real CA (Pebble) on 127.0.0.1: issuance by TLS-ALPN-01 and HTTP-01, reuse of the stored certificate
 * across a restart, renewal (injected clock) swapped in without dropping an open connection, a failing challenge
 * with its named cause, and the CA unreachable with and without a stored certificate.
 */
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { acme, AcmeError, type AcmeManager, type AcmeOptions } from '../../src/acme/index.js';
import { serve } from '../../src/server/serve.js';
import type { FetchHandler, Server } from '../../src/server/types.js';
import { CHALLTESTSRV, PEBBLE, freePort, startPebble, type Pebble } from './pebble.js';

const available = existsSync(PEBBLE) && existsSync(CHALLTESTSRV);
// Pebble is part of the suite (.ci/run installs it): missing, the suite fails instead of skipping.
if (!available) throw new Error(`Pebble is not installed (${PEBBLE}, ${CHALLTESTSRV}). Fix: apt-get install pebble`);
const TIMEOUT = 120_000;

interface Seen {
  paths: string[];
}

function app(seen: Seen): FetchHandler {
  return (request) => {
    seen.paths.push(new URL(request.url).pathname);
    return new Response('hello from the app');
  };
}

/** The leaf a TLS client gets for `servername`, verified against `ca` (chain and name), and the ALPN it got. */
function handshake(port: number, servername: string, options: { ca?: string; alpn?: string[] } = {}): Promise<{ leaf: X509Certificate; alpn: string | false; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ...(options.ca ? { ca: options.ca } : { rejectUnauthorized: false }), ALPNProtocols: options.alpn ?? ['http/1.1'] }, () => {
      const leaf = socket.getPeerX509Certificate()!;
      resolve({ leaf, alpn: socket.alpnProtocol ?? false, authorized: socket.authorized });
      socket.end();
    });
    socket.setTimeout(20_000, () => socket.destroy(new Error('handshake timed out')));
    socket.on('error', reject);
  });
}

/** GET over https with a keep-alive agent (so a test can hold one connection across a renewal). */
function get(agent: https.Agent, port: number, servername: string, ca: string, path = '/'): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get({ host: '127.0.0.1', port, path, servername, headers: { host: servername }, ca, agent, timeout: 20_000 }, (response) => {
      // Read now: the socket is detached from the response once it ends (and returns to the agent).
      const serial = (response.socket as tls.TLSSocket).getPeerCertificate().serialNumber;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, serial }));
    });
    request.on('timeout', () => request.destroy(new Error('request timed out')));
    request.on('error', reject);
  });
}

describe('ACME against Pebble', { timeout: 8 * TIMEOUT }, () => {
  let pebble: Pebble;
  let ports: { tlsPort: number; httpPort: number };
  let root: string;
  const storages: string[] = [];
  const running: Array<{ server: Server; certificates: AcmeManager }> = [];

  before(async () => {
    ports = { tlsPort: await freePort(), httpPort: await freePort() };
    pebble = await startPebble(ports);
    root = await pebble.rootPem();
  });

  after(async () => {
    for (const { server, certificates } of running) {
      certificates.stop();
      await server.close(0);
    }
    await pebble?.stop();
    for (const dir of storages) rmSync(dir, { recursive: true, force: true });
  });

  function storage(): string {
    const dir = mkdtempSync(join(tmpdir(), 'httpsd-acme-'));
    storages.push(dir);
    return dir;
  }

  async function start(options: Partial<AcmeOptions> & { domains: string[]; storage: string }, listen: { port: number; httpPort?: number }, seen: Seen, log: string[]) {
    const certificates = await acme({ directoryUrl: pebble.directoryUrl, directoryCa: pebble.directoryCa, pollMs: 100, log: (line) => log.push(line), ...options });
    const server = serve({
      fetch: certificates.fetch(app(seen)),
      tls: certificates.tls,
      hostname: '127.0.0.1',
      port: listen.port,
      ...(listen.httpPort !== undefined ? { httpPort: listen.httpPort } : {}),
    });
    await server.ready;
    const entry = { server, certificates };
    running.push(entry);
    return entry;
  }

  async function stop(entry: { server: Server; certificates: AcmeManager }): Promise<void> {
    entry.certificates.stop();
    await entry.server.close(0);
    running.splice(running.indexOf(entry), 1);
  }

  const tlsAlpnStorage = { dir: '' };
  let offset = 0;
  const clock = () => Date.now() + offset;

  it('issues a certificate for several names by TLS-ALPN-01 on the TLS port; the app never sees the validation', { timeout: TIMEOUT }, async () => {
    tlsAlpnStorage.dir = storage();
    const seen: Seen = { paths: [] };
    const log: string[] = [];
    const entry = await start({ domains: ['a.test', 'www.a.test'], storage: tlsAlpnStorage.dir, challenges: ['tls-alpn-01'], now: clock }, { port: ports.tlsPort }, seen, log);
    // Before issuance: a placeholder, no CA-issued certificate.
    assert.equal(entry.certificates.hasCertificate, false);
    await entry.certificates.start(entry.server);
    assert.equal(entry.certificates.stats().issued, 1, log.join('\n'));
    assert.match(log.join('\n'), /issued the certificate for a\.test, www\.a\.test from https:\/\/127\.0\.0\.1:\d+\/dir: valid until/);
    for (const name of ['a.test', 'www.a.test']) {
      const { leaf, authorized } = await handshake(ports.tlsPort, name, { ca: root });
      assert.ok(authorized, `chain for ${name} verifies against Pebble's root`);
      assert.match(leaf.subjectAltName ?? '', new RegExp(`DNS:${name.replace('.', '\\.')}`));
    }
    const response = await get(new https.Agent(), ports.tlsPort, 'a.test', root);
    assert.equal(response.status, 200);
    assert.equal(response.body, 'hello from the app');
    // Pebble's validation connections (acme-tls/1) never reached the app: only our one request did.
    assert.deepEqual(seen.paths, ['/']);
    // With no challenge pending, an acme-tls/1-only client gets no protocol (no_application_protocol), not the app.
    await assert.rejects(handshake(ports.tlsPort, 'a.test', { alpn: ['acme-tls/1'] }), /no_application_protocol|alert number 120/i);
    assert.deepEqual(seen.paths, ['/']);
    // Stored privately: keys 0600.
    const keyFile = entry.certificates.storage.keyFile;
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    await stop(entry);
  });

  it('reuses the stored certificate after a restart (no new order), then renews it at two thirds of its lifetime without dropping connections', { timeout: TIMEOUT }, async () => {
    const seen: Seen = { paths: [] };
    const log: string[] = [];
    const entry = await start({ domains: ['a.test', 'www.a.test'], storage: tlsAlpnStorage.dir, challenges: ['tls-alpn-01'], now: clock }, { port: ports.tlsPort }, seen, log);
    assert.equal(entry.certificates.hasCertificate, true);
    const before = (await handshake(ports.tlsPort, 'a.test', { ca: root })).leaf;
    await entry.certificates.start(entry.server);
    assert.equal(entry.certificates.stats().issued, 0);
    assert.match(log.join('\n'), /using the stored certificate for a\.test, www\.a\.test/);
    // A connection opened before the renewal...
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await get(agent, ports.tlsPort, 'a.test', root);
    assert.equal(first.serial, before.serialNumber);
    // Not due yet: check() does nothing.
    await entry.certificates.check();
    assert.equal(entry.certificates.stats().renewed, 0);
    // Move the clock past two thirds of the lifetime.
    const renewAfter = Date.parse(entry.certificates.stats().renewAfter!);
    offset = renewAfter - Date.now() + 60_000;
    await entry.certificates.check();
    assert.equal(entry.certificates.stats().renewed, 1, log.join('\n'));
    assert.match(log.join('\n'), /renewed the certificate for a\.test, www\.a\.test/);
    // ...keeps working on the same socket with its old certificate; new handshakes get the new one.
    const again = await get(agent, ports.tlsPort, 'a.test', root);
    assert.equal(again.status, 200);
    assert.equal(again.serial, before.serialNumber, 'the open connection was kept');
    const fresh = (await handshake(ports.tlsPort, 'www.a.test', { ca: root })).leaf;
    assert.notEqual(fresh.serialNumber, before.serialNumber);
    agent.destroy();
    assert.deepEqual(seen.paths, ['/', '/']);
    await stop(entry);
  });

  it('issues by HTTP-01 on the cleartext port; the app never sees /.well-known/acme-challenge/', { timeout: TIMEOUT }, async () => {
    const seen: Seen = { paths: [] };
    const log: string[] = [];
    const entry = await start({ domains: ['b.test'], storage: storage(), challenges: ['http-01'] }, { port: ports.tlsPort, httpPort: ports.httpPort }, seen, log);
    await entry.certificates.start(entry.server);
    assert.equal(entry.certificates.stats().issued, 1, log.join('\n'));
    const { authorized } = await handshake(ports.tlsPort, 'b.test', { ca: root });
    assert.ok(authorized);
    // An unknown token is answered 404 by the ACME layer, not by the app.
    const probe = await fetch(`http://127.0.0.1:${ports.httpPort}/.well-known/acme-challenge/unknown-token`);
    assert.equal(probe.status, 404);
    await probe.arrayBuffer();
    assert.deepEqual(seen.paths, []);
    await stop(entry);
  });

  it('a challenge the CA cannot reach fails with the named cause (port not reachable)', { timeout: TIMEOUT }, async () => {
    const seen: Seen = { paths: [] };
    const log: string[] = [];
    // The server listens elsewhere: Pebble's connection to its tlsPort is refused.
    const entry = await start({ domains: ['c.test'], storage: storage(), challenges: ['tls-alpn-01'] }, { port: await freePort() }, seen, log);
    const error = await entry.certificates.start(entry.server).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof AcmeError, String(error));
    assert.equal(error.kind, 'challenge');
    assert.match(error.message, /tls-alpn-01 challenge for c\.test failed: the CA could not connect to c\.test on port \d+: that port is not reachable/);
    assert.equal(entry.certificates.stats().failures, 1);
    assert.match(log.join('\n'), /issuance for c\.test failed \(attempt 1\).*Next attempt/);
    assert.deepEqual(seen.paths, []);
    await stop(entry);
  });

  it('CA unreachable: serves the stored certificate and retries; without one, start is refused naming the URL and the fix', { timeout: TIMEOUT }, async () => {
    await pebble.stop();
    const seen: Seen = { paths: [] };
    const log: string[] = [];
    // Stored (and due for renewal, per the moved clock): the start succeeds and serves it.
    const entry = await start({ domains: ['a.test', 'www.a.test'], storage: tlsAlpnStorage.dir, challenges: ['tls-alpn-01'], now: clock, retryMs: 3600_000 }, { port: ports.tlsPort }, seen, log);
    offset += 365 * 86_400_000;
    await entry.certificates.start(entry.server);
    await entry.certificates.check();
    const stats = entry.certificates.stats();
    assert.equal(stats.failures, 1, log.join('\n'));
    assert.match(stats.lastError ?? '', new RegExp(`the ACME directory ${pebble.directoryUrl.replace(/[.:/]/g, '\\$&')} is unreachable \\(ECONNREFUSED\\)`));
    assert.match(log.join('\n'), /renewal for a\.test, www\.a\.test failed \(attempt 1\).*still serving the certificate that expires/);
    const { authorized } = await handshake(ports.tlsPort, 'a.test', { ca: root });
    assert.ok(authorized, 'the stored certificate is still served');
    await stop(entry);
    // Nothing stored: acme() refuses, naming the directory URL, the cause and the fix.
    await assert.rejects(
      acme({ domains: ['d.test'], storage: storage(), directoryUrl: pebble.directoryUrl, directoryCa: pebble.directoryCa, log: () => {} }),
      (error: unknown) =>
        error instanceof AcmeError &&
        error.kind === 'unreachable' &&
        error.message.includes(`cannot obtain a certificate for d.test: the ACME directory ${pebble.directoryUrl} is unreachable (ECONNREFUSED)`) &&
        /Fix: .*--acme-directory URL/.test(error.message) &&
        /No certificate for these names is stored in /.test(error.message),
    );
  });
});
