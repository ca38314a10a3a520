/**
 * The names an ACME certificate may carry here: DNS names only (RFC 8555 §7.1.4 "dns" identifiers), no IP
 * addresses (RFC 8738 is not supported by the common CAs), and no wildcards — a wildcard can only be validated by
 * DNS-01 (RFC 8555 §7.1.3), which needs the DNS provider's API and is not offered by httpsd.
 */
import { isIP } from 'node:net';
import { normalizeServerName } from '../tls/sni.js';
import { UsageError } from '../common/errors.js';

export function validateAcmeNames(domains: readonly string[]): string[] {
  const names: string[] = [];
  for (const raw of domains.flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean)) {
    if (raw.includes('*')) {
      throw new UsageError(`--acme ${raw}: wildcard certificates need the DNS-01 challenge, which httpsd does not perform. Fix: list each name (--acme a.example.com,b.example.com), or obtain the wildcard with a DNS-01 client and pass it with --cert/--key.`);
    }
    if (isIP(raw.replace(/^\[|\]$/g, '')) !== 0) {
      throw new UsageError(`--acme ${raw}: an IP address; ACME CAs issue for DNS names. Fix: use a DNS name that points to this machine.`);
    }
    const name = normalizeServerName(raw);
    if (name === undefined || !name.includes('.') || name.includes('_')) {
      throw new UsageError(`--acme ${raw}: not a public DNS name (CAs only issue for names like example.com).`);
    }
    if (!names.includes(name)) names.push(name);
  }
  if (names.length === 0) throw new UsageError('--acme needs at least one DNS name, e.g. --acme example.com,www.example.com.');
  // Let's Encrypt's limit of names per certificate.
  if (names.length > 100) throw new UsageError(`--acme lists ${names.length} names; a certificate holds at most 100.`);
  return names;
}
