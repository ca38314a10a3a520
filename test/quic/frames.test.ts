// RFC 9000 §19 frames: encode/decode round trips, §12.4 permissions, the RFC's error codes for malformed input;
// transport parameters (§18) and the range set used for ACKs and reassembly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BufferReader, BufferWriter } from '../../src/quic/buffer.js';
import { QuicError, TransportError } from '../../src/quic/errors.js';
import { decodeFrames, encodeFrame, frameAllowedIn } from '../../src/quic/frames.js';
import type { Frame } from '../../src/quic/frames.js';
import type { PacketType } from '../../src/quic/packet.js';
import { RangeSet } from '../../src/quic/rangeset.js';
import {
  authenticateConnectionIds, decodeTransportParameters, DEFAULT_TRANSPORT_PARAMETERS, encodeTransportParameters,
} from '../../src/quic/transport-parameters.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
const encode = (frame: Frame): Uint8Array => {
  const writer = new BufferWriter();
  encodeFrame(writer, frame);
  return writer.finish();
};

const SAMPLES: Frame[] = [
  { type: 'padding', length: 3 },
  { type: 'ping' },
  { type: 'ack', ranges: [[10, 20], [5, 7], [0, 2]], ackDelay: 100 },
  { type: 'ack', ranges: [[0, 0]], ackDelay: 0, ecn: { ect0: 1, ect1: 2, ce: 3 } },
  { type: 'resetStream', streamId: 4, code: 7, finalSize: 1000 },
  { type: 'stopSending', streamId: 8, code: 0x10c },
  { type: 'crypto', offset: 70000, data: bytes(1, 2, 3) },
  { type: 'newToken', token: bytes(9, 9) },
  { type: 'stream', streamId: 2 ** 40, offset: 2 ** 33, data: bytes(1), fin: true },
  { type: 'stream', streamId: 0, offset: 0, data: new Uint8Array(0), fin: false },
  { type: 'maxData', maximum: 2 ** 50 },
  { type: 'maxStreamData', streamId: 3, maximum: 65536 },
  { type: 'maxStreams', bidirectional: true, maximum: 100 },
  { type: 'maxStreams', bidirectional: false, maximum: 2 ** 60 },
  { type: 'dataBlocked', limit: 5 },
  { type: 'streamDataBlocked', streamId: 1, limit: 6 },
  { type: 'streamsBlocked', bidirectional: false, limit: 7 },
  { type: 'newConnectionId', sequence: 3, retirePriorTo: 1, connectionId: bytes(1, 2, 3, 4, 5, 6, 7, 8), resetToken: new Uint8Array(16).fill(7) },
  { type: 'retireConnectionId', sequence: 2 },
  { type: 'pathChallenge', data: bytes(1, 2, 3, 4, 5, 6, 7, 8) },
  { type: 'pathResponse', data: bytes(8, 7, 6, 5, 4, 3, 2, 1) },
  { type: 'connectionClose', application: false, code: 0x0a, frameType: 0x08, reason: 'bad' },
  { type: 'connectionClose', application: true, code: 0x100, frameType: 0, reason: 'ünïcode' },
  { type: 'handshakeDone' },
];

test('every frame type round-trips through encode and decode', () => {
  for (const frame of SAMPLES) {
    const decoded = decodeFrames(encode(frame), 'oneRtt');
    assert.equal(decoded.length, 1, frame.type);
    assert.deepEqual(decoded[0]!.frame, frame, frame.type);
  }
});

test('§12.4 permissions: Initial/Handshake carry only PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE(0x1c)', () => {
  for (const frame of SAMPLES) {
    const wire = encode(frame);
    const type = new BufferReader(wire).varint();
    for (const packetType of ['initial', 'handshake', 'zeroRtt'] as PacketType[]) {
      if (frameAllowedIn(type, packetType)) {
        assert.doesNotThrow(() => decodeFrames(wire, packetType));
      } else {
        assert.throws(() => decodeFrames(wire, packetType), (e: unknown) => e instanceof QuicError && e.code === TransportError.PROTOCOL_VIOLATION && e.frameType === type);
      }
    }
  }
  assert.ok(frameAllowedIn(0x1c, 'initial'));
  assert.ok(!frameAllowedIn(0x1d, 'handshake'));
  assert.ok(!frameAllowedIn(0x06, 'zeroRtt'));
  assert.ok(frameAllowedIn(0x08, 'zeroRtt'));
});

