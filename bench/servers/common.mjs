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
