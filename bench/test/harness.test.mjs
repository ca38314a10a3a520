// Tests of the benchmark harness itself, against the real load generators and real servers.
// Run: node --test bench/test/   (needs h2load and wrk; a missing tool skips nothing silently: the test fails)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseH2load, parseWrk, h2load, wrk } from '../lib/loadgen.mjs';
import { median, summarize, checkTargets, markdownTable, svgChart, targetLines } from '../lib/report.mjs';
import { withServer } from './support.mjs';
import { startChild, stopChild, cpuSeconds, rssKiB, processTree } from '../lib/proc.mjs';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('h2load output is parsed into counts, rate and the negotiated protocol', async () => {
  await withServer('node-http2-stream.mjs', async ({ port, httpPort, pid }) => {
    const cpuBefore = cpuSeconds(pid);
    const result = await h2load({ url: `https://127.0.0.1:${port}/`, clients: 2, streams: 4, requests: 400 });
    assert.equal(result.error, undefined);
    assert.equal(result.protocol, 'h2');
    assert.equal(result.succeeded, 400);
    assert.equal(result.failed, 0);
    assert.ok(result.rps > 0 && result.seconds > 0);
    assert.ok(cpuSeconds(pid) > cpuBefore, 'the server spent CPU time answering');
    const cleartext = await h2load({ url: `http://127.0.0.1:${httpPort}/`, clients: 1, requests: 10 });
    assert.equal(cleartext.protocol, 'h2c');
    assert.equal(cleartext.succeeded, 10);
    // The stream API server has no HTTP/1.1 handler: forcing h1 must show as failures, not as a rate.
    const h1 = await h2load({ url: `https://127.0.0.1:${port}/`, clients: 1, requests: 10, h1: true });
    assert.ok(h1.error || h1.succeeded === 0, 'an h1 run against an h2-only server is not counted as a success');
  });
});

test('a server that negotiates http/1.1 where h2 is expected is reported, not measured', async () => {
  await withServer('node-https.mjs', async ({ port }) => {
    const result = await h2load({ url: `https://127.0.0.1:${port}/`, clients: 1, requests: 10 });
    assert.match(result.error ?? '', /negotiated http\/1\.1 instead of h2/);
  });
});

test('wrk output is parsed, non-2xx answers count as failures', async () => {
  await withServer('node-https.mjs', async ({ port }) => {
    const result = await wrk({ url: `https://127.0.0.1:${port}/`, connections: 2, duration: 1 });
    assert.equal(result.error, undefined);
    assert.ok(result.succeeded > 0);
    assert.ok(Math.abs(result.rps - result.succeeded / result.seconds) < 1e-6);
  });
  const sample = '  10 requests in 2.00s, 1.00KB read\n  Non-2xx or 3xx responses: 4\nRequests/sec: 5.00\n';
  assert.deepEqual(parseWrk(sample), { requests: 10, succeeded: 6, failed: 4, seconds: 2, rps: 3 });
  assert.equal(parseWrk('connection refused'), undefined);
  assert.equal(parseH2load('nothing useful'), undefined);
});

