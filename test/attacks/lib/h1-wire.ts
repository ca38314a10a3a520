/**
 * A hand-written HTTP/1.1 client on a raw socket (TLS with ALPN http/1.1, or cleartext TCP): writes exactly the
 * bytes a test needs (pipelined, malformed, a body without end) and parses what comes back into whole responses,
 * so a test can tell "two answers on one connection" from "one answer and a close".
 */
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface WireResponse {
  status: number;
  /** Lowercase names; repeated fields joined with ", ". */
  headers: Map<string, string>;
  body: Buffer;
}

export class H1Wire {
  readonly responses: WireResponse[] = [];
  closed = false;
  /** Bytes received that do not parse as an HTTP/1.1 response (a test failure in itself). */
  garbage = '';
  private buffered: Buffer = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.parse();
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      // A response without a length ends at the close (RFC 9112 §6.3 item 8).
      const head = this.buffered.indexOf('\r\n\r\n');
      if (head >= 0) {
        const parsed = parseHead(this.buffered.subarray(0, head).toString('latin1'));
        if (parsed !== undefined && !parsed.headers.has('content-length') && !parsed.headers.has('transfer-encoding')) {
          this.responses.push({ ...parsed, body: this.buffered.subarray(head + 4) });
          this.buffered = Buffer.alloc(0);
        }
      }
      this.notify();
    });
    socket.on('error', () => {});
  }

  /** Connects over TLS (ALPN http/1.1) when `secure`, else plain TCP; resolves once the connection is usable. */
  static connect(port: number, secure: boolean): Promise<H1Wire> {
    return new Promise((resolve, reject) => {
      const socket = secure
        ? tls.connect({ host: '127.0.0.1', port, ALPNProtocols: ['http/1.1'], rejectUnauthorized: false, servername: 'localhost' })
        : net.connect({ host: '127.0.0.1', port });
      socket.once(secure ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject);
        resolve(new H1Wire(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Writes and waits for the socket to take the bytes (false when the server closed meanwhile). */
  write(data: string | Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve(false);
      this.socket.write(data, (error) => resolve(error == null));
    });
  }

  /** Resolves once `count` responses have arrived; rejects when the connection closes first or after timeoutMs. */
  async responsesWithin(count: number, timeoutMs: number): Promise<WireResponse[]> {
    await this.until(() => this.responses.length >= count || this.closed, `${count} responses`, timeoutMs);
    if (this.responses.length < count) {
      throw new Error(`connection closed after ${this.responses.length} of ${count} responses (${this.describe()})`);
    }
    return this.responses.slice(0, count);
  }

  /** Resolves when the server has closed the connection; rejects after timeoutMs. */
  closedWithin(timeoutMs: number): Promise<void> {
    return this.until(() => this.closed, 'the server to close the connection', timeoutMs);
  }

  /** Statuses received so far, e.g. "200,413". */
  describe(): string {
    const statuses = this.responses.map((response) => response.status).join(',') || 'no response';
    return `${statuses}${this.closed ? ', closed' : ''}${this.garbage ? `, unparsed ${JSON.stringify(this.garbage.slice(0, 80))}` : ''}`;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private until(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        remove();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.describe()})`));
      }, timeoutMs);
      const check = () => {
        if (!condition()) return;
        clearTimeout(timer);
        remove();
        resolve();
      };
      const remove = () => {
        const at = this.waiters.indexOf(check);
        if (at >= 0) this.waiters.splice(at, 1);
      };
      this.waiters.push(check);
      check();
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private parse(): void {
    for (;;) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = parseHead(this.buffered.subarray(0, end).toString('latin1'));
      if (head === undefined) {
        this.garbage = this.buffered.toString('latin1');
        this.buffered = Buffer.alloc(0);
        return;
      }
      const rest = this.buffered.subarray(end + 4);
      let body: Buffer;
      let consumed: number;
      if (head.status < 200) {
        body = Buffer.alloc(0);
        consumed = 0;
      } else if (head.headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
        const decoded = decodeChunked(rest);
        if (decoded === undefined) return;
        ({ body, consumed } = decoded);
      } else if (head.headers.has('content-length')) {
        const length = Number(head.headers.get('content-length'));
        if (rest.length < length) return;
        body = rest.subarray(0, length);
        consumed = length;
      } else {
        return; // delimited by the close
      }
      this.buffered = rest.subarray(consumed);
      if (head.status >= 200) this.responses.push({ ...head, body });
    }
  }
}

function parseHead(text: string): Omit<WireResponse, 'body'> | undefined {
  const lines = text.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!);
  if (match === null) return undefined;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { status: Number(match[1]), headers };
}

/** A complete chunked body at the start of `bytes` (trailers skipped), or undefined when more is needed. */
function decodeChunked(bytes: Buffer): { body: Buffer; consumed: number } | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', offset);
    if (lineEnd < 0) return undefined;
    const size = parseInt(bytes.subarray(offset, lineEnd).toString('latin1'), 16);
    offset = lineEnd + 2;
    if (size === 0) {
      const trailerEnd = bytes.indexOf('\r\n\r\n', offset - 2);
      if (trailerEnd < 0) return undefined;
      return { body: Buffer.concat(parts), consumed: trailerEnd + 4 };
    }
    if (bytes.length < offset + size + 2) return undefined;
    parts.push(bytes.subarray(offset, offset + size));
    offset += size + 2;
  }
}
