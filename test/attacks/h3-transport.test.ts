/**
 * QUIC transport attacks over real UDP against a live QuicEndpoint while ngtcp2's gtlsclient keeps being served on
 * fresh connections: Initial floods from many source ports and addresses (bounded state: Retry, caps, handshake
 * timeout), amplification before address validation (bytes counted: ≤ 3×, RFC 9000 §8.1), stream floods past
 * MAX_STREAMS, CRYPTO floods, ACK-range floods, connection-ID exhaustion and PING/padding floods. Attackers are the
 * project's own QUIC client (test/quic/support/udp-client.ts) sealing frames no client sends. Every case is bounded
 * in count and time and ends by itself.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { nodeCrypto } from '../../src/crypto/node.js';
import { QuicConnection } from '../../src/quic/connection.js';
import { TransportError } from '../../src/quic/errors.js';
import type { Frame } from '../../src/quic/frames.js';
import { TlsClient } from '../../src/quic/tls/index.js';
import { makeCertificate } from '../support/certs.js';
import { sleep } from '../support/async.js';
import { heldState, startTarget, underH3Attack, type H3Target } from '../quic/support/h3-attack-harness.js';
import { bindUdp, UdpQuicClient } from '../quic/support/udp-client.js';

const T = TransportError;

/** A real client's first flight (ClientHello in a padded Initial) toward `port`, never to be continued. */
function firstInitial(port: number): Uint8Array {
  const client = new QuicConnection({
    role: 'client',
    crypto: nodeCrypto,
    tls: (transportParameters) => new TlsClient({ crypto: nodeCrypto, serverName: 'localhost', alpn: ['h3'], transportParameters, verifyCertificate: () => true }),
    remote: { address: '127.0.0.1', port },
    now: performance.now(),
  });
  const [first] = client.datagramsToSend(performance.now());
  return first!.data;
}

/** Sends one Initial from each of `addresses` × `portsPerAddress` fresh sockets; counts what comes back per socket. */
async function initialFlood(port: number, addresses: string[], portsPerAddress: number, waitMs: number): Promise<{ sent: number[]; received: number[] }> {
  const sockets = [];
  for (const address of addresses) for (let i = 0; i < portsPerAddress; i++) sockets.push(await bindUdp(address));
  const received: number[] = sockets.map(() => 0);
  sockets.forEach((socket, index) => socket.on('message', (message) => (received[index]! += message.byteLength)));
  // Built first (a key share each), then sent quickly, so the flood's length hardly depends on the machine's load;
  // in batches of 20 (24 KB), which the endpoint's socket buffer holds (one burst of 360 KB would mostly be dropped
  // by the kernel before the endpoint saw it).
  const initials = sockets.map(() => firstInitial(port));
  const sent = initials.map((initial) => initial.byteLength);
  for (let i = 0; i < sockets.length; i++) {
    sockets[i]!.send(initials[i]!, port, '127.0.0.1');
    if (i % 20 === 19) await sleep(5);
  }
  await sleep(waitMs);
  await Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  return { sent, received };
}

const addresses = (first: number, count: number): string[] => Array.from({ length: count }, (_, i) => `127.0.0.${first + i}`);

async function attacker(target: H3Target, address = '127.0.0.2'): Promise<UdpQuicClient> {
  // The attacker's engine accepts any number of CIDs: retiring them behind its back makes the server send more.
  const client = await UdpQuicClient.connect({ port: target.port, localAddress: address, h3: true, limits: { activeConnectionIdLimit: 1000 } });
  await client.handshake();
  return client;
}

