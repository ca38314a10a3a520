/**
 * Compression of streamed bodies: chunks reach the client while the handler is still producing (a chunk is
 * decodable before the next one exists), large bodies decode byte-exact, a client that stops reading holds the
 * application's stream back, and a client that goes away mid-stream leaves no compressor or request behind.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import * as zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { startServer, h1Request, h2Request, connectH2, waitForIdle, waitFor, sleep, PATIENCE_MS, type TestServer } from '../support/server.js';
import { compressResponses, type CompressingHandler } from '../../src/server/compress/index.js';
import type { ServeInfo } from '../../src/server/types.js';
import { FastResponse } from '../../src/server/response.js';
import type { FetchHandler } from '../../src/server/types.js';

const encoder = new TextEncoder();

/** Deterministic compressible text: lines of words picked by a xorshift generator. */
function wordText(size: number, seed = 7): string {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'lambda', 'mu'];
  let x = seed;
  let out = '';
  while (out.length < size) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out += words[(x >>> 0) % words.length] + ((x >>> 8) % 9 === 0 ? '\n' : ' ');
  }
  return out.slice(0, size);
}

function decoderFor(encoding: string): Transform {
  if (encoding === 'br') return zlib.createBrotliDecompress();
  if (encoding === 'gzip') return zlib.createGunzip();
  throw new Error(`unexpected content-encoding ${encoding}`);
}

