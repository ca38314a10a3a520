/**
 * The response side of the bridge: a real `http.ServerResponse` whose head, informational responses and trailers
 * are taken as data instead of being serialized onto a wire.
 *
 * node:http serializes the head into `res._header` (after validating every field) and prepends it to the first body
 * write. Here, once the head is stored, it is parsed back into status and fields, `_headerSent` is marked so it is
 * never written, and chunked framing is switched off: what reaches the socket is content only, and the server frames
 * it for whichever protocol the request came over.
 */
import { ServerResponse, type OutgoingHttpHeaders } from 'node:http';
import type { BridgeIncomingMessage } from './incoming.js';
import type { BridgeSocket } from './socket.js';
import type { ServeInfo } from '../server/types.js';

/** ServerResponse internals the bridge reads or replaces (present since Node 0.x; the Node 20+ shapes are used). */
interface OutgoingInternals {
  _header: string | null;
  _headerSent: boolean;
  _hasBody: boolean;
  _storeHeader(firstLine: string, headers: unknown): void;
  chunkedEncoding: boolean;
  useChunkedEncodingByDefault: boolean;
}

export type BridgeServerResponse = ServerResponse & OutgoingInternals;

/** The response head as the application set it: status and fields in order, framing fields removed. */
export interface CapturedHead {
  status: number;
  statusText: string;
  headers: [string, string][];
  /** False for HEAD and for 1xx/204/304: node:http writes no content for these. */
  hasBody: boolean;
}

/**
 * Connection-specific fields describe node:http's own framing of a wire it no longer writes (RFC 9110 §7.6.1); HTTP/2
 * and HTTP/3 forbid them outright (RFC 9113 §8.2.2). The server sets the framing for the protocol in use.
 */
const CONNECTION_FIELDS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

/** node:http's own kNeedDrain flag (set by a false write()), looked up once on the first response. */
let needDrainSymbol: symbol | undefined | null = null;

function needDrainOf(res: ServerResponse): symbol | undefined {
  if (needDrainSymbol === null) {
    needDrainSymbol = Object.getOwnPropertySymbols(res).find((symbol) => symbol.description === 'kNeedDrain');
  }
  return needDrainSymbol;
}

export function parseStoredHead(header: string): { status: number; headers: [string, string][] } {
  const lines = header.split('\r\n');
  // "HTTP/1.1 200 OK": node:http wrote the status code itself, three digits after the version.
  const status = Number.parseInt(lines[0]!.slice(9, 12), 10);
  const headers: [string, string][] = [];
  for (let index = 1; index < lines.length; index++) {
    const line = lines[index]!;
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    if (CONNECTION_FIELDS.has(name)) continue;
    headers.push([name, line.slice(colon + 1).trim()]);
  }
  return { status, headers };
}

/** Node's OutgoingHttpHeaders (as given to writeEarlyHints / addTrailers) as a field list. */
export function headerPairs(fields: OutgoingHttpHeaders | readonly [string, string][]): [string, string][] {
  const pairs: [string, string][] = [];
  if (Array.isArray(fields)) {
    for (const [name, value] of fields as readonly [string, string][]) pairs.push([name, String(value)]);
    return pairs;
  }
  for (const [name, value] of Object.entries(fields as OutgoingHttpHeaders)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) pairs.push([name, String(item)]);
    else pairs.push([name, String(value)]);
  }
  return pairs;
}

export function createServerResponse(
  req: BridgeIncomingMessage,
  socket: BridgeSocket,
  info: ServeInfo,
  onHead: (head: CapturedHead) => void,
): BridgeServerResponse {
  // ServerResponse decides chunking and keep-alive from the request version and treats any minor version 0 as
  // HTTP/1.0, which would make "2.0" lose the automatic Content-Length of res.end(body): construct it as 1.1.
  const { httpVersionMajor, httpVersionMinor } = req;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  const res = new ServerResponse(req) as unknown as BridgeServerResponse;
  req.httpVersionMajor = httpVersionMajor;
  req.httpVersionMinor = httpVersionMinor;
  // The server stamps Date itself (RFC 9110 §6.6.1); a Date the application sets still passes through.
  res.sendDate = false;

  const storeHeader = res._storeHeader;
  res._storeHeader = function storeHeaderAsData(this: BridgeServerResponse, firstLine: string, headers: unknown): void {
    storeHeader.call(this, firstLine, headers);
    // Content only from here on: no chunk framing (even if the app set Transfer-Encoding: chunked itself), and the
    // serialized head is never written.
    this.chunkedEncoding = false;
    this._headerSent = true;
    const parsed = parseStoredHead(this._header ?? firstLine);
    onHead({
      status: parsed.status,
      statusText: this.statusMessage ?? '',
      headers: parsed.headers,
      hasBody: this._hasBody,
    });
  };

  // 1xx responses: node:http writes them straight onto the wire; here they go through the server, which sends them
  // where the protocol allows (RFC 9110 §15.2).
  res.writeContinue = function writeContinue(callback?: () => void): void {
    info.sendInformational(100, []);
    if (callback !== undefined) process.nextTick(callback);
  };
  res.writeProcessing = function writeProcessing(callback?: () => void): void {
    info.sendInformational(102, []);
    if (callback !== undefined) process.nextTick(callback);
  };
  res.writeEarlyHints = function writeEarlyHints(hints: Record<string, string | string[]>, callback?: () => void): void {
    info.sendInformational(103, headerPairs(hints));
    if (callback !== undefined) process.nextTick(callback);
  };

  // Trailers: node:http validates and serializes them only for chunked HTTP/1.1; here they become the response's
  // trailers on every protocol (HTTP/2 trailing HEADERS, chunked trailer section on HTTP/1.1).
  const addTrailers = res.addTrailers;
  let trailers: [string, string][] | undefined;
  res.addTrailers = function addTrailersAsData(this: BridgeServerResponse, fields: OutgoingHttpHeaders | readonly [string, string][]): void {
    addTrailers.call(this, fields as OutgoingHttpHeaders);
    if (trailers === undefined) {
      trailers = [];
      const collected = trailers;
      info.setTrailers?.(() => collected);
    }
    trailers.push(...headerPairs(fields));
  };

  res.assignSocket(socket as never);
  // node:http's server forwards its socket's 'drain' to the response that is writing (it is what makes
  // `res.once('drain')` after a false `res.write()` ever fire); the bridge socket needs the same.
  socket.on('drain', () => {
    const needDrain = needDrainOf(res);
    const flags = res as unknown as Record<symbol, boolean>;
    if (res.writableFinished || res.destroyed) return;
    if (needDrain === undefined) {
      res.emit('drain');
    } else if (flags[needDrain]) {
      flags[needDrain] = false;
      res.emit('drain');
    }
  });
  return res;
}
