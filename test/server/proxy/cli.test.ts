import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeCertificate } from '../../support/certs.js';
import { REPO_ROOT, runCli, startCli } from '../../support/cli.js';
import { h1Request, waitFor } from '../../support/server.js';
import { closedByServer, connectWithHeader, h1Json, proxyV1, proxyV2, tlsWithHeader } from './proxy-client.js';

const ECHO_APP = join(REPO_ROOT, 'test/server/proxy/fixtures/echo-info.mjs');

test('--help lists --trust-proxy and --proxy-protocol; a bad --trust-proxy entry is a usage error', async () => {
  const help = await runCli(['--help'], { build: true });
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /Behind a proxy or load balancer:/);
  assert.match(help.stdout, /--trust-proxy ADDRESSES/);
  assert.match(help.stdout, /--proxy-protocol/);
  const bad = await runCli([ECHO_APP, '--trust-proxy', 'loopback,proxy.internal', '--port', '0'], { build: true });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--trust-proxy loopback,proxy\.internal: entry "proxy\.internal" is not an IP address/);
});

test('the built CLI with --proxy-protocol --trust-proxy loopback: PROXY headers on both listeners, forwarded clients, access log', async () => {
  const certificate = makeCertificate();
  const cli = await startCli(
    [ECHO_APP, '--cert', certificate.certFile, '--key', certificate.keyFile, '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--no-http3', '--proxy-protocol', '--trust-proxy', 'loopback', '--access-log', 'short'],
    { build: true },
  );
  try {
    // Cleartext: the load balancer (PROXY header) says 127.0.0.9, a trusted loopback address, which forwarded for 198.51.100.9.
    const forwarded = await h1Json(await connectWithHeader(cli.httpPort!, proxyV1('TCP4', '127.0.0.9', '127.0.0.1', 5000, 80)), '/fwd', {
      'x-forwarded-for': '198.51.100.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'app.example.com',
    });
    assert.deepEqual([forwarded.remoteAddress, forwarded.peerAddress, forwarded.url], ['198.51.100.9', '127.0.0.9', 'https://app.example.com/fwd']);
    // TLS: a public client named by a v2 header; its own X-Forwarded-For is not believed.
    const direct = await h1Json(await tlsWithHeader(cli.port, proxyV2({ source: '203.0.113.5', destination: '192.0.2.1', sourcePort: 6000, destinationPort: 443 }), ['http/1.1']), '/tls', {
      'x-forwarded-for': '10.9.9.9',
    });
    assert.deepEqual([direct.remoteAddress, direct.remotePort, direct.peerAddress], ['203.0.113.5', 6000, '203.0.113.5']);
    // Without a header: closed, and the server goes on.
    await assert.rejects(h1Request(`http://127.0.0.1:${cli.httpPort}`));
    await closedByServer(await connectWithHeader(cli.port, Buffer.from('PROXY TCP4 nonsense\r\n')));
    await waitFor(() => /^198\.51\.100\.9 "GET \/fwd HTTP\/1\.1" 200/m.test(cli.stdout()) && /^203\.0\.113\.5 "GET \/tls HTTP\/1\.1" 200/m.test(cli.stdout()), 'access log lines naming the clients');
  } finally {
    assert.equal(await cli.stop(), 0);
  }
});
