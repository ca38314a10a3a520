/**
 * serve({ compress }) over HTTP/3: quic-go's client asks for gzip by itself and decodes it; the access log shows
 * that what went over QUIC was the encoded body. The wrapper sits in front of the handler, so nothing in the
 * HTTP/3 transport knows about it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildGoClient } from '../interop/h3-go.js';
import { startServer, run, type TestServer } from '../support/server.js';
import { FastResponse } from '../../src/server/response.js';
import type { FetchHandler } from '../../src/server/types.js';

const PAGE = Buffer.from('<p>compressed over QUIC, line after line</p>\n'.repeat(2000));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const handler: FetchHandler = (request) => {
  if (new URL(request.url).pathname === '/stream') {
    let sent = 0;
    return new Response(
      new ReadableStream({
        pull(controller) {
          if (sent >= PAGE.length) return controller.close();
          controller.enqueue(PAGE.subarray(sent, sent + 10_000));
          sent += 10_000;
        },
      }),
      { headers: { 'content-type': 'text/html' } },
    );
  }
  return new FastResponse(PAGE, { headers: { 'content-type': 'text/html' } });
};

describe('compression over HTTP/3', () => {
  let server: TestServer;
  let client: string;
  const log: { path: string; protocol: string; bytes: number }[] = [];

  before(
    async () => {
      client = buildGoClient();
      server = await startServer(handler, { compress: true, accessLog: (line) => log.push(JSON.parse(line)), accessLogFormat: 'json' });
    },
    { timeout: 900_000 },
  );
  after(() => server?.close());

  test('quic-go gets gzip for a whole body and a stream, and decodes them byte-exact', async () => {
    for (const path of ['/page', '/stream']) {
      const result = await run(client, ['-insecure', `https://127.0.0.1:${server.port}${path}`], { timeoutMs: 60_000 });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.toString(), `status 200 HTTP/3.0 ${PAGE.length} ${sha256(PAGE)}\n`, path);
      const entry = log.find((line) => line.path === path);
      assert.ok(entry, `an access-log entry for ${path}`);
      assert.equal(entry.protocol, 'h3');
      assert.ok(entry.bytes > 0 && entry.bytes < PAGE.length / 10, `${path}: ${entry.bytes} encoded bytes went out for ${PAGE.length}`);
    }
  });
});
