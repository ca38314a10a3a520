import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTlsProvider, PROFILES, type TlsConfig, type TlsProvider } from '../../src/tls/index.js';
import { TestCa, tempDir, startTlsServer, sClient } from './helpers.js';

/** Lets the openssl client itself offer TLS 1.0/1.1 and SHA-1 suites, so a refusal can only come from the server. */
const PERMISSIVE_CLIENT = ['-cipher', 'ALL:@SECLEVEL=0'];

describe('TLS profiles against openssl s_client', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let rsa: { certPath: string; keyPath: string };
  let ec: { certPath: string; keyPath: string };
  const servers: Array<{ close: () => Promise<void>; provider: TlsProvider }> = [];

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const ca = await TestCa.create(dir);
    rsa = await ca.issue('rsa', { sans: ['DNS:localhost'], key: 'rsa' });
    ec = await ca.issue('ec', { sans: ['DNS:localhost'] });
  });
  after(async () => {
    for (const s of servers) {
      s.provider.close();
      await s.close();
    }
    await cleanup();
  });

  async function serve(config: Partial<TlsConfig>, pair = rsa): Promise<number> {
    const provider = await createTlsProvider({ cert: pair.certPath, key: pair.keyPath, onWarning: () => {}, ...config });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    servers.push({ close: srv.close, provider });
    return srv.port;
  }

  test('intermediate (default): TLS 1.1 refused, while an old-profile server accepts the same client', async () => {
    const port = await serve({});
    const refused = await sClient(port, ['-tls1_1', ...PERMISSIVE_CLIENT]);
    assert.equal(refused.cipher, undefined, refused.stdout);
    assert.notEqual(refused.code, 0);
    const control = await sClient(await serve({ profile: 'old' }), ['-tls1_1', ...PERMISSIVE_CLIENT]);
    assert.equal(control.protocol, 'TLSv1.1', control.stdout + control.stderr);
    const tls10 = await sClient(port, ['-tls1', ...PERMISSIVE_CLIENT]);
    assert.equal(tls10.cipher, undefined);
    const control10 = await sClient(await serve({ profile: 'old' }), ['-tls1', ...PERMISSIVE_CLIENT]);
    assert.equal(control10.protocol, 'TLSv1');
  });

  test('intermediate (default): every CBC suite refused on TLS 1.2, accepted by the old profile', async () => {
    const port = await serve({});
    const oldPort = await serve({ profile: 'old' });
    for (const cbc of ['ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA', 'ECDHE-RSA-AES128-SHA256', 'ECDHE-RSA-AES256-SHA384', 'AES128-SHA', 'AES256-SHA256', 'DES-CBC3-SHA']) {
      const refused = await sClient(port, ['-tls1_2', '-cipher', `${cbc}:@SECLEVEL=0`]);
      assert.equal(refused.cipher, undefined, `${cbc} negotiated: ${refused.stdout}`);
      if (cbc === 'DES-CBC3-SHA') continue; // not compiled into every OpenSSL build; the refusal above is what matters
      const control = await sClient(oldPort, ['-tls1_2', '-cipher', `${cbc}:@SECLEVEL=0`]);
      assert.equal(control.cipher, cbc, `old profile should accept ${cbc}: ${control.stdout}${control.stderr}`);
    }
  });

  test('intermediate: static-RSA and DHE suites refused; old offers DHE with a 2048-bit group', async () => {
    const port = await serve({});
    const refused = await sClient(port, ['-tls1_2', '-cipher', 'AES128-GCM-SHA256']);
    assert.equal(refused.cipher, undefined);
    assert.equal((await sClient(port, ['-tls1_2', '-cipher', 'DHE-RSA-AES128-GCM-SHA256'])).cipher, undefined);
    const dhe = await sClient(await serve({ profile: 'old' }), ['-tls1_2', '-cipher', 'DHE-RSA-AES128-GCM-SHA256']);
    assert.equal(dhe.cipher, 'DHE-RSA-AES128-GCM-SHA256');
    assert.match(dhe.stdout, /Server Temp Key: DH, (2048|3072|4096) bits/);
  });

  test('intermediate: TLS 1.2 with ECDHE + AEAD (RSA and ECDSA) and TLS 1.3 succeed', async () => {
    const port = await serve({});
    const tls12 = await sClient(port, ['-tls1_2']);
    assert.equal(tls12.protocol, 'TLSv1.2');
    assert.match(tls12.cipher ?? '', /^ECDHE-RSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    const chacha = await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-CHACHA20-POLY1305']);
    assert.equal(chacha.cipher, 'ECDHE-RSA-CHACHA20-POLY1305');
    const ecdsa = await sClient(await serve({}, ec), ['-tls1_2']);
    assert.match(ecdsa.cipher ?? '', /^ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    const tls13 = await sClient(port, ['-tls1_3']);
    assert.equal(tls13.protocol, 'TLSv1.3');
    assert.match(tls13.cipher ?? '', /^TLS_(AES_128_GCM|AES_256_GCM|CHACHA20_POLY1305)_SHA(256|384)$/);
  });

  test('modern: TLS 1.2 refused, TLS 1.3 accepted', async () => {
    const port = await serve({ profile: 'modern' });
    const tls12 = await sClient(port, ['-tls1_2']);
    assert.equal(tls12.cipher, undefined);
    const tls13 = await sClient(port, ['-tls1_3']);
    assert.equal(tls13.protocol, 'TLSv1.3');
  });

  test('--tls-max 1.2 caps the version; --tls-min 1.3 raises the floor', async () => {
    const capped = await sClient(await serve({ maxVersion: 'TLSv1.2' }), []);
    assert.equal(capped.protocol, 'TLSv1.2');
    const floor = await sClient(await serve({ minVersion: 'TLSv1.3' }), ['-tls1_2']);
    assert.equal(floor.cipher, undefined);
  });

  test('--curves restricts the key exchange groups', async () => {
    const port = await serve({ curves: ['P-384'] });
    const refused = await sClient(port, ['-groups', 'X25519:P-256']);
    assert.equal(refused.cipher, undefined, refused.stdout);
    const accepted = await sClient(port, ['-groups', 'X25519:P-384']);
    assert.equal(accepted.protocol, 'TLSv1.3');
    assert.match(accepted.stdout, /Server Temp Key: ECDH, (P-384|secp384r1)/);
    const defaults = await sClient(await serve({}), ['-groups', 'X25519']);
    assert.match(defaults.stdout, /Server Temp Key: X25519/);
  });

  test('--ciphers with an OpenSSL string limits TLS 1.2 and keeps TLS 1.3', async () => {
    const port = await serve({ ciphers: 'ECDHE-RSA-AES256-GCM-SHA384' });
    const only = await sClient(port, ['-tls1_2']);
    assert.equal(only.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
    const other = await sClient(port, ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256']);
    assert.equal(other.cipher, undefined);
    const tls13 = await sClient(port, ['-tls1_3']);
    assert.equal(tls13.protocol, 'TLSv1.3');
  });

  test('profile cipher lists contain no CBC, SHA-1 MAC or static-RSA suite below "old"', () => {
    for (const name of ['modern', 'intermediate'] as const) {
      for (const suite of PROFILES[name].ciphers.split(':')) {
        assert.match(suite, /^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/, `${name}: ${suite}`);
      }
    }
    assert.equal(PROFILES.modern.minVersion, 'TLSv1.3');
    assert.equal(PROFILES.intermediate.minVersion, 'TLSv1.2');
  });

  test('bad knobs are TlsConfigErrors naming the flag', async () => {
    await assert.rejects(serve({ curves: ['P-999'] }), (e: Error) => e.name === 'TlsConfigError' && /--curves/.test(e.message));
    await assert.rejects(serve({ ciphers: 'NOT-A-CIPHER' }), (e: Error) => e.name === 'TlsConfigError' && /--ciphers/.test(e.message));
    await assert.rejects(serve({ minVersion: 'TLSv1.1' }), (e: Error) => e.name === 'TlsConfigError' && /--tls-profile old/.test(e.message));
    await assert.rejects(serve({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }), (e: Error) => /--tls-min/.test(e.message));
  });
});
