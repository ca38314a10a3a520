/**
 * HTTP/1.1 request input against a live server over real sockets: request bodies over the limit, bodies the handler
 * never reads (keep-alive and pipelining must go on), request-target normalisation, CONNECT and the RFC 9112 MUSTs
 * for request heads.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitFor, type TestServer } from '../helpers/server.js';
import { H1Wire } from '../attacks/lib/h1-wire.js';

const MAX_BODY = 8 * 1024 * 1024;

let server: TestServer;
let clear: TestServer;
const seen: { method: string; url: string; host: string | null }[] = [];

async function handler(request: Request): Promise<Response> {
  const url = new URL(request.url);
  seen.push({ method: request.method, url: request.url, host: request.headers.get('host') });
  if (url.pathname === '/read') {
    const body = await request.arrayBuffer();
    return new Response(`read ${body.byteLength}`);
  }
  if (url.pathname === '/cancel') {
    // Takes one chunk, then gives up on the rest.
    const reader = request.body!.getReader();
    const first = await reader.read();
    await reader.cancel();
    return new Response(`cancelled after ${first.value?.byteLength ?? 0}`);
  }
  return new Response(`${request.method} ${url.pathname}`);
}

before(async () => {
  server = await startServer(handler, { limits: { maxBodySize: MAX_BODY } });
  clear = await startServer(handler, { tls: false, limits: { maxBodySize: 1024 } });
});
after(async () => {
  await server?.close();
  await clear?.close();
});

/** Every connection gone and every request finished: nothing leaked by the case just run. */
async function settled(target: TestServer): Promise<void> {
  await waitFor(() => {
    const stats = target.server.stats();
    return stats.connections === 0 && stats.h1Connections === 0 && stats.inFlightRequests === 0;
  }, `counters back to zero (${JSON.stringify(target.server.stats())})`, 10_000);
}

function chunked(size: number, chunkSize = 1000): string {
  let out = '';
  for (let sent = 0; sent < size; sent += chunkSize) {
    const n = Math.min(chunkSize, size - sent);
    out += `${n.toString(16)}\r\n${'a'.repeat(n)}\r\n`;
  }
  return out + '0\r\n\r\n';
}

describe('HTTP/1.1 request bodies', () => {
  test('a chunked body over maxBodySize gives 413 and a close; the process keeps serving', async () => {
    const wire = await H1Wire.connect(clear.port, false);
    await wire.write(`POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(5000)}`);
    const [response] = await wire.responsesWithin(1, 10_000);
    assert.equal(response!.status, 413);
    assert.equal(response!.headers.get('connection'), 'close');
    await wire.closedWithin(10_000);
    // Read in small writes too: the limit is hit while the handler waits for the next chunk.
    const slow = await H1Wire.connect(clear.port, false);
    await slow.write('POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (let i = 0; i < 5 && !slow.closed; i++) await slow.write(`3e8\r\n${'b'.repeat(1000)}\r\n`);
    assert.equal((await slow.responsesWithin(1, 10_000))[0]!.status, 413);
    await slow.closedWithin(10_000);
    const after = await H1Wire.connect(clear.port, false);
    await after.write(`POST /read HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(1000)}`);
    const [ok] = await after.responsesWithin(1, 10_000);
    assert.equal(ok!.body.toString(), 'read 1000');
    after.destroy();
    await settled(clear);
  });

  test('a Content-Length body over maxBodySize is refused with 413 before it is read', async () => {
    const wire = await H1Wire.connect(clear.port, false);
    // Only the head is sent: the answer must not wait for the body.
    await wire.write('POST /read HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5000\r\n\r\n');
    const [response] = await wire.responsesWithin(1, 10_000);
    assert.equal(response!.status, 413);
    await wire.closedWithin(10_000);
    await settled(clear);
  });

  for (const size of [70_000, 200_000]) {
    test(`an unread ${size}-byte body is discarded: the next request on the connection is answered`, async () => {
      const wire = await H1Wire.connect(server.port, true);
      await wire.write(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`);
      await wire.write(Buffer.alloc(size, 0x61));
      const [first] = await wire.responsesWithin(1, 10_000);
      assert.equal(first!.status, 200);
      assert.notEqual(first!.headers.get('connection'), 'close');
      await wire.write('GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const [, second] = await wire.responsesWithin(2, 10_000);
      assert.equal(second!.body.toString(), 'GET /second');
      // Pipelined: the body and the next request in one write.
      await wire.write(Buffer.concat([
        Buffer.from(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`),
        Buffer.alloc(size, 0x62),
        Buffer.from('GET /third HTTP/1.1\r\nHost: localhost\r\n\r\n'),
      ]));
      const responses = await wire.responsesWithin(4, 10_000);
      assert.deepEqual(responses.map((r) => r.body.toString()), ['POST /ignore', 'GET /second', 'POST /ignore', 'GET /third']);
      wire.destroy();
      await settled(server);
    });
  }

  test('an unread 5 MB body: the answer says connection: close, the connection closes, nothing is left open', async () => {
    const size = 5_000_000;
    const wire = await H1Wire.connect(server.port, true);
    wire.socket.write(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`);
    wire.socket.write(Buffer.alloc(size, 0x61));
    wire.socket.write('GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const [first] = await wire.responsesWithin(1, 20_000);
    assert.equal(first!.body.toString(), 'POST /ignore');
    assert.equal(first!.headers.get('connection'), 'close');
    await wire.closedWithin(20_000);
    assert.equal(wire.responses.length, 1, 'a request behind the dropped body was answered');
    await settled(server);
  });

  test('an unread chunked body larger than the discard bound: the connection closes after the answer', async () => {
    const wire = await H1Wire.connect(server.port, true);
    wire.socket.write(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n`);
    const [first] = await wire.responsesWithin(1, 10_000);
    assert.equal(first!.body.toString(), 'POST /ignore');
    // The rest of the body arrives after the response: up to the bound it is dropped, then the server closes.
    const piece = chunked(64 * 1024, 16 * 1024).replace(/0\r\n\r\n$/, '');
    for (let i = 0; i < 64 && !wire.closed; i++) await wire.write(piece);
    await wire.closedWithin(20_000);
    await settled(server);
  });

  test('a handler that cancels the body stream mid-way still leaves the connection usable', async () => {
    const wire = await H1Wire.connect(server.port, true);
    const size = 100_000;
    await wire.write(`POST /cancel HTTP/1.1\r\nHost: localhost\r\nContent-Length: ${size}\r\n\r\n`);
    await wire.write(Buffer.alloc(size, 0x61));
    await wire.write('GET /after HTTP/1.1\r\nHost: localhost\r\n\r\n');
    const [first, second] = await wire.responsesWithin(2, 10_000);
    assert.match(first!.body.toString(), /^cancelled after \d+$/);
    assert.equal(second!.body.toString(), 'GET /after');
    wire.destroy();
    await settled(server);
  });

  test('a client that closes during an unread body leaves no connection behind', async () => {
    const wire = await H1Wire.connect(server.port, true);
    await wire.write(`POST /ignore HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n`);
    await wire.write(Buffer.alloc(200_000, 0x61));
    await wire.responsesWithin(1, 10_000);
    wire.socket.end();
    await settled(server);
  });
});
