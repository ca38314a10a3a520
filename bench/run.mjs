#!/usr/bin/env node
// httpsd benchmark harness: httpsd against node:http2, node:https, Hypercorn, nginx, h2o and Caddy, side by side.
// Usage: npm run bench -- [--quick] [--only a,b] [--servers a,b] [--rounds N] [--duration S] [--warmup S]
//                         [--handshake-warmup N] [--idle-connections N] [--publish] [--list]
import { parseArgs } from 'node:util';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync, utimesSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { installCleanup, startChild, stopChild, freePort, waitForPort, pinned, pinning, priority, which, runToEnd } from './lib/proc.mjs';
import { peers, loadHttpsd } from './lib/peers.mjs';
import { scenarios, supportsScenario, quickScenarioIds } from './lib/scenarios.mjs';
import { echoRequestBody, jsonDocument } from './servers/common.mjs';
import { summarize, checkTargets, markdownTable, matrixTable, targetLines, svgChart } from './lib/report.mjs';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const repoDir = path.resolve(benchDir, '..');

const usage = `npm run bench -- [options]

  --quick                 few scenarios, 1 round, short runs (about a minute); what CI runs
  --only IDS              comma-separated scenario ids (see --list)
  --servers NAMES         comma-separated server names (see --list), in the order of the first round
  --rounds N              rounds per scenario and server (default 3; median reported)
  --duration SECONDS      timed part of each run (default 1.5; wrk rounds to whole seconds)
  --warmup SECONDS        warm-up before each timed run (default 0.5; 0 turns every warm-up off)
  --handshake-warmup N    new-connection scenarios: handshakes before a server's first timed run (default 5000;
                          a fifth of it, at least one batch, before each later one)
  --idle-connections N    connections for the idle-memory scenario (default 2000)
  --nice=N                run servers and load generators at this nice value (e.g. --nice=-10; negative needs root),
                          to measure on a machine that other work keeps busy
  --publish               also write docs/performance.md's results section and docs/bench-chart.svg
  --out DIR               results directory (default bench/results/<timestamp>)
  --list                  list scenarios and servers, then exit
  --help                  this text`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      servers: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      'handshake-warmup': { type: 'string' },
      'idle-connections': { type: 'string' },
      nice: { type: 'string' },
      publish: { type: 'boolean', default: false },
      out: { type: 'string' },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }));
} catch (error) {
  console.error(`bench: ${error.message}\n\n${usage}`);
  process.exit(2);
}

if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (values.list) {
  console.log('Scenarios:');
  for (const scenario of scenarios) console.log(`  ${scenario.id.padEnd(18)} ${scenario.title} [${scenario.unit}] — ${scenario.how}${scenario.optional ? ' (not in the default set)' : ''}`);
  console.log('Servers:');
  for (const peer of peers) console.log(`  ${peer.name.padEnd(18)} ${peer.label}`);
  process.exit(0);
}

function positiveNumber(name, text, fallback) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`bench: --${name} must be a positive number, got "${text}"`);
    process.exit(2);
  }
  return value;
}

const quick = values.quick;
if (values.nice !== undefined) {
  const nice = Number(values.nice);
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) {
    console.error(`bench: --nice must be an integer from -20 to 19, got "${values.nice}"`);
    process.exit(2);
  }
  priority.nice = nice;
}
const settings = {
  rounds: Math.round(positiveNumber('rounds', values.rounds, quick ? 1 : 3)),
  duration: positiveNumber('duration', values.duration, quick ? 1 : 1.5),
  warmup: values.warmup === '0' ? 0 : positiveNumber('warmup', values.warmup, quick ? 0.3 : 0.5),
  idleConnections: Math.round(positiveNumber('idle-connections', values['idle-connections'], quick ? 200 : 2000)),
  files: {},
};
// Counted in handshakes, not seconds (lib/scenarios.mjs handshakeTest says why): the same for every server.
const handshakeWarmup = settings.warmup === 0 ? 0 : Math.round(positiveNumber('handshake-warmup', values['handshake-warmup'], quick ? 1000 : 5000));
settings.handshakeWarmup = { first: handshakeWarmup, each: handshakeWarmup === 0 ? 0 : Math.max(50, Math.round(handshakeWarmup / 5)) };

