/**
 * The conformance suite's client: drives an H2Connection (server role) with raw client bytes, runs a small
 * application on its events, and parses and checks every frame the engine writes, with the test wire kit
 * (test/support/wire), which shares no code with the engine.
 */
import assert from 'node:assert/strict';
import { H2Connection } from '../../src/h2/index.js';
import type { H2ConnectionOptions, H2Event } from '../../src/h2/types.js';
import {
  type Bytes,
  ErrorCode as E,
  Flag as FLAG,
  FrameType as T,
  PREFACE,
  ResponseHpackDecoder,
  Setting as S,
  bytes,
  concat,
  encodeFields,
  errorName,
  frame,
  frameTypeName,
  latin1,
  padded,
  priorityFields,
  readFrameHeader,
  settingsPayload,
  u32,
} from '../support/wire/index.js';

/** A valid GET request header list; `extra` regular fields are appended. */
export function req(path = '/', extra: readonly string[] = [], method = 'GET'): string[] {
  return [':method', method, ':scheme', 'https', ':authority', 'example.com', ':path', path, ...extra];
}

// ---------------------------------------------------------------------------------------------------------------
// Frame parser for the server's output (RFC 9113 §4.1, §6).

export interface Frame {
  type: number;
  typeName: string;
  flags: number;
  streamId: number;
  length: number;
  payload: Uint8Array;
  /** RFC 9113 §4.1: the reserved bit of the stream identifier as sent (must be unset). */
  reservedBit: boolean;
  /** RST_STREAM / GOAWAY */
  errorCode?: number;
  /** GOAWAY */
  lastStreamId?: number;
  debugData?: string;
  /** WINDOW_UPDATE */
  increment?: number;
  /** SETTINGS */
  settings?: Array<[number, number]>;
  /** HEADERS: the decoded field list once the block is complete (on the frame that carried END_HEADERS). */
  fields?: string[];
  /** DATA: the payload without padding. */
  data?: Uint8Array;
}

export function describe(frames: readonly Frame[]): string {
  if (frames.length === 0) return '(no frames)';
  return frames
    .map((f) => {
      let extra = '';
      if (f.errorCode !== undefined) extra += ` ${errorName(f.errorCode)}`;
      if (f.lastStreamId !== undefined) extra += ` last=${f.lastStreamId}`;
      if (f.increment !== undefined) extra += ` +${f.increment}`;
      if (f.settings) extra += ` ${JSON.stringify(f.settings)}`;
      if (f.fields) extra += ` ${JSON.stringify(f.fields)}`;
      return `${f.typeName}(stream=${f.streamId}, flags=0x${f.flags.toString(16)}, len=${f.length}${extra})`;
    })
    .join(', ');
}

// ---------------------------------------------------------------------------------------------------------------
// The client side of a connection.

export type AppMode = 'respond' | 'echo' | 'none';

export interface ClientOptions {
  /** Options for the engine under test. */
  engine?: H2ConnectionOptions;
  /** SETTINGS the client sends in its preface. */
  settings?: Array<[number, number]>;
  /** 'respond': answer every completed request with 200 + `body`; 'echo': answer with the request body; 'none': do nothing. */
  app?: AppMode;
  body?: string;
  /** Call engine.consume() for every DATA event (like a real application reading the body). Default true. */
  autoConsume?: boolean;
  /** Passed to dataToSend(maxBytes): a driver writing in small slices. Default: unlimited. */
  maxBytesPerWrite?: number;
}

export interface Response {
  /** Every header block received on the stream, in order (informational, final, trailers). */
  blocks: string[][];
  status: string | undefined;
  headers: string[];
  body: string;
  ended: boolean;
  reset: number | undefined;
}

