// Peer violations end the connection with the RFC 9000 error code of the rule broken (CONNECTION_CLOSE 0x1c),
// and the peer learns that code. Frames are injected inside correctly protected 1-RTT packets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransportError } from '../../src/quic/errors.js';
import type { Frame } from '../../src/quic/frames.js';
import { decodeTransportParameters, encodeTransportParameters } from '../../src/quic/transport-parameters.js';
import { injectFromClient, Pair } from './support/harness.js';

const T = TransportError;
const data = (n: number): Uint8Array => new Uint8Array(n);

const CASES: { name: string; frames: Frame[] | Uint8Array; code: number }[] = [
  { name: 'STREAM on a server-initiated unidirectional stream', frames: [{ type: 'stream', streamId: 3, offset: 0, data: data(1), fin: false }], code: T.STREAM_STATE_ERROR },
  { name: 'STREAM on a server-initiated stream never opened', frames: [{ type: 'stream', streamId: 1, offset: 0, data: data(1), fin: false }], code: T.STREAM_STATE_ERROR },
  { name: 'MAX_STREAM_DATA on a receive-only stream', frames: [{ type: 'maxStreamData', streamId: 2, maximum: 10 }], code: T.STREAM_STATE_ERROR },
  { name: 'stream ID beyond MAX_STREAMS', frames: [{ type: 'stream', streamId: 400, offset: 0, data: data(1), fin: false }], code: T.STREAM_LIMIT_ERROR },
  { name: 'stream data beyond MAX_STREAM_DATA', frames: [{ type: 'stream', streamId: 0, offset: 600_000, data: data(1), fin: false }], code: T.FLOW_CONTROL_ERROR },
  {
    name: 'connection data beyond MAX_DATA',
    frames: [0, 4, 8].map((streamId): Frame => ({ type: 'stream', streamId, offset: 500_000, data: data(10), fin: false })),
    code: T.FLOW_CONTROL_ERROR,
  },
  {
    name: 'data beyond the final size',
    frames: [{ type: 'stream', streamId: 0, offset: 0, data: data(100), fin: true }, { type: 'stream', streamId: 0, offset: 100, data: data(1), fin: false }],
    code: T.FINAL_SIZE_ERROR,
  },
  {
    name: 'RESET_STREAM below the data received',
    frames: [{ type: 'stream', streamId: 0, offset: 0, data: data(100), fin: false }, { type: 'resetStream', streamId: 0, code: 1, finalSize: 50 }],
    code: T.FINAL_SIZE_ERROR,
  },
  { name: 'CRYPTO far beyond the buffer', frames: [{ type: 'crypto', offset: 100_000, data: data(10) }], code: T.CRYPTO_BUFFER_EXCEEDED },
  { name: 'HANDSHAKE_DONE from a client', frames: [{ type: 'handshakeDone' }], code: T.PROTOCOL_VIOLATION },
  { name: 'NEW_TOKEN from a client', frames: [{ type: 'newToken', token: data(4) }], code: T.PROTOCOL_VIOLATION },
  { name: 'ACK of a packet never sent', frames: [{ type: 'ack', ranges: [[1_000_000, 1_000_000]], ackDelay: 0 }], code: T.PROTOCOL_VIOLATION },
  { name: 'RETIRE_CONNECTION_ID of a sequence never issued', frames: [{ type: 'retireConnectionId', sequence: 100 }], code: T.PROTOCOL_VIOLATION },
  {
    name: 'more connection IDs than active_connection_id_limit',
    frames: [10, 11, 12, 13, 14].map((sequence): Frame => ({ type: 'newConnectionId', sequence, retirePriorTo: 0, connectionId: data(8).fill(sequence), resetToken: data(16) })),
    code: T.CONNECTION_ID_LIMIT_ERROR,
  },
  { name: 'an unknown frame type', frames: Uint8Array.of(0x40, 0x21, 0, 0), code: T.FRAME_ENCODING_ERROR },
];

for (const { name, frames, code } of CASES) {
  test(`${name} → 0x${code.toString(16)}`, () => {
    const pair = new Pair();
    assert.ok(pair.handshake());
    const events = injectFromClient(pair, frames);
    const terminated = events.find((e) => e.type === 'connectionTerminated');
    assert.ok(terminated && terminated.type === 'connectionTerminated', 'the server closed');
    assert.equal(terminated.code, code);
    assert.equal(terminated.byPeer, false);
    // The client hears the same code in CONNECTION_CLOSE.
    assert.ok(pair.run(() => pair.clientEvents.some((e) => e.type === 'connectionTerminated'), 5000));
    const seen = pair.clientEvents.find((e) => e.type === 'connectionTerminated');
    assert.deepEqual(seen && seen.type === 'connectionTerminated' && [seen.code, seen.byPeer], [code, true]);
  });
}

test('§7.3: a server whose original_destination_connection_id does not match fails authentication (0x08)', () => {
  const pair = new Pair({
    serverTls: {
      rewriteTransportParameters: (encoded) => {
        const parameters = decodeTransportParameters(encoded, true);
        return encodeTransportParameters({ ...parameters, originalDestinationConnectionId: Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9) });
      },
    },
  });
  assert.ok(pair.run(() => pair.serverEvents.some((e) => e.type === 'connectionTerminated'), 10_000));
  const client = pair.clientEvents.find((e) => e.type === 'connectionTerminated');
  assert.equal(client?.type === 'connectionTerminated' && client.code, T.TRANSPORT_PARAMETER_ERROR);
  assert.equal(pair.clientEvents.some((e) => e.type === 'handshakeComplete'), false);
});

test('§18.2: a client that sends a server-only transport parameter is refused (0x08)', () => {
  const pair = new Pair({
    clientTls: {
      rewriteTransportParameters: (encoded) => {
        const parameters = decodeTransportParameters(encoded, false);
        return encodeTransportParameters({ ...parameters, statelessResetToken: data(16) });
      },
    },
  });
  assert.ok(pair.run(() => pair.clientEvents.some((e) => e.type === 'connectionTerminated'), 10_000));
  const server = pair.serverEvents.find((e) => e.type === 'connectionTerminated');
  assert.equal(server?.type === 'connectionTerminated' && server.code, T.TRANSPORT_PARAMETER_ERROR);
});
