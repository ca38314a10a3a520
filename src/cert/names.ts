/**
 * Parsing and validation of the names a certificate is issued for (subjectAltName entries, RFC 5280 §4.2.1.6)
 * and of the subtrees a name-constrained root permits (RFC 5280 §4.2.1.10).
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { UsageError } from '../common/errors.js';

export type SubjectName =
  | { kind: 'dns'; value: string }
  | { kind: 'ip'; value: string; bytes: Uint8Array }
  | { kind: 'email'; value: string }
  | { kind: 'uri'; value: string };

// Letters, digits, hyphen and underscore (underscore is common in local service names, e.g. _dmarc or docker
// compose service names); a wildcard only as the whole leftmost label (RFC 6125 §6.4.3).
const HOSTNAME_PATTERN = /^(\*\.)?[0-9a-z_-]([0-9a-z._-]*[0-9a-z_-])?$/;
const URI_PATTERN = /^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i;
// RFC 5280 §4.2.1.6 only asks for an addr-spec; a deliberately plain check: one '@', no spaces, non-empty sides.
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;
/** A bound on each name so a typo (or a pasted file) cannot produce an absurd certificate. */
const MAX_NAME_LENGTH = 1024;

/** Classifies one command-line name as a DNS name, an IP address, an email address or a URI. */
export function parseSubjectName(input: string): SubjectName {
  const raw = input.trim();
  if (raw.length === 0) throw new UsageError('httpsd cert: an empty name was given; pass host names, IPs, emails or URIs.');
  if (raw.length > MAX_NAME_LENGTH) throw new UsageError(`httpsd cert: the name "${raw.slice(0, 40)}…" is longer than ${MAX_NAME_LENGTH} characters.`);
  const unbracketed = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  // Checked first: node's isIP() accepts "fe80::1%eth0", but a SAN iPAddress is the bare 16 bytes (RFC 5280 §4.2.1.6).
  if (unbracketed.includes('%') && isIP(unbracketed.split('%')[0] ?? '')) {
    throw new UsageError(`httpsd cert: "${raw}" has an IPv6 zone index; certificates hold addresses without zones, pass "${unbracketed.split('%')[0]}".`);
  }
  if (isIP(unbracketed)) {
    const bytes = ipToBytes(unbracketed);
    return { kind: 'ip', value: displayIp(bytes), bytes };
  }
  // SAN emails and URIs are IA5Strings (RFC 5280 §4.2.1.6); control characters would be printed by tools verbatim.
  if (/[^\x21-\x7e]/.test(raw) && (URI_PATTERN.test(raw) || raw.includes('@'))) {
    throw new UsageError(`httpsd cert: "${raw.replace(/[^\x21-\x7e]/g, '?')}" contains spaces, control or non-ASCII characters; encode them (URIs: percent-encoding).`);
  }
  if (URI_PATTERN.test(raw)) {
    try {
      const url = new URL(raw);
      return { kind: 'uri', value: url.href === raw || url.href === raw + '/' ? raw : url.href };
    } catch {
      throw new UsageError(`httpsd cert: "${raw}" looks like a URI but does not parse as one.`);
    }
  }
  if (raw.includes('@')) {
    if (!EMAIL_PATTERN.test(raw)) throw new UsageError(`httpsd cert: "${raw}" is not a valid email address.`);
    const at = raw.lastIndexOf('@');
    const domain = domainToASCII(raw.slice(at + 1));
    if (!domain) throw new UsageError(`httpsd cert: the domain of the email address "${raw}" is not valid.`);
    return { kind: 'email', value: raw.slice(0, at + 1) + domain };
  }
  return { kind: 'dns', value: normalizeHostname(raw) };
}

/** Lower-cases and IDNA-encodes a host name (RFC 5280 §7.2: dNSName holds A-labels), validating its shape. */
export function normalizeHostname(raw: string): string {
  const wildcard = raw.startsWith('*.');
  const rest = (wildcard ? raw.slice(2) : raw).replace(/\.$/, '');
  // domainToASCII rejects underscores; they are legal in DNS (RFC 2181 §11), so only send non-ASCII through it.
  const ascii = /^[\x21-\x7e]*$/.test(rest) ? rest.toLowerCase() : domainToASCII(rest);
  const name = (wildcard ? '*.' : '') + ascii;
  // RFC 1123 §2.1 / RFC 1035 §2.3.4: labels of 1..63 characters, not starting or ending with "-", 253 in total.
  const labelsValid = ascii.length <= 253 && ascii.split('.').every((label) => label.length >= 1 && label.length <= 63 && !label.startsWith('-') && !label.endsWith('-'));
  if (!ascii || !HOSTNAME_PATTERN.test(name) || !labelsValid) {
    throw new UsageError(
      `httpsd cert: "${raw}" is not a valid host name, IP address, email address or URI. ` +
        'Host names use letters, digits, "-" and "_", with an optional leading "*." wildcard.',
    );
  }
  return name;
}

