#!/usr/bin/env node
// WebSocket load generator for the ws-* scenarios (run pinned to the load CPU by the harness).
//   --mode echo:      --connections N sockets on /ws, each keeping --inflight M binary messages of --size bytes in
//                     flight; counts round trips (an echo that comes back triggers the next send).
//   --mode broadcast: --subscribers N sockets on /ws-sub and one publisher on /ws-pub sending --size-byte messages,
//                     at most --inflight of them not yet received by every subscriber; counts deliveries.
// Protocol with the harness: after --warmup seconds of load it prints "start", then after --duration seconds
// "result {json}" ({ messages, failed, seconds, clientCpu }), closes everything and exits.
import { parseArgs } from 'node:util';
import { connectWebSocket, maskKeySource } from '../lib/ws-client.mjs';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    mode: { type: 'string', default: 'echo' },
    connections: { type: 'string', default: '64' },
    subscribers: { type: 'string', default: '200' },
    inflight: { type: 'string', default: '8' },
    size: { type: 'string', default: '20' },
    duration: { type: 'string', default: '1.5' },
    warmup: { type: 'string', default: '0.5' },
  },
  strict: true,
});
const port = Number(values.port);
const size = Number(values.size);
const inflight = Number(values.inflight);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fail = (message) => {
  console.error(`ws-load: ${message}`);
  process.exit(1);
};
if (!Number.isInteger(port) || port <= 0) fail('--port is required');

const maskKey = maskKeySource();
let messages = 0;
let failed = 0;
const clients = [];
let stalled = () => false;

function echoClient(target) {
  const payload = Buffer.alloc(size, 'e');
  let self;
  return connectWebSocket({
    host: values.host,
    port,
    target,
    maskKey,
    onMessage(data) {
      if (data.byteLength === size) messages++;
      else failed++;
      self.send(payload);
    },
    onClose: () => { failed++; },
  }).then((opened) => {
    self = opened;
    for (let i = 0; i < inflight; i++) opened.send(payload);
    opened.flush();
    return opened;
  });
}

async function startBroadcast() {
  const count = Number(values.subscribers);
  const completions = new Uint32Array(inflight);
  let publisher;
  let nextSeq = 0;
  let flushScheduled = false;
  let lastProgress = Date.now();
  const flushPublisher = () => { flushScheduled = false; publisher.flush(); };
  const publish = () => {
    const payload = Buffer.alloc(size, 'b');
    payload.writeUInt32BE(nextSeq++, 0);
    publisher.send(payload);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushPublisher);
    }
  };
  const subscribers = await Promise.all(Array.from({ length: count }, () => connectWebSocket({
    host: values.host,
    port,
    target: '/ws-sub',
    maskKey,
    onMessage(data) {
      if (data.byteLength !== size) { failed++; return; }
      messages++;
      lastProgress = Date.now();
      const slot = (data[0] * 0x1000000 + (data[1] << 16) + (data[2] << 8) + data[3]) % inflight;
      // Every subscriber got this message: the publisher may send another one.
      if (++completions[slot] === count) {
        completions[slot] = 0;
        publish();
      }
    },
    onClose: () => { failed++; },
  })));
  clients.push(...subscribers);
  publisher = await connectWebSocket({ host: values.host, port, target: '/ws-pub', maskKey, onMessage() {} });
  clients.push(publisher);
  // The servers subscribe a socket when it opens; give the last ones time to be registered before publishing.
  await sleep(300);
  for (let i = 0; i < inflight; i++) publish();
  stalled = () => Date.now() - lastProgress > 5000;
}

try {
  if (values.mode === 'echo') {
    const count = Number(values.connections);
    clients.push(...await Promise.all(Array.from({ length: count }, () => echoClient('/ws'))));
  } else if (values.mode === 'broadcast') {
    await startBroadcast();
  } else {
    fail(`unknown --mode ${values.mode}`);
  }
} catch (error) {
  fail(`could not open the WebSockets: ${error.message}`);
}

await sleep(Number(values.warmup) * 1000);
messages = 0;
failed = 0;
const cpuBefore = process.cpuUsage();
const started = process.hrtime.bigint();
process.stdout.write('start\n');
await sleep(Number(values.duration) * 1000);
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const counted = messages;
const cpu = process.cpuUsage(cpuBefore);
const result = { messages: counted, failed, seconds, clientCpu: (cpu.user + cpu.system) / 1e6 };
if (stalled()) result.note = 'the broadcast stalled (a subscriber stopped receiving)';
process.stdout.write(`result ${JSON.stringify(result)}\n`);
for (const client of clients) client.close();
process.exit(0);
