/**
 * A stand-in for TLS 1.3 in transport tests — NOT TLS and not secure. It exchanges a few CRYPTO messages shaped
 * like a TLS handshake (ClientHello → ServerHello, EncryptedExtensions + Finished → client Finished), carries the
 * transport parameters, and derives "handshake" and "application" secrets deterministically from both randoms, so
 * the transport's packet protection, key phases and handshake state machine run exactly as with real TLS.
 * Swapping in src/quic/tls is a matter of passing a TlsClient/TlsServer instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CIPHER_SUITES } from '../../../src/quic/tls-interface.js';
import type { CipherSuite, EncryptionLevel, QuicTls, TlsEvent } from '../../../src/quic/tls-interface.js';

const CLIENT_HELLO = 1;
const SERVER_HELLO = 2;
const ENCRYPTED_EXTENSIONS = 8;
const FINISHED = 20;

export interface FakeTlsOptions {
  suite?: CipherSuite;
  alpn?: string;
  /** Extra bytes in the server's Handshake flight, standing in for a certificate chain (amplification tests). */
  certificateBytes?: number;
  /** Server: answer with this alert instead of completing (e.g. 120 no_application_protocol). */
  alert?: number;
  /** Leave out the transport parameters (the connection must fail the handshake). */
  omitTransportParameters?: boolean;
  /** Client: attempt 0-RTT as if resuming a session whose server sent these transport parameters. */
  earlyData?: { rememberedTransportParameters: Uint8Array };
  /** Client: report this session ticket once the handshake completes. */
  sessionTicket?: Uint8Array;
  /** Server: accept 0-RTT when the client attempts it. */
  acceptEarlyData?: boolean;
  /** Replace the encoded transport parameters we send (to test the peer's validation). */
  rewriteTransportParameters?: (encoded: Uint8Array) => Uint8Array;
}

function message(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.byteLength);
  out[0] = type;
  out[1] = (body.byteLength >>> 16) & 0xff;
  out[2] = (body.byteLength >>> 8) & 0xff;
  out[3] = body.byteLength & 0xff;
  out.set(body, 4);
  return out;
}

function secret(label: string, clientRandom: Uint8Array, serverRandom: Uint8Array): Uint8Array {
  return createHash('sha256').update(label).update(clientRandom).update(serverRandom).digest();
}

/** Splits a byte stream into complete [type, body] messages, buffering partial ones per level. */
class MessageReader {
  private buffers = new Map<EncryptionLevel, Uint8Array>();
  push(level: EncryptionLevel, data: Uint8Array): { type: number; body: Uint8Array }[] {
    const previous = this.buffers.get(level) ?? new Uint8Array(0);
    let buffer = new Uint8Array(previous.byteLength + data.byteLength);
    buffer.set(previous);
    buffer.set(data, previous.byteLength);
    const out: { type: number; body: Uint8Array }[] = [];
    while (buffer.byteLength >= 4) {
      const length = (buffer[1]! << 16) | (buffer[2]! << 8) | buffer[3]!;
      if (buffer.byteLength < 4 + length) break;
      out.push({ type: buffer[0]!, body: buffer.slice(4, 4 + length) });
      buffer = buffer.slice(4 + length);
    }
    this.buffers.set(level, buffer);
    return out;
  }
}

abstract class FakeTlsBase implements QuicTls {
  protected readonly reader = new MessageReader();
  protected readonly suite: CipherSuite;
  protected clientRandom = new Uint8Array(0);
  protected serverRandom = new Uint8Array(0);

  constructor(
    protected readonly transportParameters: Uint8Array,
    protected readonly options: FakeTlsOptions,
  ) {
    this.suite = options.suite ?? CIPHER_SUITES.aes128gcm;
  }

  protected keys(level: 'handshake' | 'application', isClient: boolean): TlsEvent[] {
    const ours = secret(`${isClient ? 'c' : 's'} ${level}`, this.clientRandom, this.serverRandom);
    const theirs = secret(`${isClient ? 's' : 'c'} ${level}`, this.clientRandom, this.serverRandom);
    return [
      { type: 'keysReady', level, direction: 'write', suite: this.suite, secret: ours },
      { type: 'keysReady', level, direction: 'read', suite: this.suite, secret: theirs },
    ];
  }

  protected tpBody(): Uint8Array {
    if (this.options.omitTransportParameters) return new Uint8Array(0);
    return this.options.rewriteTransportParameters?.(this.transportParameters) ?? this.transportParameters;
  }

