/** The node:crypto CryptoProvider: RFC 9001 Appendix A header-protection masks, AEAD failure handling, key exchange. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCrypto } from '../../src/crypto/node.js';

const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));

test('RFC 9001 A.2 / A.5: AES and ChaCha20 header-protection masks', () => {
  const aes = nodeCrypto.headerProtection('aes-128-gcm', hex('9f50449e04a0e810283a1e9933adedd2'));
  assert.equal(Buffer.from(aes.mask(hex('d1b1c98dd7689fb8ec11d242b123dc9b'))).toString('hex'), '437b9aec36');
  // The reused ECB cipher gives the same mask twice (no state carried between packets).
  assert.equal(Buffer.from(aes.mask(hex('d1b1c98dd7689fb8ec11d242b123dc9b'))).toString('hex'), '437b9aec36');
  const chacha = nodeCrypto.headerProtection('chacha20-poly1305', hex('25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4'));
  assert.equal(Buffer.from(chacha.mask(hex('5e5cd55c41f69080575d7999c25a5bfb'))).toString('hex'), 'aefefe7d03');
});

test('AEAD: a changed byte, AAD or nonce fails authentication with null, never a throw', () => {
  for (const [name, keyLength] of [['aes-128-gcm', 16], ['aes-256-gcm', 32], ['chacha20-poly1305', 32]] as const) {
    const aead = nodeCrypto.aead(name, new Uint8Array(keyLength).fill(7));
    const nonce = new Uint8Array(12).fill(1);
    const aad = Uint8Array.of(1, 2, 3);
    const sealed = aead.seal(nonce, aad, new TextEncoder().encode('payload'));
    assert.equal(new TextDecoder().decode(aead.open(nonce, aad, sealed)!), 'payload', name);
    const tampered = sealed.slice();
    tampered[0]! ^= 1;
    assert.equal(aead.open(nonce, aad, tampered), null);
    assert.equal(aead.open(nonce, Uint8Array.of(9), sealed), null);
    assert.equal(aead.open(new Uint8Array(12), aad, sealed), null);
    assert.equal(aead.open(nonce, aad, sealed.subarray(0, 10)), null, 'shorter than a tag');
  }
});

test('key exchange: both sides agree; invalid shares give null (RFC 8446 §7.4.2, §4.2.8.2)', () => {
  for (const group of ['x25519', 'secp256r1'] as const) {
    const a = nodeCrypto.generateKeyExchange(group);
    const b = nodeCrypto.generateKeyExchange(group);
    assert.deepEqual(a.deriveSecret(b.publicKey), b.deriveSecret(a.publicKey), group);
    assert.equal(a.publicKey.byteLength, group === 'x25519' ? 32 : 65);
    assert.equal(a.deriveSecret(new Uint8Array(5)), null, `${group}: wrong length`);
  }
  const x = nodeCrypto.generateKeyExchange('x25519');
  // A low-order point: the shared secret would be all zeros, which must be refused.
  assert.equal(x.deriveSecret(new Uint8Array(32)), null);
  const p = nodeCrypto.generateKeyExchange('secp256r1');
  const offCurve = new Uint8Array(65).fill(1);
  offCurve[0] = 0x04;
  assert.equal(p.deriveSecret(offCurve), null, 'a point not on the curve');
  const compressed = p.publicKey.slice(0, 33);
  compressed[0] = 0x02;
  assert.equal(p.deriveSecret(compressed), null, 'only the uncompressed form');
});
