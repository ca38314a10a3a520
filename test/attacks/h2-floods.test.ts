/**
 * HTTP/2 flood attacks over TLS against a live httpsd (server in a child process) while a well-behaved node:http2
 * client keeps being served: rapid reset, MadeYouReset, CONTINUATION floods, HPACK bombs, SETTINGS/PING floods
 * without reading, empty DATA floods, WINDOW_UPDATE overflow.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PATIENCE_MS, ServerProcess, sleep, underAttack } from './lib/harness.js';
import { RawH2 } from './lib/raw-client.js';
import {
  ErrorCodes,
  FrameType,
  continuationFrame,
  dataFrame,
  errorName,
  frame,
  headersFrame,
  pingFrame,
  rstStreamFrame,
  settingsFrame,
  windowUpdateFrame,
} from './lib/frames.js';
import { indexed, literal, literalIndexed, requestBlock, tableSizeUpdate } from './lib/hpack.js';

let server: ServerProcess;

before(async () => {
  server = await ServerProcess.start({ limits: { writeProgressTimeout: 1500 } });
});
after(async () => {
  await server?.stop();
});

/** Asserts the server ended the connection with GOAWAY(expected) and closed it; returns a description. */
async function expectGoaway(client: RawH2, expected: number, timeoutMs = PATIENCE_MS): Promise<string> {
  const { goaway, afterMs } = await client.serverClose(timeoutMs);
  assert.ok(goaway !== undefined, 'the server closed without GOAWAY');
  assert.equal(errorName(goaway.code), errorName(expected), `GOAWAY code (debug: ${goaway.debug})`);
  return `GOAWAY(${errorName(goaway.code)}${goaway.debug ? `, "${goaway.debug}"` : ''}) and close after ${afterMs} ms`;
}

const GET = requestBlock({ path: '/' });

