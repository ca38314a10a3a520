#!/usr/bin/env node
// CPU profile of a Node.js benchmark server under load: runs it with `node --cpu-prof`, drives it with h2load (or
// bench/clients/ws-load.mjs for the ws-* scenarios, bench/clients/h3load for h3-*), then prints the functions with the most self time (and the same grouped by file).
// Usage: npm run build && node bench/profile.mjs [--server httpsd-fast] [--scenario h2-hello] [--duration 10] [--top 25]
import { parseArgs } from 'node:util';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { installCleanup, startChild, stopChild, freePort, waitForPort, pinned, pinning, which, runToEnd, cpuSeconds } from './lib/proc.mjs';
import { peers } from './lib/peers.mjs';
import { h2load } from './lib/loadgen.mjs';
import { webSocketLoads } from './lib/scenarios.mjs';
import { buildH3load } from './lib/h3load.mjs';

const { values } = parseArgs({
  options: {
    server: { type: 'string', default: 'httpsd-fast' },
    scenario: { type: 'string', default: 'h2-hello' },
    duration: { type: 'string', default: '10' },
    top: { type: 'string', default: '25' },
    save: { type: 'string' },
  },
});
const loads = {
  'h2-hello': { clients: 8, streams: 16, target: '/' },
  'h2-hello-streams': { clients: 16, streams: 100, target: '/' },
  'h2-hello-1stream': { clients: 64, streams: 1, target: '/' },
  'h1-hello': { clients: 64, streams: 1, target: '/', h1: true },
  'h2c-hello': { clients: 8, streams: 16, target: '/', cleartext: true },
  'download-1m': { clients: 4, streams: 4, target: '/1m' },
  'static-small': { clients: 8, streams: 16, target: '/static/small.txt', needsStatic: true },
  'static-1m': { clients: 4, streams: 4, target: '/static/1m.bin', needsStatic: true },
  ...Object.fromEntries(Object.entries(webSocketLoads).map(([id, clientArgs]) => [id, { webSocket: clientArgs }])),
  // HTTP/3 with the harness's h3 shapes (UDP on the TLS port's number).
  'h3-hello': { h3: ['-c', '8', '-m', '16'], target: '/' },
  'h3-download-1m': { h3: ['-c', '4', '-m', '4'], target: '/1m' },
  // New connections as the harness makes them (handshakeTest in lib/scenarios.mjs): h2load processes of 50 clients
  // that each do a full TLS handshake and one request, one after another for the whole duration.
  'handshake-ecdsa': { handshakes: { batch: 50 }, target: '/' },
  'handshake-h1-close': { handshakes: { batch: 50, h1: true, headers: ['connection: close'] }, target: '/' },
};
const load = loads[values.scenario];
const peer = peers.find((candidate) => candidate.name === values.server);
if (!load || !peer || peer.family === 'peer') {
  console.error(`profile: --scenario one of ${Object.keys(loads).join(', ')}; --server a Node.js server: ${peers.filter((p) => p.family !== 'peer').map((p) => p.name).join(', ')}`);
  process.exit(2);
}
if (!which('h2load')) {
  console.log('profile: h2load not found; install it with: apt-get install -y nghttp2-client');
  process.exit(0);
}
const availability = await peer.available();
if (!availability.ok) {
  console.error(`profile: ${peer.name} unavailable: ${availability.reason}`);
  process.exit(1);
}

