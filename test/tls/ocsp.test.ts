import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import fc from 'fast-check';
import { X509Certificate } from 'node:crypto';
import { createTlsProvider } from '../../src/tls/index.js';
import { buildOcspRequest, parseOcspResponse } from '../../src/tls/ocsp.js';
import { TestCa, tempDir, startTlsServer, sClient, freePort, openssl } from './helpers.js';

/**
 * An OCSP responder on 127.0.0.1: a node:http server that answers each POST with `openssl ocsp` run on the request
 * (signed by the test CA from its index.txt), and counts the requests so caching can be checked.
 */
async function startResponder(ca: TestCa): Promise<{ server: Server; port: number; requests: () => number }> {
  let count = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      count++;
      const n = count;
      try {
        await writeFile(join(ca.dir, `req-${n}.der`), Buffer.concat(chunks));
        await openssl(['ocsp', '-index', 'index.txt', '-CA', 'ca.pem', '-rsigner', 'ca.pem', '-rkey', 'ca.key', '-ndays', '1', '-reqin', `req-${n}.der`, '-respout', `resp-${n}.der`], ca.dir);
        const body = await readFile(join(ca.dir, `resp-${n}.der`));
        res.writeHead(200, { 'content-type': 'application/ocsp-response', 'content-length': body.length });
        res.end(body);
      } catch (error) {
        res.writeHead(500);
        res.end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, requests: () => count };
}

