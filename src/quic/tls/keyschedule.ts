/**
 * The TLS 1.3 key schedule (RFC 8446 §7.1) and transcript hash (§4.4.1), on the injected CryptoProvider.
 *
 *   0 -> HKDF-Extract(salt 0, PSK or 0) = Early Secret -> binder_key, c e traffic
 *        Derive-Secret(., "derived", "") -> HKDF-Extract(., (EC)DHE) = Handshake Secret -> c/s hs traffic
 *        Derive-Secret(., "derived", "") -> HKDF-Extract(., 0) = Master Secret -> c/s ap traffic, exp/res master
 */
import { hashLength, hkdfExpandLabel, hkdfExtract } from '../crypto.js';
import type { CryptoProvider, Hash, HashName } from '../crypto.js';
import { HandshakeType } from './constants.js';
import { handshakeMessage } from './framing.js';
import { toHex } from './wire.js';

const EMPTY = new Uint8Array(0);

export class KeySchedule {
  readonly hashLength: number;
  private secret: Uint8Array;
  private readonly emptyHash: Uint8Array;

  /** Starts at the Early Secret; a full handshake uses a PSK of HashLen zeros. */
  constructor(
    private readonly crypto: CryptoProvider,
    readonly hash: HashName,
    psk?: Uint8Array,
  ) {
    this.hashLength = hashLength(hash);
    this.emptyHash = crypto.hash(hash, EMPTY);
    this.secret = hkdfExtract(crypto, hash, EMPTY, psk ?? new Uint8Array(this.hashLength));
  }

  /** The secret of the current stage (Early, Handshake or Master). */
  get current(): Uint8Array {
    return this.secret;
  }

  /** RFC 8446 §7.1 Derive-Secret(Secret, Label, Messages), given Transcript-Hash(Messages). */
  derive(label: string, transcriptHash: Uint8Array): Uint8Array {
    return hkdfExpandLabel(this.crypto, this.hash, this.secret, label, transcriptHash, this.hashLength);
  }

  /** Early -> Handshake (with the (EC)DHE shared secret), Handshake -> Master (with zeros). */
  advance(inputKeyMaterial?: Uint8Array): void {
    const salt = this.derive('derived', this.emptyHash);
    this.secret = hkdfExtract(this.crypto, this.hash, salt, inputKeyMaterial ?? new Uint8Array(this.hashLength));
  }

  /** RFC 8446 §4.2.11.2: binder_key = Derive-Secret(Early Secret, "res binder", ""). */
  binderKey(): Uint8Array {
    return this.derive('res binder', this.emptyHash);
  }

  /** RFC 8446 §4.4.4: HMAC(finished_key, transcript hash), finished_key = HKDF-Expand-Label(base, "finished", "", Hash.length). */
  finishedMac(baseKey: Uint8Array, transcriptHash: Uint8Array): Uint8Array {
    const finishedKey = hkdfExpandLabel(this.crypto, this.hash, baseKey, 'finished', EMPTY, this.hashLength);
    return this.crypto.hmac(this.hash, finishedKey, transcriptHash);
  }

  /** RFC 8446 §4.6.1: PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length). */
  resumptionPsk(resumptionMasterSecret: Uint8Array, nonce: Uint8Array): Uint8Array {
    return hkdfExpandLabel(this.crypto, this.hash, resumptionMasterSecret, 'resumption', nonce, this.hashLength);
  }
}

/**
 * The running transcript hash. The hash function is known only once the cipher suite is (a client learns it from
 * the ServerHello), so messages wait in a list until then.
 */
export class Transcript {
  private held: Uint8Array[] = [];
  private running: Hash | undefined;
  private hashName: HashName | undefined;

  constructor(private readonly crypto: CryptoProvider) {}

  get hash(): HashName | undefined {
    return this.hashName;
  }

  setHash(name: HashName): void {
    if (this.running !== undefined) return;
    this.hashName = name;
    this.running = this.crypto.createHash(name);
    for (const message of this.held) this.running.update(message);
    this.held = [];
  }

  add(message: Uint8Array): void {
    if (this.running === undefined) this.held.push(message);
    else this.running.update(message);
  }

  /** Transcript-Hash of everything added so far (setHash first). */
  digest(): Uint8Array {
    if (this.running === undefined) throw new Error('transcript hash used before the cipher suite is known');
    return this.running.digest();
  }

  /** The hash of the transcript followed by `extra` (a truncated ClientHello for a PSK binder), leaving it unchanged. */
  digestWith(extra: Uint8Array): Uint8Array {
    if (this.running === undefined) throw new Error('transcript hash used before the cipher suite is known');
    const copy = this.running.copy();
    copy.update(extra);
    return copy.digest();
  }

  /**
   * RFC 8446 §4.4.1: after a HelloRetryRequest, ClientHello1 is replaced by
   * message_hash(254) || 00 00 || Hash.length || Hash(ClientHello1).
   */
  replaceWithMessageHash(): void {
    const firstHelloHash = this.digest();
    this.running = this.crypto.createHash(this.hashName!);
    this.running.update(handshakeMessage(HandshakeType.messageHash, firstHelloHash));
  }
}

/** NSS key-log line (the SSLKEYLOGFILE format Wireshark reads). */
export function keyLogLine(label: string, clientRandom: Uint8Array, secret: Uint8Array): string {
  return `${label} ${toHex(clientRandom)} ${toHex(secret)}`;
}
