// Peer: node:http2 with the stream API ('stream' event, stream.respond), TLS and an optional cleartext h2c port.
import http2 from 'node:http2';
import { serverOptions, announceReady, exitOnSignals, helloBody, oneMiBBody, ONE_MIB, compressedJson, echoJson } from './common.mjs';

const options = serverOptions();

const helloHeaders = { ':status': 200, 'content-type': 'text/plain', 'content-length': '5' };
const downloadHeaders = { ':status': 200, 'content-type': 'application/octet-stream', 'content-length': String(ONE_MIB) };

function onStream(stream, headers) {
  // A client that resets the stream (or goes away when a timed run ends) must not crash the server.
  stream.on('error', () => {});
  const path = headers[':path'];
  if (path === '/echo') {
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => {
      if (stream.destroyed) return;
      let body;
      try {
        body = echoJson(Buffer.concat(chunks).toString());
      } catch {
        stream.respond({ ':status': 400 });
        stream.end();
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      stream.end(body);
    });
    return;
  }
  if (path === '/json') {
    const { body, encoding } = compressedJson(headers['accept-encoding']);
    const responseHeaders = { ':status': 200, 'content-type': 'application/json', 'content-length': String(body.length), vary: 'accept-encoding' };
    if (encoding) responseHeaders['content-encoding'] = encoding;
    stream.respond(responseHeaders);
    stream.end(body);
    return;
  }
  if (path === '/upload') {
    let size = 0;
    stream.on('data', (chunk) => { size += chunk.length; });
    stream.on('end', () => {
      if (stream.destroyed) return;
      const body = String(size);
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': String(body.length) });
      stream.end(body);
    });
    return;
  }
  if (path === '/1m') {
    stream.respond(downloadHeaders);
    stream.end(oneMiBBody);
    return;
  }
  stream.respond(helloHeaders);
  stream.end(helloBody);
}

// Generous stream limit so -m 100 is never throttled by the server's SETTINGS.
const settings = { maxConcurrentStreams: 256 };
const secure = http2.createSecureServer({ cert: options.cert, key: options.key, settings });
secure.on('stream', onStream);
secure.on('sessionError', () => {});
const servers = [secure];
await new Promise((resolve) => secure.listen(options.port, options.host, resolve));
if (options.httpPort) {
  const clear = http2.createServer({ settings });
  clear.on('stream', onStream);
  await new Promise((resolve) => clear.listen(options.httpPort, options.host, resolve));
  servers.push(clear);
}
exitOnSignals(() => servers.forEach((server) => server.close()));
announceReady('node-http2-stream', { port: options.port, httpPort: options.httpPort });
