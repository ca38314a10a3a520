// Benchmark scenarios. Each measures one server once (one round) and returns
// { value, requests, failed, seconds, cpu, perCpu, note? }: value is in the scenario's unit.
import { createInterface } from 'node:readline';
import http2 from 'node:http2';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { h2load, wrk } from './loadgen.mjs';
import { buildH3load } from './h3load.mjs';
import { cpuSeconds, rssKiB, pinned, pinning, startChild, stopChild } from './proc.mjs';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MiB = 1024 * 1024;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function finish(result, cpu, factor = 1) {
  if (result.error) return { error: result.error };
  if (result.succeeded <= 0) {
    return { error: result.failed > 0 ? `no successful request (${result.failed} failed)` : 'no request completed within the timed run' };
  }
  return {
    value: result.rps * factor,
    requests: result.succeeded,
    failed: result.failed,
    seconds: result.seconds,
    cpu,
    // In the scenario's unit: requests, connections or megabytes per CPU-second of the server.
    perCpu: cpu > 0 ? (result.succeeded * factor) / cpu : null,
  };
}

/**
 * A timed h2load/wrk run after a warm-up; CPU seconds are read around the timed part only.
 * cleartextH1: HTTP/1.1 on the server's cleartext HTTP/1.1 port (server.h1Port). headers: extra request headers
 * (h2load -H). script/scriptArgs: a wrk Lua script in bench/clients/wrk/ and its arguments (a function of the
 * run's settings, for the files it names). probeEncoding: the answer's content-encoding is asked for once after the
 * run (with the same headers) and reported as the result's note.
 */
function loadTest({ tool = 'h2load', clients, streams = 1, h1 = false, cleartext = false, cleartextH1 = false, target = '/', dataFile,
  bytesPerRequest, headers = [], script, scriptArgs, probeEncoding = false }) {
  return async ({ server, settings }) => {
    const base = cleartextH1 ? `http://127.0.0.1:${server.h1Port}`
      : cleartext ? `http://127.0.0.1:${server.httpPort}` : `https://127.0.0.1:${server.port}`;
    const url = base + target;
    const data = dataFile ? settings.files[dataFile] : undefined;
    const wrkScript = script ? path.join(benchDir, 'clients', 'wrk', script) : undefined;
    const wrkArgs = scriptArgs ? scriptArgs(settings) : [];
    const runOnce = (duration) => (tool === 'wrk'
      ? wrk({ url, connections: clients, duration, script: wrkScript, scriptArgs: wrkArgs })
      : h2load({ url, clients, streams, h1, duration, dataFile: data, headers }));
    if (settings.warmup > 0) {
      // wrk only takes whole seconds: a plain keep-alive warm-up is the same load from h2load --h1 for the warm-up
      // time; a scripted one (pipelining, POST) is wrk itself for one second.
      if (tool === 'wrk' && !script) await h2load({ url, clients, h1: true, duration: settings.warmup });
      else await runOnce(settings.warmup);
    }
    const cpuBefore = cpuSeconds(server.pid);
    const result = await runOnce(settings.duration);
    const cpu = cpuSeconds(server.pid) - cpuBefore;
    const measured = finish(result, cpu, bytesPerRequest ? bytesPerRequest / 1e6 : 1);
    if (probeEncoding && !measured.error) measured.note = `content-encoding: ${await responseEncoding(server.port, target, headers)}`;
    return measured;
  };
}

