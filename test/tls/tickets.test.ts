import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createTlsProvider, type TlsConfig, type TlsProvider } from '../../src/tls/index.js';
import { TestCa, tempDir, startTlsServer, sClient, tlsClient } from './helpers.js';

describe('session tickets', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let pair: { certPath: string; keyPath: string };
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const ca = await TestCa.create(dir);
    pair = await ca.issue('server', { sans: ['DNS:localhost'], key: 'rsa' });
  });
  after(() => cleanup());

  async function withServer(config: Partial<TlsConfig>, body: (port: number, rotate: () => void, provider: TlsProvider) => Promise<void>) {
    const provider = await createTlsProvider({ cert: pair.certPath, key: pair.keyPath, onWarning: () => {}, ...config });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      await body(srv.port, () => provider.rotateTicketKeys(), provider);
    } finally {
      provider.close();
      await srv.close();
    }
  }

  test('TLS 1.2 resumption by ticket; after one rotation still resumed, after two a full handshake', async () => {
    await withServer({}, async (port, rotate) => {
      const session = join(dir, 'session.pem');
      const first = await sClient(port, ['-tls1_2', '-sess_out', session]);
      assert.match(first.stdout, /TLS session ticket lifetime hint: 7200/);
      assert.match(first.stdout, /New, TLSv1\.2/);
      const resumed = await sClient(port, ['-tls1_2', '-sess_in', session]);
      assert.match(resumed.stdout, /Reused, TLSv1\.2/);
      rotate();
      // The previous key still opens tickets (and the server reissues one under the new key)…
      const afterOne = await sClient(port, ['-tls1_2', '-sess_in', session]);
      assert.match(afterOne.stdout, /Reused, TLSv1\.2/);
      rotate();
      // …but two rotations later the ticket is unknown: a full handshake, never a failure.
      const afterTwo = await sClient(port, ['-tls1_2', '-sess_in', session]);
      assert.match(afterTwo.stdout, /New, TLSv1\.2/);
      assert.ok(afterTwo.cipher, 'a stale ticket must not fail the handshake');
    });
  });

  /** TLS 1.3 tickets arrive after the handshake: a node client collects them ('session' event), then resumes with one. */
  async function resumes13(port: number, between?: () => unknown): Promise<boolean> {
    const first = await tlsClient(port, { servername: 'localhost', rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    const session = await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 1000);
      first.socket.once('session', (s: Buffer) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
    first.socket.destroy();
    await between?.();
    const second = await tlsClient(port, { servername: 'localhost', rejectUnauthorized: false, minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
    const reused = second.socket.isSessionReused();
    second.socket.destroy();
    return reused;
  }

  test('TLS 1.3 resumption by ticket', async () => {
    await withServer({}, async (port) => {
      assert.equal(await resumes13(port), true);
    });
  });

  test('tickets survive a certificate reload and (TLS 1.3) one rotation', async () => {
    await withServer({}, async (port, rotate, provider) => {
      const session = join(dir, 'session-reload.pem');
      await sClient(port, ['-tls1_2', '-sess_out', session]);
      await provider.reload();
      assert.match((await sClient(port, ['-tls1_2', '-sess_in', session])).stdout, /Reused, TLSv1\.2/);
      assert.equal(await resumes13(port, () => rotate()), true);
      assert.equal(await resumes13(port, () => (rotate(), rotate())), false);
    });
  });

  test('--no-session-tickets: no ticket is issued, no resumption', async () => {
    await withServer({ sessionTickets: false }, async (port) => {
      const result = await sClient(port, ['-tls1_2']);
      assert.ok(result.cipher);
      assert.doesNotMatch(result.stdout, /TLS session ticket:/);
      assert.equal(await resumes13(port), false);
    });
  });

  test('honorCipherOrder: the server picks by its own order', async () => {
    const clientOrder = ['-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256'];
    await withServer({ honorCipherOrder: true }, async (port) => {
      assert.equal((await sClient(port, clientOrder)).cipher, 'ECDHE-RSA-AES128-GCM-SHA256');
    });
    await withServer({}, async (port) => {
      assert.equal((await sClient(port, clientOrder)).cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
    });
  });
});
