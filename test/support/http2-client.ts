/** node:http2 client helpers shared by the test suites: a session to a test server and one request on it. */
import * as http2 from 'node:http2';

export function connectH2(origin: string): http2.ClientHttp2Session {
  const session = http2.connect(origin, { rejectUnauthorized: false });
  session.on('error', () => {});
  return session;
}

export interface H2Result {
  headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
}

/** One request on an HTTP/2 session; collects status, headers, body and trailers. */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Uint8Array | string,
): Promise<H2Result> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    let responseHeaders: H2Result['headers'] | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve({ headers: responseHeaders!, body: Buffer.concat(chunks), trailers }));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}
