// The fetch-handler peers (Hono on @hono/node-server, srvx) and the routes of the newer scenarios, against real
// clients: every server must answer the same bytes before its numbers mean anything. Also the wrk scripts
// (pipelining, POST) and h2load's extra headers, with the real tools.
// Run: node --test bench/test/   (needs wrk and h2load)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { h2load, wrk, parseH2load } from '../lib/loadgen.mjs';
import { withServer } from './support.mjs';
import { echoRequestBody, jsonDocument } from '../servers/common.mjs';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function h2Request(port, headers, body) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    session.on('error', reject);
    const request = session.request(headers);
    const chunks = [];
    let response;
    request.on('response', (received) => { response = received; });
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => { session.close(); resolve({ headers: response, body: Buffer.concat(chunks) }); });
    request.on('error', reject);
    request.end(body);
  });
}

function h1Request(port, options, body) {
  return new Promise((resolve, reject) => {
    const request = https.request({ host: '127.0.0.1', port, rejectUnauthorized: false, agent: false, ...options }, (response) => {
      const chunks = [];
      response.on('data', (chunk) => chunks.push(chunk));
      response.on('end', () => resolve({ headers: response.headers, status: response.statusCode, body: Buffer.concat(chunks) }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

const expectedJson = JSON.stringify(jsonDocument);

for (const script of ['httpsd.mjs', 'hono.mjs', 'srvx.mjs', 'node-http2-stream.mjs', 'node-http2-compat.mjs']) {
  test(`${script}: hello, 1 MiB, JSON echo and compressed JSON over h2`, async () => {
    await withServer(script, async ({ port }) => {
      const hello = await h2Request(port, { ':path': '/' });
      assert.equal(hello.headers[':status'], 200);
      assert.match(hello.headers['content-type'], /^text\/plain/);
      assert.equal(hello.body.toString(), 'hello');
      assert.equal((await h2Request(port, { ':path': '/1m' })).body.length, 1024 * 1024);
      const echo = await h2Request(port, { ':path': '/echo', ':method': 'POST', 'content-type': 'application/json' }, echoRequestBody);
      assert.equal(echo.headers[':status'], 200);
      assert.match(echo.headers['content-type'], /^application\/json/);
      assert.deepEqual(JSON.parse(echo.body.toString()), JSON.parse(echoRequestBody.toString()));
      const bad = await h2Request(port, { ':path': '/echo', ':method': 'POST', 'content-type': 'application/json' }, '{not json');
      assert.equal(bad.headers[':status'], 400, 'a body that is not JSON is refused, not echoed');
      const brotli = await h2Request(port, { ':path': '/json', 'accept-encoding': 'br, gzip' });
      assert.equal(brotli.headers['content-encoding'], 'br');
      assert.equal(zlib.brotliDecompressSync(brotli.body).toString(), expectedJson);
      const gzip = await h2Request(port, { ':path': '/json', 'accept-encoding': 'gzip' });
      assert.equal(gzip.headers['content-encoding'], 'gzip');
      assert.equal(zlib.gunzipSync(gzip.body).toString(), expectedJson);
      const plain = await h2Request(port, { ':path': '/json' });
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.equal(plain.body.toString(), expectedJson);
    });
  });
}

for (const script of ['httpsd.mjs', 'hono.mjs', 'srvx.mjs', 'node-https.mjs']) {
  test(`${script}: JSON echo over HTTP/1.1 with TLS, and wrk's POST script counts every echo`, async () => {
    await withServer(script, async ({ port, dir }) => {
      const echo = await h1Request(port, { path: '/echo', method: 'POST', headers: { 'content-type': 'application/json' } }, echoRequestBody);
      assert.equal(echo.status, 200);
      assert.deepEqual(JSON.parse(echo.body.toString()), JSON.parse(echoRequestBody.toString()));
      const file = path.join(dir, 'echo.json');
      writeFileSync(file, echoRequestBody);
      const result = await wrk({ url: `https://127.0.0.1:${port}/echo`, connections: 4, duration: 1,
        script: path.join(benchDir, 'clients', 'wrk', 'post.lua'), scriptArgs: [file, 'application/json'] });
      assert.equal(result.error, undefined);
      assert.ok(result.succeeded > 0);
      assert.equal(result.failed, 0, 'every POST answered 2xx');
    });
  });
}

test('wrk pipelining: 16 requests per write, every response counted, against cleartext node:http', async () => {
  await withServer('node-https.mjs', async ({ httpPort }) => {
    const script = path.join(benchDir, 'clients', 'wrk', 'pipeline.lua');
    const result = await wrk({ url: `http://127.0.0.1:${httpPort}/`, connections: 2, duration: 1, script, scriptArgs: ['16'] });
    assert.equal(result.error, undefined);
    assert.ok(result.succeeded >= 16, `expected at least one full pipeline, got ${result.succeeded}`);
    assert.equal(result.failed, 0);
    // A POST to a path that answers 400 shows up as failures: the scripts do not hide non-2xx answers.
    const bad = path.join(benchDir, 'clients', 'wrk', 'post.lua');
    const refused = await wrk({ url: `http://127.0.0.1:${httpPort}/echo`, connections: 1, duration: 1, script: bad,
      scriptArgs: [script, 'application/json'] });
    assert.ok(refused.failed > 0 && refused.succeeded === 0, 'Lua source posted as JSON is refused with 400');
  });
});

test('h2load sends the extra request headers (-H) and a POST body (-d)', async () => {
  await withServer('node-http2-stream.mjs', async ({ port, dir }) => {
    const file = path.join(dir, 'echo.json');
    writeFileSync(file, echoRequestBody);
    const ok = await h2load({ url: `https://127.0.0.1:${port}/echo`, clients: 1, streams: 2, requests: 20, dataFile: file,
      headers: ['content-type: application/json'] });
    assert.equal(ok.succeeded, 20);
    writeFileSync(file, 'not json');
    const bad = await h2load({ url: `https://127.0.0.1:${port}/echo`, clients: 1, requests: 5, dataFile: file });
    assert.equal(bad.succeeded, 0, 'a 400 answer is not counted as a success');
    assert.equal(bad.failed, 5);
  });
});

test('h2load summary: 4xx and 5xx are failures once, 3xx move from succeeded to failed', () => {
  const output = `finished in 1.00s, 10.00 req/s, 1KB/s
requests: 10 total, 10 started, 10 done, 6 succeeded, 4 failed, 1 errored, 0 timeout
status codes: 4 2xx, 2 3xx, 3 4xx, 0 5xx
Application protocol: h2
`;
  assert.deepEqual(parseH2load(output), { protocol: 'h2', requests: 10, succeeded: 4, failed: 6, seconds: 1, rps: 4 });
});
