/**
 * Hostile clients: raw TLS sockets (ALPN h2 or http/1.1) that write exactly the bytes an attack needs and record
 * how the server ended the connection (GOAWAY code, RST_STREAM codes, socket close, timings).
 */
import * as tls from 'node:tls';
import * as net from 'node:net';
import { CLIENT_PREFACE, FrameReader, FrameType, Flag, parseGoaway, readU32, settingsAck, settingsFrame, type Goaway } from './frames.js';
import { PATIENCE_MS } from '../../support/server.js';

export interface RawH2Options {
  /** SETTINGS sent after the preface ([id, value] pairs). */
  settings?: [number, number][];
  /** Send the preface + SETTINGS (default true). */
  preface?: boolean;
  /** ACK the server's SETTINGS (default true). */
  ackSettings?: boolean;
}

/** Connects over TLS with the given ALPN list; resolves once the handshake is done. */
export function connectTls(port: number, alpn: string[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ALPNProtocols: alpn, rejectUnauthorized: false, servername: 'localhost' });
    socket.once('secureConnect', () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      // Read (and drop, unless the caller listens) whatever the server sends: a client that never reads only
      // learns of the server's close from a later failed write, so close times would be measured late.
      socket.resume();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export class RawH2 {
  readonly socket: tls.TLSSocket;
  goaway: Goaway | undefined;
  /** RST_STREAM codes the server sent, by stream id (last one wins); bounded by the streams the attack opened. */
  readonly resets = new Map<number, number>();
  /** Response HEADERS seen per stream id (END_STREAM or not). */
  readonly responded = new Set<number>();
  readonly countsByType = new Map<number, number>();
  receivedBytes = 0;
  /** The server's SETTINGS arrived (and were acknowledged unless ackSettings is false). */
  serverSettings = false;
  dataBytes = 0;
  closed = false;
  readonly closedAt: Promise<number>;
  readonly openedAt = Date.now();
  private readonly reader = new FrameReader();
  private readonly waiters: (() => void)[] = [];

  private constructor(socket: tls.TLSSocket, private readonly ackSettings: boolean) {
    this.socket = socket;
    this.closedAt = new Promise((resolve) =>
      socket.once('close', () => {
        this.closed = true;
        this.notify();
        resolve(Date.now());
      }),
    );
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static async connect(port: number, options: RawH2Options = {}): Promise<RawH2> {
    const socket = await connectTls(port, ['h2']);
    if (socket.alpnProtocol !== 'h2') throw new Error(`server did not select h2 (got ${String(socket.alpnProtocol)})`);
    const client = new RawH2(socket, options.ackSettings ?? true);
    if (options.preface ?? true) {
      socket.write(Buffer.concat([CLIENT_PREFACE, settingsFrame(options.settings ?? [])]));
      // Our SETTINGS ACK must not land in the middle of an attack's header block (RFC 9113 §6.10: nothing may
      // interleave with CONTINUATION), so start once the server's SETTINGS are in and acknowledged.
      await client.until(() => client.serverSettings, "the server's SETTINGS", 5000);
    }
    return client;
  }

  private onData(chunk: Buffer): void {
    this.receivedBytes += chunk.length;
    for (const { frame, length } of this.reader.push(chunk)) {
      this.countsByType.set(frame.type, (this.countsByType.get(frame.type) ?? 0) + 1);
      switch (frame.type) {
        case FrameType.GOAWAY:
          this.goaway = parseGoaway(frame.payload);
          break;
        case FrameType.RST_STREAM:
          this.resets.set(frame.streamId, readU32(frame.payload));
          break;
        case FrameType.HEADERS:
          this.responded.add(frame.streamId);
          break;
        case FrameType.DATA:
          this.dataBytes += length;
          break;
        case FrameType.SETTINGS:
          if ((frame.flags & Flag.ACK) === 0) this.serverSettings = true;
          if ((frame.flags & Flag.ACK) === 0 && this.ackSettings && !this.socket.destroyed) this.socket.write(settingsAck());
          break;
        default:
          break;
      }
    }
    this.notify();
  }

  private notify(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  count(type: number): number {
    return this.countsByType.get(type) ?? 0;
  }

  /** Resolves when `condition` holds (checked on every received chunk and on close), or rejects after timeoutMs. */
  until(condition: () => boolean, what: string, timeoutMs = PATIENCE_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const check = () => {
        if (condition()) {
          clearTimeout(timer);
          resolve();
        } else if (this.closed) {
          clearTimeout(timer);
          if (condition()) resolve();
          else reject(new Error(`connection closed before ${what}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** Waits for the server to close the connection (bounded); returns the GOAWAY it sent, if any. */
  async serverClose(timeoutMs = PATIENCE_MS): Promise<{ goaway: Goaway | undefined; afterMs: number }> {
    await this.until(() => this.closed, 'the server to close the connection', timeoutMs);
    return { goaway: this.goaway, afterMs: (await this.closedAt) - this.openedAt };
  }

  /** Stops reading: the kernel buffers fill and the server's writes back up (slow-read / no-ACK-reading attacks). */
  stopReading(): void {
    this.socket.pause();
  }

  /** write() that reports false once the socket is gone, never throws. */
  write(bytes: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(bytes);
  }

  /**
   * Writes `next()` batches as fast as the socket takes them until `next` returns null, the server closes the
   * connection, or the time bound passes. Yields to the event loop between batches so the well-behaved client in
   * the same process keeps running. Returns the number of batches written.
   */
  async flood(next: (i: number) => Uint8Array | null, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let i = 0;
    while (!this.closed && !this.socket.destroyed && Date.now() < deadline) {
      const batch = next(i);
      if (batch === null) break;
      i++;
      if (!this.socket.write(batch)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            this.socket.off('drain', done);
            this.socket.off('close', done);
            resolve();
          };
          const timer = setTimeout(done, Math.max(1, deadline - Date.now()));
          this.socket.once('drain', done);
          this.socket.once('close', done);
        });
      } else if (i % 4 === 0) {
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    return i;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A raw TCP connection to the TLS port (for handshake-level attacks). Resolves once connected. */
export function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      // As in connectTls: reading is what makes the server's FIN visible at once.
      socket.resume();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves with the time (ms since `since`) the socket closed, or rejects after timeoutMs. */
export function closedWithin(socket: net.Socket, timeoutMs: number, since = Date.now()): Promise<number> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed && socket.closed) return resolve(Date.now() - since);
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - since);
    });
  });
}

/** Collects everything a socket receives (bounded) as latin1 text, for HTTP/1.1 response checks. */
export function collectText(socket: net.Socket, limit = 1 << 20): { text(): string } {
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    if (text.length < limit) text += chunk.toString('latin1');
  });
  return { text: () => text };
}
