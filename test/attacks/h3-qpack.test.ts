/**
 * HTTP/3 and QPACK attacks over real UDP against a live QuicEndpoint while ngtcp2's gtlsclient keeps being served:
 * QPACK bombs (a few bytes of references to a large dynamic entry), encoder-stream insert floods, blocked-stream
 * floods past SETTINGS_QPACK_BLOCKED_STREAMS, and Rapid Reset carried over to HTTP/3. The attacker writes raw HTTP/3
 * streams on the project's own QUIC client (test/quic/support/udp-client.ts); every case is bounded and ends by itself.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { H3ErrorCode } from '../../src/h3/errors.js';
import { encodeFrame, encodeSettingsFrame, FrameParser, FrameType, StreamType } from '../../src/h3/frames.js';
import { ByteWriter } from '../../src/h3/qpack/primitives.js';
import { QpackDecoder } from '../../src/h3/qpack/decoder.js';
import { writeDuplicate, writeInsertWithLiteralName, writeSetCapacity } from '../../src/h3/qpack/instructions.js';
import { encodeVarint } from '../../src/h3/varint.js';
import { startTarget, underH3Attack, type H3Target } from '../quic/support/h3-attack-harness.js';
import { UdpQuicClient } from '../quic/support/udp-client.js';

/** Our server's SETTINGS_QPACK_MAX_TABLE_CAPACITY (DEFAULT_H3_LIMITS): 4096 bytes, so MaxEntries = 128 (RFC 9204 §3.2.2). */
const MAX_ENTRIES = 4096 / 32;

/** A field-section prefix (RFC 9204 §4.5.1) for `requiredInsertCount`, with Base = Required Insert Count. */
function prefix(requiredInsertCount: number): number[] {
  const encoded = requiredInsertCount === 0 ? 0 : (requiredInsertCount % (2 * MAX_ENTRIES)) + 1;
  assert.ok(encoded < 255);
  return [encoded, 0x00];
}

/** GET https://localhost/ from the static table (§4.5.2 indexed lines, §4.5.4 literal with name reference). */
const STATIC_GET = [0xc0 | 17, 0xc0 | 23, 0xc0 | 1, 0x50, 9, ...Buffer.from('localhost')];

/**
 * An attacker speaking HTTP/3 by hand on a QUIC connection: its own control stream (empty SETTINGS: a peer decoder
 * of capacity 0, so the server answers in static and literal lines only) and encoder stream, raw request streams.
 */
class RawH3Attacker {
  readonly encoderStream: number;

  private constructor(readonly client: UdpQuicClient) {
    this.openUni(StreamType.CONTROL, encodeSettingsFrame([]));
    this.encoderStream = this.openUni(StreamType.QPACK_ENCODER, new Uint8Array(0));
  }

  static async connect(target: H3Target): Promise<RawH3Attacker> {
    const client = await UdpQuicClient.connect({ port: target.port, localAddress: '127.0.0.3' });
    await client.handshake();
    return new RawH3Attacker(client);
  }

  private openUni(type: number, payload: Uint8Array): number {
    const id = this.client.quic.openStream(true);
    this.client.quic.sendStreamData(id, Uint8Array.from([...encodeVarint(type), ...payload]), false);
    this.client.service();
    return id;
  }

  encoder(instructions: Uint8Array): void {
    this.client.quic.sendStreamData(this.encoderStream, instructions, false);
    this.client.service();
  }

  /** A request stream carrying one HEADERS frame with `section`, ended. */
  request(section: number[] | Uint8Array): number {
    const id = this.client.quic.openStream(false);
    assert.ok(id >= 0, 'MAX_STREAMS reached');
    this.client.quic.sendStreamData(id, encodeFrame(FrameType.HEADERS, Uint8Array.from(section)), true);
    this.client.service();
    return id;
  }

