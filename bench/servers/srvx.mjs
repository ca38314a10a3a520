// Peer: srvx, a fetch-handler server for Node.js. With TLS it runs node:http2's secure server with allowHTTP1 (its
// default: h2 and HTTP/1.1 on one port); cleartext on node:http. Answers with srvx's FastResponse, as srvx recommends
// for speed on Node.js. Same routes and bytes as every peer: / hello, /1m, POST /upload, POST /echo, GET /json.
import { serve, FastResponse } from 'srvx';
import { serverOptions, announceReady, exitOnSignals, fetchRoutes } from './common.mjs';

const options = serverOptions();

const routes = fetchRoutes(FastResponse);

function fetch(request) {
  const { pathname } = new URL(request.url);
  if (pathname === '/1m') return routes.download();
  if (pathname === '/upload') return routes.countBody(request);
  if (pathname === '/echo') return routes.echo(request);
  if (pathname === '/json') return routes.json(request);
  return routes.hello();
}

const common = { fetch, hostname: options.host, silent: true, gracefulShutdown: false };
const servers = [serve({
  ...common,
  port: options.port,
  tls: { cert: options.cert.toString(), key: options.key.toString() },
  node: { settings: { maxConcurrentStreams: 256 } },
})];
if (options.httpPort) servers.push(serve({ ...common, port: options.httpPort, protocol: 'http' }));
await Promise.all(servers.map((server) => server.ready()));
for (const server of servers) server.node.server.on('sessionError', () => {});
exitOnSignals(() => servers.forEach((server) => void server.close(true)));
announceReady('srvx', { port: options.port, httpPort: options.httpPort });