/** The named items; in the list's order, or with inOrderGiven in the order the names were given. */
function selectByName(list, text, what, key, inOrderGiven = false) {
  if (!text) return undefined;
  const names = text.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !list.some((item) => item[key] === name));
  if (unknown.length) {
    console.error(`bench: unknown ${what} ${unknown.join(', ')}; known: ${list.map((item) => item[key]).join(', ')}`);
    process.exit(2);
  }
  if (inOrderGiven) return [...new Set(names)].map((name) => list.find((item) => item[key] === name));
  return list.filter((item) => names.includes(item[key]));
}

let selectedScenarios = selectByName(scenarios, values.only, 'scenario', 'id')
  ?? scenarios.filter((scenario) => (quick ? quickScenarioIds.includes(scenario.id) : !scenario.optional));
// The order given is the order of the first round (rotated in the next ones): running a comparison twice in
// opposite orders shows whether its result depends on the order.
const requestedPeers = selectByName(peers, values.servers, 'server', 'name', true) ?? peers;

const log = (line) => console.log(line);
let tempDir;
installCleanup(() => {
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  console.error('bench: interrupted; all servers stopped');
});

// --- Tools -------------------------------------------------------------------------------------------------------
if (!which('h2load')) {
  log('bench: h2load not found; install it with: apt-get install -y nghttp2-client');
  log('bench: skipping the benchmark (nothing measured)');
  process.exit(0);
}
if (!which('openssl')) {
  log('bench: openssl not found; install it with: apt-get install -y openssl');
  process.exit(0);
}
const hasWrk = Boolean(which('wrk'));
if (!hasWrk) log('bench: wrk not found (h1 scenario skipped); install it with: apt-get install -y wrk');
if (!pinning.enabled) log('bench: taskset or a second CPU is missing: server and load generator are not pinned (apt-get install -y util-linux)');

// --- Servers available -----------------------------------------------------------------------------------------------
const activePeers = [];
for (const peer of requestedPeers) {
  const availability = await peer.available();
  if (availability.ok) activePeers.push(peer);
  else log(`bench: skipping ${peer.name}: ${availability.reason}${availability.install ? `; install it with: ${availability.install}` : ''}`);
}
const httpsdLoaded = await loadHttpsd();
const context = { httpsdStatic: Boolean(httpsdLoaded.module && typeof httpsdLoaded.module.serveStatic === 'function') };
if (!hasWrk) selectedScenarios = selectedScenarios.filter((scenario) => scenario.id !== 'h1-hello');
if (activePeers.length === 0) {
  log('bench: no server available; nothing measured');
  process.exit(0);
}

