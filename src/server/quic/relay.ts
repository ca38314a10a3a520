/**
 * HTTP/3 under `httpsd --workers N`: the supervisor owns the UDP socket and relays datagrams to the workers by
 * QUIC connection ID over the cluster IPC channel; workers send through it.
 *
 * Why not let the workers share the socket: node:dgram on Node 20 has no SO_REUSEPORT, and node:cluster's shared
 * UDP handle (what a worker's bind() gets by default) lets the kernel hand each datagram to whichever worker reads
 * first — measured: one client flow's datagrams land on both workers about evenly — while a QUIC connection's
 * state lives in one process. Routing by connection ID (RFC 9000 §5.2) also keeps a connection on its worker
 * across NAT rebinding and migration, which address hashing would not.
 *
 * Routing: each worker's endpoint announces the connection IDs it owns (its own CIDs, issued and retired, and the
 * client's first DCID) in the same ordered IPC stream as its datagrams, before the datagram that makes the peer
 * use them, so the supervisor always knows a CID before it can arrive. A datagram whose DCID is unknown (a new
 * client's Initial, stray packets) goes to a worker chosen by hashing the client's address and port, so a client's
 * Initials, retransmissions and Retry round trip all reach one worker. Every worker gets the same static key and
 * ticket key: a Retry token, a stateless reset token or a session ticket issued by one worker is valid at another.
 *
 * Costs: two IPC messages per burst of datagrams (batched per event-loop turn) and a copy per datagram; see
 * docs/http3.md for the numbers.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { DatagramSocket, RemoteAddress } from './socket.js';
import { datagramSocketOptions } from './socket-options.js';

/** Set by the supervisor in the environment of workers that must use the relay. */
export const QUIC_RELAY_VARIABLE = 'HTTPSD_QUIC_RELAY';
/** The length of the connection IDs the endpoints issue (QuicServerDemux's default): short headers carry no length. */
const CID_LENGTH = 8;
/**
 * IPC messages (batches) sent and not yet written to the channel, per direction and process, beyond which datagrams
 * are dropped instead of queued: a stalled reader must not grow the other side's memory without bound. UDP may
 * lose datagrams anyway, and QUIC recovers them; route announcements are never dropped.
 */
const MAX_UNWRITTEN_BATCHES = 64;
/** A supervisor that does not answer a bind (it is stuck or gone) fails the worker's start instead of hanging it. */
const BIND_TIMEOUT_MS = 10_000;

/** Datagrams as [bytes, address, port]. */
type Datagram = [Uint8Array, string, number];

interface BindRequest {
  type: 'httpsd:quic-bind';
  id: number;
  udpType: 'udp4' | 'udp6';
  host: string;
  port: number;
}
type BindReply =
  | { type: 'httpsd:quic-bound'; id: number; socket: string; address: string; port: number; staticKey: string; ticketKey: string }
  | { type: 'httpsd:quic-bind-failed'; id: number; code: string | undefined; message: string };
/** Worker → supervisor: route changes first, then datagrams to send. */
interface OutMessage {
  type: 'httpsd:quic-out';
  socket: string;
  add: string[];
  remove: string[];
  datagrams: Datagram[];
}
/** Supervisor → worker. */
interface InMessage {
  type: 'httpsd:quic-in';
  socket: string;
  datagrams: Datagram[];
}
/** Worker → supervisor: no new connections for this worker (graceful shutdown), or none at all (closed). */
interface LeaveMessage {
  type: 'httpsd:quic-drain' | 'httpsd:quic-unbind';
  socket: string;
}

function isRelayMessage(message: unknown): message is { type: string } {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string' && (message as { type: string }).type.startsWith('httpsd:quic-');
}

function fromHex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

// ─── Worker side ─────────────────────────────────────────────────────────────────────────────────────────────────

let nextRequest = 0;
const pendingBinds = new Map<number, (reply: BindReply) => void>();
const relayed = new Map<string, RelayedSocket>();
let listening = false;

function onWorkerMessage(message: unknown): void {
  if (!isRelayMessage(message)) return;
  if (message.type === 'httpsd:quic-in') {
    const { socket, datagrams } = message as InMessage;
    relayed.get(socket)?.deliver(datagrams);
  } else if (message.type === 'httpsd:quic-bound' || message.type === 'httpsd:quic-bind-failed') {
    const reply = message as BindReply;
    pendingBinds.get(reply.id)?.(reply);
    pendingBinds.delete(reply.id);
  }
}

