/**
 * The start banner of the `httpsd` command: where to connect (every LAN address for a wildcard --host), the TLS
 * summary, and warnings when the certificate does not cover the names clients will use.
 */
import type { X509Certificate } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { checkCertificateCoversHost } from '../tls/index.js';
import type { Server } from '../server/types.js';
import type { ServerCliSettings } from './server-options.js';

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::']);

/**
 * Addresses other machines can reach a wildcard listener on: non-internal IPv4 (and, for ::, IPv6 other than
 * link-local, whose URLs would need a zone index browsers do not accept).
 */
export function lanAddresses(host: string): string[] {
  if (!WILDCARD_HOSTS.has(host)) return [];
  const addresses: string[] = [];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.internal) continue;
      if (entry.family === 'IPv4') addresses.push(entry.address);
      else if (host === '::' && !/^fe80:/i.test(entry.address)) addresses.push(entry.address);
    }
  }
  return [...new Set(addresses)];
}

function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function describeListeners(server: Pick<Server, 'urls'> & Partial<Pick<Server, 'http3Port'>>, settings: ServerCliSettings, alpn: string[] | undefined): string[] {
  const lines: string[] = [];
  const offered = (alpn ?? ['h2', 'http/1.1']).join(', ');
  const lan = lanAddresses(settings.host);
  for (const url of server.urls) {
    if (!/^https?:/.test(url)) {
      lines.push(`  ${socketListenerText(url, settings, offered)}`);
      continue;
    }
    const secure = url.startsWith('https:');
    const what = secure ? `(TLS; ALPN ${offered})` : `(cleartext; ${settings.redirectHttp ? 'redirects to https' : 'http/1.1 and h2c prior knowledge'})`;
    lines.push(`  ${url}  ${what}`);
    // The URL above says "localhost" for a wildcard bind; other machines use these.
    const parsed = new URL(url);
    for (const address of lan) lines.push(`  ${parsed.protocol}//${urlHost(address)}:${parsed.port}/`);
    // Inherited sockets (--fd, socket activation) are TCP only: HTTP/3 would need a UDP socket passed too.
    const http3 = secure && settings.deploy.fds.length === 0 ? http3Text(server.http3Port, settings.http3) : undefined;
    if (http3 !== undefined) lines.push(`  ${http3}`);
  }
  // --unix and --fd replace --host.
  if (WILDCARD_HOSTS.has(settings.host) && settings.deploy.unix === undefined && settings.deploy.fds.length === 0) {
    lines.push(`  listening on every ${settings.host === '::' ? 'IPv6 (and, where the system maps them, IPv4)' : 'IPv4'} interface (--host ${settings.host}): reachable from other machines`);
  }
  return lines;
}

/** A Unix socket (`unix:/path`, or `fd://N` inherited) and what it speaks. */
function socketListenerText(url: string, settings: ServerCliSettings, offered: string): string {
  const what = settings.deploy.unixTls ? `TLS; ALPN ${offered}` : 'cleartext; http/1.1 and h2c prior knowledge';
  const mode = url.startsWith('unix:') && settings.deploy.unix?.mode !== undefined ? `, mode ${settings.deploy.unix.mode.toString(8)}` : '';
  const path = url.startsWith('unix:') ? url.slice('unix:'.length) : undefined;
  const tryIt = path !== undefined && !settings.deploy.unixTls ? `; try: curl --unix-socket ${path} http://localhost/` : '';
  return `${url}  (Unix socket, ${what}${mode}${tryIt})`;
}

/** Whether HTTP/3 is served, and why not when it is not. */
function http3Text(port: number | undefined, http3: ServerCliSettings['http3']): string | undefined {
  if (port !== undefined) return `HTTP/3 on (QUIC, UDP port ${port}; advertised with Alt-Svc; --no-http3 turns it off)`;
  if (http3 === 'off') return 'HTTP/3 off (--no-http3)';
  return undefined;
}

/**
 * A warning when the certificate does not cover `host` or, for a wildcard --host, the LAN addresses listed in the
 * banner, with the `httpsd cert` command that issues one that does.
 */
export function coverageWarnings(leaf: X509Certificate | undefined, host: string): string[] {
  if (leaf === undefined) return [];
  if (!WILDCARD_HOSTS.has(host)) {
    const warning = checkCertificateCoversHost(leaf, host);
    return warning ? [warning] : [];
  }
  const uncovered = lanAddresses(host).filter((address) => checkCertificateCoversHost(leaf, address) !== null);
  if (uncovered.length === 0) return [];
  const names = ['localhost', ...uncovered];
  const stem = `localhost+${names.length - 1}`;
  return [
    `WARNING: the certificate does not cover ${uncovered.join(', ')}: clients on other machines using these addresses will report a name mismatch. ` +
      `Fix: httpsd cert ${names.join(' ')}  then start with --cert ${stem}.pem --key ${stem}-key.pem (and trust the CA on those machines).`,
  ];
}

/**
 * TLS lines of the start banner: the provider's summary (profile, versions, certificate, expiry), a warning when the
 * certificate does not cover the names clients will use, then where the certificate came from.
 */
export function tlsBannerLines(server: Pick<Server, 'describeTls'>, leaf: X509Certificate | undefined, host: string, notes: string[]): string[] {
  const lines = [...server.describeTls()];
  if (!lines.some((line) => line.includes('does not cover'))) lines.push(...coverageWarnings(leaf, host));
  return [...lines, ...notes];
}
