/**
 * RFC 8448 §3 "Simple 1-RTT Handshake" as test vectors. The trace is TLS over TCP, so its ClientHello lacks what
 * QUIC requires (ALPN, quic_transport_parameters): the key schedule is checked against the trace's own messages
 * and intermediate values, and the server is driven with the trace's ClientHello (as is: refused for lacking ALPN;
 * with ALPN and transport parameters appended: the ServerHello must come out byte-identical to the trace's, and
 * the handshake secret behind its traffic secrets must be the trace's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, diffieHellman } from 'node:crypto';
import { nodeCrypto } from '../../../src/crypto/node.js';
import { hkdfExpandLabel } from '../../../src/quic/crypto.js';
import type { CryptoProvider, KeyExchange, KeyExchangeGroup } from '../../../src/quic/crypto.js';
import { KeySchedule, Transcript } from '../../../src/quic/tls/keyschedule.js';
import { TlsServer } from '../../../src/quic/tls/index.js';
import { parseClientHello, parseOfferedPsks } from '../../../src/quic/tls/messages.js';
import { alertOf, identity, ofType } from './helpers.js';

const hex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

// RFC 8448 §3, "{client}  send handshake record" and the messages that follow.
const CLIENT_HELLO = hex(`010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000000b
  0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024001d002099381de560e4bd43
  d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e0403050306030203080408050806040105010601020104020502
  06020202002d00020101001c00024001`);
const SERVER_HELLO = hex(`020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020c982887611
  2095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304`);
const ENCRYPTED_EXTENSIONS = hex('080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000');
const CERTIFICATE = hex(`0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a06035504031303727361
  301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a0603550403130372736130819f300d06092a864886f70d01
  0101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1a
  f19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193
  eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d
  01010b05000381810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b80f21a
  03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc
  0cc8f8961229ac9187b42b4de10000`);
const CERTIFICATE_VERIFY = hex(`0f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a078
  653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c181e818e95b8c3fb0bf3278409d3be152a
  3da5043e063dda65cdf5aea20d53dfacd42f74f3`);

const CLIENT_PRIVATE_KEY = '49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005';
const SERVER_PRIVATE_KEY = 'b1580eeadf6dd589b8ef4f2d5652578cc810e9980191ec8d058308cea216a21e';
const SERVER_RANDOM = 'a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928';

const V = {
  earlySecret: '33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a',
  sharedSecret: '8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d',
  handshakeSecret: '1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac',
  helloHash: '860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8',
  clientHandshakeTraffic: 'b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21',
  serverHandshakeTraffic: 'b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38',
  masterSecret: '18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919',
  serverFinished: '9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718',
  serverFinishedHash: '9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13',
  clientApplicationTraffic: '9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5',
  serverApplicationTraffic: 'a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643',
  exporterMaster: 'fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50',
  clientFinished: 'a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61',
  resumptionMaster: '7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c',
  resumptionPsk: '4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3',
};

const X25519_PKCS8_PREFIX = '302e020100300506032b656e04220420';

/** An x25519 KeyExchange on a fixed private key (the trace's), through node:crypto. */
function fixedX25519(privateHex: string): KeyExchange {
  const privateKey = createPrivateKey({ key: Buffer.from(X25519_PKCS8_PREFIX + privateHex, 'hex'), format: 'der', type: 'pkcs8' });
  const publicKey = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(12));
  return {
    group: 'x25519',
    publicKey,
    deriveSecret(peer: Uint8Array) {
      const peerKey = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), Buffer.from(peer)]), format: 'der', type: 'spki' });
      return new Uint8Array(diffieHellman({ privateKey, publicKey: peerKey }));
    },
  };
}

/** nodeCrypto, except that the server's random and ephemeral key are the trace's. */
const traceCrypto: CryptoProvider = {
  randomBytes: (length) => (length === 32 ? hex(SERVER_RANDOM) : nodeCrypto.randomBytes(length)),
  generateKeyExchange: (group: KeyExchangeGroup) => (group === 'x25519' ? fixedX25519(SERVER_PRIVATE_KEY) : nodeCrypto.generateKeyExchange(group)),
  hash: (name, data) => nodeCrypto.hash(name, data),
  createHash: (name) => nodeCrypto.createHash(name),
  hmac: (name, key, data) => nodeCrypto.hmac(name, key, data),
  aead: (name, key) => nodeCrypto.aead(name, key),
  headerProtection: (name, key) => nodeCrypto.headerProtection(name, key),
  verifySignature: (scheme, der, data, signature) => nodeCrypto.verifySignature(scheme, der, data, signature),
  timingSafeEqual: (a, b) => nodeCrypto.timingSafeEqual(a, b),
};

