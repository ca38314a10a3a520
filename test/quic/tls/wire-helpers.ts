/** Crafting handshake messages for the alert tests: take real ones apart, change one thing, put them back. */
import { Ext } from '../../../src/quic/tls/constants.js';
import { HandshakeReassembler, handshakeMessage } from '../../../src/quic/tls/framing.js';
import type { HandshakeMessage } from '../../../src/quic/tls/framing.js';
import { parseClientHello, writeExtensions } from '../../../src/quic/tls/messages.js';
import type { ClientHello, Extension } from '../../../src/quic/tls/messages.js';
import { Writer, concatBytes } from '../../../src/quic/tls/wire.js';

export { Ext };

export function splitMessages(data: Uint8Array): HandshakeMessage[] {
  const reassembler = new HandshakeReassembler();
  reassembler.push(data);
  const messages: HandshakeMessage[] = [];
  for (let message = reassembler.next(); message !== undefined; message = reassembler.next()) messages.push(message);
  return messages;
}

export function joinMessages(messages: readonly Uint8Array[]): Uint8Array {
  return concatBytes(...messages);
}

export function readHello(raw: Uint8Array): ClientHello {
  return parseClientHello(raw, raw.subarray(4));
}

export interface HelloParts {
  legacyVersion?: number;
  random?: Uint8Array;
  sessionId?: Uint8Array;
  suites?: number[];
  compression?: number[];
  extensions: Extension[];
}

/** A ClientHello with every field under the test's control. */
export function buildClientHello(parts: HelloParts): Uint8Array {
  const w = new Writer()
    .u16(parts.legacyVersion ?? 0x0303)
    .bytes(parts.random ?? new Uint8Array(32).fill(0x11))
    .vector(1, (s) => s.bytes(parts.sessionId ?? new Uint8Array(0)))
    .vector(2, (s) => { for (const suite of parts.suites ?? [0x1301]) s.u16(suite); })
    .vector(1, (c) => c.bytes(Uint8Array.from(parts.compression ?? [0])));
  writeExtensions(w, parts.extensions);
  return handshakeMessage(1, w.finish());
}

/** The same ClientHello with one change to its fields. */
export function rebuildHello(raw: Uint8Array, change: (parts: Required<HelloParts>) => void): Uint8Array {
  const hello = readHello(raw);
  const parts: Required<HelloParts> = {
    legacyVersion: hello.legacyVersion,
    random: hello.random,
    sessionId: hello.sessionId,
    suites: hello.cipherSuites,
    compression: [...hello.compressionMethods],
    extensions: hello.extensions.map((e) => ({ ...e })),
  };
  change(parts);
  return buildClientHello(parts);
}

/** Replaces (or with undefined removes) an extension, keeping its position; appends when absent. */
export function setExtension(extensions: Extension[], type: number, data: Uint8Array | undefined): void {
  const at = extensions.findIndex((e) => e.type === type);
  if (data === undefined) {
    if (at !== -1) extensions.splice(at, 1);
  } else if (at === -1) {
    const pskAt = extensions.findIndex((e) => e.type === Ext.preSharedKey);
    extensions.splice(pskAt === -1 ? extensions.length : pskAt, 0, { type, data });
  } else extensions[at] = { type, data };
}

export interface ServerHelloParts {
  legacyVersion?: number;
  random?: Uint8Array;
  sessionId?: Uint8Array;
  suite?: number;
  compression?: number;
  extensions: Extension[];
}

export function buildServerHello(parts: ServerHelloParts): Uint8Array {
  const w = new Writer()
    .u16(parts.legacyVersion ?? 0x0303)
    .bytes(parts.random ?? new Uint8Array(32).fill(0x22))
    .vector(1, (s) => s.bytes(parts.sessionId ?? new Uint8Array(0)))
    .u16(parts.suite ?? 0x1301)
    .u8(parts.compression ?? 0);
  writeExtensions(w, parts.extensions);
  return handshakeMessage(2, w.finish());
}

export const u16 = (value: number) => new Writer().u16(value).finish();
export const hex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
