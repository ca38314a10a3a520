/**
 * What the server core knows about each protocol it speaks: a table keyed by the protocol name, so adding one
 * (HTTP/3) is a row here and a transport, never a new boolean threaded through the modules.
 */
import type { Protocol } from '../types.js';

/**
 * The field rules a message follows. 'h1': HTTP/1.1 fields as received (any case, Host as a field, connection
 * fields allowed). 'h2-like': HTTP/2 and HTTP/3 share them (RFC 9113 §8.2, RFC 9114 §4.2): lowercase names,
 * :authority instead of Host, cookie crumbs (RFC 9113 §8.2.3, RFC 9114 §4.2.1), no connection-specific fields.
 */
export type FieldFamily = 'h1' | 'h2-like';

/** The public connection counters (stats() and metrics names are API): which one a protocol's connections join. */
export type ConnectionCounter = 'h1Connections' | 'h2Connections' | 'h3Connections';

export interface ProtocolTraits {
  readonly family: FieldFamily;
  /** The protocol as an access-log request line spells it. */
  readonly logLabel: string;
  readonly counter: ConnectionCounter;
  /** Its responses advertise HTTP/3 (Alt-Svc, RFC 7838) when the server serves it. */
  readonly advertisesAltSvc: boolean;
}

export const PROTOCOLS: Readonly<Record<Protocol, ProtocolTraits>> = {
  'http/1.1': { family: 'h1', logLabel: 'HTTP/1.1', counter: 'h1Connections', advertisesAltSvc: true },
  h2: { family: 'h2-like', logLabel: 'HTTP/2.0', counter: 'h2Connections', advertisesAltSvc: true },
  h2c: { family: 'h2-like', logLabel: 'HTTP/2.0', counter: 'h2Connections', advertisesAltSvc: true },
  h3: { family: 'h2-like', logLabel: 'HTTP/3.0', counter: 'h3Connections', advertisesAltSvc: false },
};

/** Open connections by protocol, summed into the public counters. */
export class ConnectionCounts {
  private readonly open: Record<Protocol, number> = { 'http/1.1': 0, h2: 0, h2c: 0, h3: 0 };

  opened(protocol: Protocol): void {
    this.open[protocol]++;
  }

  closed(protocol: Protocol): void {
    this.open[protocol]--;
  }

  /** The value of one public counter: the connections of every protocol that reports under it. */
  total(counter: ConnectionCounter): number {
    let sum = 0;
    for (const protocol of Object.keys(this.open) as Protocol[]) if (PROTOCOLS[protocol].counter === counter) sum += this.open[protocol];
    return sum;
  }
}