function assertCode(payload: Uint8Array, code: number, packetType: PacketType = 'oneRtt'): void {
  assert.throws(() => decodeFrames(payload, packetType), (e: unknown) => e instanceof QuicError && e.code === code);
}

test('malformed frames map to the RFC error codes', () => {
  assertCode(new Uint8Array(0), TransportError.PROTOCOL_VIOLATION); // §12.4: no frames
  assertCode(bytes(0x1f), TransportError.FRAME_ENCODING_ERROR); // unknown type
  assertCode(bytes(0x40, 0x21), TransportError.FRAME_ENCODING_ERROR); // unknown type 0x21 (2-byte varint)
  assertCode(bytes(0x02, 0x05, 0x00, 0x00, 0x06), TransportError.FRAME_ENCODING_ERROR); // first range below 0
  assertCode(bytes(0x02, 0x05, 0x00, 0x01, 0x00, 0x04, 0x00), TransportError.FRAME_ENCODING_ERROR); // gap below 0
  assertCode(bytes(0x06, 0x00, 0x05, 0x01), TransportError.FRAME_ENCODING_ERROR); // truncated CRYPTO
  assertCode(bytes(0x07, 0x00), TransportError.FRAME_ENCODING_ERROR); // empty NEW_TOKEN
  assertCode(bytes(0x12, 0xd0, 0, 0, 0, 0, 0, 1, 0), TransportError.FRAME_ENCODING_ERROR); // MAX_STREAMS > 2^60
  assertCode(bytes(0x18, 0x01, 0x02, 0x08, ...new Array(24).fill(1)), TransportError.FRAME_ENCODING_ERROR); // retire > seq
  assertCode(bytes(0x18, 0x01, 0x00, 0x15, ...new Array(37).fill(1)), TransportError.FRAME_ENCODING_ERROR); // CID 21 bytes
  // STREAM whose offset + length exceeds 2^62 - 1 (§19.8)
  assertCode(bytes(0x0e, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00), TransportError.FRAME_ENCODING_ERROR);
});

test('fuzz: frame decoding never throws anything but QuicError with a transport code', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.constantFrom<PacketType>('initial', 'handshake', 'zeroRtt', 'oneRtt'), (payload, type) => {
      try {
        decodeFrames(payload, type);
      } catch (error) {
        assert.ok(error instanceof QuicError, String(error));
        assert.ok(error.code === TransportError.FRAME_ENCODING_ERROR || error.code === TransportError.PROTOCOL_VIOLATION);
      }
    }),
    { numRuns: 3000, seed: 42 },
  );
});

test('transport parameters round-trip and validate (§18.2)', () => {
  const parameters = {
    ...DEFAULT_TRANSPORT_PARAMETERS,
    originalDestinationConnectionId: bytes(1, 2, 3, 4),
    initialSourceConnectionId: bytes(5, 6),
    statelessResetToken: new Uint8Array(16).fill(3),
    maxIdleTimeout: 30000,
    initialMaxData: 1 << 20,
    initialMaxStreamsBidi: 100,
    maxAckDelay: 20,
    activeConnectionIdLimit: 4,
    disableActiveMigration: true,
  };
  const decoded = decodeTransportParameters(encodeTransportParameters(parameters), true);
  assert.deepEqual(decoded, parameters);
  const code = (data: Uint8Array, fromServer = true) =>
    assert.throws(() => decodeTransportParameters(data, fromServer), (e: unknown) => e instanceof QuicError && e.code === TransportError.TRANSPORT_PARAMETER_ERROR);
  code(encodeTransportParameters(parameters), false); // server-only parameters from a client
  code(bytes(0x03, 0x02, 0x44, 0xaf)); // max_udp_payload_size 1199
  code(bytes(0x0a, 0x01, 0x15)); // ack_delay_exponent 21
  code(bytes(0x0e, 0x01, 0x01)); // active_connection_id_limit 1
  code(bytes(0x01, 0x01, 0x05, 0x01, 0x01, 0x05)); // duplicate
  code(bytes(0x01, 0x05, 0x05)); // truncated
  assert.equal(decodeTransportParameters(bytes(0x40, 0x99, 0x01, 0x00), false).maxIdleTimeout, 0); // unknown ignored
});

