/**
 * The UDP socket under a QuicEndpoint: its own node:dgram socket, or (httpsd --workers N) the supervisor's socket
 * relayed over IPC (./relay.ts). The endpoint only needs to send, receive, know its address and, under a relay,
 * say which connection IDs are its own.
 */
import { createSocket } from 'node:dgram';
import { relayedSocket } from './relay.js';
import { datagramSocketOptions } from './socket-options.js';

export interface RemoteAddress {
  address: string;
  port: number;
}

export interface DatagramSocket {
  send(data: Uint8Array, port: number, address: string): void;
  onMessage(listener: (message: Uint8Array, remote: RemoteAddress) => void): void;
  address(): RemoteAddress;
  close(): Promise<void>;
  /**
   * Relayed sockets only: connection IDs (hex) to route to this endpoint from now on, and ones to stop routing.
   * Called before the first datagram that makes the peer use them.
   */
  route?(add: string[], remove: string[]): void;
  /** Relayed sockets only: take no new connections (graceful shutdown); the announced ones keep arriving. */
  drain?(): void;
  /** Relayed sockets only: keys every process sharing the port uses (Retry tokens, stateless resets, tickets). */
  shared?: { staticKey: Uint8Array; ticketKey: Uint8Array };
}

/**
 * The supervisor's socket when this process is a worker of `httpsd --workers N` (./relay.ts); else a node:dgram
 * socket of our own, bound without SO_REUSEADDR (a second server on the port fails to bind).
 */
export async function bindDatagramSocket(type: 'udp4' | 'udp6', host: string, port: number): Promise<DatagramSocket> {
  const relayed = await relayedSocket(type, host, port);
  if (relayed !== undefined) return relayed;
  const socket = createSocket(datagramSocketOptions(type));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // A send error (e.g. ICMP unreachable reported on a later send) concerns one peer, never the endpoint.
  socket.on('error', () => {});
  return {
    send: (data, toPort, toAddress) => socket.send(data, toPort, toAddress),
    onMessage: (listener) => socket.on('message', (message, remote) => listener(message, remote)),
    address: () => socket.address(),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
