/**
 * `info.upgradeWebSocket(request, options)`: checks the opening handshake and returns the Response that asks the
 * transport to switch the exchange to a WebSocket — 101 on HTTP/1.1 (RFC 6455 §4.2.2), 200 on HTTP/2 (RFC 8441 §5)
 * and HTTP/3 (RFC 9220). A handshake that is not acceptable returns the refusal (400, 426 …) instead, so the app
 * can return either unchanged.
 */
import { createHash } from 'node:crypto';
import {
  acceptValue,
  negotiatePerMessageDeflate,
  selectSubprotocol,
  validateExtendedConnect,
  validateHttp1Upgrade,
  type PerMessageDeflateAgreement,
} from '../../ws/index.js';
import type { WebSocketHub } from './hub.js';
import type { UpgradeOptions } from './types.js';
import { NativeResponse } from '../response.js';

const kUpgrade = Symbol('httpsd.webSocketUpgrade');

/** What the transport needs to finish the switch once the app returned the upgrade Response. */
export interface PendingUpgrade {
  data: unknown;
  protocol: string | undefined;
  agreement: PerMessageDeflateAgreement | undefined;
  /** Response fields for the 101 / 200, user headers included (lowercase names). */
  headers: [string, string][];
  /** The status to write: 101 on HTTP/1.1, 200 on HTTP/2 and HTTP/3. */
  status: 101 | 200;
}

/** Facts only the transport knows about the request. */
export interface UpgradeFacts {
  /** 'h1' for HTTP/1.x, 'h2' for HTTP/2 and HTTP/3 (extended CONNECT). */
  family: 'h1' | 'h2';
  /** HTTP/1.x: "1.1" or "1.0". */
  httpVersion?: string;
  /** HTTP/2 and HTTP/3: the :protocol pseudo-header. */
  connectProtocol?: string;
}

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

function refusal(status: number, reason: string, headers: [string, string][]): Response {
  return new NativeResponse(reason + '\n', { status, headers: [['content-type', 'text/plain; charset=utf-8'], ...headers] });
}

export function upgradeWebSocket(hub: WebSocketHub | undefined, facts: UpgradeFacts, request: Request, options: UpgradeOptions = {}): Response {
  if (hub === undefined) {
    throw new TypeError('upgradeWebSocket() needs a websocket handler: pass `websocket: { message(ws, data) {…} }` to serve() (or export it beside fetch)');
  }
  const get = (name: string) => request.headers.get(name) ?? undefined;
  const result = facts.family === 'h1'
    ? validateHttp1Upgrade(request.method, facts.httpVersion ?? '1.1', get)
    : validateExtendedConnect(request.method, facts.connectProtocol, get);
  if (!result.ok) return refusal(result.status, result.reason, result.headers);
  // Overload: refuse before the handshake rather than accept and close (RFC 9110 §15.6.4).
  if (!hub.hasRoom) return refusal(503, 'too many WebSocket connections', [['retry-after', '5']]);

  const protocol = selectSubprotocol(result.protocols, options.protocol);
  const agreement = hub.options.perMessageDeflate === false
    ? undefined
    : negotiatePerMessageDeflate(result.extensions, { serverNoContextTakeover: true });
  const headers: [string, string][] = [];
  if (facts.family === 'h1') {
    headers.push(['upgrade', 'websocket'], ['connection', 'Upgrade'], ['sec-websocket-accept', acceptValue(result.key!, sha1)]);
  }
  if (protocol !== undefined) headers.push(['sec-websocket-protocol', protocol]);
  if (agreement !== undefined) headers.push(['sec-websocket-extensions', agreement.response]);
  if (options.headers !== undefined) {
    for (const [name, value] of new Headers(options.headers)) {
      // The handshake's own fields are the server's to write.
      if (name.startsWith('sec-websocket-') || name === 'upgrade' || name === 'connection') continue;
      headers.push([name, value]);
    }
  }
  const pending: PendingUpgrade = { data: options.data, protocol, agreement, headers, status: facts.family === 'h1' ? 101 : 200 };
  // Response cannot carry 101 (the Fetch standard allows 200–599); the transport writes pending.status.
  const response = new NativeResponse(null, { status: 200 });
  Object.defineProperty(response, kUpgrade, { value: pending });
  return response;
}

/** The upgrade a Response asks for, or undefined for an ordinary Response. */
export function upgradeOf(response: unknown): PendingUpgrade | undefined {
  return typeof response === 'object' && response !== null ? (response as { [kUpgrade]?: PendingUpgrade })[kUpgrade] : undefined;
}
