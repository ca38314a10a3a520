import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { startServer, h1Request, sleep, waitFor, PATIENCE_MS, type TestServer } from '../../support/server.js';
import {
  closedByServer,
  connectWithHeader,
  echoInfo,
  h1Json,
  proxyV1,
  proxyV2,
  tlsWithHeader,
  tlsWithHeaderInOneWrite,
} from './proxy-client.js';

/** An HTTP/2 request over an already connected socket (TLS with ALPN h2, or cleartext for h2c); the JSON body. */
async function h2Json(socket: net.Socket, authority: string): Promise<Record<string, unknown>> {
  const session = http2.connect(authority, { createConnection: () => socket });
  session.on('error', () => {});
  try {
    const stream = session.request({ ':path': '/h2' });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  } finally {
    session.close();
  }
}

const logLines: string[] = [];
let secure: TestServer;
let clear: TestServer;

const servers = (async () => {
  secure = await startServer(echoInfo, { proxyProtocol: true, http3: false, accessLog: (line) => logLines.push(line), accessLogFormat: 'short' });
  clear = await startServer(echoInfo, { proxyProtocol: true, tls: false, accessLog: (line) => logLines.push(line), accessLogFormat: 'short' });
})();
after(async () => {
  await servers;
  await Promise.all([secure.close(), clear.close()]);
});

test('PROXY v1 over TLS, HTTP/1.1: the header names the client (info and access log); the header and the ClientHello may share a write', async () => {
  await servers;
  for (const connect of [tlsWithHeader, tlsWithHeaderInOneWrite]) {
    const socket = await connect(secure.port, proxyV1('TCP4', '203.0.113.7', '192.0.2.1', 56324, 443), ['http/1.1']);
    const info = await h1Json(socket, '/v1');
    assert.deepEqual(
      [info.remoteAddress, info.remotePort, info.peerAddress, info.localAddress, info.localPort, info.protocol, info.scheme],
      ['203.0.113.7', 56324, '203.0.113.7', '192.0.2.1', 443, 'http/1.1', 'https'],
    );
  }
  await waitFor(() => logLines.some((line) => line.startsWith('203.0.113.7 "GET /v1 HTTP/1.1" 200')), 'the access log line for the proxied client');
});

test('PROXY v2 over TLS, HTTP/2 (IPv6 client, TLVs); LOCAL keeps the real peer', async () => {
  await servers;
  const header = proxyV2({ source: '2001:db8::7', destination: '2001:db8::1', sourcePort: 40000, destinationPort: 8443, tlvs: [[0x01, Buffer.from('h2')]] });
  for (const connect of [tlsWithHeader, tlsWithHeaderInOneWrite]) {
    const socket = await connect(secure.port, header, ['h2']);
    assert.equal(socket.alpnProtocol, 'h2');
    const info = await h2Json(socket, secure.origin);
    assert.deepEqual([info.remoteAddress, info.remotePort, info.localAddress, info.protocol], ['2001:db8::7', 40000, '2001:db8::1', 'h2']);
  }
  const local = await tlsWithHeader(secure.port, proxyV2({ command: 'LOCAL' }), ['h2']);
  const info = await h2Json(local, secure.origin);
  assert.deepEqual([info.remoteAddress, info.localPort], ['127.0.0.1', secure.port]);
  await waitFor(() => logLines.some((line) => line.startsWith('2001:db8::7 "GET /h2 HTTP/2.0" 200')), 'the access log line for the IPv6 client');
});

test('PROXY v1 and v2 on the cleartext listener: HTTP/1.1 (request in the same write as the header) and h2c', async () => {
  await servers;
  const header = proxyV1('TCP4', '198.51.100.20', '192.0.2.1', 1234, 80);
  const socket = await connectWithHeader(clear.port, Buffer.concat([header, Buffer.from('GET /same-write HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n')]));
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.equal((JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { remoteAddress: string }).remoteAddress, '198.51.100.20');
  const v1 = await h1Json(await connectWithHeader(clear.port, header), '/');
  assert.deepEqual([v1.remoteAddress, v1.remotePort, v1.scheme, v1.url], ['198.51.100.20', 1234, 'http', 'http://localhost/']);
  const h2c = await h2Json(await connectWithHeader(clear.port, proxyV2({ source: '198.51.100.21', destination: '192.0.2.1', sourcePort: 5, destinationPort: 80 })), clear.origin);
  assert.deepEqual([h2c.remoteAddress, h2c.protocol], ['198.51.100.21', 'h2c']);
});

