/**
 * Test kit for the server-side WebSocket stack before it is wired into serve(): a TCP/TLS listener that parses an
 * HTTP/1.1 request head, asks upgradeWebSocket() (as a fetch handler would) and hands the socket to the hub as a
 * SocketTunnel — the path the HTTP/1.1 transport takes — plus a small client on the engine's client role.
 */
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { WebSocketHub, upgradeOf, upgradeWebSocket, type UpgradeOptions, type WebSocketHandler } from '../../src/server/websocket/index.js';
import { SocketTunnel } from '../../src/server/core/socket-tunnel.js';
import { WebSocketConnection, type WebSocketEvent } from '../../src/ws/index.js';
import { makeCertificate } from '../support/certs.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PYTHON_CLIENT = fileURLToPath(new URL('./fixtures/client.py', import.meta.url));

/** What test/ws/fixtures/client.py prints against an echo server that selects the "chat" subprotocol. */
export const PYTHON_ECHO_TRANSCRIPT = [
  'subprotocol chat',
  'text héllo ✓',
  'binary True 1048576',
  'fragmented fragmented',
  'pong ok',
  'text server ping please',
  // The server's answering Close echoes the code, not the reason (RFC 6455 §5.5.1).
  'close 4000',
];

/** Runs the Python `websockets` client (Debian python3-websockets, so /usr/bin/python3); resolves with its output lines. */
export function runPythonClient(url: string, mode: 'none' | 'deflate' | 'bomb'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile('/usr/bin/python3', [PYTHON_CLIENT, url, makeCertificate().certFile, mode], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout.trim().split('\n'));
    });
  });
}

export interface UpgradeServer {
  port: number;
  hub: WebSocketHub;
  errors: string[];
  close(): Promise<void>;
}

function parseHead(head: Buffer): { method: string; target: string; version: string; headers: [string, string][] } {
  const [requestLine, ...lines] = head.toString('latin1').split('\r\n');
  const [method, target, version] = requestLine!.split(' ');
  const headers: [string, string][] = lines.map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
  return { method: method!, target: target!, version: version!.replace('HTTP/', ''), headers };
}

export async function startUpgradeServer(
  handler: WebSocketHandler<any>,
  options: { secure?: boolean; upgrade?: (request: Request) => UpgradeOptions | Response } = {},
): Promise<UpgradeServer> {
  const errors: string[] = [];
  const hub = new WebSocketHub(handler, (error, context) => errors.push(`${context}: ${(error as Error).message}`));
  const onSocket = (socket: net.Socket) => {
    let head = Buffer.alloc(0);
    socket.on('error', () => {});
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      socket.pause();
      const parsed = parseHead(head.subarray(0, end));
      const request = new Request(`http://localhost${parsed.target}`, { method: parsed.method, headers: parsed.headers });
      const choice = options.upgrade?.(request) ?? {};
      const response = choice instanceof Response ? choice : upgradeWebSocket(hub, { family: 'h1', httpVersion: parsed.version }, request, choice);
      const pending = upgradeOf(response);
      if (pending === undefined) {
        void response.text().then((body) => {
          const fields = [...response.headers].map(([n, v]) => `${n}: ${v}\r\n`).join('');
          socket.end(`HTTP/1.1 ${response.status} Refused\r\n${fields}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
        });
        return;
      }
      socket.write(`HTTP/1.1 101 Switching Protocols\r\n${pending.headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`);
      hub.accept(new SocketTunnel(socket, head.subarray(end + 4), 'http/1.1'), pending);
    };
    socket.on('data', onData);
  };
  const certificate = makeCertificate();
  const server = options.secure ? tls.createServer({ cert: certificate.cert, key: certificate.key }, onSocket) : net.createServer(onSocket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    hub,
    errors,
    close: async () => {
      await hub.shutdown(2000);
      server.close();
    },
  };
}

/** A WebSocket client on the engine's client role, for driving the server in tests. */
export class TestClient {
  readonly events: WebSocketEvent[] = [];
  status = 0;
  responseHeaders = new Map<string, string>();
  private waiters: (() => void)[] = [];
  readonly conn = new WebSocketConnection({ role: 'client', maskKey: () => randomBytes(4) });
  socketClosed = false;

  private constructor(readonly socket: net.Socket) {}

  static async connect(port: number, requestHeaders: Record<string, string> = {}, path = '/'): Promise<TestClient> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const client = new TestClient(socket);
    const fields = {
      host: 'localhost',
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-key': randomBytes(16).toString('base64'),
      'sec-websocket-version': '13',
      ...requestHeaders,
    };
    socket.write(`GET ${path} HTTP/1.1\r\n${Object.entries(fields).map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`);
    let head = Buffer.alloc(0);
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onData);
        const [statusLine, ...lines] = head.subarray(0, end).toString('latin1').split('\r\n');
        client.status = Number(statusLine!.split(' ')[1]);
        for (const line of lines) {
          const colon = line.indexOf(':');
          client.responseHeaders.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
        }
        socket.on('data', (data: Buffer) => client.onData(data));
        const rest = head.subarray(end + 4);
        if (rest.byteLength > 0) client.onData(rest);
        resolve();
      };
      socket.on('data', onData);
      socket.on('error', reject);
    });
    socket.on('close', () => {
      client.socketClosed = true;
      client.wake();
    });
    socket.on('error', () => {});
    return client;
  }

  private onData(data: Uint8Array): void {
    this.events.push(...this.conn.receive(data));
    this.flush();
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  flush(): void {
    const out = this.conn.dataToSend();
    if (out !== null && !this.socket.destroyed) this.socket.write(out);
  }

  send(data: string | Uint8Array): void {
    this.conn.sendMessage(data);
    this.flush();
  }

  close(code?: number, reason?: string): void {
    this.conn.close(code, reason);
    this.flush();
  }

  /** Resolves once `predicate` holds for the events so far (checked after each read), or the socket closed. */
  async until(predicate: (events: WebSocketEvent[]) => boolean): Promise<WebSocketEvent[]> {
    while (!predicate(this.events)) {
      if (this.socketClosed) throw new Error(`socket closed; events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    return this.events;
  }

  messages(): (string | Uint8Array)[] {
    return this.events.flatMap((e) => (e.type === 'message' ? [e.data] : []));
  }

  async closedEvent(): Promise<Extract<WebSocketEvent, { type: 'closed' }>> {
    const events = await this.until((all) => all.some((e) => e.type === 'closed'));
    return events.find((e) => e.type === 'closed') as Extract<WebSocketEvent, { type: 'closed' }>;
  }

  async socketEnd(): Promise<void> {
    while (!this.socketClosed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
