// httpsd under benchmark: the fetch-handler API with either httpsd's FastResponse imported by the app (--response
// fast) or an app that writes `new Response(...)` with httpsd's defaults (--response global: serve() makes the global
// Response httpsd's FastResponse unless fastResponse: false; a dist without that serves undici's). Same routes and
// bytes as every peer: / hello, /1m, POST /upload, POST /echo (JSON parsed and echoed), GET /json (compressed),
// optional --static DIR.
// --compress serve (default): the handler answers plain JSON and serve({ compress: true }) compresses it (what an
// httpsd user turns on); --compress handler: GET /json is compressed in the handler with node:zlib (common.mjs's
// compressedJson, as the node:http2 peer does).
// WebSockets (same routes as ws-node.mjs): /ws echoes every message; /ws-sub subscribes to the "bench" topic;
// every message on /ws-pub is published to it (encoded once for all subscribers).
import { pathToFileURL } from 'node:url';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { serverOptions, announceReady, exitOnSignals, fetchRoutes } from './common.mjs';

const options = serverOptions();
const distEntry = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'index.js');
const httpsd = await import(pathToFileURL(distEntry).href);

if (options.response !== 'fast' && options.response !== 'global') {
  console.error(`bench httpsd: --response must be "fast" or "global", got "${options.response}"`);
  process.exit(2);
}
if (options.response === 'fast' && typeof httpsd.FastResponse !== 'function') {
  console.error('bench httpsd: dist/index.js does not export FastResponse yet');
  process.exit(3);
}
// global: the application writes `new Response(...)`, resolved per call (after serve() made it httpsd's
// FastResponse, the default an application gets); fast: it imports FastResponse explicitly.
const ResponseClass = options.response === 'fast' ? httpsd.FastResponse : 'global';
if (options.compress !== 'handler' && options.compress !== 'serve') {
  console.error(`bench httpsd: --compress must be "handler" or "serve", got "${options.compress}"`);
  process.exit(2);
}
const compressInHandler = options.compress === 'handler';

const routes = fetchRoutes(ResponseClass, { compressJson: compressInHandler });

let staticHandler;
if (options.staticDir) {
  if (typeof httpsd.serveStatic !== 'function') {
    console.error('bench httpsd: --static needs serveStatic exported by dist/index.js');
    process.exit(3);
  }
  staticHandler = httpsd.serveStatic(options.staticDir);
  if (typeof staticHandler !== 'function' && typeof staticHandler?.fetch === 'function') {
    staticHandler = staticHandler.fetch.bind(staticHandler);
  }
}

function fetch(request, info) {
  // Only the URL is touched on the hot path, so a lazily built Request never materializes its headers.
  const url = request.url;
  const pathStart = url.indexOf('/', url.indexOf('//') + 2);
  const pathname = pathStart === -1 ? '/' : url.slice(pathStart);
  if (pathname.startsWith('/ws')) return info.upgradeWebSocket(request, { data: pathname });
  if (pathname === '/') return routes.hello();
  if (pathname === '/1m') return routes.download();
  if (pathname === '/upload') return routes.countBody(request);
  if (pathname === '/echo') return routes.echo(request);
  if (pathname === '/json') return routes.json(request);
  if (staticHandler && pathname.startsWith('/static/')) return staticHandler(request, info);
  return routes.hello();
}

const BROADCAST_TOPIC = 'bench';
const websocket = {
  open(ws) {
    if (ws.data === '/ws-sub') ws.subscribe(BROADCAST_TOPIC);
  },
  message(ws, data) {
    if (ws.data === '/ws-pub') server.publish(BROADCAST_TOPIC, data);
    else ws.send(data);
  },
};

const server = httpsd.serve({
  fetch,
  websocket,
  port: options.port,
  hostname: options.host,
  tls: { cert: options.cert.toString(), key: options.key.toString() },
  httpPort: options.httpPort,
  // The idle-connection scenario opens 2,000 connections and lets them sit; the defaults are for the open internet.
  limits: { maxConnections: 20_000, idleTimeout: 300_000, maxBodySize: 64 * 1024 * 1024 },
  accessLog: false,
  ...(compressInHandler ? {} : { compress: true }),
});
await server.ready;
exitOnSignals(() => { void server.close(0); });
announceReady(`httpsd-${options.response}`, { port: server.port, httpPort: server.httpPort });