export class Client {
  readonly engine: H2Connection;
  app: AppMode;
  body: string;
  autoConsume: boolean;
  /** Every event the engine returned, in order. */
  readonly events: H2Event[] = [];
  /** Every frame the server wrote, in order. */
  readonly frames: Frame[] = [];
  /** Exceptions thrown by engine methods the app called (not peer input). */
  readonly appErrors: unknown[] = [];
  /** The server's SETTINGS from its connection preface. */
  serverSettings = new Map<number, number>();
  /** Receive window the server advertised for the connection (65535 + its stream-0 WINDOW_UPDATE increments). */
  serverConnectionWindow = 65535;
  private unread: Frame[] = [];
  private pending: Uint8Array = new Uint8Array(0);
  readonly decoder: ResponseHpackDecoder;
  private headerBlock: number[] | undefined;
  private readonly requestBodies = new Map<number, string>();
  private pingCounter = 0;

  constructor(private readonly options: ClientOptions = {}) {
    this.engine = new H2Connection(options.engine ?? {});
    this.app = options.app ?? 'respond';
    this.body = options.body ?? 'hello';
    this.autoConsume = options.autoConsume ?? true;
    // RFC 7541 §4.2: the server's encoder starts at 4096 and must signal any reduction our preface SETTINGS demands.
    const tableSize = options.settings?.findLast(([id]) => id === S.HEADER_TABLE_SIZE)?.[1] ?? 4096;
    this.decoder = new ResponseHpackDecoder(4096, Math.max(tableSize, 4096));
    if (tableSize < 4096) this.decoder.lowerLimit(tableSize);
    this.drain();
  }

  /** A client after the full preface exchange: preface + SETTINGS sent, server SETTINGS received and ACKed. */
  static connect(options: ClientOptions = {}): Client {
    const c = new Client(options);
    c.send(concat(PREFACE, frame(T.SETTINGS, 0, 0, settingsPayload(options.settings ?? []))));
    const first = c.frames[0];
    assert.ok(first, 'server wrote nothing after the client preface');
    assert.equal(first.typeName, 'SETTINGS', `RFC 9113 §3.4: the server preface must start with SETTINGS; got ${describe(c.frames)}`);
    assert.equal(first.flags & FLAG.ACK, 0, 'the server preface SETTINGS must not be an ACK');
    c.sendFrame(T.SETTINGS, FLAG.ACK, 0);
    c.readFrames();
    return c;
  }

  get maxFrameSize(): number {
    return this.serverSettings.get(S.MAX_FRAME_SIZE) ?? 16384;
  }

  get serverInitialWindow(): number {
    return this.serverSettings.get(S.INITIAL_WINDOW_SIZE) ?? 65535;
  }

  // ---- sending ------------------------------------------------------------------------------------------------

  /** Feed raw bytes; run the app on the events; collect the output. Returns the events of this call. */
  send(data: Bytes): H2Event[] {
    this.trackClientBytes(bytes(data));
    const events = this.engine.receive(bytes(data));
    this.events.push(...events);
    this.runApp(events);
    this.drain();
    return events;
  }

  sendFrame(type: number, flags: number, streamId: number, payload: Bytes = [], lengthOverride?: number): H2Event[] {
    return this.send(frame(type, flags, streamId, payload, lengthOverride));
  }

  sendHeaders(
    streamId: number,
    fields: readonly string[] | Uint8Array | number[],
    opts: { endStream?: boolean; endHeaders?: boolean; padLength?: number; priority?: { dependsOn: number; weight: number; exclusive?: boolean } } = {},
  ): H2Event[] {
    const block = toBlock(fields);
    let flags = 0;
    if (opts.endStream) flags |= FLAG.END_STREAM;
    if (opts.endHeaders !== false) flags |= FLAG.END_HEADERS;
    let payload: Uint8Array = block;
    if (opts.priority) {
      flags |= FLAG.PRIORITY;
      payload = concat(priorityFields(opts.priority.dependsOn, opts.priority.weight, opts.priority.exclusive), payload);
    }
    if (opts.padLength !== undefined) {
      flags |= FLAG.PADDED;
      payload = padded(payload, opts.padLength);
    }
    return this.sendFrame(T.HEADERS, flags, streamId, payload);
  }

  sendContinuation(streamId: number, block: readonly string[] | Uint8Array | number[], endHeaders = true): H2Event[] {
    const data = toBlock(block);
    return this.sendFrame(T.CONTINUATION, endHeaders ? FLAG.END_HEADERS : 0, streamId, data);
  }

