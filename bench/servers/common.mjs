// Shared by the Node.js benchmark servers: argv/env parsing and the payloads every peer answers with.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** 1 MiB of a fixed byte pattern, the /1m download body. */
export const ONE_MIB = 1024 * 1024;
export const oneMiBBody = Buffer.alloc(ONE_MIB, 'httpsd-bench-');
export const helloBody = Buffer.from('hello');

/**
 * Options: --port, --http-port, --cert, --key, --response fast|global, --static DIR.
 * Each also reads from BENCH_PORT, BENCH_HTTP_PORT, BENCH_CERT, BENCH_KEY, BENCH_RESPONSE, BENCH_STATIC.
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
