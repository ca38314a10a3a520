/**
 * A UDP relay that stands between a real QUIC client and our endpoint and plays a NAT: the client talks to the
 * relay's front socket, the relay forwards from a back socket to the server. `rebind()` swaps the back socket for a
 * new one (a new source port, or a new source address such as 127.0.0.2), the way a NAT forgets a mapping: the
 * client notices nothing, the server sees its peer move (RFC 9000 §9.3), and datagrams the server still sends to
 * the old mapping are dropped, as a real NAT drops them. This is the QUIC interop runner's rebind-port and
 * rebind-addr scenario, driven by bytes relayed rather than by time so it lands mid-transfer on any machine speed.
 */
import type { Socket } from 'node:dgram';
import { bindUdp as bound } from './udp-client.js';

export interface RelayStats {
  toServer: number;
  toClient: number;
  bytesToClient: number;
  rebinds: number;
  droppedAfterRebind: number;
}

export class UdpRelay {
  readonly stats: RelayStats = { toServer: 0, toClient: 0, bytesToClient: 0, rebinds: 0, droppedAfterRebind: 0 };
  private client: { address: string; port: number } | undefined;
  private back: Socket;
  private readonly retired: Socket[] = [];
  /** Called after each datagram relayed to the client (a test rebinds from here at a chosen byte count). */
  onToClient: ((stats: RelayStats) => void) | undefined;

  private constructor(
    private readonly front: Socket,
    back: Socket,
    private readonly server: { address: string; port: number },
  ) {
    this.back = back;
    front.on('message', (message, remote) => {
      this.client = { address: remote.address, port: remote.port };
      this.stats.toServer++;
      this.back.send(message, server.port, server.address);
    });
    this.attach(back);
  }

  static async start(serverPort: number, serverAddress = '127.0.0.1'): Promise<UdpRelay> {
    const front = await bound('127.0.0.1');
    const back = await bound('127.0.0.1');
    return new UdpRelay(front, back, { address: serverAddress, port: serverPort });
  }

  get port(): number {
    return this.front.address().port;
  }

  /** The address and port the server currently sees the client at. */
  get mapped(): { address: string; port: number } {
    return this.back.address();
  }

  /** The NAT forgets its mapping: later client datagrams leave from a new port (on `address`, default the same). */
  async rebind(address = '127.0.0.1'): Promise<void> {
    const old = this.back;
    old.removeAllListeners('message');
    old.on('message', () => this.stats.droppedAfterRebind++);
    this.retired.push(old);
    this.back = await bound(address);
    this.attach(this.back);
    this.stats.rebinds++;
  }

  async close(): Promise<void> {
    await Promise.all([this.front, this.back, ...this.retired].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private attach(socket: Socket): void {
    socket.on('message', (message) => {
      if (this.client === undefined) return;
      this.stats.toClient++;
      this.stats.bytesToClient += message.byteLength;
      this.front.send(message, this.client.port, this.client.address);
      this.onToClient?.(this.stats);
    });
  }
}
