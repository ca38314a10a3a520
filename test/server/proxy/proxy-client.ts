/**
 * A PROXY protocol client for the tests, written from HAProxy's specification: builds v1 and v2 headers and opens
 * connections that start with one (then cleartext, or TLS over the same socket).
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Duplex } from 'node:stream';
import type { ServeInfo } from '../../../src/server/types.js';

export function proxyV1(family: 'TCP4' | 'TCP6', source: string, destination: string, sourcePort: number, destinationPort: number): Buffer {
  return Buffer.from(`PROXY ${family} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`, 'latin1');
}

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

function addressBytes(address: string): Buffer {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Expand "::" into the missing zero groups, then write eight 16-bit groups.
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

export interface V2Options {
  command?: 'LOCAL' | 'PROXY';
  source?: string;
  destination?: string;
  sourcePort?: number;
  destinationPort?: number;
  tlvs?: [number, Buffer][];
  /** Bytes appended after the address block as they are (malformed TLVs). */
  rawTlvs?: Buffer;
  /** The family/transport byte and the address block, instead of those derived from the addresses. */
  family?: number;
  block?: Buffer;
}

export function proxyV2(options: V2Options = {}): Buffer {
  const command = options.command === 'LOCAL' ? 0x20 : 0x21;
  let family = options.family ?? 0x00;
  let block = options.block ?? Buffer.alloc(0);
  if (options.source !== undefined && options.destination !== undefined) {
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(options.sourcePort ?? 0, 0);
    ports.writeUInt16BE(options.destinationPort ?? 0, 2);
    block = Buffer.concat([addressBytes(options.source), addressBytes(options.destination), ports]);
    family = options.family ?? (net.isIPv4(options.source) ? 0x11 : 0x21);
  }
  const tlvs = (options.tlvs ?? []).map(([type, value]) => {
    const head = Buffer.alloc(3);
    head[0] = type;
    head.writeUInt16BE(value.length, 1);
    return Buffer.concat([head, value]);
  });
  const rest = Buffer.concat([block, ...tlvs, options.rawTlvs ?? Buffer.alloc(0)]);
  const fixed = Buffer.alloc(4);
  fixed[0] = command;
  fixed[1] = family;
  fixed.writeUInt16BE(rest.length, 2);
  return Buffer.concat([SIGNATURE, fixed, rest]);
}

/** A TCP connection to 127.0.0.1:port that has sent `header` (fully written before anything else). */
export function connectWithHeader(port: number, header: Uint8Array): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.write(header, (error) => (error ? reject(error) : resolve(socket)));
    });
    socket.once('error', reject);
  });
}

/** TLS (ALPN `alpn`) over a connection that began with `header`. */
export async function tlsWithHeader(port: number, header: Uint8Array, alpn: string[]): Promise<tls.TLSSocket> {
  const raw = await connectWithHeader(port, header);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ socket: raw, rejectUnauthorized: false, ALPNProtocols: alpn, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves once the server closed the socket (end or reset); the socket is kept from raising. */
export function closedByServer(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.on('error', () => {});
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
    socket.resume();
  });
}

/**
 * TLS whose first flight leaves in the same write as the PROXY header (header + ClientHello in one segment): the
 * server must hand the bytes after the header to TLS.
 */
export function tlsWithHeaderInOneWrite(port: number, header: Uint8Array, alpn: string[]): Promise<tls.TLSSocket> {
  const raw = net.connect({ host: '127.0.0.1', port });
  raw.on('error', () => {});
  let first = true;
  const bridge = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      raw.write(first ? Buffer.concat([header, chunk]) : chunk, callback);
      first = false;
    },
    final(callback) {
      raw.end(callback);
    },
    read() {
      raw.resume();
    },
    destroy(error, callback) {
      raw.destroy();
      callback(error);
    },
  });
  raw.on('data', (chunk: Buffer) => {
    if (!bridge.push(chunk)) raw.pause();
  });
  raw.on('end', () => bridge.push(null));
  raw.on('close', () => bridge.destroy());
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ socket: bridge, rejectUnauthorized: false, ALPNProtocols: alpn, servername: 'localhost' }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One HTTP/1.1 request written by hand on `socket` (connection: close); the response body, parsed as JSON. */
export async function h1Json(socket: net.Socket, path = '/', headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const fields = Object.entries({ host: 'localhost', ...headers, connection: 'close' }).map(([name, value]) => `${name}: ${value}\r\n`);
  socket.write(`GET ${path} HTTP/1.1\r\n${fields.join('')}\r\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  assert.match(text.slice(0, split), /^HTTP\/1\.1 200 /, text);
  return JSON.parse(text.slice(split + 4)) as Record<string, unknown>;
}

/** Connection facts as JSON: what the tests check. */
export const echoInfo = (request: Request, info: ServeInfo): Response =>
  Response.json({
    remoteAddress: info.remoteAddress,
    remotePort: info.remotePort,
    peerAddress: info.peerAddress,
    peerPort: info.peerPort,
    localAddress: info.localAddress,
    localPort: info.localPort,
    protocol: info.protocol,
    scheme: info.scheme,
    url: request.url,
  });
