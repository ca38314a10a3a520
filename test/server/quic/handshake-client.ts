/**
 * A QUIC client for the serving tests, on the project's own engines (src/quic client role, src/quic/tls TlsClient)
 * over a real UDP socket: it completes a handshake with a chosen SNI name and reports the certificate chain the
 * server presented, and closes. What the independent peers (gtlsclient, quic-go) cannot print.
 */
import { createSocket } from 'node:dgram';
import { X509Certificate } from 'node:crypto';
import { nodeCrypto } from '../../../src/crypto/node.js';
import { QuicConnection } from '../../../src/quic/index.js';
import { TlsClient } from '../../../src/quic/tls/index.js';

export interface HandshakeResult {
  /** The leaf the server presented. */
  leaf: X509Certificate;
  alpn: string;
}

/** Handshakes with `serverName` (SNI) at 127.0.0.1:port, then closes the connection. Rejects after `timeoutMs`. */
export async function quicHandshake(port: number, serverName: string | undefined, timeoutMs = 20_000): Promise<HandshakeResult> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const remote = { address: '127.0.0.1', port };
  let presented: Uint8Array[] | undefined;
  const connection = new QuicConnection({
    role: 'client',
    crypto: nodeCrypto,
    remote,
    now: performance.now(),
    tls: (transportParameters) =>
      new TlsClient({
        crypto: nodeCrypto,
        ...(serverName !== undefined ? { serverName } : {}),
        alpn: ['h3'],
        transportParameters,
        // The test checks which certificate came, not whether it chains: accept it and keep it.
        verifyCertificate: (chain) => {
          presented = chain;
          return true;
        },
      }),
  });
  let timer: NodeJS.Timeout | undefined;
  const pump = () => {
    for (const datagram of connection.datagramsToSend(performance.now())) socket.send(datagram.data, datagram.remote.port, datagram.remote.address);
    if (timer) clearTimeout(timer);
    const deadline = connection.nextDeadline();
    if (deadline !== undefined) {
      timer = setTimeout(() => {
        connection.onTimeout(performance.now());
        pump();
      }, Math.max(0, Math.ceil(deadline - performance.now())));
    }
  };
  try {
    return await new Promise<HandshakeResult>((resolve, reject) => {
      const overall = setTimeout(() => reject(new Error(`no QUIC handshake with 127.0.0.1:${port} (SNI ${serverName}) within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        for (const event of connection.pollEvents()) {
          if (event.type === 'handshakeComplete' && presented !== undefined) {
            clearTimeout(overall);
            resolve({ leaf: new X509Certificate(Buffer.from(presented[0]!)), alpn: event.alpn });
          } else if (event.type === 'connectionTerminated') {
            clearTimeout(overall);
            reject(new Error(`connection closed: code 0x${event.code.toString(16)} ${event.reason}`));
          }
        }
      };
      socket.on('message', (message, from) => {
        connection.receiveDatagram(message, { address: from.address, port: from.port }, performance.now());
        check();
        pump();
      });
      pump();
    });
  } finally {
    if (!connection.isClosed) connection.close(0, 'done', true);
    pump();
    if (timer) clearTimeout(timer);
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
