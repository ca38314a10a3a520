/**
 * The client of one request as the application and the access log see it: the connection's peer, or behind trusted
 * proxies the client their forwarding fields name (src/server/proxy/forwarded.ts), with request.url rebuilt from the
 * scheme and host the client used.
 */
import { requestView, targetUrl, type LazyRequest } from '../request.js';
import { forwardedClient } from './forwarded.js';
import type { TrustedProxies } from './trust.js';
import type { Tunnel } from '../core/tunnel.js';

export interface ClientAddress {
  readonly remoteAddress: string;
  readonly remotePort: number;
}

/** `peer`: the connection's peer (after the PROXY protocol). Called once, before the handler sees the request. */
export function requestClient(trusted: TrustedProxies, peer: ClientAddress, request: LazyRequest): ClientAddress {
  const forwarded = forwardedClient(trusted, peer.remoteAddress, peer.remotePort, requestView.rawHeaders(request));
  if (forwarded === undefined) return peer;
  if (forwarded.scheme !== undefined || forwarded.host !== undefined) {
    // Only request.url changes: the Host field and :authority stay as received.
    request._url = targetUrl(forwarded.scheme ?? request._scheme, forwarded.host ?? request._authority, request._path);
  }
  return forwarded;
}

/**
 * The tunnel as the WebSocket should see it: with the request's client as its remote end where that is not the
 * transport's own peer (a PROXY protocol header on HTTP/1.1, trusted forwarding fields); everything else is the
 * tunnel's.
 */
export function tunnelForClient(tunnel: Tunnel, client: ClientAddress): Tunnel {
  if (tunnel.remoteAddress === client.remoteAddress && tunnel.remotePort === client.remotePort) return tunnel;
  return {
    protocol: tunnel.protocol,
    remoteAddress: client.remoteAddress,
    remotePort: client.remotePort,
    get bufferedAmount() {
      return tunnel.bufferedAmount;
    },
    attach: (handlers) => tunnel.attach(handlers),
    write: (chunks) => tunnel.write(chunks),
    pause: () => tunnel.pause(),
    resume: () => tunnel.resume(),
    end: () => tunnel.end(),
    destroy: () => tunnel.destroy(),
  };
}