  sendData(streamId: number, data: Bytes, opts: { endStream?: boolean; padLength?: number } = {}): H2Event[] {
    let flags = opts.endStream ? FLAG.END_STREAM : 0;
    let payload = bytes(data);
    if (opts.padLength !== undefined) {
      flags |= FLAG.PADDED;
      payload = padded(payload, opts.padLength);
    }
    return this.sendFrame(T.DATA, flags, streamId, payload);
  }

  sendSettings(pairs: Array<[number, number]>): H2Event[] {
    return this.sendFrame(T.SETTINGS, 0, 0, settingsPayload(pairs));
  }

  sendPing(opaque: Bytes = [1, 2, 3, 4, 5, 6, 7, 8], ack = false): H2Event[] {
    return this.sendFrame(T.PING, ack ? FLAG.ACK : 0, 0, opaque);
  }

  sendRst(streamId: number, code: number): H2Event[] {
    return this.sendFrame(T.RST_STREAM, 0, streamId, u32(code));
  }

  sendWindowUpdate(streamId: number, increment: number): H2Event[] {
    return this.sendFrame(T.WINDOW_UPDATE, 0, streamId, u32(increment));
  }

  sendPriority(streamId: number, dependsOn: number, weight = 16, exclusive = false): H2Event[] {
    return this.sendFrame(T.PRIORITY, 0, streamId, priorityFields(dependsOn, weight, exclusive));
  }

  sendGoaway(lastStreamId: number, code: number, debug = ''): H2Event[] {
    return this.sendFrame(T.GOAWAY, 0, 0, concat(u32(lastStreamId), u32(code), debug));
  }

  /** A GET with END_STREAM; returns the response collected so far. */
  request(streamId: number, fields: readonly string[] = req()): Response {
    this.sendHeaders(streamId, fields, { endStream: true });
    return this.response(streamId);
  }

  // ---- reading ------------------------------------------------------------------------------------------------

  /** Frames written since the last read. */
  readFrames(): Frame[] {
    const out = this.unread;
    this.unread = [];
    return out;
  }

  /** Everything the server sent on a stream so far (from all frames, read or not). */
  response(streamId: number): Response {
    const blocks: string[][] = [];
    let body = '';
    let ended = false;
    let reset: number | undefined;
    for (const f of this.frames) {
      if (f.streamId !== streamId) continue;
      if (f.fields) blocks.push(f.fields);
      if (f.type === T.DATA) body += latin1(f.data!);
      if ((f.type === T.DATA || f.type === T.HEADERS) && f.flags & FLAG.END_STREAM) ended = true;
      if (f.type === T.RST_STREAM) reset = f.errorCode;
    }
    const final = blocks.find((b) => {
      const status = fieldValue(b, ':status');
      return status !== undefined && !status.startsWith('1');
    });
    return { blocks, status: final ? fieldValue(final, ':status') : undefined, headers: final ?? [], body, ended, reset };
  }

  /** Events of one type (optionally for one stream). */
  eventsOf<K extends H2Event['type']>(type: K, streamId?: number): Array<Extract<H2Event, { type: K }>> {
    return this.events.filter(
      (e): e is Extract<H2Event, { type: K }> => e.type === type && (streamId === undefined || (e as { streamId?: number }).streamId === streamId),
    );
  }

  requestBody(streamId: number): string {
    return this.requestBodies.get(streamId) ?? '';
  }

  // ---- expectations -------------------------------------------------------------------------------------------

