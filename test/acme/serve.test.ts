/**
 * serve({ acme }) against a real CA (Pebble) on 127.0.0.1: `ready` waits for the certificate obtained by HTTP-01 on
 * the cleartext port (answered before the redirect to https and before the app), the app is served over h2 with a
 * chain that verifies against Pebble's root, and stats() and /metrics carry the ACME counters. Also: the counters of
 * an acme() manager passed as `tls` (what the CLI does), a failed first order rejecting `ready` (the server closed),
 * and `acme` with `tls` refused.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import * as net from 'node:net';
import { acme, AcmeError, type AcmeOptions } from '../../src/acme/index.js';
import { serve } from '../../src/server/serve.js';
import type { FetchHandler, Server } from '../../src/server/types.js';
import { h2Request } from '../support/http2-client.js';
import { CHALLTESTSRV, PEBBLE, freePort, startPebble, type Pebble } from './pebble.js';

if (!existsSync(PEBBLE) || !existsSync(CHALLTESTSRV)) throw new Error(`Pebble is not installed (${PEBBLE}, ${CHALLTESTSRV}). Fix: apt-get install pebble`);
const TIMEOUT = 120_000;

/** An h2 session to 127.0.0.1:port for `servername`, verifying the chain and the name against `ca`. */
function connectVerified(port: number, servername: string, ca: string): Promise<{ session: http2.ClientHttp2Session; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    let socket: tls.TLSSocket | undefined;
    const session = http2.connect(`https://${servername}:${port}`, {
      createConnection: () => (socket = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['h2'] })),
    });
    session.once('connect', () => resolve({ session, socket: socket! }));
    session.once('error', reject);
    session.setTimeout(30_000, () => session.destroy(new Error('h2 session timed out')));
  });
}