/** Runs `body` with a fresh attacking connection (handshake done), closing it afterwards whatever happens. */
async function withAttacker(target: H3Target, body: (client: UdpQuicClient) => Promise<string>): Promise<string> {
  const client = await attacker(target);
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

/** Injects `frames`, expects CONNECTION_CLOSE with `code`, returns a description. */
async function expectClose(client: UdpQuicClient, frames: Frame[] | Uint8Array, code: number): Promise<string> {
  client.inject(frames);
  const closed = await client.closedByServer();
  assert.equal(closed.byPeer, true, 'the server closed the connection');
  assert.equal(closed.application, false);
  assert.equal(`0x${closed.code.toString(16)}`, `0x${code.toString(16)}`, `CONNECTION_CLOSE code (reason: ${closed.reason})`);
  return `CONNECTION_CLOSE 0x${closed.code.toString(16)} "${closed.reason}"`;
}

describe('HTTP/3 transport attacks (real UDP)', () => {
  let target: H3Target;
  before(async () => {
    // A short handshake timeout so abandoned handshakes (Initial floods) drain within the test's patience.
    target = await startTarget({ limits: { handshakeTimeout: 3000 } });
  });
  after(async () => {
    await target?.close();
  });

  test('Initial flood from 300 source ports on 30 addresses: Retry past the threshold, state bounded, drained by the handshake timeout', async (t) => {
    await underH3Attack(t, target, 'Initial flood', async () => {
      const before = { ...target.endpoint.stats };
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, heldState(target).handshakes)), 5);
      const flood = await initialFlood(target.port, addresses(2, 30), 10, 1500);
      clearInterval(sampler);
      const created = target.endpoint.stats.connections - before.connections;
      const retries = target.endpoint.stats.retries - before.retries;
      // retryThreshold (100) handshakes at once, then every new client must prove its address first (RFC 9000 §8.1.2).
      assert.ok(peak <= 100 + 2, `handshakes held at once: ${peak}`);
      // Abandoned handshakes end at the handshake timeout and free their slots, so on a loaded machine (the flood
      // processed over seconds) more connections may be created and fewer Retries sent; what is held at once stays
      // bounded, and Retry is what answers past the threshold.
      assert.ok(retries > 0, 'no Retry reply');
      // RFC 9000 §8.1: never more than 3× what a source sent, whatever it was answered with.
      flood.received.forEach((bytes, i) => assert.ok(bytes <= 3 * flood.sent[i]!, `socket ${i}: ${bytes} B back for ${flood.sent[i]} B`));
      return `${created} connections created, ${retries} Retry, peak ${peak} handshakes held, ${flood.received.reduce((a, b) => a + b, 0)} B sent back for ${flood.sent.reduce((a, b) => a + b, 0)} B`;
    });
  });

  test('Initial flood from 40 ports of one address: at most 16 handshakes for it (maxHandshakesPerAddress), the rest dropped', async (t) => {
    await underH3Attack(t, target, 'one-address Initial flood', async () => {
      const before = { ...target.endpoint.stats };
      const flood = await initialFlood(target.port, ['127.0.0.40'], 40, 1000);
      const created = target.endpoint.stats.connections - before.connections;
      const answered = flood.received.filter((bytes) => bytes > 0).length;
      assert.equal(answered, 16, `${answered} sources answered`);
      return `${answered} of 40 sources answered (${created} connections created in all, the well-behaved client's included)`;
    });
  });

  test('amplification: a silent client gets at most 3× its Initial (RFC 9000 §8.1), even with a 9 KB certificate chain', async (t) => {
    const certificate = makeCertificate();
    // The leaf repeated: a chain far larger than three Initials, so only the anti-amplification limit stops the flight.
    const chain = Array.from({ length: 12 }, () => certificate.cert).join('\n');
    assert.ok(Buffer.byteLength(chain) > 7500);
    const large = await startTarget({ certificates: [{ cert: chain, key: certificate.key }], limits: { handshakeTimeout: 3000 } });
    try {
      await underH3Attack(t, large, 'amplification', async () => {
        const flood = await initialFlood(large.port, addresses(50, 4), 5, 2500);
        flood.received.forEach((bytes, i) => {
          assert.ok(bytes > 0, `source ${i} got no answer`);
          assert.ok(bytes <= 3 * flood.sent[i]!, `source ${i}: ${bytes} B back for ${flood.sent[i]} B`);
        });
        const worst = Math.max(...flood.received.map((bytes, i) => bytes / flood.sent[i]!));
        return `20 silent sources: worst ratio ${worst.toFixed(2)}× (limit 3×), no PTO beyond the budget in 2.5 s`;
      });
    } finally {
      await large.close();
    }
  });

  /** One packet of frames breaking a limit → CONNECTION_CLOSE with the RFC's code; the endpoint serves on. */
  const VIOLATIONS: { name: string; frames: () => Frame[]; code: number }[] = [
    {
      // Stream 400 is the 101st client bidirectional stream; the endpoint allows 100.
      name: 'stream flood: a STREAM frame past MAX_STREAMS → STREAM_LIMIT_ERROR (RFC 9000 §4.6)',
      frames: () => [{ type: 'stream', streamId: 400, offset: 0, data: new Uint8Array(1), fin: false }],
      code: T.STREAM_LIMIT_ERROR,
    },
    {
      name: 'CRYPTO flood: CRYPTO data 100 KB past what TLS consumed → CRYPTO_BUFFER_EXCEEDED (RFC 9000 §7.5)',
      frames: () => [{ type: 'crypto', offset: 100_000, data: new Uint8Array(100) }],
      code: T.CRYPTO_BUFFER_EXCEEDED,
    },
    {
      name: 'ACK of packets never sent, with 200 ranges → PROTOCOL_VIOLATION (RFC 9000 §13.1)',
      frames: () => [{ type: 'ack', ranges: Array.from({ length: 200 }, (_, i): [number, number] => [1_000_000 - i * 4 - 1, 1_000_000 - i * 4]), ackDelay: 0 }],
      code: T.PROTOCOL_VIOLATION,
    },
    {
      // Sequences past those the client engine itself issued (1-3), so only the limit is broken.
      name: 'connection-ID exhaustion: NEW_CONNECTION_ID past active_connection_id_limit → CONNECTION_ID_LIMIT_ERROR (RFC 9000 §5.1.1)',
      frames: () => Array.from({ length: 8 }, (_, i): Frame => ({
        type: 'newConnectionId', sequence: 100 + i, retirePriorTo: 0, connectionId: new Uint8Array(8).fill(i), resetToken: new Uint8Array(16).fill(i),
      })),
      code: T.CONNECTION_ID_LIMIT_ERROR,
    },
  ];
  for (const { name, frames, code } of VIOLATIONS) {
    test(name, async (t) => {
      await underH3Attack(t, target, name.slice(0, name.indexOf(':')), () => withAttacker(target, (client) => expectClose(client, frames(), code)));
    });
  }

  test('stream churn: 300 request streams opened and reset at once (half before any byte), 3 rounds of 100: MAX_STREAMS reopens each time', async (t) => {
    await underH3Attack(t, target, 'open/reset churn', () => withAttacker(target, async (client) => {
      let opened = 0;
      for (let round = 0; round < 3; round++) {
        // A round can start only once the server raised MAX_STREAMS for the streams of the round before: a stream
        // reset by the client alone is half-closed, and stays so unless the server resets its half too.
        await client.waitFor(() => client.canOpenStream, `MAX_STREAMS for round ${round + 1}`);
        for (let i = 0; i < 100 && client.canOpenStream; i++) {
          const id = client.quic.openStream(false);
          // Every other stream carries one byte of a HEADERS frame first; the others are reset before any byte.
          if (i % 2 === 1) client.quic.sendStreamData(id, Uint8Array.of(0x01), false);
          client.quic.resetStream(id, 0x10c); // H3_REQUEST_CANCELLED
          opened++;
        }
        client.service();
      }
      await client.waitFor(() => client.canOpenStream, 'MAX_STREAMS after the last round');
      const response = await client.request('/hello');
      assert.equal(response.status, 200);
      assert.equal(client.terminated, undefined);
      return `${opened} streams opened and reset; MAX_STREAMS raised as they closed; the connection still serves`;
    }));
  });

  test('ACK-range flood: 1,000 ACK frames of up to 150 one-packet ranges each over a real download cost bounded work', async (t) => {
    await underH3Attack(t, target, 'ACK-range flood', () => withAttacker(target, async (client) => {
      const download = client.request('/big', 'GET', 60_000);
      await client.waitFor(() => client.bytesReceived > 300_000, '300 KB of the download');
      const started = performance.now();
      for (let i = 0; i < 1000 && client.terminated === undefined; i++) {
        // Every other packet number the client really received (acknowledging a lost one would lose the attacker's
        // own data): one-packet ranges, the most an ACK can carry.
        const space = (client.quic as unknown as { spaces: { application: { largestReceived: number; received: { contains(pn: number): boolean } } } }).spaces.application;
        const ranges: [number, number][] = [];
        for (let pn = space.largestReceived; pn >= 0 && ranges.length < 150; pn -= 2) if (space.received.contains(pn)) ranges.push([pn, pn]);
        if (ranges.length > 0) client.inject([{ type: 'ack', ranges, ackDelay: 0 }]);
        if (i % 50 === 49) await sleep(1);
      }
      const floodMs = Math.round(performance.now() - started);
      const response = await download;
      assert.equal(response.status, 200);
      const resets = client.h3Events.filter((e) => e.type === 'streamReset');
      assert.equal(client.terminated, undefined, `the attacker's connection ended: ${JSON.stringify(client.terminated)}`);
      assert.deepEqual(resets, [], 'the download stream was reset');
      assert.equal(response.body.length, 1 << 20);
      return `1,000 ACKs of up to 150 ranges sent in ${floodMs} ms; the 1 MiB download completed on the same connection`;
    }));
  });

  test('RETIRE_CONNECTION_ID flood: 200 retirements; the endpoint mints at most maxIssuedConnectionIds (64), then refuses', async (t) => {
    await underH3Attack(t, target, 'RETIRE_CONNECTION_ID flood', () => withAttacker(target, async (client) => {
      type Tracked = { connection: { currentRemote: { address: string } }; routes: Set<string> };
      const demux = (target.endpoint as unknown as { demux: { tracked: Map<unknown, Tracked> } }).demux;
      const routes = (): number => [...demux.tracked.values()].find((entry) => entry.connection.currentRemote.address === '127.0.0.2')?.routes.size ?? 0;
      let maxRoutes = 0;
      let sequence = 1;
      for (; sequence <= 200 && client.terminated === undefined; sequence++) {
        client.inject([{ type: 'retireConnectionId', sequence }]);
        await sleep(2);
        maxRoutes = Math.max(maxRoutes, routes());
      }
      await sleep(200);
      // The client's first DCID, plus active_connection_id_limit (4) CIDs: retired ones stop routing at once.
      assert.ok(maxRoutes <= 1 + 4, `${maxRoutes} routes held for the attacking connection`);
      const closed = await client.closedByServer();
      assert.equal(closed.byPeer, true, `the attacking client closed by itself: ${closed.reason}`);
      // Past the 64 CIDs it will ever mint the endpoint has none left to retire: a sequence never issued is a
      // PROTOCOL_VIOLATION (RFC 9000 §19.16).
      assert.equal(closed.code, T.PROTOCOL_VIOLATION, closed.reason);
      return `closed with PROTOCOL_VIOLATION at retirement ${sequence - 1} ("${closed.reason}"); at most ${maxRoutes} demux routes at once`;
    }));
  });

  test('PING and PADDING floods: 3,000 of each cost an ACK per two PINGs at most and nothing for PADDING', async (t) => {
    await underH3Attack(t, target, 'PING/padding flood', () => withAttacker(target, async (client) => {
      await sleep(200);
      const quiet = client.datagramsReceived;
      for (let i = 0; i < 3000; i++) {
        client.inject(new Uint8Array(1000)); // PADDING only: not ack-eliciting (RFC 9000 §13.2.1)
        if (i % 100 === 99) await sleep(1);
      }
      await sleep(300);
      const afterPadding = client.datagramsReceived - quiet;
      for (let i = 0; i < 3000; i++) {
        client.inject([{ type: 'ping' }]);
        if (i % 100 === 99) await sleep(1);
      }
      await sleep(300);
      const afterPing = client.datagramsReceived - quiet - afterPadding;
      assert.ok(afterPadding <= 2, `${afterPadding} datagrams in answer to 3,000 PADDING packets`);
      assert.ok(afterPing <= 1500 + 10, `${afterPing} datagrams in answer to 3,000 PINGs`);
      const response = await client.request('/hello');
      assert.equal(response.status, 200);
      return `answers: ${afterPadding} datagrams to 3,000 PADDING packets, ${afterPing} to 3,000 PINGs; the connection still serves`;
    }));
  });
});