// --- Fixtures: certificates, files -------------------------------------------------------------------------------
tempDir = mkdtempSync(path.join(os.tmpdir(), 'httpsd-bench-'));
const certs = {};
for (const [kind, keyArgs] of [['ecdsa', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']], ['rsa', ['-newkey', 'rsa:2048']]]) {
  const cert = path.join(tempDir, `${kind}-cert.pem`);
  const key = path.join(tempDir, `${kind}-key.pem`);
  execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  certs[kind] = { cert, key };
}
const wwwDir = path.join(tempDir, 'www');
// Static files live in docroot/static/ so that every server maps /static/NAME to the same file
// (httpsd's serveStatic is given docroot, the peers an alias of docroot/static).
const staticRoot = path.join(tempDir, 'docroot', 'static');
mkdirSync(wwwDir);
mkdirSync(staticRoot, { recursive: true });
const oneMiB = Buffer.alloc(1024 * 1024, 'httpsd-bench-');
writeFileSync(path.join(wwwDir, '1m.bin'), oneMiB);
writeFileSync(path.join(staticRoot, '1m.bin'), oneMiB);
writeFileSync(path.join(staticRoot, 'small.txt'), Buffer.alloc(1024, 'static small file\n'));
settings.files.upload = path.join(tempDir, 'upload-10m.bin');
writeFileSync(settings.files.upload, Buffer.alloc(10 * 1024 * 1024, 'upload'));
settings.files.echo = path.join(tempDir, 'echo.json');
writeFileSync(settings.files.echo, echoRequestBody);
// nginx answers /json from this file (gzip on); the Node.js servers serialize the same document per request.
writeFileSync(path.join(wwwDir, 'data.json'), JSON.stringify(jsonDocument));
// Files modified in the last seconds are not cached by httpsd's static server (a change within the file system's
// timestamp granularity would go unseen): dated a minute back, the served files are what a deployed site serves.
const aMinuteAgo = new Date(Date.now() - 60_000);
for (const file of ['1m.bin', 'small.txt']) utimesSync(path.join(staticRoot, file), aMinuteAgo, aMinuteAgo);
utimesSync(path.join(wwwDir, '1m.bin'), aMinuteAgo, aMinuteAgo);
// utimes cannot move the change time (ctime), which the cache's check reads too (3 s margin): the static scenarios
// wait until the files are older than that, so a run that starts with them does not measure uncached reads.
const staticFilesSettledAt = Date.now() + 3_500;

// --- Server lifecycle ------------------------------------------------------------------------------------------------
async function startServer(peer, certKind, label) {
  const launchStarted = Date.now();
  const port = await freePort();
  let httpPort = await freePort();
  while (httpPort === port) httpPort = await freePort();
  // A third port for servers whose cleartext HTTP/1.1 cannot share the h2c port (nginx).
  const needsPlainPort = peer.supports.h1Cleartext === 'plainPort';
  let plainPort = needsPlainPort ? await freePort() : undefined;
  while (needsPlainPort && (plainPort === port || plainPort === httpPort)) plainPort = await freePort();
  const workDir = path.join(tempDir, label);
  mkdirSync(workDir, { recursive: true });
  const spec = peer.command({ port, httpPort, plainPort, ...certs[certKind], workDir, wwwDir, staticRoot, httpsdStatic: context.httpsdStatic });
  const { command, args } = pinned(pinning.serverCpu, spec.command, spec.args);
  const logFile = path.join(workDir, 'server.log');
  const child = startChild(command, args, { cwd: spec.cwd ?? workDir, env: spec.env, logFile });
  const ready = (await waitForPort(port, child)) && (await waitForPort(httpPort, child))
    && (!needsPlainPort || (await waitForPort(plainPort, child)));
  if (!ready) {
    await stopChild(child);
    const output = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-4).join(' | ') : '';
    throw new Error(`${peer.name} did not start: ${output || 'no output'}`);
  }
  return { peer, child, pid: child.pid, port, httpPort, h1Port: needsPlainPort ? plainPort : httpPort, startMs: Date.now() - launchStarted };
}

function get(server, target, useH2) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), 5000);
    const done = (result) => { clearTimeout(timer); resolve(result); };
    const fail = (error) => { clearTimeout(timer); reject(error); };
    if (useH2) {
      const session = http2.connect(`https://127.0.0.1:${server.port}`, { rejectUnauthorized: false });
      session.on('error', fail);
      const request = session.request({ ':path': target });
      const chunks = [];
      let headers;
      request.on('response', (received) => { headers = received; });
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => { session.close(); done({ status: headers?.[':status'], type: headers?.['content-type'], body: Buffer.concat(chunks) }); });
      request.on('error', fail);
      request.end();
    } else {
      https.get({ host: '127.0.0.1', port: server.port, path: target, rejectUnauthorized: false, agent: false }, (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => done({ status: response.statusCode, type: response.headers['content-type'], body: Buffer.concat(chunks) }));
      }).on('error', fail);
    }
  });
}

/** Every server must answer the same bytes; a mismatch is reported next to its numbers. */
async function verifyServer(server) {
  const problems = [];
  try {
    const hello = await get(server, '/', server.peer.supports.h2);
    if (hello.status !== 200) problems.push(`GET / status ${hello.status}`);
    if (!String(hello.type).startsWith('text/plain')) problems.push(`GET / content-type ${hello.type}`);
    if (hello.body.toString() !== 'hello') problems.push(`GET / body ${JSON.stringify(hello.body.toString().slice(0, 40))}`);
    const download = await get(server, '/1m', server.peer.supports.h2);
    if (download.body.length !== 1024 * 1024) problems.push(`GET /1m gave ${download.body.length} bytes`);
  } catch (error) {
    problems.push(`request failed: ${error.message}`);
  }
  return problems;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((resolve) => { timer = setTimeout(() => resolve({ error: `${what} timed out after ${Math.round(ms / 1000)} s` }), ms); }),
  ]);
}