/** Bytes of an IPv4 (4) or IPv6 (16) address, including IPv4-embedded IPv6 forms (RFC 4291 §2.2). */
export function ipToBytes(text: string): Uint8Array {
  const version = text.includes('%') ? 0 : isIP(text);
  if (version === 4) return Uint8Array.from(text.split('.').map((part) => Number(part)));
  if (version !== 6) throw new UsageError(`httpsd cert: "${text}" is not an IP address.`);
  let hex = text;
  const lastColon = hex.lastIndexOf(':');
  const tail = hex.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = tail.split('.').map((part) => Number(part));
    hex = hex.slice(0, lastColon + 1) + ((v4[0]! << 8) | v4[1]!).toString(16) + ':' + ((v4[2]! << 8) | v4[3]!).toString(16);
  }
  const [head = '', rest] = hex.split('::');
  const left = head ? head.split(':') : [];
  const right = rest === undefined ? [] : rest ? rest.split(':') : [];
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    const value = parseInt(group, 16);
    bytes[index * 2] = value >> 8;
    bytes[index * 2 + 1] = value & 0xff;
  });
  return bytes;
}

/** Text form that @peculiar/asn1-x509's IP converter parses: dotted quad, or eight uncompressed hex groups. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

/** RFC 5952 §4 text form: lower case, leading zeros dropped, the longest run (≥ 2) of zero groups as "::". */
export function displayIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; ) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) {
      bestStart = start;
      bestLength = end - start;
    }
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** A permitted subtree of a name-constrained root: a DNS suffix or an IP network (address + mask). */
export type NameConstraint = { kind: 'dns'; value: string } | { kind: 'ip'; cidr: string; network: Uint8Array; prefix: number };

/** The subtrees `--constrain default` stands for: loopback names and the reserved .test TLD (RFC 6761 §6.2). */
export const DEFAULT_CONSTRAINTS = ['localhost', '.test', '127.0.0.0/8', '::1/128'];

/**
 * Parses `--constrain` entries: "localhost", ".test" or "*.test" (a DNS subtree: RFC 5280 §4.2.1.10 — any name formed
 * by adding labels on the left matches), "127.0.0.0/8" or "::1" (an IP network; a bare address means /32 or /128).
 */
export function parseConstraints(entries: string[]): NameConstraint[] {
  const expanded = entries.flatMap((entry) => entry.split(',')).map((entry) => entry.trim()).filter(Boolean);
  const list = expanded.flatMap((entry) => (entry === 'default' ? DEFAULT_CONSTRAINTS : [entry]));
  if (list.length === 0) throw new UsageError('httpsd cert: --constrain needs a list, e.g. --constrain localhost,.test,127.0.0.0/8,::1 (or --constrain default).');
  const result: NameConstraint[] = [];
  for (const entry of list) {
    const slash = entry.indexOf('/');
    const address = slash === -1 ? entry : entry.slice(0, slash);
    if (isIP(address)) {
      const bytes = ipToBytes(address);
      const maxPrefix = bytes.length * 8;
      const prefix = slash === -1 ? maxPrefix : Number(entry.slice(slash + 1));
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix || (slash !== -1 && !/^\d+$/.test(entry.slice(slash + 1)))) {
        throw new UsageError(`httpsd cert: --constrain "${entry}": the prefix length must be 0..${maxPrefix}.`);
      }
      const network = maskBytes(bytes, prefix);
      result.push({ kind: 'ip', cidr: `${displayIp(network)}/${prefix}`, network, prefix });
      continue;
    }
    // RFC 5280 §4.2.1.10: a dNSName constraint "test" already covers every name under .test, and a leading dot
    // is not understood the same way by every verifier, so ".test" and "*.test" are stored as "test".
    const stripped = entry.replace(/^\*\./, '').replace(/^\./, '');
    let host: string;
    try {
      host = normalizeHostname(stripped);
    } catch {
      throw new UsageError(`httpsd cert: --constrain "${entry}" is neither a DNS name (e.g. localhost, .test) nor an IP network (e.g. 127.0.0.0/8, ::1).`);
    }
    if (host.startsWith('*')) throw new UsageError(`httpsd cert: --constrain "${entry}": write a DNS subtree as ".test", not with a wildcard inside.`);
    result.push({ kind: 'dns', value: host });
  }
  return result;
}

function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = bytes[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Whether a leaf name falls inside the constraints (mirrors what verifiers enforce, to refuse early with a clear message). */
export function nameIsPermitted(name: SubjectName, constraints: NameConstraint[]): boolean {
  if (name.kind === 'dns') {
    const host = name.value.replace(/^\*\./, 'x.');
    return constraints.some((c) => c.kind === 'dns' && (host === c.value || host.endsWith('.' + c.value)));
  }
  if (name.kind === 'ip') {
    return constraints.some((c) => c.kind === 'ip' && c.network.length === name.bytes.length && equalBytes(maskBytes(name.bytes, c.prefix), c.network));
  }
  // Email and URI names are not constrained by the root (it only restricts DNS names and IP addresses).
  return true;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

/** mkcert-compatible default output base name: first name, "+N" for N more names, "-client" for client certs. */
export function defaultFileBase(names: string[], client: boolean): string {
  let base = (names[0] ?? 'cert').replace(/\*/g, '_wildcard').replace(/[^A-Za-z0-9._@+-]/g, '_');
  if (names.length > 1) base += `+${names.length - 1}`;
  if (client) base += '-client';
  return base;
}
