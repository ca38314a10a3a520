import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { ensureLocalhostCertificate, issueCertificate, loadOrCreateCA, parseConstraints } from '../../src/cert/index.js';
import { opensslVerify, sandbox, type Sandbox } from './helpers.js';

describe('ensureLocalhostCertificate (zero-config TLS)', () => {
  let box: Sandbox;
  before(() => {
    box = sandbox();
  });
  after(() => box.cleanup());

  test('first call creates the CA and a leaf for localhost, 127.0.0.1 and ::1', async () => {
    const result = await ensureLocalhostCertificate({ caroot: box.caroot });
    assert.equal(result.created, true);
    assert.equal(result.caCreated, true);
    assert.equal(result.trustCommand, 'npx httpsd cert --install');
    assert.equal(result.caCertFile, join(box.caroot, 'rootCA.pem'));
    assert.equal(statSync(result.keyFile).mode & 0o777, 0o600);
    const leaf = new X509Certificate(readFileSync(result.certFile));
    assert.equal(leaf.checkHost('localhost'), 'localhost');
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.ok(leaf.checkIP('::1'));
    const verify = await opensslVerify(result.caCertFile, result.certFile);
    assert.equal(verify.code, 0, verify.stderr);
  });

  test('second call reuses the same files untouched', async () => {
    const first = readFileSync(join(box.caroot, 'localhost.pem'), 'utf8');
    const result = await ensureLocalhostCertificate({ caroot: box.caroot });
    assert.equal(result.created, false);
    assert.equal(result.caCreated, false);
    assert.equal(readFileSync(result.certFile, 'utf8'), first);
  });

  test('a leaf expiring within 30 days is re-minted', async () => {
    const ca = await loadOrCreateCA(box.caroot, { create: false });
    const shortLived = await issueCertificate(ca, { names: ['localhost', '127.0.0.1', '::1'], keyType: 'ecdsa', days: 10 });
    writeFileSync(join(box.caroot, 'localhost.pem'), shortLived.certPem);
    writeFileSync(join(box.caroot, 'localhost-key.pem'), shortLived.keyPem!, { mode: 0o600 });
    const result = await ensureLocalhostCertificate({ caroot: box.caroot });
    assert.equal(result.created, true);
    const leaf = new X509Certificate(readFileSync(result.certFile));
    assert.ok(new Date(leaf.validTo).getTime() - Date.now() > 800 * 86400e3);
  });

  test('a leaf signed by a different CA, a missing key, or a mismatched key is re-minted', async () => {
    const elsewhere = sandbox();
    try {
      const foreign = await ensureLocalhostCertificate({ caroot: elsewhere.caroot });
      writeFileSync(join(box.caroot, 'localhost.pem'), readFileSync(foreign.certFile));
      writeFileSync(join(box.caroot, 'localhost-key.pem'), readFileSync(foreign.keyFile));
      const reminted = await ensureLocalhostCertificate({ caroot: box.caroot });
      assert.equal(reminted.created, true);
      assert.equal((await opensslVerify(join(box.caroot, 'rootCA.pem'), reminted.certFile)).code, 0);

      rmSync(reminted.keyFile);
      assert.equal((await ensureLocalhostCertificate({ caroot: box.caroot })).created, true);

      writeFileSync(join(box.caroot, 'localhost-key.pem'), readFileSync(foreign.keyFile));
      assert.equal((await ensureLocalhostCertificate({ caroot: box.caroot })).created, true);
      assert.equal((await ensureLocalhostCertificate({ caroot: box.caroot })).created, false);
    } finally {
      elsewhere.cleanup();
    }
  });

  test('the zero-config leaf serves a TLS client that trusts only the local root', async () => {
    const result = await ensureLocalhostCertificate({ caroot: box.caroot });
    const server = tls.createServer({ cert: readFileSync(result.certFile), key: readFileSync(result.keyFile) }, (socket) => socket.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: readFileSync(result.caCertFile), servername: 'localhost' });
        let data = '';
        socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
      });
      assert.equal(reply, 'ok');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('with a name-constrained root the leaf covers the loopback names the root permits', async () => {
    const constrained = sandbox();
    try {
      await loadOrCreateCA(constrained.caroot, { constraints: parseConstraints(['localhost', '127.0.0.0/8']) });
      const result = await ensureLocalhostCertificate({ caroot: constrained.caroot });
      const leaf = new X509Certificate(readFileSync(result.certFile));
      assert.equal(leaf.checkHost('localhost'), 'localhost');
      assert.equal(leaf.checkIP('::1'), undefined);
      assert.equal((await opensslVerify(result.caCertFile, result.certFile)).code, 0);
      assert.equal((await ensureLocalhostCertificate({ caroot: constrained.caroot })).created, false);
    } finally {
      constrained.cleanup();
    }
  });

  test('a CA folder with a corrupt root is a clear error naming the file', async () => {
    const broken = sandbox();
    try {
      await loadOrCreateCA(broken.caroot);
      writeFileSync(join(broken.caroot, 'rootCA.pem'), 'not a certificate');
      await assert.rejects(ensureLocalhostCertificate({ caroot: broken.caroot }), (error: Error) => {
        assert.equal(error.name, 'UsageError');
        assert.match(error.message, /rootCA\.pem is not a PEM certificate/);
        return true;
      });
      rmSync(join(broken.caroot, 'rootCA.pem'));
      await assert.rejects(ensureLocalhostCertificate({ caroot: broken.caroot }), /rootCA-key\.pem exists but .*rootCA\.pem is missing/);
    } finally {
      broken.cleanup();
    }
  });

  test('concurrent first calls agree on one CA', async () => {
    const racing = sandbox();
    try {
      const results = await Promise.all([loadOrCreateCA(racing.caroot), loadOrCreateCA(racing.caroot), loadOrCreateCA(racing.caroot)]);
      const serials = new Set(results.map((ca) => ca.certificate.serialNumber));
      assert.equal(serials.size, 1);
      assert.equal(results.filter((ca) => ca.created).length, 1);
    } finally {
      racing.cleanup();
    }
  });

  test('concurrent zero-config calls mint one leaf whose key matches it', async () => {
    const racing = sandbox();
    try {
      await loadOrCreateCA(racing.caroot);
      const results = await Promise.all(Array.from({ length: 4 }, () => ensureLocalhostCertificate({ caroot: racing.caroot })));
      assert.equal(results.filter((r) => r.created).length, 1);
      const leaf = new X509Certificate(readFileSync(results[0]!.certFile));
      const { createPrivateKey } = await import('node:crypto');
      assert.ok(leaf.checkPrivateKey(createPrivateKey(readFileSync(results[0]!.keyFile))));
      assert.throws(() => statSync(join(racing.caroot, '.localhost.lock')), 'lock released');
    } finally {
      racing.cleanup();
    }
  });
});
