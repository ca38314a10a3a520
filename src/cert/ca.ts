/**
 * The local certificate authority: a root created on first use in the CA folder, and the leaf certificates it signs.
 * Certificates are built with @peculiar/x509 (DER/ASN.1 done by a maintained library); keys come from node:crypto.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { x509 } from './x509.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn1X509 from '@peculiar/asn1-x509';
import { UsageError } from '../common/errors.js';
import { exists, readTextFile, writeFileAtomic } from './files.js';
import { displayIp, formatIp, ipToBytes, nameIsPermitted, parseSubjectName, type NameConstraint, type SubjectName } from './names.js';

export const ROOT_CERT_FILE = 'rootCA.pem';
export const ROOT_KEY_FILE = 'rootCA-key.pem';

/** Apple's limit for TLS server certificates issued after 2020-09-01 (HT211025); other clients accept it too. */
export const MAX_LEAF_DAYS = 825;
/** NIST SP 800-57 / CA/B Forum minimum for RSA. */
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;
const ROOT_VALIDITY_YEARS = 10;
/** Backdating absorbs clock skew between the machine that issues and the one that verifies. */
const BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export type KeyType = 'ecdsa' | 'rsa';

export interface LocalCA {
  caroot: string;
  certFile: string;
  keyFile: string;
  certPem: string;
  certificate: x509.X509Certificate;
  /** Never leaves this process or the CA folder. */
  privateKey: CryptoKey;
  signingAlgorithm: Algorithm | EcdsaParams;
  /** Permitted subtrees when the root is name-constrained (RFC 5280 §4.2.1.10); undefined when it is not. */
  constraints?: NameConstraint[];
  /** True when this call created the root. */
  created: boolean;
}

export interface LoadOrCreateCAOptions {
  /** Name constraints for a root created now. An existing root with different constraints is an error. */
  constraints?: NameConstraint[];
  /** Key type of a root created now (default ECDSA P-256). */
  keyType?: KeyType;
  /** When false, a missing root is an error instead of being created. Default true. */
  create?: boolean;
}

export interface IssueRequest {
  names: string[];
  keyType: KeyType;
  rsaBits?: number;
  days?: number;
  client?: boolean;
  /** Sign this PKCS#10 request (its public key and, when `names` is empty, its SANs) instead of generating a key. */
  csrPem?: string;
}

export interface IssuedCertificate {
  certPem: string;
  /** PKCS#8 PEM; absent when a CSR was signed (the requester keeps its key). */
  keyPem?: string;
  names: SubjectName[];
  notAfter: Date;
}

interface GeneratedKey {
  keys: CryptoKeyPair;
  keyPem: string;
  signingAlgorithm: Algorithm | EcdsaParams;
  keyType: KeyType;
}

const generateKeyPairAsync = promisify(generateKeyPair);

export async function generateKey(keyType: KeyType, rsaBits = 2048): Promise<GeneratedKey> {
  const keyObject: KeyObject =
    keyType === 'rsa'
      ? (await generateKeyPairAsync('rsa', { modulusLength: rsaBits, publicExponent: 0x10001 })).privateKey
      : (await generateKeyPairAsync('ec', { namedCurve: 'prime256v1' })).privateKey;
  return importPrivateKey(keyObject);
}

