/**
 * What went wrong with the CA, in words that name the cause and the fix. The ACME problem types are those of
 * RFC 8555 §6.7; the transport codes are node's (via axios, which acme-client uses).
 */
import { UsageError } from '../common/errors.js';

export type AcmeFailureKind = 'unreachable' | 'rate-limited' | 'challenge' | 'rejected';

/** exitCode 1: the command was right, the world was not (as for a port already in use). */
export class AcmeError extends UsageError {
  constructor(
    message: string,
    readonly kind: AcmeFailureKind,
  ) {
    super(message, 1);
    this.name = 'AcmeError';
  }
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'ERR_SOCKET_CONNECTION_TIMEOUT', 'CERT_HAS_EXPIRED', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The transport error code of a failed request to the CA, if the failure was one of reaching it at all. */
export function unreachableCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function responseStatus(error: unknown): number | undefined {
  const status = (error as { response?: { status?: unknown } }).response?.status;
  return typeof status === 'number' ? status : undefined;
}

export function describeUnreachable(directoryUrl: string, code: string): string {
  const tls = /CERT|SIGNATURE|ISSUER|ALTNAME/.test(code);
  return tls
    ? `the ACME directory ${directoryUrl} presented a certificate this machine does not trust (${code}). Fix: point --acme-directory at the CA's real URL; for a private or test CA, add its root with NODE_EXTRA_CA_CERTS=FILE.`
    : `the ACME directory ${directoryUrl} is unreachable (${code}). Fix: check that this machine reaches it (network, DNS, proxy, firewall), or choose another CA with --acme-directory URL.`;
}

/**
 * An RFC 8555 §6.7 problem on a failed challenge, as the likely cause on the operator's side: the CA could not connect
 * (port closed, firewall, no port forwarding), the name does not resolve, or it resolves to another machine.
 */
export function describeChallengeFailure(name: string, type: string, problemType: string | undefined, detail: string): string {
  const short = (problemType ?? '').replace('urn:ietf:params:acme:error:', '');
  // The CA's detail usually names the address it tried ("Failed to connect to 203.0.113.7:443"); else the RFC's port.
  const port = /(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):(\d{1,5})/.exec(detail)?.[1] ?? (type === 'http-01' ? '80' : '443');
  let cause: string;
  if (short === 'connection' || /failed to connect|connection refused|timeout|no route|connect:/i.test(detail)) {
    cause = `the CA could not connect to ${name} on port ${port}: that port is not reachable from the CA (firewall, missing port forwarding, or the server listens elsewhere). Fix: open port ${port} to the internet for this server`;
  } else if (short === 'dns' || /NXDOMAIN|no valid A records|SERVFAIL|no such host|DNS problem/i.test(detail)) {
    cause = `DNS for ${name} does not point here (no usable A/AAAA record). Fix: add an A/AAAA record for ${name} with this machine's public address`;
  } else if (short === 'unauthorized' || short === 'incorrectResponse' || short === 'tls') {
    cause = `the CA reached a server at ${name} that did not answer the challenge: DNS does not point to this machine, or a proxy/load balancer in front of it answers instead. Fix: point ${name} here, or let the proxy pass ${type === 'http-01' ? '/.well-known/acme-challenge/' : 'TLS (acme-tls/1)'} through`;
  } else {
    cause = `the CA refused the ${type} challenge`;
  }
  return `${type} challenge for ${name} failed: ${cause}. CA said: ${problemType ?? 'error'}: ${detail}`;
}

/** Turns anything thrown while talking to the CA into an AcmeError with its kind (which sets the retry delay). */
export function classifyAcmeError(error: unknown, directoryUrl: string): AcmeError {
  if (error instanceof AcmeError) return error;
  const code = unreachableCode(error);
  if (code !== undefined) return new AcmeError(describeUnreachable(directoryUrl, code), 'unreachable');
  const message = error instanceof Error ? error.message : String(error);
  const status = responseStatus(error);
  if (status === 429 || /rateLimited|rate limit|too many/i.test(message)) {
    return new AcmeError(`the CA ${directoryUrl} rate-limits these requests: ${message}. httpsd waits before trying again (see https://letsencrypt.org/docs/rate-limits/).`, 'rate-limited');
  }
  if (status !== undefined && status >= 500) return new AcmeError(`the CA ${directoryUrl} failed (HTTP ${status}): ${message}`, 'unreachable');
  return new AcmeError(`the CA ${directoryUrl} refused the request: ${message}`, 'rejected');
}
