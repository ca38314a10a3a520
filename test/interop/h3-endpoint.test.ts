/**
 * The endpoint's stateless replies over a real UDP socket: Version Negotiation for an unknown version (RFC 9000
 * §6.1), a Stateless Reset for a short-header packet of no connection (§10.3), and silence for Initials below
 * 1200 bytes (§14.1), tiny datagrams and Version Negotiation packets (§6.1: never answered); no state kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { startH3Server } from './h3-server.js';

async function exchange(port: number, datagrams: Uint8Array[], waitMs = 1500): Promise<Buffer[]> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (message) => replies.push(message));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  for (const datagram of datagrams) socket.send(datagram, port, '127.0.0.1');
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  socket.close();
  return replies;
}

function longHeader(version: number, size: number): Uint8Array {
  const datagram = new Uint8Array(size);
  datagram[0] = 0xc0;
  new DataView(datagram.buffer).setUint32(1, version);
  datagram[5] = 8; // DCID length
  datagram.fill(0xd1, 6, 14);
  datagram[14] = 4; // SCID length
  datagram.fill(0x5c, 15, 19);
  return datagram;
}

test('stateless replies: Version Negotiation, Stateless Reset, and silence for junk', { timeout: 60_000 }, async () => {
  const server = await startH3Server('/nonexistent');
  const endpoint = server.endpoint;
  try {
    const [vn] = await exchange(endpoint.port, [longHeader(0x0a0a0a0a, 1200)]);
    assert.ok(vn, 'no Version Negotiation');
    assert.equal(vn.readUInt32BE(1), 0, 'version 0 marks Version Negotiation');
    // §17.2.1: the client's SCID comes back as DCID and vice versa; version 1 is offered.
    assert.equal(vn[5], 4);
    assert.deepEqual([...vn.subarray(6, 10)], [0x5c, 0x5c, 0x5c, 0x5c]);
    const versions = [];
    for (let offset = 6 + 4 + 1 + vn[10]!; offset + 4 <= vn.length; offset += 4) versions.push(vn.readUInt32BE(offset));
    assert.ok(versions.includes(1), JSON.stringify(versions));

    const shortHeader = new Uint8Array(60).fill(0x77);
    shortHeader[0] = 0x41;
    const [reset] = await exchange(endpoint.port, [shortHeader]);
    assert.ok(reset, 'no Stateless Reset');
    assert.ok(reset.length < shortHeader.length && reset.length >= 21, `reset of ${reset.length} bytes`);
    assert.equal(reset[0]! & 0xc0, 0x40, 'looks like a short header');

    // A version-1 Initial below 1200 bytes, a 1-byte datagram, and a Version Negotiation packet (never answered).
    const silent = await exchange(endpoint.port, [longHeader(1, 600), Uint8Array.of(0), longHeader(0, 1300)]);
    assert.deepEqual(silent, [], 'no answer to any of them');
    assert.equal(endpoint.stats.versionNegotiations, 1);
    assert.equal(endpoint.stats.statelessResets, 1);
    assert.equal(endpoint.connectionCount, 0, 'no state for any of it');
  } finally {
    await server.close();
  }
});
