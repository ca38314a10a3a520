// RFC 9113 §5–§8 under randomized, valid client behaviour: interleaved streams, bodies, padding, trailers,
// SETTINGS changes (window, frame size, HPACK table size), WINDOW_UPDATEs, PINGs, PRIORITY and resets.
// The client stays within every rule, so the server must never answer with an error, must answer every request
// with exactly its body (echo), and every frame it writes must pass the harness's checks (flow-control windows,
// frame sizes, stream states, field block contiguity, HPACK table size signalling).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Client, E, S, T, concat, encodeFields, hp, req } from './harness.js';

type Action =
  | { kind: 'open'; withBody: boolean; indexed: boolean; huffman: boolean }
  | { kind: 'data'; pick: number; size: number; pad: number; end: boolean }
  | { kind: 'trailers'; pick: number }
  | { kind: 'window'; pick: number; connection: boolean; increment: number }
  | { kind: 'settings'; id: number; value: number }
  | { kind: 'ping' }
  | { kind: 'priority'; pick: number }
  | { kind: 'reset'; pick: number };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('open' as const), withBody: fc.boolean(), indexed: fc.boolean(), huffman: fc.boolean() }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('data' as const),
      pick: fc.nat(),
      size: fc.integer({ min: 0, max: 40000 }),
      pad: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 255 })),
      end: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('trailers' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('window' as const), pick: fc.nat(), connection: fc.boolean(), increment: fc.integer({ min: 1, max: 100000 }) }) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.record({ kind: fc.constant('settings' as const), id: fc.constant(S.INITIAL_WINDOW_SIZE), value: fc.integer({ min: 0, max: 100000 }) }),
      fc.record({ kind: fc.constant('settings' as const), id: fc.constant(S.MAX_FRAME_SIZE), value: fc.integer({ min: 16384, max: 70000 }) }),
      fc.record({ kind: fc.constant('settings' as const), id: fc.constant(S.HEADER_TABLE_SIZE), value: fc.integer({ min: 0, max: 8192 }) }),
    ),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ping' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('priority' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), pick: fc.nat() }) },
);

interface ClientStream {
  id: number;
  sent: string;
  ended: boolean;
  reset: boolean;
}

interface Driven {
  c: Client;
  streams: ClientStream[];
  nextId: number;
}

function run(actions: Action[], maxBytesPerWrite?: number): void {
  const { c, streams } = drive(actions, maxBytesPerWrite);
  const open = () => streams.filter((s) => !s.ended && !s.reset);
  // Finish every request, then open the windows so every response can complete.
  for (const s of open()) {
    c.sendData(s.id, '', { endStream: true });
    s.ended = true;
  }
  c.sendSettings([[S.INITIAL_WINDOW_SIZE, 1 << 20]]);
  c.grantAll(streams.map((s) => s.id));
  const errors = c.frames.filter((f) => f.type === T.GOAWAY || (f.type === T.RST_STREAM && !streams.find((s) => s.id === f.streamId)?.reset));
  assert.deepEqual(errors.map((f) => `${f.typeName}(${f.streamId}, ${f.errorCode})`), [], 'a valid client never gets an error');
  for (const s of streams) {
    if (s.reset) continue;
    const res = c.response(s.id);
    assert.equal(res.status, '200', `stream ${s.id} answered`);
    assert.equal(res.body.length, s.sent.length, `stream ${s.id} echo length`);
    assert.equal(res.body, s.sent, `stream ${s.id} echo body`);
    assert.equal(res.ended, true, `stream ${s.id} ended`);
  }
  assert.equal(c.engine.openStreamCount, 0);
  c.expectAlive();
}

