/**
 * HTTP/2 stream-level attacks over TLS against a live httpsd while a well-behaved client keeps being served:
 * stream-id reuse and exhaustion, zero-window slow reads of a large response, max streams that never send their
 * body, oversized frames, invalid prefaces.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MB, PATIENCE_MS, ServerProcess, sleep, underAttack } from './lib/harness.js';
import { RawH2, connectTls, closedWithin, collectText } from './lib/raw-client.js';
import { ErrorCodes, FrameType, Setting, dataFrame, pingFrame, errorName, frame, headersFrame, windowUpdateFrame } from './lib/frames.js';
import { requestBlock } from './lib/hpack.js';

const WRITE_PROGRESS_TIMEOUT = 1500;
const REQUEST_TIMEOUT = 2500;
// Not triggered by any attack here: long enough that a well-behaved client starved for a moment on a busy machine is
// not sent an idle GOAWAY that races its next request.
const IDLE_TIMEOUT = 10_000;

let server: ServerProcess;

before(async () => {
  server = await ServerProcess.start({
    // node:http requires headersTimeout <= requestTimeout.
    limits: { writeProgressTimeout: WRITE_PROGRESS_TIMEOUT, requestTimeout: REQUEST_TIMEOUT, headersTimeout: 2000, idleTimeout: IDLE_TIMEOUT },
  });
});
after(async () => {
  await server?.stop();
});

async function expectGoaway(client: RawH2, expected: number, timeoutMs = PATIENCE_MS): Promise<string> {
  const { goaway, afterMs } = await client.serverClose(timeoutMs);
  assert.ok(goaway !== undefined, 'the server closed without GOAWAY');
  assert.equal(errorName(goaway.code), errorName(expected), `GOAWAY code (debug: ${goaway.debug})`);
  return `GOAWAY(${errorName(goaway.code)}${goaway.debug ? `, "${goaway.debug}"` : ''}) after ${afterMs} ms`;
}

const GET = requestBlock({ path: '/' });
const MAX_STREAM_ID = 0x7fffffff;

describe('HTTP/2 stream attacks', () => {
  test('stream ids: decreasing, reused, even, and the last id 2^31-1', async (t) => {
    await underAttack(t, server, 'stream-id reuse and exhaustion', async () => {
      const outcomes: string[] = [];
      // RFC 9113 §5.1.1: a new stream id lower than one already used is a connection PROTOCOL_ERROR.
      const decreasing = await RawH2.connect(server.port);
      decreasing.write(Buffer.concat([headersFrame(5, GET, { endStream: true }), headersFrame(3, GET, { endStream: true })]));
      outcomes.push(`decreasing: ${await expectGoaway(decreasing, ErrorCodes.PROTOCOL_ERROR)}`);
      // Reuse of a finished stream: a HEADERS on a closed stream (STREAM_CLOSED, §5.1) or an id not above the
      // last one (PROTOCOL_ERROR, §5.1.1) — both connection errors.
      const reused = await RawH2.connect(server.port);
      reused.write(headersFrame(1, GET, { endStream: true }));
      await reused.until(() => reused.responded.has(1), 'the first answer');
      await sleep(20);
      reused.write(headersFrame(1, GET, { endStream: true }));
      const { goaway, afterMs } = await reused.serverClose();
      assert.ok(goaway && (goaway.code === ErrorCodes.PROTOCOL_ERROR || goaway.code === ErrorCodes.STREAM_CLOSED), 'reuse: GOAWAY code');
      outcomes.push(`reused: GOAWAY(${errorName(goaway.code)}) after ${afterMs} ms`);
      // §5.1.1: client streams are odd.
      const even = await RawH2.connect(server.port);
      even.write(headersFrame(2, GET, { endStream: true }));
      outcomes.push(`even: ${await expectGoaway(even, ErrorCodes.PROTOCOL_ERROR)}`);
      // The last usable id is served; nothing can follow it but errors (§5.1.1: ids cannot be reused).
      const last = await RawH2.connect(server.port);
      last.write(headersFrame(MAX_STREAM_ID - 2, GET, { endStream: true }));
      last.write(headersFrame(MAX_STREAM_ID, GET, { endStream: true }));
      await last.until(() => last.responded.has(MAX_STREAM_ID), 'the answer on stream 2^31-1');
      last.write(headersFrame(MAX_STREAM_ID, GET, { endStream: true }));
      const end = await last.serverClose();
      assert.ok(end.goaway && (end.goaway.code === ErrorCodes.PROTOCOL_ERROR || end.goaway.code === ErrorCodes.STREAM_CLOSED));
      outcomes.push(`2^31-1 answered, then reuse: GOAWAY(${errorName(end.goaway.code)})`);
      return outcomes.join('; ');
    });
  });

  test('zero-window slow read: INITIAL_WINDOW_SIZE 0 on a 32 MiB response', async (t) => {
    await underAttack(t, server, 'zero-window slow read (INITIAL_WINDOW_SIZE 0)', async () => {
      const before = (await server.sample()).counters.bigBytesProduced!;
      const client = await RawH2.connect(server.port, { settings: [[Setting.INITIAL_WINDOW_SIZE, 0]] });
      client.write(headersFrame(1, requestBlock({ path: '/big' }), { endStream: true }));
      await client.until(() => client.responded.has(1), 'the response headers');
      const { afterMs } = await client.serverClose(WRITE_PROGRESS_TIMEOUT + PATIENCE_MS);
      const produced = (await server.sample()).counters.bigBytesProduced! - before;
      assert.equal(client.dataBytes, 0, 'DATA was sent into a zero window');
      // The server pulls at most its per-stream high-water mark from the body, never the whole 32 MiB.
      assert.ok(produced < 2 * MB, `the server pulled ${produced} bytes of a response it could not send`);
      // Same with the default 64 KiB window, read but never replenished by WINDOW_UPDATE.
      const starving = await RawH2.connect(server.port);
      starving.write(headersFrame(1, requestBlock({ path: '/big' }), { endStream: true }));
      await starving.until(() => starving.dataBytes >= 65_535, 'the first 64 KiB window of DATA');
      const starved = await starving.serverClose(WRITE_PROGRESS_TIMEOUT + PATIENCE_MS);
      assert.equal(starving.dataBytes, 65_535, 'DATA beyond the flow-control window');
      return `INITIAL_WINDOW_SIZE 0: closed by the write-progress timeout after ${afterMs} ms${client.goaway ? ` (GOAWAY ${errorName(client.goaway.code)})` : ''}, body pulled ${(produced / 1024).toFixed(0)} KiB of 32 MiB; default window never updated: 65535 bytes sent, closed after ${starved.afterMs} ms`;
    });
  });

  test('slow read: a window opened wide, then the client stops reading its socket', async (t) => {
    await underAttack(t, server, 'slow read (socket not read)', async () => {
      const before = (await server.sample()).counters.bigBytesProduced!;
      const client = await RawH2.connect(server.port, { settings: [[Setting.INITIAL_WINDOW_SIZE, 0x7fffffff]] });
      client.write(windowUpdateFrame(0, 0x7fffffff - 65535));
      client.write(headersFrame(1, requestBlock({ path: '/big?size=268435456' }), { endStream: true }));
      await client.until(() => client.responded.has(1), 'the response headers');
      client.stopReading();
      const stalledAt = Date.now();
      const connections = (await server.sample()).stats.connections;
      // Kernel buffers (both sides) fill, then the server's own queue stops growing; the write-progress timeout ends
      // it. A paused client socket does not notice the close, so watch the server's connection count instead.
      const deadline = Date.now() + WRITE_PROGRESS_TIMEOUT + PATIENCE_MS;
      while ((await server.sample()).stats.connections >= connections) {
        if (Date.now() > deadline) {
          client.destroy();
          throw new Error('the server kept a connection whose client reads nothing');
        }
        await sleep(50);
      }
      const cutAfter = Date.now() - stalledAt;
      client.socket.resume();
      await client.serverClose();
      const produced = (await server.sample()).counters.bigBytesProduced! - before;
      assert.ok(produced < 64 * MB, `the server pulled ${(produced / MB).toFixed(1)} MiB for a client that reads nothing`);
      return `cut by the write-progress timeout ${cutAfter} ms after the client stopped reading; body pulled ${(produced / MB).toFixed(1)} MiB (kernel buffers + high-water marks) of 256 MiB`;
    });
  });

  test('max concurrent streams opened, bodies never sent', async (t) => {
    await underAttack(t, server, 'max streams, no body', async () => {
      const client = await RawH2.connect(server.port);
      const post = requestBlock({ method: 'POST', path: '/echo', headers: [['content-length', '1000']] });
      const frames: Uint8Array[] = [];
      for (let i = 0; i < 110; i++) frames.push(headersFrame(1 + 2 * i, post));
      client.write(Buffer.concat(frames));
      // RFC 9113 §5.1.2: streams beyond SETTINGS_MAX_CONCURRENT_STREAMS (100) are refused, not a connection error.
      await client.until(() => [...client.resets.values()].filter((c) => c === ErrorCodes.REFUSED_STREAM).length >= 10, '10 REFUSED_STREAM');
      await sleep(200);
      const during = await server.sample();
      assert.ok(during.stats.openStreams <= 100 + 2, `open streams ${during.stats.openStreams}`);
      // The 100 stalled uploads must not be kept forever: a request timeout ends them (each stream reset, or the
      // whole connection closed), as requestTimeout does for HTTP/1.1.
      const stalledResets = () => [...client.resets.values()].filter((c) => c !== ErrorCodes.REFUSED_STREAM).length;
      const started = Date.now();
      await client.until(() => client.closed || stalledResets() >= 100, 'the stalled uploads to be ended', REQUEST_TIMEOUT + PATIENCE_MS).catch((error: Error) => {
        client.destroy();
        throw new Error(`100 streams waiting for a body were kept open past requestTimeout (${REQUEST_TIMEOUT} ms): ${error.message}`);
      });
      const afterMs = Date.now() - started;
      client.destroy();
      return `${[...client.resets.values()].filter((c) => c === ErrorCodes.REFUSED_STREAM).length} extra streams REFUSED_STREAM; ${during.stats.openStreams} open streams while stalled; ended after ${afterMs} ms${client.goaway ? ` with GOAWAY(${errorName(client.goaway.code)})` : ''}; ${client.resets.size} resets`;
    });
  });

  test('oversized frames: above SETTINGS_MAX_FRAME_SIZE, and a 16 MiB length announced but never sent', async (t) => {
    await underAttack(t, server, 'oversized frames', async () => {
      // RFC 9113 §4.2: a frame larger than SETTINGS_MAX_FRAME_SIZE (16384 by default) is a FRAME_SIZE_ERROR.
      const big = await RawH2.connect(server.port);
      big.write(headersFrame(1, requestBlock({ method: 'POST', path: '/echo' })));
      big.write(dataFrame(1, Buffer.alloc(16_385)));
      const first = await expectGoaway(big, ErrorCodes.FRAME_SIZE_ERROR);
      // Only the 9-octet header of a 16 MiB frame: rejected from the header, nothing allocated or awaited (a server
      // that waited for the payload would end the connection by a timeout, with another code).
      const announced = await RawH2.connect(server.port);
      announced.write(frame(FrameType.DATA, 0, 1, Buffer.alloc(0), 0xffffff));
      const second = await expectGoaway(announced, ErrorCodes.FRAME_SIZE_ERROR);
      // A connection-level frame type too: SETTINGS of 1 MB.
      const settings = await RawH2.connect(server.port);
      settings.write(frame(FrameType.SETTINGS, 0, 0, Buffer.alloc(6 * 170_000)));
      const third = await expectGoaway(settings, ErrorCodes.FRAME_SIZE_ERROR);
      return `DATA 16385: ${first}; header announcing 16 MiB: ${second}; SETTINGS 1 MB: ${third}`;
    });
  });

  test('invalid preface: HTTP/1.1 text, and garbage, on an h2 connection', async (t) => {
    await underAttack(t, server, 'invalid preface', async () => {
      const outcomes: string[] = [];
      for (const [label, bytes] of [
        ['HTTP/1.1 request', Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n')],
        ['24 random bytes', Buffer.from('0123456789abcdefghijklmn')],
        // RFC 9113 §3.4: the preface must be followed by SETTINGS.
        ['preface then PING instead of SETTINGS', Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), pingFrame()])],
      ] as const) {
        const socket = await connectTls(server.port, ['h2']);
        const received = collectText(socket);
        socket.write(bytes);
        const afterMs = await closedWithin(socket, PATIENCE_MS);
        const text = received.text();
        // RFC 9113 §3.4: an invalid preface is a connection PROTOCOL_ERROR (GOAWAY optional); never an HTTP answer.
        assert.ok(!text.includes('HTTP/1.1 200'), `${label}: answered as HTTP/1.1`);
        const goawayAt = findGoaway(Buffer.from(text, 'latin1'));
        if (goawayAt !== undefined) assert.equal(errorName(goawayAt), 'PROTOCOL_ERROR', label);
        outcomes.push(`${label}: ${goawayAt !== undefined ? `GOAWAY(${errorName(goawayAt)})` : 'closed'} after ${afterMs} ms`);
      }
      return outcomes.join('; ');
    });
  });
});

/** The error code of the first GOAWAY in a byte stream of server frames, if any. */
function findGoaway(bytes: Buffer): number | undefined {
  let offset = 0;
  while (offset + 9 <= bytes.length) {
    const length = bytes.readUIntBE(offset, 3);
    if (bytes[offset + 3] === FrameType.GOAWAY && offset + 9 + 8 <= bytes.length) return bytes.readUInt32BE(offset + 13);
    offset += 9 + length;
  }
  return undefined;
}