  /** The status of the response on `streamId` (its HEADERS decoded with a capacity-0 QPACK decoder). */
  async status(streamId: number): Promise<number> {
    let status: number | undefined;
    await this.client.waitFor(() => {
      const parser = new FrameParser(1 << 20);
      for (const event of this.client.quicEvents) if (event.type === 'streamData' && event.streamId === streamId) parser.append(event.data);
      for (let item = parser.next(); item !== null; item = parser.next()) {
        if (item.kind !== 'frame' || item.type !== FrameType.HEADERS) continue;
        const decoded = new QpackDecoder({ maxTableCapacity: 0, maxBlockedStreams: 0, maxFieldSectionSize: 1 << 20 }).decodeFieldSection(streamId, item.payload);
        assert.equal(decoded.status, 'done');
        if (decoded.status === 'done') status = Number(decoded.fields[decoded.fields.indexOf(':status') + 1]);
        return true;
      }
      return false;
    }, `the response on stream ${streamId}`);
    return status!;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

async function withRawAttacker(target: H3Target, body: (attacker: RawH3Attacker) => Promise<string>): Promise<string> {
  const attacker = await RawH3Attacker.connect(target);
  try {
    return await body(attacker);
  } finally {
    await attacker.close();
  }
}

function instructions(write: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  write(w);
  return w.take();
}

/** Expects the server to close the connection with the HTTP/3 `code`; returns a description. */
async function expectH3Close(attacker: RawH3Attacker, code: number): Promise<string> {
  const closed = await attacker.client.closedByServer();
  assert.equal(closed.byPeer, true, `the attacking client closed by itself: ${closed.reason}`);
  assert.equal(`0x${closed.code.toString(16)}`, `0x${code.toString(16)}`, `CONNECTION_CLOSE code (reason: ${closed.reason})`);
  return `CONNECTION_CLOSE 0x${closed.code.toString(16)} "${closed.reason}"`;
}

describe('HTTP/3 and QPACK attacks (real UDP)', () => {
  let target: H3Target;
  before(async () => {
    target = await startTarget();
  });
  after(async () => {
    await target?.close();
  });

  test('QPACK bomb: 2,000 one-byte references to a 3 KB entry (6 MB decoded) → 431 at the 64 KiB limit, the connection serves on', async (t) => {
    await underH3Attack(t, target, 'QPACK bomb', () => withRawAttacker(target, async (attacker) => {
      attacker.encoder(instructions((w) => {
        writeSetCapacity(w, 4096);
        writeInsertWithLiteralName(w, 'x-bomb', 'b'.repeat(3000), false);
      }));
      // RFC 9204 §4.5.2: an indexed field line with a relative index of 0 (the entry just inserted) is one byte.
      const bomb = attacker.request([...prefix(1), ...STATIC_GET, ...new Array<number>(2000).fill(0x80)]);
      assert.equal(await attacker.status(bomb), 431);
      // The same connection still serves a plain request.
      const plain = attacker.request([...prefix(0), ...STATIC_GET]);
      assert.equal(await attacker.status(plain), 200);
      assert.equal(attacker.client.terminated, undefined);
      return `2,008-byte HEADERS answered 431 (RFC 9114 §4.2.2); the next request on the connection got 200`;
    }));
  });

  test('encoder-stream insert flood: 12,000 Duplicate instructions → H3_EXCESSIVE_LOAD past the instruction budget', async (t) => {
    await underH3Attack(t, target, 'QPACK insert flood', () => withRawAttacker(target, async (attacker) => {
      attacker.encoder(instructions((w) => {
        writeSetCapacity(w, 4096);
        writeInsertWithLiteralName(w, 'x', 'y', false);
      }));
      // Each Duplicate (RFC 9204 §4.3.4) of the newest entry evicts the oldest: table churn without a request.
      for (let round = 0; round < 12 && attacker.client.terminated === undefined; round++) {
        attacker.encoder(instructions((w) => {
          for (let i = 0; i < 1000; i++) writeDuplicate(w, 0);
        }));
      }
      return expectH3Close(attacker, H3ErrorCode.H3_EXCESSIVE_LOAD);
    }));
  });

  test('blocked-stream flood: 17 requests waiting for inserts that never come → QPACK_DECOMPRESSION_FAILED past SETTINGS_QPACK_BLOCKED_STREAMS (16)', async (t) => {
    await underH3Attack(t, target, 'blocked-stream flood', () => withRawAttacker(target, async (attacker) => {
      attacker.encoder(instructions((w) => writeSetCapacity(w, 4096)));
      // Each section needs insert 5; none is ever sent (RFC 9204 §2.1.2: blocked until then).
      for (let i = 0; i < 17 && attacker.client.terminated === undefined; i++) attacker.request([...prefix(5), 0x80]);
      return expectH3Close(attacker, H3ErrorCode.QPACK_DECOMPRESSION_FAILED);
    }));
  });

  test('Rapid Reset over HTTP/3 (CVE-2023-44487): 1,500 requests cancelled at once → H3_EXCESSIVE_LOAD', async (t) => {
    await underH3Attack(t, target, 'Rapid Reset', async () => {
      const client = await UdpQuicClient.connect({ port: target.port, localAddress: '127.0.0.4', h3: true });
      try {
        await client.handshake();
        const h3 = client.h3!;
        let cancelled = 0;
        while (cancelled < 1500 && client.terminated === undefined) {
          // As many as MAX_STREAMS allows now; the server raises it as the cancelled streams close.
          await client.waitFor(() => client.canOpenStream || client.terminated !== undefined, 'stream credit');
          const batch: number[] = [];
          for (; batch.length < 100 && cancelled < 1500 && client.canOpenStream; cancelled++) {
            batch.push(h3.sendRequest([':method', 'GET', ':scheme', 'https', ':authority', 'localhost', ':path', `/slow${cancelled}`], true));
          }
          // The requests go out first (a reset queued with them would abandon their bytes), then the cancellations:
          // RESET_STREAM and STOP_SENDING (RFC 9114 §4.1.1.1), before the application's answer 100 ms later.
          client.service();
          for (const id of batch) {
            client.quic.resetStream(id, H3ErrorCode.H3_REQUEST_CANCELLED);
            client.quic.stopSending(id, H3ErrorCode.H3_REQUEST_CANCELLED);
          }
          client.service();
        }
        const closed = await client.closedByServer();
        assert.equal(closed.byPeer, true, `the client closed by itself: ${closed.reason}`);
        assert.equal(closed.code, H3ErrorCode.H3_EXCESSIVE_LOAD, closed.reason);
        return `closed with H3_EXCESSIVE_LOAD after ${cancelled} cancelled requests ("${closed.reason}")`;
      } finally {
        await client.close();
      }
    });
  });
});
