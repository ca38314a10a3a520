/**
 * Transport parameters (RFC 9000 §18): encoding, decoding and validation in both directions, including the
 * connection-ID authentication of §7.3. Every violation is a TRANSPORT_PARAMETER_ERROR (§18.2, §7.3).
 */
import { BufferReader, BufferUnderflowError, BufferWriter, bytesEqual } from './buffer.js';
import { QuicError, TransportError } from './errors.js';
import { MAX_STREAM_COUNT } from './frames.js';

export interface PreferredAddress {
  ipv4Address: Uint8Array;
  ipv4Port: number;
  ipv6Address: Uint8Array;
  ipv6Port: number;
  connectionId: Uint8Array;
  statelessResetToken: Uint8Array;
}

export interface TransportParameters {
  originalDestinationConnectionId?: Uint8Array;
  /** Milliseconds; 0 = no idle timeout. */
  maxIdleTimeout: number;
  statelessResetToken?: Uint8Array;
  maxUdpPayloadSize: number;
  initialMaxData: number;
  initialMaxStreamDataBidiLocal: number;
  initialMaxStreamDataBidiRemote: number;
  initialMaxStreamDataUni: number;
  initialMaxStreamsBidi: number;
  initialMaxStreamsUni: number;
  ackDelayExponent: number;
  /** Milliseconds. */
  maxAckDelay: number;
  disableActiveMigration: boolean;
  preferredAddress?: PreferredAddress;
  activeConnectionIdLimit: number;
  initialSourceConnectionId?: Uint8Array;
  retrySourceConnectionId?: Uint8Array;
}

/** RFC 9000 §18.2 defaults for absent parameters. */
export const DEFAULT_TRANSPORT_PARAMETERS: Readonly<TransportParameters> = Object.freeze({
  maxIdleTimeout: 0,
  maxUdpPayloadSize: 65527,
  initialMaxData: 0,
  initialMaxStreamDataBidiLocal: 0,
  initialMaxStreamDataBidiRemote: 0,
  initialMaxStreamDataUni: 0,
  initialMaxStreamsBidi: 0,
  initialMaxStreamsUni: 0,
  ackDelayExponent: 3,
  maxAckDelay: 25,
  disableActiveMigration: false,
  activeConnectionIdLimit: 2,
});

const Id = {
  originalDestinationConnectionId: 0x00, maxIdleTimeout: 0x01, statelessResetToken: 0x02, maxUdpPayloadSize: 0x03,
  initialMaxData: 0x04, initialMaxStreamDataBidiLocal: 0x05, initialMaxStreamDataBidiRemote: 0x06,
  initialMaxStreamDataUni: 0x07, initialMaxStreamsBidi: 0x08, initialMaxStreamsUni: 0x09, ackDelayExponent: 0x0a,
  maxAckDelay: 0x0b, disableActiveMigration: 0x0c, preferredAddress: 0x0d, activeConnectionIdLimit: 0x0e,
  initialSourceConnectionId: 0x0f, retrySourceConnectionId: 0x10,
} as const;

type IntegerName =
  | 'maxIdleTimeout' | 'maxUdpPayloadSize' | 'initialMaxData' | 'initialMaxStreamDataBidiLocal' | 'initialMaxStreamDataBidiRemote'
  | 'initialMaxStreamDataUni' | 'initialMaxStreamsBidi' | 'initialMaxStreamsUni' | 'ackDelayExponent' | 'maxAckDelay'
  | 'activeConnectionIdLimit';
const INTEGER_PARAMETERS: readonly IntegerName[] = [
  'maxIdleTimeout', 'maxUdpPayloadSize', 'initialMaxData', 'initialMaxStreamDataBidiLocal', 'initialMaxStreamDataBidiRemote',
  'initialMaxStreamDataUni', 'initialMaxStreamsBidi', 'initialMaxStreamsUni', 'ackDelayExponent', 'maxAckDelay',
  'activeConnectionIdLimit',
];
type CidName = 'originalDestinationConnectionId' | 'initialSourceConnectionId' | 'retrySourceConnectionId';

