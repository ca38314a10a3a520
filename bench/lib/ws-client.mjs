// The WebSocket client side of the ws-* scenarios: httpsd's own sans-IO engine (dist/ws) in client role over a raw
// TLS socket, with the HTTP/1.1 opening handshake (RFC 6455 §4.1) written by hand. Much cheaper per message than
// the `ws` client, so that the load generator is not what limits the measured rate.
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';

const distWs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'ws', 'index.js');
const engine = await import(pathToFileURL(distWs).href);
export const { WebSocketConnection, acceptValue } = engine;

const sha1 = (data) => createHash('sha1').update(data).digest();

/**
 * Masking keys (RFC 6455 §5.3: a fresh unpredictable key per frame) cut from a pool of random bytes refilled in
 * bulk, instead of one randomBytes() call per frame.
 */
export function maskKeySource(poolSize = 64 * 1024) {
  const pool = Buffer.alloc(poolSize);
  let offset = poolSize;
  return () => {
    if (offset + 4 > poolSize) {
      randomFillSync(pool);
      offset = 0;
    }
    const key = pool.subarray(offset, offset + 4);
    offset += 4;
    return key;
  };
}

/** The opening handshake request and the Sec-WebSocket-Accept value a correct server answers with. */
export function handshakeRequest(host, target) {
  const key = randomBytes(16).toString('base64');
  const request = `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
  return { request, expectedAccept: acceptValue(key, sha1) };
}

/**
 * Reads the server's handshake answer from `buffered` bytes. Returns undefined while the head is incomplete,
 * { error } for anything but a 101 with the right accept value (§4.1 "the client MUST _Fail the WebSocket
 * Connection_"), or { rest }: the bytes after the head, which are already WebSocket frames.
 */
export function parseHandshakeResponse(buffered, expectedAccept) {
  const end = buffered.indexOf('\r\n\r\n');
  if (end === -1) return buffered.length > 16 * 1024 ? { error: 'handshake response head over 16 KiB' } : undefined;
  const lines = buffered.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(lines[0])?.[1];
  if (status !== '101') return { error: `handshake answered ${lines[0]}` };
  const fields = new Map(lines.slice(1).map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
  }));
  if (fields.get('sec-websocket-accept') !== expectedAccept) return { error: 'wrong Sec-WebSocket-Accept' };
  if (fields.get('upgrade')?.toLowerCase() !== 'websocket') return { error: 'no Upgrade: websocket' };
  return { rest: buffered.subarray(end + 4) };
}

/**
 * One client WebSocket over TLS. onMessage(data) is called for each message; flush() writes what the engine
 * queued (call it once per batch of sends, so that several frames share one TLS record).
 */
export function connectWebSocket({ host = '127.0.0.1', port, target, maskKey, onMessage, onClose }) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
    socket.setNoDelay(true);
    const connection = new WebSocketConnection({ role: 'client', maskKey });
    const { request, expectedAccept } = handshakeRequest(`${host}:${port}`, target);
    let head = Buffer.alloc(0);
    let open = false;
    const client = {
      connection,
      socket,
      send(data) { connection.sendMessage(data); },
      flush() {
        const bytes = connection.dataToSend();
        if (bytes !== null && !socket.destroyed) socket.write(bytes);
      },
      close() { socket.destroy(); },
    };
    const deliver = (bytes) => {
      const events = connection.receive(bytes);
      for (const event of events) {
        if (event.type === 'message') onMessage(event.data);
        else if (event.type === 'closed') {
          client.flush();
          socket.end();
          onClose?.(event);
        }
      }
      client.flush();
    };
    socket.once('secureConnect', () => socket.write(request));
    socket.on('data', (chunk) => {
      if (open) {
        deliver(chunk);
        return;
      }
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const answer = parseHandshakeResponse(head, expectedAccept);
      if (answer === undefined) return;
      if (answer.error) {
        socket.destroy();
        reject(new Error(answer.error));
        return;
      }
      open = true;
      head = undefined;
      resolve(client);
      if (answer.rest.length) deliver(answer.rest);
    });
    socket.on('error', (error) => {
      if (!open) reject(error);
      else onClose?.({ type: 'closed', code: 1006, reason: error.message, byPeer: true, clean: false });
    });
    socket.on('close', () => {
      if (!open) reject(new Error('connection closed during the handshake'));
    });
  });
}
