/**
 * A scripted HTTP/2 client peer for engine tests: builds raw frames with its own HPACK encoder, feeds them to an
 * H2Connection and decodes what the engine writes back (frames + header blocks) with its own HPACK decoder.
 */
import {
  CONNECTION_PREFACE,
  H2Connection,
  encodeDataFrame,
  encodeHeadersFrame,
  encodeSettingsFrame,
  splitFrames,
  FrameType,
  FLAG_END_HEADERS,
  FLAG_END_STREAM,
  HpackDecoder,
  HpackEncoder,
} from '../../src/h2/index.js';
import type { H2ConnectionOptions, H2Event, HeaderList } from '../../src/h2/index.js';

export interface OutFrame {
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
  /** Decoded field block for HEADERS (joined with CONTINUATION). */
  headers?: HeaderList;
}

export const REQUEST: HeaderList = [':method', 'GET', ':scheme', 'https', ':authority', 'localhost', ':path', '/'];

export class Peer {
  readonly conn: H2Connection;
  readonly encoder = new HpackEncoder();
  readonly decoder = new HpackDecoder({ maxHeaderListSize: Infinity });
  events: H2Event[] = [];
  private pendingBlock: { streamId: number; flags: number; chunks: Uint8Array[] } | null = null;

  constructor(options: H2ConnectionOptions = {}) {
    this.conn = new H2Connection(options);
  }

  /** Client preface + SETTINGS (+ ACK of the server's SETTINGS), returns events. */
  handshake(settings: Array<[number, number]> = []): H2Event[] {
    const ev = this.send(concat([CONNECTION_PREFACE, encodeSettingsFrame(settings)]));
    this.read();
    this.send(encodeSettingsFrame([], true));
    return ev;
  }

  send(bytes: Uint8Array): H2Event[] {
    const ev = this.conn.receive(bytes);
    this.events.push(...ev);
    return ev;
  }

  block(headers: HeaderList): Uint8Array {
    return this.encoder.encode(headers).slice();
  }

  request(streamId: number, headers: HeaderList = REQUEST, endStream = true): H2Event[] {
    return this.send(encodeHeadersFrame(streamId, this.block(headers), { endStream }));
  }

  data(streamId: number, data: Uint8Array | string, endStream = false): H2Event[] {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    return this.send(encodeDataFrame(streamId, bytes, { endStream }));
  }

  /** Everything the engine wants to write, as frames (header blocks decoded). */
  read(maxBytes?: number): OutFrame[] {
    const out: OutFrame[] = [];
    for (;;) {
      const bytes = this.conn.dataToSend(maxBytes);
      if (bytes === null) break;
      const { frames, rest } = splitFrames(bytes);
      if (rest.length !== 0) throw new Error('engine wrote a partial frame');
      for (const f of frames) {
        const frame: OutFrame = { type: f.type, flags: f.flags, streamId: f.streamId, payload: f.payload.slice() };
        if (f.type === FrameType.HEADERS || f.type === FrameType.CONTINUATION) {
          if (f.type === FrameType.HEADERS) this.pendingBlock = { streamId: f.streamId, flags: f.flags, chunks: [] };
          this.pendingBlock!.chunks.push(f.payload.slice());
          if (f.flags & FLAG_END_HEADERS) {
            frame.headers = this.decoder.decode(concat(this.pendingBlock!.chunks));
            if (f.type === FrameType.CONTINUATION) frame.flags |= this.pendingBlock!.flags & FLAG_END_STREAM;
            this.pendingBlock = null;
          }
        }
        out.push(frame);
      }
      if (maxBytes !== undefined) break;
    }
    this.events.push(...this.conn.pollEvents());
    return out;
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function u32(payload: Uint8Array, offset = 0): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(offset);
}

/** The GOAWAY among frames, decoded, or undefined. */
export function goawayOf(frames: OutFrame[]): { lastStreamId: number; code: number; debug: string } | undefined {
  const f = frames.find((x) => x.type === FrameType.GOAWAY);
  if (!f) return undefined;
  return { lastStreamId: u32(f.payload) & 0x7fffffff, code: u32(f.payload, 4), debug: new TextDecoder().decode(f.payload.subarray(8)) };
}

/** RST_STREAM codes by stream id. */
export function resetsOf(frames: OutFrame[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const f of frames) if (f.type === FrameType.RST_STREAM) m.set(f.streamId, u32(f.payload));
  return m;
}

export const text = (s: string) => new TextEncoder().encode(s);
