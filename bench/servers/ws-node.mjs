// Peer: the `ws` package on node:https (HTTP/1.1 Upgrade), the usual WebSocket server of the Node.js ecosystem.
// Same routes as httpsd.mjs: /ws echoes every message; /ws-sub subscribes to the broadcast; every message on /ws-pub
// is sent to each subscriber (ws has no topics: a loop of send(), each encoding its own frame). Plain HTTP requests
// get the hello answers of the other node peers, so the harness's checks pass.
import https from 'node:https';
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { serverOptions, announceReady, exitOnSignals, helloRequestListener } from './common.mjs';

const options = serverOptions();

const subscribers = new Set();

function attach(server) {
  // permessage-deflate off, as on httpsd (its default there too).
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
  wss.on('connection', (ws, request) => {
    const route = request.url;
    if (route === '/ws-sub') {
      subscribers.add(ws);
      ws.on('close', () => subscribers.delete(ws));
    } else if (route === '/ws-pub') {
      ws.on('message', (data, isBinary) => {
        for (const subscriber of subscribers) subscriber.send(data, { binary: isBinary });
      });
    } else {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    }
    ws.on('error', () => ws.terminate());
  });
  return wss;
}

const secure = https.createServer({ cert: options.cert, key: options.key, keepAliveTimeout: 60_000 }, helloRequestListener);
attach(secure);
const servers = [secure];
await new Promise((resolve) => secure.listen(options.port, options.host, resolve));
if (options.httpPort) {
  const clear = http.createServer({ keepAliveTimeout: 60_000 }, helloRequestListener);
  attach(clear);
  await new Promise((resolve) => clear.listen(options.httpPort, options.host, resolve));
  servers.push(clear);
}
exitOnSignals(() => servers.forEach((server) => server.close()));
announceReady('ws-node', { port: options.port, httpPort: options.httpPort });
