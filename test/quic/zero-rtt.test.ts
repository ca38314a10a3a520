// 0-RTT (RFC 9001 §4.6): a resuming client sends its request in 0-RTT packets with the first flight; the server
// accepts it before the handshake completes, or rejects it and the client resends in 1-RTT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePacketHeader } from '../../src/quic/packet.js';
import type { PacketType } from '../../src/quic/packet.js';
import { DEFAULT_TRANSPORT_PARAMETERS, encodeTransportParameters } from '../../src/quic/transport-parameters.js';
import { CLIENT_ADDRESS, Pair, patternBytes, StreamCollector } from './support/harness.js';
import { TlsClient, TlsServer } from '../../src/quic/tls/index.js';
import { TICKET_KEY, clientConfig, identity, serverConfig } from './tls/helpers.js';

/** What the server said in the earlier connection the client resumes. */
const REMEMBERED = encodeTransportParameters({
  ...DEFAULT_TRANSPORT_PARAMETERS,
  initialMaxData: 1 << 20,
  initialMaxStreamDataBidiLocal: 1 << 19,
  initialMaxStreamDataBidiRemote: 1 << 19,
  initialMaxStreamDataUni: 1 << 19,
  initialMaxStreamsBidi: 100,
  initialMaxStreamsUni: 100,
});

function packetTypes(datagram: Uint8Array): PacketType[] {
  const types: PacketType[] = [];
  for (let offset = 0; offset < datagram.byteLength; ) {
    const header = parsePacketHeader(datagram, offset, 8);
    types.push(header.type);
    offset = header.packetEnd;
  }
  return types;
}

function attempt(accept: boolean): { pair: Pair; firstFlightEvents: string[]; collector: StreamCollector; id: number } {
  const pair = new Pair({ clientTls: { earlyData: { rememberedTransportParameters: REMEMBERED } }, serverTls: { acceptEarlyData: accept } });
  const id = pair.client.openStream(false);
  assert.equal(id, 0, 'the remembered limits allow opening a stream before the handshake');
  pair.client.sendStreamData(id, patternBytes(3000, 1), true);
  const first = pair.client.datagramsToSend(pair.now);
  assert.deepEqual(packetTypes(first[0]!.data), ['initial', 'zeroRtt']);
  assert.ok(first[0]!.data.byteLength >= 1200);
  const firstFlightEvents: string[] = [];
  const collector = new StreamCollector(pair.server);
  for (const { data } of first) pair.server.receiveDatagram(data, CLIENT_ADDRESS, pair.now);
  for (const event of pair.server.pollEvents()) {
    firstFlightEvents.push(event.type);
    collector.handle(event);
  }
  pair.onServerEvent = (event) => collector.handle(event);
  return { pair, firstFlightEvents, collector, id };
}

test('0-RTT accepted: the request reaches the server with the client first flight, before the handshake completes', () => {
  const { pair, firstFlightEvents, collector, id } = attempt(true);
  assert.ok(firstFlightEvents.includes('streamData'), `first flight gave ${firstFlightEvents.join(', ')}`);
  assert.equal(firstFlightEvents.includes('handshakeComplete'), false);
  assert.ok(pair.run(() => collector.ended.has(id) && pair.serverEvents.some((e) => e.type === 'handshakeComplete')));
  assert.deepEqual(collector.bytes(id), patternBytes(3000, 1));
  assert.deepEqual(pair.clientEvents.find((e) => e.type === 'handshakeComplete'), { type: 'handshakeComplete', alpn: 'h3', resumed: true, cipher: 'TLS_AES_128_GCM_SHA256' });
});

test('0-RTT rejected: the server drops it, and the client resends the data in 1-RTT after the handshake', () => {
  const { pair, firstFlightEvents, collector, id } = attempt(false);
  assert.equal(firstFlightEvents.includes('streamData'), false);
  assert.ok(pair.run(() => collector.ended.has(id)));
  assert.deepEqual(collector.bytes(id), patternBytes(3000, 1));
});

test('session tickets from TLS reach the application through the sessionTicket option', () => {
  const tickets: Uint8Array[] = [];
  const pair = new Pair({ clientTls: { sessionTicket: Uint8Array.of(1, 2, 3) }, sessionTicket: (ticket) => tickets.push(ticket) });
  assert.ok(pair.handshake());
  assert.deepEqual(tickets, [Uint8Array.of(1, 2, 3)]);
});

test('0-RTT with the real TLS 1.3 engines: a ticket from one connection lets the next send its request in 0-RTT, and the server accepts it', () => {
  const who = identity();
  const tickets: Uint8Array[] = [];
  const engines = (ticket?: Uint8Array) => ({
    client: (tp: Uint8Array) => new TlsClient(clientConfig({ transportParameters: tp, earlyData: true, ...(ticket ? { sessionTicket: ticket } : {}) }, who)),
    // The ticket binds the RFC 9000 §7.4.1 limits, not the whole (per-connection) transport parameters.
    server: (tp: Uint8Array) => new TlsServer(serverConfig({ transportParameters: tp, ticketKey: TICKET_KEY, earlyData: { maxSize: 0xffffffff } }, who)),
  });
  const first = new Pair({ tls: engines(), sessionTicket: (ticket) => tickets.push(ticket) });
  assert.ok(first.handshake());
  assert.ok(first.run(() => tickets.length > 0), 'the server sent a ticket');

  const second = new Pair({ tls: engines(tickets[0]) });
  const id = second.client.openStream(false);
  assert.equal(id, 0);
  second.client.sendStreamData(id, patternBytes(2000, 7), true);
  const flight = second.client.datagramsToSend(second.now);
  assert.deepEqual(packetTypes(flight[0]!.data), ['initial', 'zeroRtt']);
  const collector = new StreamCollector(second.server);
  const early: string[] = [];
  for (const { data } of flight) second.server.receiveDatagram(data, CLIENT_ADDRESS, second.now);
  for (const event of second.server.pollEvents()) {
    early.push(event.type);
    collector.handle(event);
  }
  assert.ok(early.includes('streamData'), `the 0-RTT request arrived with the first flight (${early.join(', ')})`);
  second.onServerEvent = (event) => collector.handle(event);
  assert.ok(second.run(() => collector.ended.has(id) && second.serverEvents.some((e) => e.type === 'handshakeComplete')));
  assert.deepEqual(collector.bytes(id), patternBytes(2000, 7));
  assert.deepEqual(second.clientEvents.find((e) => e.type === 'handshakeComplete'), { type: 'handshakeComplete', alpn: 'h3', serverName: 'localhost', resumed: true, cipher: 'TLS_AES_128_GCM_SHA256' });
});
