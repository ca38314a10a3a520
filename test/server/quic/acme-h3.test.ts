/**
 * HTTP/3 with ACME-managed certificates (a real CA, Pebble, on 127.0.0.1): h3 is on from the start with the
 * placeholder, serves the CA-issued certificate once it is obtained, and the renewed one after a renewal, exactly
 * as the TCP listener does (both read the TLS provider the manager reloads).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { acme } from '../../../src/acme/index.js';
import { serve } from '../../../src/server/serve.js';
import { CHALLTESTSRV, PEBBLE, freePort, startPebble, type Pebble } from '../../acme/pebble.js';
import { quicHandshake } from './handshake-client.js';

if (!existsSync(PEBBLE) || !existsSync(CHALLTESTSRV)) throw new Error(`Pebble is not installed (${PEBBLE}, ${CHALLTESTSRV}). Fix: apt-get install pebble`);
const TIMEOUT = 120_000;
const DAY = 86_400_000;

/** The SHA-256 fingerprint of the leaf a TCP TLS handshake for `servername` gets. */
function tcpFingerprint(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

describe('HTTP/3 with ACME certificates (Pebble)', { timeout: 3 * TIMEOUT }, () => {
  let pebble: Pebble;
  let ports: { tlsPort: number; httpPort: number };
  let storage: string;

  before(async () => {
    ports = { tlsPort: await freePort(), httpPort: await freePort() };
    pebble = await startPebble(ports);
    storage = mkdtempSync(join(tmpdir(), 'httpsd-acme-h3-'));
  });
  after(async () => {
    await pebble?.stop();
    if (storage) rmSync(storage, { recursive: true, force: true });
  });

  it('h3 serves the placeholder, then the issued certificate, then the renewed one', { timeout: 2 * TIMEOUT }, async () => {
    const log: string[] = [];
    let skew = 0;
    const manager = await acme({
      domains: ['h3.test'],
      challenges: ['http-01'],
      storage,
      directoryUrl: pebble.directoryUrl,
      directoryCa: pebble.directoryCa,
      pollMs: 100,
      log: (line) => log.push(line),
      now: () => Date.now() + skew,
    });
    const server = serve({ fetch: manager.fetch(() => new Response('ok')), tls: manager.tls, hostname: '127.0.0.1', port: ports.tlsPort, httpPort: ports.httpPort });
    try {
      await server.ready;
      assert.equal(server.http3Port, ports.tlsPort, 'h3 is on with ACME-managed certificates');
      const placeholder = (await quicHandshake(ports.tlsPort, 'h3.test')).leaf;
      assert.equal(placeholder.fingerprint256, await tcpFingerprint(ports.tlsPort, 'h3.test'));

      await manager.start(server);
      const issued = (await quicHandshake(ports.tlsPort, 'h3.test')).leaf;
      assert.notEqual(issued.fingerprint256, placeholder.fingerprint256, `still the placeholder over h3\n${log.join('\n')}`);
      assert.equal(issued.fingerprint256, await tcpFingerprint(ports.tlsPort, 'h3.test'));
      assert.ok(issued.checkHost('h3.test'), issued.subjectAltName);
      assert.equal(issued.verify(issued.publicKey), false, 'CA-issued, not self-signed');

      // Past the renewal time: the manager renews and reloads the provider; new QUIC handshakes get the new pair.
      skew = 4 * 365 * DAY; // Pebble issues five-year certificates: renewal falls after two thirds of that.
      await manager.check();
      // Back to the real clock before the manager's next timer runs: the new certificate is not due again.
      skew = 0;
      assert.equal(server.stats().acmeRenewed, 1, log.join('\n'));
      const renewed = (await quicHandshake(ports.tlsPort, 'h3.test')).leaf;
      assert.notEqual(renewed.fingerprint256, issued.fingerprint256);
      assert.equal(renewed.fingerprint256, await tcpFingerprint(ports.tlsPort, 'h3.test'));
    } finally {
      manager.stop();
      await server.close(0);
    }
  });
});
