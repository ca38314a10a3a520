/**
 * Which peers may speak for a client: the `trustProxy` list of serve() (`--trust-proxy`), as addresses, CIDR ranges
 * and keywords. Only a trusted peer's X-Forwarded-* / Forwarded fields are read (src/server/proxy/forwarded.ts).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { UNIX_REMOTE_ADDRESS } from '../listeners.js';

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

/**
 * The address as 32-bit words, most significant first: one for IPv4, four for IPv6 (an embedded IPv4 tail, as in
 * "64:ff9b::192.0.2.1", included). `address` is already known to be a valid address of `family`.
 */
function addressWords(address: string, family: 'ipv4' | 'ipv6'): number[] {
  if (family === 'ipv4') return [ipv4Word(address)];
  const groups: number[] = [];
  const expand = (part: string): number[] => {
    const out: number[] = [];
    for (const group of part === '' ? [] : part.split(':')) {
      if (group.includes('.')) {
        const word = ipv4Word(group);
        out.push(word >>> 16, word & 0xffff);
      } else {
        out.push(parseInt(group, 16));
      }
    }
    return out;
  };
  const gap = address.indexOf('::');
  if (gap < 0) {
    groups.push(...expand(address));
  } else {
    const head = expand(address.slice(0, gap));
    const tail = expand(address.slice(gap + 2));
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  }
  const words: number[] = [];
  for (let i = 0; i < 8; i += 2) words.push(((groups[i]! << 16) | groups[i + 1]!) >>> 0);
  return words;
}

function ipv4Word(address: string): number {
  const octets = address.split('.');
  return ((Number(octets[0]) << 24) | (Number(octets[1]) << 16) | (Number(octets[2]) << 8) | Number(octets[3])) >>> 0;
}

interface Range {
  family: 'ipv4' | 'ipv6';
  words: number[];
  prefix: number;
}

/** Whether the first `prefix` bits of `words` are those of the range. */
function inRange(range: Range, words: readonly number[]): boolean {
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 32) {
    const mask = bits >= 32 ? 0xffffffff : ~(0xffffffff >>> bits) >>> 0;
    if (((words[i]! ^ range.words[i]!) & mask) !== 0) return false;
  }
  return true;
}

const MAX_REMEMBERED_VERDICTS = 1024;

/** The set of trusted proxy addresses. */
export class TrustedProxies {
  private readonly ranges: Range[] = [];
  /**
   * Peers on a Unix socket (`unix` / `fd` listeners; their remoteAddress is "unix:"): a process on this machine, trusted
   * with the keywords `unix` and `loopback`.
   */
  private trustsUnixPeers = false;
  private readonly verdicts = new Map<string, boolean>();
  /** The entries as given, for messages and the start banner. */
  readonly entries: readonly string[];

  /**
   * `spec`: a list of entries, or one string of comma-separated entries. An entry is an IPv4 or IPv6 address, a CIDR
   * range ("10.0.0.0/8", "fd00::/8") or a keyword (loopback, private, linklocal; unix and loopback also trust peers on Unix sockets). Throws a TypeError naming a bad entry.
   */
  constructor(spec: string | readonly string[]) {
    const entries = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((entry) => String(entry).trim()).filter((entry) => entry !== '');
    if (entries.length === 0) throw new TypeError('trustProxy is empty: give addresses, CIDR ranges or keywords (loopback, private, linklocal, unix)');
    for (const entry of entries) {
      const lower = entry.toLowerCase();
      if (lower === 'unix' || lower === 'loopback') this.trustsUnixPeers = true;
      if (lower === 'unix') continue;
      const keyword = TRUST_KEYWORDS[lower];
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
        `trustProxy entry "${entry}" is not an IP address, a CIDR range (e.g. 10.0.0.0/8, fd00::/8) or one of ${Object.keys(TRUST_KEYWORDS).join(', ')}, unix`,
      );
    }
    this.ranges.push({ family: canonical.family, words: addressWords(canonical.address, canonical.family), prefix });
  }

  /** Whether a peer at this address is a trusted proxy. Anything that is not an IP address is not. */
  trusts(address: string): boolean {
    // The same few proxies ask again and again: remembered, in a map bounded against clients that vary their claims.
    let trusted = this.verdicts.get(address);
    if (trusted === undefined) {
      trusted = this.matches(address);
      if (this.verdicts.size >= MAX_REMEMBERED_VERDICTS) this.verdicts.clear();
      this.verdicts.set(address, trusted);
    }
    return trusted;
  }

  private matches(address: string): boolean {
    if (address === UNIX_REMOTE_ADDRESS) return this.trustsUnixPeers;
    const canonical = canonicalAddress(address);
    if (canonical === undefined) return false;
    let family = canonical.family;
    let words = addressWords(canonical.address, family);
    // An IPv4-mapped address in hexadecimal form ("::ffff:a00:1") is the IPv4 address too.
    if (family === 'ipv6' && words[0] === 0 && words[1] === 0 && words[2] === 0xffff) {
      family = 'ipv4';
      words = [words[3]!];
    }
    for (const range of this.ranges) if (range.family === family && inRange(range, words)) return true;
    return false;
  }
}