test('§18.1 reserved transport parameters with 8-byte ids (as Chromium sends them) are ignored, not malformed', () => {
  // From a real Chromium ClientHello: initial_max_streams_bidi=100, then reserved id 0x17a68948bd46e8b7 (above
  // 2^53) with 14 bytes of junk, then initial_max_streams_uni=103.
  const data = Uint8Array.from(Buffer.from('08024064d7a68948bd46e8b70e47a9bdd94f3c81967d7e51878f2b09024067', 'hex'));
  const decoded = decodeTransportParameters(data, false);
  assert.equal(decoded.initialMaxStreamsBidi, 100);
  assert.equal(decoded.initialMaxStreamsUni, 103);
  // Two different huge ids that round to the same double are not a duplicate.
  const twice = Uint8Array.from(Buffer.from('ffffffffffffff0000ffffffffffffff0100', 'hex'));
  assert.doesNotThrow(() => decodeTransportParameters(twice, false));
});

test('§7.3 connection ID authentication', () => {
  const base = { ...DEFAULT_TRANSPORT_PARAMETERS, initialSourceConnectionId: bytes(1), originalDestinationConnectionId: bytes(2) };
  assert.doesNotThrow(() => authenticateConnectionIds(base, { peerInitialSourceCid: bytes(1), originalDestinationCid: bytes(2), fromServer: true }));
  assert.throws(() => authenticateConnectionIds(base, { peerInitialSourceCid: bytes(9), originalDestinationCid: bytes(2), fromServer: true }));
  assert.throws(() => authenticateConnectionIds(base, { peerInitialSourceCid: bytes(1), originalDestinationCid: bytes(3), fromServer: true }));
  assert.throws(() => authenticateConnectionIds(base, { peerInitialSourceCid: bytes(1), originalDestinationCid: bytes(2), retrySourceCid: bytes(4), fromServer: true }));
  assert.throws(() => authenticateConnectionIds({ ...DEFAULT_TRANSPORT_PARAMETERS }, { peerInitialSourceCid: bytes(1), fromServer: false }));
});

test('RangeSet merges, subtracts and stays bounded', () => {
  const set = new RangeSet(3);
  set.add(5);
  set.add(7);
  set.add(6);
  assert.deepEqual([...set.ranges()], [[5, 8]]);
  set.add(0, 2);
  set.add(10, 12);
  set.add(20, 21);
  assert.deepEqual([...set.ranges()], [[5, 8], [10, 12], [20, 21]]);
  assert.ok(set.contains(11) && !set.contains(12) && !set.contains(0));
  set.subtract(6, 11);
  assert.deepEqual([...set.ranges()], [[5, 6], [11, 12], [20, 21]]);
  set.add(0, 100);
  assert.deepEqual(set.descending(), [[0, 100]]);
  set.removeBelow(50);
  assert.deepEqual([...set.ranges()], [[50, 100]]);
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(200), fc.nat(20))), (adds) => {
    const s = new RangeSet();
    const model = new Set<number>();
    for (const [start, len] of adds) {
      s.add(start, start + len);
      for (let i = start; i < start + len; i++) model.add(i);
    }
    for (let i = 0; i < 230; i++) assert.equal(s.contains(i), model.has(i));
    const r = [...s.ranges()];
    for (let i = 1; i < r.length; i++) assert.ok(r[i]![0] > r[i - 1]![1]);
  }), { numRuns: 300, seed: 7 });
});
