// HPACK against nghttp2 (inside node:http2) over real TCP connections, with just enough HTTP/2 framing written here
// to carry header blocks: nghttp2's encoder feeds our decoder, our encoder feeds nghttp2's decoder, and table size
// changes go through real SETTINGS / ACK exchanges (RFC 7541 §4.2: the peer must signal the smaller size).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import { HpackDecoder, HpackEncoder } from '../../src/h2/hpack/index.js';
import { frame, settingsPayload } from '../support/wire/index.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DATA = 0x0;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const SETTINGS_HEADER_TABLE_SIZE = 0x1;

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** A header block split into HEADERS + CONTINUATION frames of at most 16384 bytes (the default max frame size). */
function headerFrames(streamId: number, block: Uint8Array, endStream: boolean): Buffer {
  const parts: Uint8Array[] = [];
  const max = 16_384;
  for (let offset = 0; offset === 0 || offset < block.length; offset += max) {
    const chunk = block.subarray(offset, offset + max);
    const last = offset + max >= block.length;
    const type = offset === 0 ? HEADERS : CONTINUATION;
    const flags = (last ? END_HEADERS : 0) | (offset === 0 && endStream ? END_STREAM : 0);
    parts.push(frame(type, flags, streamId, chunk));
  }
  return Buffer.concat(parts);
}

/** Reads frames from a socket; next() resolves with the next frame (after an optional client preface). */
class FrameReader {
  private buffer = Buffer.alloc(0);
  private readonly frames: Frame[] = [];
  private waiter: ((frame: Frame) => void) | null = null;
  private closedError: Error | null = null;

  constructor(socket: net.Socket, private expectPreface: boolean) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    socket.on('close', () => {
      this.closedError = new Error('connection closed');
      this.waiter?.({ type: -1, flags: 0, streamId: 0, payload: Buffer.alloc(0) });
    });
  }

  private parse(): void {
    if (this.expectPreface) {
      if (this.buffer.length < PREFACE.length) return;
      assert.deepEqual(this.buffer.subarray(0, PREFACE.length), PREFACE);
      this.buffer = this.buffer.subarray(PREFACE.length);
      this.expectPreface = false;
    }
    while (this.buffer.length >= 9) {
      const length = this.buffer.readUIntBE(0, 3);
      if (this.buffer.length < 9 + length) return;
      const parsed: Frame = {
        type: this.buffer[3]!,
        flags: this.buffer[4]!,
        streamId: this.buffer.readUInt32BE(5) & 0x7fffffff,
        payload: Buffer.from(this.buffer.subarray(9, 9 + length)),
      };
      this.buffer = this.buffer.subarray(9 + length);
      if (this.waiter !== null) {
        const resolve = this.waiter;
        this.waiter = null;
        resolve(parsed);
      } else {
        this.frames.push(parsed);
      }
    }
  }

  async next(): Promise<Frame> {
    const queued = this.frames.shift();
    if (queued !== undefined) return queued;
    if (this.closedError !== null) throw this.closedError;
    const got = await new Promise<Frame>((resolve) => (this.waiter = resolve));
    if (got.type === -1) throw this.closedError ?? new Error('connection closed');
    return got;
  }

  /** The next complete header block (HEADERS + CONTINUATION joined, padding and priority removed). */
  async nextHeaderBlock(onOther: (frame: Frame) => void): Promise<{ streamId: number; block: Buffer; endStream: boolean }> {
    for (;;) {
      const first = await this.next();
      if (first.type !== HEADERS) {
        onOther(first);
        continue;
      }
      let payload = first.payload;
      if (first.flags & PADDED) payload = payload.subarray(1, payload.length - payload[0]!);
      if (first.flags & PRIORITY) payload = payload.subarray(5);
      const pieces = [payload];
      let flags = first.flags;
      while ((flags & END_HEADERS) === 0) {
        const continuation = await this.next();
        assert.equal(continuation.type, CONTINUATION);
        pieces.push(continuation.payload);
        flags = continuation.flags;
      }
      return { streamId: first.streamId, block: Buffer.concat(pieces), endStream: (first.flags & END_STREAM) !== 0 };
    }
  }
}

