/**
 * Hostile HTTP/1.1 request input over TLS against a live httpsd in its own process, while a well-behaved HTTP/1.1
 * keep-alive client on another connection keeps being served: bodies over the limit (chunked and Content-Length),
 * bodies the handler never reads, bodies that dribble in, CONNECT tunnels, heads just under the size limit, and
 * pipelined uploads. After each: the process is alive, answers, and its counters are back to zero.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ServerProcess, underAttack } from './lib/harness.js';
import { H1Wire } from './lib/h1-wire.js';

const SMALL_BODY_LIMIT = 64 * 1024;
const REQUEST_TIMEOUT = 4000;

/** maxBodySize 64 KiB: for bodies over the limit. */
let small: ServerProcess;
/** Default body limit: for large bodies within it. */
let roomy: ServerProcess;

before(async () => {
  const limits = { headersTimeout: 1500, requestTimeout: REQUEST_TIMEOUT, writeProgressTimeout: 2000 };
  [small, roomy] = await Promise.all([
    ServerProcess.start({ limits: { ...limits, maxBodySize: SMALL_BODY_LIMIT } }),
    ServerProcess.start({ limits }),
  ]);
});
after(async () => {
  await Promise.all([small?.stop(), roomy?.stop()]);
});

function chunkedBody(size: number, chunkSize: number): Buffer {
  const chunk = Buffer.concat([Buffer.from(`${chunkSize.toString(16)}\r\n`), Buffer.alloc(chunkSize, 0x61), Buffer.from('\r\n')]);
  return Buffer.concat([...Array.from({ length: Math.ceil(size / chunkSize) }, () => chunk), Buffer.from('0\r\n\r\n')]);
}

/** Opens `count` connections and runs `each` on all of them at once. */
async function onConnections<T>(server: ServerProcess, count: number, each: (wire: H1Wire, index: number) => Promise<T>): Promise<T[]> {
  const wires = await Promise.all(Array.from({ length: count }, () => H1Wire.connect(server.port, true)));
  try {
    return await Promise.all(wires.map((wire, index) => each(wire, index)));
  } finally {
    for (const wire of wires) wire.destroy();
  }
}

/** The one answer a hostile request gets before the server closes: its status, and that nothing else came. */
async function answeredThenClosed(wire: H1Wire, timeoutMs = 20_000): Promise<number> {
  const [response] = await wire.responsesWithin(1, timeoutMs);
  await wire.closedWithin(timeoutMs);
  assert.equal(wire.responses.length, 1, `more than one answer: ${wire.describe()}`);
  return response!.status;
}

/** Runs a hostile request on 20 connections; each must get exactly `status` and be closed. */
async function everyOneRefused(server: ServerProcess, status: number, send: (wire: H1Wire) => Promise<void>): Promise<string> {
  const statuses = await onConnections(server, 20, async (wire) => {
    const sending = send(wire);
    const answer = await answeredThenClosed(wire);
    await sending;
    return answer;
  });
  const counts = new Map<number, number>();
  for (const received of statuses) counts.set(received, (counts.get(received) ?? 0) + 1);
  const tally = [...counts].map(([received, n]) => `${n}x ${received}`).join(', ');
  assert.deepEqual(new Set(statuses), new Set([status]), tally);
  return `20 connections: ${tally}, each closed`;
}

