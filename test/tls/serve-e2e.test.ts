import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { serve } from '../../src/index.js';
import { TestCa, tempDir, run, sClient } from './helpers.js';

/** End to end through serve(): ALPN order, mTLS reaching the handler, reload under a long request. */
describe('TLS through serve()', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ca: TestCa;
  let clientCa: TestCa;
  let serverPair: { certPath: string; keyPath: string };
  let clientPair: { certPath: string; keyPath: string };

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    ca = await TestCa.create(dir);
    clientCa = await TestCa.create(dir, 'client-ca', '/CN=client CA');
    serverPair = await ca.issue('server', { sans: ['DNS:localhost', 'IP:127.0.0.1'] });
    clientPair = await clientCa.issue('alice', { cn: 'alice', clientAuth: true });
  });
  after(() => cleanup());

  async function curl(url: string, extra: string[] = []): Promise<{ body: string; version: string }> {
    const result = await run('curl', ['-s', '--cacert', ca.certPath, '--max-time', '10', '-w', '\n%{http_version}', ...extra, url]);
    const nl = result.stdout.lastIndexOf('\n');
    return { body: result.stdout.slice(0, nl), version: result.stdout.slice(nl + 1) };
  }

  test('ALPN: h2 by default, HTTP/1.1 when alpn puts it first, h2-only refuses HTTP/1.1-only clients', async () => {
    const fetch = () => new Response('ok');
    const tls = { cert: serverPair.certPath, key: serverPair.keyPath, onWarning: () => {} };
    const defaults = serve({ fetch, port: 0, hostname: '127.0.0.1', tls });
    const h1First = serve({ fetch, port: 0, hostname: '127.0.0.1', tls, alpn: ['http/1.1', 'h2'] });
    const h2Only = serve({ fetch, port: 0, hostname: '127.0.0.1', tls, alpn: ['h2'] });
    try {
      await Promise.all([defaults.ready, h1First.ready, h2Only.ready]);
      assert.deepEqual(await curl(`https://127.0.0.1:${defaults.port}/`), { body: 'ok', version: '2' });
      assert.deepEqual(await curl(`https://127.0.0.1:${h1First.port}/`), { body: 'ok', version: '1.1' });
      assert.deepEqual(await curl(`https://127.0.0.1:${h2Only.port}/`), { body: 'ok', version: '2' });
      const refused = await curl(`https://127.0.0.1:${h2Only.port}/`, ['--http1.1']);
      assert.equal(refused.version, '0');
      // openssl s_client with the default profile: h2 by ALPN over TLS 1.3; TLS 1.1 refused.
      const alpn = await sClient(defaults.port, ['-alpn', 'http/1.1,h2']);
      assert.match(alpn.stdout, /ALPN protocol: h2/);
      assert.equal(alpn.protocol, 'TLSv1.3');
      assert.equal((await sClient(defaults.port, ['-tls1_1', '-cipher', 'ALL:@SECLEVEL=0'])).cipher, undefined);
    } finally {
      await Promise.all([defaults.close(0), h1First.close(0), h2Only.close(0)]);
    }
  });

  test('mTLS: the verified client certificate reaches the handler; no certificate, no request', async () => {
    const server = serve({
      port: 0,
      hostname: '127.0.0.1',
      tls: { cert: serverPair.certPath, key: serverPair.keyPath, clientCa: clientCa.certPath, clientCert: 'require', onWarning: () => {} },
      fetch: (_request, info) => new Response(`${info.tls?.authorized} ${info.tls?.clientCertificate?.subject} ${info.tls?.clientCertificateDetails?.subject?.CN}`),
    });
    try {
      await server.ready;
      const url = `https://127.0.0.1:${server.port}/`;
      for (const http of ['--http2', '--http1.1']) {
        const withCert = await curl(url, [http, '--cert', clientPair.certPath, '--key', clientPair.keyPath]);
        assert.equal(withCert.body, 'true CN=alice alice', http);
        const without = await curl(url, [http]);
        assert.equal(without.version, '0', `${http}: ${without.body}`);
        assert.equal(without.body, '');
      }
    } finally {
      await server.close(0);
    }
  });

  test('reload: new connections get the new certificate while a long request on an old connection completes', async () => {
    const live = join(dir, 'live');
    await mkdir(live, { recursive: true });
    const certPath = join(live, 'cert.pem');
    const keyPath = join(live, 'key.pem');
    await copyFile(serverPair.certPath, certPath);
    await copyFile(serverPair.keyPath, keyPath);
    const next = await ca.issue('next', { cn: 'next.localhost', sans: ['DNS:localhost', 'IP:127.0.0.1'] });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const longStarted = new Promise<void>((resolve) => (started = resolve));
    const server = serve({
      port: 0,
      hostname: '127.0.0.1',
      alpn: ['http/1.1'],
      tls: { cert: certPath, key: keyPath, onWarning: () => {} },
      fetch: async (request) => {
        if (new URL(request.url).pathname === '/long') {
          started();
          await released;
          return new Response('long done');
        }
        return new Response('short');
      },
    });
    try {
      await server.ready;
      const caPem = await readFile(ca.certPath);
      const get = (path: string) =>
        new Promise<{ body: string; subject: string }>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port: server.port, path, ca: caPem, agent: false }, (res) => {
            const subject = (res.socket as TLSSocket).getPeerX509Certificate()!.subject;
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ body, subject }));
          });
          req.on('error', reject);
          req.end();
        });
      const long = get('/long');
      await longStarted;
      await copyFile(next.certPath, certPath);
      await copyFile(next.keyPath, keyPath);
      await server.reload();
      assert.deepEqual(await get('/short'), { body: 'short', subject: 'CN=next.localhost' });
      release();
      assert.deepEqual(await long, { body: 'long done', subject: 'CN=localhost' });
    } finally {
      await server.close(0);
    }
  });
});
