import { connect, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';

/** One request over a fresh HTTP/2 connection to a test server with a throwaway certificate. */
export function http2Fetch(
  port: number,
  path: string,
  headers: OutgoingHttpHeaders = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const session = connect(`https://localhost:${port}`, { rejectUnauthorized: false });
    session.on('error', reject);
    const stream = session.request({ ':path': path, ...headers });
    let response: IncomingHttpHeaders = {};
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (received) => (response = received));
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => {
      session.close();
      resolve({ status: Number(response[':status']), headers: response, body });
    });
    stream.on('error', reject);
  });
}

/** One GET over a fresh HTTP/2 connection. */
export async function http2Get(port: number, path: string): Promise<{ status: number; body: string }> {
  const { status, body } = await http2Fetch(port, path);
  return { status, body };
}
