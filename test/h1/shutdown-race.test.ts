/**
 * Graceful shutdown and an HTTP/1.1 connection whose first request is still on its way.
 *
 * A client opens a connection, completes the TLS handshake and sends its first request; if the server starts its
 * graceful shutdown before it has read that request (on a busy machine the bytes can sit in the socket buffer for a
 * while), the request is in flight as far as the client knows. HTTP/2 covers this race with the two-step GOAWAY
 * (RFC 9113 §6.8); on HTTP/1.1 the server has to give a connection that has not delivered its first request a grace
 * period instead of closing it as idle (Go's net/http treats such a connection as idle only after 5 s, golang/go#22682).
 * The test makes the race deterministic: the request is written only after close() has begun.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { startServer, waitFor } from '../support/server.js';
import { closedWithin, collectText } from '../attacks/lib/raw-client.js';

test(
  'shutdown: a connection accepted before close() whose first request arrives after it is answered with connection: close',
  // Before the fix the server ended such a connection at once (H1Connection.shutdown() and closeIdleConnections()
  // treated "no request yet" as idle): under load, in-flight HTTP/1.1 requests of a SIGTERMed server got ECONNRESET.
  {},
  async () => {
    const server = await startServer(() => new Response('ok'));
    const socket = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => {});
    let closing: Promise<void> | undefined;
    try {
      await new Promise((resolve) => socket.once('secureConnect', resolve));
      // The server has accepted and tracks the connection (a count, not a guess at how long that takes).
      await waitFor(() => server.server.stats().h1Connections === 1, 'the server to track the connection', 30_000);
      const received = collectText(socket);
      closing = server.server.close(30_000);
      socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await closedWithin(socket, 30_000);
      assert.match(received.text(), /^HTTP\/1\.1 200 /, `the request in flight was not answered: ${JSON.stringify(received.text().slice(0, 80))}`);
      assert.match(received.text(), /\r\nconnection: close\r\n/i);
      assert.match(received.text(), /\r\n\r\nok$/);
    } finally {
      socket.destroy();
      await (closing ?? server.close());
    }
  },
);
