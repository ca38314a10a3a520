/**
 * Property test of the response path against a real server over HTTP/1.1 (node:https, keep-alive) and HTTP/2
 * (node:http2): random header names and values (valid, and each class the server must refuse), trailers (fixed,
 * from a function, through info.setTrailers), 103 hints, statuses (including 99, 600, 1xx and forged ones) and
 * body shapes (string, bytes, Blob, ReadableStream, async iterable, throwing stream, locked stream, declared
 * lengths that do or do not match) through FastResponse and the global Response.
 *
 * Whatever the application returns: the process lives (no uncaught exception or unhandled rejection), every
 * request ends within a generous limit (a response, a reset or a closed connection, never a hang), a completed
 * response carries only valid fields, and the server's counters return to zero.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as https from 'node:https';
import type * as http2 from 'node:http2';
import fc from 'fast-check';
import { FastResponse, NativeResponse, type FastResponseInit } from '../../src/server/response.js';
import type { FetchHandler, ServeInfo } from '../../src/server/types.js';
import { connectH2, startServer, waitForIdle, type TestServer } from '../support/server.js';
import { h1Outcome, h2Outcome, type Outcome } from './response-outcomes.js';

const RUNS_PER_PROTOCOL = 150;

type Fields = [string, string][];

type BodySpec =
  | { type: 'none' }
  | { type: 'string'; text: string }
  | { type: 'bytes'; size: number }
  | { type: 'blob'; size: number }
  | { type: 'stream'; size: number; chunk: number }
  | { type: 'iterable'; size: number; chunk: number }
  | { type: 'throwing-stream'; after: number }
  | { type: 'locked' };

interface ResponseCase {
  kind: 'fast' | 'global';
  async: boolean;
  status: number;
  /** Set on the object after construction, past the constructor's own check. */
  forgeStatus: boolean;
  headers: Fields;
  contentLength: string | undefined;
  body: BodySpec;
  trailers: { via: 'init' | 'function' | 'setTrailers'; fields: Fields } | undefined;
  hint: Fields | undefined;
}

// Names: ordinary, ones the server fills in or frames itself, connection-specific (dropped on HTTP/2), and invalid.
const nameArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('x-a', 'X-Mixed-Case', 'content-type', 'set-cookie', 'cache-control', 'date', 'server') },
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/) },
  { weight: 1, arbitrary: fc.constantFrom('connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te') },
  { weight: 1, arbitrary: fc.constantFrom(':status', ':path', 'bad name', 'x-caf\u0100', 'x\u0000y', 'x:y', 'x\ty', 'é', '') },
);
// Values: printable text and obs-text, sometimes with one of each refused class (CR, LF, NUL, other controls, DEL,
// above U+00FF) somewhere in it.
const goodValueArb = fc.string({
  unit: fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom('a', 'Z', '0', ' ', ';', '=', '"', '<', '>', '/', ',') },
    { weight: 1, arbitrary: fc.constantFrom('\t', '\u00e9', '\u00ff') },
  ),
  maxLength: 24,
});
const badCharArb = fc.constantFrom('\r', '\n', '\r\nx-injected: 1', '\0', '\x01', '\x1f', '\x7f', '\u0100', '\u2028', '\ud83d\ude00');
const valueArb = fc.oneof(
  { weight: 8, arbitrary: goodValueArb },
  { weight: 1, arbitrary: fc.tuple(goodValueArb, badCharArb, goodValueArb).map(([a, bad, b]) => a + bad + b) },
);
const fieldsArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant([] as Fields) },
  { weight: 3, arbitrary: fc.array(fc.tuple(nameArb, valueArb), { minLength: 1, maxLength: 3 }) },
);

const sizeArb = fc.integer({ min: 0, max: 70_000 });
const bodyArb: fc.Arbitrary<BodySpec> = fc.oneof(
  fc.constant({ type: 'none' as const }),
  fc.record({ type: fc.constant('string' as const), text: fc.string({ maxLength: 40 }) }),
  fc.record({ type: fc.constant('bytes' as const), size: sizeArb }),
  fc.record({ type: fc.constant('blob' as const), size: sizeArb }),
  fc.record({ type: fc.constant('stream' as const), size: sizeArb, chunk: fc.integer({ min: 1, max: 20_000 }) }),
  fc.record({ type: fc.constant('iterable' as const), size: sizeArb, chunk: fc.integer({ min: 1, max: 20_000 }) }),
  fc.record({ type: fc.constant('throwing-stream' as const), after: fc.integer({ min: 0, max: 3 }) }),
  fc.constant({ type: 'locked' as const }),
);

const caseArb: fc.Arbitrary<ResponseCase> = fc.record({
  kind: fc.constantFrom('fast' as const, 'global' as const),
  async: fc.boolean(),
  status: fc.oneof(
    { weight: 6, arbitrary: fc.constant(200) },
    { weight: 3, arbitrary: fc.constantFrom(201, 204, 206, 304, 404, 500, 599) },
    { weight: 1, arbitrary: fc.constantFrom(99, 100, 103, 199, 600, 1000, 200.5, -1) },
  ),
  forgeStatus: fc.boolean(),
  headers: fieldsArb,
  contentLength: fc.option(fc.constantFrom('0', '1', '10', '100', '70000', 'abc', '-1', '1.5', '', ' 5', '99999999999999999999'), {
    nil: undefined,
    freq: 3,
  }),
  body: bodyArb,
  trailers: fc.option(fc.record({ via: fc.constantFrom('init' as const, 'function' as const, 'setTrailers' as const), fields: fieldsArb }), {
    nil: undefined,
    freq: 3,
  }),
  hint: fc.option(
    fc.oneof(fieldsArb, fc.constant([['link', '</style.css>; rel=preload; as=style']] as Fields), fc.constant([['link', 'nonsense']] as Fields)),
    { nil: undefined, freq: 3 },
  ),
});