describe('HTTP/2 floods', () => {
  test('rapid reset (CVE-2023-44487): HEADERS + RST_STREAM in a loop', async (t) => {
    await underAttack(t, server, 'rapid reset', async () => {
      const client = await RawH2.connect(server.port);
      let streamId = 1;
      const sent = await client.flood(() => {
        const batch: Uint8Array[] = [];
        for (let i = 0; i < 50 && streamId < 0x7fffffff; i++, streamId += 2) {
          batch.push(headersFrame(streamId, GET, { endStream: true }), rstStreamFrame(streamId, ErrorCodes.CANCEL));
        }
        return Buffer.concat(batch);
      });
      const outcome = await expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
      return `${outcome}; ${(streamId - 1) / 2} streams opened+reset in ${sent} writes`;
    });
  });

  test('MadeYouReset (CVE-2025-8671): valid request then WINDOW_UPDATE overflow on the stream, in a loop', async (t) => {
    await underAttack(t, server, 'MadeYouReset (stream WINDOW_UPDATE overflow)', async () => {
      const client = await RawH2.connect(server.port);
      let streamId = 1;
      await client.flood(() => {
        const batch: Uint8Array[] = [];
        for (let i = 0; i < 50; i++, streamId += 2) {
          // RFC 9113 §6.9.1: a stream window above 2^31-1 is a stream FLOW_CONTROL_ERROR: the server resets it.
          batch.push(headersFrame(streamId, GET, { endStream: true }), windowUpdateFrame(streamId, 0x7fffffff));
        }
        return Buffer.concat(batch);
      });
      const outcome = await expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
      const flowResets = [...client.resets.values()].filter((code) => code === ErrorCodes.FLOW_CONTROL_ERROR).length;
      assert.ok(flowResets > 0, 'the server never reset a stream with FLOW_CONTROL_ERROR');
      return `${outcome}; ${flowResets} RST_STREAM(FLOW_CONTROL_ERROR) before it`;
    });
  });

  test('MadeYouReset: DATA after END_STREAM, in a loop', async (t) => {
    await underAttack(t, server, 'MadeYouReset (DATA after END_STREAM)', async () => {
      const client = await RawH2.connect(server.port);
      let streamId = 1;
      const payload = Buffer.from('x');
      await client.flood(() => {
        const batch: Uint8Array[] = [];
        for (let i = 0; i < 50; i++, streamId += 2) {
          // RFC 9113 §5.1: DATA on a half-closed (remote) stream is a stream error STREAM_CLOSED.
          batch.push(headersFrame(streamId, GET, { endStream: true }), dataFrame(streamId, payload));
        }
        return Buffer.concat(batch);
      });
      const outcome = await expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
      return `${outcome}; ${client.resets.size} streams reset by the server before it`;
    });
  });

  test('CONTINUATION flood: endless CONTINUATION without END_HEADERS', async (t) => {
    await underAttack(t, server, 'CONTINUATION flood (endless)', async () => {
      const client = await RawH2.connect(server.port);
      const fragment = Buffer.from(literal('x-filler', 'a'.repeat(1000)));
      let sent = 0;
      await client.flood((i) => {
        if (i === 0) return headersFrame(1, GET, { endHeaders: false });
        sent++;
        return continuationFrame(1, fragment, false);
      });
      const outcome = await expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
      return `${outcome}; ${sent} CONTINUATION frames written before the close`;
    });
  });

  test('CONTINUATION flood: empty CONTINUATION frames without END_HEADERS', async (t) => {
    await underAttack(t, server, 'CONTINUATION flood (empty frames)', async () => {
      const client = await RawH2.connect(server.port);
      await client.flood((i) => (i === 0 ? headersFrame(1, GET, { endHeaders: false }) : continuationFrame(1, Buffer.alloc(0), false)));
      return expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
    });
  });

  test('CONTINUATION: many small fragments ending with END_HEADERS, over the frame-count limit', async (t) => {
    await underAttack(t, server, 'CONTINUATION over the limit (with END_HEADERS)', async () => {
      const client = await RawH2.connect(server.port);
      const frames = [headersFrame(1, GET, { endHeaders: false, endStream: true })];
      const fragment = Buffer.from(literal('x-a', 'b'));
      for (let i = 0; i < 40; i++) frames.push(continuationFrame(1, fragment, i === 39));
      client.write(Buffer.concat(frames));
      const outcome = await expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
      assert.ok(!client.responded.has(1), 'the server answered a request whose block exceeded the CONTINUATION limit');
      return outcome;
    });
  });

  test('CONTINUATION: a few full-size fragments, over the encoded header block limit', async (t) => {
    await underAttack(t, server, 'CONTINUATION over the block-size limit', async () => {
      const client = await RawH2.connect(server.port);
      // 1 + 8 frames of 16 KiB = 144 KiB: no more CONTINUATION frames than maxContinuationFrames (8), more bytes than
      // maxHeaderBlockBytes (128 KiB), which is checked while the fragments arrive, before any decoding.
      const filler = Buffer.from(literal('x-filler', 'f'.repeat(16_370)));
      const frames = [headersFrame(1, Buffer.concat([GET, filler.subarray(0, 16_384 - GET.length)]), { endHeaders: false, endStream: true })];
      for (let i = 0; i < 8; i++) frames.push(continuationFrame(1, Buffer.alloc(16_384, 0x61), i === 7));
      client.write(Buffer.concat(frames));
      const outcome = await expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
      assert.ok(!client.responded.has(1));
      return outcome;
    });
  });

  test('HPACK bomb: one dynamic-table entry referenced thousands of times per block', async (t) => {
    await underAttack(t, server, 'HPACK bomb', async () => {
      const client = await RawH2.connect(server.port);
      // Stream 1 puts a ~4 KB field into the dynamic table (index 62); it is a valid, answered request.
      client.write(headersFrame(1, Buffer.from([...requestBlock(), ...literalIndexed('x-bomb', 'z'.repeat(4000))]), { endStream: true }));
      await client.until(() => client.responded.has(1), 'the answer to the table-priming request');
      // Each further 16 KB block decodes to 16000 x 4 KB = 64 MB unless the decoder stops at the header list limit.
      const references = Buffer.alloc(16_000, Buffer.from(indexed(62)));
      let streamId = 3;
      await client.flood(() => {
        const block = Buffer.concat([GET, references]);
        const out = headersFrame(streamId, block, { endStream: true });
        streamId += 2;
        return out;
      }, 15_000);
      const bombs = (streamId - 3) / 2;
      const outcome = await expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
      const answered = [...client.responded].filter((id) => id > 1).length;
      return `${outcome}; ${bombs} bombs (64 MB decoded each if unbounded) sent, ${answered} answered (431) before the close`;
    });
  });

  test('HPACK table size games: an update above SETTINGS_HEADER_TABLE_SIZE, and one after a field', async (t) => {
    await underAttack(t, server, 'HPACK table size games', async () => {
      // RFC 7541 §6.3: a new maximum above the protocol setting (4096) is a decoding error.
      const tooLarge = await RawH2.connect(server.port);
      tooLarge.write(headersFrame(1, Buffer.from([...tableSizeUpdate(1 << 30), ...GET]), { endStream: true }));
      const first = await expectGoaway(tooLarge, ErrorCodes.COMPRESSION_ERROR);
      // RFC 7541 §4.2: a size update must come at the beginning of the block.
      const misplaced = await RawH2.connect(server.port);
      misplaced.write(headersFrame(1, Buffer.from([...GET, ...tableSizeUpdate(0)]), { endStream: true }));
      const second = await expectGoaway(misplaced, ErrorCodes.COMPRESSION_ERROR);
      // Thousands of size updates (shrink/grow) in one block: bounded work, then a normal answer or an error.
      const churn = await RawH2.connect(server.port);
      const updates: number[] = [];
      for (let i = 0; i < 2000; i++) updates.push(...tableSizeUpdate(i % 2 === 0 ? 0 : 4096));
      churn.write(headersFrame(1, Buffer.from([...updates, ...GET]), { endStream: true }));
      await churn.until(() => churn.responded.has(1) || churn.goaway !== undefined, 'an answer or a GOAWAY');
      const third = churn.goaway ? `GOAWAY(${errorName(churn.goaway.code)})` : 'answered normally';
      churn.destroy();
      return `size update 2^30: ${first}; misplaced update: ${second}; 2000 updates in one block: ${third}`;
    });
  });

  test('SETTINGS frame with more entries than the per-frame cap', async (t) => {
    await underAttack(t, server, 'SETTINGS with 100 entries', async () => {
      const client = await RawH2.connect(server.port);
      // Repeated identifiers are legal (RFC 9113 §6.5), so only a cap bounds the work of one frame.
      client.write(settingsFrame(Array.from({ length: 100 }, (_, i) => [0x4, 65535 + i] as [number, number])));
      return expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
    });
  });

  test('SETTINGS flood while never reading the ACKs', async (t) => {
    await underAttack(t, server, 'SETTINGS flood (not reading)', async () => {
      const client = await RawH2.connect(server.port);
      client.stopReading();
      const settings = settingsFrame([[0x4, 65535]]);
      const batch = Buffer.concat(Array.from({ length: 200 }, () => settings));
      // 10,000 SETTINGS (5x the control budget), then silence: a socket closed with unread input is reset (RST)
      // by the kernel, which would discard the GOAWAY waiting in our receive buffer.
      const writes = await client.flood((i) => (i < 50 ? batch : null), 8000);
      await sleep(300);
      // Read what the server left for us: its GOAWAY is behind the ACKs it did send.
      client.socket.resume();
      const outcome = await expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
      return `${outcome}; ${writes * 200} SETTINGS written, ${client.count(FrameType.SETTINGS)} SETTINGS frames received`;
    });
  });

  test('PING flood while never reading the ACKs', async (t) => {
    await underAttack(t, server, 'PING flood (not reading)', async () => {
      const client = await RawH2.connect(server.port);
      client.stopReading();
      const batch = Buffer.concat(Array.from({ length: 200 }, () => pingFrame()));
      const writes = await client.flood((i) => (i < 50 ? batch : null), 8000);
      await sleep(300);
      client.socket.resume();
      const outcome = await expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
      return `${outcome}; ${writes * 200} PINGs written, ${client.count(FrameType.PING)} PING ACKs received`;
    });
  });

  test('empty DATA frame flood on an open request', async (t) => {
    await underAttack(t, server, 'empty DATA flood', async () => {
      const client = await RawH2.connect(server.port);
      const empty = dataFrame(1, Buffer.alloc(0));
      const batch = Buffer.concat(Array.from({ length: 200 }, () => empty));
      await client.flood((i) => (i === 0 ? headersFrame(1, requestBlock({ method: 'POST', path: '/echo' })) : batch));
      return expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
    });
  });

  test('connection-level WINDOW_UPDATE overflow', async (t) => {
    await underAttack(t, server, 'WINDOW_UPDATE overflow (connection)', async () => {
      const client = await RawH2.connect(server.port);
      // RFC 9113 §6.9.1: a connection window above 2^31-1 is a connection FLOW_CONTROL_ERROR.
      client.write(Buffer.concat([windowUpdateFrame(0, 0x7fffffff), windowUpdateFrame(0, 0x7fffffff)]));
      const overflow = await expectGoaway(client, ErrorCodes.FLOW_CONTROL_ERROR);
      // A flood of tiny connection WINDOW_UPDATEs that never overflows: the server answers none of them (no
      // amplification), so it costs the attacker as much bandwidth as it costs the server parsing.
      const flood = await RawH2.connect(server.port);
      const batch = Buffer.concat(Array.from({ length: 200 }, () => windowUpdateFrame(0, 1)));
      const writes = await flood.flood(() => batch, 1000);
      const received = flood.receivedBytes;
      await sleep(100);
      assert.ok(flood.receivedBytes - received < 1024, 'the server answered WINDOW_UPDATE frames');
      const tiny = flood.goaway ? `GOAWAY(${errorName(flood.goaway.code)})` : 'absorbed without any answer';
      flood.destroy();
      return `overflow: ${overflow}; ${writes * 200} increment-1 WINDOW_UPDATEs in 1 s: ${tiny}`;
    });
  });

  test('unknown frame types flood', async (t) => {
    await underAttack(t, server, 'unknown frame type flood', async () => {
      const client = await RawH2.connect(server.port);
      // RFC 9113 §5.5: unknown types are ignored, which must not make them free.
      const batch = Buffer.concat(Array.from({ length: 200 }, () => frame(0xfa, 0, 0, Buffer.alloc(16))));
      await client.flood(() => batch);
      return expectGoaway(client, ErrorCodes.ENHANCE_YOUR_CALM);
    });
  });
});
