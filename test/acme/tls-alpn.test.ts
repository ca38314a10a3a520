/**
 * The TLS-ALPN-01 hook (RFC 8737) on a real listener, with a challenge pending: a ClientHello offering acme-tls/1
 * for that name gets the challenge certificate and acme-tls/1, and the connection ends with the handshake (the app
 * never sees it); ordinary clients of the same name keep the served certificate; acme-tls/1 for another name is
 * refused (no_application_protocol).
 */
import { strict as assert } from 'node:assert';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import acmeClient from 'acme-client';
import { serve } from '../../src/server/serve.js';
import type { Server } from '../../src/server/types.js';
import type { ManagedCertificates } from '../../src/tls/types.js';
import { makeCertificate } from '../support/certs.js';

const KEY_AUTHORIZATION = 'token-123.thumbprint-456';

interface Outcome {
  alpn: string | false;
  certPem: string;
  serverClosed: boolean;
}

function connect(port: number, servername: string, protocols: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ALPNProtocols: protocols, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate()!;
      const alpn = socket.alpnProtocol ?? false;
      // RFC 8737 §3: the server ends an acme-tls/1 connection after the handshake; an http/1.1 one waits for a request.
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ alpn, certPem: cert.toString(), serverClosed: false });
      }, 1000);
      socket.on('end', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ alpn, certPem: cert.toString(), serverClosed: true });
      });
      socket.resume();
    });
    socket.setTimeout(20_000, () => socket.destroy(new Error('timed out')));
    socket.on('error', reject);
  });
}

describe('TLS-ALPN-01 on the TLS port', { timeout: 60_000 }, () => {
  let server: Server;
  let challengeCert: string;
  const requests: string[] = [];

  before(async () => {
    const authz = { identifier: { type: 'dns', value: 'x.test' } } as unknown as acmeClient.Authorization;
    const [key, cert] = await acmeClient.crypto.createAlpnCertificate(authz, KEY_AUTHORIZATION, await acmeClient.crypto.createPrivateEcdsaKey());
    challengeCert = cert.toString();
    const managed: ManagedCertificates = {
      tlsAlpnCertificate: (name) => (name === 'x.test' ? { cert: challengeCert, key: key.toString() } : undefined),
      bind: () => () => {},
    };
    const served = makeCertificate();
    server = serve({
      port: 0,
      hostname: '127.0.0.1',
      tls: { cert: served.cert, key: served.key, managed },
      fetch: (request) => {
        requests.push(request.url);
        return new Response('app');
      },
    });
    await server.ready;
  });

  after(() => server.close(0));

  it('answers acme-tls/1 with the challenge certificate (acmeIdentifier extension) and closes', async () => {
    const outcome = await connect(server.port, 'x.test', ['acme-tls/1']);
    assert.equal(outcome.alpn, 'acme-tls/1');
    assert.equal(outcome.certPem.trim(), challengeCert.trim());
    assert.ok(acmeClient.crypto.isAlpnCertificateAuthorizationValid(outcome.certPem, KEY_AUTHORIZATION), 'id-pe-acmeIdentifier holds SHA-256(key authorization)');
    assert.equal(outcome.serverClosed, true);
    assert.deepEqual(requests, []);
  });

  it('keeps ordinary clients of the same name on the served certificate while the challenge is pending', async () => {
    const outcome = await connect(server.port, 'x.test', ['h2', 'http/1.1']);
    assert.equal(outcome.alpn, 'h2');
    assert.notEqual(outcome.certPem.trim(), challengeCert.trim());
    assert.equal(outcome.serverClosed, false);
  });

  it('refuses acme-tls/1 for a name without a pending challenge', async () => {
    await assert.rejects(connect(server.port, 'y.test', ['acme-tls/1']), /no_application_protocol|alert number 120/i);
    assert.deepEqual(requests, []);
  });
});