function filled(size: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(size).fill(0x62);
}

function makeBody(spec: BodySpec): BodyInit | null {
  switch (spec.type) {
    case 'none':
      return null;
    case 'string':
      return spec.text;
    case 'bytes':
      return filled(spec.size);
    case 'blob':
      return new Blob([filled(spec.size)], { type: 'application/x-test' });
    case 'stream': {
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= spec.size) return controller.close();
          const size = Math.min(spec.chunk, spec.size - sent);
          sent += size;
          controller.enqueue(filled(size));
        },
      });
    }
    case 'iterable':
      return (async function* () {
        for (let sent = 0; sent < spec.size; sent += spec.chunk) yield filled(Math.min(spec.chunk, spec.size - sent));
      })() as unknown as BodyInit;
    case 'throwing-stream': {
      let pulls = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulls++ >= spec.after) throw new Error('the body stream broke');
          controller.enqueue(filled(100));
        },
      });
    }
    case 'locked': {
      const stream = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(filled(4)) });
      stream.getReader();
      return stream;
    }
  }
}

function makeResponse(spec: ResponseCase, info: ServeInfo): Response {
  const headers = [...spec.headers];
  if (spec.contentLength !== undefined) headers.push(['content-length', spec.contentLength]);
  let trailers: FastResponseInit['trailers'];
  if (spec.trailers !== undefined) {
    const fields = spec.trailers.fields;
    if (spec.trailers.via === 'init') trailers = fields;
    else if (spec.trailers.via === 'function') trailers = async () => fields;
    else info.setTrailers?.(fields);
  }
  if (spec.hint !== undefined) info.sendInformational(103, spec.hint);
  const status = spec.forgeStatus ? 200 : spec.status;
  const body = makeBody(spec.body);
  const response =
    spec.kind === 'fast'
      ? new FastResponse(body, { status, headers, trailers })
      : new NativeResponse(body, { status, headers, ...({ duplex: 'half' } as object) });
  if (spec.forgeStatus) {
    if (spec.kind === 'fast') (response as FastResponse)._status = spec.status;
    else Object.defineProperty(response, 'status', { value: spec.status });
  }
  return response;
}

/** Field values a client may accept on the wire (RFC 9110 §5.5). */
const VALID_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function assertValidFields(fields: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(fields)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      assert.match(String(item), VALID_VALUE, `field ${name} reached the client with an invalid value`);
    }
  }
}

for (const protocol of ['http/1.1', 'h2'] as const) {
  describe(`response fuzz over ${protocol}`, () => {
    let server: TestServer;
    let session: http2.ClientHttp2Session | undefined;
    let agent: https.Agent | undefined;
    const cases = new Map<number, ResponseCase>();
    let nextId = 0;
    const escaped: unknown[] = [];
    const onEscape = (error: unknown) => escaped.push(error);

    before(async () => {
      process.on('uncaughtException', onEscape);
      process.on('unhandledRejection', onEscape);
      const fetch: FetchHandler = (request, info) => {
        const spec = cases.get(Number(new URL(request.url).pathname.slice(1)))!;
        if (!spec.async) return makeResponse(spec, info);
        return Promise.resolve().then(() => makeResponse(spec, info));
      };
      server = await startServer(fetch);
      if (protocol === 'h2') session = connectH2(server.origin);
      else agent = new https.Agent({ keepAlive: true, maxSockets: 2, rejectUnauthorized: false });
    });
    after(async () => {
      process.off('uncaughtException', onEscape);
      process.off('unhandledRejection', onEscape);
      session?.close();
      agent?.destroy();
      await server.close();
    });

    test(`${RUNS_PER_PROTOCOL} random responses: every request ends, the process lives, counters return to zero`, async (t) => {
      const outcomes: Record<string, number> = {};
      await fc.assert(
        fc.asyncProperty(caseArb, fc.boolean(), async (spec, head) => {
          const id = nextId++;
          cases.set(id, spec);
          if (protocol === 'h2' && (session!.closed || session!.destroyed)) session = connectH2(server.origin);
          const method = head ? 'HEAD' : 'GET';
          const outcome: Outcome =
            protocol === 'h2' ? await h2Outcome(session!, `/${id}`, { method }) : await h1Outcome(server.origin, `/${id}`, { method, agent });
          cases.delete(id);
          const label = outcome.error !== undefined ? 'ended early' : String(outcome.status);
          outcomes[label] = (outcomes[label] ?? 0) + 1;
          if (outcome.error === undefined) {
            assert.ok(outcome.status! >= 200 && outcome.status! <= 599, `final status ${outcome.status}`);
            assertValidFields(outcome.headers);
            assertValidFields(outcome.trailers);
          }
          for (const hint of outcome.informational) assertValidFields(hint.headers);
          assert.deepEqual(escaped, [], 'an exception escaped to the process');
        }),
        { numRuns: RUNS_PER_PROTOCOL, endOnFailure: true },
      );
      t.diagnostic(`outcomes: ${JSON.stringify(outcomes)}`);
      const stats = await waitForIdle(server.server, 20_000);
      assert.equal(stats.inFlightRequests, 0);
      assert.equal(stats.openStreams, 0);
      assert.deepEqual(escaped, []);
      // The generator reaches both the refusals and the successes.
      assert.ok((outcomes['500'] ?? 0) > 0 && (outcomes['200'] ?? 0) > 0, JSON.stringify(outcomes));
    });
  });
}