function parameterError(reason: string): QuicError {
  return new QuicError(TransportError.TRANSPORT_PARAMETER_ERROR, reason);
}

export function encodeTransportParameters(parameters: TransportParameters): Uint8Array {
  const writer = new BufferWriter(128);
  const bytes = (id: number, value: Uint8Array): void => {
    writer.varint(id).varint(value.byteLength).raw(value);
  };
  for (const name of ['originalDestinationConnectionId', 'initialSourceConnectionId', 'retrySourceConnectionId'] as const) {
    const value = parameters[name];
    if (value !== undefined) bytes(Id[name], value);
  }
  if (parameters.statelessResetToken) bytes(Id.statelessResetToken, parameters.statelessResetToken);
  for (const name of INTEGER_PARAMETERS) {
    const value = parameters[name];
    if (value === DEFAULT_TRANSPORT_PARAMETERS[name]) continue;
    const inner = new BufferWriter(8).varint(value).finish();
    bytes(Id[name], inner);
  }
  if (parameters.disableActiveMigration) bytes(Id.disableActiveMigration, new Uint8Array(0));
  if (parameters.preferredAddress) {
    const p = parameters.preferredAddress;
    const inner = new BufferWriter(64).raw(p.ipv4Address).uint16(p.ipv4Port).raw(p.ipv6Address).uint16(p.ipv6Port);
    inner.uint8(p.connectionId.byteLength).raw(p.connectionId).raw(p.statelessResetToken);
    bytes(Id.preferredAddress, inner.finish());
  }
  return writer.finish();
}

/**
 * Decodes the peer's parameters and checks each value's range (§18.2). `fromServer` says who sent them:
 * a client must not send the server-only parameters (§18.2: original_destination_connection_id,
 * preferred_address, retry_source_connection_id, stateless_reset_token).
 */
export function decodeTransportParameters(data: Uint8Array, fromServer: boolean): TransportParameters {
  const parameters: TransportParameters = { ...DEFAULT_TRANSPORT_PARAMETERS };
  const seen = new Set<number>();
  const reader = new BufferReader(data);
  try {
    while (!reader.eof) {
      // Ids may use the whole 62-bit range: reserved ids (31 * N + 27, §18.1) are sent by Chromium with 8-byte
      // varints, and every id above 2^53 is unknown to us, so it is skipped (§7.4.2: ignore unknown parameters).
      const id = reader.largeVarint();
      const value = reader.bytesView(reader.varint());
      if (id > Number.MAX_SAFE_INTEGER) continue;
      // RFC 9000 §7.4: a parameter must not appear more than once.
      if (seen.has(id)) throw parameterError(`duplicate transport parameter 0x${id.toString(16)}`);
      seen.add(id);
      decodeOne(parameters, id, value, fromServer);
    }
  } catch (error) {
    if (error instanceof BufferUnderflowError) throw parameterError('malformed transport parameters');
    throw error;
  }
  return parameters;
}