  /**
   * RFC 9113 §5.4.1: a connection error — GOAWAY with exactly `code`, and the engine stops processing: it answers
   * neither a PING nor a new request afterwards.
   */
  expectGoaway(code: number, opts: { lastStreamId?: number } = {}): Frame {
    const frames = this.readFrames();
    const goaways = frames.filter((f) => f.type === T.GOAWAY);
    assert.ok(goaways.length > 0, `expected GOAWAY(${errorName(code)}); server sent ${describe(frames)}`);
    const goaway = goaways[goaways.length - 1]!;
    assert.equal(errorName(goaway.errorCode!), errorName(code), `GOAWAY error code; server sent ${describe(frames)}`);
    assert.equal(goaway.streamId, 0, 'GOAWAY must be sent on stream 0');
    if (opts.lastStreamId !== undefined) assert.equal(goaway.lastStreamId, opts.lastStreamId, 'GOAWAY last-stream-id');
    assert.equal(this.engine.isClosing, true, 'engine.isClosing after a connection error');
    const terminated = this.eventsOf('connectionTerminated');
    assert.ok(terminated.length > 0, 'a connectionTerminated event after a connection error');
    assert.equal(errorName(terminated[terminated.length - 1]!.code), errorName(code), 'connectionTerminated code');
    this.expectStopped();
    // RFC 9113 §5.4.1: after a GOAWAY for an error the connection is closed; once the output is drained, nothing is left.
    assert.equal(this.engine.isDone, true, 'engine.isDone after a connection error and a drained output');
    return goaway;
  }

  /** After a connection error the engine must ignore further input: no PING ACK, no request event, no response. */
  expectStopped(): void {
    const before = this.events.length;
    this.sendPing([9, 9, 9, 9, 9, 9, 9, 9]);
    this.sendHeaders(0x7ffffff1, req(), { endStream: true });
    const after = this.readFrames();
    assert.ok(!after.some((f) => f.type === T.PING), `engine answered a PING after a connection error: ${describe(after)}`);
    assert.ok(!after.some((f) => f.type === T.HEADERS), `engine answered a request after a connection error: ${describe(after)}`);
    assert.ok(!this.events.slice(before).some((e) => e.type === 'request'), 'engine emitted a request after a connection error');
  }

  /** RFC 9113 §5.4.2: a stream error — RST_STREAM with exactly `code` on `streamId`, and the connection lives on. */
  expectRst(streamId: number, code: number): Frame {
    const frames = this.readFrames();
    const goaway = frames.find((f) => f.type === T.GOAWAY);
    assert.equal(goaway, undefined, `expected RST_STREAM(${streamId}, ${errorName(code)}), got a connection error: ${describe(frames)}`);
    const rst = frames.find((f) => f.type === T.RST_STREAM && f.streamId === streamId);
    assert.ok(rst, `expected RST_STREAM(${streamId}, ${errorName(code)}); server sent ${describe(frames)}`);
    assert.equal(errorName(rst.errorCode!), errorName(code), `RST_STREAM error code; server sent ${describe(frames)}`);
    this.expectAlive();
    return rst;
  }

  /**
   * Where the RFC allows either scope (e.g. §6.9.1 stream flow-control violations, §4.2 oversized DATA): a RST_STREAM
   * on `streamId` or a GOAWAY, with exactly `code`.
   */
  expectStreamOrConnectionError(streamId: number, code: number): void {
    const frames = this.unread;
    if (frames.some((f) => f.type === T.GOAWAY)) this.expectGoaway(code);
    else this.expectRst(streamId, code);
  }

  /** A connection error whose code may be any of `codes` (where the RFC text supports more than one reading). */
  expectGoawayOneOf(codes: number[]): Frame {
    const goaway = this.unread.find((f) => f.type === T.GOAWAY);
    const code = goaway && codes.includes(goaway.errorCode!) ? goaway.errorCode! : codes[0]!;
    return this.expectGoaway(code);
  }

  /** No GOAWAY and no RST_STREAM, and a PING still gets its ACK. */
  expectNoError(): Frame[] {
    const frames = this.readFrames();
    const bad = frames.filter((f) => f.type === T.GOAWAY || f.type === T.RST_STREAM);
    assert.deepEqual(bad.map((f) => describe([f])), [], `expected no error; server sent ${describe(frames)}`);
    this.expectAlive();
    return frames;
  }

