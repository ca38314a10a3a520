/**
 * RFC 6455 §5–§8 conformance of the sans-IO engine: each MUST with the exact close code it requires, fed with frames
 * built independently (test/ws/wire.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { WebSocketConnection, encodeServerMessage, type WebSocketEvent } from '../../src/ws/index.js';
import { closeCodeOf, closePayload, concatBytes, frame, parseFrames } from './wire.js';

const TEXT = 0x1;
const BINARY = 0x2;
const CONT = 0x0;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

function server(options: Partial<ConstructorParameters<typeof WebSocketConnection>[0]> = {}) {
  return new WebSocketConnection({ role: 'server', ...options });
}

/** Feeds the bytes, returns the events and the frames the server wrote. */
function feed(conn: WebSocketConnection, ...chunks: Uint8Array[]) {
  const events: WebSocketEvent[] = [];
  for (const chunk of chunks) events.push(...conn.receive(chunk));
  const out = conn.dataToSend();
  return { events, frames: out === null ? [] : parseFrames(out) };
}

/** Asserts the server failed the connection with `code`: one Close frame with that code, a 'closed' event. */
function assertFailed(conn: WebSocketConnection, result: ReturnType<typeof feed>, code: number) {
  const close = result.frames.find((f) => f.opcode === CLOSE);
  assert.ok(close, 'a Close frame was sent');
  assert.equal(closeCodeOf(close), code);
  assert.equal(close.masked, false, 'server frames are not masked');
  const closed = result.events.find((e) => e.type === 'closed');
  assert.deepEqual(closed && { code: closed.code, clean: closed.clean }, { code, clean: false });
  assert.equal(conn.readyState, 'closed');
  assert.equal(conn.isDone, true);
  // Nothing more is read after failing (§7.1.7).
  assert.deepEqual(conn.receive(frame({ opcode: TEXT, payload: 'late' })), []);
}

test('§5.1 a masked text frame is a message; the server answers unmasked', () => {
  const conn = server();
  const r = feed(conn, frame({ opcode: TEXT, payload: 'Hello' }));
  assert.deepEqual(r.events, [{ type: 'message', data: 'Hello', binary: false, compressed: false }]);
  conn.sendMessage('Hello');
  const out = parseFrames(conn.dataToSend()!);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.masked, false);
  assert.equal(new TextDecoder().decode(out[0]!.payload), 'Hello');
  // §5.7's unmasked "Hello" example, byte for byte.
  assert.deepEqual([...encodeServerMessage('Hello')], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
});

test('§5.1 an unmasked frame from a client fails the connection with 1002', () => {
  const conn = server();
  assertFailed(conn, feed(conn, frame({ opcode: TEXT, payload: 'hi', mask: false })), 1002);
});

test('§5.1 a masked frame from a server fails a client connection with 1002; client frames are masked', () => {
  const conn = new WebSocketConnection({ role: 'client', maskKey: () => randomBytes(4) });
  conn.sendMessage('x');
  const sent = parseFrames(conn.dataToSend()!);
  assert.equal(sent[0]!.masked, true);
  const events = conn.receive(frame({ opcode: TEXT, payload: 'hi' }));
  assert.equal(events.at(-1)?.type, 'closed');
  const close = parseFrames(conn.dataToSend()!)[0]!;
  assert.equal(close.masked, true);
  assert.equal(closeCodeOf(close), 1002);
});

test('§5.4 fragments reassemble, also when the stream arrives byte by byte, with a ping in between', () => {
  const conn = server();
  const bytes = concatBytes(
    frame({ opcode: TEXT, payload: 'Hel', fin: false }),
    frame({ opcode: PING, payload: 'p' }),
    frame({ opcode: CONT, payload: 'lo', fin: false }),
    frame({ opcode: CONT, payload: ' world' }),
  );
  const events: WebSocketEvent[] = [];
  for (const byte of bytes) events.push(...conn.receive(Uint8Array.of(byte)));
  assert.deepEqual(events, [
    { type: 'ping', data: new TextEncoder().encode('p') },
    { type: 'message', data: 'Hello world', binary: false, compressed: false },
  ]);
  const out = parseFrames(conn.dataToSend()!);
  assert.deepEqual(out.map((f) => [f.opcode, new TextDecoder().decode(f.payload)]), [[PONG, 'p']]);
});