test('process accounting reads the tree of the server', async () => {
  const child = startChild('/bin/sh', ['-c', 'sleep 5 & sleep 5 & wait']);
  try {
    // The shell starts its two sleeps when it gets the CPU: wait for them (a busy machine can take a while).
    let tree = processTree(child.pid);
    for (const deadline = Date.now() + 30_000; tree.length < 3 && Date.now() < deadline; tree = processTree(child.pid)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(tree.length >= 3, `expected the shell and two sleeps, got ${tree.join(',')}`);
    assert.ok(rssKiB(child.pid) > 0);
  } finally {
    await stopChild(child);
  }
  assert.equal(processTree(child.pid).length, 1, 'children are gone with the process group');
});

test('summary: median, min-max, ratio to the baseline, target checks and outputs', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([]), null);
  const scenarios = [{ id: 'h2-hello', title: 'h2 hello', unit: 'req/s', baseline: 'node-http2-stream' }];
  const peers = [
    { name: 'httpsd-fast', label: 'httpsd FastResponse', family: 'httpsd' },
    { name: 'node-http2-stream', label: 'node:http2 stream API', family: 'node' },
  ];
  const rounds = [
    { scenario: 'h2-hello', server: 'httpsd-fast', round: 1, value: 300, cpu: 2, perCpu: 150 },
    { scenario: 'h2-hello', server: 'httpsd-fast', round: 2, value: 100, cpu: 2, perCpu: 50 },
    { scenario: 'h2-hello', server: 'httpsd-fast', round: 3, value: 200, cpu: 2, perCpu: 100 },
    { scenario: 'h2-hello', server: 'node-http2-stream', round: 1, value: 120, cpu: 2, perCpu: 60 },
    { scenario: 'h2-hello', server: 'node-http2-stream', round: 2, error: 'boom' },
    { scenario: 'h2-hello', server: 'node-http2-stream', round: 3, value: 80, cpu: 2, perCpu: 40 },
  ];
  const summary = summarize(rounds, scenarios, peers);
  const mine = summary['h2-hello']['httpsd-fast'];
  assert.deepEqual([mine.median, mine.min, mine.max], [200, 100, 300]);
  assert.equal(summary['h2-hello']['node-http2-stream'].median, 100);
  assert.equal(mine.ratio, 2);
  const checks = checkTargets(summary);
  assert.equal(checks[0].status, 'met');
  assert.equal(checks[0].measured, 2);
  assert.equal(checks[1].status, 'not measured');
  const table = markdownTable(summary, scenarios, peers);
  assert.match(table, /\| h2 hello \| httpsd FastResponse \| 200 req\/s \| 100–300 \| 2\.00× \|/);
  const svg = svgChart(summary, scenarios, peers, 'subtitle & <escaped>');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /subtitle &amp; &lt;escaped&gt;/);
  assert.equal((svg.match(/<rect /g) ?? []).length, 2 + 3 + 1, 'background, legend and one bar per server');
});

test('quick run end to end: exit 0, table, JSON and chart written', { timeout: 120_000 }, () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'bench-out-'));
  try {
    const run = spawnSync(process.execPath, [path.join(benchDir, 'run.mjs'), '--quick', '--servers', 'node-http2-stream,node-https',
      '--only', 'h2-hello,h1-hello', '--duration', '1', '--warmup', '0.2', '--out', out], { encoding: 'utf8', timeout: 110_000 });
    assert.equal(run.status, 0, run.stderr);
    const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    assert.ok(json.summary['h2-hello']['node-http2-stream'].median > 0);
    assert.ok(json.summary['h1-hello']['node-https'].median > 0);
    assert.equal(json.summary['h2-hello']['node-https'].skipped, 'no HTTP/2');
    assert.ok(existsSync(path.join(out, 'chart.svg')));
    assert.match(readFileSync(path.join(out, 'results.md'), 'utf8'), /\| h2 hello \| node:http2 stream API \|/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('targets: a cross-scenario comparison (h3 against the same server\'s h2) is reported, not met or missed', () => {
  const scenarios = [
    { id: 'h2-hello', title: 'h2 hello', unit: 'req/s', baseline: 'node-http2-stream' },
    { id: 'h3-hello', title: 'h3 hello', unit: 'req/s', baseline: 'caddy' },
  ];
  const peers = [{ name: 'httpsd-fast', label: 'httpsd', family: 'httpsd' }, { name: 'caddy', label: 'Caddy', family: 'peer' }];
  const rounds = [
    { scenario: 'h2-hello', server: 'httpsd-fast', round: 1, value: 400, cpu: 1, perCpu: 400 },
    { scenario: 'h3-hello', server: 'httpsd-fast', round: 1, value: 100, cpu: 1, perCpu: 100 },
    { scenario: 'h3-hello', server: 'caddy', round: 1, value: 50, cpu: 1, perCpu: 50 },
  ];
  const checks = checkTargets(summarize(rounds, scenarios, peers));
  const versusCaddy = checks.find((check) => check.scenario === 'h3-hello' && check.against === 'caddy');
  assert.equal(versusCaddy.status, 'met');
  assert.equal(versusCaddy.measured, 2);
  const versusH2 = checks.find((check) => check.scenario === 'h3-hello' && check.againstScenario === 'h2-hello');
  assert.equal(versusH2.status, 'reported');
  assert.equal(versusH2.measured, 0.25);
  assert.match(targetLines([versusH2]), /^- measured: h3 hello against httpsd's own h2 hello \(measured 0\.25×; per CPU-second 0\.25×\)$/);
});
