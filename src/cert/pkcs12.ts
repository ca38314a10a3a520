/**
 * PKCS#12 (.p12/.pfx) output, RFC 7292, built in-process (no openssl binary needed, so it works on Windows too):
 * ASN.1 structures from @peculiar/asn1-pfx, the private key encrypted by node:crypto as PBES2 (PBKDF2-HMAC-SHA256,
 * AES-256-CBC — the same algorithms OpenSSL 3 uses by default), and an HMAC-SHA256 integrity MAC.
 */
import { createHash, createHmac, createPrivateKey, randomBytes } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { ContentInfo, id_data } from '@peculiar/asn1-cms';
import { AuthenticatedSafe, CertBag, MacData, PFX, PKCS12Attribute, SafeBag, SafeContents, id_certBag, id_pkcs8ShroudedKeyBag, id_x509Certificate } from '@peculiar/asn1-pfx';
import { DigestInfo } from '@peculiar/asn1-rsa';
import { AlgorithmIdentifier, DirectoryString } from '@peculiar/asn1-x509';
import { UsageError } from '../common/errors.js';
import { x509 } from './x509.js';

/** The password Java's keytool and mkcert use by default, so `keytool -importkeystore` works unchanged. */
export const DEFAULT_PKCS12_PASSWORD = 'changeit';

const ID_FRIENDLY_NAME = '1.2.840.113549.1.9.20'; // PKCS #9 friendlyName (BMPString)
const ID_LOCAL_KEY_ID = '1.2.840.113549.1.9.21'; // PKCS #9 localKeyId (OCTET STRING)
const ID_SHA256 = '2.16.840.1.101.3.4.2.1';
/** OpenSSL 3's default for both PBKDF2 and the MAC; high enough for a local file, fast enough for old importers. */
const ITERATIONS = 2048;

/** BMPString bytes of a password with the terminating NUL, as RFC 7292 Appendix B.1 requires for the KDF. */
function passwordBytes(password: string): Buffer {
  const out = Buffer.alloc((password.length + 1) * 2);
  for (let i = 0; i < password.length; i++) out.writeUInt16BE(password.charCodeAt(i), i * 2);
  return out;
}

/**
 * RFC 7292 Appendix B.2 key derivation (used for the MAC key, ID = 3). It is not PBKDF2: the salt and password are
 * expanded to block multiples and iteratively mixed into the next block with a +1 carry addition.
 */
export function pkcs12Kdf(hash: 'sha256', password: Buffer, salt: Buffer, id: number, iterations: number, length: number): Buffer {
  const u = 32; // SHA-256 output
  const v = 64; // SHA-256 block size
  const fill = (source: Buffer) => {
    if (source.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(source.length / v));
    for (let i = 0; i < out.length; i++) out[i] = source[i % source.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(salt), fill(password)]);
  const blocks: Buffer[] = [];
  for (let produced = 0; produced < length; produced += u) {
    let A = createHash(hash).update(D).update(I).digest();
    for (let round = 1; round < iterations; round++) A = createHash(hash).update(A).digest();
    blocks.push(A);
    const B = fill(A);
    for (let offset = 0; offset < I.length; offset += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[offset + k]! + B[k]! + carry;
        I[offset + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(blocks).subarray(0, length);
}

function attribute(attrId: string, value: ArrayBuffer): PKCS12Attribute {
  // PKCS12Attribute's constructor does not copy its parameters; set the fields directly.
  const attr = new PKCS12Attribute();
  attr.attrId = attrId;
  attr.attrValues = [value];
  return attr;
}

function dataContentInfo(content: ArrayBuffer): ContentInfo {
  return new ContentInfo({ contentType: id_data, content: AsnConvert.serialize(new OctetString(content)) });
}

export interface Pkcs12Input {
  certPem: string;
  keyPem: string;
  /** Extra certificates (PEM) for the chain, e.g. the root. */
  chainPems?: string[];
  friendlyName: string;
  password: string;
}

export async function buildPkcs12(input: Pkcs12Input): Promise<Uint8Array> {
  if (input.password.length === 0) throw new UsageError('httpsd cert: the PKCS#12 password must not be empty.');
  const leaf = new x509.X509Certificate(input.certPem);
  // localKeyId pairs the key bag with its certificate bag (Windows and Java import by it): SHA-1 of the certificate,
  // as OpenSSL does — an identifier, not a security property.
  const localKeyId = createHash('sha1').update(Buffer.from(leaf.rawData)).digest();
  const keyAttributes = [
    attribute(ID_FRIENDLY_NAME, AsnConvert.serialize(new DirectoryString({ bmpString: input.friendlyName }))),
    attribute(ID_LOCAL_KEY_ID, AsnConvert.serialize(new OctetString(localKeyId))),
  ];
  const encryptedKey = createPrivateKey(input.keyPem).export({ format: 'der', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: input.password });
  const keyBag = new SafeBag({ bagId: id_pkcs8ShroudedKeyBag, bagValue: new Uint8Array(encryptedKey).buffer, bagAttributes: keyAttributes });
  const certBag = (pem: string, attributes?: PKCS12Attribute[]) => {
    const certificate = new x509.X509Certificate(pem);
    const value = new CertBag({ certId: id_x509Certificate, certValue: AsnConvert.serialize(new OctetString(certificate.rawData)) });
    return new SafeBag({ bagId: id_certBag, bagValue: AsnConvert.serialize(value), bagAttributes: attributes });
  };
  const certBags = [certBag(input.certPem, keyAttributes), ...(input.chainPems ?? []).map((pem) => certBag(pem))];
  // Certificates are public: their SafeContents is plain Data (as `openssl pkcs12 -certpbe NONE`); the key is shrouded.
  const authenticatedSafe = new AuthenticatedSafe([
    dataContentInfo(AsnConvert.serialize(new SafeContents([keyBag]))),
    dataContentInfo(AsnConvert.serialize(new SafeContents(certBags))),
  ]);
  const authSafeContent = Buffer.from(AsnConvert.serialize(authenticatedSafe));
  const macSalt = randomBytes(16);
  const macKey = pkcs12Kdf('sha256', passwordBytes(input.password), macSalt, 3, ITERATIONS, 32);
  const mac = createHmac('sha256', macKey).update(authSafeContent).digest();
  const pfx = new PFX({
    version: 3,
    authSafe: dataContentInfo(new Uint8Array(authSafeContent).buffer),
    macData: new MacData({
      mac: new DigestInfo({ digestAlgorithm: new AlgorithmIdentifier({ algorithm: ID_SHA256, parameters: null }), digest: new OctetString(mac) }),
      macSalt: new OctetString(macSalt),
      iterations: ITERATIONS,
    }),
  });
  return new Uint8Array(AsnConvert.serialize(pfx));
}
