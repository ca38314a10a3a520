// A hand-driven HTTP/3 peer for crafting bad input: it writes raw bytes on streams of a fake QUIC connection whose
// other end is the H3Connection under test.
import assert from 'node:assert/strict';
import { H3Connection } from '../../src/h3/connection.js';
import { FrameParser, FrameType, encodeFrame, encodeSettingsFrame } from '../../src/h3/frames.js';
import { QpackEncoder } from '../../src/h3/qpack/encoder.js';
import type { H3ConnectionOptions, H3Event } from '../../src/h3/types.js';
import { encodeVarint } from '../../src/h3/varint.js';
import { FakeQuic } from './fake-quic.js';
import { concat } from './helpers.js';

export class RawPeer {
  readonly quic: FakeQuic;
  readonly engineQuic: FakeQuic;
  readonly engine: H3Connection;
  readonly events: H3Event[] = [];
  private readonly qpack = new QpackEncoder();
  controlStream = -1;

  /** `engineRole` is the role of the engine under test; the raw peer plays the other one. */
  constructor(engineRole: 'server' | 'client' = 'server', options: Partial<H3ConnectionOptions> = {}) {
    const [client, server] = FakeQuic.pair();
    this.quic = engineRole === 'server' ? client : server;
    this.engineQuic = engineRole === 'server' ? server : client;
    this.engine = new H3Connection(this.engineQuic, { ...options, role: engineRole });
    this.engineQuic.inbox.push({ type: 'handshakeComplete', alpn: 'h3', resumed: false });
    this.deliver();
  }

  /** Opens our control stream with `settings` (default: none) or with whatever raw first frame is given. */
  openControl(firstFrame: Uint8Array = encodeSettingsFrame([])): number {
    this.controlStream = this.openUni(0x00, firstFrame);
    return this.controlStream;
  }

  openUni(type: number, payload: Uint8Array = new Uint8Array(0), end = false): number {
    const id = this.quic.openStream(true);
    this.quic.sendStreamData(id, concat(encodeVarint(type), payload), end);
    return id;
  }

  control(bytes: Uint8Array, end = false): void {
    this.quic.sendStreamData(this.controlStream, bytes, end);
  }

  send(streamId: number, bytes: Uint8Array, end = false): void {
    this.quic.sendStreamData(streamId, bytes, end);
  }

  /** A HEADERS frame with a static-only QPACK section of `fields` (no validation: anything can be sent). */
  headers(streamId: number, fields: string[]): Uint8Array {
    return encodeFrame(FrameType.HEADERS, this.qpack.encode(streamId, fields));
  }

  /** Opens a request stream and writes `bytes` on it. */
  request(bytes: Uint8Array, end = true): number {
    const id = this.quic.openStream(false);
    this.quic.sendStreamData(id, bytes, end);
    return id;
  }

  /** Bytes the engine sent us, per stream. */
  readonly fromEngine = new Map<number, Uint8Array>();

  /** Lets the engine process everything sent so far, and collects what it sent back. */
  deliver(): H3Event[] {
    const produced = this.engine.handleEvents(this.engineQuic.pollEvents());
    this.events.push(...produced);
    for (const event of this.quic.pollEvents()) {
      if (event.type !== 'streamData') continue;
      this.fromEngine.set(event.streamId, concat(this.fromEngine.get(event.streamId) ?? new Uint8Array(0), event.data));
    }
    return produced;
  }

  /** The payloads of the frames of `type` the engine sent on a request stream. */
  framesFromEngine(streamId: number, type: number): Uint8Array[] {
    const parser = new FrameParser(1 << 20);
    parser.append(this.fromEngine.get(streamId) ?? new Uint8Array(0));
    const payloads: Uint8Array[] = [];
    for (let item = parser.next(); item !== null; item = parser.next()) {
      if (item.kind === 'frame' && item.type === type) payloads.push(item.payload);
    }
    return payloads;
  }

  expectConnectionError(code: number): void {
    this.deliver();
    assert.equal(this.engineQuic.closed?.code, code, `expected connection error 0x${code.toString(16)}, got ${JSON.stringify(this.engineQuic.closed)}`);
    const terminated = this.events.filter((e) => e.type === 'connectionTerminated');
    assert.equal(terminated.length, 1);
  }

  expectStreamError(streamId: number, code: number): void {
    this.deliver();
    assert.equal(this.engineQuic.closed, null, `connection closed: ${JSON.stringify(this.engineQuic.closed)}`);
    // RESET_STREAM for our half unless it had already ended; STOP_SENDING for the peer's half unless it had ended.
    const signals = [...this.engineQuic.resets, ...this.engineQuic.stopSendings].filter((r) => r.streamId === streamId);
    assert.ok(signals.length > 0 && signals.every((r) => r.code === code), JSON.stringify(signals));
    assert.ok(this.events.some((e) => e.type === 'streamReset' && e.streamId === streamId && e.code === code && !e.byPeer));
  }
}

export const GET = [':method', 'GET', ':scheme', 'https', ':authority', 'a.test', ':path', '/'];