const tempDir = mkdtempSync(path.join(os.tmpdir(), 'httpsd-profile-'));
installCleanup(() => rmSync(tempDir, { recursive: true, force: true }));
const cert = path.join(tempDir, 'cert.pem');
const key = path.join(tempDir, 'key.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key,
  '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
const port = await freePort();
const httpPort = await freePort();
const profileDir = path.join(tempDir, 'profile');
const staticRoot = path.join(tempDir, 'docroot', 'static');
mkdirSync(staticRoot, { recursive: true });
writeFileSync(path.join(staticRoot, 'small.txt'), Buffer.alloc(1024, 'static small file\n'));
writeFileSync(path.join(staticRoot, '1m.bin'), Buffer.alloc(1024 * 1024, 'httpsd-bench-'));
// httpsd's static cache leaves files changed in the last 3 s uncached (timestamp granularity); utimes cannot move
// their change time, so a static profile waits until they are older, or it would profile uncached reads.
const staticFilesSettledAt = Date.now() + 3_500;
if (load.needsStatic && peer.supports.static !== 'httpsd') {
  console.error(`profile: ${peer.name} has no static file handler`);
  process.exit(2);
}
const spec = peer.command({ port, httpPort, cert, key, workDir: tempDir, staticRoot, httpsdStatic: Boolean(load.needsStatic) });
const { command, args } = pinned(pinning.serverCpu, spec.command, ['--cpu-prof', '--cpu-prof-dir', profileDir, ...spec.args]);
const child = startChild(command, args, { logFile: path.join(tempDir, 'server.log') });
if (!(await waitForPort(port, child)) || !(await waitForPort(httpPort, child))) {
  console.error(`profile: ${peer.name} did not start: ${readFileSync(path.join(tempDir, 'server.log'), 'utf8').slice(-400)}`);
  process.exit(1);
}
if (load.needsStatic && Date.now() < staticFilesSettledAt) await new Promise((resolve) => setTimeout(resolve, staticFilesSettledAt - Date.now()));
const url = `${load.cleartext ? `http://127.0.0.1:${httpPort}` : `https://127.0.0.1:${port}`}${load.target}`;
const result = load.webSocket
  ? await webSocketLoad(load.webSocket)
  : load.h3 ? await h3Load(load.h3)
  : load.handshakes ? await handshakeLoad(load.handshakes)
  : await h2load({ url, clients: load.clients, streams: load.streams, h1: load.h1, duration: Number(values.duration) });
// SIGINT makes the server exit normally, which is when node writes the .cpuprofile.
process.kill(child.pid, 'SIGINT');
await Promise.race([child.exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
await stopChild(child);
if (result.error) console.log(`profile: load failed: ${result.error}`);
else console.log(`${peer.name} ${values.scenario}: ${Math.round(result.rps)} ${load.webSocket ? 'msg' : 'req'}/s during the profile (profiling slows it down)`);

/** bench/clients/h3load, pinned like the harness pins it; its result line gives the rate and its own CPU. */
async function h3Load(clientArgs) {
  const built = await buildH3load();
  if (built.error) return { error: built.error };
  const { command: clientCommand, args: clientArgv } = pinned(pinning.clientCpu, built.binary, [
    '-url', url, ...clientArgs, '-w', '0.5', '-d', values.duration]);
  const run = await runToEnd(clientCommand, clientArgv, { timeoutMs: (Number(values.duration) + 30) * 1000 });
  const line = run.stdout.split('\n').find((text) => text.startsWith('result '));
  if (!line) return { error: run.stderr.trim().slice(0, 200) || 'no result from h3load' };
  const measured = JSON.parse(line.slice('result '.length));
  console.log(`h3load: ${measured.requests} requests, ${(measured.bytes / 1e6).toFixed(1)} MB, ${measured.errors} errors, `
    + `client CPU ${measured.clientCpu.toFixed(2)} s in ${measured.seconds.toFixed(2)} s`);
  return { rps: measured.requests / measured.seconds };
}

/**
 * Batches of fresh h2load processes for the duration (every connection a full handshake); prints the server's CPU
 * time per connection, which (unlike the rate) does not depend on how fast the load generator starts.
 */
async function handshakeLoad({ batch, h1 = false, headers = [] }) {
  const h1Only = h1 || !peer.supports.h2;
  let succeeded = 0;
  let seconds = 0;
  const cpuBefore = cpuSeconds(child.pid);
  const started = Date.now();
  while (Date.now() - started < Number(values.duration) * 1000) {
    const run = await h2load({ url, clients: batch, requests: batch, h1: h1Only, headers, timeoutMs: 30_000 });
    if (run.error) return run;
    succeeded += run.succeeded;
    seconds += run.seconds;
  }
  const cpu = cpuSeconds(child.pid) - cpuBefore;
  console.log(`handshakes: ${succeeded} connections, server CPU ${(cpu * 1000 / Math.max(1, succeeded)).toFixed(3)} ms per connection (profiled)`);
  return { rps: seconds > 0 ? succeeded / seconds : 0 };
}

/** The WebSocket load client, pinned like the harness pins it; its result line gives the rate. */
async function webSocketLoad(clientArgs) {
  const { command: clientCommand, args: clientArgv } = pinned(pinning.clientCpu, process.execPath, [
    path.join(path.dirname(new URL(import.meta.url).pathname), 'clients', 'ws-load.mjs'), '--port', String(port),
    '--warmup', '0.5', '--duration', values.duration, ...clientArgs]);
  const run = await runToEnd(clientCommand, clientArgv, { timeoutMs: (Number(values.duration) + 30) * 1000 });
  const line = run.stdout.split('\n').find((text) => text.startsWith('result '));
  if (!line) return { error: run.stderr.trim().slice(0, 200) || 'no result from the load client' };
  const measured = JSON.parse(line.slice('result '.length));
  return { rps: measured.messages / measured.seconds };
}

const files = readdirSync(profileDir).filter((name) => name.endsWith('.cpuprofile'));
if (files.length === 0) {
  console.error('profile: no .cpuprofile written');
  process.exit(1);
}
const profilePath = path.join(profileDir, files[0]);
if (values.save) copyFileSync(profilePath, values.save);
const profile = JSON.parse(readFileSync(profilePath, 'utf8'));

// Self time of a node = the time deltas of the samples that landed in it.
const selfMicros = new Map();
profile.samples.forEach((nodeId, index) => {
  selfMicros.set(nodeId, (selfMicros.get(nodeId) ?? 0) + (profile.timeDeltas[index] ?? 0));
});
const byFunction = new Map();
const byFile = new Map();
let total = 0;
for (const node of profile.nodes) {
  const micros = selfMicros.get(node.id) ?? 0;
  if (!micros) continue;
  total += micros;
  const frame = node.callFrame;
  const file = frame.url ? frame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '') : `(${frame.functionName || 'native'})`;
  const name = `${frame.functionName || '(anonymous)'} ${file}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  byFile.set(file, (byFile.get(file) ?? 0) + micros);
}
const top = Number(values.top);
const percent = (micros) => `${((micros / total) * 100).toFixed(1).padStart(5)}%`;
console.log(`\nTop ${top} functions by self time (${(total / 1e6).toFixed(1)} s sampled):`);
for (const [name, micros] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${percent(micros)}  ${name}`);
console.log('\nSelf time by file:');
for (const [file, micros] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${percent(micros)}  ${file}`);
rmSync(tempDir, { recursive: true, force: true });
process.exit(0);
