/**
 * Which peers may speak for a client: the `trustProxy` list of serve() (`--trust-proxy`), as addresses, CIDR ranges
 * and keywords. Only a trusted peer's X-Forwarded-* / Forwarded fields are read (src/server/proxy/forwarded.ts).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Keywords for the ranges a proxy in front of a server usually sits in. */
export const TRUST_KEYWORDS: Readonly<Record<string, readonly string[]>> = {
  // RFC 1122 §3.2.1.3 (127.0.0.0/8), RFC 4291 §2.5.3 (::1).
  loopback: ['127.0.0.0/8', '::1/128'],
  // RFC 1918 §3 private IPv4 ranges and RFC 4193 unique local IPv6 addresses.
  private: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
  // RFC 3927 (169.254.0.0/16) and RFC 4291 §2.5.6 (fe80::/10).
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
};

const IPV4_MAPPED = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * The address as it is matched: an IPv4-mapped IPv6 address (RFC 4291 §2.5.5.2, what a dual-stack socket reports for
 * an IPv4 peer) is its IPv4 address, and a zone index ("fe80::1%eth0") is dropped. undefined when not an IP address.
 */
export function canonicalAddress(address: string): { address: string; family: 'ipv4' | 'ipv6' } | undefined {
  const zone = address.indexOf('%');
  const bare = zone < 0 ? address : address.slice(0, zone);
  const mapped = IPV4_MAPPED.exec(bare);
  if (mapped !== null && isIPv4(mapped[1]!)) return { address: mapped[1]!, family: 'ipv4' };
  if (isIPv4(bare)) return { address: bare, family: 'ipv4' };
  if (isIPv6(bare)) return { address: bare, family: 'ipv6' };
  return undefined;
}

/** The set of trusted proxy addresses. */
export class TrustedProxies {
  private readonly ranges = new BlockList();
  /** The entries as given, for messages and the start banner. */
  readonly entries: readonly string[];

  /**
   * `spec`: a list of entries, or one string of comma-separated entries. An entry is an IPv4 or IPv6 address, a CIDR
   * range ("10.0.0.0/8", "fd00::/8") or a keyword (loopback, private, linklocal). Throws a TypeError naming a bad entry.
   */
  constructor(spec: string | readonly string[]) {
    const entries = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((entry) => String(entry).trim()).filter((entry) => entry !== '');
    if (entries.length === 0) throw new TypeError('trustProxy is empty: give addresses, CIDR ranges or keywords (loopback, private, linklocal)');
    for (const entry of entries) {
      const keyword = TRUST_KEYWORDS[entry.toLowerCase()];
      for (const range of keyword ?? [entry]) this.addRange(range, entry);
    }
    this.entries = entries;
  }

  private addRange(range: string, entry: string): void {
    const slash = range.indexOf('/');
    const canonical = canonicalAddress(slash < 0 ? range : range.slice(0, slash));
    const prefixText = slash < 0 ? undefined : range.slice(slash + 1);
    const maxPrefix = canonical?.family === 'ipv4' ? 32 : 128;
    const prefix = prefixText === undefined ? maxPrefix : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
    if (canonical === undefined || range.includes('%') || !(prefix <= maxPrefix)) {
      throw new TypeError(
        `trustProxy entry "${entry}" is not an IP address, a CIDR range (e.g. 10.0.0.0/8, fd00::/8) or one of ${Object.keys(TRUST_KEYWORDS).join(', ')}`,
      );
    }
    this.ranges.addSubnet(canonical.address, prefix, canonical.family);
  }

  /** Whether a peer at this address is a trusted proxy. Anything that is not an IP address is not. */
  trusts(address: string): boolean {
    const canonical = canonicalAddress(address);
    return canonical !== undefined && this.ranges.check(canonical.address, canonical.family);
  }
}
