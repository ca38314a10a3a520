import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTlsProvider, type TlsConfig } from '../../src/tls/index.js';
import { TestCa, tempDir, startTlsServer, sClient, run } from './helpers.js';

interface Suite {
  name: string;
  kx: string;
  au: string;
  mac: string;
}

/** Every non-TLS-1.3 suite this OpenSSL knows, with its key exchange and MAC (what a scanner such as testssl.sh tries). */
async function allTls12Suites(): Promise<Suite[]> {
  const { stdout } = await run('openssl', ['ciphers', '-v', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0']);
  return stdout
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1] !== 'TLSv1.3')
    .map((f) => ({ name: f[0]!, kx: f[2]!.slice(3), au: f[3]!.slice(3), mac: f[5]!.slice(4) }));
}

/**
 * Enumerates the suites a server accepts the way scanners do: offer every candidate, note the one the server picks,
 * drop it, offer the rest again, until the handshake fails. One handshake per accepted suite, plus one.
 */
async function acceptedSuites(port: number, suites: Suite[]): Promise<string[]> {
  const accepted: string[] = [];
  let remaining = suites.map((s) => s.name);
  while (remaining.length > 0) {
    const result = await sClient(port, ['-cipher', `${remaining.join(':')}:@SECLEVEL=0`, '-no_tls1_3']);
    if (!result.cipher) break;
    assert.ok(remaining.includes(result.cipher), `server picked ${result.cipher}, which was not offered`);
    accepted.push(result.cipher);
    remaining = remaining.filter((name) => name !== result.cipher);
  }
  return accepted.sort();
}

describe('cipher scan: every TLS 1.2 suite OpenSSL knows', () => {
  let cleanup: () => Promise<void>;
  let rsa: { certPath: string; keyPath: string };
  let ec: { certPath: string; keyPath: string };
  let suites: Suite[];
  before(async () => {
    let dir: string;
    ({ dir, cleanup } = await tempDir());
    const ca = await TestCa.create(dir);
    rsa = await ca.issue('rsa', { sans: ['DNS:localhost'], key: 'rsa' });
    ec = await ca.issue('ec', { sans: ['DNS:localhost'] });
    suites = await allTls12Suites();
    assert.ok(suites.length > 50, `only ${suites.length} suites known to openssl`);
  });
  after(() => cleanup());

  async function scan(config: Partial<TlsConfig>, pair: { certPath: string; keyPath: string }): Promise<string[]> {
    const provider = await createTlsProvider({ cert: pair.certPath, key: pair.keyPath, onWarning: () => {}, ...config });
    const srv = await startTlsServer(provider.serverOptions);
    try {
      return await acceptedSuites(srv.port, suites);
    } finally {
      provider.close();
      await srv.close();
    }
  }

  test('intermediate accepts only ECDHE + AEAD suites (RSA and ECDSA certificates); old accepts CBC ones', async () => {
    const byName = new Map(suites.map((s) => [s.name, s]));
    const accepted = [...(await scan({}, rsa)), ...(await scan({}, ec))];
    assert.deepEqual(
      accepted.sort(),
      [
        'ECDHE-ECDSA-AES128-GCM-SHA256',
        'ECDHE-ECDSA-AES256-GCM-SHA384',
        'ECDHE-ECDSA-CHACHA20-POLY1305',
        'ECDHE-RSA-AES128-GCM-SHA256',
        'ECDHE-RSA-AES256-GCM-SHA384',
        'ECDHE-RSA-CHACHA20-POLY1305',
      ],
    );
    for (const name of accepted) {
      assert.equal(byName.get(name)?.mac, 'AEAD', name);
      assert.equal(byName.get(name)?.kx, 'ECDH', name);
    }
    // The scan itself can see CBC suites: the old profile exposes them.
    const old = await scan({ profile: 'old' }, rsa);
    assert.ok(old.some((name) => byName.get(name)?.mac !== 'AEAD'), old.join(' '));
  });
});