test('connections without a valid PROXY header are closed; the server stays up and serves the next client', async () => {
  await servers;
  const bad = [
    Buffer.from('GET / HTTP/1.1\r\nhost: localhost\r\n\r\n'),
    Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n'),
    Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'),
    Buffer.from('PROXY ' + 'x'.repeat(200)),
    proxyV2({ source: '1.2.3.4', destination: '5.6.7.8', sourcePort: 1, destinationPort: 2, rawTlvs: Buffer.from([0x01, 0x00, 0x09]) }),
    Buffer.concat([proxyV2().subarray(0, 12), Buffer.from([0x11, 0x11, 0xff, 0xff])]),
  ];
  for (const server of [secure, clear]) {
    for (const bytes of bad) {
      const socket = await connectWithHeader(server.port, bytes);
      await closedByServer(socket);
    }
  }
  // A TLS client that sends no header at all: its ClientHello is not a PROXY header.
  const plainTls = tls.connect({ host: '127.0.0.1', port: secure.port, rejectUnauthorized: false });
  await assert.rejects(new Promise((resolve, reject) => plainTls.once('secureConnect', resolve).once('error', reject).once('close', () => reject(new Error('closed')))));
  // A plain cleartext client too.
  await assert.rejects(h1Request(`http://127.0.0.1:${clear.port}`));
  const info = await h1Json(await tlsWithHeader(secure.port, proxyV1('TCP4', '203.0.113.9', '192.0.2.1', 1, 443), ['http/1.1']));
  assert.equal(info.remoteAddress, '203.0.113.9');
  assert.equal(secure.errors.length + clear.errors.length, 0);
  await waitFor(() => secure.server.stats().connections === 0 && clear.server.stats().connections === 0, 'every refused connection released');
});

test('a client that sends nothing, or half a header, is closed at limits.headersTimeout', async () => {
  // The short timeout only bounds how long this test waits; nothing here measures it.
  const server = await startServer(echoInfo, { proxyProtocol: true, http3: false, limits: { headersTimeout: 200 } });
  const cleartext = await startServer(echoInfo, { proxyProtocol: true, tls: false, limits: { headersTimeout: 200 } });
  try {
    for (const port of [server.port, cleartext.port]) {
      await closedByServer(await connectWithHeader(port, Buffer.alloc(0)));
      await closedByServer(await connectWithHeader(port, Buffer.from('PROXY TCP4 1.2.')));
      await closedByServer(await connectWithHeader(port, proxyV2({ source: '1.2.3.4', destination: '5.6.7.8', sourcePort: 1, destinationPort: 2 }).subarray(0, 20)));
    }
    await waitFor(() => server.server.stats().connections === 0 && cleartext.server.stats().connections === 0, 'the silent connections released');
  } finally {
    await Promise.all([server.close(), cleartext.close()]);
  }
});

test('close() does not wait for connections still owing their PROXY header', async () => {
  // No header timeout at all: only shutdown can end these connections (else close() would never resolve).
  const server = await startServer(echoInfo, { proxyProtocol: true, http3: false, httpPort: 0, limits: { headersTimeout: 0 } });
  const silent = await connectWithHeader(server.port, Buffer.alloc(0));
  const half = await connectWithHeader(server.httpPort!, Buffer.from('PROXY TCP4 '));
  await waitFor(() => server.server.stats().connections === 2, 'both connections accepted');
  const closed = await Promise.race([server.server.close(1000).then(() => true), sleep(PATIENCE_MS).then(() => false)]);
  if (!closed) {
    // Let the server finish closing before failing, so the test process can exit.
    silent.destroy();
    half.destroy();
    assert.fail('close() waited for connections that never sent their PROXY header');
  }
  await Promise.all([closedByServer(silent), closedByServer(half)]);
});