function customFields(i: number): string[] {
  const fields = [
    'x-request', String(i),
    'x-repeat', 'same value every time',
    'user-agent', 'hpack-test/1.0 (' + 'ua'.repeat(i % 5) + ')',
    'accept', i % 2 === 0 ? 'text/html' : 'application/json',
    'x-latin1', 'caf\u00e9 \u00ff\u00a0',
    'x-big', 'b'.repeat(i % 10 === 9 ? 3000 : 10),
    // Indexed on repeat (a few values recurring, some fresh each time).
    'etag', i % 5 === 4 ? `"fresh-${i}"` : `"${i % 3}-5f3a-9c"`,
    'last-modified', i % 2 === 0 ? 'Tue, 01 Dec 2026 10:00:00 GMT' : 'Wed, 02 Dec 2026 08:30:00 GMT',
  ];
  if (i % 3 === 0) fields.push('authorization', 'Bearer token-' + i);
  if (i % 4 === 0) fields.push('cookie', 'a=' + i);
  if (i % 7 === 0) fields.push('x-many', 'm'.repeat(20_000)); // a block spanning CONTINUATION frames
  return fields;
}

test('nghttp2 encoder -> our decoder, including SETTINGS_HEADER_TABLE_SIZE changes acknowledged mid-connection', async (t) => {
  const decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = http2.connect(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  client.on('error', () => {});
  t.after(() => client.destroy());
  const [socket] = await accepted;
  t.after(() => socket.destroy());
  const reader = new FrameReader(socket, true);
  socket.write(frame(SETTINGS, 0, 0));

  let pendingTableSize: number | null = null;
  let settingsAcks = 0;
  const onOther = (other: Frame): void => {
    if (other.type === SETTINGS && (other.flags & ACK) === 0) socket.write(frame(SETTINGS, ACK, 0));
    if (other.type === SETTINGS && (other.flags & ACK) !== 0) {
      settingsAcks++;
      // The peer acknowledged: from now on its blocks follow the new size (RFC 7541 §4.2).
      if (pendingTableSize !== null) decoder.setMaxTableSize(pendingTableSize);
      pendingTableSize = null;
    }
  };
  const waitForAck = async (count: number): Promise<void> => {
    while (settingsAcks < count) onOther(await reader.next());
  };
  await waitForAck(1);

  const schedule: Record<number, number> = { 10: 256, 20: 0, 30: 8192, 40: 64, 45: 4096 };
  let neverIndexedSeen = 0;
  let sizeUpdatesSeen = 0;
  for (let i = 0; i < 60; i++) {
    const newSize = schedule[i];
    if (newSize !== undefined) {
      pendingTableSize = newSize;
      socket.write(frame(SETTINGS, 0, 0, settingsPayload([[SETTINGS_HEADER_TABLE_SIZE, newSize]])));
      await waitForAck(settingsAcks + 1);
    }
    const fields = customFields(i);
    const request: http2.OutgoingHttpHeaders = { ':path': `/item/${i}` };
    for (let f = 0; f < fields.length; f += 2) request[fields[f]!] = fields[f + 1]!;
    client.request(request, { endStream: true }).on('error', () => {});
    const { block } = await reader.nextHeaderBlock(onOther);
    if ((block[0]! & 0xe0) === 0x20) sizeUpdatesSeen++;
    const headers = decoder.decode(block);
    assert.equal(decoder.lastBlockTooLarge, false);
    const pseudo = new Map<string, string>();
    const regular: string[] = [];
    for (let h = 0; h < headers.length; h += 2) {
      if (headers[h]!.startsWith(':')) pseudo.set(headers[h]!, headers[h + 1]!);
      else regular.push(headers[h]!, headers[h + 1]!);
    }
    assert.equal(pseudo.get(':path'), `/item/${i}`);
    assert.equal(pseudo.get(':method'), 'GET');
    assert.deepEqual(regular, fields, `request ${i}`);
    for (const name of decoder.lastNeverIndexed ?? []) {
      assert.ok(name === 'authorization' || name === 'cookie', name);
      neverIndexedSeen++;
    }
    assert.ok(decoder.tableSize <= decoder.tableMaxSize);
  }
  assert.ok(neverIndexedSeen > 0, 'nghttp2 sent never-indexed fields');
  assert.ok(sizeUpdatesSeen >= 3, `nghttp2 signalled the size changes (${sizeUpdatesSeen})`);
});

test('our encoder -> nghttp2 decoder (node:http2 server), with the server shrinking and growing its table', async (t) => {
  const server = http2.createServer({ settings: { headerTableSize: 1024 }, maxHeaderListSize: 1 << 20 } as http2.ServerOptions);
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-echo-count': String(rawHeaders.length) });
    const sensitive = (headers as Record<symbol, unknown>)[http2.sensitiveHeaders] ?? [];
    stream.end(JSON.stringify({ raw: rawHeaders, sensitive }));
  });
  let serverSession: http2.ServerHttp2Session | undefined;
  server.on('session', (session) => (serverSession = session));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());

  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  t.after(() => socket.destroy());
  await once(socket, 'connect');
  const reader = new FrameReader(socket, false);
  const encoder = new HpackEncoder({ maxTableSize: 4096 });
  const decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
  socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0), frame(WINDOW_UPDATE, 0, 0, Buffer.from([0, 0xff, 0, 0]))]));

  let settingsReceived = 0;
  const tableSizesApplied: number[] = [];
  const onOther = (other: Frame): void => {
    if (other.type === SETTINGS && (other.flags & ACK) === 0) {
      for (let p = 0; p + 6 <= other.payload.length; p += 6) {
        if (other.payload.readUInt16BE(p) === SETTINGS_HEADER_TABLE_SIZE) {
          const size = other.payload.readUInt32BE(p + 2);
          encoder.setMaxTableSize(size);
          tableSizesApplied.push(size);
        }
      }
      socket.write(frame(SETTINGS, ACK, 0));
      settingsReceived++;
    } else if (other.type === GOAWAY) {
      assert.fail(`server sent GOAWAY code ${other.payload.readUInt32BE(4)}: ${other.payload.subarray(8).toString()}`);
    } else if (other.type === PING && (other.flags & ACK) === 0) {
      socket.write(frame(PING, ACK, 0, other.payload));
    }
  };
  while (settingsReceived < 1) onOther(await reader.next());
  assert.deepEqual(tableSizesApplied, [1024]);

  const changes: Record<number, number> = { 15: 100, 30: 4096, 45: 0, 50: 2048 };
  let streamId = 1;
  for (let i = 0; i < 60; i++) {
    const change = changes[i];
    if (change !== undefined) {
      serverSession!.settings({ headerTableSize: change });
      const before = settingsReceived;
      while (settingsReceived === before) onOther(await reader.next());
    }
    const fields = customFields(i);
    const sent = [':method', 'GET', ':scheme', 'http', ':authority', 'localhost', ':path', `/item/${i}`, ...fields];
    const block = encoder.encode(sent);
    socket.write(headerFrames(streamId, block, true));

    const response = await reader.nextHeaderBlock(onOther);
    assert.equal(response.streamId, streamId);
    const responseHeaders = decoder.decode(response.block);
    assert.deepEqual(responseHeaders.slice(0, 2), [':status', '200']);
    let body = '';
    for (;;) {
      const next = await reader.next();
      if (next.type === DATA && next.streamId === streamId) {
        body += next.payload.toString('latin1');
        if (next.flags & END_STREAM) break;
      } else {
        onOther(next);
      }
    }
    const echoed = JSON.parse(Buffer.from(body, 'latin1').toString('utf8')) as { raw: string[]; sensitive: string[] };
    assert.deepEqual(echoed.raw.slice(8), fields, `request ${i}: nghttp2 decoded our block differently`);
    assert.deepEqual(echoed.raw.slice(0, 8), sent.slice(0, 8));
    // nghttp2 reports never-indexed fields: ours are authorization and short cookies.
    const expectedSensitive = fields.filter((name, f) => f % 2 === 0 && (name === 'authorization' || name === 'cookie'));
    assert.deepEqual([...echoed.sensitive].sort(), [...expectedSensitive].sort(), `request ${i} sensitive fields`);
    streamId += 2;
  }
  assert.deepEqual(tableSizesApplied, [1024, 100, 4096, 0, 2048]);
  socket.write(frame(GOAWAY, 0, 0, Buffer.alloc(8)));
});
