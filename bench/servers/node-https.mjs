// Peer: node:https (HTTP/1.1 only, keep-alive), optional cleartext node:http port.
import https from 'node:https';
import http from 'node:http';
import { serverOptions, announceReady, exitOnSignals, helloRequestListener } from './common.mjs';

const options = serverOptions();

// keepAliveTimeout raised so idle keep-alive connections of the load generator are not dropped mid-run.
const secure = https.createServer({ cert: options.cert, key: options.key, keepAliveTimeout: 60_000 }, helloRequestListener);
const servers = [secure];
await new Promise((resolve) => secure.listen(options.port, options.host, resolve));
if (options.httpPort) {
  const clear = http.createServer({ keepAliveTimeout: 60_000 }, helloRequestListener);
  await new Promise((resolve) => clear.listen(options.httpPort, options.host, resolve));
  servers.push(clear);
}
exitOnSignals(() => servers.forEach((server) => server.close()));
announceReady('node-https', { port: options.port, httpPort: options.httpPort });