/** Events of a server-sent-events-like stream: each waits for the test to let it out. */
class Gate {
  private waiters: (() => void)[] = [];
  private released = 0;
  open(): void {
    this.released++;
    this.waiters.shift()?.();
  }
  wait(index: number): Promise<void> {
    return index < this.released ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

const ENDLESS_CHUNKS = Array.from({ length: 8 }, (_, i) => encoder.encode(wordText(16 * 1024, i + 3)));
const BIG = wordText(3 * 1024 * 1024 + 12345);
const BIG_BYTES = Buffer.from(BIG);

describe('compressed streams', () => {
  let server: TestServer;
  let handler: CompressingHandler;
  let gate = new Gate();
  let eventsSent = 0;
  /** Chunks the /endless stream has produced, and whether it was cancelled. */
  let endless: { pulled: number; cancelled: boolean } = { pulled: 0, cancelled: false };

  const app: FetchHandler = (request) => {
    const path = new URL(request.url).pathname;
    if (path === '/events') {
      let index = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            await gate.wait(index);
            if (index === 3) return controller.close();
            controller.enqueue(encoder.encode(`data: event ${index}\n\n`));
            eventsSent = ++index;
          },
        }),
        { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } },
      );
    }
    if (path === '/big-stream') {
      let offset = 0;
      return new Response(
        new ReadableStream({
          pull(controller) {
            if (offset >= BIG_BYTES.length) return controller.close();
            // Uneven chunk sizes, some larger than the compressor's input pieces.
            const size = offset % 3 === 0 ? 100_000 : 7_000;
            controller.enqueue(BIG_BYTES.subarray(offset, offset + size));
            offset += size;
          },
        }),
        { headers: { 'content-type': 'text/plain' } },
      );
    }
    if (path === '/big-bytes') return new FastResponse(BIG, { headers: { 'content-type': 'text/plain' } });
    if (path === '/big-iterable') {
      return new FastResponse(
        (async function* () {
          for (let offset = 0; offset < BIG.length; offset += 50_000) yield BIG.slice(offset, offset + 50_000);
        })() as unknown as BodyInit,
        { headers: { 'content-type': 'text/plain' } },
      );
    }
    if (path === '/endless') {
      const state = { pulled: 0, cancelled: false as boolean };
      endless = state;
      return new Response(
        new ReadableStream({
          pull(controller) {
            // Eight different chunks in turn: 128 KiB cycles, beyond gzip's 32 KiB window, so it compresses as text does.
            controller.enqueue(ENDLESS_CHUNKS[state.pulled++ % ENDLESS_CHUNKS.length]!);
          },
          cancel() {
            state.cancelled = true;
          },
        }),
        { headers: { 'content-type': 'text/plain' } },
      );
    }
    return new FastResponse('not found', { status: 404 });
  };

  before(async () => {
    handler = compressResponses(app, true);
    server = await startServer(handler, { http3: false });
  });
  after(() => server.close());

  /** Reads decoded text from a response stream, resolving each wanted substring as soon as it is decodable. */
  function decodedReader(encoding: string, source: NodeJS.ReadableStream): { until(text: string): Promise<void>; text(): string; done: Promise<void> } {
    const decoder = decoderFor(encoding);
    let decoded = '';
    const waiting: { text: string; resolve: () => void }[] = [];
    decoder.on('data', (chunk: Buffer) => {
      decoded += chunk.toString();
      for (const waiter of waiting.filter((w) => decoded.includes(w.text))) {
        waiting.splice(waiting.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
    source.pipe(decoder);
    const done = new Promise<void>((resolve, reject) => {
      decoder.on('end', resolve);
      decoder.on('error', reject);
    });
    return {
      until: (text) =>
        decoded.includes(text)
          ? Promise.resolve()
          : new Promise((resolve, reject) => {
              // A chunk held in the compressor never arrives: fail with what was decoded instead of hanging.
              const timer = setTimeout(() => reject(new Error(`${JSON.stringify(text)} not decodable; decoded so far ${JSON.stringify(decoded)}`)), PATIENCE_MS);
              waiting.push({ text, resolve: () => (clearTimeout(timer), resolve()) });
            }),
      text: () => decoded,
      done,
    };
  }

  /** The first event was let out: each one must be decodable before the handler is let out for the next. */
  async function expectEventsOneByOne(reader: ReturnType<typeof decodedReader>): Promise<void> {
    for (let index = 0; index < 3; index++) {
      if (index > 0) gate.open();
      await reader.until(`data: event ${index}\n\n`);
      // The handler has not been let out for the next event: what the client decoded was flushed, not finished.
      assert.equal(eventsSent, index + 1);
      assert.ok(!reader.text().includes(`event ${index + 1}`));
    }
    gate.open();
    await reader.done;
    assert.equal(reader.text(), 'data: event 0\n\ndata: event 1\n\ndata: event 2\n\n');
  }

  test('HTTP/2: each event is decodable by the client before the handler produces the next', async () => {
    for (const encoding of ['br', 'gzip']) {
      gate = new Gate();
      eventsSent = 0;
      const session = connectH2(server.origin);
      try {
        const stream = session.request({ ':path': '/events', 'accept-encoding': encoding });
        const headers = await new Promise<Record<string, unknown>>((resolve) => stream.once('response', resolve));
        assert.equal(headers['content-encoding'], encoding);
        gate.open();
        await expectEventsOneByOne(decodedReader(encoding, stream));
      } finally {
        session.close();
      }
    }
  });

  test('HTTP/1.1: the same, through chunked framing', async () => {
    gate = new Gate();
    eventsSent = 0;
    // node:http sends the head with the first body bytes: the first event is let out before the response is awaited.
    gate.open();
    const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      const url = new URL(server.origin);
      https
        .get({ host: url.hostname, port: url.port, path: '/events', headers: { 'accept-encoding': 'br' }, rejectUnauthorized: false, agent: false }, resolve)
        .on('error', reject);
    });
    assert.equal(response.headers['content-encoding'], 'br');
    assert.equal(response.headers['transfer-encoding'], 'chunked');
    await expectEventsOneByOne(decodedReader('br', response));
  });

  test('a 3 MiB body decodes byte-exact: streamed, whole bytes, async iterable; br and gzip; HTTP/1.1 and HTTP/2', async () => {
    const session = connectH2(server.origin);
    try {
      for (const path of ['/big-stream', '/big-bytes', '/big-iterable']) {
        for (const encoding of ['br', 'gzip']) {
          const overH2 = await h2Request(session, { ':path': path, 'accept-encoding': encoding });
          assert.equal(overH2.headers['content-encoding'], encoding, path);
          assert.ok(overH2.body.byteLength < BIG_BYTES.length / 2, `${path} ${encoding} is smaller`);
          const decodedH2 = encoding === 'br' ? zlib.brotliDecompressSync(overH2.body) : zlib.gunzipSync(overH2.body);
          assert.ok(decodedH2.equals(BIG_BYTES), `${path} ${encoding} over HTTP/2`);
          const overH1 = await h1Request(server.origin, { path, headers: { 'accept-encoding': encoding } });
          const decodedH1 = encoding === 'br' ? zlib.brotliDecompressSync(overH1.body) : zlib.gunzipSync(overH1.body);
          assert.ok(decodedH1.equals(BIG_BYTES), `${path} ${encoding} over HTTP/1.1`);
        }
      }
    } finally {
      session.close();
    }
    await waitForIdle(server.server);
    assert.equal(handler.activeCompressions, 0);
  });

  test('a client that stops reading holds the application stream back (bounded output)', async () => {
    const session = connectH2(server.origin);
    try {
      const stream = session.request({ ':path': '/endless', 'accept-encoding': 'gzip' });
      stream.pause();
      await new Promise((resolve) => stream.once('response', resolve));
      // The compressed output fills the client's windows; then nothing more is pulled from the application. Waits
      // for the count to stay still for 300 ms (a busy machine may take longer to get there).
      let stalled = -1;
      const deadline = Date.now() + PATIENCE_MS;
      while (stalled !== endless.pulled && Date.now() < deadline) {
        stalled = endless.pulled;
        await sleep(300);
      }
      if (process.env.SHOW_PULLS) console.log('pulled while stalled', stalled);
      assert.equal(endless.pulled, stalled, 'pulls stop while the client reads nothing');
      // Text compresses about 3:1: the client's stream window (64 KiB) plus the transport's and the compressor's
      // buffers bound what is taken from the application.
      assert.ok(stalled * 16 * 1024 < 2 * 1024 * 1024, `pulled ${stalled} chunks while the client read nothing`);
      stream.close();
    } finally {
      session.close();
    }
    await waitFor(() => endless.cancelled, 'the application stream to be cancelled');
    await waitForIdle(server.server);
    assert.equal(handler.activeCompressions, 0);
  });

  test('clients that go away mid-stream (HTTP/2 reset, HTTP/1.1 socket closed) leave nothing behind', async () => {
    for (let round = 0; round < 3; round++) {
      const session = connectH2(server.origin);
      const stream = session.request({ ':path': '/endless', 'accept-encoding': 'br' });
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.close(0x8); // CANCEL
      await waitFor(() => endless.cancelled, 'the application stream to be cancelled (HTTP/2)');
      session.close();

      const url = new URL(server.origin);
      await new Promise<void>((resolve, reject) => {
        const request = https.get(
          { host: url.hostname, port: url.port, path: '/endless', headers: { 'accept-encoding': 'gzip' }, rejectUnauthorized: false, agent: false },
          (response) => {
            response.once('data', () => {
              request.destroy();
              resolve();
            });
          },
        );
        request.on('error', (error) => ((error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
      });
      await waitFor(() => endless.cancelled, 'the application stream to be cancelled (HTTP/1.1)');
    }
    const stats = await waitForIdle(server.server);
    assert.equal(stats.inFlightRequests, 0);
    assert.equal(stats.openStreams, 0);
    await waitFor(() => handler.activeCompressions === 0, 'every compressor to be released');
    assert.deepEqual(
      server.errors.filter((entry) => !/abort|reset|closed/i.test(String(entry.error))),
      [],
    );
  });
});

describe('compression capacity', () => {
  test('a compressed response dropped unread gives its slot back and cancels the application stream once collected', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    let cancelled = false;
    const handler = compressResponses(
      () =>
        new Response(
          new ReadableStream({
            pull: (controller) => controller.enqueue(encoder.encode(wordText(4096))),
            cancel: () => {
              cancelled = true;
            },
          }),
          { headers: { 'content-type': 'text/plain' } },
        ),
      { maxConcurrent: 1 },
    );
    const request = new Request('https://localhost/', { headers: { 'accept-encoding': 'gzip' } });
    // In a function of its own, so that no local of this test keeps the response alive.
    const respondAndDrop = async (): Promise<string | null> => (await handler(request, {} as ServeInfo)).headers.get('content-encoding');
    assert.equal(await respondAndDrop(), 'gzip');
    assert.equal(handler.activeCompressions, 1);
    await waitFor(() => {
      gc();
      return handler.activeCompressions === 0;
    }, 'the dropped response to give its slot back');
    assert.ok(cancelled, "the application's stream was cancelled");
    assert.equal(await respondAndDrop(), 'gzip', 'the slot is free again');
  });

  test('beyond maxConcurrent responses go out unencoded, still with Vary', async () => {
    const gate = new Gate();
    const handler = compressResponses(
      (request) => {
        if (new URL(request.url).pathname === '/held') {
          return new Response(
            new ReadableStream({
              async pull(controller) {
                controller.enqueue(encoder.encode(wordText(4096)));
                await gate.wait(0);
                controller.close();
              },
            }),
            { headers: { 'content-type': 'text/plain' } },
          );
        }
        return new FastResponse(wordText(4096));
      },
      { maxConcurrent: 1 },
    );
    const server = await startServer(handler, { http3: false });
    const session = connectH2(server.origin);
    try {
      const held = session.request({ ':path': '/held', 'accept-encoding': 'gzip' });
      const heldHeaders = await new Promise<Record<string, unknown>>((resolve) => held.once('response', resolve));
      assert.equal(heldHeaders['content-encoding'], 'gzip');
      assert.equal(handler.activeCompressions, 1);
      const second = await h2Request(session, { ':path': '/other', 'accept-encoding': 'gzip' });
      assert.equal(second.headers['content-encoding'], undefined);
      assert.equal(second.headers['vary'], 'accept-encoding');
      assert.equal(second.body.toString(), wordText(4096));
      gate.open();
      held.resume();
      await new Promise((resolve) => held.on('end', resolve));
      await waitFor(() => handler.activeCompressions === 0, 'the held compressor to be released');
      const third = await h2Request(session, { ':path': '/other', 'accept-encoding': 'gzip' });
      assert.equal(third.headers['content-encoding'], 'gzip');
    } finally {
      session.close();
      await server.close();
    }
  });
});
