/**
 * What node:tls runs per handshake depends on the options it is given: an SNICallback or an 'OCSPRequest' listener
 * suspends every handshake for a call into JavaScript. With one certificate and nothing to staple there is nothing
 * for them to decide, so the provider installs neither, and the behaviour they served (the certificate a named or
 * unnamed client gets, reloads) stays the same.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTlsProvider } from '../../src/tls/index.js';
import { TestCa, tempDir, startTlsServer, tlsClient } from './helpers.js';

describe('per-handshake hooks are installed only when they have something to decide', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ca: TestCa;
  let caPem: Buffer;
  let first: { certPath: string; keyPath: string };
  let second: { certPath: string; keyPath: string };
  let named: { certPath: string; keyPath: string };

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    ca = await TestCa.create(dir);
    caPem = await readFile(ca.certPath);
    first = await ca.issue('first', { cn: 'first.test', sans: ['DNS:first.test', 'IP:127.0.0.1'] });
    second = await ca.issue('second', { cn: 'second.test', sans: ['DNS:second.test', 'IP:127.0.0.1'] });
    named = await ca.issue('named', { cn: 'named.test', sans: ['DNS:named.test'] });
  });
  after(() => cleanup());

  const subjectFor = async (port: number, servername?: string) => {
    const client = await tlsClient(port, { ca: caPem, checkServerIdentity: () => undefined, ...(servername ? { servername } : {}) });
    const subject = client.socket.getPeerX509Certificate()!.subject;
    client.socket.destroy();
    return subject;
  };

  test('one certificate: no SNICallback, no OCSP listener; named and unnamed clients get it, and a reload swaps it', async () => {
    const live = join(dir, 'single');
    await mkdir(live, { recursive: true });
    const certPath = join(live, 'cert.pem');
    const keyPath = join(live, 'key.pem');
    await copyFile(first.certPath, certPath);
    await copyFile(first.keyPath, keyPath);
    const provider = await createTlsProvider({ cert: certPath, key: keyPath, onWarning: () => {} });
    assert.equal(provider.serverOptions.SNICallback, undefined);
    assert.equal(provider.answersAcmeTlsAlpn, false);
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      assert.equal(srv.server.listenerCount('OCSPRequest'), 0);
      assert.equal(await subjectFor(srv.port), 'CN=first.test');
      assert.equal(await subjectFor(srv.port, 'anything.test'), 'CN=first.test');
      await copyFile(second.certPath, certPath);
      await copyFile(second.keyPath, keyPath);
      await provider.reload();
      assert.equal(provider.serverOptions.SNICallback, undefined);
      assert.equal(await subjectFor(srv.port), 'CN=second.test');
      assert.equal(await subjectFor(srv.port, 'anything.test'), 'CN=second.test');
    } finally {
      provider.close();
      await srv.close();
    }
  });

  test('an SNI entry installs the SNICallback, and it picks by name across a reload', async () => {
    const provider = await createTlsProvider({ cert: first.certPath, key: first.keyPath, sni: { 'named.test': { cert: named.certPath, key: named.keyPath } }, onWarning: () => {} });
    assert.equal(typeof provider.serverOptions.SNICallback, 'function');
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      assert.equal(await subjectFor(srv.port, 'named.test'), 'CN=named.test');
      assert.equal(await subjectFor(srv.port, 'other.test'), 'CN=first.test');
      await provider.reload();
      assert.equal(typeof provider.serverOptions.SNICallback, 'function');
      assert.equal(await subjectFor(srv.port, 'named.test'), 'CN=named.test');
    } finally {
      provider.close();
      await srv.close();
    }
  });
});
