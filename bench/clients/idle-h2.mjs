// Opens --count HTTP/2 connections over TLS to --url, makes one GET on each, then keeps them all open and idle.
// Prints "open N" once every connection has answered, then "still-open N" on each line read from stdin, and closes
// everything when stdin ends (or on SIGTERM). Used for the memory-per-idle-connection scenario.
import http2 from 'node:http2';
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    count: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '50' },
    timeout: { type: 'string', default: '60000' },
  },
});
if (!values.url) {
  console.error('idle-h2: --url is required');
  process.exit(2);
}
const target = values.url;
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const sessions = new Set();
let failed = 0;
let firstError;

const deadline = setTimeout(() => {
  console.error(`idle-h2: gave up after ${values.timeout} ms with ${sessions.size}/${count} open`);
  closeAll(1);
}, Number(values.timeout));

function openOne() {
  return new Promise((resolve) => {
    const session = http2.connect(target, { rejectUnauthorized: false });
    let settled = false;
    const finish = (ok, error) => {
      if (settled) return;
      settled = true;
      if (!ok) {
        failed++;
        firstError ??= error;
        session.destroy();
      }
      resolve();
    };
    session.on('error', (error) => finish(false, error));
    session.on('close', () => { sessions.delete(session); finish(false, new Error('closed before answering')); });
    const request = session.request({ ':path': '/' });
    request.on('error', (error) => finish(false, error));
    request.on('data', () => {});
    request.on('end', () => { sessions.add(session); finish(true); });
    request.end();
  });
}

let next = 0;
async function worker() {
  while (next < count) {
    next++;
    await openOne();
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
clearTimeout(deadline);
if (failed > 0) console.error(`idle-h2: ${failed} connections failed (first: ${firstError?.message})`);
process.stdout.write(`open ${sessions.size}\n`);

function closeAll(code) {
  for (const session of sessions) session.destroy();
  process.exit(code);
}
process.on('SIGTERM', () => closeAll(0));
const lines = createInterface({ input: process.stdin });
lines.on('line', () => process.stdout.write(`still-open ${sessions.size}\n`));
lines.on('close', () => closeAll(0));
