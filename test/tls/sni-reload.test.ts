import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { copyFile, readFile } from 'node:fs/promises';
import { connect as netConnect, createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { createTlsProvider, TlsConfigError } from '../../src/tls/index.js';
import { SniTable } from '../../src/tls/sni.js';
import { TestCa, tempDir, startTlsServer, sClient, tlsClient, echo, openssl } from './helpers.js';

describe('SNI table (RFC 6125 wildcards)', () => {
  const table = new SniTable<string>([
    ['api.example.test', 'api'],
    ['*.example.test', 'wild'],
    ['Other.Test.', 'other'],
  ]);
  test('exact beats wildcard, names are case-insensitive, a trailing dot is ignored', () => {
    assert.equal(table.lookup('api.example.test'), 'api');
    assert.equal(table.lookup('API.EXAMPLE.TEST.'), 'api');
    assert.equal(table.lookup('other.test'), 'other');
  });
  test('a wildcard covers exactly one label', () => {
    assert.equal(table.lookup('www.example.test'), 'wild');
    assert.equal(table.lookup('example.test'), undefined);
    assert.equal(table.lookup('a.b.example.test'), undefined);
    assert.equal(table.lookup('*.example.test'), undefined);
  });
  test('property: a wildcard entry matches exactly the names one label deeper than its base', () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 2, maxLength: 4 }), fc.array(label, { minLength: 0, maxLength: 3 }), (base, prefix) => {
        const t = new SniTable<string>([[`*.${base.join('.')}`, 'wild']]);
        const name = [...prefix, ...base].join('.');
        assert.equal(t.lookup(name), prefix.length === 1 ? 'wild' : undefined, name);
      }),
      { numRuns: 500 },
    );
  });
  test('bad patterns are refused', () => {
    assert.throws(() => table.set('a*.example.test', 'x'));
    assert.throws(() => table.set('*.test', 'x'));
    assert.throws(() => table.set('www.*.test', 'x'));
  });
});