test('RFC 8448 §3: the trace key shares give the trace ECDHE secret', () => {
  const client = fixedX25519(CLIENT_PRIVATE_KEY);
  const server = fixedX25519(SERVER_PRIVATE_KEY);
  assert.ok(Buffer.from(CLIENT_HELLO).includes(Buffer.from(client.publicKey)), 'client public key is in the trace ClientHello');
  assert.ok(Buffer.from(SERVER_HELLO).includes(Buffer.from(server.publicKey)), 'server public key is in the trace ServerHello');
  assert.equal(toHex(server.deriveSecret(client.publicKey)!), V.sharedSecret);
});

test('RFC 8448 §3: key schedule over the trace transcript (secrets, Finished values, resumption PSK)', () => {
  const schedule = new KeySchedule(nodeCrypto, 'sha256');
  assert.equal(toHex(schedule.current), V.earlySecret);
  const transcript = new Transcript(nodeCrypto);
  transcript.add(CLIENT_HELLO); // held until the hash is known, as a client must
  transcript.setHash('sha256');
  transcript.add(SERVER_HELLO);
  const helloHash = transcript.digest();
  assert.equal(toHex(helloHash), V.helloHash);
  schedule.advance(hex(V.sharedSecret));
  assert.equal(toHex(schedule.current), V.handshakeSecret);
  const clientHandshake = schedule.derive('c hs traffic', helloHash);
  const serverHandshake = schedule.derive('s hs traffic', helloHash);
  assert.equal(toHex(clientHandshake), V.clientHandshakeTraffic);
  assert.equal(toHex(serverHandshake), V.serverHandshakeTraffic);
  for (const message of [ENCRYPTED_EXTENSIONS, CERTIFICATE, CERTIFICATE_VERIFY]) transcript.add(message);
  const serverFinished = schedule.finishedMac(serverHandshake, transcript.digest());
  assert.equal(toHex(serverFinished), V.serverFinished);
  transcript.add(Buffer.concat([hex('14000020'), serverFinished]));
  const finishedHash = transcript.digest();
  assert.equal(toHex(finishedHash), V.serverFinishedHash);
  const clientFinished = schedule.finishedMac(clientHandshake, finishedHash);
  assert.equal(toHex(clientFinished), V.clientFinished);
  schedule.advance();
  assert.equal(toHex(schedule.current), V.masterSecret);
  assert.equal(toHex(schedule.derive('c ap traffic', finishedHash)), V.clientApplicationTraffic);
  assert.equal(toHex(schedule.derive('s ap traffic', finishedHash)), V.serverApplicationTraffic);
  assert.equal(toHex(schedule.derive('exp master', finishedHash)), V.exporterMaster);
  transcript.add(Buffer.concat([hex('14000020'), clientFinished]));
  const resumptionMaster = schedule.derive('res master', transcript.digest());
  assert.equal(toHex(resumptionMaster), V.resumptionMaster);
  // The trace's NewSessionTicket has ticket_nonce 00 00.
  assert.equal(toHex(schedule.resumptionPsk(resumptionMaster, hex('0000'))), V.resumptionPsk);
});

function traceServer() {
  return new TlsServer({
    crypto: traceCrypto,
    selectCertificate: (name) => (name === 'server' ? { chain: [identity('rsa', 'server').der], key: identity('rsa', 'server').key } : undefined),
    alpn: ['h3'],
    transportParameters: Uint8Array.of(1, 2, 3),
    now: () => Date.now(),
  });
}

test('RFC 8448 §3: the trace ClientHello as is is refused for want of ALPN (RFC 9001 §8.1)', () => {
  const events = traceServer().receive('initial', CLIENT_HELLO);
  assert.equal(alertOf(events)?.description, 120, alertOf(events)?.reason);
  assert.equal(ofType(events, 'cryptoData').length, 0);
});