// --- Plan and run ----------------------------------------------------------------------------------------------------
const results = [];
const lifecycle = [];
const verification = {};
const record = (entry) => results.push(entry);
const startedAt = new Date();
const planned = [];
for (const scenario of selectedScenarios) {
  for (const peer of activePeers) {
    const support = supportsScenario(peer, scenario, context);
    if (support !== true) record({ scenario: scenario.id, server: peer.name, round: 0, skipped: support });
    else planned.push({ scenario, peer });
  }
}
const runnable = selectedScenarios.filter((scenario) => planned.some((entry) => entry.scenario === scenario));
log(`bench: ${runnable.length} scenarios × ${activePeers.length} servers, ${settings.rounds} round(s), `
  + `${settings.duration}s timed after ${settings.warmup}s warm-up${pinning.enabled ? ', server on CPU 0, load on CPU 1' : ''}`
  + (runnable.some((scenario) => scenario.unit === 'conn/s')
    ? `; new connections after ${settings.handshakeWarmup.first} warm-up handshakes (${settings.handshakeWarmup.each} in later rounds)` : ''));

// Other work on the machine skews every number; say so up front (the 1-minute load average is in the JSON too).
const loadAverage = os.loadavg()[0];
if (loadAverage > 0.5) log(`bench: warning: load average ${loadAverage.toFixed(2)} before start: other processes compete for the CPUs`);

const pad = (text, width) => String(text).padEnd(width);
const isPlanned = (scenario, peer) => planned.some((entry) => entry.scenario === scenario && entry.peer === peer);

async function measure(scenario, peer, server, round) {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) {
    record({ scenario: scenario.id, server: peer.name, round, error: server ? 'server exited' : 'server did not start' });
    return;
  }
  const limitMs = (settings.duration + settings.warmup) * 3000 + 90_000;
  let measured;
  const runStarted = Date.now();
  try {
    measured = await withTimeout(scenario.run({ server, settings, peer }), limitMs, scenario.id);
  } catch (error) {
    measured = { error: error.message };
  }
  record({ scenario: scenario.id, server: peer.name, round, ...measured, wallMs: Date.now() - runStarted });
  const shown = measured.error
    ? `error: ${measured.error}`
    : `${measured.value.toFixed(scenario.unit === 'KiB/conn' ? 1 : 0)} ${scenario.unit}`
      + (measured.perCpu ? `, cpu ${measured.cpu.toFixed(2)} s` : '')
      + (measured.clientCpu != null ? `, load generator cpu ${measured.clientCpu.toFixed(2)} s` : '')
      + (measured.failed ? `, ${measured.failed} failed` : '')
      + (measured.note ? ` (${measured.note})` : '');
  const rounds = scenario.firstRoundOnly ? 1 : settings.rounds;
  log(`[${round}/${rounds}] ${pad(scenario.id, 17)} ${pad(peer.name, 18)} ${shown}`);
}

/**
 * One phase per certificate kind: every server taking part is started once (one process each, on CPU 0) and stays
 * up, idle, while the others are measured. Each scenario then runs its rounds back to back, the order of servers
 * rotating from round to round, so the servers compared in a scenario are measured minutes apart at most and a
 * burst of outside load hits one round of one server rather than all of its numbers.
 */