  abstract receive(level: EncryptionLevel, data: Uint8Array): TlsEvent[];
}

export class FakeTlsClient extends FakeTlsBase {
  private earlyAccepted = false;

  start(): TlsEvent[] {
    this.clientRandom = randomBytes(32);
    const early = this.options.earlyData;
    const body = new Uint8Array(1 + 32 + this.tpBody().byteLength);
    body[0] = early ? 1 : 0;
    body.set(this.clientRandom, 1);
    body.set(this.tpBody(), 33);
    const events: TlsEvent[] = [{ type: 'cryptoData', level: 'initial', data: message(CLIENT_HELLO, body) }];
    if (early) {
      events.push({ type: 'rememberedTransportParameters', data: early.rememberedTransportParameters });
      events.push({ type: 'keysReady', level: 'early', direction: 'write', suite: this.suite, secret: secret('early', this.clientRandom, new Uint8Array(0)) });
    }
    return events;
  }

  receive(level: EncryptionLevel, data: Uint8Array): TlsEvent[] {
    const events: TlsEvent[] = [];
    for (const { type, body } of this.reader.push(level, data)) {
      if (level === 'initial' && type === SERVER_HELLO) {
        this.serverRandom = body.slice(0, 32);
        events.push(...this.keys('handshake', true));
      } else if (level === 'handshake' && type === ENCRYPTED_EXTENSIONS) {
        this.earlyAccepted = body[0] === 1;
        const length = (body[1]! << 8) | body[2]!;
        if (length > 0) events.push({ type: 'peerTransportParameters', data: body.slice(3, 3 + length) });
      } else if (level === 'handshake' && type === FINISHED) {
        events.push(...this.keys('application', true));
        events.push({ type: 'cryptoData', level: 'handshake', data: message(FINISHED, new Uint8Array(32)) });
        events.push({ type: 'handshakeComplete', alpn: this.options.alpn ?? 'h3', serverName: undefined, resumed: this.options.earlyData !== undefined, earlyDataAccepted: this.earlyAccepted });
        if (this.options.sessionTicket) events.push({ type: 'sessionTicket', ticket: this.options.sessionTicket });
      } else {
        events.push({ type: 'alert', description: 10, reason: `unexpected message ${type} at ${level}` });
      }
    }
    return events;
  }
}

export class FakeTlsServer extends FakeTlsBase {
  private earlyAccepted = false;

  receive(level: EncryptionLevel, data: Uint8Array): TlsEvent[] {
    const events: TlsEvent[] = [];
    for (const { type, body: received } of this.reader.push(level, data)) {
      let body = received;
      if (level === 'initial' && type === CLIENT_HELLO) {
        const earlyAttempted = body[0] === 1;
        body = body.subarray(1);
        this.clientRandom = body.slice(0, 32);
        this.serverRandom = randomBytes(32);
        if (this.options.alert !== undefined) return [{ type: 'alert', description: this.options.alert, reason: 'fake alert' }];
        if (body.byteLength > 32) events.push({ type: 'peerTransportParameters', data: body.slice(32) });
        this.earlyAccepted = earlyAttempted && this.options.acceptEarlyData === true;
        if (this.earlyAccepted) {
          events.push({ type: 'keysReady', level: 'early', direction: 'read', suite: this.suite, secret: secret('early', this.clientRandom, new Uint8Array(0)) });
        }
        events.push({ type: 'cryptoData', level: 'initial', data: message(SERVER_HELLO, this.serverRandom) });
        events.push(...this.keys('handshake', false));
        const tp = this.tpBody();
        const extensions = new Uint8Array(3 + tp.byteLength + (this.options.certificateBytes ?? 600));
        extensions[0] = this.earlyAccepted ? 1 : 0;
        extensions[1] = tp.byteLength >>> 8;
        extensions[2] = tp.byteLength & 0xff;
        extensions.set(tp, 3);
        events.push({ type: 'cryptoData', level: 'handshake', data: message(ENCRYPTED_EXTENSIONS, extensions) });
        events.push({ type: 'cryptoData', level: 'handshake', data: message(FINISHED, new Uint8Array(32)) });
        events.push(...this.keys('application', false));
      } else if (level === 'handshake' && type === FINISHED) {
        events.push({ type: 'handshakeComplete', alpn: this.options.alpn ?? 'h3', serverName: 'localhost', resumed: false, earlyDataAccepted: this.earlyAccepted });
      } else {
        events.push({ type: 'alert', description: 10, reason: `unexpected message ${type} at ${level}` });
      }
    }
    return events;
  }
}
