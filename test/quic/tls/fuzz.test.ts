/**
 * Property tests (fast-check): whatever bytes arrive, receive() never throws, and each complete ClientHello either
 * moves the handshake on or ends it with one alert; a changed server flight never completes a handshake.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { TlsClient, TlsServer } from '../../../src/quic/tls/index.js';
import type { TlsEvent } from '../../../src/quic/tls/index.js';
import { HandshakeReassembler, handshakeMessage } from '../../../src/quic/tls/framing.js';
import { Link, TICKET_KEY, alertOf, clientConfig, ofType, serverConfig } from './helpers.js';

const server = () => new TlsServer(serverConfig({ ticketKey: TICKET_KEY, earlyData: { maxSize: 1000 } }));
const baseHello = ofType(new TlsClient(clientConfig({ keyShareCount: 2 })).start(), 'cryptoData')[0]!.data;
const baseBody = baseHello.subarray(4);

/**
 * Exactly one of: the server answered (ServerHello or HelloRetryRequest), or it sent one alert, last. Never
 * internal_error: that would mean peer input reached an unanticipated failure inside the engine.
 */
function progressedOrAlerted(events: TlsEvent[]): boolean {
  const alerts = ofType(events, 'alert');
  if (alerts.some((alert) => alert.description === 80)) return false;
  const sent = ofType(events, 'cryptoData');
  if (alerts.length === 1) return events[events.length - 1] === alerts[0] && sent.length === 0;
  return alerts.length === 0 && sent.length > 0 && sent[0]!.level === 'initial';
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(body: Uint8Array, mutations: Mutation[]): Uint8Array {
  let bytes = Buffer.from(body);
  for (const m of mutations) {
    const at = bytes.byteLength === 0 ? 0 : m.at % bytes.byteLength;
    if (m.kind === 'set') { bytes = Buffer.from(bytes); bytes[at] = m.value; }
    else if (m.kind === 'cut') bytes = bytes.subarray(0, at);
    else if (m.kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
    else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
  }
  return bytes;
}

test('mutated ClientHellos: never a throw, always progress or one alert', () => {
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
      const events = server().receive('initial', handshakeMessage(1, mutate(baseBody, mutations)));
      assert.ok(progressedOrAlerted(events), JSON.stringify(events.map((e) => (e.type === 'alert' ? e : e.type))));
    }),
    { numRuns: 600 },
  );
});

test('mutated resumption ClientHellos (PSK, binder, early_data) and mutated second ClientHellos: progress or one alert', () => {
  const first = Link.connect(serverConfig({ ticketKey: TICKET_KEY, earlyData: { maxSize: 1000 } }), clientConfig());
  const ticket = ofType(first.clientEvents, 'sessionTicket')[0]!.ticket;
  const resumption = ofType(new TlsClient(clientConfig({ sessionTicket: ticket, earlyData: true })).start(), 'cryptoData')[0]!.data;
  // A first ClientHello that draws a HelloRetryRequest from a secp256r1-only server, and the client's second one.
  const retryingServer = () => new TlsServer(serverConfig({ ticketKey: TICKET_KEY, groups: ['secp256r1'] }));
  const client = new TlsClient(clientConfig({ sessionTicket: ticket }));
  const firstHello = ofType(client.start(), 'cryptoData')[0]!.data;
  const retry = ofType(retryingServer().receive('initial', firstHello), 'cryptoData')[0]!.data;
  const secondHello = ofType(client.receive('initial', retry), 'cryptoData')[0]!.data;
  fc.assert(
    fc.property(fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 3 }), (afterRetry, mutations) => {
      let events: TlsEvent[];
      if (afterRetry) {
        const target = retryingServer();
        target.receive('initial', firstHello);
        events = target.receive('initial', handshakeMessage(1, mutate(secondHello.subarray(4), mutations)));
      } else {
        events = server().receive('initial', handshakeMessage(1, mutate(resumption.subarray(4), mutations)));
      }
      assert.ok(progressedOrAlerted(events), JSON.stringify(events.map((e) => (e.type === 'alert' ? e : e.type))));
    }),
    { numRuns: 400 },
  );
});

