/**
 * HTTP/1.1 attacks over TLS (ALPN http/1.1) against a live httpsd while a well-behaved HTTP/1.1 keep-alive client
 * keeps being served: slowloris, huge header lines, request smuggling shapes, pipelining flood.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MB, PATIENCE_MS, ServerProcess, sleep, underAttack } from './lib/harness.js';
import { closedWithin, collectText, connectTls } from './lib/raw-client.js';

const HEADERS_TIMEOUT = 1500;
/**
 * Far above HEADERS_TIMEOUT: a slowloris connection closed before it was ended by the headers timeout, not by the
 * request timeout, however late a busy machine ran the check.
 */
const REQUEST_TIMEOUT = 20_000;

let server: ServerProcess;

before(async () => {
  server = await ServerProcess.start({ limits: { headersTimeout: HEADERS_TIMEOUT, requestTimeout: REQUEST_TIMEOUT, writeProgressTimeout: 2000 } });
});
after(async () => {
  await server?.stop();
});

function statusLines(text: string): string[] {
  return text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
}

describe('HTTP/1.1 attacks', () => {
  test('slowloris: 20 connections sending the request head one byte per second', async (t) => {
    await underAttack(
      t,
      server,
      'slowloris',
      async () => {
        const head = 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ' + 'a'.repeat(100) + '\r\n\r\n';
        const connectStarted = Date.now();
        // connectTls reads everything the server sends, so each close is seen when it happens, not at the next
        // (failing) write a second later.
        const sockets = await Promise.all(Array.from({ length: 20 }, () => connectTls(server.port, ['http/1.1'])));
        const received = sockets.map((socket) => collectText(socket));
        const started = Date.now();
        const closes = sockets.map((socket) => closedWithin(socket, REQUEST_TIMEOUT + PATIENCE_MS, started));
        let position = 0;
        const timer = setInterval(() => {
          for (const socket of sockets) if (!socket.destroyed) socket.write(head[position]!);
          position = Math.min(position + 1, head.length - 1);
        }, 1000);
        try {
          const times = await Promise.all(closes);
          const sent = position;
          assert.ok(sent < head.length - 1, 'the whole head arrived: the attack was too fast to test anything');
          // headersTimeout bounds the whole head, including a request line that is itself dribbled: every connection
          // closed before the request timeout could have ended it.
          assert.ok(
            Math.max(...times) < REQUEST_TIMEOUT,
            `slowloris connections were held ${Math.max(...times)} ms (headersTimeout ${HEADERS_TIMEOUT} ms): only the request timeout ended them`,
          );
          // ...and not before it (the clock runs from each connection's accept, a little before `started`):
          // an earlier close would mean something else than the headers timeout ended them.
          const connectSlack = started - connectStarted;
          assert.ok(
            Math.min(...times) >= HEADERS_TIMEOUT - connectSlack - 100,
            `a slowloris connection was closed after ${Math.min(...times)} ms, before the ${HEADERS_TIMEOUT} ms headers timeout`,
          );
          const answers = received.map((text) => text.text().match(/^HTTP\/1\.1 \d{3}/)?.[0] ?? 'nothing');
          return `all 20 closed by the headers timeout after ${Math.min(...times)}-${Math.max(...times)} ms (${sent} bytes of the head sent; answers: ${[...new Set(answers)].join(', ')})`;
        } finally {
          clearInterval(timer);
          for (const socket of sockets) socket.destroy();
        }
      },
      { protocol: 'h1' },
    );
  });

  test('huge header lines: one 100 KB line, and 5000 small fields', async (t) => {
    await underAttack(
      t,
      server,
      'huge header lines',
      async () => {
        const outcomes: string[] = [];
        for (const [label, fields] of [
          ['one 100 KB field', `X-Huge: ${'a'.repeat(100_000)}\r\n`],
          ['5000 fields', Array.from({ length: 5000 }, (_, i) => `X-F${i}: ${'b'.repeat(10)}\r\n`).join('')],
        ] as const) {
          const socket = await connectTls(server.port, ['http/1.1']);
          const received = collectText(socket);
          socket.write(`GET / HTTP/1.1\r\nHost: localhost\r\n${fields}\r\n`);
          const afterMs = await closedWithin(socket, PATIENCE_MS);
          // RFC 6585 §5: 431 Request Header Fields Too Large. The server must let the client read it: closing with
          // unread input makes the kernel send a TCP RST, which destroys the 431 in the client's receive buffer.
          assert.deepEqual(
            statusLines(received.text()),
            ['HTTP/1.1 431'],
            `${label}: no 431 reached the client (connection closed after ${afterMs} ms with ${JSON.stringify(received.text().slice(0, 80))})`,
          );
          outcomes.push(`${label}: 431 and close after ${afterMs} ms`);
        }
        return outcomes.join('; ');
      },
      { protocol: 'h1' },
    );
  });

  test('request smuggling shapes: CL+TE, differing CL, obs-fold, bad TE and chunk sizes, two Host fields', async (t) => {
    await underAttack(
      t,
      server,
      'request smuggling shapes',
      async () => {
        const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n';
        const chunkedHead = 'POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n';
        // [label, bytes, the one status expected before the close]
        const shapes: [string, string, number][] = [
          // RFC 9112 §6.3: CL with TE is a smuggling shape; the server must not pick one and go on.
          ['CL+TE', `POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`, 400],
          // RFC 9112 §6.3 item 5: differing Content-Length values are unrecoverable.
          ['duplicate CL', `POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 46\r\n\r\nhello${smuggled}`, 400],
          ['CL list', `POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5, 46\r\n\r\nhello${smuggled}`, 400],
          // RFC 9112 §5.2: obs-fold in a request is rejected with 400.
          ['obs-fold', `GET / HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n${smuggled}`, 400],
          ['TE not ending in chunked', `POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n${smuggled}`, 400],
          // RFC 9112 §6.1: a coding the server does not know (before chunked) SHOULD get 501.
          ['gzip before chunked', `POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n${smuggled}`, 501],
          // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
          ['HTTP/1.0 with TE', `POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`, 400],
          ['space before colon', `POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length : 46\r\n\r\n${smuggled}`, 400],
          // RFC 9112 §3.2: two Host fields MUST get 400.
          ['two Host fields', `GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n${smuggled}`, 400],
          // RFC 9112 §7.1: chunk sizes are hex digits only; 64-bit overflow must not wrap.
          ['non-hex chunk size', `${chunkedHead}5x\r\nhello\r\n0\r\n\r\n${smuggled}`, 400],
          ['overflowing chunk size', `${chunkedHead}10000000000000005\r\nhello\r\n0\r\n\r\n${smuggled}`, 400],
          ['chunk extension of 20 KB', `${chunkedHead}5;x=${'y'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n${smuggled}`, 413],
          ['bad method characters', `G(T / HTTP/1.1\r\nHost: localhost\r\n\r\n${smuggled}`, 400],
          ['HTTP/2.0 request line', `GET / HTTP/2.0\r\nHost: localhost\r\n\r\n${smuggled}`, 505],
        ];
        const outcomes: string[] = [];
        const before = (await server.sample()).stats.totalRequests;
        for (const [label, bytes, status] of shapes) {
          const socket = await connectTls(server.port, ['http/1.1']);
          const received = collectText(socket);
          socket.write(bytes);
          const afterMs = await closedWithin(socket, PATIENCE_MS);
          const lines = statusLines(received.text());
          // Never two requests out of one: exactly one answer, an error, then the connection is closed.
          assert.deepEqual(lines, [`HTTP/1.1 ${status}`], `${label}: got ${JSON.stringify(received.text().slice(0, 200))}`);
          outcomes.push(`${label}: ${status} and close after ${afterMs} ms`);
        }
        const after = (await server.sample()).stats.totalRequests;
        // The good client's own requests count too; what matters is that no /smuggled request got through,
        // which the single 400 per connection above already shows. Keep the handler count as a diagnostic.
        return `${outcomes.join('; ')} (handler calls meanwhile, incl. the well-behaved client: ${after - before})`;
      },
      { protocol: 'h1' },
    );
  });

  test('pipelining flood: 20,000 pipelined requests, responses not read', async (t) => {
    await underAttack(
      t,
      server,
      'pipelining flood',
      async () => {
        const socket = await connectTls(server.port, ['http/1.1']);
        let closedAt = 0;
        socket.once('close', () => (closedAt = Date.now()));
        let responses = 0;
        let tail = '';
        socket.on('data', (chunk: Buffer) => {
          const text = tail + chunk.toString('latin1');
          responses += (text.match(/HTTP\/1\.1 200/g) ?? []).length;
          // One character short of a status line: a line cut by a read is found once, never counted twice.
          tail = text.slice(-11);
        });
        const request = Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
        const batch = Buffer.concat(Array.from({ length: 1000 }, () => request));
        socket.pause();
        const started = Date.now();
        let written = 0;
        const deadline = Date.now() + 5000;
        while (written < 20 && !socket.destroyed && Date.now() < deadline) {
          written++;
          if (!socket.write(batch)) {
            await new Promise((resolve) => {
              const timer = setTimeout(resolve, 500);
              socket.once('drain', () => {
                clearTimeout(timer);
                resolve(undefined);
              });
            });
          }
        }
        await sleep(1000);
        const during = await server.sample();
        // Now read: every request that was answered arrives in order; the server may have cut the connection
        // (headers / write-progress timeouts) but must never have buffered all 20,000 responses in memory, and
        // every request it accepted must be accounted for (in-flight back to zero: checked after the attack).
        socket.resume();
        // Generous: the answers keep coming as long as the client reads; only a stall (PATIENCE_MS without one) fails.
        let lastProgress = Date.now();
        let lastCount = responses;
        const deadlineRead = Date.now() + 4 * PATIENCE_MS;
        while (closedAt === 0 && responses < written * 1000 && Date.now() < deadlineRead && Date.now() - lastProgress < PATIENCE_MS) {
          await sleep(50);
          if (responses !== lastCount) [lastCount, lastProgress] = [responses, Date.now()];
        }
        socket.destroy();
        assert.ok(closedAt !== 0 || responses === written * 1000, `the client got neither its ${written * 1000} answers nor a close (${responses} read)`);
        assert.ok(during.stats.pendingOutputBytes < 8 * MB, `server buffered ${during.stats.pendingOutputBytes} bytes of output`);
        const ending = closedAt !== 0 ? `connection closed by the server after ${closedAt - started} ms` : 'all answered';
        return `${written * 1000} requests written (${during.stats.totalRequests} accepted so far), ${responses} responses read, ${ending}; server pending output while not read: ${(during.stats.pendingOutputBytes / 1024).toFixed(0)} KiB, in flight: ${during.stats.inFlightRequests}`;
      },
      // All 20,000 are answered (node:http pauses the parser and the socket, and resumes both as the client reads):
      // the garbage of serving them, 1,000 parsed per read, lifts RSS more than an early close did.
      { protocol: 'h1', maxRssGrowthMb: 150 },
    );
  });
});