test('§5.2 payload lengths: 7-bit, 16-bit and 64-bit forms both ways', () => {
  for (const size of [0, 125, 126, 65535, 65536, 200_000]) {
    const conn = server();
    const payload = randomBytes(size);
    const r = feed(conn, frame({ opcode: BINARY, payload }));
    assert.equal(r.events.length, 1);
    const event = r.events[0]!;
    assert.ok(event.type === 'message' && Buffer.from(event.data as Uint8Array).equals(payload), `size ${size}`);
    conn.sendMessage(payload);
    const echoed = parseFrames(conn.dataToSend()!);
    assert.ok(Buffer.from(echoed[0]!.payload).equals(payload));
  }
});

test('§5.2 a 64-bit length with its most significant bit set fails with 1002', () => {
  const conn = server();
  const bad = frame({ opcode: BINARY, lengthOverride: { code: 127, extended: [0x80, 0, 0, 0, 0, 0, 0, 1] } });
  assertFailed(conn, feed(conn, bad), 1002);
});

test('§5.2 RSV bits without a negotiated extension fail with 1002', () => {
  for (const rsv of [0x40, 0x20, 0x10]) {
    const conn = server();
    assertFailed(conn, feed(conn, frame({ opcode: TEXT, payload: 'x', rsv })), 1002);
  }
});

test('RFC 7692 §6: with permessage-deflate RSV1 marks the first frame only; not on continuation or control frames', () => {
  const conn = server({ perMessageDeflate: true });
  const r = feed(conn, frame({ opcode: TEXT, payload: Uint8Array.of(1, 2, 3), rsv: 0x40, fin: false }), frame({ opcode: CONT, payload: Uint8Array.of(4) }));
  assert.deepEqual(r.events, [{ type: 'message', data: Uint8Array.of(1, 2, 3, 4), binary: false, compressed: true }]);
  const c2 = server({ perMessageDeflate: true });
  assertFailed(c2, feed(c2, frame({ opcode: TEXT, payload: 'a', fin: false }), frame({ opcode: CONT, payload: 'b', rsv: 0x40 })), 1002);
  const c3 = server({ perMessageDeflate: true });
  assertFailed(c3, feed(c3, frame({ opcode: PING, rsv: 0x40 })), 1002);
  const c4 = server({ perMessageDeflate: true });
  assertFailed(c4, feed(c4, frame({ opcode: TEXT, payload: 'x', rsv: 0x20 })), 1002);
});

test('§5.2 reserved opcodes fail with 1002', () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    const conn = server();
    assertFailed(conn, feed(conn, frame({ opcode, payload: 'x' })), 1002);
  }
});

test('§5.5 control frames: payload over 125 bytes or fragmented fail with 1002', () => {
  for (const opcode of [PING, PONG, CLOSE]) {
    const big = server();
    const payload = opcode === CLOSE ? closePayload(1000, 'x'.repeat(124)) : new Uint8Array(126);
    assertFailed(big, feed(big, frame({ opcode, payload })), 1002);
    const fragmented = server();
    assertFailed(fragmented, feed(fragmented, frame({ opcode, payload: opcode === CLOSE ? closePayload(1000) : 'x', fin: false })), 1002);
  }
  // 125 bytes is fine.
  const ok = server();
  const r = feed(ok, frame({ opcode: PING, payload: new Uint8Array(125).fill(7) }));
  assert.equal(r.frames[0]!.opcode, PONG);
  assert.equal(r.frames[0]!.payload.length, 125);
});

test('§5.4 a continuation without a message, or a new message inside a fragmented one, fails with 1002', () => {
  const a = server();
  assertFailed(a, feed(a, frame({ opcode: CONT, payload: 'x' })), 1002);
  const b = server();
  assertFailed(b, feed(b, frame({ opcode: TEXT, payload: 'x', fin: false }), frame({ opcode: BINARY, payload: 'y' })), 1002);
  const c = server();
  assertFailed(c, feed(c, frame({ opcode: TEXT, payload: 'x', fin: false }), frame({ opcode: TEXT, payload: 'y' })), 1002);
});

