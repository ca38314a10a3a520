import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createTlsProvider, TlsConfigError, type TlsConfig } from '../../src/tls/index.js';
import { UsageError } from '../../src/common/errors.js';
import { TestCa, openssl, tempDir, startTlsServer, tlsClient } from './helpers.js';

describe('key and certificate loading', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ca: TestCa;
  let ec: { certPath: string; keyPath: string };
  let rsa: { certPath: string; keyPath: string };
  const quiet = { onWarning: () => {} };

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    ca = await TestCa.create(dir);
    ec = await ca.issue('ec', { sans: ['DNS:localhost', 'IP:127.0.0.1'] });
    rsa = await ca.issue('rsa', { sans: ['DNS:localhost'], key: 'rsa' });
    const d = ca.dir;
    // PKCS#1 (traditional RSA), SEC1 (traditional EC), encrypted PKCS#8 and encrypted traditional PEM.
    await openssl(['pkey', '-in', rsa.keyPath, '-traditional', '-out', join(d, 'rsa-pkcs1.key')], d);
    await openssl(['pkey', '-in', ec.keyPath, '-traditional', '-out', join(d, 'ec-sec1.key')], d);
    await openssl(['pkey', '-in', ec.keyPath, '-aes256', '-passout', 'pass:s3cret', '-out', join(d, 'ec-enc-pkcs8.key')], d);
    await openssl(['pkey', '-in', rsa.keyPath, '-traditional', '-aes256', '-passout', 'pass:s3cret', '-out', join(d, 'rsa-enc-pkcs1.key')], d);
    await writeFile(join(d, 'pass.txt'), 's3cret\nignored second line\n');
    await openssl(['pkcs12', '-export', '-in', ec.certPath, '-inkey', ec.keyPath, '-certfile', ca.certPath, '-passout', 'pass:s3cret', '-out', join(d, 'site.p12')], d);
  });
  after(() => cleanup());

  async function servedBy(config: TlsConfig): Promise<string> {
    const provider = await createTlsProvider({ ...quiet, ...config });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      const { socket } = await tlsClient(srv.port, { ca: await readFile(ca.certPath), servername: 'localhost' });
      const subject = socket.getPeerX509Certificate()!.subject;
      socket.destroy();
      return subject;
    } finally {
      provider.close();
      await srv.close();
    }
  }

  test('PKCS#8 EC key (openssl genpkey default)', async () => {
    assert.equal(await servedBy({ cert: ec.certPath, key: ec.keyPath }), 'CN=localhost');
  });
  test('PKCS#1 RSA key', async () => {
    const key = await readFile(join(ca.dir, 'rsa-pkcs1.key'), 'utf8');
    assert.match(key, /BEGIN RSA PRIVATE KEY/);
    assert.equal(await servedBy({ cert: rsa.certPath, key: join(ca.dir, 'rsa-pkcs1.key') }), 'CN=localhost');
  });
  test('SEC1 EC key', async () => {
    assert.match(await readFile(join(ca.dir, 'ec-sec1.key'), 'utf8'), /BEGIN EC PRIVATE KEY/);
    assert.equal(await servedBy({ cert: ec.certPath, key: join(ca.dir, 'ec-sec1.key') }), 'CN=localhost');
  });
  test('encrypted PKCS#8 key with a passphrase', async () => {
    assert.match(await readFile(join(ca.dir, 'ec-enc-pkcs8.key'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.equal(await servedBy({ cert: ec.certPath, key: join(ca.dir, 'ec-enc-pkcs8.key'), passphrase: 's3cret' }), 'CN=localhost');
  });
  test('encrypted traditional RSA key with a passphrase file (first line)', async () => {
    assert.match(await readFile(join(ca.dir, 'rsa-enc-pkcs1.key'), 'utf8'), /Proc-Type: 4,ENCRYPTED/);
    assert.equal(await servedBy({ cert: rsa.certPath, key: join(ca.dir, 'rsa-enc-pkcs1.key'), passphraseFile: join(ca.dir, 'pass.txt') }), 'CN=localhost');
  });
  test('PKCS#12 with passphrase', async () => {
    assert.equal(await servedBy({ pfx: join(ca.dir, 'site.p12'), passphrase: 's3cret' }), 'CN=localhost');
  });
  test('PEM text instead of paths', async () => {
    assert.equal(await servedBy({ cert: await readFile(ec.certPath, 'utf8'), key: await readFile(ec.keyPath, 'utf8') }), 'CN=localhost');
  });
  test('the full chain is served', async () => {
    const chainPath = join(ca.dir, 'chain.pem');
    await writeFile(chainPath, (await readFile(ec.certPath, 'utf8')) + (await readFile(ca.certPath, 'utf8')));
    const provider = await createTlsProvider({ ...quiet, cert: chainPath, key: ec.keyPath });
    const srv = await startTlsServer(provider.serverOptions);
    try {
      const { socket } = await tlsClient(srv.port, { ca: await readFile(ca.certPath), servername: 'localhost' });
      const peer = socket.getPeerCertificate(true);
      assert.equal(peer.subject.CN, 'localhost');
      assert.equal(peer.issuerCertificate.subject.CN, 'httpsd test CA');
      assert.match(provider.describe().join('\n'), /chain of 2/);
      socket.destroy();
    } finally {
      provider.close();
      await srv.close();
    }
  });

  async function rejects(config: TlsConfig, ...patterns: RegExp[]): Promise<TlsConfigError> {
    try {
      await createTlsProvider({ ...quiet, ...config });
    } catch (error) {
      assert.ok(error instanceof TlsConfigError, `expected TlsConfigError, got ${error}`);
      assert.ok(error instanceof UsageError);
      for (const pattern of patterns) assert.match(error.message, pattern);
      return error;
    }
    assert.fail('expected createTlsProvider to reject');
  }

  test('missing certificate file names the file and the flag', async () => {
    const missing = join(dir, 'nope.pem');
    await rejects({ cert: missing, key: ec.keyPath }, new RegExp(missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')), /no such file/, /--cert/);
  });
  test('a directory given as the key names it', async () => {
    const d = join(dir, 'a-dir');
    await mkdir(d, { recursive: true });
    await rejects({ cert: ec.certPath, key: d }, /a-dir/, /directory/);
  });
  test('mismatched key and certificate', async () => {
    await rejects({ cert: ec.certPath, key: rsa.keyPath }, /rsa\.key/, /ec\.pem/, /does not belong/);
  });
  test('swapped certificate and key', async () => {
    await rejects({ cert: ec.keyPath, key: ec.certPath }, /ec\.key/, /swap/);
  });
  test('expired certificate is an error', async () => {
    const old = await ca.issue('expired', { sans: ['DNS:localhost'], startDate: '20200101000000Z', endDate: '20200201000000Z' });
    await rejects({ cert: old.certPath, key: old.keyPath }, /expired\.pem/, /expired on 2020-02-01/);
  });
  test('not-yet-valid certificate is a loud warning, not an error', async () => {
    const future = await ca.issue('future', { sans: ['DNS:localhost'], startDate: '20990101000000Z', endDate: '20990201000000Z' });
    const warnings: string[] = [];
    const provider = await createTlsProvider({ cert: future.certPath, key: future.keyPath, onWarning: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /WARNING: .*future\.pem is not valid before 2099-01-01/);
    provider.close();
  });
  test('a certificate about to expire gives a warning', async () => {
    const soon = await ca.issue('soon', { sans: ['DNS:localhost'], startDate: '20200101000000Z', endDate: new Date(Date.now() + 3 * 86_400_000).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z' });
    const warnings: string[] = [];
    const provider = await createTlsProvider({ cert: soon.certPath, key: soon.keyPath, onWarning: (m) => warnings.push(m) });
    provider.close();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /soon\.pem expires in [23] day\(s\)/);
  });
  test('no subjectAltName, or no serverAuth usage: warnings', async () => {
    const noSan = await ca.issue('nosan', { cn: 'localhost' });
    const clientOnly = await ca.issue('clientonly', { sans: ['DNS:localhost'], clientAuth: true });
    for (const [pair, pattern] of [[noSan, /nosan\.pem has no subjectAltName/], [clientOnly, /clientonly\.pem is not valid for TLS servers/]] as const) {
      const warnings: string[] = [];
      const provider = await createTlsProvider({ cert: pair.certPath, key: pair.keyPath, onWarning: (m) => warnings.push(m) });
      provider.close();
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, pattern);
    }
    const fine: string[] = [];
    (await createTlsProvider({ cert: ec.certPath, key: ec.keyPath, onWarning: (m) => fine.push(m) })).close();
    assert.deepEqual(fine, []);
  });
  test('RSA key under 2048 bits', async () => {
    const weak = await ca.issue('weak', { sans: ['DNS:localhost'], key: 'rsa1024' });
    await rejects({ cert: weak.certPath, key: weak.keyPath }, /weak\.(key|pem)/, /1024-bit/, /2048/);
  });
  test('encrypted key without passphrase', async () => {
    await rejects({ cert: ec.certPath, key: join(ca.dir, 'ec-enc-pkcs8.key') }, /ec-enc-pkcs8\.key/, /encrypted/, /--key-passphrase/);
  });
  test('wrong passphrase', async () => {
    await rejects({ cert: ec.certPath, key: join(ca.dir, 'ec-enc-pkcs8.key'), passphrase: 'wrong' }, /ec-enc-pkcs8\.key/, /Wrong passphrase/);
    await rejects({ cert: rsa.certPath, key: join(ca.dir, 'rsa-enc-pkcs1.key'), passphrase: 'wrong' }, /rsa-enc-pkcs1\.key/, /Wrong passphrase/);
  });
  test('wrong PKCS#12 passphrase', async () => {
    await rejects({ pfx: join(ca.dir, 'site.p12'), passphrase: 'wrong' }, /site\.p12/, /Wrong passphrase/);
  });
  test('unreadable passphrase file', async () => {
    await rejects({ cert: ec.certPath, key: join(ca.dir, 'ec-enc-pkcs8.key'), passphraseFile: join(dir, 'missing-pass.txt') }, /missing-pass\.txt/, /passphrase file/);
    // Issuing a local certificate cannot fix a missing passphrase file: the hint must not be offered there.
    await assert.rejects(
      createTlsProvider({ cert: ec.certPath, key: join(ca.dir, 'ec-enc-pkcs8.key'), passphraseFile: join(dir, 'missing-pass.txt') }),
      (error: Error) => !/httpsd cert/.test(error.message),
    );
  });
  test('a file that is not PEM', async () => {
    const junk = join(dir, 'junk.pem');
    await writeFile(junk, 'not a certificate');
    await rejects({ cert: junk, key: ec.keyPath }, /junk\.pem/, /no PEM certificate/);
  });
  test('no certificate at all', async () => {
    await rejects({}, /--cert/, /httpsd cert/);
  });
});
