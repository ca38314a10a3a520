/**
 * The cryptography the QUIC and TLS 1.3 engines need, as an injected interface: the engines import nothing from
 * `node:`, so they run wherever an implementation of CryptoProvider exists. httpsd's implementation on node:crypto
 * is src/crypto/node.ts.
 *
 * Shapes follow what the packet path costs (measured on Node 20: creating a GCM cipher object is ~3.4 µs of the
 * ~5 µs a 1,200-byte seal takes, a reused AES-ECB header-protection cipher ~0.6 µs): an Aead or HeaderProtection is
 * created once per key and used for every packet under that key.
 */

export type HashName = 'sha256' | 'sha384';
export type AeadName = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
/** TLS 1.3 NamedGroup values the engines offer (RFC 8446 §4.2.7). */
export type KeyExchangeGroup = 'x25519' | 'secp256r1';

/** An AEAD under one key (RFC 5116). The nonce is the full 12-byte per-record nonce. */
export interface Aead {
  /** Ciphertext followed by the 16-byte tag. */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * header ‖ ciphertext ‖ tag in one new buffer, the header being the associated data: what a QUIC packet is before
   * header protection (RFC 9001 §5.3). One allocation per packet instead of separate ciphertext, tag and packet buffers.
   */
  sealWithHeader(nonce: Uint8Array, header: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** The plaintext, or null when authentication fails (never throws on bad input). */
  open(nonce: Uint8Array, aad: Uint8Array, ciphertextAndTag: Uint8Array): Uint8Array | null;
}

/** RFC 9001 §5.4: header protection under one hp key. */
export interface HeaderProtection {
  /** The 5-byte mask for a 16-byte sample (AES-ECB of the sample, or ChaCha20 with the sample as counter‖nonce). */
  mask(sample: Uint8Array): Uint8Array;
  /**
   * Optional, for a block cipher: the masks of many samples at once (samples back to back, 16 bytes each; 16 output
   * bytes per sample, its mask the first 5). One cipher call for a whole send instead of one per packet.
   */
  masks?(samples: Uint8Array): Uint8Array;
}

/** A running transcript hash (RFC 8446 §4.4.1). */
export interface Hash {
  update(data: Uint8Array): void;
  /** The digest so far; the hash can keep being updated. */
  digest(): Uint8Array;
  copy(): Hash;
}

/** One ephemeral (EC)DHE key pair. */
export interface KeyExchange {
  readonly group: KeyExchangeGroup;
  /** The key_share value: 32 bytes for x25519, a 65-byte uncompressed point for secp256r1. */
  readonly publicKey: Uint8Array;
  /** The shared secret, or null when the peer's share is invalid (wrong length, not on the curve, all-zero x25519). */
  deriveSecret(peerPublicKey: Uint8Array): Uint8Array | null;
}

/** A private key able to produce TLS 1.3 CertificateVerify signatures (RFC 8446 §4.4.3). */
export interface SigningKey {
  /** SignatureScheme code points this key can sign with, best first (0x0403 ecdsa_secp256r1_sha256, 0x0804 rsa_pss_rsae_sha256, 0x0807 ed25519, …). */
  readonly schemes: readonly number[];
  sign(scheme: number, data: Uint8Array): Uint8Array;
}

export interface CryptoProvider {
  randomBytes(length: number): Uint8Array;
  hash(name: HashName, data: Uint8Array): Uint8Array;
  createHash(name: HashName): Hash;
  hmac(name: HashName, key: Uint8Array, data: Uint8Array): Uint8Array;
  aead(name: AeadName, key: Uint8Array): Aead;
  headerProtection(name: AeadName, hpKey: Uint8Array): HeaderProtection;
  generateKeyExchange(group: KeyExchangeGroup): KeyExchange;
  /** Checks a CertificateVerify signature with the public key of a DER certificate. False on any failure. */
  verifySignature(scheme: number, certificateDer: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean;
  /** Constant-time comparison (Finished verify_data, Retry tags, stateless-reset tokens). */
  timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean;
}

/** Output length of a hash, in bytes. */
export function hashLength(name: HashName): number {
  return name === 'sha384' ? 48 : 32;
}

/** RFC 5869 §2.2: HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM). An empty salt is HashLen zero bytes. */
export function hkdfExtract(crypto: CryptoProvider, hash: HashName, salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  return crypto.hmac(hash, salt.byteLength === 0 ? new Uint8Array(hashLength(hash)) : salt, ikm);
}

/** RFC 5869 §2.3: HKDF-Expand(PRK, info, L). */
export function hkdfExpand(crypto: CryptoProvider, hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let previous: Uint8Array = new Uint8Array(0);
  let offset = 0;
  for (let counter = 1; offset < length; counter++) {
    const input = new Uint8Array(previous.byteLength + info.byteLength + 1);
    input.set(previous, 0);
    input.set(info, previous.byteLength);
    input[input.byteLength - 1] = counter;
    previous = crypto.hmac(hash, prk, input);
    out.set(previous.subarray(0, Math.min(previous.byteLength, length - offset)), offset);
    offset += previous.byteLength;
  }
  return out;
}

const encoder = new TextEncoder();

/** RFC 8446 §7.1: HKDF-Expand-Label(Secret, Label, Context, Length), label prefixed with "tls13 ". */
export function hkdfExpandLabel(
  crypto: CryptoProvider,
  hash: HashName,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Uint8Array {
  const fullLabel = encoder.encode('tls13 ' + label);
  const info = new Uint8Array(2 + 1 + fullLabel.byteLength + 1 + context.byteLength);
  info[0] = length >>> 8;
  info[1] = length & 0xff;
  info[2] = fullLabel.byteLength;
  info.set(fullLabel, 3);
  info[3 + fullLabel.byteLength] = context.byteLength;
  info.set(context, 4 + fullLabel.byteLength);
  return hkdfExpand(crypto, hash, secret, info, length);
}