test('RFC 8448 §3: with ALPN and transport parameters appended, the server answers the trace ServerHello and handshake secret', () => {
  // Append application_layer_protocol_negotiation ("h3") and quic_transport_parameters, fixing the two lengths.
  const extra = hex('0010 0005 0003 026833  0039 0002 0f00');
  const body = Buffer.concat([CLIENT_HELLO.subarray(4), extra]);
  const extensionsAt = 4 + 2 + 32 + 1 + 2 + 6 + 2; // header, version, random, session id, suites, compression
  body.writeUInt16BE(body.readUInt16BE(extensionsAt - 4) + extra.byteLength, extensionsAt - 4);
  const hello = Buffer.concat([Buffer.from([1, 0, body.byteLength >> 8, body.byteLength & 0xff]), body]);

  const events = traceServer().receive('initial', hello);
  assert.equal(alertOf(events), undefined, alertOf(events)?.reason);
  assert.equal(toHex(ofType(events, 'peerTransportParameters')[0]!.data), '0f00');
  const initial = ofType(events, 'cryptoData').find((event) => event.level === 'initial')!;
  assert.equal(toHex(initial.data), toHex(SERVER_HELLO), 'ServerHello byte-identical to the trace');

  const helloHash = nodeCrypto.hash('sha256', Buffer.concat([hello, SERVER_HELLO]));
  const fromTrace = (label: string) => toHex(hkdfExpandLabel(nodeCrypto, 'sha256', hex(V.handshakeSecret), label, helloHash, 32));
  const handshakeKeys = ofType(events, 'keysReady').filter((event) => event.level === 'handshake');
  assert.equal(toHex(handshakeKeys.find((event) => event.direction === 'read')!.secret), fromTrace('c hs traffic'));
  assert.equal(toHex(handshakeKeys.find((event) => event.direction === 'write')!.secret), fromTrace('s hs traffic'));
  assert.equal(handshakeKeys[0]!.suite.code, 0x1301);
  const keyLog = ofType(events, 'keyLog').map((event) => event.line);
  assert.ok(keyLog.includes(`SERVER_HANDSHAKE_TRAFFIC_SECRET ${toHex(CLIENT_HELLO.subarray(6, 38))} ${fromTrace('s hs traffic')}`));
});

// RFC 8448 §4 "Resumed 0-RTT Handshake": the ClientHello up to its binders, then the binder list the trace sends.
const RESUMED_HELLO_PREFIX = hex(`010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc419d7876487d95000006130113031302010001cd0000000b0009000006
  736572766572ff01000100000a00140012001d00170018001901000101010201030104003300260024001d0020e4ffb68ac05f8d96c99da26698346c
  6be16482badddafe051a66b4f18d668f0b002a0000002b0003020304000d0020001e0403050306030203080408050806040105010601020104020502
  06020202002d00020101001c000240010015005700000000000000000000000000000000000000000000000000000000000000000000000000000000
  0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002900dd00b800b22c035d8293
  59ee5ff7af4ec900000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a982117283f82a03a143ef
  d3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92
  f228bda40dda721470f9fbf297b5aea617646fac5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb`);
const RESUMED_BINDER = '3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d';

test('RFC 8448 §4: the PSK binder and early traffic secret of the resumed ClientHello', () => {
  const hello = Buffer.concat([RESUMED_HELLO_PREFIX, hex('0021 20' + RESUMED_BINDER)]);
  assert.equal(hello.byteLength, 4 + 0x1fc);
  // The server's way: the ClientHello decoded, the binder list located, the hello truncated before it.
  const parsed = parseClientHello(hello, hello.subarray(4));
  const offered = parseOfferedPsks(parsed.extensions.at(-1)!.data);
  assert.equal(offered.identities.length, 1);
  const truncated = hello.subarray(0, hello.byteLength - offered.bindersLength);
  assert.deepEqual(truncated, Buffer.from(RESUMED_HELLO_PREFIX));
  const truncatedHash = nodeCrypto.hash('sha256', truncated);
  assert.equal(toHex(truncatedHash), '63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14');

  const schedule = new KeySchedule(nodeCrypto, 'sha256', hex(V.resumptionPsk));
  assert.equal(toHex(schedule.current), '9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c');
  assert.equal(toHex(schedule.binderKey()), '69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256');
  assert.equal(toHex(schedule.finishedMac(schedule.binderKey(), truncatedHash)), RESUMED_BINDER);
  assert.equal(toHex(offered.binders[0]!), RESUMED_BINDER);
  const helloHash = nodeCrypto.hash('sha256', hello);
  assert.equal(toHex(helloHash), '08ad0fa05d7c7233b1775ba2ff9f4c5b8b59276b7f227f13a976245f5d960913');
  assert.equal(toHex(schedule.derive('c e traffic', helloHash)), '3fbbe6a60deb66c30a32795aba0eff7eaa10105586e7be5c09678d63b6caab62');
});
