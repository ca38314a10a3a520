// An Express 5 app on httpsd: `HTTPSD_CERT=cert.pem HTTPSD_KEY=key.pem npx tsx examples/express.ts` serves
// https://localhost:8443/ over HTTP/2 and HTTP/1.1; without the two variables it serves cleartext HTTP/1.1 and h2c.
import express from 'express';
import { serve } from '../src/index.js';
import { fromNodeHandler } from '../src/node/index.js';

const app = express();
app.use(express.json());

app.get('/', (req, res) => {
  res.send(`hello over HTTP/${req.httpVersion} from ${req.ip}${req.secure ? ' (TLS)' : ''}\n`);
});

app.post('/echo', (req, res) => {
  res.json({ received: req.body });
});

// Server-sent events: each write reaches the client as it happens; 'close' fires when the client goes away.
app.get('/events', (req, res) => {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  let n = 0;
  const timer = setInterval(() => res.write(`data: ${++n}\n\n`), 1000);
  res.on('close', () => clearInterval(timer));
});

// Errors reach Express's error middleware; nothing of the stack reaches the client.
app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
  console.error(error);
  res.status(500).json({ error: 'internal error' });
});

const certFile = process.env.HTTPSD_CERT;
const keyFile = process.env.HTTPSD_KEY;
const server = serve({
  fetch: fromNodeHandler(app),
  port: 8443,
  ...(certFile !== undefined && keyFile !== undefined ? { tls: { cert: certFile, key: keyFile } } : {}),
});
await server.ready;
console.log(`listening on ${server.urls.join(', ')}`);