describe('OCSP stapling against an openssl ocsp responder', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let ca: TestCa;
  let responder: Awaited<ReturnType<typeof startResponder>>;
  let responderPort: number;

  before(async () => {
    ({ dir, cleanup } = await tempDir());
    ca = await TestCa.create(dir);
    responder = await startResponder(ca);
    responderPort = responder.port;
  });
  after(async () => {
    await new Promise((resolve) => responder.server.close(resolve));
    await cleanup();
  });

  async function chainFor(base: string, ocspUrl?: string): Promise<{ chain: string; key: string }> {
    const pair = await ca.issue(base, { sans: ['DNS:localhost'], ocspUrl });
    const chain = join(ca.dir, `${base}-chain.pem`);
    await writeFile(chain, (await readFile(pair.certPath, 'utf8')) + (await readFile(ca.certPath, 'utf8')));
    return { chain, key: pair.keyPath };
  }

  test('a good status is stapled; a certificate without a responder gets none', async () => {
    const good = await chainFor('good', `http://127.0.0.1:${responderPort}`);
    const plain = await chainFor('plain');
    const warnings: string[] = [];
    for (const [pair, expectStaple] of [[good, true], [plain, false]] as const) {
      const provider = await createTlsProvider({ cert: pair.chain, key: pair.key, onWarning: (m) => warnings.push(m) });
      const srv = await startTlsServer(provider.serverOptions);
      provider.attach(srv.server);
      try {
        await provider.refreshOcsp();
        const result = await sClient(srv.port, ['-status', '-servername', 'localhost']);
        assert.equal(result.protocol, 'TLSv1.3');
        if (expectStaple) {
          assert.match(result.stdout, /OCSP Response Status: successful/);
          assert.match(result.stdout, /Cert Status: good/);
          // Cached until nextUpdate: further handshakes do not ask the responder again.
          const asked = responder.requests();
          assert.match((await sClient(srv.port, ['-status'])).stdout, /Cert Status: good/);
          assert.equal(responder.requests(), asked);
          assert.match(provider.describe().join('\n'), /OCSP stapling from http:\/\/127\.0\.0\.1/);
        } else {
          assert.match(result.stdout, /OCSP response: no response sent/);
        }
      } finally {
        provider.close();
        await srv.close();
      }
    }
    assert.deepEqual(warnings, []);
  });

  test('a reload to a certificate naming a responder starts stapling; one naming none removes the OCSP listener', async () => {
    const good = await chainFor('reload-good', `http://127.0.0.1:${responderPort}`);
    const plain = await chainFor('reload-plain');
    const certPath = join(dir, 'reload-cert.pem');
    const keyPath = join(dir, 'reload-key.pem');
    const use = async (pair: { chain: string; key: string }) => {
      await writeFile(certPath, await readFile(pair.chain));
      await writeFile(keyPath, await readFile(pair.key));
    };
    await use(plain);
    const provider = await createTlsProvider({ cert: certPath, key: keyPath, onWarning: () => {} });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      // Nothing to staple: no listener, so node:tls does not stop each handshake to ask for a response.
      assert.equal(srv.server.listenerCount('OCSPRequest'), 0);
      assert.match((await sClient(srv.port, ['-status'])).stdout, /OCSP response: no response sent/);
      await use(good);
      await provider.reload();
      await provider.refreshOcsp();
      assert.equal(srv.server.listenerCount('OCSPRequest'), 1);
      assert.match((await sClient(srv.port, ['-status'])).stdout, /Cert Status: good/);
      await use(plain);
      await provider.reload();
      assert.equal(srv.server.listenerCount('OCSPRequest'), 0);
      assert.match((await sClient(srv.port, ['-status'])).stdout, /OCSP response: no response sent/);
    } finally {
      provider.close();
      await srv.close();
    }
    assert.equal(srv.server.listenerCount('OCSPRequest'), 0);
  });

  test('the OCSP request is byte-identical to the one `openssl ocsp -no_nonce` builds', async () => {
    const leaf = await ca.issue('reqcheck', { sans: ['DNS:localhost'] });
    await openssl(['ocsp', '-issuer', 'ca.pem', '-cert', leaf.certPath, '-no_nonce', '-reqout', 'openssl-req.der'], ca.dir);
    const expected = await readFile(join(ca.dir, 'openssl-req.der'));
    const ours = buildOcspRequest(new X509Certificate(await readFile(leaf.certPath)).raw, new X509Certificate(await readFile(ca.certPath)).raw);
    assert.equal(ours.toString('hex'), expected.toString('hex'));
  });

  test('the response parser throws (never hangs or misreads) on corrupted responses', async () => {
    const leaf = await ca.issue('fuzz', { sans: ['DNS:localhost'] });
    const leafDer = new X509Certificate(await readFile(leaf.certPath)).raw;
    await writeFile(join(ca.dir, 'fuzz-req.der'), buildOcspRequest(leafDer, new X509Certificate(await readFile(ca.certPath)).raw));
    await openssl(['ocsp', '-index', 'index.txt', '-CA', 'ca.pem', '-rsigner', 'ca.pem', '-rkey', 'ca.key', '-ndays', '1', '-reqin', 'fuzz-req.der', '-respout', 'fuzz-resp.der'], ca.dir);
    const response = await readFile(join(ca.dir, 'fuzz-resp.der'));
    const info = parseOcspResponse(response);
    assert.equal(info.responseStatus, 0);
    assert.equal(info.certStatus, 'good');
    assert.ok(info.nextUpdate && info.thisUpdate && info.nextUpdate.getTime() - info.thisUpdate.getTime() === 86_400_000);
    fc.assert(
      fc.property(fc.nat(response.length - 1), fc.integer({ min: 0, max: 255 }), fc.boolean(), (index, byte, truncate) => {
        const corrupted = truncate ? response.subarray(0, index) : Buffer.from(response);
        if (!truncate) corrupted[index] = byte;
        try {
          const parsed = parseOcspResponse(corrupted);
          // Surviving corruption (e.g. inside the signature) must still describe a plausible response.
          assert.ok(parsed.responseStatus >= 0 && parsed.responseStatus <= 255);
        } catch (error) {
          assert.ok(error instanceof Error);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('PKCS#12 without a prefetch: the first handshake fetches (issuer from OpenSSL) and gets the staple', async () => {
    const leaf = await ca.issue('p12-ocsp', { sans: ['DNS:localhost'], ocspUrl: `http://127.0.0.1:${responderPort}` });
    const p12 = join(ca.dir, 'ocsp.p12');
    await openssl(['pkcs12', '-export', '-in', leaf.certPath, '-inkey', leaf.keyPath, '-certfile', 'ca.pem', '-passout', 'pass:pw', '-out', p12], ca.dir);
    const provider = await createTlsProvider({ pfx: p12, passphrase: 'pw', onWarning: () => {} });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      const before = responder.requests();
      const result = await sClient(srv.port, ['-status']);
      assert.match(result.stdout, /Cert Status: good/);
      assert.equal(responder.requests(), before + 1);
    } finally {
      provider.close();
      await srv.close();
    }
  });

  test('a revoked status is stapled too, with a loud warning', async () => {
    const revoked = await chainFor('revoked', `http://127.0.0.1:${responderPort}`);
    await openssl(['ca', '-config', 'openssl.cnf', '-revoke', 'revoked.pem', '-cert', 'ca.pem', '-keyfile', 'ca.key'], ca.dir);
    const warnings: string[] = [];
    const provider = await createTlsProvider({ cert: revoked.chain, key: revoked.key, onWarning: (m) => warnings.push(m) });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      await provider.refreshOcsp();
      const result = await sClient(srv.port, ['-status']);
      assert.match(result.stdout, /Cert Status: revoked/);
      assert.ok(warnings.some((w) => /REVOKED/.test(w)), warnings.join('\n'));
    } finally {
      provider.close();
      await srv.close();
    }
  });

  test('an unreachable responder never fails the handshake', async () => {
    const deadPort = await freePort();
    const dead = await chainFor('dead', `http://127.0.0.1:${deadPort}`);
    const warnings: string[] = [];
    const provider = await createTlsProvider({ cert: dead.chain, key: dead.key, onWarning: (m) => warnings.push(m) });
    const srv = await startTlsServer(provider.serverOptions);
    provider.attach(srv.server);
    try {
      await provider.refreshOcsp();
      const result = await sClient(srv.port, ['-status']);
      assert.equal(result.protocol, 'TLSv1.3');
      assert.match(result.stdout, /OCSP response: no response sent/);
      assert.ok(warnings.some((w) => /OCSP stapling: .*serving without a staple/.test(w)), warnings.join('\n'));
    } finally {
      provider.close();
      await srv.close();
    }
  });
});