describe('HTTP/1.1 hostile input', () => {
  test('over-limit chunked bodies: 20 connections upload 1 MB chunked to a handler that reads', async (t) => {
    await underAttack(t, small, 'over-limit chunked bodies', async () => {
      const body = chunkedBody(1024 * 1024, 4096);
      return everyOneRefused(small, 413, async (wire) => {
        wire.socket.write('POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
        wire.socket.write(body);
        await wire.responsesWithin(1, 20_000);
        assert.equal(wire.responses[0]!.headers.get('connection'), 'close');
      });
    }, { protocol: 'h1' });
  });

  test('over-limit Content-Length bodies: 20 connections announce 50 MB and keep sending', async (t) => {
    await underAttack(t, small, 'over-limit Content-Length bodies', async () => {
      const piece = Buffer.alloc(64 * 1024, 0x61);
      return everyOneRefused(small, 413, async (wire) => {
        wire.socket.write('POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50000000\r\n\r\n');
        // Keep sending while the connection lives: the answer must not wait for the body.
        for (let i = 0; i < 64 && !wire.closed; i++) if (!(await wire.write(piece))) break;
      });
    }, { protocol: 'h1' });
  });

  test('unread bodies: 70 KB, 200 KB and 5 MB to a handler that ignores them, each followed by a request', async (t) => {
    await underAttack(t, roomy, 'unread bodies', async () => {
      const sizes = [70_000, 200_000, 5_000_000];
      const outcomes = await onConnections(roomy, 12, async (wire, index) => {
        const size = sizes[index % sizes.length]!;
        // Pipelined: the second request right behind the body.
        wire.socket.write(`POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`);
        wire.socket.write(Buffer.alloc(size, 0x61));
        wire.socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
        const [first] = await wire.responsesWithin(1, 20_000);
        assert.equal(first!.status, 200);
        if (first!.headers.get('connection') === 'close') {
          await wire.closedWithin(20_000);
          assert.equal(wire.responses.length, 1);
          return `${size}: close`;
        }
        const [, second] = await wire.responsesWithin(2, 20_000);
        assert.equal(second!.status, 200);
        return `${size}: kept`;
      });
      // Up to 256 KiB is read and dropped to keep the connection; more is not worth it.
      const expected = Array.from({ length: 12 }, (_, index) => {
        const size = sizes[index % sizes.length]!;
        return `${size}: ${size > 256 * 1024 ? 'close' : 'kept'}`;
      });
      assert.deepEqual(outcomes, expected);
      return [...new Set(outcomes)].join('; ');
    }, { protocol: 'h1', maxRssGrowthMb: 150 });
  });

  test('CONNECT tunnels: 20 connections ask for one and start sending into it', async (t) => {
    await underAttack(t, small, 'CONNECT', async () => {
      return everyOneRefused(small, 501, async (wire) => {
        wire.socket.write('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
        wire.socket.write(Buffer.alloc(16 * 1024, 0x16)); // what a TLS ClientHello into the tunnel would look like
      });
    }, { protocol: 'h1' });
  });

  test('slow bodies: 20 connections send a body one byte per second', async (t) => {
    await underAttack(t, roomy, 'slow bodies', async () => {
      const started = Date.now();
      const timers: NodeJS.Timeout[] = [];
      try {
        const results = await onConnections(roomy, 20, async (wire, index) => {
          // Half to a handler that reads the body, half to one that answers at once and leaves it.
          const path = index % 2 === 0 ? '/echo' : '/';
          await wire.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n`);
          timers.push(setInterval(() => void wire.write('a'), 1000));
          // The request timeout ends it: a generous bound, never a latency check.
          await wire.closedWithin(REQUEST_TIMEOUT + 20_000);
          return `${path} -> ${wire.describe()}`;
        });
        return `all 20 closed within ${Date.now() - started} ms (requestTimeout ${REQUEST_TIMEOUT} ms): ${[...new Set(results)].join('; ')}`;
      } finally {
        for (const timer of timers) clearInterval(timer);
      }
    }, { protocol: 'h1' });
  });

  test('heads just under the size limit: 20 connections, 5 pipelined requests of 60 KB each', async (t) => {
    await underAttack(t, roomy, 'large heads', async () => {
      const fields = Array.from({ length: 3000 }, (_, i) => `X-F${i}: ${'v'.repeat(12)}\r\n`).join('');
      const request = `GET / HTTP/1.1\r\nHost: localhost\r\n${fields}\r\n`;
      const answered = await onConnections(roomy, 20, async (wire) => {
        await wire.write(request.repeat(5));
        const responses = await wire.responsesWithin(5, 20_000);
        assert.deepEqual(responses.map((response) => response.status), [200, 200, 200, 200, 200]);
        return responses.length;
      });
      return `${answered.reduce((a, b) => a + b, 0)} requests of ${(request.length / 1024).toFixed(0)} KB answered`;
    }, { protocol: 'h1' });
  });

  test('pipelined uploads: 500 POSTs with unread 8 KB bodies on one connection, answered in order', async (t) => {
    await underAttack(t, roomy, 'pipelined uploads', async () => {
      const wire = await H1Wire.connect(roomy.port, true);
      try {
        const one = Buffer.concat([Buffer.from('POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8192\r\n\r\n'), Buffer.alloc(8192, 0x61)]);
        const echo = Buffer.concat([Buffer.from('POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 8192\r\n\r\n'), Buffer.alloc(8192, 0x62)]);
        const requests = Array.from({ length: 500 }, (_, i) => (i % 5 === 4 ? echo : one));
        wire.socket.write(Buffer.concat(requests));
        const responses = await wire.responsesWithin(500, 30_000);
        const bodies = responses.map((response) => response.body.toString());
        assert.deepEqual(bodies, requests.map((request) => (request === echo ? '8192' : 'ok')));
        return `500 answered in order on one connection`;
      } finally {
        wire.destroy();
      }
    }, { protocol: 'h1' });
  });
});
