import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { issueCertificate, loadOrCreateCA, parseConstraints } from '../../src/cert/index.js';
import { cli, opensslText, opensslVerify, sandbox, tool, type Sandbox } from './helpers.js';

interface Served {
  port: number;
  close(): Promise<void>;
}

async function serve(options: tls.TlsOptions, host = '127.0.0.1'): Promise<Served> {
  const server = tls.createServer(options, (socket) => {
    socket.end(`hello ${socket.authorized ? 'authorized ' + (socket.getPeerCertificate().subject?.CN ?? '') : 'anonymous'}`);
  });
  server.on('tlsClientError', () => {});
  server.listen(0, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Connects with hostname checking on (tls.connect's default checkServerIdentity); resolves the greeting or rejects. */
function connect(options: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...options, timeout: 5000 });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.on('timeout', () => socket.destroy(new Error('timeout')));
  });
}

describe('local CA certificates in real TLS connections', () => {
  let box: Sandbox;
  let rootPem: string;
  before(async () => {
    box = sandbox();
    const run = await cli(box, ['localhost', '127.0.0.1', '::1']);
    assert.equal(run.code, 0, run.stderr);
    rootPem = readFileSync(join(box.caroot, 'rootCA.pem'), 'utf8');
  });
  after(() => box.cleanup());

  test('a client trusting only the local root connects to "localhost" with hostname checking on', async () => {
    const server = await serve({ cert: readFileSync(join(box.dir, 'localhost+2.pem')), key: readFileSync(join(box.dir, 'localhost+2-key.pem')) });
    try {
      assert.equal(await connect({ host: '127.0.0.1', port: server.port, ca: rootPem, servername: 'localhost' }), 'hello anonymous');
      // The IP SAN works too (no SNI for IP literals, RFC 6066 §3).
      assert.equal(await connect({ host: '127.0.0.1', port: server.port, ca: rootPem }), 'hello anonymous');
      // Hostname checking really is on: a name the certificate does not cover fails.
      await assert.rejects(connect({ host: '127.0.0.1', port: server.port, ca: rootPem, servername: 'other.test' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      // Without the local root (Node's bundled Mozilla roots only) the chain is untrusted.
      await assert.rejects(connect({ host: '127.0.0.1', port: server.port, servername: 'localhost' }), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    } finally {
      await server.close();
    }
  });

  test('curl trusting only the local root fetches over HTTPS by name and by IP', async () => {
    const { createServer } = await import('node:https');
    const server = createServer({ cert: readFileSync(join(box.dir, 'localhost+2.pem')), key: readFileSync(join(box.dir, 'localhost+2-key.pem')) }, (_request, response) => {
      response.end('curl ok');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      const rootFile = join(box.caroot, 'rootCA.pem');
      const byName = await tool('curl', ['-sS', '--max-time', '10', '--cacert', rootFile, '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/`]);
      assert.equal(byName.code, 0, byName.stderr);
      assert.equal(byName.stdout, 'curl ok');
      const byIp = await tool('curl', ['-sS', '--max-time', '10', '--cacert', rootFile, `https://127.0.0.1:${port}/`]);
      assert.equal(byIp.code, 0, byIp.stderr);
      // Without the root curl refuses (its default bundle does not contain it).
      const untrusted = await tool('curl', ['-sS', '--max-time', '10', '--resolve', `localhost:${port}:127.0.0.1`, `https://localhost:${port}/`]);
      assert.notEqual(untrusted.code, 0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('RSA leaves work the same way', async () => {
    const run = await cli(box, ['--rsa', '--cert-file', 'rsa-tls.pem', '--key-file', 'rsa-tls-key.pem', 'localhost']);
    assert.equal(run.code, 0, run.stderr);
    const server = await serve({ cert: readFileSync(join(box.dir, 'rsa-tls.pem')), key: readFileSync(join(box.dir, 'rsa-tls-key.pem')) });
    try {
      assert.equal(await connect({ host: '127.0.0.1', port: server.port, ca: rootPem, servername: 'localhost' }), 'hello anonymous');
    } finally {
      await server.close();
    }
  });

  test('--client certificates authenticate to a server that requires them (mTLS)', async () => {
    const run = await cli(box, ['--client', 'alice@example.test']);
    assert.equal(run.code, 0, run.stderr);
    const server = await serve({
      cert: readFileSync(join(box.dir, 'localhost+2.pem')),
      key: readFileSync(join(box.dir, 'localhost+2-key.pem')),
      ca: rootPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    try {
      const greeting = await connect({
        host: '127.0.0.1',
        port: server.port,
        ca: rootPem,
        servername: 'localhost',
        cert: readFileSync(join(box.dir, 'alice@example.test-client.pem')),
        key: readFileSync(join(box.dir, 'alice@example.test-client-key.pem')),
      });
      assert.equal(greeting, 'hello authorized alice@example.test');
      // Without a client certificate the server (rejectUnauthorized) refuses the connection.
      await assert.rejects(connect({ host: '127.0.0.1', port: server.port, ca: rootPem, servername: 'localhost' }));
    } finally {
      await server.close();
    }
  });

  test('EKU: the client certificate passes the sslclient purpose check, the server-only leaf does not', async () => {
    const rootFile = join(box.caroot, 'rootCA.pem');
    const client = await opensslVerify(rootFile, join(box.dir, 'alice@example.test-client.pem'), ['-purpose', 'sslclient']);
    assert.equal(client.code, 0, client.stderr);
    const serverOnly = await opensslVerify(rootFile, join(box.dir, 'localhost+2.pem'), ['-purpose', 'sslclient']);
    assert.notEqual(serverOnly.code, 0);
    assert.match(serverOnly.stdout + serverOnly.stderr, /unsuitable certificate purpose/);
    assert.equal((await opensslVerify(rootFile, join(box.dir, 'localhost+2.pem'), ['-purpose', 'sslserver'])).code, 0);
  });

  test('a --pkcs12 bundle serves TLS directly (pfx + passphrase)', async () => {
    const run = await cli(box, ['--pkcs12', '--p12-file', 'serve.p12', 'localhost']);
    assert.equal(run.code, 0, run.stderr);
    const server = await serve({ pfx: readFileSync(join(box.dir, 'serve.p12')), passphrase: 'changeit' });
    try {
      assert.equal(await connect({ host: '127.0.0.1', port: server.port, ca: rootPem, servername: 'localhost' }), 'hello anonymous');
    } finally {
      await server.close();
    }
  });

  test('a self-signed certificate is trusted by a client that pins exactly it', async () => {
    const run = await cli(box, ['--self-signed', '--cert-file', 'self.pem', '--key-file', 'self-key.pem', 'localhost']);
    assert.equal(run.code, 0, run.stderr);
    const selfPem = readFileSync(join(box.dir, 'self.pem'), 'utf8');
    const server = await serve({ cert: selfPem, key: readFileSync(join(box.dir, 'self-key.pem')) });
    try {
      assert.equal(await connect({ host: '127.0.0.1', port: server.port, ca: selfPem, servername: 'localhost' }), 'hello anonymous');
      await assert.rejects(connect({ host: '127.0.0.1', port: server.port, ca: rootPem, servername: 'localhost' }));
    } finally {
      await server.close();
    }
  });
});

describe('a name-constrained root (--constrain)', () => {
  let box: Sandbox;
  let rootFile: string;
  before(async () => {
    box = sandbox();
    const run = await cli(box, ['--constrain', 'localhost,*.test,127.0.0.1/8,::1', 'localhost', '127.0.0.1', 'app.test']);
    assert.equal(run.code, 0, run.stderr);
    rootFile = join(box.caroot, 'rootCA.pem');
  });
  after(() => box.cleanup());

  test('the root carries a critical NameConstraints extension with the permitted subtrees', async () => {
    const text = (await opensslText(rootFile)).stdout;
    assert.match(text, /Name Constraints: critical/);
    assert.match(text, /Permitted:\s+DNS:localhost\s+DNS:test\s+IP:127\.0\.0\.0\/255\.0\.0\.0\s+IP:0:0:0:0:0:0:0:1\/FFFF(:FFFF){7}/);
  });

  test('names inside the subtrees verify; the CLI refuses names outside them', async () => {
    const ok = await opensslVerify(rootFile, join(box.dir, 'localhost+2.pem'));
    assert.equal(ok.code, 0, ok.stderr);
    const refused = await cli(box, ['example.com']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /name-constrained .*example\.com would fail verification/);
    const refusedIp = await cli(box, ['10.1.2.3']);
    assert.equal(refusedIp.code, 2);
  });

  test('a leaf for a foreign name signed by the leaked root fails verification in openssl and node:tls', async () => {
    // Simulate a stolen CA key used by hand: bypass the CLI's own check and sign example.com anyway.
    const ca = await loadOrCreateCA(box.caroot, { create: false });
    const forged = await issueCertificate({ ...ca, constraints: undefined }, { names: ['example.com', '127.0.0.1'], keyType: 'ecdsa' });
    writeFileSync(join(box.dir, 'forged.pem'), forged.certPem);
    const verify = await opensslVerify(rootFile, join(box.dir, 'forged.pem'));
    assert.notEqual(verify.code, 0);
    assert.match(verify.stdout + verify.stderr, /permitted subtree violation/);

    const rootPem = readFileSync(rootFile, 'utf8');
    const forgedServer = await serve({ cert: forged.certPem, key: forged.keyPem! });
    const goodServer = await serve({ cert: readFileSync(join(box.dir, 'localhost+2.pem')), key: readFileSync(join(box.dir, 'localhost+2-key.pem')) });
    try {
      await assert.rejects(connect({ host: '127.0.0.1', port: forgedServer.port, ca: rootPem, servername: 'example.com' }), /permitted subtree violation/);
      assert.equal(await connect({ host: '127.0.0.1', port: goodServer.port, ca: rootPem, servername: 'localhost' }), 'hello anonymous');
    } finally {
      await forgedServer.close();
      await goodServer.close();
    }
  });

  test('an IP outside the permitted networks is rejected too; a root with only DNS subtrees excludes every IP', async () => {
    const ca = await loadOrCreateCA(box.caroot, { create: false });
    const forgedIp = await issueCertificate({ ...ca, constraints: undefined }, { names: ['app.test', '192.0.2.7'], keyType: 'ecdsa' });
    writeFileSync(join(box.dir, 'forged-ip.pem'), forgedIp.certPem);
    assert.notEqual((await opensslVerify(rootFile, join(box.dir, 'forged-ip.pem'))).code, 0);

    const dnsOnly = sandbox();
    try {
      const dnsCa = await loadOrCreateCA(dnsOnly.caroot, { constraints: parseConstraints(['.test']) });
      const text = (await opensslText(dnsCa.certFile)).stdout;
      assert.match(text, /Excluded:\s+IP:0\.0\.0\.0\/0\.0\.0\.0\s+IP:0:0:0:0:0:0:0:0\/0:0:0:0:0:0:0:0/);
      const withIp = await issueCertificate({ ...dnsCa, constraints: undefined }, { names: ['a.test', '127.0.0.1'], keyType: 'ecdsa' });
      writeFileSync(join(dnsOnly.dir, 'with-ip.pem'), withIp.certPem);
      const denied = await opensslVerify(dnsCa.certFile, join(dnsOnly.dir, 'with-ip.pem'));
      assert.notEqual(denied.code, 0);
      assert.match(denied.stdout + denied.stderr, /excluded subtree violation/);
      const plain = await issueCertificate(dnsCa, { names: ['a.test'], keyType: 'ecdsa' });
      writeFileSync(join(dnsOnly.dir, 'plain.pem'), plain.certPem);
      assert.equal((await opensslVerify(dnsCa.certFile, join(dnsOnly.dir, 'plain.pem'))).code, 0);
    } finally {
      dnsOnly.cleanup();
    }
  });

  test('asking for different constraints on an existing root explains how to recreate it', async () => {
    const run = await cli(box, ['--constrain', 'localhost', 'localhost']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /already exists with different name constraints.*--uninstall.*delete/s);
    const unconstrained = sandbox();
    try {
      assert.equal((await cli(unconstrained, ['a.test'])).code, 0);
      const late = await cli(unconstrained, ['--constrain', 'default', 'b.test']);
      assert.equal(late.code, 2);
      assert.match(late.stderr, /already exists without name constraints/);
    } finally {
      unconstrained.cleanup();
    }
  });
});
