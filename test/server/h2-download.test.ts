import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { FastResponse } from '../../src/server/response.js';
import { connectH2, h2Request, patternBytes, startServer, type TestServer } from '../support/server.js';

// Large bodies leave the engine as views of the application's buffers between frame headers (one writev per
// flush). Many concurrent streams interleave their frames: every byte must still arrive, in order, on TLS and h2c.
const BODIES = [patternBytes(3 * 1024 * 1024 + 123, 3), patternBytes(100_000, 5), patternBytes(2047, 9), patternBytes(16_385, 11)];

describe('HTTP/2 large downloads (vectored output)', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer(
      (request) => {
        const url = new URL(request.url);
        // A plain Uint8Array view (BodyInit does not accept Buffer<ArrayBufferLike> in the DOM typings).
        const source = BODIES[Number(url.searchParams.get('i'))]!;
        const body = new Uint8Array(source.buffer as ArrayBuffer, source.byteOffset, source.byteLength);
        if (url.pathname === '/global') return new Response(body);
        if (url.pathname === '/stream') {
          // The same bytes as a stream of odd-sized chunks (views cut at arbitrary offsets).
          let offset = 0;
          return new FastResponse(
            new ReadableStream<Uint8Array>({
              pull(controller) {
                if (offset >= body.length) return controller.close();
                const size = Math.min(body.length - offset, 40_000 + (offset % 7919));
                controller.enqueue(body.subarray(offset, offset + size));
                offset += size;
              },
            }),
          );
        }
        return new FastResponse(body);
      },
      { httpPort: 0 },
    );
  });
  after(() => server.close());

  for (const transport of ['TLS', 'h2c'] as const) {
    test(`${transport}: 24 concurrent downloads of mixed sizes arrive intact`, async () => {
      const origin = transport === 'TLS' ? server.origin : `http://127.0.0.1:${server.httpPort}`;
      const session = connectH2(origin);
      try {
        const requests = [];
        for (const path of ['/fast', '/global', '/stream']) {
          for (let i = 0; i < BODIES.length; i++) {
            for (let copy = 0; copy < 2; copy++) requests.push({ path, i, result: h2Request(session, { ':path': `${path}?i=${i}` }) });
          }
        }
        for (const { path, i, result } of requests) {
          const response = await result;
          assert.equal(response.headers[':status'], 200, `${path} ${i}`);
          assert.equal(response.body.length, BODIES[i]!.length, `${path} ${i}`);
          assert.ok(response.body.equals(BODIES[i]!), `${path} ${i}: bytes differ`);
        }
      } finally {
        session.close();
      }
    });
  }
});
