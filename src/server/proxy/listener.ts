/**
 * The PROXY protocol on a listener: reads the header from the first bytes of an accepted socket, remembers the
 * addresses it gives, and hands the socket on (to the TLS server, or to the cleartext h2c sniff) with the bytes after
 * the header put back. A connection without a valid header, or whose header does not arrive in time, is closed.
 */
import type { Socket } from 'node:net';
import type { ServerContext, TrackedConnection } from '../context.js';
import { parseProxyHeader, type ProxiedAddresses } from './proxy-protocol.js';

/** The addresses PROXY headers gave, by raw socket; gone with the socket. */
const proxiedSockets = new WeakMap<object, ProxiedAddresses>();

/**
 * The addresses the PROXY header of this connection gave, or undefined (no header, or one that said to use the real
 * peer). A TLS socket made from a raw socket finds them through its `_parent` (node:tls keeps the wrapped socket
 * there; the header was read on the raw socket before TLS began).
 */
export function proxiedAddressesOf(socket: object): ProxiedAddresses | undefined {
  return proxiedSockets.get(socket) ?? proxiedSocketsOfParent(socket);
}

function proxiedSocketsOfParent(socket: object): ProxiedAddresses | undefined {
  const parent = (socket as { _parent?: unknown })._parent;
  return parent !== null && typeof parent === 'object' ? proxiedSockets.get(parent) : undefined;
}

/**
 * Reads the PROXY header of `socket`, then calls `next(socket)` with the socket paused and what followed the header
 * unread. limits.headersTimeout bounds the wait for the whole header (a client that sends nothing is closed; 0: no
 * limit). Until then the socket is one of the server's live connections, so a graceful close() does not wait for it.
 */
export function readProxyHeader(context: ServerContext, socket: Socket, next: (socket: Socket) => void): void {
  let received: Buffer | undefined;
  const timeoutMs = context.limits.headersTimeout;
  const timer = timeoutMs > 0 ? setTimeout(() => socket.destroy(), timeoutMs) : undefined;
  // No request can be in progress before the header: shutting down closes the connection at once.
  const waiting: TrackedConnection = { shutdown: () => socket.destroy(), destroy: () => socket.destroy(), pendingOutputBytes: () => 0 };
  context.live.add(waiting);
  const stop = () => {
    clearTimeout(timer);
    context.live.delete(waiting);
    socket.off('data', onData);
    socket.off('close', stop);
  };
  const onData = (chunk: Buffer) => {
    received = received === undefined ? chunk : Buffer.concat([received, chunk]);
    const result = parseProxyHeader(received);
    if (result.kind === 'incomplete') return;
    stop();
    if (result.kind === 'invalid') {
      socket.destroy();
      return;
    }
    socket.pause();
    if (result.addresses !== undefined) proxiedSockets.set(socket, result.addresses);
    if (received.length > result.length) socket.unshift(received.subarray(result.length));
    next(socket);
  };
  socket.on('data', onData);
  socket.once('close', stop);
}
