import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, opensslText, opensslVerify, sandbox, tool, type Sandbox } from './helpers.js';

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

describe('httpsd cert: issuing from the local CA', () => {
  let box: Sandbox;
  before(() => {
    box = sandbox();
  });
  after(() => box.cleanup());

  test('creates an ECDSA P-256 root on first use with CA extensions, key 0600, folder 0700', async () => {
    const run = await cli(box, ['localhost', '127.0.0.1', '::1', '*.app.test', 'dev@app.test', 'spiffe://app.test/web']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Created a new local CA/);
    const rootFile = join(box.caroot, 'rootCA.pem');
    assert.equal(mode(join(box.caroot, 'rootCA-key.pem')), 0o600);
    assert.equal(mode(box.caroot), 0o700);
    const text = (await opensslText(rootFile)).stdout;
    assert.match(text, /Public Key Algorithm: id-ecPublicKey/);
    assert.match(text, /NIST CURVE: P-256/);
    assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(text, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
    assert.match(text, /Subject Key Identifier/);
    const root = new X509Certificate(readFileSync(rootFile));
    const years = (new Date(root.validTo).getTime() - new Date(root.validFrom).getTime()) / (365.25 * 86400e3);
    assert.ok(years > 9.9 && years < 10.1, `root validity ${years} years`);
  });

  test('the leaf verifies against the root and carries every SAN type, usages, EKU and AKI', async () => {
    const certFile = join(box.dir, 'localhost+5.pem');
    const keyFile = join(box.dir, 'localhost+5-key.pem');
    const verify = await opensslVerify(join(box.caroot, 'rootCA.pem'), certFile);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /: OK/);
    const text = (await opensslText(certFile)).stdout;
    assert.match(text, /DNS:localhost/);
    assert.match(text, /DNS:\*\.app\.test/);
    assert.match(text, /IP Address:127\.0\.0\.1/);
    assert.match(text, /IP Address:0:0:0:0:0:0:0:1/);
    assert.match(text, /email:dev@app\.test/);
    assert.match(text, /URI:spiffe:\/\/app\.test\/web/);
    assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
    assert.match(text, /Extended Key Usage: \s*\n\s+TLS Web Server Authentication, E-mail Protection/);
    assert.doesNotMatch(text, /TLS Web Client Authentication/);
    assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /Subject: .*CN = localhost/);
    assert.match(text, /Authority Key Identifier/);
    // RFC 5280 §4.1.2.2 / CA/B BR: positive serial with ≥ 64 random bits (16 bytes here).
    const leaf = new X509Certificate(readFileSync(certFile));
    assert.ok(leaf.serialNumber.replace(/^0+/, '').length >= 28, `serial ${leaf.serialNumber}`);
    const root = new X509Certificate(readFileSync(join(box.caroot, 'rootCA.pem')));
    assert.ok(leaf.checkIssued(root));
    const akiRoot = /Subject Key Identifier: ?\s*\n\s+([0-9A-F:]+)/.exec((await opensslText(join(box.caroot, 'rootCA.pem'))).stdout)?.[1];
    const akiLeaf = /Authority Key Identifier: ?\s*\n\s+(?:keyid:)?([0-9A-F:]+)/.exec(text)?.[1];
    assert.ok(akiRoot && akiRoot === akiLeaf, `AKI ${akiLeaf} vs root SKI ${akiRoot}`);
    // Default validity is the 825-day cap, measured notBefore..notAfter.
    const days = (new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 86400e3;
    assert.equal(days, 825);
    assert.equal(mode(keyFile), 0o600);
    assert.equal(mode(certFile) & 0o077, 0o044);
    assert.match(readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  });

  test('refuses to overwrite existing files without --force, and overwrites with it', async () => {
    const certFile = join(box.dir, 'localhost+5.pem');
    const before = readFileSync(certFile, 'utf8');
    const refused = await cli(box, ['localhost', '127.0.0.1', '::1', '*.app.test', 'dev@app.test', 'spiffe://app.test/web']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /already exists; pass --force/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(readFileSync(certFile, 'utf8'), before);
    // Only the key exists: still refused, and the certificate is not written alone.
    writeFileSync(join(box.dir, 'only-key.pem'), 'placeholder');
    const partial = await cli(box, ['--cert-file', 'only-cert.pem', '--key-file', 'only-key.pem', 'a.test']);
    assert.equal(partial.code, 2);
    assert.throws(() => statSync(join(box.dir, 'only-cert.pem')));
    const forced = await cli(box, ['--force', 'localhost', '127.0.0.1', '::1', '*.app.test', 'dev@app.test', 'spiffe://app.test/web']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(readFileSync(certFile, 'utf8'), before);
    assert.equal(mode(join(box.dir, 'localhost+5-key.pem')), 0o600);
  });

  test('--rsa 2048 gives an RSA leaf with keyEncipherment; --client adds clientAuth; --days is honoured', async () => {
    const run = await cli(box, ['--rsa', '2048', '--client', '--days', '30', '--cert-file', 'rsa.pem', '--key-file', 'rsa-key.pem', 'rsa.test']);
    assert.equal(run.code, 0, run.stderr);
    const text = (await opensslText(join(box.dir, 'rsa.pem'))).stdout;
    assert.match(text, /Public-Key: \(2048 bit\)/);
    assert.match(text, /rsaEncryption/);
    assert.match(text, /Key Usage: critical\s+Digital Signature, Key Encipherment/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/, 'signed by the ECDSA root');
    const leaf = new X509Certificate(readFileSync(join(box.dir, 'rsa.pem')));
    assert.equal((new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 86400e3, 30);
    const verify = await opensslVerify(join(box.caroot, 'rootCA.pem'), join(box.dir, 'rsa.pem'), ['-purpose', 'sslclient']);
    assert.equal(verify.code, 0, verify.stderr);
  });

  test('default output names follow mkcert: NAME+N.pem, _wildcard, -client', async () => {
    const run = await cli(box, ['--client', '*.wild.test', 'x.test']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(statSync(join(box.dir, '_wildcard.wild.test+1-client.pem')).isFile());
    assert.ok(statSync(join(box.dir, '_wildcard.wild.test+1-client-key.pem')).isFile());
  });

  test('--days 826 and --rsa 1024 are refused with clear messages and nothing is written', async () => {
    const days = await cli(box, ['--days', '826', 'days.test']);
    assert.equal(days.code, 2);
    assert.match(days.stderr, /--days 826 is over 825.*Apple/);
    const rsa = await cli(box, ['--rsa', '1024', 'weak.test']);
    assert.equal(rsa.code, 2);
    assert.match(rsa.stderr, /--rsa 1024 is too weak; RSA keys must be at least 2048 bits/);
    assert.throws(() => statSync(join(box.dir, 'days.test.pem')));
    assert.throws(() => statSync(join(box.dir, 'weak.test.pem')));
  });

  test('bad names and flags are clear errors', async () => {
    for (const [argv, pattern] of [
      [['bad name!'], /is not a valid host name/],
      [['--bogus', 'a.test'], /unknown flag --bogus/],
      [['--days', 'ten', 'a.test'], /--days expects a whole number/],
      [['--ecdsa', '--rsa', 'a.test'], /choose one of --ecdsa and --rsa/],
      [['fe80::1%eth0'], /zone index/],
      [['--csr', 'missing.csr'], /cannot read the certificate request .*missing\.csr/],
      [['--p12-file', 'x.p12', 'a.test'], /--p12-file needs --pkcs12/],
      [['--pkcs12', '--cert-file', 'x.pem', 'a.test'], /use --p12-file/],
      [['--uninstall', 'a.test'], /--uninstall takes no names/],
      [['--install', '--uninstall'], /choose one of --install and --uninstall/],
      [['--self-signed', '--csr', 'x.csr'], /cannot be combined/],
      [['--cert-file'], /--cert-file needs a value/],
      [['--days', '0', 'a.test'], /at least 1/],
      [['--rsa', '2049', 'a.test'], /multiple of 8/],
      [['--force=yes', 'a.test'], /--force takes no value/],
      [['--constrain', '10.0.0.0/40'], /prefix length/],
      [['--self-signed'], /needs at least one name/],
      [['--cert-file', 'no/such/dir/x.pem', '--key-file', 'k.pem', 'a.test'], /cannot write .*x\.pem: the folder .*does not exist/],
    ] as const) {
      const run = await cli(box, [...argv]);
      assert.equal(run.code, 2, `${argv.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, pattern);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.throws(() => statSync(join(box.dir, 'k.pem')), 'no orphan key when the certificate cannot be written');
  });

  test('a relative HTTPSD_CAROOT is resolved against the working folder', async () => {
    const relative = sandbox();
    try {
      relative.env.HTTPSD_CAROOT = 'my-ca';
      const run = await cli(relative, ['--caroot']);
      assert.equal(run.stdout.trim(), join(relative.dir, 'my-ca'));
      const made = await cli(relative, ['rel.test']);
      assert.equal(made.code, 0, made.stderr);
      assert.ok(statSync(join(relative.dir, 'my-ca', 'rootCA.pem')).isFile());
    } finally {
      relative.cleanup();
    }
  });

  test('--constrain without names only creates the constrained root', async () => {
    const fresh = sandbox();
    try {
      const run = await cli(fresh, ['--constrain', 'default']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Created a new local CA .*name-constrained to localhost, test, 127\.0\.0\.0\/8, ::1\/128/);
      assert.match((await opensslText(join(fresh.caroot, 'rootCA.pem'))).stdout, /Name Constraints: critical/);
    } finally {
      fresh.cleanup();
    }
  });

  test('--caroot prints the folder; --help lists the flags', async () => {
    const run = await cli(box, ['--caroot']);
    assert.equal(run.stdout.trim(), box.caroot);
    const help = await cli(box, ['--help']);
    for (const flag of ['--cert-file', '--rsa', '--days', '--pkcs12', '--csr', '--self-signed', '--constrain', '--install', '--uninstall']) {
      assert.ok(help.stdout.includes(flag), flag);
    }
  });

  test('--csr signs an openssl-made request, keeping its public key and SANs, and rejects a tampered one', async () => {
    const keyFile = join(box.dir, 'csr-key.pem');
    const csrFile = join(box.dir, 'req.csr');
    const made = await tool('openssl', [
      'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', csrFile,
      '-subj', '/CN=csr.test', '-addext', 'subjectAltName=DNS:csr.test,DNS:www.csr.test,IP:10.0.0.1',
    ]);
    assert.equal(made.code, 0, made.stderr);
    const run = await cli(box, ['--csr', 'req.csr', '--cert-file', 'csr-signed.pem']);
    assert.equal(run.code, 0, run.stderr);
    const signed = join(box.dir, 'csr-signed.pem');
    const verify = await opensslVerify(join(box.caroot, 'rootCA.pem'), signed);
    assert.equal(verify.code, 0, verify.stderr);
    const text = (await opensslText(signed)).stdout;
    assert.match(text, /DNS:csr\.test, DNS:www\.csr\.test, IP Address:10\.0\.0\.1/);
    assert.match(text, /Digital Signature, Key Encipherment/);
    // Same public key as the request: the requester's key matches the certificate.
    const leaf = new X509Certificate(readFileSync(signed));
    const { createPrivateKey } = await import('node:crypto');
    assert.ok(leaf.checkPrivateKey(createPrivateKey(readFileSync(keyFile))));
    // A CSR whose body was altered no longer verifies: nothing is signed.
    const pem = readFileSync(csrFile, 'utf8');
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const index = der.indexOf(Buffer.from('csr.test'));
    der[index] = 'x'.charCodeAt(0);
    writeFileSync(join(box.dir, 'tampered.csr'), `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`);
    const tampered = await cli(box, ['--csr', 'tampered.csr', '--cert-file', 'tampered.pem']);
    assert.equal(tampered.code, 2);
    assert.match(tampered.stderr, /signature does not verify/);
    assert.throws(() => statSync(join(box.dir, 'tampered.pem')));
  });

  test('--csr with a 1024-bit RSA key is refused', async () => {
    const csrFile = join(box.dir, 'weak.csr');
    const made = await tool('openssl', ['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', join(box.dir, 'weak-key.pem'), '-out', csrFile, '-subj', '/CN=weak.test']);
    assert.equal(made.code, 0, made.stderr);
    const run = await cli(box, ['--csr', 'weak.csr', '--cert-file', 'weak-signed.pem']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /at least 2048 bits/);
  });

  test('--self-signed makes a certificate that verifies against itself, without touching the CA', async () => {
    const selfBox = sandbox();
    try {
      const run = await cli(selfBox, ['--self-signed', 'self.test', '127.0.0.1']);
      assert.equal(run.code, 0, run.stderr);
      const certFile = join(selfBox.dir, 'self.test+1.pem');
      const verify = await opensslVerify(certFile, certFile);
      assert.equal(verify.code, 0, verify.stderr);
      const text = (await opensslText(certFile)).stdout;
      assert.match(text, /Issuer: .*CN = self\.test/);
      assert.match(text, /Subject: .*CN = self\.test/);
      assert.throws(() => statSync(selfBox.caroot), 'no CA created');
    } finally {
      selfBox.cleanup();
    }
  });

  test('--pkcs12 writes a 0600 bundle that openssl and node:tls open with the password', async () => {
    const run = await cli(box, ['--pkcs12', 'p12.test']);
    assert.equal(run.code, 0, run.stderr);
    const p12File = join(box.dir, 'p12.test.p12');
    assert.equal(mode(p12File), 0o600);
    const info = await tool('openssl', ['pkcs12', '-in', p12File, '-passin', 'pass:changeit', '-nokeys']);
    assert.equal(info.code, 0, info.stderr);
    assert.equal((info.stdout.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'leaf and root');
    const info2 = await tool('openssl', ['pkcs12', '-info', '-noout', '-in', p12File, '-passin', 'pass:changeit']);
    assert.equal(info2.code, 0, info2.stderr);
    assert.match(info2.stdout + info2.stderr, /MAC: sha256/);
    assert.match(info2.stdout + info2.stderr, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC/);
    // The MAC (RFC 7292 Appendix B KDF) really depends on the password: openssl rejects a wrong one.
    const wrong = await tool('openssl', ['pkcs12', '-info', '-noout', '-in', p12File, '-passin', 'pass:wrong']);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stdout + wrong.stderr, /mac verify (error|failure)/i);
    const keyOut = await tool('openssl', ['pkcs12', '-in', p12File, '-passin', 'pass:changeit', '-nocerts', '-nodes']);
    assert.match(keyOut.stdout, /friendlyName: p12\.test/);
    assert.match(keyOut.stdout, /BEGIN PRIVATE KEY/);
    const custom = await cli(box, ['--pkcs12', '--pkcs12-password', 's3cret', '--p12-file', 'custom.pfx', 'p12.test']);
    assert.equal(custom.code, 0, custom.stderr);
    assert.equal((await tool('openssl', ['pkcs12', '-info', '-noout', '-in', join(box.dir, 'custom.pfx'), '-passin', 'pass:s3cret'])).code, 0);
    assert.doesNotMatch(custom.stdout, /s3cret/, 'a chosen password is not echoed');
    box.env.HTTPSD_PKCS12_PASSWORD = 'from-env';
    try {
      const fromEnv = await cli(box, ['--pkcs12', '--p12-file', 'env.p12', 'p12.test']);
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.equal((await tool('openssl', ['pkcs12', '-info', '-noout', '-in', join(box.dir, 'env.p12'), '-passin', 'pass:from-env'])).code, 0);
    } finally {
      delete box.env.HTTPSD_PKCS12_PASSWORD;
    }
    const { createSecureContext } = await import('node:tls');
    assert.doesNotThrow(() => createSecureContext({ pfx: readFileSync(p12File), passphrase: 'changeit' }));
    assert.throws(() => createSecureContext({ pfx: readFileSync(p12File), passphrase: 'wrong' }));
  });
});
