// Peer: node:http2 compatibility API ((req, res) handler), TLS with HTTP/1.1 fallback, optional cleartext h2c port.
import http2 from 'node:http2';
import { serverOptions, announceReady, exitOnSignals, helloBody, oneMiBBody, ONE_MIB } from './common.mjs';

const options = serverOptions();

function onRequest(req, res) {
  if (req.url === '/upload') {
    let size = 0;
    req.on('data', (chunk) => { size += chunk.length; });
    req.on('end', () => {
      const body = String(size);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    });
    return;
  }
  if (req.url === '/1m') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': ONE_MIB });
    res.end(oneMiBBody);
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 });
  res.end(helloBody);
}

const settings = { maxConcurrentStreams: 256 };
const secure = http2.createSecureServer({ cert: options.cert, key: options.key, settings, allowHTTP1: true }, onRequest);
secure.on('sessionError', () => {});
const servers = [secure];
await new Promise((resolve) => secure.listen(options.port, options.host, resolve));
if (options.httpPort) {
  const clear = http2.createServer({ settings }, onRequest);
  await new Promise((resolve) => clear.listen(options.httpPort, options.host, resolve));
  servers.push(clear);
}
exitOnSignals(() => servers.forEach((server) => server.close()));
announceReady('node-http2-compat', { port: options.port, httpPort: options.httpPort });
