/**
 * A tunnel: the byte stream an HTTP exchange turns into when it stops being request/response — an HTTP/1.1
 * `Upgrade` (RFC 9110 §7.8, 101 Switching Protocols), an HTTP/2 extended CONNECT (RFC 8441 §4, a 2xx on a stream
 * that stays open), and an HTTP/3 extended CONNECT (RFC 9220). WebSockets (and later CONNECT proxies) run on this
 * one interface, whatever produced it.
 *
 * Contract, for producers (transports) and consumers (WebSocket sessions):
 * - Input: after attach(), data() receives bytes in order; end() when the peer half-closes (h1 FIN, h2/h3 END_STREAM);
 *   close() exactly once when the tunnel is gone for any reason (after end() or instead of it), with an error when
 *   it did not end cleanly. pause()/resume() stop and restart input (h1: the socket; h2/h3: flow-control credit).
 * - Output: write() queues bytes and returns false once bufferedAmount is above the producer's high-water mark;
 *   drain() follows when it falls below. end() half-closes our side after what is queued; destroy() aborts at once
 *   (h1: the socket; h2: RST_STREAM CANCEL; h3: RESET_STREAM + STOP_SENDING).
 */
export interface TunnelHandlers {
  data(chunk: Uint8Array): void;
  end(): void;
  drain(): void;
  close(error?: unknown): void;
}

export interface Tunnel {
  readonly protocol: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Bytes written and not yet handed to the network. */
  readonly bufferedAmount: number;
  /** Starts delivering input; bytes that arrived with the request head are delivered first. */
  attach(handlers: TunnelHandlers): void;
  write(chunks: Uint8Array | readonly Uint8Array[]): boolean;
  pause(): void;
  resume(): void;
  end(): void;
  destroy(): void;
}
