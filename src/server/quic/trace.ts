/**
 * The QUIC packet trace (--trace-quic): one line per packet sent or received, after protection is removed, with its
 * frames, in the style of the HTTP/2 and HTTP/3 frame traces:
 *   [127.0.0.1:53012] recv 1-RTT pn=7 size=61 | STREAM streamId=0 offset=0 len=30 fin, ACK ranges=0-3 ackDelay=12
 *   [127.0.0.1:53012] send 1-RTT pn=9 size=1452 pmtu-probe | PING, PADDING length=1425
 */
import type { PacketTrace } from '../../quic/index.js';

const PACKET_NAMES: Record<PacketTrace['type'], string> = { initial: 'Initial', handshake: 'Handshake', zeroRtt: '0-RTT', oneRtt: '1-RTT' };

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** `maxStreamData` → `MAX_STREAM_DATA`, the RFC 9000 §19 frame names. */
function frameName(type: string): string {
  return type.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase();
}

function formatFrame(frame: PacketTrace['frames'][number]): string {
  const parts = [frameName(frame.type)];
  for (const [key, value] of Object.entries(frame)) {
    if (key === 'type') continue;
    if (value instanceof Uint8Array) parts.push(key === 'data' && frame.type !== 'pathChallenge' && frame.type !== 'pathResponse' ? `len=${value.byteLength}` : `${key}=${hex(value)}`);
    else if (key === 'ranges') parts.push(`ranges=${(value as [number, number][]).map(([low, high]) => (low === high ? `${low}` : `${low}-${high}`)).join(',')}`);
    else if (typeof value === 'boolean') parts.push(value ? key : '');
    else if (typeof value === 'object' && value !== null) parts.push(`${key}=${JSON.stringify(value)}`);
    else parts.push(`${key}=${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  }
  return parts.filter(Boolean).join(' ');
}

export function formatPacket(peer: string, packet: PacketTrace): string {
  const head = `[${peer}] ${packet.direction === 'in' ? 'recv' : 'send'} ${PACKET_NAMES[packet.type]} pn=${packet.packetNumber} size=${packet.size}${packet.pmtuProbe === true ? ' pmtu-probe' : ''}`;
  return `${head} | ${packet.frames.map(formatFrame).join(', ')}`;
}