describe('SNI and hot reload over real connections', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ca: TestCa;
  let caPem: Buffer;
  let defaultPair: { certPath: string; keyPath: string };
  let apiPair: { certPath: string; keyPath: string };
  let wildPair: { certPath: string; keyPath: string };

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    ca = await TestCa.create(dir);
    caPem = await readFile(ca.certPath);
    defaultPair = await ca.issue('default', { cn: 'default.test', sans: ['DNS:default.test', 'IP:127.0.0.1'] });
    apiPair = await ca.issue('api', { cn: 'api.example.test', sans: ['DNS:api.example.test'] });
    wildPair = await ca.issue('wild', { cn: 'wildcard.example.test', sans: ['DNS:*.example.test'] });
  });
  after(() => cleanup());

  test('SNI picks the certificate by server name, wildcards included, with a default', async () => {
    const provider = await createTlsProvider({
      cert: defaultPair.certPath,
      key: defaultPair.keyPath,
      sni: { 'api.example.test': { cert: apiPair.certPath, key: apiPair.keyPath }, '*.example.test': { cert: wildPair.certPath, key: wildPair.keyPath } },
      onWarning: () => {},
    });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      assert.match((await sClient(srv.port, ['-servername', 'api.example.test'])).subject ?? '', /CN ?= ?api\.example\.test/);
      assert.match((await sClient(srv.port, ['-servername', 'www.example.test'])).subject ?? '', /CN ?= ?wildcard\.example\.test/);
      assert.match((await sClient(srv.port, ['-servername', 'deep.www.example.test'])).subject ?? '', /CN ?= ?default\.test/);
      assert.match((await sClient(srv.port, ['-noservername'])).subject ?? '', /CN ?= ?default\.test/);
      // A Node client with hostname verification on accepts the SNI-chosen certificate.
      const { socket, greeting } = await tlsClient(srv.port, { ca: caPem, servername: 'www.example.test' });
      assert.equal(greeting, 'hello www.example.test');
      socket.destroy();
      assert.match(provider.describe().join('\n'), /SNI \*\.example\.test: CN=wildcard\.example\.test/);
    } finally {
      provider.close();
      await srv.close();
    }
  });

  test('an SNI entry from PKCS#12 (inheriting the passphrase) serves its full chain', async () => {
    const p12Pair = await ca.issue('p12-sni', { cn: 'p12.example.test', sans: ['DNS:p12.example.test'] });
    const p12 = join(ca.dir, 'sni.p12');
    await openssl(['pkcs12', '-export', '-in', p12Pair.certPath, '-inkey', p12Pair.keyPath, '-certfile', ca.certPath, '-passout', 'pass:pw', '-out', p12], ca.dir);
    const provider = await createTlsProvider({ cert: defaultPair.certPath, key: defaultPair.keyPath, passphrase: 'pw', sni: { 'p12.example.test': { pfx: p12 } }, onWarning: () => {} });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      const result = await sClient(srv.port, ['-servername', 'p12.example.test', '-showcerts']);
      assert.match(result.subject ?? '', /CN ?= ?p12\.example\.test/);
      assert.match(result.stdout, / 1 s:CN ?= ?httpsd test CA/);
    } finally {
      provider.close();
      await srv.close();
    }
  });

  test('an SNI certificate whose key type differs from the default is refused (node:tls would serve the default)', async () => {
    const rsaPair = await ca.issue('rsa-sni', { cn: 'rsa.example.test', sans: ['DNS:rsa.example.test'], key: 'rsa' });
    await assert.rejects(
      createTlsProvider({ cert: defaultPair.certPath, key: defaultPair.keyPath, sni: { 'rsa.example.test': { cert: rsaPair.certPath, key: rsaPair.keyPath } }, onWarning: () => {} }),
      (e: unknown) => e instanceof TlsConfigError && e.message.includes('rsa-sni.pem') && /RSA key/.test(e.message) && /ECDSA/.test(e.message),
    );
  });

  test('reload swaps the served certificate; a connection made before keeps working', async () => {
    const live = join(dir, 'live');
    await import('node:fs/promises').then((fs) => fs.mkdir(live, { recursive: true }));
    const certPath = join(live, 'cert.pem');
    const keyPath = join(live, 'key.pem');
    const sniCert = join(live, 'sni.pem');
    const sniKey = join(live, 'sni.key');
    await copyFile(defaultPair.certPath, certPath);
    await copyFile(defaultPair.keyPath, keyPath);
    await copyFile(apiPair.certPath, sniCert);
    await copyFile(apiPair.keyPath, sniKey);
    const next = await ca.issue('next', { cn: 'next.test', sans: ['DNS:next.test', 'IP:127.0.0.1'] });
    const nextApi = await ca.issue('next-api', { cn: 'api.example.test', sans: ['DNS:api.example.test'] });

    const provider = await createTlsProvider({ cert: certPath, key: keyPath, sni: { 'api.example.test': { cert: sniCert, key: sniKey } }, onWarning: () => {} });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      const before = await tlsClient(srv.port, { ca: caPem, checkServerIdentity: () => undefined });
      assert.equal(before.socket.getPeerX509Certificate()!.subject, 'CN=default.test');
      const beforeSni = await tlsClient(srv.port, { ca: caPem, servername: 'api.example.test' });
      const oldApiSerial = beforeSni.socket.getPeerX509Certificate()!.serialNumber;

      await copyFile(next.certPath, certPath);
      await copyFile(next.keyPath, keyPath);
      await copyFile(nextApi.certPath, sniCert);
      await copyFile(nextApi.keyPath, sniKey);
      await provider.reload();

      const after = await tlsClient(srv.port, { ca: caPem, checkServerIdentity: () => undefined });
      assert.equal(after.socket.getPeerX509Certificate()!.subject, 'CN=next.test');
      assert.match((await sClient(srv.port, ['-noservername'])).subject ?? '', /CN ?= ?next\.test/);
      const afterSni = await tlsClient(srv.port, { ca: caPem, servername: 'api.example.test' });
      assert.notEqual(afterSni.socket.getPeerX509Certificate()!.serialNumber, oldApiSerial);
      // Connections opened before the reload are untouched and still carry data.
      assert.equal(await echo(before.socket, 'still here'), 'still here');
      assert.equal(await echo(beforeSni.socket, 'sni too'), 'sni too');
      for (const s of [before, beforeSni, after, afterSni]) s.socket.destroy();

      // A bad new pair: reload rejects with a TlsConfigError naming the file, and the current pair stays in service.
      await copyFile(defaultPair.keyPath, keyPath);
      await assert.rejects(provider.reload(), (e: unknown) => e instanceof TlsConfigError && e.message.includes(keyPath));
      const stillNext = await tlsClient(srv.port, { ca: caPem, checkServerIdentity: () => undefined });
      assert.equal(stillNext.socket.getPeerX509Certificate()!.subject, 'CN=next.test');
      stillNext.socket.destroy();
    } finally {
      provider.close();
      await srv.close();
    }
  });

  test('a handshake in flight during a reload completes with the certificate it started with', async () => {
    const live = join(dir, 'inflight');
    await import('node:fs/promises').then((fs) => fs.mkdir(live, { recursive: true }));
    const certPath = join(live, 'cert.pem');
    const keyPath = join(live, 'key.pem');
    await copyFile(defaultPair.certPath, certPath);
    await copyFile(defaultPair.keyPath, keyPath);
    const next = await ca.issue('inflight-next', { cn: 'inflight-next.test', sans: ['IP:127.0.0.1'] });
    const provider = await createTlsProvider({ cert: certPath, key: keyPath, onWarning: () => {} });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    // A relay that passes the ClientHello to the server but holds the server's flight back until released, so the
    // server has started this handshake (with the old context) when the reload happens.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let serverSpoke!: () => void;
    const serverSpokePromise = new Promise<void>((resolve) => (serverSpoke = resolve));
    const relaySockets: Socket[] = [];
    const relay = createNetServer((client) => {
      const upstream = netConnect(srv.port, '127.0.0.1');
      relaySockets.push(client, upstream);
      client.on('error', () => {});
      upstream.on('error', () => {});
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        serverSpoke();
        void released.then(() => client.write(chunk));
      });
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const pending = tlsClient((relay.address() as { port: number }).port, { ca: caPem, checkServerIdentity: () => undefined });
      await serverSpokePromise;
      await copyFile(next.certPath, certPath);
      await copyFile(next.keyPath, keyPath);
      await provider.reload();
      release();
      const inflight = await pending;
      assert.equal(inflight.socket.getPeerX509Certificate()!.subject, 'CN=default.test');
      assert.equal(await echo(inflight.socket, 'ok'), 'ok');
      inflight.socket.destroy();
      const fresh = await tlsClient(srv.port, { ca: caPem, checkServerIdentity: () => undefined });
      assert.equal(fresh.socket.getPeerX509Certificate()!.subject, 'CN=inflight-next.test');
      fresh.socket.destroy();
    } finally {
      for (const s of relaySockets) s.destroy();
      relay.close();
      provider.close();
      await srv.close();
    }
  });

  test('watch mode reloads after the files change', async () => {
    const live = join(dir, 'watched');
    await import('node:fs/promises').then((fs) => fs.mkdir(live, { recursive: true }));
    const certPath = join(live, 'cert.pem');
    const keyPath = join(live, 'key.pem');
    await copyFile(defaultPair.certPath, certPath);
    await copyFile(defaultPair.keyPath, keyPath);
    const next = await ca.issue('watched-next', { cn: 'watched.test', sans: ['IP:127.0.0.1'] });
    let reloaded!: () => void;
    const reloadedPromise = new Promise<void>((resolve) => (reloaded = resolve));
    const provider = await createTlsProvider({
      cert: certPath,
      key: keyPath,
      watch: true,
      onWarning: (m) => {
        if (/reloaded/.test(m)) reloaded();
      },
    });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      await copyFile(next.certPath, certPath);
      await copyFile(next.keyPath, keyPath);
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no reload within 5 s')), 5000).unref());
      await Promise.race([reloadedPromise, timeout]);
      const c = await tlsClient(srv.port, { ca: caPem, checkServerIdentity: () => undefined });
      assert.equal(c.socket.getPeerX509Certificate()!.subject, 'CN=watched.test');
      c.socket.destroy();
    } finally {
      provider.close();
      await srv.close();
    }
  });
});