function drive(actions: Action[], maxBytesPerWrite?: number): Driven {
  const c = Client.connect({ app: 'echo', maxBytesPerWrite });
  const streams: ClientStream[] = [];
  let nextId = 1;
  let chunk = 0;
  const open = () => streams.filter((s) => !s.ended && !s.reset);
  const pickOpen = (n: number) => {
    const candidates = open();
    return candidates.length === 0 ? undefined : candidates[n % candidates.length];
  };
  for (const a of actions) {
    switch (a.kind) {
      case 'open': {
        if (open().length >= 50) break;
        const id = nextId;
        nextId += 2;
        const extra = ['x-stream', String(id), 'cookie', `a=${id}`, 'cookie', 'b=2'];
        let block: Uint8Array = encodeFields(req(`/r/${id}`, extra, a.withBody ? 'POST' : 'GET'));
        if (a.huffman) block = concat(...[0, 2, 4, 6].map((i) => hp.literal(req(`/r/${id}`, [], a.withBody ? 'POST' : 'GET')[i]!, req(`/r/${id}`, [], a.withBody ? 'POST' : 'GET')[i + 1]!, true)), encodeFields(extra));
        if (a.indexed) block = concat(block, hp.incremental('x-indexed', `v${id % 7}`));
        c.sendHeaders(id, block, { endStream: !a.withBody });
        streams.push({ id, sent: '', ended: !a.withBody, reset: false });
        break;
      }
      case 'data': {
        const s = pickOpen(a.pick);
        if (!s) break;
        const overhead = a.pad >= 0 ? a.pad + 1 : 0;
        const room = Math.min(c.sendCredit(s.id), c.maxFrameSize) - overhead;
        if (room < 0) break;
        const size = Math.min(a.size, room);
        const body = String.fromCharCode(97 + (chunk++ % 26)).repeat(size);
        c.sendData(s.id, body, { endStream: a.end, padLength: a.pad >= 0 ? a.pad : undefined });
        s.sent += body;
        s.ended = a.end;
        break;
      }
      case 'trailers': {
        const s = pickOpen(a.pick);
        if (!s) break;
        c.sendHeaders(s.id, ['x-trailer', 'done'], { endStream: true });
        s.ended = true;
        break;
      }
      case 'window': {
        // Only streams the client may still send frames on (RFC 9113 §5.1: not after its RST_STREAM, not once closed).
        const ids = streams.filter((s) => !s.reset && !c.response(s.id).ended).map((s) => s.id);
        c.sendWindowUpdate(a.connection || ids.length === 0 ? 0 : ids[a.pick % ids.length]!, a.increment);
        break;
      }
      case 'settings':
        c.sendSettings([[a.id, a.value]]);
        break;
      case 'ping':
        c.sendPing();
        break;
      case 'priority':
        c.sendPriority(streams.length === 0 ? 1 : streams[a.pick % streams.length]!.id, 0, 1 + (a.pick % 256));
        break;
      case 'reset': {
        const s = pickOpen(a.pick);
        if (!s) break;
        c.sendRst(s.id, E.CANCEL);
        s.reset = true;
        break;
      }
    }
  }
  return { c, streams, nextId };
}

/** One violation, valid in any connection state, with the exact reaction RFC 9113 / RFC 7541 prescribe. */
interface Violation {
  name: string;
  inject(d: Driven): void;
  expect(d: Driven): void;
}

