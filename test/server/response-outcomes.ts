/**
 * What a real client saw of one response, whichever way it ended: a complete response (status, body, trailers,
 * 1xx heads) or a reset / cut connection. Used by the response validation and fuzz tests, which assert on how an
 * exchange ends rather than expecting every one to succeed. A request that neither completes nor fails within the
 * limit is reported as a hang.
 */
import * as http2 from 'node:http2';
import * as https from 'node:https';

export interface Outcome {
  status: number | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  trailers: Record<string, string | string[] | undefined>;
  informational: { status: number; headers: Record<string, unknown> }[];
  /** HTTP/2: the RST_STREAM code the stream ended with (0 when it ended normally). */
  rstCode: number;
  /** The exchange ended without a complete response (reset, connection cut, client-side error). */
  error: Error | undefined;
}

/** Generous: a request that takes this long is hung, not slow. */
export const HANG_MS = 20_000;

function emptyOutcome(): Outcome {
  return { status: undefined, headers: {}, body: Buffer.alloc(0), trailers: {}, informational: [], rstCode: 0, error: undefined };
}

export function h1Outcome(origin: string, path: string, options: { method?: string; agent?: https.Agent } = {}): Promise<Outcome> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const outcome = emptyOutcome();
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      request.destroy();
      reject(new Error(`HTTP/1.1 ${path}: no outcome within ${HANG_MS} ms (hung)`));
    }, HANG_MS);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      outcome.body = Buffer.concat(chunks);
      outcome.error = error;
      resolve(outcome);
    };
    const request = https.request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: options.method ?? 'GET',
        rejectUnauthorized: false,
        agent: options.agent ?? false,
      },
      (response) => {
        outcome.status = response.statusCode;
        outcome.headers = response.headers;
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          outcome.trailers = response.trailers;
          finish();
        });
        response.on('aborted', () => finish(new Error('response aborted')));
        response.on('error', (error) => finish(error));
      },
    );
    request.on('information', (info) => outcome.informational.push({ status: info.statusCode, headers: info.headers }));
    request.on('error', (error) => finish(error));
    request.end();
  });
}

export function h2Outcome(session: http2.ClientHttp2Session, path: string, options: { method?: string } = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const outcome = emptyOutcome();
    const chunks: Buffer[] = [];
    let settled = false;
    const stream = session.request({ ':path': path, ':method': options.method ?? 'GET' }, { endStream: true });
    const timer = setTimeout(() => {
      settled = true;
      stream.destroy();
      reject(new Error(`HTTP/2 ${path}: no outcome within ${HANG_MS} ms (hung)`));
    }, HANG_MS);
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome.body = Buffer.concat(chunks);
      outcome.rstCode = stream.rstCode ?? 0;
      outcome.error = error ?? (outcome.rstCode !== 0 ? new Error(`stream reset (code ${outcome.rstCode})`) : undefined);
      resolve(outcome);
    };
    stream.on('headers', (headers) => outcome.informational.push({ status: Number(headers[':status']), headers }));
    stream.on('response', (headers) => {
      outcome.status = Number(headers[':status']);
      outcome.headers = headers as Outcome['headers'];
    });
    stream.on('trailers', (trailers) => (outcome.trailers = trailers as Outcome['trailers']));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', (error) => finish(error));
    stream.on('close', () => finish());
  });
}
