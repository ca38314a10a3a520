/**
 * TLS-level attacks and connection storms against a live httpsd while a well-behaved client keeps being served:
 * handshake stalls, garbage instead of a ClientHello, many concurrent handshakes, 5,000 connections opened and
 * dropped abruptly, half-open sockets.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import * as net from 'node:net';
import { PATIENCE_MS, ServerProcess, sleep, underAttack } from './lib/harness.js';
import { closedWithin, collectText, connectTcp } from './lib/raw-client.js';
import { CLIENT_PREFACE, FrameReader, FrameType, settingsFrame, headersFrame } from './lib/frames.js';
import { requestBlock } from './lib/hpack.js';

const HANDSHAKE_TIMEOUT = 1500;
/** tls.connect passes allowHalfOpen to its socket, but @types/node does not list it for TLS. */
const HALF_OPEN = { allowHalfOpen: true } as tls.ConnectionOptions;

/**
 * Two servers. `server` has short handshake and idle timeouts, for the attacks that trigger them (connections that
 * hang). `roomy` serves the storms, whose handshakes are a happy path: on a saturated 2-core machine 500 handshakes
 * can take longer than 1.5 s each, and the well-behaved client can be starved for longer than a 3 s idle timeout,
 * whose GOAWAY then races its next request (node:http2 reports NGHTTP2_REFUSED_STREAM, RFC 9113 §6.8).
 */
let server: ServerProcess;
let roomy: ServerProcess;

before(async () => {
  [server, roomy] = await Promise.all([
    ServerProcess.start({ limits: { handshakeTimeout: HANDSHAKE_TIMEOUT, idleTimeout: 3000 } }),
    ServerProcess.start({ limits: { handshakeTimeout: 2 * PATIENCE_MS } }),
  ]);
});
after(async () => {
  await Promise.all([server?.stop(), roomy?.stop()]);
});

/** Runs `task` over `count` items with at most `concurrency` at once. */
async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

