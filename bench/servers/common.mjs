// Shared by the Node.js benchmark servers: argv/env parsing and the payloads every peer answers with.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';

/** 1 MiB of a fixed byte pattern, the /1m download body. */
export const ONE_MIB = 1024 * 1024;
export const oneMiBBody = Buffer.alloc(ONE_MIB, 'httpsd-bench-');
export const helloBody = Buffer.from('hello');

/**
 * The POST /echo request body (about 500 bytes of JSON): every server parses it and answers it serialized again,
 * `content-type: application/json`.
 */
export const echoRequestBody = Buffer.from(JSON.stringify({
  id: 1234567,
  user: { name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'editor'], active: true },
  items: Array.from({ length: 6 }, (_, index) => ({ sku: `SKU-${1000 + index}`, quantity: index + 1, price: 9.99 + index })),
  note: 'The quick brown fox jumps over the lazy dog.',
  createdAt: '2026-01-01T00:00:00.000Z',
}));

/** The document behind GET /json: about 10 KiB once serialized, serialized and compressed again for each request. */
export const jsonDocument = {
  status: 'ok',
  items: Array.from({ length: 58 }, (_, index) => ({
    id: index,
    name: `item number ${index}`,
    tags: ['alpha', 'beta', index % 2 ? 'odd' : 'even'],
    price: Math.round((index * 7.31) % 100 * 100) / 100,
    inStock: index % 3 !== 0,
    description: `Description of item ${index}: a mid-sized, compressible English sentence.`,
  })),
};

/**
 * Compression of GET /json, the same for every Node.js server that compresses in its handler: brotli (quality 4, a
 * usual setting for responses compressed on the fly) when the client accepts it, else gzip (zlib's default level 6,
 * which nginx is set to as well), else none. The benchmark client sends `accept-encoding: br, gzip`.
 */
export function pickEncoding(acceptEncoding) {
  const accepted = String(acceptEncoding ?? '');
  if (/\bbr\b/.test(accepted)) return 'br';
  if (/\bgzip\b/.test(accepted)) return 'gzip';
  return undefined;
}

const brotliOptions = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } };
const gzipOptions = { level: 6 };

/** GET /json for one request: { body, encoding } with encoding br, gzip or undefined (identity). */
export function compressedJson(acceptEncoding) {
  const text = JSON.stringify(jsonDocument);
  const encoding = pickEncoding(acceptEncoding);
  if (encoding === 'br') return { body: zlib.brotliCompressSync(text, brotliOptions), encoding };
  if (encoding === 'gzip') return { body: zlib.gzipSync(text, gzipOptions), encoding };
  return { body: Buffer.from(text), encoding };
}

/** POST /echo: the request's JSON parsed and serialized again (what every server's handler does). */
export function echoJson(text) {
  return JSON.stringify(JSON.parse(text));
}

/**
 * Options: --port, --http-port, --cert, --key, --response fast|global, --static DIR, --compress handler|serve.
 * Each also reads from BENCH_PORT, BENCH_HTTP_PORT, BENCH_CERT, BENCH_KEY, BENCH_RESPONSE, BENCH_STATIC, BENCH_COMPRESS.
 */
export function serverOptions() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      'http-port': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      response: { type: 'string' },
      static: { type: 'string' },
      host: { type: 'string' },
      compress: { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  const port = Number(values.port ?? env.BENCH_PORT ?? 8443);
  const httpPortText = values['http-port'] ?? env.BENCH_HTTP_PORT;
  const certPath = values.cert ?? env.BENCH_CERT;
  const keyPath = values.key ?? env.BENCH_KEY;
  if (!certPath || !keyPath) {
    console.error('bench server: --cert FILE and --key FILE (or BENCH_CERT/BENCH_KEY) are required');
    process.exit(2);
  }
  return {
    host: values.host ?? env.BENCH_HOST ?? '127.0.0.1',
    port,
    httpPort: httpPortText ? Number(httpPortText) : undefined,
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
    response: values.response ?? env.BENCH_RESPONSE ?? 'fast',
    staticDir: values.static ?? env.BENCH_STATIC,
    compress: values.compress ?? env.BENCH_COMPRESS ?? 'serve',
  };
}

/** Printed once every listener is bound; the harness also polls the ports. */
export function announceReady(name, ports) {
  process.stdout.write(`${name} ready ${JSON.stringify(ports)}\n`);
}

/** The harness stops servers with SIGTERM; exit promptly without a graceful drain (load is over). */
export function exitOnSignals(closeAll) {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      try { closeAll(); } catch { /* exiting anyway */ }
      process.exit(0);
    });
  }
}

/**
 * The (req, res) handler shared by the node:http-style peers (node:https, node:http2 compat API): the hello answer,
 * /1m, and POST /upload answering the number of bytes read.
 */
export function helloRequestListener(req, res) {
  if (req.url === '/echo') {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let body;
      try {
        body = echoJson(Buffer.concat(chunks).toString());
      } catch {
        res.writeHead(400, { 'content-type': 'text/plain', 'content-length': 8 });
        res.end('bad json');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  if (req.url === '/json') {
    const { body, encoding } = compressedJson(req.headers['accept-encoding']);
    const headers = { 'content-type': 'application/json', 'content-length': body.length, vary: 'accept-encoding' };
    if (encoding) headers['content-encoding'] = encoding;
    res.writeHead(200, headers);
    res.end(body);
    return;
  }
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

/**
 * The fetch-handler routes shared by the servers that answer with a Response class (httpsd, srvx): each returns
 * an instance of ResponseClass, or with ResponseClass 'global' a `new Response(...)` resolved at call time through
 * the global, as an application's own code does (whatever the server installed there by then).
 * compressJson false: /json answers plain JSON (for a server that compresses itself).
 */
export function fetchRoutes(ResponseClass, { compressJson = true } = {}) {
  const respond = ResponseClass === 'global' ? (body, init) => new Response(body, init) : (body, init) => new ResponseClass(body, init);
  const helloInit = { status: 200, headers: { 'content-type': 'text/plain' } };
  const downloadInit = { status: 200, headers: { 'content-type': 'application/octet-stream' } };
  const jsonInit = { status: 200, headers: { 'content-type': 'application/json' } };
  return {
    hello: () => respond('hello', helloInit),
    download: () => respond(oneMiBBody, downloadInit),
    async countBody(request) {
      let size = 0;
      if (request.body) {
        for await (const chunk of request.body) size += chunk.byteLength;
      }
      return respond(String(size), helloInit);
    },
    async echo(request) {
      let data;
      try {
        data = await request.json();
      } catch {
        return respond('bad json', { status: 400, headers: { 'content-type': 'text/plain' } });
      }
      return respond(JSON.stringify(data), jsonInit);
    },
    json(request) {
      if (!compressJson) return respond(JSON.stringify(jsonDocument), jsonInit);
      const { body, encoding } = compressedJson(request.headers.get('accept-encoding'));
      const headers = { 'content-type': 'application/json', vary: 'accept-encoding' };
      if (encoding) headers['content-encoding'] = encoding;
      return respond(body, { status: 200, headers });
    },
  };
}
