/**
 * `httpsd --workers 2` serves HTTP/3: the supervisor owns the UDP port and relays each QUIC connection to one
 * worker by connection ID (src/server/quic/relay.ts). Independent clients (quic-go, ngtcp2's gtlsclient) get
 * whole connections from one worker each (every request of a connection answered by the same process, bodies
 * byte-identical), new connections spread over both workers, a connection survives NAT rebinding (routing follows
 * the connection ID, not the address), and a killed worker's replacement serves h3 on the same port.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { patternBytes, run, waitFor } from '../support/server.js';
import { startCli, type RunningCli } from '../support/cli.js';
import { buildGoClient } from './h3-go.js';

const GTLSCLIENT = '/usr/bin/gtlsclient';
const RUN_TIMEOUT = 120_000;
const BIG_SIZE = 2 * 1024 * 1024;
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
/** The app: /pid answers the worker's process id, /big the 2 MiB file beside it. */
const APP = `
import { readFileSync } from 'node:fs';
const big = readFileSync(new URL('./big.bin', import.meta.url));
export default { fetch(request) {
  return new URL(request.url).pathname === '/big' ? new Response(big) : new Response(String(process.pid));
} };
`;

describe('httpsd --workers 2 over HTTP/3', () => {
  let work: string;
  let cli: RunningCli;
  let client: string;
  let big: Buffer;

  before(async () => {
    client = buildGoClient();
    work = mkdtempSync(join(tmpdir(), 'httpsd-h3-workers-'));
    writeFileSync(join(work, 'app.mjs'), APP);
    big = patternBytes(BIG_SIZE, 7);
    writeFileSync(join(work, 'big.bin'), big);
    const certificate = makeCertificate();
    cli = await startCli([join(work, 'app.mjs'), '--cert', certificate.certFile, '--key', certificate.keyFile, '--host', '127.0.0.1', '--port', '0', '--workers', '2'], { timeoutMs: 60_000 });
  }, { timeout: 900_000 });
  after(async () => {
    await cli?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** One quic-go connection: /pid, /big, /pid. Returns the worker's pid (both /pid answers must agree). */
  async function pidOfOneConnection(): Promise<number> {
    const origin = `https://127.0.0.1:${cli.port}`;
    const result = await run(client, ['-insecure', `${origin}/pid`, `${origin}/big`, `${origin}/pid`], { timeoutMs: RUN_TIMEOUT });
    assert.equal(result.code, 0, `${result.stderr}\n${cli.stderr()}`);
    const lines = result.stdout.toString().trim().split('\n');
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.equal(lines[1], `status 200 HTTP/3.0 ${BIG_SIZE} ${sha256(big)}`);
    assert.equal(lines[0], lines[2], 'one connection, one worker');
    // The client prints the body's hash: find the worker whose pid hashes to it.
    const pid = workerPids().find((candidate) => lines[0]!.endsWith(` ${sha256(Buffer.from(String(candidate)))}`));
    assert.ok(pid !== undefined, `no worker's pid matches ${lines[0]} (workers: ${workerPids().join(', ')})`);
    return pid;
  }

  /** The supervisor's children: the workers. */
  function workerPids(): number[] {
    const pid = cli.child.pid!;
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  }

  test('the banner says HTTP/3 is on', () => {
    assert.match(cli.stderr(), /with 2 workers/);
    assert.match(cli.stderr(), new RegExp(`HTTP/3 on \\(QUIC, UDP port ${cli.port};`));
  });

  test('20 clients: each connection stays on one worker, bodies byte-identical, both workers serve', async () => {
    const served = new Set<number>();
    // Five at a time: new connections are spread by a hash of the client's port, so 20 of them reach both workers
    // unless all 20 hashes agree (a 2^-19 chance).
    for (let batch = 0; batch < 4; batch++) for (const pid of await Promise.all(Array.from({ length: 5 }, pidOfOneConnection))) served.add(pid);
    assert.equal(served.size, 2, `the workers that answered: ${[...served].join(', ')}`);
  });

  test('gtlsclient: connections survive NAT rebinding (routed by connection ID, not by address)', async () => {
    assert.ok(existsSync(GTLSCLIENT), `ngtcp2's gtlsclient is not installed (${GTLSCLIENT}); install it with: apt-get install -y ngtcp2-client`);
    // Three clients: the new port would hash to the other worker for about half of them.
    await Promise.all([0, 1, 2].map(() => rebindingDownload()));
  });

  async function rebindingDownload(): Promise<void> {
    const download = mkdtempSync(join(work, 'dl-'));
    const result = await run(
      GTLSCLIENT,
      ['--exit-on-all-streams-close', '--sni=localhost', '--timeout=30s', '-q', '--change-local-addr=100ms', '--nat-rebinding', '--delay-stream=300ms', `--download=${download}`, '127.0.0.1', String(cli.port), `https://localhost:${cli.port}/big`],
      { timeoutMs: RUN_TIMEOUT },
    );
    assert.equal(result.code, 0, result.stderr.slice(-3000));
    assert.ok(readFileSync(join(download, 'big')).equals(big), 'the 2 MiB body differs');
  }

  test('a killed worker: new connections go to the other one, then to its replacement too', async () => {
    const [victim] = workerPids();
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => new RegExp(`worker ${victim} exited \\(SIGKILL\\); restarting`).test(cli.stderr()), 'the restart notice', 20_000);
    for (let i = 0; i < 3; i++) assert.notEqual(await pidOfOneConnection(), victim);
    const readyLine = new RegExp(`worker (\\d+) ready \\(replaces ${victim}\\)`);
    await waitFor(() => readyLine.test(cli.stderr()), 'the replacement worker', 30_000);
    const replacement = Number(readyLine.exec(cli.stderr())![1]);
    const served = new Set<number>();
    for (let batch = 0; batch < 4; batch++) for (const pid of await Promise.all(Array.from({ length: 5 }, pidOfOneConnection))) served.add(pid);
    assert.ok(served.has(replacement), `the replacement ${replacement} took no connection: ${[...served].join(', ')}`);
  });
});