  /** The connection still processes frames: a PING is ACKed with its payload. Frames other than that ACK stay unread. */
  expectAlive(): void {
    const opaque = [0xa5, 0, 0, 0, 0, 0, 0, ++this.pingCounter & 0xff];
    this.sendPing(opaque);
    const idx = this.unread.findIndex((f) => f.type === T.PING && f.flags & FLAG.ACK && latin1(f.payload) === latin1(Uint8Array.from(opaque)));
    assert.ok(idx >= 0, `connection no longer answers PING; server sent ${describe(this.unread)}`);
    assert.equal(this.engine.isClosing, false, 'engine.isClosing');
    this.unread.splice(idx, 1);
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private runApp(events: H2Event[]): void {
    for (const e of events) {
      try {
        if (e.type === 'data') {
          this.requestBodies.set(e.streamId, this.requestBody(e.streamId) + latin1(e.data));
          if (this.autoConsume && e.flowControlledLength > 0) this.engine.consume(e.streamId, e.flowControlledLength);
        } else if (e.type === 'streamEnded' && this.app !== 'none' && !this.engine.isClosing) {
          const body = this.app === 'echo' ? this.requestBody(e.streamId) : this.body;
          this.engine.sendHeaders(e.streamId, [':status', '200', 'content-type', 'text/plain'], false);
          this.engine.sendData(e.streamId, bytes(body), true);
        }
      } catch (err) {
        this.appErrors.push(err);
      }
    }
  }

  /** Harness self-test only: parse bytes as if the server had written them (runs every output check). */
  injectServerBytes(data: Uint8Array): void {
    this.pending = concat(this.pending, data);
    this.parsePending();
  }

  /** Pull everything the engine wants to write and parse it into frames. */
  drain(): void {
    for (let guard = 0; guard < 200000; guard++) {
      const out = this.engine.dataToSend(this.options.maxBytesPerWrite);
      if (!out || out.length === 0) break;
      this.pending = concat(this.pending, out);
      this.parsePending();
    }
    const late = this.engine.pollEvents();
    if (late.length > 0) {
      this.events.push(...late);
      this.runApp(late);
      if (this.engine.wantsWrite) this.drain();
    }
  }

  private parsePending(): void {
    let pos = 0;
    const buf = this.pending;
    while (buf.length - pos >= 9) {
      const { length, type, flags, streamId, reservedBit } = readFrameHeader(buf, pos);
      if (buf.length - pos < 9 + length) break;
      const payload = buf.slice(pos + 9, pos + 9 + length);
      pos += 9 + length;
      const f: Frame = { type, typeName: frameTypeName(type), flags, streamId, length, payload, reservedBit };
      this.decodeFrame(f);
      this.checkServerFrame(f);
      this.frames.push(f);
      this.unread.push(f);
    }
    this.pending = buf.slice(pos);
  }

  // ---- what every server frame must satisfy, checked on all output of every test ----------------------------

  /** Flow-control windows the server may send into (RFC 9113 §6.9.1), tracked from the frames the client sent. */
  private clientInitialWindow = 65535;
  private clientConnectionWindow = 65535;
  private readonly clientStreamWindows = new Map<number, number>();
  private clientMaxFrameSize = 16384;
  /** What the server lets the client send (RFC 9113 §6.9.1): its windows minus the DATA the client sent. */
  private serverGrantedConnection = 65535;
  private readonly serverGrantedStream = new Map<number, number>();

  /** Octets of DATA the client may send on a stream now without violating the server's flow control. */
  sendCredit(streamId: number): number {
    return Math.max(0, Math.min(this.serverGrantedConnection, this.serverGrantedStream.get(streamId) ?? this.serverInitialWindow));
  }

  /** Tops up the windows the client granted (connection + `streamIds`) to 2^30 so the server can finish sending. */
  grantAll(streamIds: number[]): void {
    const target = 2 ** 30;
    if (this.clientConnectionWindow < target) this.sendWindowUpdate(0, target - this.clientConnectionWindow);
    for (const id of streamIds) {
      const w = this.clientStreamWindows.get(id);
      if (w !== undefined && w < target && !this.serverReset.has(id) && !this.serverEnded.has(id)) this.sendWindowUpdate(id, target - w);
    }
  }
  private clientBytes: Uint8Array = new Uint8Array(0);
  private clientPrefaceLeft = PREFACE.length;
  private trackingClient = true;
  /** The preface SETTINGS is handled by the constructor; later SETTINGS update the response decoder's limit. */
  private clientPrefaceDone = false;
  /** Streams the server ended (END_STREAM sent) or reset (RST_STREAM sent). */
  private readonly serverEnded = new Set<number>();
  private readonly serverReset = new Set<number>();
  private readonly serverStatusSeen = new Set<number>();
  private serverBlockStream = 0;
  private serverBlockEndsStream = false;
  private lastGoawayId = Infinity;

  private trackClientBytes(data: Uint8Array): void {
    if (!this.trackingClient) return;
    let input = data;
    if (this.clientPrefaceLeft > 0) {
      const n = Math.min(this.clientPrefaceLeft, input.length);
      const offset = PREFACE.length - this.clientPrefaceLeft;
      for (let i = 0; i < n; i++) {
        if (input[i] !== PREFACE[offset + i]) {
          this.trackingClient = false; // an invalid preface: the connection dies, nothing to track
          return;
        }
      }
      this.clientPrefaceLeft -= n;
      input = input.subarray(n);
    }
    let buf = concat(this.clientBytes, input);
    while (buf.length >= 9) {
      const { length, type, flags, streamId: sid } = readFrameHeader(buf, 0);
      if (buf.length < 9 + length) break;
      const payload = buf.subarray(9, 9 + length);
      const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
      if (type === T.HEADERS && !this.clientStreamWindows.has(sid)) {
        this.clientStreamWindows.set(sid, this.clientInitialWindow);
        this.serverGrantedStream.set(sid, this.serverInitialWindow);
      }
      if (type === T.DATA) {
        this.serverGrantedConnection -= length;
        this.serverGrantedStream.set(sid, (this.serverGrantedStream.get(sid) ?? 0) - length);
      }
      if (type === T.SETTINGS && !(flags & FLAG.ACK) && length % 6 === 0) {
        for (let i = 0; i < length; i += 6) {
          const id = view.getUint16(i);
          const value = view.getUint32(i + 2);
          if (id === S.INITIAL_WINDOW_SIZE && value <= 0x7fffffff) {
            const delta = value - this.clientInitialWindow;
            this.clientInitialWindow = value;
            for (const [id2, w] of this.clientStreamWindows) this.clientStreamWindows.set(id2, w + delta);
          }
          if (id === S.MAX_FRAME_SIZE && value >= 16384 && value <= 16777215) this.clientMaxFrameSize = value;
          // The server applies our table size as it reads the SETTINGS, so its next block follows the new limit.
          if (id === S.HEADER_TABLE_SIZE && this.clientPrefaceDone) this.decoder.setLimit(value);
        }
      }
      if (type === T.WINDOW_UPDATE && length === 4) {
        const increment = view.getUint32(0) & 0x7fffffff;
        if (sid === 0) this.clientConnectionWindow += increment;
        else if (this.clientStreamWindows.has(sid)) this.clientStreamWindows.set(sid, this.clientStreamWindows.get(sid)! + increment);
      }
      if (type === T.SETTINGS && !(flags & FLAG.ACK)) this.clientPrefaceDone = true;
      buf = buf.subarray(9 + length);
    }
    this.clientBytes = buf.slice();
  }

  /** RFC 9113 rules for everything the server writes; a violation fails the test where it happens. */
  private checkServerFrame(f: Frame): void {
    const where = `server frame ${describe([f])}`;
    const definedFlags = [0x09, 0x2d, 0, 0, 0x01, 0x0c, 0x01, 0, 0, 0x04][f.type];
    assert.ok(definedFlags !== undefined, `RFC 9113 §5.5: the server sent an unknown frame type: ${where}`);
    assert.equal(f.flags & ~definedFlags, 0, `RFC 9113 §4.1: undefined flags MUST be left unset: ${where}`);
    assert.ok(!f.reservedBit, `RFC 9113 §4.1: reserved bit set: ${where}`);
    assert.ok(f.length <= this.clientMaxFrameSize, `RFC 9113 §4.2: frame larger than the client's SETTINGS_MAX_FRAME_SIZE: ${where}`);
    assert.notEqual(f.type, T.PUSH_PROMISE, `RFC 9113 §8.4: the server never pushes: ${where}`);
    // RFC 9113 §4.3: a field block is a contiguous HEADERS + CONTINUATION sequence on one stream.
    if (this.serverBlockStream !== 0) {
      assert.ok(f.type === T.CONTINUATION && f.streamId === this.serverBlockStream, `RFC 9113 §6.10: frame interleaved in a field block: ${where}`);
    } else {
      assert.notEqual(f.type, T.CONTINUATION, `RFC 9113 §6.10: CONTINUATION without HEADERS: ${where}`);
    }
    if (f.type === T.GOAWAY) {
      assert.equal(f.streamId, 0, where);
      assert.ok(f.lastStreamId! <= this.lastGoawayId, `RFC 9113 §6.8: GOAWAY last-stream-id MUST NOT increase: ${where}`);
      this.lastGoawayId = f.lastStreamId!;
      return;
    }
    if (f.type === T.SETTINGS || f.type === T.PING) {
      assert.equal(f.streamId, 0, where);
      if (f.type === T.SETTINGS && !(f.flags & FLAG.ACK)) {
        for (const [id, value] of f.settings!) {
          if (id === S.ENABLE_PUSH) assert.equal(value, 0, `RFC 9113 §6.5.2: a server MUST NOT set SETTINGS_ENABLE_PUSH to 1`);
          if (id === S.INITIAL_WINDOW_SIZE) assert.ok(value <= 0x7fffffff, where);
          if (id === S.MAX_FRAME_SIZE) assert.ok(value >= 16384 && value <= 16777215, where);
        }
      }
      return;
    }
    if (f.streamId === 0) {
      assert.equal(f.type, T.WINDOW_UPDATE, `RFC 9113 §6: only connection-level frames on stream 0: ${where}`);
      return;
    }
    assert.equal(f.streamId % 2, 1, `RFC 9113 §5.1.1: the server only uses client-initiated (odd) streams: ${where}`);
    // RFC 9113 §5.1: nothing after our own RST_STREAM; no DATA/HEADERS after our own END_STREAM.
    assert.ok(!this.serverReset.has(f.streamId), `RFC 9113 §5.1: frame on a stream the server reset: ${where}`);
    if (f.type === T.RST_STREAM) {
      this.serverReset.add(f.streamId);
      return;
    }
    if (f.type === T.DATA || f.type === T.HEADERS) {
      assert.ok(!this.serverEnded.has(f.streamId), `RFC 9113 §5.1: DATA/HEADERS after the server's END_STREAM: ${where}`);
    }
    if (f.type === T.HEADERS) {
      this.serverBlockStream = f.flags & FLAG.END_HEADERS ? 0 : f.streamId;
      this.serverBlockEndsStream = (f.flags & FLAG.END_STREAM) !== 0;
    } else if (f.type === T.CONTINUATION && f.flags & FLAG.END_HEADERS) {
      this.serverBlockStream = 0;
    }
    if (f.fields) {
      // RFC 9113 §8.3: a response block carries :status first and no other pseudo-header; trailers carry none.
      const hasStatus = this.serverStatusSeen.has(f.streamId);
      const names = f.fields.filter((_, i) => i % 2 === 0);
      const pseudo = names.filter((n) => n.startsWith(':'));
      if (!hasStatus) {
        assert.equal(names[0], ':status', `RFC 9113 §8.3.2: a response block starts with :status: ${where}`);
        assert.equal(pseudo.length, 1, `RFC 9113 §8.3: only :status, once: ${where}`);
        const status = f.fields[1]!;
        if (!status.startsWith('1')) this.serverStatusSeen.add(f.streamId);
      } else {
        assert.equal(pseudo.length, 0, `RFC 9113 §8.1: no pseudo-header in trailers: ${where}`);
      }
      for (const n of names) assert.equal(n, n.toLowerCase(), `RFC 9113 §8.2: lowercase field names: ${where}`);
      if ((f.type === T.HEADERS && f.flags & FLAG.END_STREAM) || (f.type === T.CONTINUATION && this.serverBlockEndsStream)) this.serverEnded.add(f.streamId);
    }
    if (f.type === T.DATA) {
      assert.ok(this.serverStatusSeen.has(f.streamId), `RFC 9113 §8.1: DATA before the final response HEADERS: ${where}`);
      // RFC 9113 §6.9.1: never beyond the connection or the stream window the client granted.
      const window = this.clientStreamWindows.get(f.streamId) ?? this.clientInitialWindow;
      assert.ok(f.length <= this.clientConnectionWindow, `RFC 9113 §6.9.1: DATA beyond the connection window (${this.clientConnectionWindow}): ${where}`);
      assert.ok(f.length <= window, `RFC 9113 §6.9.1: DATA beyond the stream window (${window}): ${where}`);
      this.clientConnectionWindow -= f.length;
      this.clientStreamWindows.set(f.streamId, window - f.length);
      if (f.flags & FLAG.END_STREAM) this.serverEnded.add(f.streamId);
    }
  }

  private decodeFrame(f: Frame): void {
    const p = f.payload;
    const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
    switch (f.type) {
      case T.DATA: {
        const pad = f.flags & FLAG.PADDED ? p[0]! : -1;
        f.data = pad >= 0 ? p.subarray(1, p.length - pad) : p;
        break;
      }
      case T.HEADERS:
      case T.CONTINUATION: {
        let fragment = p;
        if (f.type === T.HEADERS) {
          let start = 0;
          let end = p.length;
          if (f.flags & FLAG.PADDED) {
            end -= p[0]!;
            start = 1;
          }
          if (f.flags & FLAG.PRIORITY) start += 5;
          fragment = p.subarray(start, end);
          this.headerBlock = [];
        }
        assert.ok(this.headerBlock, 'server sent CONTINUATION without HEADERS');
        this.headerBlock.push(...fragment);
        if (f.flags & FLAG.END_HEADERS) {
          f.fields = this.decoder.decode(Uint8Array.from(this.headerBlock));
          this.headerBlock = undefined;
        }
        break;
      }
      case T.RST_STREAM:
        if (p.length === 4) f.errorCode = view.getUint32(0);
        break;
      case T.GOAWAY:
        if (p.length >= 8) {
          f.lastStreamId = view.getUint32(0) & 0x7fffffff;
          f.errorCode = view.getUint32(4);
          f.debugData = latin1(p.subarray(8));
        }
        break;
      case T.WINDOW_UPDATE:
        if (p.length === 4) {
          f.increment = view.getUint32(0) & 0x7fffffff;
          if (f.streamId === 0) {
            this.serverConnectionWindow += f.increment;
            this.serverGrantedConnection += f.increment;
          } else this.serverGrantedStream.set(f.streamId, (this.serverGrantedStream.get(f.streamId) ?? 0) + f.increment);
        }
        break;
      case T.SETTINGS:
        f.settings = [];
        for (let i = 0; i + 6 <= p.length; i += 6) f.settings.push([view.getUint16(i), view.getUint32(i + 2)]);
        if (!(f.flags & FLAG.ACK)) for (const [id, value] of f.settings) this.serverSettings.set(id, value);
        break;
    }
  }
}

/** A header list (flat strings) is encoded with literals; octets (array or Uint8Array) are taken as a raw block. */
function toBlock(input: readonly string[] | Uint8Array | number[]): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input.length > 0 && typeof input[0] === 'number') return Uint8Array.from(input as number[]);
  return encodeFields(input as readonly string[]);
}

export function fieldValue(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** A connected client whose app does not answer requests (streams stay open / half-closed remote). */
export function quietClient(options: ClientOptions = {}): Client {
  return Client.connect({ app: 'none', ...options });
}
