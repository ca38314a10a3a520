/**
 * Engine micro-benchmark: requests/s through receive() → 'request' event → sendHeaders + sendData → dataToSend(),
 * in memory (no sockets), for the hello response (200, text/plain, content-length 5, "hello").
 * Client bytes are pre-encoded so only the engine is measured. Batches of 10 requests per receive() call,
 * like h2load -m 10. Run: node --import tsx scripts/engine-micro.ts [requests]
 */
import {
  CONNECTION_PREFACE,
  H2Connection,
  HpackEncoder,
  encodeHeadersFrame,
  encodeSettingsFrame,
  encodeWindowUpdateFrame,
} from '../src/h2/index.js';

const total = Number(process.argv[2] ?? 300_000);
const perBatch = 10;
const perConnection = 100_000;
const body = new TextEncoder().encode('hello');
const responseHeaders = [':status', '200', 'content-type', 'text/plain', 'content-length', '5'];

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Pre-encoded client input for one connection: batches of `perBatch` GET requests (+ window refills). */
function clientBatches(count: number): Uint8Array[] {
  const encoder = new HpackEncoder();
  const batches: Uint8Array[] = [concat([CONNECTION_PREFACE, encodeSettingsFrame([]), encodeSettingsFrame([], true)])];
  let id = 1;
  for (let i = 0; i < count; i += perBatch) {
    const parts: Uint8Array[] = [];
    for (let j = 0; j < perBatch; j++, id += 2) {
      const block = encoder.encode([':method', 'GET', ':scheme', 'https', ':authority', 'localhost:8443', ':path', '/', 'user-agent', 'h2load nghttp2/1.52.0']);
      parts.push(encodeHeadersFrame(id, block.slice(), { endStream: true }));
    }
    parts.push(encodeWindowUpdateFrame(0, perBatch * body.length));
    batches.push(concat(parts));
  }
  return batches;
}

function run(batches: Uint8Array[]): { requests: number; bytesOut: number } {
  const conn = new H2Connection();
  let requests = 0;
  let bytesOut = conn.dataToSend()?.length ?? 0;
  for (const batch of batches) {
    const events = conn.receive(batch);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.type === 'request') {
        conn.sendHeaders(e.streamId, responseHeaders, false);
        conn.sendData(e.streamId, body, true);
        requests++;
      }
    }
    const out = conn.dataToSend();
    if (out !== null) bytesOut += out.length;
  }
  return { requests, bytesOut };
}

const connections = Math.max(1, Math.ceil(total / perConnection));
const inputs = Array.from({ length: connections }, () => clientBatches(Math.min(perConnection, total)));
// Warm-up (JIT), then measure.
run(clientBatches(20_000));
const start = process.hrtime.bigint();
let requests = 0;
let bytesOut = 0;
for (const input of inputs) {
  const r = run(input);
  requests += r.requests;
  bytesOut += r.bytesOut;
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(
  `engine-micro: ${requests} requests in ${seconds.toFixed(3)} s = ${Math.round(requests / seconds).toLocaleString('en-US')} req/s ` +
    `(${(bytesOut / requests).toFixed(1)} bytes out per response, ${connections} connection(s), ${perBatch} requests per receive())`,
);