describe('serve({ acme }) against Pebble', { timeout: 4 * TIMEOUT }, () => {
  let pebble: Pebble;
  let ports: { tlsPort: number; httpPort: number };
  let root: string;
  const dirs: string[] = [];
  const servers: Server[] = [];

  before(async () => {
    ports = { tlsPort: await freePort(), httpPort: await freePort() };
    pebble = await startPebble(ports);
    root = await pebble.rootPem();
  });

  after(async () => {
    for (const server of servers) await server.close(0);
    await pebble?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function acmeOptions(domains: string[], challenges: AcmeOptions['challenges'], log: string[]): AcmeOptions {
    const storage = mkdtempSync(join(tmpdir(), 'httpsd-acme-serve-'));
    dirs.push(storage);
    return { domains, challenges, storage, directoryUrl: pebble.directoryUrl, directoryCa: pebble.directoryCa, pollMs: 100, log: (line) => log.push(line) };
  }

  it('ready waits for the certificate (HTTP-01 before the redirect and the app); the app is served over h2 with it; stats() and /metrics carry the counters', { timeout: TIMEOUT }, async () => {
    const seen: string[] = [];
    const log: string[] = [];
    const app: FetchHandler = (request) => {
      seen.push(new URL(request.url).pathname);
      return new Response('hello over h2');
    };
    const server = serve({
      fetch: app,
      acme: acmeOptions(['e.test', 'www.e.test'], ['http-01'], log),
      hostname: '127.0.0.1',
      port: ports.tlsPort,
      httpPort: ports.httpPort,
      redirectHttp: true,
      metricsPath: '/metrics',
    });
    servers.push(server);
    await server.ready;
    // Pebble validated through the cleartext port although every other cleartext request is redirected.
    assert.match(log.join('\n'), /issued the certificate for e\.test, www\.e\.test/, log.join('\n') + pebble.output());
    const stats = server.stats();
    assert.equal(stats.acmeIssued, 1);
    assert.equal(stats.acmeRenewed, 0);
    assert.equal(stats.acmeFailures, 0);
    const now = Date.now() / 1000;
    assert.ok(stats.acmeNotAfterSeconds! > now, `expiry ${stats.acmeNotAfterSeconds} is in the future`);
    assert.ok(stats.acmeRenewAfterSeconds! > now && stats.acmeRenewAfterSeconds! < stats.acmeNotAfterSeconds!, 'renewal falls before expiry');

    const { session, socket } = await connectVerified(ports.tlsPort, 'www.e.test', root);
    try {
      assert.ok(socket.authorized, 'the chain verifies against Pebble\'s root for www.e.test');
      assert.equal(socket.alpnProtocol, 'h2');
      const response = await h2Request(session, { ':path': '/hello' });
      assert.equal(response.headers[':status'], 200);
      assert.equal(response.body.toString(), 'hello over h2');
      const metrics = await h2Request(session, { ':path': '/metrics' });
      const text = metrics.body.toString();
      assert.match(text, /^httpsd_acme_certificates_issued_total 1$/m);
      assert.match(text, /^httpsd_acme_certificates_renewed_total 0$/m);
      assert.match(text, /^httpsd_acme_failures_total 0$/m);
      assert.match(text, new RegExp(`^httpsd_acme_certificate_expiry_timestamp_seconds ${stats.acmeNotAfterSeconds}$`, 'm'));
      assert.match(text, new RegExp(`^httpsd_acme_renewal_timestamp_seconds ${stats.acmeRenewAfterSeconds}$`, 'm'));
      assert.match(text, /^# TYPE httpsd_acme_failures_total counter$/m);
    } finally {
      session.destroy();
    }
    // Cleartext: an unknown challenge token is answered 404 by the ACME layer; anything else is redirected.
    const probe = await fetch(`http://127.0.0.1:${ports.httpPort}/.well-known/acme-challenge/unknown-token`, { redirect: 'manual' });
    assert.equal(probe.status, 404);
    await probe.arrayBuffer();
    const page = await fetch(`http://127.0.0.1:${ports.httpPort}/hello`, { redirect: 'manual' });
    assert.equal(page.status, 308);
    await page.arrayBuffer();
    // The app saw only our one request: neither Pebble's validations nor the probes.
    assert.deepEqual(seen, ['/hello']);
    await server.close(0);
  });

  it('an acme() manager passed as `tls` (as the CLI does) adds its counters too', { timeout: TIMEOUT }, async () => {
    const log: string[] = [];
    const manager = await acme(acmeOptions(['f.test'], ['tls-alpn-01'], log));
    const server = serve({ fetch: manager.fetch(() => new Response('ok')), tls: manager.tls, hostname: '127.0.0.1', port: ports.tlsPort, metricsPath: '/metrics' });
    servers.push(server);
    await server.ready;
    // Before the first certificate: counted at zero, no expiry yet (a placeholder is served).
    assert.equal(server.stats().acmeIssued, 0);
    assert.equal(server.stats().acmeNotAfterSeconds, undefined);
    await manager.start(server);
    assert.equal(server.stats().acmeIssued, 1, log.join('\n'));
    assert.ok(server.stats().acmeNotAfterSeconds! > Date.now() / 1000);
    manager.stop();
    await server.close(0);
  });

  it('a first order that fails rejects ready with the named cause, and the server is closed', { timeout: TIMEOUT }, async () => {
    const log: string[] = [];
    // Listening elsewhere than Pebble's tlsPort: its validation connection is refused.
    const port = await freePort();
    const server = serve({ fetch: () => new Response('ok'), acme: acmeOptions(['h.test'], ['tls-alpn-01'], log), hostname: '127.0.0.1', port });
    servers.push(server);
    const error = await server.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof AcmeError, String(error));
    assert.equal(error.kind, 'challenge');
    assert.match(error.message, /tls-alpn-01 challenge for h\.test failed: the CA could not connect/);
    // Closed: the port is free again.
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });

  it('without ACME, stats() and /metrics have no ACME counters', { timeout: TIMEOUT }, async () => {
    const server = serve({ fetch: () => new Response('ok'), hostname: '127.0.0.1', port: 0, metricsPath: '/metrics' });
    servers.push(server);
    await server.ready;
    assert.equal('acmeIssued' in server.stats(), false);
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    const text = await response.text();
    assert.match(text, /^httpsd_requests_total /m);
    assert.doesNotMatch(text, /acme/);
    await server.close(0);
  });

  it('acme together with tls is refused with a TypeError naming both', () => {
    for (const tlsOption of [{ cert: 'cert.pem', key: 'key.pem' }, false as const]) {
      assert.throws(
        () => serve({ fetch: () => new Response('ok'), acme: { domains: ['g.test'] }, tls: tlsOption, port: 0 }),
        (error: unknown) => error instanceof TypeError && /`acme` or `tls`, not both/.test(error.message),
      );
    }
  });
});
