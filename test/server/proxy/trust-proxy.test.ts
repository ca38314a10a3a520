import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, h1Request, h2Request, connectH2, readUntil, waitFor, type TestServer } from '../../support/server.js';
import { serve } from '../../../src/server/serve.js';
import { echoInfo, h1Json, proxyV1, tlsWithHeader } from './proxy-client.js';

const logLines: string[] = [];
let trusting: TestServer;
let distrusting: TestServer;
let behindProxyProtocol: TestServer;

const servers = (async () => {
  const log = { accessLog: (line: string) => logLines.push(line), accessLogFormat: 'common' as const, http3: false };
  trusting = await startServer(echoInfo, { trustProxy: 'loopback', ...log });
  // The test clients connect from 127.0.0.1, which this list does not trust.
  distrusting = await startServer(echoInfo, { trustProxy: ['10.0.0.0/8', 'private'], ...log });
  behindProxyProtocol = await startServer(echoInfo, { trustProxy: 'private', proxyProtocol: true, ...log });
})();
after(async () => {
  await servers;
  await Promise.all([trusting.close(), distrusting.close(), behindProxyProtocol.close()]);
});

const json = (body: Buffer) => JSON.parse(body.toString('utf8')) as Record<string, unknown>;

test('X-Forwarded-For/-Proto/-Host from a trusted peer (HTTP/1.1): client address, request.url and the access log follow them', async () => {
  await servers;
  const result = await h1Request(trusting.origin, {
    path: '/path?q=1',
    headers: { 'x-forwarded-for': '1.1.1.1, 198.51.100.9, 127.0.0.5', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'app.example.com' },
  });
  const info = json(result.body);
  assert.deepEqual(
    [info.remoteAddress, info.remotePort, info.peerAddress, info.url, info.scheme],
    ['198.51.100.9', 0, '127.0.0.1', 'http://app.example.com/path?q=1', 'https'],
  );
  assert.equal(typeof info.peerPort, 'number');
  await waitFor(() => logLines.some((line) => line.startsWith('198.51.100.9 - - [') && line.includes('"GET /path?q=1 HTTP/1.1" 200')), 'the access log line naming the client');
});

test('RFC 7239 Forwarded from a trusted peer (HTTP/2): wins over X-Forwarded-*; proto and host of the client\'s element', async () => {
  await servers;
  const session = connectH2(trusting.origin);
  try {
    const result = await h2Request(session, {
      ':path': '/fwd',
      forwarded: 'for=192.0.2.60;proto=http;host=spoof.example, for="[2001:db8::60]:4711";proto=https;host="shop.example:8443", for=127.0.0.2',
      'x-forwarded-for': '203.0.113.1',
    });
    const info = json(result.body);
    assert.deepEqual([info.remoteAddress, info.remotePort, info.url, info.protocol], ['2001:db8::60', 4711, 'https://shop.example:8443/fwd', 'h2']);
  } finally {
    session.close();
  }
});

test('forwarding fields from an untrusted peer are ignored', async () => {
  await servers;
  for (const headers of [{ 'x-forwarded-for': '198.51.100.9', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example' }, { forwarded: 'for=198.51.100.9;proto=http;host=evil.example' }]) {
    const result = await h1Request(distrusting.origin, { path: '/x', headers });
    const info = json(result.body);
    assert.deepEqual([info.remoteAddress, info.peerAddress, info.url], ['127.0.0.1', '127.0.0.1', `${distrusting.origin}/x`], JSON.stringify(headers));
  }
});

test('malformed forwarding fields from a trusted peer are ignored, never a 500', async () => {
  await servers;
  for (const headers of [{ 'x-forwarded-for': '198.51.100.9, not-an-ip' }, { forwarded: 'for=198.51.100.9;for=1.2.3.4' }, { 'x-forwarded-host': 'a/b', 'x-forwarded-proto': 'gopher' }]) {
    const result = await h1Request(trusting.origin, { path: '/m', headers });
    assert.equal(result.status, 200);
    const info = json(result.body);
    assert.deepEqual([info.remoteAddress, info.url], ['127.0.0.1', `${trusting.origin}/m`], JSON.stringify(headers));
  }
  assert.equal(trusting.errors.length, 0);
});

test('with the PROXY protocol, the header\'s client is the peer that trust-proxy decisions are about', async () => {
  await servers;
  // The load balancer says the connection came from 10.0.0.5 (a trusted private address), which forwarded for 198.51.100.9.
  const trustedHop = await h1Json(await tlsWithHeader(behindProxyProtocol.port, proxyV1('TCP4', '10.0.0.5', '192.0.2.1', 3000, 443), ['http/1.1']), '/', {
    'x-forwarded-for': '198.51.100.9',
  });
  assert.deepEqual([trustedHop.remoteAddress, trustedHop.peerAddress, trustedHop.peerPort], ['198.51.100.9', '10.0.0.5', 3000]);
  // A public client's own X-Forwarded-For is not believed.
  const publicClient = await h1Json(await tlsWithHeader(behindProxyProtocol.port, proxyV1('TCP4', '198.51.100.1', '192.0.2.1', 3001, 443), ['http/1.1']), '/', {
    'x-forwarded-for': '203.0.113.99',
  });
  assert.deepEqual([publicClient.remoteAddress, publicClient.peerAddress], ['198.51.100.1', '198.51.100.1']);
});

test('serve() refuses a trustProxy entry that is not an address, a range or a keyword', () => {
  assert.throws(() => serve({ fetch: echoInfo, port: 0, trustProxy: 'loopback, example.com' }), /trustProxy entry "example.com"/);
});

test('a WebSocket opened through a proxy reports the client as ws.remoteAddress (PROXY header, forwarding fields)', async () => {
  const opened: [string, number][] = [];
  const server = await startServer((request, info) => info.upgradeWebSocket!(request), {
    trustProxy: 'private',
    proxyProtocol: true,
    http3: false,
    websocket: {
      open(ws) {
        opened.push([ws.remoteAddress, ws.remotePort]);
        ws.close(1000);
      },
    },
  });
  try {
    const handshake = async (header: Buffer, extra: string) => {
      const socket = await tlsWithHeader(server.port, header, ['http/1.1']);
      socket.write(
        'GET /ws HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\n' +
          `sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n${extra}\r\n`,
      );
      const response = await readUntil(socket, (text) => text.includes('\r\n\r\n'));
      assert.match(response, /^HTTP\/1\.1 101 /);
      socket.destroy();
    };
    await handshake(proxyV1('TCP4', '198.51.100.1', '192.0.2.1', 7001, 443), '');
    await handshake(proxyV1('TCP4', '10.0.0.5', '192.0.2.1', 7002, 443), 'x-forwarded-for: 198.51.100.77\r\n');
    await waitFor(() => opened.length === 2, 'both WebSockets opened');
    assert.deepEqual(opened, [
      ['198.51.100.1', 7001],
      ['198.51.100.77', 0],
    ]);
  } finally {
    await server.close();
  }
});
