/**
 * A Tunnel over a whole TCP or TLS socket: what an HTTP/1.1 Upgrade leaves once the 101 went out.
 */
import type { Socket } from 'node:net';
import type { Tunnel, TunnelHandlers } from './tunnel.js';

export class SocketTunnel implements Tunnel {
  private attached = false;

  constructor(
    private readonly socket: Socket,
    /** Bytes that arrived after the request head, before the switch (already the new protocol's). */
    private readonly head: Uint8Array,
    readonly protocol: string,
  ) {
    // Until attach(), nothing is read (and a reset before then is not an uncaught error).
    socket.pause();
    socket.on('error', () => {});
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  attach(handlers: TunnelHandlers): void {
    if (this.attached) throw new Error('a tunnel is attached once');
    this.attached = true;
    const socket = this.socket;
    socket.on('data', handlers.data);
    socket.on('end', handlers.end);
    socket.on('drain', handlers.drain);
    socket.on('close', (hadError) => handlers.close(hadError ? new Error('connection reset') : undefined));
    if (this.head.byteLength > 0) handlers.data(this.head);
    if (socket.destroyed) {
      queueMicrotask(() => handlers.close(new Error('connection closed before the tunnel opened')));
      return;
    }
    socket.resume();
  }

  write(chunks: Uint8Array | readonly Uint8Array[]): boolean {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return false;
    if (chunks instanceof Uint8Array) return socket.write(chunks);
    if (chunks.length === 1) return socket.write(chunks[0]!);
    socket.cork();
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
    return !socket.writableNeedDrain;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
