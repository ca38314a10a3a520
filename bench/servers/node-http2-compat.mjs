// Peer: node:http2 compatibility API ((req, res) handler), TLS with HTTP/1.1 fallback, optional cleartext h2c port.
import http2 from 'node:http2';
import { serverOptions, announceReady, exitOnSignals, helloRequestListener } from './common.mjs';

const options = serverOptions();

const settings = { maxConcurrentStreams: 256 };
const secure = http2.createSecureServer({ cert: options.cert, key: options.key, settings, allowHTTP1: true }, helloRequestListener);
secure.on('sessionError', () => {});
const servers = [secure];
await new Promise((resolve) => secure.listen(options.port, options.host, resolve));
if (options.httpPort) {
  const clear = http2.createServer({ settings }, helloRequestListener);
  await new Promise((resolve) => clear.listen(options.httpPort, options.host, resolve));
  servers.push(clear);
}
exitOnSignals(() => servers.forEach((server) => server.close()));
announceReady('node-http2-compat', { port: options.port, httpPort: options.httpPort });