/** The supervisor's socket for host:port, when this process is a worker told to use the relay; else undefined. */
export async function relayedSocket(udpType: 'udp4' | 'udp6', host: string, port: number): Promise<DatagramSocket | undefined> {
  if (!cluster.isWorker || process.env[QUIC_RELAY_VARIABLE] !== '1' || !process.send) return undefined;
  if (!listening) {
    listening = true;
    process.on('message', onWorkerMessage);
  }
  const id = ++nextRequest;
  const reply = await new Promise<BindReply>((resolve) => {
    const timer = setTimeout(() => {
      pendingBinds.delete(id);
      resolve({ type: 'httpsd:quic-bind-failed', id, code: 'ETIMEDOUT', message: `the httpsd process did not bind UDP ${host}:${port} for HTTP/3 within ${BIND_TIMEOUT_MS} ms` });
    }, BIND_TIMEOUT_MS);
    pendingBinds.set(id, (answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
    const request: BindRequest = { type: 'httpsd:quic-bind', id, udpType, host, port };
    process.send!(request);
  });
  if (reply.type === 'httpsd:quic-bind-failed') throw Object.assign(new Error(reply.message), reply.code !== undefined ? { code: reply.code } : {});
  const socket = new RelayedSocket(reply.socket, { address: reply.address, port: reply.port }, { staticKey: fromHex(reply.staticKey), ticketKey: fromHex(reply.ticketKey) });
  relayed.set(reply.socket, socket);
  return socket;
}

/** A worker's view of the supervisor's socket: sends, route changes and receives go over the IPC channel. */
class RelayedSocket implements DatagramSocket {
  private listener: ((message: Uint8Array, remote: RemoteAddress) => void) | undefined;
  private outgoing: OutMessage | undefined;
  private unwritten = 0;

  constructor(
    private readonly key: string,
    private readonly local: RemoteAddress,
    readonly shared: { staticKey: Uint8Array; ticketKey: Uint8Array },
  ) {}

  deliver(datagrams: Datagram[]): void {
    for (const [data, address, port] of datagrams) this.listener?.(data, { address, port });
  }

  /** Everything sent in this turn leaves in one message, after the turn (the endpoint sends a batch per turn). */
  private batch(): OutMessage {
    if (this.outgoing === undefined) {
      this.outgoing = { type: 'httpsd:quic-out', socket: this.key, add: [], remove: [], datagrams: [] };
      process.nextTick(() => this.flush());
    }
    return this.outgoing;
  }

  private flush(): void {
    const message = this.outgoing;
    this.outgoing = undefined;
    if (message === undefined || !process.connected) return;
    this.unwritten++;
    process.send!(message, undefined, {}, () => this.unwritten--);
  }

  send(data: Uint8Array, port: number, address: string): void {
    if (this.unwritten >= MAX_UNWRITTEN_BATCHES) return;
    this.batch().datagrams.push([data, address, port]);
  }

  route(add: string[], remove: string[]): void {
    const batch = this.batch();
    // A datagram already queued in this batch was built before this change: route changes apply first, which only
    // matters for a CID retired and reissued in one turn (never: sequence numbers only grow).
    batch.add.push(...add);
    batch.remove.push(...remove);
  }

  onMessage(listener: (message: Uint8Array, remote: RemoteAddress) => void): void {
    this.listener = listener;
  }

  address(): RemoteAddress {
    return this.local;
  }

  drain(): void {
    this.flush();
    const message: LeaveMessage = { type: 'httpsd:quic-drain', socket: this.key };
    if (process.connected) process.send!(message);
  }

  async close(): Promise<void> {
    this.flush();
    relayed.delete(this.key);
    this.listener = undefined;
    const message: LeaveMessage = { type: 'httpsd:quic-unbind', socket: this.key };
    if (process.connected) await new Promise<void>((resolve) => process.send!(message, undefined, {}, () => resolve()));
  }
}

// ─── Supervisor side ─────────────────────────────────────────────────────────────────────────────────────────────

interface SharedSocket {
  readonly key: string;
  readonly socket: Socket;
  /** Workers taking new connections, in joining order (the address hash picks among them). */
  accepting: Worker[];
  readonly routes: Map<string, Worker>;
  /** Datagrams received this turn, per worker: one IPC message each at the end of the turn. */
  readonly inbound: Map<Worker, Datagram[]>;
  flushScheduled: boolean;
}

/** FNV-1a over the client's address and port: the same client reaches the same worker while the set is unchanged. */
function flowHash(address: string, port: number): number {
  let hash = 0x811c9dc5;
  const text = `${address}|${port}`;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** The DCID of a QUIC datagram as a map key (long header: its own length; short header: ours), or undefined. */
function destinationKey(data: Buffer): string | undefined {
  if (data.length === 0) return undefined;
  if ((data[0]! & 0x80) === 0) return data.length > CID_LENGTH ? data.toString('hex', 1, 1 + CID_LENGTH) : undefined;
  if (data.length < 6) return undefined;
  const length = data[5]!;
  return data.length >= 6 + length ? data.toString('hex', 6, 6 + length) : undefined;
}

/** The supervisor's half: binds the UDP sockets workers ask for and moves datagrams between them and the workers. */
export class QuicRelay {
  private readonly sockets = new Map<string, SharedSocket>();
  /** Batches sent to each worker and not yet written to its channel (see MAX_UNWRITTEN_BATCHES). */
  private readonly unwritten = new Map<Worker, number>();
  private readonly staticKey = randomBytes(32).toString('hex');
  private readonly ticketKey = randomBytes(32).toString('hex');
  /** Datagrams relayed, for the performance notes. */
  readonly stats = { in: 0, out: 0, messagesIn: 0, messagesOut: 0, dropped: 0 };

  /** Handles a worker's relay message; false for any other message. */
  handle(worker: Worker, message: unknown): boolean {
    if (!isRelayMessage(message)) return false;
    switch (message.type) {
      case 'httpsd:quic-bind':
        void this.bind(worker, message as BindRequest);
        break;
      case 'httpsd:quic-out':
        this.send(worker, message as OutMessage);
        break;
      case 'httpsd:quic-drain':
        this.leave(worker, (message as LeaveMessage).socket, false);
        break;
      case 'httpsd:quic-unbind':
        this.leave(worker, (message as LeaveMessage).socket, true);
        break;
      default:
        return false;
    }
    return true;
  }

  /** A worker is gone: its connections are too (their datagrams now get stateless resets from another worker). */
  forget(worker: Worker): void {
    for (const shared of this.sockets.values()) this.leave(worker, shared.key, true);
    this.unwritten.delete(worker);
  }

  /** Closes every socket (the supervisor is done serving). */
  close(): void {
    for (const shared of this.sockets.values()) shared.socket.close();
    this.sockets.clear();
  }

  private async bind(worker: Worker, request: BindRequest): Promise<void> {
    const reply = (message: BindReply) => {
      if (worker.isConnected()) worker.send(message);
    };
    const key = `${request.host}|${request.port}`;
    let shared = request.port === 0 ? undefined : this.sockets.get(key);
    if (shared === undefined) {
      try {
        shared = await this.open(request);
      } catch (error) {
        reply({ type: 'httpsd:quic-bind-failed', id: request.id, code: (error as NodeJS.ErrnoException).code, message: (error as Error).message });
        return;
      }
    }
    if (!shared.accepting.includes(worker)) shared.accepting.push(worker);
    const address = shared.socket.address();
    reply({ type: 'httpsd:quic-bound', id: request.id, socket: shared.key, address: address.address, port: address.port, staticKey: this.staticKey, ticketKey: this.ticketKey });
  }

  private async open(request: BindRequest): Promise<SharedSocket> {
    const socket = createSocket(datagramSocketOptions(request.udpType));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(request.port, request.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // A send error (ICMP unreachable reported on a later send) concerns one peer, never the socket.
    socket.on('error', () => {});
    const key = `${request.host}|${socket.address().port}`;
    const shared: SharedSocket = { key, socket, accepting: [], routes: new Map(), inbound: new Map(), flushScheduled: false };
    this.sockets.set(key, shared);
    socket.on('message', (data, remote) => this.receive(shared, data, remote.address, remote.port));
    return shared;
  }

  private receive(shared: SharedSocket, data: Buffer, address: string, port: number): void {
    const cid = destinationKey(data);
    let worker = cid === undefined ? undefined : shared.routes.get(cid);
    if (worker === undefined) {
      if (shared.accepting.length === 0) return;
      worker = shared.accepting[flowHash(address, port) % shared.accepting.length]!;
    }
    if ((this.unwritten.get(worker) ?? 0) >= MAX_UNWRITTEN_BATCHES) {
      this.stats.dropped++;
      return;
    }
    let queue = shared.inbound.get(worker);
    if (queue === undefined) shared.inbound.set(worker, (queue = []));
    queue.push([data, address, port]);
    this.stats.in++;
    if (shared.flushScheduled) return;
    shared.flushScheduled = true;
    // After the poll phase: every datagram libuv read in this turn leaves in one message per worker.
    setImmediate(() => this.deliver(shared));
  }

  private deliver(shared: SharedSocket): void {
    shared.flushScheduled = false;
    for (const [worker, datagrams] of shared.inbound) {
      if (!worker.isConnected()) continue;
      const message: InMessage = { type: 'httpsd:quic-in', socket: shared.key, datagrams };
      this.unwritten.set(worker, (this.unwritten.get(worker) ?? 0) + 1);
      worker.send(message, () => {
        const count = this.unwritten.get(worker);
        if (count !== undefined) this.unwritten.set(worker, count - 1);
      });
      this.stats.messagesIn++;
    }
    shared.inbound.clear();
  }

  private send(worker: Worker, message: OutMessage): void {
    const shared = this.sockets.get(message.socket);
    if (shared === undefined) return;
    for (const cid of message.add) shared.routes.set(cid, worker);
    for (const cid of message.remove) if (shared.routes.get(cid) === worker) shared.routes.delete(cid);
    for (const [data, address, port] of message.datagrams) shared.socket.send(data, port, address);
    this.stats.out += message.datagrams.length;
    this.stats.messagesOut++;
  }

  private leave(worker: Worker, key: string, routesToo: boolean): void {
    const shared = this.sockets.get(key);
    if (shared === undefined) return;
    shared.accepting = shared.accepting.filter((member) => member !== worker);
    if (!routesToo) return;
    for (const [cid, owner] of shared.routes) if (owner === worker) shared.routes.delete(cid);
    shared.inbound.delete(worker);
  }
}