test('§8.1 invalid UTF-8 in a text message fails with 1007, as early as the invalid byte arrives', () => {
  const a = server();
  assertFailed(a, feed(a, frame({ opcode: TEXT, payload: Uint8Array.of(0xce, 0xba, 0xff) })), 1007);
  // Fail fast: the first fragment already holds an impossible byte; the message never ends.
  const b = server();
  assertFailed(b, feed(b, frame({ opcode: TEXT, payload: Uint8Array.of(0x61, 0xc0, 0x80), fin: false })), 1007);
  // A sequence cut at the end of the message.
  const c = server();
  assertFailed(c, feed(c, frame({ opcode: TEXT, payload: Uint8Array.of(0x61, 0xe2, 0x82) })), 1007);
  // Surrogates encoded in UTF-8 are invalid.
  const d = server();
  assertFailed(d, feed(d, frame({ opcode: TEXT, payload: Uint8Array.of(0xed, 0xa0, 0x80) })), 1007);
  // A valid 4-byte sequence split across fragments is fine, and a BOM is kept.
  const e = server();
  const euro = new TextEncoder().encode('\uFEFF€𝄞');
  const r = feed(e, frame({ opcode: TEXT, payload: euro.subarray(0, 5), fin: false }), frame({ opcode: CONT, payload: euro.subarray(5) }));
  assert.deepEqual(r.events, [{ type: 'message', data: '\uFEFF€𝄞', binary: false, compressed: false }]);
  // Binary messages are not validated.
  const f = server();
  assert.equal(feed(f, frame({ opcode: BINARY, payload: Uint8Array.of(0xff) })).events[0]!.type, 'message');
});

test('§5.5.1 a Close is answered with a Close echoing the code; an empty Close with an empty one (1005 never sent)', () => {
  const a = server();
  const r = feed(a, frame({ opcode: CLOSE, payload: closePayload(1000, 'bye') }));
  assert.deepEqual(r.events, [{ type: 'closed', code: 1000, reason: 'bye', byPeer: true, clean: true }]);
  assert.equal(closeCodeOf(r.frames[0]!), 1000);
  assert.equal(a.readyState, 'closed');
  assert.equal(a.isDone, true);
  const b = server();
  const r2 = feed(b, frame({ opcode: CLOSE }));
  assert.deepEqual(r2.events, [{ type: 'closed', code: 1005, reason: '', byPeer: true, clean: true }]);
  assert.equal(r2.frames[0]!.payload.length, 0);
});

test('§7.4 close codes: valid ones are echoed; reserved and never-sent ones fail with 1002', () => {
  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    const conn = server();
    const r = feed(conn, frame({ opcode: CLOSE, payload: closePayload(code) }));
    assert.equal(closeCodeOf(r.frames[0]!), code, `code ${code} is echoed`);
    assert.equal(r.events[0]!.type === 'closed' && r.events[0]!.clean, true);
  }
  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    const conn = server();
    assertFailed(conn, feed(conn, frame({ opcode: CLOSE, payload: closePayload(code) })), 1002);
  }
});

test('§5.5.1 a 1-byte Close payload fails with 1002; an invalid UTF-8 reason with 1007', () => {
  const a = server();
  assertFailed(a, feed(a, frame({ opcode: CLOSE, payload: Uint8Array.of(0x03) })), 1002);
  const b = server();
  assertFailed(b, feed(b, frame({ opcode: CLOSE, payload: closePayload(1000, Uint8Array.of(0xff, 0xfe)) })), 1007);
});

test('the server starts the closing handshake: no data after its Close, the peer Close ends it cleanly', () => {
  const conn = server();
  assert.equal(conn.close(4001, 'done'), true);
  assert.equal(conn.readyState, 'closing');
  assert.equal(conn.close(1000), false, 'one Close only');
  const sent = parseFrames(conn.dataToSend()!);
  assert.equal(closeCodeOf(sent[0]!), 4001);
  assert.equal(new TextDecoder().decode(sent[0]!.payload.subarray(2)), 'done');
  assert.equal(conn.sendMessage('late'), false, '§5.5.1: no data frames after a Close');
  // A ping arriving now gets no pong (we already closed); a message still arrives.
  const r = feed(conn, frame({ opcode: PING, payload: 'p' }), frame({ opcode: TEXT, payload: 'last' }), frame({ opcode: CLOSE, payload: closePayload(4001) }));
  assert.deepEqual(r.frames, []);
  assert.deepEqual(r.events.map((e) => e.type), ['ping', 'message', 'closed']);
  assert.deepEqual(r.events[2], { type: 'closed', code: 4001, reason: '', byPeer: false, clean: true });
  assert.equal(conn.isDone, true);
});

