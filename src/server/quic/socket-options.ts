/** How every UDP socket that carries QUIC is created: an endpoint's own, or the supervisor's under --workers. */
import type { SocketOptions } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';

/**
 * Socket buffers of 2 MiB each way (the kernel caps them at net.core.rmem_max / wmem_max). With the default
 * ~208 KiB, a burst of datagrams arriving while the event loop is busy overflows the receive buffer: the kernel
 * drops them (RcvbufErrors), and QUIC takes the loss as congestion and halves its window.
 */
const SOCKET_BUFFER_BYTES = 2 * 1024 * 1024;

/**
 * node:dgram resolves the destination of every send() through `lookup`; the default (dns.lookup) answers an IP
 * literal on the next tick, one deferred callback per datagram. Peers are always IP literals (from RemoteInfo), so
 * they are answered at once, their family remembered (isIP is a regular expression per call; the memory is bounded);
 * names (a `host` given to bind) still go to dns.lookup.
 */
const literalFamilies = new Map<string, number>();
const MAX_REMEMBERED_LITERALS = 4096;
const literalLookup: NonNullable<SocketOptions['lookup']> = (hostname, options, callback) => {
  let family = literalFamilies.get(hostname);
  if (family === undefined) {
    family = isIP(hostname);
    if (family === 0) {
      dnsLookup(hostname, options, callback);
      return;
    }
    if (literalFamilies.size >= MAX_REMEMBERED_LITERALS) literalFamilies.clear();
    literalFamilies.set(hostname, family);
  }
  callback(null, hostname, family);
};

/** Options of every UDP socket that carries QUIC (an endpoint's own, or the supervisor's under --workers). */
export function datagramSocketOptions(type: 'udp4' | 'udp6'): SocketOptions {
  return { type, reuseAddr: false, lookup: literalLookup, recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES };
}
