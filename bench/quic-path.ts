/**
 * The QUIC engines' per-packet cost, in process: a client and a server QuicConnection (src/quic, real AES-128-GCM
 * packet protection and header protection through src/crypto/node.ts; the handshake is test/quic's stand-in TLS)
 * exchange datagrams through test/quic's simulated channel, with no sockets, so the CPU time is the engines' own:
 * building, sealing, opening and acknowledging packets. Two loads: 1 MiB responses (full datagrams) and small
 * request/response pairs. Prints CPU microseconds per datagram (both ends, send and receive) and per MiB of
 * response bytes, best of the rounds, and the datagram size the server's PMTU discovery settled at (src/quic/pmtud.ts;
 * the simulated path carries any size, so it reaches limits.maxDatagramSize). --max-datagram 1200 turns discovery off.
 *
 *   npx tsx bench/quic-path.ts [--rounds 5] [--max-datagram 1452]
 *
 * The syscall per datagram (node:dgram) is not in it: bench/profile.mjs --scenario h3-download-1m shows that part.
 */
import { parseArgs } from 'node:util';
import { Pair, patternBytes } from '../test/quic/support/harness.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, 'max-datagram': { type: 'string' } } });
const rounds = Number(values.rounds);
const limits = values['max-datagram'] === undefined ? {} : { maxDatagramSize: Number(values['max-datagram']) };

interface Measured {
  datagrams: number;
  micros: number;
  bytes: number;
  datagramSize: number;
}

/** The client asks for `count` responses of `size` bytes, `inFlight` streams at a time; returns CPU and datagrams. */
function exchange(count: number, size: number, inFlight: number): Measured {
  const pair = new Pair({ channel: { latency: 0.05 }, clientLimits: limits, serverLimits: limits });
  if (!pair.handshake()) throw new Error('handshake failed');
  const response = patternBytes(size, 1);
  const request = patternBytes(40, 2);
  const pendingWrites = new Map<number, number>();
  let opened = 0;
  let finished = 0;
  const openMore = (): void => {
    while (opened < count && opened - finished < inFlight) {
      const id = pair.client.openStream(false);
      if (id < 0) return;
      opened++;
      pair.client.sendStreamData(id, request, true);
    }
  };
  const pump = (): void => {
    for (const [id, offset] of pendingWrites) {
      let at = offset;
      while (at < size) {
        const end = Math.min(size, at + 65536);
        const more = pair.server.sendStreamData(id, response.subarray(at, end), end === size);
        at = end;
        if (!more) break;
      }
      if (at >= size) pendingWrites.delete(id);
      else pendingWrites.set(id, at);
    }
  };
  pair.onServerEvent = (event) => {
    if (event.type === 'streamData') {
      pair.server.consume(event.streamId, event.data.byteLength);
      if (event.end) {
        pendingWrites.set(event.streamId, 0);
        pump();
      }
    }
    if (event.type === 'streamWritable') pump();
  };
  pair.onClientEvent = (event) => {
    if (event.type === 'streamData') {
      pair.client.consume(event.streamId, event.data.byteLength);
      if (event.end) finished++;
    }
  };
  const before = pair.stats.datagramsToClient + pair.stats.datagramsToServer;
  const cpu = process.cpuUsage();
  openMore();
  if (!pair.run(() => {
    openMore();
    return finished === count;
  }, 600_000, 50_000_000)) throw new Error('transfer did not finish');
  const used = process.cpuUsage(cpu);
  return {
    datagrams: pair.stats.datagramsToClient + pair.stats.datagramsToServer - before,
    micros: used.user + used.system,
    bytes: count * size,
    datagramSize: pair.server.pathMtu.size,
  };
}

const loads = [
  { name: '1 MiB responses, 4 streams', run: () => exchange(24, 1024 * 1024, 4) },
  { name: "small responses (5 bytes), 16 streams", run: () => exchange(20_000, 5, 16) },
];
for (const load of loads) {
  load.run(); // warm-up: JIT and caches
  let best: Measured | undefined;
  for (let round = 0; round < rounds; round++) {
    const measured = load.run();
    if (best === undefined || measured.micros < best.micros) best = measured;
  }
  const { micros, datagrams, bytes, datagramSize } = best!;
  const perMiB = (micros / bytes) * 1024 * 1024;
  console.log(
    `${load.name.padEnd(40)} ${(micros / datagrams).toFixed(2).padStart(7)} µs CPU per datagram, ${perMiB.toFixed(0).padStart(7)} µs per MiB ` +
      `(${datagrams} datagrams of up to ${datagramSize} bytes, best of ${rounds})`,
  );
}
