/**
 * Runs serve() with serveStatic in its own process, so tests can measure its memory (RSS) in isolation.
 * argv[2]: JSON { root, cert, key, options }. Prints one JSON line { port, pid } once listening; exits on SIGTERM.
 */
import { serve } from '../../src/index.js';
import { serveStatic } from '../../src/static/index.js';

const config = JSON.parse(process.argv[2]!) as { root: string; cert: string; key: string; options?: Record<string, unknown> };
const server = serve({
  fetch: serveStatic(config.root, { ...config.options, log: (line) => process.stderr.write(line + '\n') }),
  port: 0,
  hostname: '127.0.0.1',
  tls: { cert: config.cert, key: config.key },
  accessLog: false,
});
await server.ready;
process.stdout.write(JSON.stringify({ port: server.port, pid: process.pid }) + '\n');
process.once('SIGTERM', () => {
  void server.close(1000).then(() => process.exit(0));
});