/** Turns a node:crypto private key into the WebCrypto pair @peculiar/x509 signs with, plus its PKCS#8 PEM. */
export async function importPrivateKey(keyObject: KeyObject): Promise<GeneratedKey> {
  const pkcs8 = keyObject.export({ format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(keyObject).export({ format: 'der', type: 'spki' });
  const keyPem = keyObject.export({ format: 'pem', type: 'pkcs8' }).toString();
  let importAlgorithm: RsaHashedImportParams | EcKeyImportParams;
  let signingAlgorithm: Algorithm | EcdsaParams;
  let keyType: KeyType;
  if (keyObject.asymmetricKeyType === 'rsa') {
    importAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    signingAlgorithm = { name: 'RSASSA-PKCS1-v1_5' };
    keyType = 'rsa';
  } else if (keyObject.asymmetricKeyType === 'ec') {
    const curve = keyObject.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : undefined;
    if (!namedCurve) throw new UsageError(`httpsd cert: unsupported EC curve ${curve ?? '(unknown)'}; use P-256, P-384 or P-521.`);
    importAlgorithm = { name: 'ECDSA', namedCurve };
    // SHA-384 for P-384/P-521 keys keeps the hash strength in line with the curve (RFC 5480 §4).
    signingAlgorithm = { name: 'ECDSA', hash: namedCurve === 'P-256' ? 'SHA-256' : 'SHA-384' } as EcdsaParams;
    keyType = 'ecdsa';
  } else {
    throw new UsageError(`httpsd cert: unsupported key type ${keyObject.asymmetricKeyType ?? '(unknown)'}; use an ECDSA or RSA key.`);
  }
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, importAlgorithm, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', spki, importAlgorithm, true, ['verify']);
  return { keys: { privateKey, publicKey } as CryptoKeyPair, keyPem, signingAlgorithm, keyType };
}

function randomSerial(): string {
  // CA/Browser Forum BR §7.1: at least 64 bits of CSPRNG output; 128 bits makes collisions (and chosen-prefix
  // collision attacks on the signature) irrelevant. The library strips leading zero bytes and keeps it positive.
  return randomBytes(16).toString('hex');
}

function ownerLabel(): string {
  let user = 'user';
  try {
    user = userInfo().username || user;
  } catch {
    // userInfo() throws when the uid has no passwd entry (containers); the label is cosmetic.
  }
  return `${user}@${hostname()}`.slice(0, 64);
}

function secondsPrecision(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

function nameConstraintsExtension(constraints: NameConstraint[]): x509.Extension {
  const dns = constraints.filter((c) => c.kind === 'dns');
  const ips = constraints.filter((c) => c.kind === 'ip');
  const subtree = (base: asn1X509.GeneralName) => new asn1X509.GeneralSubtree({ base });
  const permitted = [
    ...dns.map((c) => subtree(new asn1X509.GeneralName({ dNSName: c.value }))),
    ...ips.map((c) => subtree(new asn1X509.GeneralName({ iPAddress: `${formatIp(c.network)}/${c.prefix}` }))),
  ];
  // RFC 5280 §4.2.1.10: constraints apply per name form, and a form with no permitted subtree is unrestricted.
  // So when no DNS (or IP) subtree is permitted, every DNS name (or address) is excluded explicitly; otherwise a
  // leaked root could still sign for any IP address or host name.
  const excluded: asn1X509.GeneralSubtree[] = [];
  if (dns.length === 0) excluded.push(subtree(new asn1X509.GeneralName({ dNSName: '' })));
  if (ips.length === 0) {
    excluded.push(subtree(new asn1X509.GeneralName({ iPAddress: '0.0.0.0/0' })));
    excluded.push(subtree(new asn1X509.GeneralName({ iPAddress: '::/0' })));
  }
  const value = new asn1X509.NameConstraints({
    permittedSubtrees: permitted.length ? new asn1X509.GeneralSubtrees(permitted) : undefined,
    excludedSubtrees: excluded.length ? new asn1X509.GeneralSubtrees(excluded) : undefined,
  });
  // RFC 5280 §4.2.1.10: "Conforming CAs MUST mark this extension as critical" — a verifier that cannot enforce it
  // must reject the chain rather than ignore the restriction.
  return new x509.Extension(asn1X509.id_ce_nameConstraints, true, AsnConvert.serialize(value));
}

/** Reads the permitted subtrees back from a root (for reporting and for refusing names early). */
export function readNameConstraints(certificate: x509.X509Certificate): NameConstraint[] | undefined {
  const extension = certificate.getExtension(asn1X509.id_ce_nameConstraints);
  if (!extension) return undefined;
  const parsed = AsnConvert.parse(extension.value, asn1X509.NameConstraints);
  const result: NameConstraint[] = [];
  for (const item of parsed.permittedSubtrees ?? []) {
    if (item.base.dNSName !== undefined) result.push({ kind: 'dns', value: item.base.dNSName });
    if (item.base.iPAddress !== undefined) {
      const [address = '', prefix = ''] = item.base.iPAddress.split('/');
      const network = ipToBytes(address);
      const bits = prefix === '' ? network.length * 8 : Number(prefix);
      result.push({ kind: 'ip', cidr: `${displayIp(network)}/${bits}`, network, prefix: bits });
    }
  }
  return result;
}

function sameConstraints(a: NameConstraint[] | undefined, b: NameConstraint[] | undefined): boolean {
  const key = (list: NameConstraint[] | undefined) =>
    (list ?? [])
      .map((c) => (c.kind === 'dns' ? `dns:${c.value}` : `ip:${c.cidr}`))
      .sort()
      .join(',');
  return (a === undefined) === (b === undefined) && key(a) === key(b);
}

async function createRoot(caroot: string, options: LoadOrCreateCAOptions): Promise<void> {
  const key = await generateKey(options.keyType ?? 'ecdsa', 3072);
  const owner = ownerLabel();
  const notBefore = secondsPrecision(new Date(Date.now() - BACKDATE_MS));
  const notAfter = new Date(notBefore);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + ROOT_VALIDITY_YEARS);
  const extensions: x509.Extension[] = [
    // pathlen 0: the root signs leaves directly and can never delegate to an intermediate (RFC 5280 §4.2.1.9).
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(key.keys.publicKey),
  ];
  if (options.constraints) extensions.push(nameConstraintsExtension(options.constraints));
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ O: ['httpsd development CA'] }, { OU: [owner] }, { CN: [`httpsd ${owner}`.slice(0, 64)] }],
    notBefore,
    notAfter,
    keys: key.keys,
    signingAlgorithm: key.signingAlgorithm,
    extensions,
  });
  await fs.mkdir(caroot, { recursive: true, mode: 0o700 });
  // Key first: a root certificate without its key would be unusable, the reverse is simply re-created.
  await writeFileAtomic(join(caroot, ROOT_KEY_FILE), key.keyPem, { mode: 0o600, overwrite: false });
  await writeFileAtomic(join(caroot, ROOT_CERT_FILE), certificate.toString('pem') + '\n', { mode: 0o644, overwrite: false });
}

