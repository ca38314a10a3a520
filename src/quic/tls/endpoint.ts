/**
 * What the server and client engines share: per-level reassembly, the never-throw receive loop that turns any
 * failure into one fatal 'alert' event, and event helpers for secrets and key-log lines.
 */
import type { CryptoProvider } from '../crypto.js';
import { Alert, TransportError } from './constants.js';
import { HandshakeReassembler } from './framing.js';
import type { HandshakeMessage } from './framing.js';
import { keyLogLine } from './keyschedule.js';
import type { CipherSuite, EncryptionLevel, TlsEvent } from './types.js';
import { TlsAlertError, fail } from './wire.js';

export type CryptoLevel = 'initial' | 'handshake' | 'application';

export abstract class TlsEndpoint {
  protected events: TlsEvent[] = [];
  protected failed = false;
  protected clientRandom: Uint8Array = new Uint8Array(32);
  private readonly buffers: Record<CryptoLevel, HandshakeReassembler> = {
    initial: new HandshakeReassembler(),
    handshake: new HandshakeReassembler(),
    application: new HandshakeReassembler(),
  };

  constructor(protected readonly crypto: CryptoProvider) {}

  /** True once an alert was emitted: the engine ignores all further input. */
  get isFailed(): boolean {
    return this.failed;
  }

  /** Handshake bytes from CRYPTO frames at one level, in order. Never throws on peer input. */
  receive(level: EncryptionLevel, data: Uint8Array): TlsEvent[] {
    return this.run(() => {
      // RFC 9001 §8.3: "A server MUST treat receipt of a CRYPTO frame in a 0-RTT packet as a connection error of
      // type PROTOCOL_VIOLATION"; a client never receives 0-RTT packets at all.
      if (level === 'early') fail(Alert.unexpectedMessage, 'handshake data in 0-RTT', TransportError.protocolViolation);
      const expected = this.expectedLevel();
      // RFC 9001 §4.1.3: each message belongs to one encryption level; anything else is unexpected.
      if (level !== expected) fail(Alert.unexpectedMessage, `handshake data at the ${level} level while expecting ${expected ?? 'none'}`);
      const buffer = this.buffers[level];
      buffer.push(data);
      for (let message = buffer.next(); message !== undefined && !this.failed; message = buffer.next()) {
        this.handle(message);
        // The level may have moved on: what is left in this buffer is then checked by requireDrained.
        if (this.expectedLevel() !== level) {
          this.requireDrained(level);
          break;
        }
      }
    });
  }

  /** Runs a step, collecting its events; an error becomes the one fatal alert. */
  protected run(step: () => void): TlsEvent[] {
    if (this.failed) return [];
    this.events = [];
    try {
      step();
    } catch (error) {
      this.failed = true;
      if (error instanceof TlsAlertError) {
        this.events.push(
          error.transportError === undefined
            ? { type: 'alert', description: error.description, reason: error.reason }
            : { type: 'alert', description: error.description, reason: error.reason, transportError: error.transportError },
        );
      } else {
        this.events.push({ type: 'alert', description: Alert.internalError, reason: `internal error: ${error instanceof Error ? error.message : String(error)}` });
      }
    }
    const events = this.events;
    this.events = [];
    return events;
  }

  /**
   * RFC 8446 §5.1: messages that precede a key change (ClientHello, ServerHello, Finished) must end at a key
   * boundary; bytes after them at the old level are unexpected.
   */
  protected requireDrained(level: CryptoLevel): void {
    if (this.buffers[level].pending !== 0) fail(Alert.unexpectedMessage, `data after the last ${level}-level handshake message`);
  }

  protected send(level: CryptoLevel, data: Uint8Array): void {
    this.events.push({ type: 'cryptoData', level, data });
  }

  protected keys(level: 'early' | 'handshake' | 'application', direction: 'read' | 'write', suite: CipherSuite, secret: Uint8Array, keyLogLabel: string): void {
    this.events.push({ type: 'keyLog', line: keyLogLine(keyLogLabel, this.clientRandom, secret) });
    this.events.push({ type: 'keysReady', level, direction, suite, secret });
  }

  /** The only level the next message may arrive at, or undefined when none is expected. */
  protected abstract expectedLevel(): CryptoLevel | undefined;
  protected abstract handle(message: HandshakeMessage): void;
}
