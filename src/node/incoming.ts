/**
 * The request side of the bridge: a real `http.IncomingMessage` (so Express's prototype swap and every middleware
 * that reads Node internals see what they expect) filled from the fetch Request, its body pulled from request.body
 * only as fast as the application reads it.
 */
import { IncomingMessage } from 'node:http';
import type { BridgeSocket } from './socket.js';
import type { ServeInfo } from '../server/types.js';

/** IncomingMessage internals the bridge sets or calls (stable across Node 20+; node:http's own parser sets them). */
interface IncomingInternals {
  _read(size: number): void;
  _dump(): void;
  _consuming: boolean;
}

export type BridgeIncomingMessage = IncomingMessage & IncomingInternals;

/** "1.1", "2.0" or "3.0": what `req.httpVersion` says on the protocol the request came over. */
export function httpVersionOf(protocol: ServeInfo['protocol'] | string): { major: number; minor: number } {
  if (protocol === 'h2' || protocol === 'h2c') return { major: 2, minor: 0 };
  if (protocol.startsWith('h3')) return { major: 3, minor: 0 };
  return { major: 1, minor: 1 };
}

/**
 * `onBodyError` hears a failed body read first (e.g. the server's maxBodySize, PayloadTooLargeError), so that a
 * request that has no response yet gets the server's answer for that failure (413) rather than a generic one.
 */
export function createIncomingMessage(
  request: Request,
  info: ServeInfo,
  socket: BridgeSocket,
  onBodyError: (error: unknown) => void,
): BridgeIncomingMessage {
  const req = new IncomingMessage(socket as never) as BridgeIncomingMessage;
  const url = new URL(request.url);
  req.method = request.method;
  req.url = url.pathname + url.search;
  const version = httpVersionOf(info.protocol);
  req.httpVersionMajor = version.major;
  req.httpVersionMinor = version.minor;
  req.httpVersion = `${version.major}.${version.minor}`;

  // Node's shape: lowercase names, repeated fields joined with ", " (the Headers object already did that), set-cookie
  // kept as an array. rawHeaders is the flat list in the same order.
  const headers: Record<string, string | string[]> = Object.create(null);
  const rawHeaders: string[] = [];
  for (const [name, value] of request.headers) {
    if (name === 'set-cookie') continue;
    headers[name] = value;
    rawHeaders.push(name, value);
  }
  const cookies = request.headers.getSetCookie();
  if (cookies.length > 0) {
    headers['set-cookie'] = cookies;
    for (const cookie of cookies) rawHeaders.push('set-cookie', cookie);
  }
  // HTTP/2 and HTTP/3 carry the authority as a pseudo-header; Node applications look for Host (RFC 9113 §8.3.1
  // lets a server treat :authority as Host).
  if (headers.host === undefined) {
    headers.host = url.host;
    rawHeaders.push('host', url.host);
  }
  const body = request.body;
  // A body of unknown length on h2/h3 has no Content-Length and no Transfer-Encoding (RFC 9113 §8.2.2 forbids it),
  // yet body parsers (type-is `hasBody`) skip a message that has neither: mark it the way HTTP/1.1 would.
  if (body !== null && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
    headers['transfer-encoding'] = 'chunked';
    rawHeaders.push('transfer-encoding', 'chunked');
  }
  req.headers = headers;
  req.rawHeaders = rawHeaders;

  if (body === null) {
    req.complete = true;
    req.push(null);
    return req;
  }
  const reader = body.getReader();
  let reading = false;
  // Readable calls _read when it wants more; one chunk per call keeps the request body paced by the application.
  req._read = () => {
    // As node:http's own _read does on the first call: mark the body as being consumed (the response's finish uses
    // it to decide whether to drain an unread body) and let Readable ask for more after each push (IncomingMessage
    // starts with readingMore set, since its parser pushes without being asked).
    if (!req._consuming) {
      req._consuming = true;
      (req as unknown as { _readableState: { readingMore: boolean } })._readableState.readingMore = false;
    }
    if (reading) return;
    reading = true;
    reader.read().then(
      ({ done, value }) => {
        reading = false;
        if (done) {
          req.complete = true;
          req.push(null);
        } else {
          req.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        }
      },
      (error: unknown) => {
        reading = false;
        onBodyError(error);
        req.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    );
  };
  // A destroyed request (client gone, app's req.destroy()) stops pulling the body.
  req.once('close', () => {
    if (!req.complete) reader.cancel().catch(() => {});
  });
  return req;
}