/** Loads the root from `caroot`, creating it (and the folder, mode 0700) when it does not exist yet. */
export async function loadOrCreateCA(caroot: string, options: LoadOrCreateCAOptions = {}): Promise<LocalCA> {
  const certFile = join(caroot, ROOT_CERT_FILE);
  const keyFile = join(caroot, ROOT_KEY_FILE);
  let created = false;
  if (!(await exists(certFile))) {
    if (options.create === false) {
      throw new UsageError(`httpsd cert: no local CA in ${caroot}; run "httpsd cert" with a name (or --install) to create one.`);
    }
    if (await exists(keyFile)) {
      throw new UsageError(
        `httpsd cert: ${keyFile} exists but ${certFile} is missing; restore the certificate, or delete the folder ${caroot} to start a new CA (then re-run --install).`,
      );
    }
    try {
      await createRoot(caroot, options);
      created = true;
    } catch (error) {
      // Another process created the root at the same moment: use theirs.
      if (!(error instanceof UsageError && /already exists/.test(error.message))) throw error;
      // It writes the key first, then the certificate: wait (bounded) for the certificate to appear.
      for (let attempt = 0; attempt < 50 && !(await exists(certFile)); attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
  const certPem = await readTextFile(certFile, 'the CA certificate');
  let certificate: x509.X509Certificate;
  try {
    certificate = new x509.X509Certificate(certPem);
  } catch {
    throw new UsageError(`httpsd cert: ${certFile} is not a PEM certificate; restore it or delete the folder ${caroot} to start a new CA.`);
  }
  if (!(await exists(keyFile))) {
    throw new UsageError(
      `httpsd cert: the CA key ${keyFile} is missing, so new certificates cannot be signed. ` +
        `Restore it, or point HTTPSD_CAROOT at a folder with both rootCA.pem and rootCA-key.pem.`,
    );
  }
  const keyPem = await readTextFile(keyFile, 'the CA key');
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(keyPem);
  } catch {
    throw new UsageError(`httpsd cert: ${keyFile} is not an unencrypted PEM private key.`);
  }
  const spki = Buffer.from(createPublicKey(keyObject).export({ format: 'der', type: 'spki' }));
  if (!spki.equals(Buffer.from(certificate.publicKey.rawData))) {
    throw new UsageError(`httpsd cert: ${keyFile} does not belong to ${certFile}; restore the matching pair or delete ${caroot} to start a new CA.`);
  }
  if (certificate.notAfter.getTime() <= Date.now()) {
    throw new UsageError(
      `httpsd cert: the local CA in ${caroot} expired on ${certificate.notAfter.toISOString()}. ` +
        `Run "httpsd cert --uninstall", delete ${caroot}, then "httpsd cert --install" to create and trust a new one.`,
    );
  }
  const constraints = readNameConstraints(certificate);
  if (options.constraints && !sameConstraints(options.constraints, constraints)) {
    throw new UsageError(
      `httpsd cert: the local CA in ${caroot} already exists ${constraints ? 'with different' : 'without'} name constraints, ` +
        'and constraints can only be set when a root is created. To recreate it: "httpsd cert --uninstall", ' +
        `delete ${caroot} (or set HTTPSD_CAROOT to a new folder), then "httpsd cert --constrain ... --install". ` +
        'Certificates signed by the old root stop being trusted.',
    );
  }
  const imported = await importPrivateKey(keyObject);
  return {
    caroot,
    certFile,
    keyFile,
    certPem,
    certificate,
    privateKey: imported.keys.privateKey,
    signingAlgorithm: imported.signingAlgorithm,
    constraints,
    created,
  };
}

/** Far above any real use; keeps a runaway script or a CSR from producing a multi-megabyte certificate. */
const MAX_NAMES = 1000;

function parseNames(names: string[]): SubjectName[] {
  if (names.length > MAX_NAMES) throw new UsageError(`httpsd cert: ${names.length} names is too many for one certificate (at most ${MAX_NAMES}).`);
  const parsed = names.map(parseSubjectName);
  const seen = new Set<string>();
  return parsed.filter((name) => {
    const key = `${name.kind}:${name.value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function subjectAltNameExtension(names: SubjectName[], critical: boolean): x509.Extension {
  const general = names.map((name) => {
    switch (name.kind) {
      case 'dns':
        return new asn1X509.GeneralName({ dNSName: name.value });
      case 'ip':
        return new asn1X509.GeneralName({ iPAddress: formatIp(name.bytes) });
      case 'email':
        return new asn1X509.GeneralName({ rfc822Name: name.value });
      case 'uri':
        return new asn1X509.GeneralName({ uniformResourceIdentifier: name.value });
    }
  });
  return new x509.Extension(asn1X509.id_ce_subjectAltName, critical, AsnConvert.serialize(new asn1X509.SubjectAlternativeName(general)));
}

export function validateDays(days: number | undefined): number {
  if (days === undefined) return MAX_LEAF_DAYS;
  if (!Number.isInteger(days) || days < 1) throw new UsageError('httpsd cert: --days must be a whole number of days, at least 1.');
  if (days > MAX_LEAF_DAYS) {
    throw new UsageError(
      `httpsd cert: --days ${days} is over ${MAX_LEAF_DAYS}, the longest validity Apple platforms (and therefore Safari and ` +
        `every app on macOS/iOS) accept for a TLS server certificate; pass --days ${MAX_LEAF_DAYS} or less.`,
    );
  }
  return days;
}

export function validateRsaBits(bits: number | undefined): number {
  if (bits === undefined) return 2048;
  if (!Number.isInteger(bits) || bits < MIN_RSA_BITS) {
    throw new UsageError(`httpsd cert: --rsa ${bits} is too weak; RSA keys must be at least ${MIN_RSA_BITS} bits (e.g. --rsa 2048 or --rsa 3072).`);
  }
  if (bits > MAX_RSA_BITS || bits % 8 !== 0) throw new UsageError(`httpsd cert: --rsa ${bits} is not supported; use a multiple of 8 between ${MIN_RSA_BITS} and ${MAX_RSA_BITS}.`);
  return bits;
}

interface LeafSubject {
  publicKey: x509.PublicKeyType;
  keyType: KeyType;
  keyPem?: string;
  names: SubjectName[];
}

async function leafFromCsr(csrPem: string, requestedNames: string[]): Promise<LeafSubject> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new UsageError('httpsd cert: the --csr file is not a PEM or DER PKCS#10 certificate request.');
  }
  // Proof of possession (RFC 2986 §3): only sign a key whose holder signed the request.
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new UsageError('httpsd cert: the --csr signature does not verify (corrupted or tampered request); nothing was signed.');
  const spki = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  let keyType: KeyType;
  if (spki.asymmetricKeyType === 'rsa') {
    validateRsaBits(spki.asymmetricKeyDetails?.modulusLength);
    keyType = 'rsa';
  } else if (spki.asymmetricKeyType === 'ec') {
    keyType = 'ecdsa';
  } else {
    throw new UsageError(`httpsd cert: the --csr key type ${spki.asymmetricKeyType ?? '(unknown)'} is not supported; use ECDSA or RSA.`);
  }
  let names: string[] = requestedNames;
  if (names.length === 0) {
    const san = csr.getExtension(asn1X509.id_ce_subjectAltName);
    if (san) {
      const parsed = AsnConvert.parse(san.value, asn1X509.SubjectAlternativeName);
      for (const general of parsed) {
        if (general.dNSName !== undefined) names.push(general.dNSName);
        else if (general.iPAddress !== undefined) names.push(general.iPAddress);
        else if (general.rfc822Name !== undefined) names.push(general.rfc822Name);
        else if (general.uniformResourceIdentifier !== undefined) names.push(general.uniformResourceIdentifier);
      }
    }
    // Legacy requests carry the host only in the subject CN; browsers ignore CN (RFC 6125 §6.4.4), so move it to a SAN.
    const commonName = csr.subjectName.getField('CN')[0];
    if (names.length === 0 && commonName) names = [commonName];
  }
  if (names.length === 0) throw new UsageError('httpsd cert: the --csr request names no host (no subjectAltName and no CN); pass names after the flags.');
  return { publicKey: csr.publicKey, keyType, names: parseNames(names) };
}

/** Signs a leaf certificate with the local CA (or self-signs it when `ca` is undefined, for --self-signed). */
export async function issueCertificate(ca: LocalCA | undefined, request: IssueRequest): Promise<IssuedCertificate> {
  const days = validateDays(request.days);
  let subject: LeafSubject;
  let selfSigningKey: GeneratedKey | undefined;
  if (request.csrPem !== undefined) {
    if (!ca) throw new UsageError('httpsd cert: --csr and --self-signed cannot be combined (a CSR is signed by the CA).');
    subject = await leafFromCsr(request.csrPem, [...request.names]);
  } else {
    if (request.names.length === 0) throw new UsageError('httpsd cert: name at least one host, IP, email or URI, e.g. "httpsd cert localhost 127.0.0.1 ::1".');
    const key = await generateKey(request.keyType, request.keyType === 'rsa' ? validateRsaBits(request.rsaBits) : undefined);
    selfSigningKey = key;
    subject = { publicKey: key.keys.publicKey, keyType: key.keyType, keyPem: key.keyPem, names: parseNames(request.names) };
  }
  if (ca?.constraints) {
    const outside = subject.names.filter((name) => !nameIsPermitted(name, ca.constraints!));
    if (outside.length > 0) {
      throw new UsageError(
        `httpsd cert: the local CA is name-constrained to ${ca.constraints.map((c) => (c.kind === 'dns' ? c.value : c.cidr)).join(', ')}; ` +
          `${outside.map((n) => n.value).join(', ')} would fail verification. Use a name inside those subtrees.`,
      );
    }
  }
  const firstName = subject.names[0]!.value;
  const subjectName: x509.JsonName = [{ O: ['httpsd development certificate'] }, { OU: [ownerLabel()] }];
  // ub-common-name is 64 characters (RFC 5280 Appendix A); longer first names live only in the SAN.
  if (firstName.length <= 64) subjectName.push({ CN: [firstName] });
  const usages = x509.KeyUsageFlags.digitalSignature | (subject.keyType === 'rsa' ? x509.KeyUsageFlags.keyEncipherment : 0);
  const extendedUsages: string[] = [];
  if (subject.names.some((n) => n.kind !== 'email')) extendedUsages.push(x509.ExtendedKeyUsage.serverAuth);
  if (request.client) extendedUsages.push(x509.ExtendedKeyUsage.clientAuth);
  if (subject.names.some((n) => n.kind === 'email')) extendedUsages.push(x509.ExtendedKeyUsage.emailProtection);
  const notBefore = secondsPrecision(new Date(Date.now() - BACKDATE_MS));
  // Validity is measured notBefore..notAfter (Apple counts it that way), so the backdate is inside the limit.
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    new x509.ExtendedKeyUsageExtension(extendedUsages, false),
    subjectAltNameExtension(subject.names, false),
    await x509.SubjectKeyIdentifierExtension.create(subject.publicKey),
  ];
  let certificate: x509.X509Certificate;
  if (ca) {
    const caKeyId = ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
    extensions.push(caKeyId ? new x509.AuthorityKeyIdentifierExtension(caKeyId) : await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey));
    certificate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: subjectName,
      issuer: ca.certificate.subjectName,
      notBefore,
      notAfter,
      publicKey: subject.publicKey,
      signingKey: ca.privateKey,
      signingAlgorithm: ca.signingAlgorithm,
      extensions,
    });
  } else {
    certificate = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: subjectName,
      notBefore,
      notAfter,
      keys: selfSigningKey!.keys,
      signingAlgorithm: selfSigningKey!.signingAlgorithm,
      extensions,
    });
  }
  return { certPem: certificate.toString('pem') + '\n', keyPem: subject.keyPem, names: subject.names, notAfter };
}
