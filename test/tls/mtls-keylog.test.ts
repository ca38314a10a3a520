import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createTlsProvider } from '../../src/tls/index.js';
import { TestCa, tempDir, startTlsServer, tlsClient, sClient } from './helpers.js';

describe('mTLS and key log', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let serverCa: TestCa;
  let clientCa: TestCa;
  let otherCa: TestCa;
  let serverPair: { certPath: string; keyPath: string };
  let clientPair: { certPath: string; keyPath: string };
  let strangerPair: { certPath: string; keyPath: string };

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    serverCa = await TestCa.create(dir, 'server-ca');
    clientCa = await TestCa.create(dir, 'client-ca', '/CN=httpsd client CA');
    otherCa = await TestCa.create(dir, 'other-ca', '/CN=some other CA');
    serverPair = await serverCa.issue('server', { sans: ['DNS:localhost', 'IP:127.0.0.1'] });
    clientPair = await clientCa.issue('alice', { cn: 'alice', clientAuth: true });
    strangerPair = await otherCa.issue('mallory', { cn: 'mallory', clientAuth: true });
  });
  after(() => cleanup());

  async function mtlsServer(mode: 'request' | 'require') {
    const provider = await createTlsProvider({ cert: serverPair.certPath, key: serverPair.keyPath, clientCa: clientCa.certPath, clientCert: mode, onWarning: () => {} });
    const seen: Array<{ authorized: boolean; subject?: string }> = [];
    const srv = await startTlsServer(provider.serverOptions, (socket: TLSSocket) => {
      seen.push({ authorized: socket.authorized, subject: socket.getPeerX509Certificate()?.subject });
    });
    provider.attach(srv.server);
    return { provider, srv, seen };
  }

  /** Resolves with the greeting, or rejects with the TLS error the client saw. */
  async function connect(port: number, client?: { certPath: string; keyPath: string }) {
    return tlsClient(port, {
      ca: await readFile(serverCa.certPath),
      servername: 'localhost',
      ...(client ? { cert: await readFile(client.certPath), key: await readFile(client.keyPath) } : {}),
    });
  }

  test('require: a client without a certificate is rejected, one signed by the client CA is accepted', async () => {
    const { provider, srv, seen } = await mtlsServer('require');
    try {
      await assert.rejects(connect(srv.port), (e: NodeJS.ErrnoException) => /CERTIFICATE_REQUIRED|certificate required|closed before/i.test(`${e.code} ${e.message}`));
      await assert.rejects(connect(srv.port, strangerPair), (e: NodeJS.ErrnoException) => /UNKNOWN_CA|unknown ca|closed before/i.test(`${e.code} ${e.message}`));
      const ok = await connect(srv.port, clientPair);
      assert.equal(ok.greeting, 'hello localhost');
      ok.socket.destroy();
      assert.deepEqual(seen, [{ authorized: true, subject: 'CN=alice' }]);
      assert.match(provider.describe().join('\n'), /Client certificates required, verified against CN=httpsd client CA/);
    } finally {
      provider.close();
      await srv.close();
    }
  });

  test('request: clients without a certificate get through unauthorized; the verified one is authorized', async () => {
    const { provider, srv, seen } = await mtlsServer('request');
    try {
      const anonymous = await connect(srv.port);
      anonymous.socket.destroy();
      const alice = await connect(srv.port, clientPair);
      alice.socket.destroy();
      const mallory = await connect(srv.port, strangerPair);
      mallory.socket.destroy();
      assert.deepEqual(seen, [
        { authorized: false, subject: undefined },
        { authorized: true, subject: 'CN=alice' },
        { authorized: false, subject: 'CN=mallory' },
      ]);
    } finally {
      provider.close();
      await srv.close();
    }
  });

  test('a bad client CA bundle is a TlsConfigError naming the file and --client-ca', async () => {
    for (const [clientCaPath, pattern] of [
      [clientPair.keyPath, /alice\.key holds a private key, not a certificate\. Fix: give --client-ca/],
      [join(dir, 'missing-ca.pem'), /missing-ca\.pem: no such file\. Fix: check the path given to --client-ca/],
    ] as const) {
      await assert.rejects(
        createTlsProvider({ cert: serverPair.certPath, key: serverPair.keyPath, clientCa: clientCaPath, onWarning: () => {} }),
        (e: Error) => e.name === 'TlsConfigError' && pattern.test(e.message),
      );
    }
  });

  test('key log: NSS lines for TLS 1.2 (CLIENT_RANDOM) and TLS 1.3 (traffic secrets), file mode 0600', async () => {
    const keylogFile = join(dir, 'keys.log');
    const provider = await createTlsProvider({ cert: serverPair.certPath, key: serverPair.keyPath, keylogFile, onWarning: () => {} });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      assert.equal((await sClient(srv.port, ['-tls1_2'])).protocol, 'TLSv1.2');
      assert.equal((await sClient(srv.port, ['-tls1_3'])).protocol, 'TLSv1.3');
      const text = await readFile(keylogFile, 'utf8');
      const lines = text.trim().split('\n');
      assert.ok(lines.every((l) => /^[A-Z_0-9]+ [0-9a-f]{64} [0-9a-f]+$/.test(l)), text);
      assert.ok(lines.some((l) => l.startsWith('CLIENT_RANDOM ')), text);
      for (const label of ['CLIENT_HANDSHAKE_TRAFFIC_SECRET', 'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0']) {
        assert.ok(lines.some((l) => l.startsWith(label + ' ')), `${label} missing`);
      }
      assert.equal((await stat(keylogFile)).mode & 0o777, 0o600);
      assert.match(provider.describe().join('\n'), /keys\.log/);
    } finally {
      provider.close();
      await srv.close();
    }
  });
});