async function runPhase(certKind, phaseScenarios) {
  const participants = activePeers.filter((peer) => phaseScenarios.some((scenario) => isPlanned(scenario, peer)));
  const servers = new Map();
  try {
    for (const peer of participants) {
      try {
        const server = await startServer(peer, certKind, `${peer.name}-${certKind}`);
        servers.set(peer.name, server);
        if (!verification[peer.name]) {
          verification[peer.name] = await verifyServer(server);
          if (verification[peer.name].length) log(`bench: ${peer.name} answers differently: ${verification[peer.name].join('; ')}`);
        }
      } catch (error) {
        log(`bench: ${error.message}`);
      }
    }
    for (const scenario of phaseScenarios) {
      if (scenario.id.startsWith('static-') && Date.now() < staticFilesSettledAt) {
        await new Promise((resolve) => setTimeout(resolve, staticFilesSettledAt - Date.now()));
      }
      const rounds = scenario.firstRoundOnly ? 1 : settings.rounds;
      const takingPart = participants.filter((peer) => isPlanned(scenario, peer));
      for (let round = 1; round <= rounds; round++) {
        const shift = (round - 1) % Math.max(1, takingPart.length);
        const order = [...takingPart.slice(shift), ...takingPart.slice(0, shift)];
        for (const peer of order) {
          if (scenario.freshServer && servers.has(peer.name)) {
            await stopChild(servers.get(peer.name).child, 1000);
            servers.delete(peer.name);
            try {
              servers.set(peer.name, await startServer(peer, certKind, `${peer.name}-${certKind}-${scenario.id}-${round}`));
            } catch (error) {
              log(`bench: ${error.message}`);
            }
          }
          await measure(scenario, peer, servers.get(peer.name), round);
        }
      }
    }
  } finally {
    for (const [name, server] of servers) {
      const stopStarted = Date.now();
      await stopChild(server.child, 1000);
      lifecycle.push({ server: name, cert: certKind, startMs: server.startMs, stopMs: Date.now() - stopStarted });
    }
  }
}

for (const certKind of ['ecdsa', 'rsa']) {
  const phaseScenarios = runnable.filter((scenario) => (scenario.cert ?? 'ecdsa') === certKind);
  if (phaseScenarios.length) await runPhase(certKind, phaseScenarios);
}

// --- Report ----------------------------------------------------------------------------------------------------------
const shownScenarios = selectedScenarios;
const summary = summarize(results, shownScenarios, activePeers);
const checks = checkTargets(summary);
const cpuModel = (() => {
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  } catch { return os.cpus()[0]?.model ?? 'unknown'; }
})();
const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const versionOf = async (binary, args, pattern) => {
  if (!which(binary)) return undefined;
  const run = await runToEnd(which(binary), args, { timeoutMs: 5000 });
  return pattern.exec(`${run.stdout}\n${run.stderr}`)?.[1];
};
const environment = {
  date: startedAt.toISOString(),
  node: process.version,
  cpu: `${cpuModel} (${os.cpus().length} CPUs)`,
  kernel: os.release(),
  loadAverageAtStart: loadAverage,
  loadAverageAtEnd: os.loadavg()[0],
  pinned: pinning.enabled,
  nice: priority.nice,
  command,
  settings: { rounds: settings.rounds, duration: settings.duration, warmup: settings.warmup, handshakeWarmup: settings.handshakeWarmup, idleConnections: settings.idleConnections },
  tools: {
    h2load: await versionOf('h2load', ['--version'], /nghttp2\/([\d.]+)/),
    wrk: await versionOf('wrk', ['-v'], /wrk ([^\s]+)/),
    nginx: await versionOf('nginx', ['-v'], /nginx\/([\d.]+)/),
    h2o: await versionOf('h2o', ['--version'], /h2o version ([\d.]+)/),
    caddy: await versionOf('caddy', ['version'], /v?([\d.]+)/),
    hypercorn: existsSync('/usr/lib/python3/dist-packages/hypercorn')
      ? (await runToEnd('/usr/bin/python3', ['-c', 'import importlib.metadata as m; print(m.version("hypercorn"))'], { timeoutMs: 5000 })).stdout.trim() || undefined
      : undefined,
  },
};
const table = markdownTable(summary, shownScenarios, activePeers);
const matrix = matrixTable(summary, shownScenarios, activePeers);
const matrixNote = 'Medians; in parentheses the ratio to the scenario\'s baseline (in bold). Memory: lower is better.';
const targetText = targetLines(checks);
const scenarioText = shownScenarios.map((scenario) => `- **${scenario.title}** (\`${scenario.id}\`): ${scenario.how}; baseline ${peers.find((peer) => peer.name === scenario.baseline)?.label ?? scenario.baseline}`).join('\n');
const mismatch = Object.entries(verification).filter(([, problems]) => problems.length)
  .map(([name, problems]) => `- ${name}: ${problems.join('; ')}`).join('\n');