test('arbitrary bytes at any level, in arbitrary chunks: never a throw, and an alert ends everything', () => {
  const level = fc.constantFrom('initial' as const, 'handshake' as const, 'application' as const, 'early' as const);
  fc.assert(
    fc.property(fc.array(fc.tuple(level, fc.uint8Array({ maxLength: 300 })), { minLength: 1, maxLength: 6 }), (chunks) => {
      for (const endpoint of [server(), new TlsClient(clientConfig())]) {
        if (endpoint instanceof TlsClient) endpoint.start();
        let alerted = false;
        for (const [at, data] of chunks) {
          const events = endpoint.receive(at, data);
          if (alerted) assert.deepEqual(events, []);
          const alert = alertOf(events);
          if (alert !== undefined) {
            assert.notEqual(alert.description, 80, alert.reason);
            alerted = true;
          }
        }
      }
    }),
    { numRuns: 300 },
  );
});

test('a ClientHello split at arbitrary points gives the same answer as whole', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: baseHello.byteLength - 1 }), { maxLength: 5 }), (cuts) => {
      const whole = server().receive('initial', baseHello);
      const split = server();
      const points = [0, ...cuts.sort((a, b) => a - b), baseHello.byteLength];
      const events: TlsEvent[] = [];
      for (let i = 0; i + 1 < points.length; i++) events.push(...split.receive('initial', baseHello.subarray(points[i], points[i + 1])));
      assert.deepEqual(events.map((e) => e.type), whole.map((e) => e.type));
    }),
    { numRuns: 100 },
  );
});

test('a server flight with any byte changed never completes the client handshake', () => {
  const reference = Link.connect(serverConfig(), clientConfig());
  const flightLength = reference.wire.find((w) => w.from === 'server' && w.level === 'handshake')!.data.byteLength;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: flightLength - 1 }), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const link = Link.connect(serverConfig(), clientConfig(), (from, level, data) => {
        if (from !== 'server' || level !== 'handshake') return data;
        // ECDSA signatures vary in length by a byte or two, so the position wraps to this flight's length.
        const copy = data.slice();
        copy[at % copy.byteLength]! ^= xor;
        return copy;
      });
      assert.equal(link.completion('client'), undefined);
      assert.notEqual(alertOf(link.clientEvents)?.description, 80, alertOf(link.clientEvents)?.reason);
    }),
    { numRuns: 200 },
  );
});

test('the reassembler returns the same messages however the stream is cut (growth and compaction included)', () => {
  const message = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 3000 })).map(([type, body]) => handshakeMessage(type, body));
  fc.assert(
    fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 20 }), (messages, cuts) => {
      const stream = Buffer.concat(messages);
      const reassembler = new HandshakeReassembler();
      const out: Uint8Array[] = [];
      let offset = 0;
      for (let i = 0; offset < stream.byteLength; i++) {
        const size = cuts[i % cuts.length]!;
        reassembler.push(stream.subarray(offset, offset + size));
        offset += size;
        for (let m = reassembler.next(); m !== undefined; m = reassembler.next()) out.push(m.raw);
      }
      assert.equal(reassembler.pending, 0);
      assert.deepEqual(out.map((m) => Buffer.from(m).toString('hex')), messages.map((m) => Buffer.from(m).toString('hex')));
    }),
    { numRuns: 300 },
  );
});

test('mutated ServerHellos and NewSessionTickets: the client never completes on a changed hello, never internal_error', () => {
  const reference = Link.connect(serverConfig({ ticketKey: TICKET_KEY }), clientConfig());
  const serverHello = reference.wire.find((w) => w.from === 'server' && w.level === 'initial')!.data;
  const ticket = reference.wire.find((w) => w.from === 'server' && w.level === 'application')!.data;
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
      const body = mutate(serverHello.subarray(4), mutations);
      // A fresh client with a fresh key share: even an unchanged hello cannot complete without the server's flight.
      const client = new TlsClient(clientConfig());
      client.start();
      const events = client.receive('initial', handshakeMessage(2, body));
      assert.equal(ofType(events, 'handshakeComplete').length, 0);
      assert.notEqual(alertOf(events)?.description, 80, alertOf(events)?.reason);

      const connected = Link.connect(serverConfig(), clientConfig()).client;
      const afterTicket = connected.receive('application', handshakeMessage(4, mutate(ticket.subarray(4), mutations)));
      assert.notEqual(alertOf(afterTicket)?.description, 80, alertOf(afterTicket)?.reason);
      assert.ok(alertOf(afterTicket) !== undefined || afterTicket.every((e) => e.type === 'sessionTicket'));
    }),
    { numRuns: 150 },
  );
});
