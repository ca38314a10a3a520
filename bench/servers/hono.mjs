// Peer: Hono on @hono/node-server, the usual way to run a fetch-handler app on Node.js. TLS on node:http2's secure
// server with allowHTTP1 (h2 and HTTP/1.1 on one port, as the package documents for HTTP/2), cleartext on node:http.
// Same routes and bytes as every peer: / hello, /1m, POST /upload, POST /echo (JSON parsed and echoed), GET /json.
import http2 from 'node:http2';
import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import { serverOptions, announceReady, exitOnSignals, oneMiBBody, compressedJson } from './common.mjs';

const options = serverOptions();
const app = new Hono();

app.get('/', (c) => c.text('hello'));
app.get('/1m', (c) => c.body(oneMiBBody, 200, { 'content-type': 'application/octet-stream' }));
app.post('/upload', async (c) => {
  let size = 0;
  if (c.req.raw.body) {
    for await (const chunk of c.req.raw.body) size += chunk.byteLength;
  }
  return c.text(String(size));
});
app.post('/echo', async (c) => {
  let data;
  try {
    data = await c.req.json();
  } catch {
    return c.text('bad json', 400);
  }
  return c.json(data);
});
app.get('/json', (c) => {
  const { body, encoding } = compressedJson(c.req.header('accept-encoding'));
  const headers = { 'content-type': 'application/json', vary: 'accept-encoding' };
  if (encoding) headers['content-encoding'] = encoding;
  return c.body(body, 200, headers);
});

const listening = (server) => new Promise((resolve, reject) => {
  if (server.listening) resolve();
  else server.once('listening', resolve).once('error', reject);
});
const servers = [serve({
  fetch: app.fetch,
  port: options.port,
  hostname: options.host,
  createServer: http2.createSecureServer,
  serverOptions: { cert: options.cert, key: options.key, allowHTTP1: true, settings: { maxConcurrentStreams: 256 } },
})];
if (options.httpPort) servers.push(serve({ fetch: app.fetch, port: options.httpPort, hostname: options.host }));
for (const server of servers) {
  server.on('sessionError', () => {});
  await listening(server);
}
exitOnSignals(() => servers.forEach((server) => server.close()));
announceReady('hono', { port: options.port, httpPort: options.httpPort });
