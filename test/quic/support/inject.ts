/**
 * Sealing frames no well-behaved client sends: a 1-RTT packet built with a client connection's real keys and next
 * packet number, so the server authenticates it like any other (a hostile but authenticated peer).
 */
import { BufferWriter, concatBytes } from '../../../src/quic/buffer.js';
import type { QuicConnection } from '../../../src/quic/connection.js';
import { encodeFrame } from '../../../src/quic/frames.js';
import type { Frame } from '../../../src/quic/frames.js';
import { encodeShortHeader, packetNumberLength } from '../../../src/quic/packet.js';
import { protectPacket } from '../../../src/quic/protection.js';
import type { DirectionKeys } from '../../../src/quic/protection.js';

/** What a client connection keeps private that an attacker needs: its 1-RTT write keys and packet numbers. */
interface ClientInternals {
  spaces: { application: { write: DirectionKeys | undefined; nextPacketNumber: number; largestAcked?: number } };
}

/** One protected 1-RTT packet from `client` to `destinationCid` carrying `payload` (frames, or raw frame bytes). */
export function sealAsClient(client: QuicConnection, destinationCid: Uint8Array, payload: Uint8Array | Frame[]): Uint8Array {
  let bytes: Uint8Array;
  if (payload instanceof Uint8Array) bytes = payload;
  else {
    const writer = new BufferWriter();
    for (const frame of payload) encodeFrame(writer, frame);
    bytes = writer.finish();
  }
  // RFC 9001 §5.4.2: enough bytes after the packet number for the header-protection sample.
  if (bytes.byteLength < 4) bytes = concatBytes([bytes, new Uint8Array(4 - bytes.byteLength)]);
  const space = (client as unknown as ClientInternals).spaces.application;
  if (space.write === undefined) throw new Error('no 1-RTT keys yet');
  const pn = space.nextPacketNumber++;
  const { header, pnOffset } = encodeShortHeader(destinationCid, pn, packetNumberLength(pn, space.largestAcked), 0);
  return protectPacket(space.write, header, pnOffset, bytes, pn);
}