describe('TLS attacks and connection storms', () => {
  test('handshake stall: 50 TCP connections that never send a ClientHello', async (t) => {
    await underAttack(t, server, 'TLS handshake stall', async () => {
      const started = Date.now();
      const sockets = await Promise.all(Array.from({ length: 50 }, () => connectTcp(server.port)));
      const during = (await server.sample()).stats.connections;
      try {
        // Closed at all (within a generous bound: a stalled handshake is never held for good), and by the handshake
        // timeout (timers never fire early, so nothing closes them before it; a refusal would be immediate).
        const times = await Promise.all(sockets.map((socket) => closedWithin(socket, HANDSHAKE_TIMEOUT + PATIENCE_MS, started)));
        assert.ok(Math.min(...times) >= HANDSHAKE_TIMEOUT - 100, `stalled handshakes closed after ${Math.min(...times)} ms, before the timeout`);
        return `all 50 closed by the handshake timeout after ${Math.min(...times)}-${Math.max(...times)} ms (${during} connections counted while stalled)`;
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    });
  });

  test('garbage instead of a ClientHello', async (t) => {
    await underAttack(t, server, 'garbage instead of ClientHello', async () => {
      const shapes: [string, Buffer][] = [
        ['plain HTTP/1.1 request', Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')],
        ['h2 preface in clear', Buffer.concat([CLIENT_PREFACE, settingsFrame()])],
        ['16 KB of random bytes', Buffer.from(Array.from({ length: 16384 }, () => Math.floor(Math.random() * 256)))],
        // A handshake record header announcing 16 KB, then nothing: must end by the handshake timeout.
        ['truncated ClientHello record', Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc, 0x03, 0x03])],
      ];
      const outcomes: string[] = [];
      for (const [label, bytes] of shapes) {
        const socket = await connectTcp(server.port);
        const received = collectText(socket);
        socket.write(bytes);
        const afterMs = await closedWithin(socket, HANDSHAKE_TIMEOUT + PATIENCE_MS);
        assert.ok(!received.text().includes('HTTP/1.1 200'), `${label}: answered in clear`);
        // A TLS alert record (content type 21) or a bare close; never application data.
        const first = received.text().charCodeAt(0);
        outcomes.push(`${label}: ${received.text().length > 0 ? (first === 21 ? 'TLS alert' : `${received.text().length} bytes`) + ', ' : ''}closed after ${afterMs} ms`);
      }
      return outcomes.join('; ');
    });
  });

  test('500 concurrent TLS handshakes', async (t) => {
    await underAttack(
      t,
      roomy,
      '500 concurrent handshakes',
      async () => {
        const started = Date.now();
        const results = await Promise.all(
          Array.from(
            { length: 500 },
            () =>
              new Promise<boolean>((resolve) => {
                const socket = tls.connect({ host: '127.0.0.1', port: roomy.port, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
                const timer = setTimeout(() => {
                  socket.destroy();
                  resolve(false);
                }, 2 * PATIENCE_MS);
                socket.once('secureConnect', () => {
                  clearTimeout(timer);
                  socket.destroy();
                  resolve(true);
                });
                socket.once('error', () => {
                  clearTimeout(timer);
                  resolve(false);
                });
              }),
          ),
        );
        const ok = results.filter(Boolean).length;
        assert.equal(ok, 500, `${500 - ok} of 500 concurrent handshakes failed`);
        return `500/500 handshakes completed in ${Date.now() - started} ms`;
      },
    );
  });

  test('5,000 connections opened and dropped abruptly (RST and FIN, some mid-ClientHello)', async (t) => {
    await underAttack(
      t,
      roomy,
      'connection storm (5,000)',
      async () => {
        const started = Date.now();
        const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
        const connected = await pool(5000, 200, (i) => {
          return new Promise<boolean>((resolve) => {
            const socket = net.connect({ host: '127.0.0.1', port: roomy.port });
            socket.on('error', () => resolve(false));
            socket.once('connect', () => {
              if (i % 3 === 1) socket.write(hello);
              // RST (SO_LINGER 0) for two thirds, FIN for the rest.
              if (i % 3 === 2) socket.end();
              else socket.resetAndDestroy();
              resolve(true);
            });
          });
        });
        const elapsed = Date.now() - started;
        assert.ok(elapsed < 60_000, 'the storm took too long');
        const ok = connected.filter(Boolean).length;
        // The server may refuse some at accept time under load; most must have connected for the test to mean anything.
        assert.ok(ok > 4500, `only ${ok} of 5000 connects succeeded`);
        await sleep(500);
        return `${ok}/5000 connected and dropped in ${elapsed} ms`;
      },
    );
  });

  test('half-open sockets: the client ends its write side after a request, and without one', async (t) => {
    await underAttack(t, server, 'half-open sockets', async () => {
      const outcomes: string[] = [];
      // HTTP/1.1: the request is complete, so the answer must still arrive, then the server closes.
      {
        const socket = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'], ...HALF_OPEN });
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('secureConnect', resolve));
        const received = collectText(socket);
        socket.end('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
        const afterMs = await closedWithin(socket, PATIENCE_MS);
        assert.match(received.text(), /^HTTP\/1\.1 200/, 'h1 half-open: no answer');
        outcomes.push(`h1 request then FIN: answered 200, closed after ${afterMs} ms`);
      }
      // HTTP/2: preface + request, then FIN: answered, then closed.
      {
        const socket = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, ALPNProtocols: ['h2'], ...HALF_OPEN });
        socket.on('error', () => {});
        await new Promise((resolve) => socket.once('secureConnect', resolve));
        const reader = new FrameReader();
        let answered = false;
        socket.on('data', (chunk: Buffer) => {
          for (const { frame } of reader.push(chunk)) if (frame.type === FrameType.HEADERS && frame.streamId === 1) answered = true;
        });
        socket.end(Buffer.concat([CLIENT_PREFACE, settingsFrame(), headersFrame(1, requestBlock(), { endStream: true })]));
        const afterMs = await closedWithin(socket, PATIENCE_MS);
        // HTTP/2 has no use for TCP half-close (RFC 9113 §5.1 ends streams, not connections), so a FIN may end the
        // connection before the answer is written; what must hold is that the server closes it and cleans up.
        outcomes.push(`h2 request then FIN: ${answered ? 'answered' : 'not answered'}, closed after ${afterMs} ms`);
      }
      // 50 TLS connections that end their write side right after the handshake: nothing to answer, all closed.
      {
        const sockets = await Promise.all(
          Array.from({ length: 50 }, (_, i) => {
            const socket = tls.connect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false, ALPNProtocols: [i % 2 ? 'h2' : 'http/1.1'], ...HALF_OPEN });
            socket.on('error', () => {});
            return new Promise<tls.TLSSocket>((resolve) => socket.once('secureConnect', () => resolve(socket)));
          }),
        );
        const started = Date.now();
        for (const socket of sockets) {
          socket.resume();
          socket.end();
        }
        const times = await Promise.all(sockets.map((socket) => closedWithin(socket, PATIENCE_MS, started)));
        outcomes.push(`50 idle half-open (h1+h2): all closed after ${Math.min(...times)}-${Math.max(...times)} ms`);
      }
      return outcomes.join('; ');
    });
  });
});
