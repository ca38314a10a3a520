// Peer: node:https (HTTP/1.1 only, keep-alive), optional cleartext node:http port.
import https from 'node:https';
import http from 'node:http';
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

// keepAliveTimeout raised so idle keep-alive connections of the load generator are not dropped mid-run.
const secure = https.createServer({ cert: options.cert, key: options.key, keepAliveTimeout: 60_000 }, onRequest);
const servers = [secure];
await new Promise((resolve) => secure.listen(options.port, options.host, resolve));
if (options.httpPort) {
  const clear = http.createServer({ keepAliveTimeout: 60_000 }, onRequest);
  await new Promise((resolve) => clear.listen(options.httpPort, options.host, resolve));
  servers.push(clear);
}
exitOnSignals(() => servers.forEach((server) => server.close()));
announceReady('node-https', { port: options.port, httpPort: options.httpPort });
