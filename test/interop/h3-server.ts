/**
 * The HTTP/3 interop tests' server side: a QuicEndpoint answering /hello ("hello", text/plain, like the hello app)
 * and files from a directory, recording every request it saw (method, path, user-agent) for the assertions.
 */
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { QuicEndpoint } from '../../src/server/quic/index.js';
import type { QuicEndpointOptions } from '../../src/server/quic/index.js';

export interface SeenRequest {
  method: string;
  path: string;
  userAgent: string | undefined;
}

export interface TestH3Server {
  endpoint: QuicEndpoint;
  port: number;
  seen: SeenRequest[];
  close(): Promise<void>;
}

export async function startH3Server(root: string, options: Partial<QuicEndpointOptions> = {}): Promise<TestH3Server> {
  const certificate = makeCertificate();
  const seen: SeenRequest[] = [];
  const endpoint = await QuicEndpoint.listen({
    host: '127.0.0.1',
    certificates: [{ cert: certificate.cert, key: certificate.key }],
    ...options,
    onRequest(_streamId, pseudo, fields, body, respond) {
      const userAgent = fields.findIndex((value, index) => index % 2 === 0 && value === 'user-agent');
      seen.push({ method: pseudo.method ?? '', path: pseudo.path ?? '', userAgent: userAgent >= 0 ? fields[userAgent + 1] : undefined });
      body.resume();
      const path = (pseudo.path ?? '/').split('?')[0]!;
      if (path === '/hello') {
        respond(200, ['content-type', 'text/plain'], 'hello');
        return;
      }
      const relative = normalize(decodeURIComponent(path === '/' ? '/index.html' : path));
      if (relative.includes('..')) {
        respond(400, ['content-type', 'text/plain'], 'bad path\n');
        return;
      }
      readFile(join(root, relative)).then(
        (data) => respond(200, ['content-type', relative.endsWith('.html') ? 'text/html' : 'application/octet-stream', 'content-length', String(data.byteLength)], data),
        () => respond(404, ['content-type', 'text/plain'], 'not found\n'),
      );
    },
  });
  return { endpoint, port: endpoint.port, seen, close: () => endpoint.close() };
}