function decodeOne(parameters: TransportParameters, id: number, value: Uint8Array, fromServer: boolean): void {
  const serverOnly = id === Id.originalDestinationConnectionId || id === Id.statelessResetToken ||
    id === Id.preferredAddress || id === Id.retrySourceConnectionId;
  if (serverOnly && !fromServer) throw parameterError(`client sent server-only parameter 0x${id.toString(16)}`);
  const cid = (name: CidName): void => {
    if (value.byteLength > 20) throw parameterError('connection ID parameter longer than 20 bytes');
    parameters[name] = value.slice();
  };
  switch (id) {
    case Id.originalDestinationConnectionId: return cid('originalDestinationConnectionId');
    case Id.initialSourceConnectionId: return cid('initialSourceConnectionId');
    case Id.retrySourceConnectionId: return cid('retrySourceConnectionId');
    case Id.statelessResetToken:
      if (value.byteLength !== 16) throw parameterError('stateless_reset_token is not 16 bytes');
      parameters.statelessResetToken = value.slice();
      return;
    case Id.disableActiveMigration:
      if (value.byteLength !== 0) throw parameterError('disable_active_migration is not empty');
      parameters.disableActiveMigration = true;
      return;
    case Id.preferredAddress: {
      const reader = new BufferReader(value);
      const ipv4Address = reader.bytesView(4).slice();
      const ipv4Port = reader.uint16();
      const ipv6Address = reader.bytesView(16).slice();
      const ipv6Port = reader.uint16();
      const length = reader.uint8();
      // RFC 9000 §18.2: a zero-length CID in preferred_address is a TRANSPORT_PARAMETER_ERROR.
      if (length < 1 || length > 20) throw parameterError('preferred_address CID length outside 1..20');
      const connectionId = reader.bytesView(length).slice();
      const statelessResetToken = reader.bytesView(16).slice();
      if (!reader.eof) throw parameterError('trailing bytes in preferred_address');
      parameters.preferredAddress = { ipv4Address, ipv4Port, ipv6Address, ipv6Port, connectionId, statelessResetToken };
      return;
    }
    default: {
      const name = INTEGER_PARAMETERS.find((n) => Id[n] === id);
      if (name === undefined) return; // RFC 9000 §7.4.2: unknown parameters are ignored.
      const reader = new BufferReader(value);
      const integer = reader.largeVarint();
      if (!reader.eof) throw parameterError(`trailing bytes in parameter 0x${id.toString(16)}`);
      checkRange(name, integer);
      parameters[name] = integer;
    }
  }
}

/** RFC 9000 §18.2 value constraints. */
function checkRange(name: IntegerName, value: number): void {
  if (name === 'maxUdpPayloadSize' && value < 1200) throw parameterError('max_udp_payload_size below 1200');
  if (name === 'ackDelayExponent' && value > 20) throw parameterError('ack_delay_exponent above 20');
  if (name === 'maxAckDelay' && value >= 2 ** 14) throw parameterError('max_ack_delay of 2^14 or more');
  if (name === 'activeConnectionIdLimit' && value < 2) throw parameterError('active_connection_id_limit below 2');
  if ((name === 'initialMaxStreamsBidi' || name === 'initialMaxStreamsUni') && value > MAX_STREAM_COUNT) {
    throw parameterError('initial_max_streams above 2^60');
  }
}

/**
 * RFC 9000 §7.3: authenticate the connection IDs used during the handshake. The client checks the server's
 * original_destination_connection_id (and retry_source_connection_id after a Retry); both check
 * initial_source_connection_id against the Source Connection ID of the peer's first Initial.
 */
export function authenticateConnectionIds(
  parameters: TransportParameters,
  expected: { peerInitialSourceCid: Uint8Array; originalDestinationCid?: Uint8Array; retrySourceCid?: Uint8Array; fromServer: boolean },
): void {
  const check = (value: Uint8Array | undefined, want: Uint8Array, name: string): void => {
    if (value === undefined) throw parameterError(`missing ${name}`);
    if (!bytesEqual(value, want)) throw parameterError(`${name} does not match`);
  };
  check(parameters.initialSourceConnectionId, expected.peerInitialSourceCid, 'initial_source_connection_id');
  if (!expected.fromServer) return;
  check(parameters.originalDestinationConnectionId, expected.originalDestinationCid!, 'original_destination_connection_id');
  if (expected.retrySourceCid !== undefined) check(parameters.retrySourceConnectionId, expected.retrySourceCid, 'retry_source_connection_id');
  else if (parameters.retrySourceConnectionId !== undefined) throw parameterError('retry_source_connection_id without a Retry');
}
