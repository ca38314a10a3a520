/**
 * The HTTP/3 interop tests' server side: a QuicEndpoint serving through the server core (the h3 transport and the
 * exchange, as serve() does) a fetch handler answering /hello ("hello", text/plain, like the hello app) and files
 * from a directory, recording every request it saw (method, path, user-agent) for the assertions. The endpoint is
 * built directly (not through serve()) so the tests reach its QUIC options (Retry, 0-RTT, key log) and counters.
 */
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { QuicEndpoint } from '../../src/server/quic/index.js';
import type { QuicEndpointOptions } from '../../src/server/quic/index.js';
import { ServerContext } from '../../src/server/context.js';
import { resolveLimits } from '../../src/server/limits.js';
import { acceptHttp3 } from '../../src/server/transports/h3.js';
import type { FetchHandler } from '../../src/server/types.js';

export interface SeenRequest {
  method: string;
  path: string;
  userAgent: string | undefined;
}

export interface TestH3Server {
  endpoint: QuicEndpoint;
  port: number;
  seen: SeenRequest[];
  /** Handler errors the core caught (each answered 500). */
  errors: unknown[];
  close(): Promise<void>;
}

/** /hello, then files under `root`; `fetch` (when given) answers first and falls through when it returns undefined. */
export async function startH3Server(
  root: string,
  options: Partial<QuicEndpointOptions> = {},
  fetch?: (request: Request) => Response | Promise<Response> | undefined,
): Promise<TestH3Server> {
  const certificate = makeCertificate();
  const seen: SeenRequest[] = [];
  const errors: unknown[] = [];
  const handler: FetchHandler = async (request) => {
    const url = new URL(request.url);
    seen.push({ method: request.method, path: url.pathname + url.search, userAgent: request.headers.get('user-agent') ?? undefined });
    const custom = await fetch?.(request);
    if (custom !== undefined) return custom;
    if (url.pathname === '/hello') return new Response('hello', { headers: { 'content-type': 'text/plain' } });
    const relative = normalize(decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname));
    if (relative.includes('..')) return new Response('bad path\n', { status: 400 });
    try {
      const data = await readFile(join(root, relative));
      return new Response(data, { headers: { 'content-type': relative.endsWith('.html') ? 'text/html' : 'application/octet-stream' } });
    } catch {
      return new Response('not found\n', { status: 404 });
    }
  };
  const context = new ServerContext({
    handler,
    limits: resolveLimits(undefined),
    serverHeader: 'httpsd',
    onError: (error) => errors.push(error),
    accessLog: undefined,
    metricsPath: undefined,
    traceFrames: undefined,
    h2Limits: undefined,
    websocket: undefined,
  });
  const endpoint = await QuicEndpoint.listen({
    host: '127.0.0.1',
    certificates: [{ cert: certificate.cert, key: certificate.key }],
    onConnection: acceptHttp3(context),
    ...options,
  });
  return { endpoint, port: endpoint.port, seen, errors, close: () => endpoint.close() };
}
