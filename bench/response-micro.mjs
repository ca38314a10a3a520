// CPU cost of an application's `new Response('hello', { headers })`, and of the server reading it (readResponse),
// for undici's Response and httpsd's FastResponse (the global Response while httpsd serves). In process, best of
// ROUNDS, microseconds per response. Loads the build: `npm run build && node bench/response-micro.mjs`.
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'server');
const { FastResponse, NativeResponse } = await import(pathToFileURL(path.join(dist, 'response.js')).href);
const { readResponse } = await import(pathToFileURL(path.join(dist, 'response-parts.js')).href);

const ROUNDS = 7;
const N = 50_000;
const init = { status: 200, headers: { 'content-type': 'text/plain' } };
const readOptions = { family: 'h2-like', isHead: false, serverHeader: 'httpsd' };

function best(work) {
  let fastest = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < N; i++) work();
    const used = process.cpuUsage(start);
    fastest = Math.min(fastest, (used.user + used.system) / N);
  }
  return fastest;
}

let sink;
const rows = [];
for (const [name, R] of [['undici Response', NativeResponse], ['FastResponse', FastResponse]]) {
  const construct = best(() => (sink = new R('hello', init)));
  const constructAndRead = best(() => (sink = readResponse(new R('hello', init), readOptions)));
  rows.push({ class: name, 'new Response() µs': construct.toFixed(3), '+ server read µs': constructAndRead.toFixed(3) });
}
console.table(rows);
void sink;
