/**
 * The stand-in for a connection socket that a node:http `IncomingMessage` / `ServerResponse` pair is bound to.
 *
 * It carries the connection facts Node applications read from `req.socket` (remoteAddress, remotePort, encrypted,
 * alpnProtocol, ...) and is the sink of everything the ServerResponse writes: the response head never reaches it
 * (see outgoing.ts), so every byte written here is response content, enqueued into the ReadableStream that becomes
 * the fetch Response body. Backpressure runs end to end: a write's callback is held while that stream's queue is full,
 * so the socket's own buffer fills, `res.write()` returns false, and 'drain' follows once the server has pulled.
 */
import { Duplex } from 'node:stream';
import type { PeerCertificate } from 'node:tls';
import type { ServeInfo } from '../server/types.js';

/** Bytes the Response body queue holds before writes are made to wait (the app then sees write() === false). */
export const RESPONSE_QUEUE_BYTES = 64 * 1024;

export class BridgeSocket extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: 'IPv4' | 'IPv6';
  readonly localAddress: string;
  readonly localPort: number;
  /** True over TLS: Express's `req.secure` / `req.protocol` read `req.socket.encrypted`. */
  readonly encrypted: boolean;
  readonly alpnProtocol: string | false;
  readonly authorized: boolean;
  readonly servername: string | false;
  /** The Response body the captured writes feed. */
  readonly body: ReadableStream<Uint8Array>;
  private readonly info: ServeInfo;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private heldWrite: (() => void) | undefined = undefined;
  private bodySettled = false;

  constructor(info: ServeInfo) {
    // The readable side carries nothing (the request body reaches the IncomingMessage from request.body directly)
    // but stays open like a live connection's: on-finished, and so body-parser, treat a request whose socket is not
    // readable as already finished and skip its body.
    super({ decodeStrings: true });
    this.info = info;
    this.remoteAddress = info.remoteAddress;
    this.remotePort = info.remotePort;
    this.remoteFamily = info.remoteAddress.includes(':') ? 'IPv6' : 'IPv4';
    this.localAddress = info.localAddress;
    this.localPort = info.localPort;
    this.encrypted = info.scheme === 'https';
    this.alpnProtocol = info.tls?.alpn ?? false;
    this.authorized = info.tls?.authorized ?? false;
    this.servername = info.tls?.servername ?? false;
    // A destroy with an error (IncomingMessage._destroy passes its error on to its socket) must not become an
    // uncaught 'error' event: the ServerResponse learns of it through 'close'.
    this.on('error', () => {});
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.releaseHeldWrite(),
        // The server stopped reading (client gone, or a HEAD): the app sees 'close' on its response.
        cancel: () => {
          this.bodySettled = true;
          this.destroy();
        },
      },
      { highWaterMark: RESPONSE_QUEUE_BYTES, size: (chunk) => chunk.byteLength },
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.bodySettled) {
      callback();
      return;
    }
    if (chunk.byteLength > 0) this.controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((this.controller.desiredSize ?? 0) > 0) callback();
    else this.heldWrite = () => callback();
  }

  override _read(): void {}

  /**
   * The response ended (after every buffered write reached the body queue): close the body, then the socket, so the
   * ServerResponse emits 'close' after 'finish' as on a real connection.
   */
  override _final(callback: (error?: Error | null) => void): void {
    this.settleBody();
    callback();
    process.nextTick(() => this.destroy());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Destroyed before the response ended: the client went away, the app destroyed its response, or the request
    // failed. The Response body fails so the server aborts the stream instead of presenting a truncated body as whole.
    this.settleBody(error ?? new Error('the response was closed before it ended'));
    this.releaseHeldWrite();
    callback(error);
  }

  private settleBody(error?: Error): void {
    if (this.bodySettled) return;
    this.bodySettled = true;
    try {
      if (error === undefined) this.controller.close();
      else this.controller.error(error);
    } catch {
      // Already closed by a cancel from the reading side.
    }
  }

  private releaseHeldWrite(): void {
    const held = this.heldWrite;
    this.heldWrite = undefined;
    held?.();
  }

  // --- net.Socket surface that Node applications and node:http itself call ---

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: this.remoteFamily, port: this.localPort };
  }

  /** Timeouts are the server's (ServerLimits); an application's own socket timeout is accepted and not armed. */
  setTimeout(_ms: number, _callback?: () => void): this {
    return this;
  }

  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  getPeerCertificate(_detailed?: boolean): PeerCertificate | Record<string, never> {
    return this.info.tls?.clientCertificateDetails ?? {};
  }

  getProtocol(): string | null {
    return this.info.tls?.version ?? null;
  }

  getCipher(): { name: string; standardName: string; version: string } | undefined {
    const tls = this.info.tls;
    return tls === undefined ? undefined : { name: tls.cipher, standardName: tls.cipher, version: tls.version };
  }
}