const subtitle = `${environment.date.slice(0, 16).replace('T', ' ')} UTC · Node ${environment.node} · ${environment.cpu} · ${command}`;
const svg = svgChart(summary, shownScenarios, activePeers, subtitle);

const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
const outDir = path.resolve(values.out ?? path.join(benchDir, 'results', stamp));
mkdirSync(outDir, { recursive: true });
const markdown = `# httpsd benchmark ${environment.date}

- Node ${environment.node}, ${environment.cpu}, Linux ${environment.kernel}
- Command: \`${command}\`
- ${settings.rounds} round(s), ${settings.duration} s timed after ${settings.warmup} s warm-up; ${pinning.enabled ? 'server pinned to CPU 0, load generator to CPU 1' : 'not pinned'}

${matrix}

${matrixNote}

${table}

Targets:
${targetText}

Scenarios:
${scenarioText}
${mismatch ? `\nServers whose answers differ from the reference bytes:\n${mismatch}\n` : ''}`;
writeFileSync(path.join(outDir, 'results.md'), markdown);
writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify({ environment, scenarios: shownScenarios.map(({ run, ...rest }) => rest), servers: activePeers.map(({ name, label, family }) => ({ name, label, family })), summary, targets: checks, verification, rounds: results, lifecycle, totalSeconds: (Date.now() - startedAt.getTime()) / 1000 }, null, 2)}\n`);
writeFileSync(path.join(outDir, 'chart.svg'), svg);

log('');
log(table);
log('');
log('Targets (reported, never enforced):');
log(targetText);
log('');
log(`bench: results written to ${path.relative(process.cwd(), outDir) || outDir}/ (results.md, results.json, chart.svg)`);

if (values.publish) {
  const docsDir = path.join(repoDir, 'docs');
  const docPath = path.join(docsDir, 'performance.md');
  const begin = '<!-- bench:results:begin -->';
  const end = '<!-- bench:results:end -->';
  const section = `${begin}
## Results

Measured ${environment.date.slice(0, 10)} on ${environment.cpu}, Node ${environment.node}, Linux ${environment.kernel};
h2load ${environment.tools.h2load ?? '–'}, wrk ${environment.tools.wrk ?? '–'}, nginx ${environment.tools.nginx ?? '–'}, h2o ${environment.tools.h2o ?? '–'}, Caddy ${environment.tools.caddy ?? '–'}, Hypercorn ${environment.tools.hypercorn ?? '–'}.
${settings.rounds} rounds, ${settings.duration} s timed after ${settings.warmup} s warm-up, ${pinning.enabled ? 'server pinned to CPU 0 and load generator to CPU 1' : 'no CPU pinning'}${priority.nice ? `, nice ${priority.nice}` : ''}.
${loadAverage > 0.5 ? `Other work was running on the machine (load average ${loadAverage.toFixed(1)} at start), so single numbers are noisy: read the min–max spread and the per-CPU-second column alongside the medians.\n` : ''}
Reproduce with:

\`\`\`sh
${command}
\`\`\`

![Benchmark chart](bench-chart.svg)

${matrix}

${matrixNote}

Details (median, min–max over the rounds, the server's CPU seconds during the timed run, and requests — or
connections, or megabytes — per CPU-second):

${table}

Targets (ratios from this run):

${targetText}
${end}`;
  let doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Performance\n\n';
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  doc = from !== -1 && to > from ? doc.slice(0, from) + section + doc.slice(to + end.length) : `${doc.trimEnd()}\n\n${section}\n`;
  mkdirSync(docsDir, { recursive: true });
  writeFileSync(docPath, doc);
  writeFileSync(path.join(docsDir, 'bench-chart.svg'), svg);
  log('bench: published docs/performance.md and docs/bench-chart.svg');
}

rmSync(tempDir, { recursive: true, force: true });
tempDir = undefined;
process.exit(0);
