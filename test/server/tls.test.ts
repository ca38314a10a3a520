import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate, makeClientCertificate } from '../support/certs.js';
import { h2Request, startServer } from '../support/server.js';

function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
      resolve(socket.getPeerX509Certificate()!.fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

describe('TLS facts and certificate management through serve()', () => {
  test('mTLS: the verified client certificate reaches info.tls; SNI name and ALPN too', async () => {
    const client = makeClientCertificate('alice');
    const server = await startServer(
      (_request, info) =>
        Response.json({
          authorized: info.tls?.authorized,
          subject: info.tls?.clientCertificate?.subject ?? null,
          servername: info.tls?.servername,
          alpn: info.tls?.alpn,
        }),
      { tls: { cert: makeCertificate().cert, key: makeCertificate().key, clientCa: client.ca.cert, clientCert: 'request' } },
    );
    try {
      const withCert = http2.connect(`https://localhost:${server.port}`, {
        rejectUnauthorized: false,
        cert: client.cert,
        key: client.key,
        servername: 'localhost',
        host: '127.0.0.1',
      } as http2.SecureClientSessionOptions);
      withCert.on('error', () => {});
      const data = JSON.parse((await h2Request(withCert, { ':path': '/' })).body.toString());
      withCert.close();
      assert.equal(data.authorized, true);
      assert.match(data.subject, /CN=alice/);
      assert.equal(data.servername, 'localhost');
      assert.equal(data.alpn, 'h2');

      const without = http2.connect(`https://127.0.0.1:${server.port}`, { rejectUnauthorized: false });
      without.on('error', () => {});
      const anonymous = JSON.parse((await h2Request(without, { ':path': '/' })).body.toString());
      without.close();
      assert.equal(anonymous.authorized, false);
      assert.equal(anonymous.subject, null);
    } finally {
      await server.close();
    }
  });

  test('reload() serves a replaced certificate to new connections', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'httpsd-reload-'));
    const first = makeCertificate();
    const second = makeCertificate('localhost.test');
    copyFileSync(first.certFile, join(dir, 'cert.pem'));
    copyFileSync(first.keyFile, join(dir, 'key.pem'));
    const server = await startServer(() => new Response('ok'), { tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } });
    try {
      const before = await peerFingerprint(server.port);
      copyFileSync(second.certFile, join(dir, 'cert.pem'));
      copyFileSync(second.keyFile, join(dir, 'key.pem'));
      await server.server.reload();
      const after = await peerFingerprint(server.port);
      assert.notEqual(before, after);
      assert.equal(after, new (await import('node:crypto')).X509Certificate(second.cert).fingerprint256);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ALPN order is the server’s: ["http/1.1", "h2"] picks http/1.1 for a client offering both', async () => {
    const server = await startServer((_request, info) => new Response(info.protocol), { alpn: ['http/1.1', 'h2'] });
    try {
      const protocol = await new Promise<string | false>((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
          resolve(socket.alpnProtocol ?? false);
          socket.destroy();
        });
        socket.on('error', reject);
      });
      assert.equal(protocol, 'http/1.1');
    } finally {
      await server.close();
    }
  });
});
