/**
 * OCSP stapling (RFC 6066 §8, RFC 6960): fetch the responder's answer for our own certificate ahead of clients, cache it
 * until its nextUpdate, and hand it to OpenSSL on 'OCSPRequest'. A responder that is down never fails or stalls a
 * handshake for long: the handshake proceeds without a staple (clients then fall back to their own checks).
 *
 * The request is built and the response read with a small DER reader: only the handful of fields stapling needs.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

// ---- minimal DER -----------------------------------------------------------------------------------------------------

interface Tlv {
  tag: number;
  /** Whole element, header included. */
  start: number;
  contentStart: number;
  end: number;
}

function readTlv(buf: Uint8Array, offset: number): Tlv {
  if (offset + 2 > buf.length) throw new Error('DER: truncated');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('DER: multi-byte tags unsupported');
  let length = buf[offset + 1]!;
  let pos = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error('DER: bad length');
    length = 0;
    for (let i = 0; i < count; i++) {
      if (pos >= buf.length) throw new Error('DER: truncated');
      length = length * 256 + buf[pos++]!;
    }
  }
  if (pos + length > buf.length) throw new Error('DER: truncated');
  return { tag, start: offset, contentStart: pos, end: pos + length };
}

function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = parent.contentStart; pos < parent.end; ) {
    const child = readTlv(buf, pos);
    out.push(child);
    pos = child.end;
  }
  return out;
}

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function der(tag: number, ...parts: Uint8Array[]): Buffer {
  const content = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

const SEQUENCE = 0x30;
const OCTET_STRING = 0x04;
/** AlgorithmIdentifier { id-sha1, NULL }: RFC 6960 CertIDs use SHA-1, the only hash every responder accepts. */
const SHA1_ALGORITHM = Buffer.from('300906052b0e03021a0500', 'hex');

interface CertParts {
  serial: Buffer; // whole INTEGER element
  subjectName: Buffer; // whole Name element
  publicKeyBits: Buffer; // BIT STRING content without the unused-bits byte
}

function certParts(certDer: Uint8Array): CertParts {
  const certificate = readTlv(certDer, 0);
  const tbs = children(certDer, certificate)[0]!;
  const fields = children(certDer, tbs);
  let i = fields[0]!.tag === 0xa0 ? 1 : 0; // [0] EXPLICIT version
  const serial = fields[i++]!;
  i++; // signature algorithm
  i++; // issuer
  i++; // validity
  const subject = fields[i++]!;
  const spki = fields[i++]!;
  const bitString = children(certDer, spki)[1]!;
  return {
    serial: Buffer.from(certDer.subarray(serial.start, serial.end)),
    subjectName: Buffer.from(certDer.subarray(subject.start, subject.end)),
    publicKeyBits: Buffer.from(certDer.subarray(bitString.contentStart + 1, bitString.end)),
  };
}

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

/** DER OCSPRequest for one certificate (RFC 6960 §4.1.1), unsigned, no nonce (so responses can be cached, RFC 5019). */
export function buildOcspRequest(certDer: Uint8Array, issuerDer: Uint8Array): Buffer {
  const leaf = certParts(certDer);
  const issuer = certParts(issuerDer);
  const certId = der(SEQUENCE, SHA1_ALGORITHM, der(OCTET_STRING, sha1(issuer.subjectName)), der(OCTET_STRING, sha1(issuer.publicKeyBits)), leaf.serial);
  return der(SEQUENCE, der(SEQUENCE, der(SEQUENCE, der(SEQUENCE, certId))));
}

function parseGeneralizedTime(buf: Uint8Array, tlv: Tlv): Date {
  const text = Buffer.from(buf.subarray(tlv.contentStart, tlv.end)).toString('latin1');
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text);
  if (!m) throw new Error(`OCSP: bad GeneralizedTime ${text}`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

export interface OcspResponseInfo {
  /** 0 successful, 1 malformedRequest, 2 internalError, 3 tryLater, 5 sigRequired, 6 unauthorized. */
  responseStatus: number;
  certStatus?: 'good' | 'revoked' | 'unknown';
  thisUpdate?: Date;
  nextUpdate?: Date;
}

/** Reads the status and validity window of the response about the certificate with this serial (whole INTEGER element). */
export function parseOcspResponse(response: Uint8Array, serial?: Buffer): OcspResponseInfo {
  const top = readTlv(response, 0);
  const [statusTlv, bytesTlv] = children(response, top);
  if (!statusTlv || statusTlv.tag !== 0x0a) throw new Error('OCSP: no responseStatus');
  const responseStatus = response[statusTlv.contentStart]!;
  if (responseStatus !== 0 || !bytesTlv) return { responseStatus };
  const responseBytes = children(response, bytesTlv)[0]!;
  const octets = children(response, responseBytes)[1]!;
  const basic = readTlv(response, octets.contentStart);
  const tbs = children(response, basic)[0]!;
  const fields = children(response, tbs);
  let i = fields[0]!.tag === 0xa0 ? 1 : 0;
  i++; // responderID
  i++; // producedAt
  const responses = children(response, fields[i]!);
  for (const single of responses) {
    const parts = children(response, single);
    const certId = children(response, parts[0]!);
    const serialTlv = certId[3]!;
    if (serial && !Buffer.from(response.subarray(serialTlv.start, serialTlv.end)).equals(serial)) continue;
    const statusTag = parts[1]!.tag & 0x1f;
    const certStatus = statusTag === 0 ? 'good' : statusTag === 1 ? 'revoked' : 'unknown';
    const thisUpdate = parseGeneralizedTime(response, parts[2]!);
    let nextUpdate: Date | undefined;
    if (parts[3] && parts[3].tag === 0xa0) nextUpdate = parseGeneralizedTime(response, children(response, parts[3])[0]!);
    return { responseStatus, certStatus, thisUpdate, nextUpdate };
  }
  throw new Error('OCSP: the response does not cover this certificate');
}

/** The OCSP responder URL from the Authority Information Access extension, if any. */
export function ocspResponderUrl(cert: X509Certificate): string | undefined {
  const match = /OCSP - URI:(\S+)/.exec(cert.infoAccess ?? '');
  return match?.[1];
}

const MAX_RESPONSE_BYTES = 64 * 1024;
const FETCH_TIMEOUT_MS = 5000;
/** Without nextUpdate a response is reused for an hour (RFC 5019 §6 leaves freshness to the server). */
const DEFAULT_LIFETIME_MS = 3600_000;
const RETRY_AFTER_FAILURE_MS = 300_000;
/** A handshake waits at most this long for a fetch already under way, then goes on without a staple. */
const HANDSHAKE_WAIT_MS = 1000;

export function fetchOcsp(url: string, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const requestFn = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
    if (!requestFn) return reject(new Error(`unsupported OCSP responder scheme ${target.protocol}`));
    const req = requestFn(
      target,
      { method: 'POST', headers: { 'content-type': 'application/ocsp-request', 'content-length': body.length, accept: 'application/ocsp-response' }, timeout: FETCH_TIMEOUT_MS },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new Error(`OCSP responder ${url} answered HTTP ${res.statusCode}`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(new Error(`OCSP response from ${url} exceeds ${MAX_RESPONSE_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks)));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`OCSP responder ${url} did not answer within ${FETCH_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

interface CacheEntry {
  response?: Buffer;
  /** Stop stapling after this (nextUpdate). */
  expiresAt: number;
  /** Fetch a fresh one after this. */
  refreshAt: number;
  inFlight?: Promise<void>;
}

export class OcspStapler {
  private readonly cache = new Map<string, CacheEntry>();
  /** Issuers known from configured chains, by the leaf's DER hash. */
  private readonly knownIssuers = new Map<string, Buffer>();

  constructor(private readonly warn: (message: string) => void) {}

  private static keyOf(certDer: Uint8Array): string {
    return createHash('sha256').update(certDer).digest('hex');
  }

  /** Remember the configured leaves (and their issuers when the chain carries them) and prefetch their responses. */
  async prefetch(chains: X509Certificate[][]): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const chain of chains) {
      const leaf = chain[0];
      const issuer = chain[1];
      if (!leaf || !ocspResponderUrl(leaf)) continue;
      if (issuer) this.knownIssuers.set(OcspStapler.keyOf(leaf.raw), issuer.raw);
      if (issuer) jobs.push(this.refresh(leaf.raw, issuer.raw));
    }
    await Promise.all(jobs);
  }

  /** Handler for tls.Server 'OCSPRequest'. */
  handle(certificate: Buffer, issuer: Buffer | null, callback: (err: Error | null, resp: Buffer | null) => void): void {
    let key: string;
    try {
      key = OcspStapler.keyOf(certificate);
    } catch {
      return callback(null, null);
    }
    const now = Date.now();
    const entry = this.cache.get(key);
    const issuerDer = issuer ?? this.knownIssuers.get(key) ?? null;
    const usable = entry?.response && entry.expiresAt > now ? entry.response : null;
    if ((!entry || entry.refreshAt <= now) && issuerDer && !entry?.inFlight) void this.refresh(certificate, issuerDer);
    const pending = this.cache.get(key)?.inFlight;
    if (usable || !pending) return callback(null, usable);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const fresh = this.cache.get(key);
      callback(null, fresh?.response && fresh.expiresAt > Date.now() ? fresh.response : null);
    };
    setTimeout(finish, HANDSHAKE_WAIT_MS).unref();
    void pending.then(finish, finish);
  }

  /** Fetch (once at a time per certificate) and cache. Never throws: failures are warned about and retried later. */
  refresh(certDer: Buffer, issuerDer: Buffer): Promise<void> {
    const key = OcspStapler.keyOf(certDer);
    const existing = this.cache.get(key);
    if (existing?.inFlight) return existing.inFlight;
    const entry: CacheEntry = existing ?? { expiresAt: 0, refreshAt: 0 };
    this.cache.set(key, entry);
    const job = (async () => {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(certDer);
      } catch {
        return;
      }
      const url = ocspResponderUrl(cert);
      if (!url) {
        // Nothing to staple; do not look again for this certificate.
        entry.refreshAt = Number.POSITIVE_INFINITY;
        return;
      }
      try {
        const body = buildOcspRequest(certDer, issuerDer);
        const response = await fetchOcsp(url, body);
        const info = parseOcspResponse(response, certParts(certDer).serial);
        if (info.responseStatus !== 0) throw new Error(`OCSP responder ${url} returned status ${info.responseStatus}`);
        const now = Date.now();
        const expiresAt = info.nextUpdate ? info.nextUpdate.getTime() : now + DEFAULT_LIFETIME_MS;
        if (expiresAt <= now) throw new Error(`OCSP response from ${url} is already stale (nextUpdate ${info.nextUpdate?.toISOString()})`);
        entry.response = response;
        entry.expiresAt = expiresAt;
        // Refresh halfway to nextUpdate so clients never see a stale staple.
        entry.refreshAt = now + Math.max(60_000, (expiresAt - now) / 2);
        if (info.certStatus === 'revoked') this.warn(`WARNING: the OCSP responder ${url} says the certificate ${cert.subject.replace(/\n/g, ', ')} is REVOKED; clients will refuse it.`);
      } catch (error) {
        entry.refreshAt = Date.now() + RETRY_AFTER_FAILURE_MS;
        this.warn(`OCSP stapling: ${(error as Error).message}; serving without a staple, retrying in ${RETRY_AFTER_FAILURE_MS / 60000} minutes.`);
      }
    })().finally(() => {
      entry.inFlight = undefined;
    });
    entry.inFlight = job;
    return job;
  }

  clear(): void {
    this.cache.clear();
    this.knownIssuers.clear();
  }
}