/** One h2 GET with the given "name: value" headers; resolves to the answer's content-encoding (or "identity"). */
function responseEncoding(port, target, headers) {
  return new Promise((resolve) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    const timer = setTimeout(() => { session.destroy(); resolve('unknown (timed out)'); }, 5000);
    const done = (value) => { clearTimeout(timer); session.close(); resolve(value); };
    session.on('error', (error) => done(`unknown (${error.message})`));
    const requestHeaders = { ':path': target };
    for (const header of headers) {
      const colon = header.indexOf(':');
      requestHeaders[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    const request = session.request(requestHeaders);
    request.on('response', (received) => { request.resume(); done(received['content-encoding'] ?? 'identity'); });
    request.on('error', (error) => done(`unknown (${error.message})`));
    request.end();
  });
}

/**
 * New-connection rate: batches of h2load clients that each open a connection, do a full TLS handshake
 * (h2load keeps no session cache, so nothing is resumed), make one request and close. Rate = connections / time.
 *
 * Warm-up is counted in handshakes, the same number for every server, because the per-connection cost of a Node.js
 * server keeps falling for thousands of handshakes after it starts (its TLS and protocol code being compiled by the
 * JIT): a warm-up of half a second gave whichever server had been measured more often the better number, so the
 * rounds rose one after another and the ratio depended on the order of the servers. The first run of a scenario on
 * a server is preceded by settings.handshakeWarmup.first handshakes, every later run (the server having sat idle
 * while the others were measured) by settings.handshakeWarmup.each.
 */
function handshakeTest({ batch = 50, forceH1 = false, headers = [] }) {
  const warmedUp = new WeakSet();
  return async ({ server, settings, peer }) => {
    const url = `https://127.0.0.1:${server.port}/`;
    const h1 = forceH1 || !peer.supports.h2;
    const { first, each } = settings.handshakeWarmup;
    const warmup = warmedUp.has(server) ? each : first;
    warmedUp.add(server);
    for (let done = 0; done < warmup; done += batch) {
      const result = await h2load({ url, clients: batch, requests: batch, h1, headers, timeoutMs: 30_000 });
      if (result.error) return { error: `warm-up: ${result.error}` };
    }
    let succeeded = 0;
    let failed = 0;
    let elapsed = 0;
    const started = Date.now();
    const cpuBefore = cpuSeconds(server.pid);
    while (Date.now() - started < settings.duration * 1000) {
      const result = await h2load({ url, clients: batch, requests: batch, h1, headers, timeoutMs: 30_000 });
      if (result.error) return { error: result.error };
      succeeded += result.succeeded;
      failed += result.failed;
      elapsed += result.seconds;
    }
    const cpu = cpuSeconds(server.pid) - cpuBefore;
    return finish({ succeeded, failed, seconds: elapsed, rps: elapsed > 0 ? succeeded / elapsed : 0 }, cpu);
  };
}

/** Memory per idle h2 connection: RSS of the server before and after opening N connections that each made one request. */
function idleMemoryTest() {
  return async ({ server, settings }) => {
    const url = `https://127.0.0.1:${server.port}/`;
    const count = settings.idleConnections;
    await h2load({ url, clients: 10, streams: 10, requests: 2000 });
    await sleep(300);
    const rssBefore = rssKiB(server.pid);
    const cpuBefore = cpuSeconds(server.pid);
    const { command, args } = pinned(pinning.clientCpu, process.execPath,
      [path.join(benchDir, 'clients', 'idle-h2.mjs'), '--url', url, '--count', String(count)]);
    const client = startChild(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    client.stderr.setEncoding('utf8').on('data', (text) => { stderr += text; });
    const nextLine = lineReader(client.stdout);
    try {
      const opened = Number(/^open (\d+)/.exec((await nextLine()) ?? '')?.[1] ?? 0);
      if (opened === 0) return { error: `no idle connection could be opened: ${(/idle-h2: [^\n]*/.exec(stderr)?.[0] ?? stderr.trim()).slice(0, 200)}` };
      await sleep(1000);
      const rssAfter = rssKiB(server.pid);
      client.stdin.write('count\n');
      const stillOpen = Number(/^still-open (\d+)/.exec((await nextLine()) ?? '')?.[1] ?? 0);
      const cpu = cpuSeconds(server.pid) - cpuBefore;
      const result = {
        value: (rssAfter - rssBefore) / opened,
        requests: opened,
        failed: count - stillOpen,
        seconds: 0,
        cpu,
        perCpu: null,
        rssBeforeKiB: rssBefore,
        rssAfterKiB: rssAfter,
      };
      if (stillOpen < opened) result.note = `${opened - stillOpen} of ${opened} connections closed by the server while idle`;
      return result;
    } finally {
      client.stdin.end();
      await stopChild(client, 5000);
    }
  };
}

/** Reads lines from a child's stdout, one at a time; undefined once the output ends. */
function lineReader(stream) {
  const lines = createInterface({ input: stream });
  return () => new Promise((resolve) => {
    const onLine = (line) => { cleanup(); resolve(line); };
    const onClose = () => { cleanup(); resolve(undefined); };
    const cleanup = () => { lines.off('line', onLine); lines.off('close', onClose); };
    lines.on('line', onLine);
    lines.on('close', onClose);
  });
}

/** Arguments of bench/clients/ws-load.mjs for each WebSocket scenario (bench/profile.mjs drives the same loads). */
export const webSocketLoads = {
  'ws-echo-20': ['--mode', 'echo', '--connections', '64', '--inflight', '8', '--size', '20'],
  'ws-echo-4k': ['--mode', 'echo', '--connections', '64', '--inflight', '8', '--size', '4096'],
  'ws-broadcast': ['--mode', 'broadcast', '--subscribers', '200', '--inflight', '128', '--size', '64'],
};

/**
 * A load client of our own, pinned to the load CPU, that does its warm-up, prints "start" when its timed run begins
 * and "result " + JSON when it ends: the server's CPU seconds are read between the two lines, i.e. around the timed
 * part. The result carries the client's own CPU seconds, to show whether the load generator kept up.
 * launch(server, settings) gives { command, args } (or { error }); counts(measured) gives { succeeded, failed }.
 */
function timedClientTest({ name, launch, counts, factor = 1 }) {
  return async ({ server, settings }) => {
    const launched = await launch(server, settings);
    if (launched.error) return { error: launched.error };
    const { command, args } = pinned(pinning.clientCpu, launched.command, launched.args);
    const client = startChild(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    client.stderr.setEncoding('utf8').on('data', (text) => { stderr += text; });
    const nextLine = lineReader(client.stdout);
    const clientError = () => `load client: ${(new RegExp(`${name}: [^\\n]*`).exec(stderr)?.[0] ?? stderr.trim()).slice(0, 200) || 'no output'}`;
    try {
      if ((await nextLine()) !== 'start') return { error: clientError() };
      const cpuBefore = cpuSeconds(server.pid);
      const line = await nextLine();
      const cpu = cpuSeconds(server.pid) - cpuBefore;
      if (!line?.startsWith('result ')) return { error: clientError() };
      const measured = JSON.parse(line.slice('result '.length));
      const { succeeded, failed } = counts(measured);
      const result = finish({ succeeded, failed, seconds: measured.seconds, rps: succeeded / measured.seconds }, cpu, factor);
      if (result.error) return result;
      result.clientCpu = measured.clientCpu;
      if (measured.note) result.note = measured.note;
      return result;
    } finally {
      await stopChild(client, 2000);
    }
  };
}

/** WebSocket load from bench/clients/ws-load.mjs (httpsd's sans-IO engine in client role over raw TLS sockets). */
function webSocketTest(clientArgs) {
  return timedClientTest({
    name: 'ws-load',
    launch: (server, settings) => ({ command: process.execPath, args: [path.join(benchDir, 'clients', 'ws-load.mjs'),
      '--port', String(server.port), '--duration', String(settings.duration), '--warmup', String(settings.warmup), ...clientArgs] }),
    counts: (measured) => ({ succeeded: measured.messages, failed: measured.failed }),
  });
}

/**
 * HTTP/3 load from bench/clients/h3load (Go, quic-go), on the UDP port of the same number as the TLS port:
 * `clients` QUIC connections with `streams` requests in flight on each. With bytesPerRequest the rate is the body
 * bytes received in the timed run (as response-equivalents), so responses still in flight at its edges count for
 * what arrived.
 */
function h3Test({ clients, streams, target = '/', bytesPerRequest }) {
  return timedClientTest({
    name: 'h3load',
    factor: bytesPerRequest ? bytesPerRequest / 1e6 : 1,
    async launch(server, settings) {
      const built = await buildH3load();
      if (built.error) return { error: `${built.error}${built.install ? `; install it with: ${built.install}` : ''}` };
      return { command: built.binary, args: ['-url', `https://127.0.0.1:${server.port}${target}`, '-c', String(clients), '-m', String(streams),
        '-d', String(settings.duration), '-w', String(settings.warmup)] };
    },
    counts: (measured) => ({ succeeded: bytesPerRequest ? measured.bytes / bytesPerRequest : measured.requests, failed: measured.errors }),
  });
}

/**
 * needs: which capability a server must have (h2, h1, h2c, upload, static, ws).
 * baseline: the server every ratio is computed against.
 */
export const scenarios = [
  // Measured in every round like the rest (when the garbage collector last ran shifts a Node.js server's RSS by
  // several KiB per connection), each time on a freshly started server: memory freed after a previous round stays
  // resident and would be reused, hiding the cost of new connections.
  { id: 'idle-memory', title: 'memory per idle h2 connection', unit: 'KiB/conn', lowerIsBetter: true, needs: 'h2', freshServer: true,
    baseline: 'node-http2-stream', how: 'N TLS h2 connections (1 GET each, then idle); (VmRSS after - before) / N',
    run: idleMemoryTest() },
  { id: 'h2-hello', title: 'h2 hello', unit: 'req/s', needs: 'h2', baseline: 'node-http2-stream',
    how: 'h2load -c 8 -m 16', run: loadTest({ clients: 8, streams: 16 }) },
  { id: 'h2-hello-streams', title: 'h2 hello, many streams', unit: 'req/s', needs: 'h2', baseline: 'node-http2-stream',
    how: 'h2load -c 16 -m 100', run: loadTest({ clients: 16, streams: 100 }) },
  { id: 'h2-hello-1stream', title: 'h2 hello, 1 stream/conn', unit: 'req/s', needs: 'h2', baseline: 'node-http2-stream',
    how: 'h2load -c 64 -m 1', run: loadTest({ clients: 64, streams: 1 }) },
  { id: 'h1-hello', title: 'h1 hello (keep-alive)', unit: 'req/s', needs: 'h1', baseline: 'node-https',
    how: 'wrk -t 1 -c 64 (TLS, keep-alive)', run: loadTest({ tool: 'wrk', clients: 64 }) },
  { id: 'h1-hello-h2load', title: 'h1 hello (h2load --h1)', unit: 'req/s', needs: 'h1', baseline: 'node-https', optional: true,
    how: 'h2load --h1 -c 64 -m 1', run: loadTest({ clients: 64, streams: 1, h1: true }) },
  { id: 'h2c-hello', title: 'h2c hello (cleartext)', unit: 'req/s', needs: 'h2c', baseline: 'node-http2-stream',
    how: 'h2load -c 8 -m 16 http://', run: loadTest({ clients: 8, streams: 16, cleartext: true }) },
  { id: 'download-1m', title: '1 MiB download over h2', unit: 'MB/s', needs: 'h2', baseline: 'node-http2-stream',
    how: 'h2load -c 4 -m 4 /1m', run: loadTest({ clients: 4, streams: 4, target: '/1m', bytesPerRequest: MiB }) },
  // Two uploads at a time, so that each finishes well within the timed run even on a slow server (h2load counts
  // only the requests that complete inside it).
  { id: 'upload-10m', title: '10 MiB upload over h2', unit: 'MB/s', needs: 'upload', baseline: 'node-http2-stream',
    how: 'h2load -c 2 -m 1 -d 10MiB /upload',
    run: loadTest({ clients: 2, streams: 1, target: '/upload', dataFile: 'upload', bytesPerRequest: 10 * MiB }) },
  { id: 'handshake-ecdsa', title: 'new connections, ECDSA P-256', unit: 'conn/s', needs: 'tls', baseline: 'node-http2-stream',
    how: 'h2load -c 50 -n 50 in a loop: 1 full TLS handshake + 1 request per connection', run: handshakeTest({}) },
  { id: 'handshake-rsa', title: 'new connections, RSA-2048', unit: 'conn/s', needs: 'tls', baseline: 'node-http2-stream', cert: 'rsa',
    how: 'as above with an RSA-2048 certificate', run: handshakeTest({}) },
  { id: 'static-small', title: 'static file, 1 KiB', unit: 'req/s', needs: 'static', baseline: 'nginx',
    how: 'h2load -c 8 -m 16 /static/small.txt', run: loadTest({ clients: 8, streams: 16, target: '/static/small.txt' }) },
  { id: 'static-1m', title: 'static file, 1 MiB', unit: 'MB/s', needs: 'static', baseline: 'nginx',
    how: 'h2load -c 4 -m 4 /static/1m.bin',
    run: loadTest({ clients: 4, streams: 4, target: '/static/1m.bin', bytesPerRequest: MiB }) },
  // TechEmpower's "plaintext" shape: cleartext HTTP/1.1, 16 requests pipelined per connection.
  { id: 'h1-pipeline', title: 'h1 plaintext, pipelined ×16 (cleartext)', unit: 'req/s', needs: 'h1-cleartext', baseline: 'node-https',
    only: ['httpsd-fast', 'httpsd-global', 'node-https', 'nginx'],
    how: 'wrk -t 1 -c 64 -s clients/wrk/pipeline.lua -- 16, http:// (16 requests per write, as TechEmpower plaintext)',
    run: loadTest({ tool: 'wrk', clients: 64, cleartextH1: true, script: 'pipeline.lua', scriptArgs: () => ['16'] }) },
  // The fetch-handler servers Node.js users would pick instead: the request's JSON parsed and echoed.
  { id: 'post-json-h1', title: 'POST JSON echo over h1 (TLS)', unit: 'req/s', needs: 'echo', baseline: 'hono',
    only: ['httpsd-fast', 'httpsd-global', 'hono', 'srvx', 'node-https'],
    how: 'wrk -t 1 -c 64 -s clients/wrk/post.lua: POST /echo with 490 bytes of JSON, keep-alive',
    run: loadTest({ tool: 'wrk', clients: 64, target: '/echo', script: 'post.lua', scriptArgs: (settings) => [settings.files.echo, 'application/json'] }) },
  { id: 'post-json-h2', title: 'POST JSON echo over h2', unit: 'req/s', needs: 'echo', baseline: 'hono',
    only: ['httpsd-fast', 'httpsd-global', 'hono', 'srvx', 'node-http2-stream'],
    how: 'h2load -c 8 -m 16 -d 490-byte JSON -H content-type: application/json, POST /echo',
    run: loadTest({ clients: 8, streams: 16, target: '/echo', dataFile: 'echo', headers: ['content-type: application/json'] }) },
  // Connection: close on HTTP/1.1 over TLS. One h2load process per batch: h2load resumes TLS sessions when it
  // reconnects within a run (and so does wrk), so only fresh processes give one full handshake per request.
  { id: 'h1-close', title: 'h1 short-lived: 1 request per TLS connection', unit: 'req/s', needs: 'tls', baseline: 'node-https',
    only: ['httpsd-fast', 'httpsd-global', 'node-https', 'nginx'],
    how: 'h2load --h1 -c 50 -n 50 -H connection: close in a loop: full TLS handshake (ECDSA P-256), 1 request, close',
    run: handshakeTest({ forceH1: true, headers: ['connection: close'] }) },
  { id: 'json-compressed', title: 'compressed JSON, ~10 KiB (h2)', unit: 'req/s', needs: 'json', baseline: 'node-http2-stream',
    only: ['httpsd-fast', 'httpsd-global', 'node-http2-stream', 'nginx'],
    how: 'h2load -c 8 -m 16 -H accept-encoding: br, gzip /json: JSON serialized and compressed per request (nginx: a file, gzip on)',
    run: loadTest({ clients: 8, streams: 16, target: '/json', headers: ['accept-encoding: br, gzip'], probeEncoding: true }) },
  // HTTP/3 with the same shapes as h2-hello and download-1m, so httpsd's h3 and h2 numbers of one run compare.
  { id: 'h3-hello', title: 'h3 hello', unit: 'req/s', needs: 'h3', baseline: 'caddy',
    how: 'clients/h3load (quic-go) -c 8 -m 16: 8 QUIC connections, 16 requests in flight each',
    run: h3Test({ clients: 8, streams: 16 }) },
  { id: 'h3-download-1m', title: '1 MiB download over h3', unit: 'MB/s', needs: 'h3', baseline: 'caddy',
    how: 'clients/h3load (quic-go) -c 4 -m 4 /1m', run: h3Test({ clients: 4, streams: 4, target: '/1m', bytesPerRequest: MiB }) },
  { id: 'ws-echo-20', title: 'WebSocket echo, 20 B', unit: 'msg/s', needs: 'ws', baseline: 'ws-node',
    how: '64 TLS WebSocket connections (HTTP/1.1 Upgrade), 8 binary messages of 20 bytes in flight each; round trips',
    run: webSocketTest(webSocketLoads['ws-echo-20']) },
  { id: 'ws-echo-4k', title: 'WebSocket echo, 4 KiB', unit: 'msg/s', needs: 'ws', baseline: 'ws-node',
    how: '64 TLS WebSocket connections, 8 binary messages of 4 KiB in flight each; round trips',
    run: webSocketTest(webSocketLoads['ws-echo-4k']) },
  { id: 'ws-broadcast', title: 'WebSocket broadcast, 200 subscribers', unit: 'msg/s', needs: 'ws', baseline: 'ws-node',
    how: '1 publisher, 200 subscriber connections; 64-byte messages, 128 not yet delivered to all at most; deliveries',
    run: webSocketTest(webSocketLoads['ws-broadcast']) },
];

/** The reason given for servers a scenario does not compare (left out of the detailed table). */
export const notCompared = 'not in this comparison';

/** Whether a server takes part in a scenario, and if not, why. */
export function supportsScenario(peer, scenario, context) {
  if (scenario.only && !scenario.only.includes(peer.name)) return notCompared;
  // A WebSocket-only peer (the `ws` package) answers plain requests only so that the harness's checks pass.
  if (peer.supports.wsOnly && scenario.needs !== 'ws') return 'WebSocket scenarios only';
  switch (scenario.needs) {
    case 'h2': return peer.supports.h2 ? true : 'no HTTP/2';
    case 'h1': return peer.supports.h1 ? true : 'no HTTP/1.1 handler';
    case 'h2c': return peer.supports.h2c ? true : 'no cleartext h2c';
    case 'upload':
      if (!peer.supports.h2) return 'no HTTP/2';
      return peer.supports.upload ? true : 'does not read the request body';
    case 'tls': return true;
    case 'h1-cleartext': return peer.supports.h1Cleartext ? true : 'no cleartext HTTP/1.1';
    case 'echo': return peer.supports.echo ? true : 'no POST /echo handler';
    case 'json': return peer.supports.json ? true : 'no /json handler';
    case 'h3': return peer.supports.h3 ? true : 'no HTTP/3';
    case 'ws': return peer.supports.ws ? true : 'not in the WebSocket comparison';
    case 'static':
      if (peer.supports.static === 'native') return true;
      if (peer.supports.static === 'httpsd') return context.httpsdStatic ? true : 'serveStatic not exported yet';
      return 'no static file handler';
    default: return true;
  }
}

export const quickScenarioIds = ['h2-hello', 'h1-hello', 'idle-memory'];