test('close() refuses codes that may not be sent and reasons over 123 bytes', () => {
  const conn = server();
  for (const code of [1005, 1006, 1015, 1004, 999, 5000]) assert.throws(() => conn.close(code), RangeError);
  assert.throws(() => conn.close(1000, 'x'.repeat(124)), RangeError);
  assert.throws(() => conn.close(undefined, 'reason without code'), TypeError);
  assert.equal(conn.close(1000, 'é'.repeat(61)), true); // 122 bytes
});

test('abort() reports 1006 once', () => {
  const conn = server();
  assert.deepEqual(conn.abort(), { type: 'closed', code: 1006, reason: '', byPeer: true, clean: false });
  assert.equal(conn.abort(), undefined);
});

test('§7.4.1 1009: a message over maxMessageSize fails as soon as its header says so, before the payload', () => {
  const conn = server({ limits: { maxMessageSize: 1000 } });
  // Only the header of a 2,000-byte frame: the failure must not wait for the payload.
  const header = frame({ opcode: BINARY, payload: new Uint8Array(2000) }).subarray(0, 8);
  assertFailed(conn, feed(conn, header), 1009);
  const frag = server({ limits: { maxMessageSize: 1000 } });
  assertFailed(frag, feed(frag, frame({ opcode: BINARY, payload: new Uint8Array(600), fin: false }), frame({ opcode: CONT, payload: new Uint8Array(600) })), 1009);
  const exact = server({ limits: { maxMessageSize: 1000 } });
  assert.equal(feed(exact, frame({ opcode: BINARY, payload: new Uint8Array(1000) })).events[0]!.type, 'message');
});

test('fragment floods: more fragments than allowed per message fail with 1009', () => {
  const conn = server({ limits: { maxFragmentsPerMessage: 50 } });
  const chunks = [frame({ opcode: TEXT, payload: '', fin: false })];
  for (let i = 0; i < 60; i++) chunks.push(frame({ opcode: CONT, payload: '', fin: false }));
  assertFailed(conn, feed(conn, concatBytes(...chunks)), 1009);
});

test('ping floods: more control frames than the budget fail with 1008, within the budget every ping is answered', () => {
  let now = 0;
  const conn = server({ limits: { controlFrameBurst: 10, controlFrameRatePerSecond: 10 }, now: () => now });
  const ten = concatBytes(...Array.from({ length: 10 }, () => frame({ opcode: PING })));
  assert.equal(feed(conn, ten).frames.length, 10);
  now += 500; // refills 5
  assert.equal(feed(conn, concatBytes(...Array.from({ length: 5 }, () => frame({ opcode: PING })))).frames.length, 5);
  assertFailed(conn, feed(conn, frame({ opcode: PING }), frame({ opcode: PING })), 1008);
});

test('sendEncoded: one frame encoded once is the same bytes sendMessage writes', () => {
  const a = server();
  const b = server();
  const payload = randomBytes(5000);
  a.sendMessage(payload);
  b.sendEncoded(encodeServerMessage(payload));
  assert.deepEqual(a.dataToSend(), b.dataToSend());
  assert.equal(server().sendEncoded(encodeServerMessage('x')), true);
});

test('bufferedAmount counts queued bytes; dataToSendv hands them over without copying', () => {
  const conn = server();
  const payload = new Uint8Array(4096);
  conn.sendMessage(payload);
  conn.sendMessage('hi');
  assert.equal(conn.bufferedAmount, 4 + 4096 + 2 + 2);
  const chunks = conn.dataToSendv()!;
  assert.ok(chunks.includes(payload), 'the large payload is passed through');
  assert.equal(conn.bufferedAmount, 0);
  assert.equal(conn.dataToSend(), null);
});