const VIOLATIONS: Violation[] = [
  { name: '§6.1 DATA on stream 0', inject: ({ c }) => c.sendData(0, 'x'), expect: ({ c }) => c.expectGoaway(E.PROTOCOL_ERROR) },
  { name: '§6.7 PING of 7 octets', inject: ({ c }) => c.sendFrame(T.PING, 0, 0, new Uint8Array(7)), expect: ({ c }) => c.expectGoaway(E.FRAME_SIZE_ERROR) },
  { name: '§6.5 SETTINGS of 5 octets', inject: ({ c }) => c.sendFrame(T.SETTINGS, 0, 0, new Uint8Array(5)), expect: ({ c }) => c.expectGoaway(E.FRAME_SIZE_ERROR) },
  { name: '§6.9 connection WINDOW_UPDATE of 0', inject: ({ c }) => c.sendWindowUpdate(0, 0), expect: ({ c }) => c.expectGoaway(E.PROTOCOL_ERROR) },
  {
    name: '§6.9.1 connection window overflow',
    // Twice: if the window was exactly 0, the first increment reaches 2^31-1 and the second overflows.
    inject: ({ c }) => {
      c.sendWindowUpdate(0, 0x7fffffff);
      c.sendWindowUpdate(0, 0x7fffffff);
    },
    expect: ({ c }) => c.expectGoaway(E.FLOW_CONTROL_ERROR),
  },
  { name: '§5.1.1 even stream id', inject: ({ c, nextId }) => c.sendHeaders(nextId + 1, req(), { endStream: true }), expect: ({ c }) => c.expectGoaway(E.PROTOCOL_ERROR) },
  { name: '§5.1 DATA on an idle stream', inject: ({ c, nextId }) => c.sendData(nextId + 2, 'x'), expect: ({ c }) => c.expectGoaway(E.PROTOCOL_ERROR) },
  { name: '§6.10 CONTINUATION without HEADERS', inject: ({ c }) => c.sendContinuation(1, ['x', 'y']), expect: ({ c }) => c.expectGoaway(E.PROTOCOL_ERROR) },
  { name: '§6.5.2 ENABLE_PUSH = 2', inject: ({ c }) => c.sendSettings([[S.ENABLE_PUSH, 2]]), expect: ({ c }) => c.expectGoaway(E.PROTOCOL_ERROR) },
  { name: '§6.8 GOAWAY on a stream', inject: ({ c }) => c.sendFrame(T.GOAWAY, 0, 1, new Uint8Array(8)), expect: ({ c }) => c.expectGoaway(E.PROTOCOL_ERROR) },
  { name: '§6.4 RST_STREAM on stream 0', inject: ({ c }) => c.sendRst(0, E.CANCEL), expect: ({ c }) => c.expectGoaway(E.PROTOCOL_ERROR) },
  {
    name: '§4.3 undecodable field block on a new stream',
    inject: ({ c, nextId }) => c.sendHeaders(nextId, concat(encodeFields(req()), [0x80]), { endStream: true }),
    expect: ({ c }) => c.expectGoaway(E.COMPRESSION_ERROR),
  },
  {
    name: '§4.2 HEADERS larger than SETTINGS_MAX_FRAME_SIZE',
    inject: ({ c, nextId }) => c.sendHeaders(nextId, req('/', ['x-big', 'b'.repeat(c.maxFrameSize)]), { endStream: true }),
    expect: ({ c }) => c.expectGoaway(E.FRAME_SIZE_ERROR),
  },
  {
    name: '§8.2 uppercase field name on a new stream (stream error)',
    inject: ({ c, nextId }) => c.sendHeaders(nextId, req('/', ['Upper', '1']), { endStream: true }),
    expect: ({ c, nextId }) => c.expectRst(nextId, E.PROTOCOL_ERROR),
  },
  {
    name: '§8.3 missing :path on a new stream (stream error)',
    inject: ({ c, nextId }) => c.sendHeaders(nextId, [':method', 'GET', ':scheme', 'https', ':authority', 'a'], { endStream: true }),
    expect: ({ c, nextId }) => c.expectRst(nextId, E.PROTOCOL_ERROR),
  },
];

function runViolation(actions: Action[], which: number): void {
  const d = drive(actions);
  d.c.readFrames();
  const v = VIOLATIONS[which % VIOLATIONS.length]!;
  v.inject(d);
  v.expect(d);
}

describe('RFC 9113 §5–§8 randomized valid clients', () => {
  test('§5–§8 random valid frame sequences: no error, every request answered exactly, every server frame conformant', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 30, maxLength: 150 }), (actions) => run(actions)),
      { numRuns: 100, seed: 9113 },
    );
  });

  test('§5–§8 the same with a driver that takes at most 1000 octets of DATA per dataToSend() call', () => {
    fc.assert(fc.property(fc.array(action, { minLength: 10, maxLength: 80 }), (actions) => run(actions, 1000)), { numRuns: 40, seed: 7541 });
  });

  test('§4–§8 after a random valid prefix, one injected violation gets exactly its prescribed reaction', () => {
    fc.assert(
      fc.property(fc.array(action, { minLength: 5, maxLength: 60 }), fc.nat(), (actions, which) => runViolation(actions, which)),
      { numRuns: 150, seed: 4242 },
    );
  });

  test('§5–§8 the same with fresh random seeds (bounded)', () => {
    fc.assert(fc.property(fc.array(action, { minLength: 10, maxLength: 80 }), (actions) => run(actions)), { numRuns: 50 });
  });
});
