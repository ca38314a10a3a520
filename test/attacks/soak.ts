/**
 * Soak: mixed HTTP/1.1 + HTTP/2 load against a live httpsd (child process) with random client aborts mid-request and
 * mid-response, uploads cancelled halfway, handlers that throw, reject, hang (bounded by the server child's hangMs)
 * or fail mid-body, and whole connections dropped with streams open. Afterwards the server's counters
 * (connections, open streams, in-flight requests, pending output) must return to zero and RSS near its baseline.
 *
 *   npm run soak                         # 3 minutes
 *   npm run soak -- --duration 30        # seconds
 *
 * test/attacks/soak.test.ts runs the same code for 30 s in CI.
 */
import * as http2 from 'node:http2';
import * as https from 'node:https';
import { pathToFileURL } from 'node:url';
import { MB, ServerProcess, sleep, type Sample } from './lib/harness.js';

export interface SoakOptions {
  durationMs: number;
  /** Progress lines (every ~10 s); default: none. */
  log?: (line: string) => void;
  h2Sessions?: number;
  streamsPerSession?: number;
  h1Clients?: number;
}

export interface SoakSummary {
  durationMs: number;
  requests: number;
  /** Outcomes by kind: expected ones (ok, status-500, client-abort, server-reset...) and "unexpected:<detail>". */
  outcomes: Record<string, number>;
  unexpected: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  statsAfter: Sample['stats'];
  countersAfter: Record<string, number>;
  handlerErrors: number;
}

type Action =
  | 'get'
  | 'big-abort'
  | 'upload-full'
  | 'upload-cancel'
  | 'throw'
  | 'reject'
  | 'hang-abort'
  | 'hang-wait'
  | 'broken-body'
  | 'slow-abort';

const ACTIONS: [Action, number][] = [
  ['get', 30],
  ['big-abort', 8],
  ['upload-full', 8],
  ['upload-cancel', 8],
  ['throw', 8],
  ['reject', 5],
  ['hang-abort', 6],
  ['hang-wait', 1],
  ['broken-body', 5],
  ['slow-abort', 6],
];
const TOTAL_WEIGHT = ACTIONS.reduce((sum, [, weight]) => sum + weight, 0);

function pick(): Action {
  let roll = Math.random() * TOTAL_WEIGHT;
  for (const [action, weight] of ACTIONS) {
    roll -= weight;
    if (roll < 0) return action;
  }
  return 'get';
}

const UPLOAD = Buffer.alloc(128 * 1024, 0x62);

interface Exchange {
  status: number;
  /** The first bytes of the body (enough to classify it). */
  body: string;
  /** Body bytes received so far. */
  received: number;
}

/** Each request resolves with an outcome label; it never rejects. */
type Outcome = string;

const ACTION_PATHS: Record<Action, string> = {
  get: '/',
  'big-abort': '/big?size=4194304',
  'upload-full': '/echo',
  'upload-cancel': '/echo',
  throw: '/throw',
  reject: '/reject',
  'hang-abort': '/hang',
  'hang-wait': '/hang',
  'broken-body': '/broken-body',
  'slow-abort': '/slow?ms=300',
};

/**
 * The settle-once `done` of one exchange, with a guard: no exchange may hang the soak. 10 s is far above any handler
 * here (hangMs is 2 s); on expiry `cancel` tears the exchange down and it settles as a client timeout.
 */
function settleOnce(resolve: (outcome: Outcome) => void, cancel: () => void): (outcome: Outcome) => void {
  let settled = false;
  const done = (outcome: Outcome) => {
    if (!settled) {
      settled = true;
      clearTimeout(guard);
      resolve(outcome);
    }
  };
  const guard = setTimeout(() => {
    cancel();
    done('unexpected:client-timeout');
  }, 10_000);
  return done;
}

/** Records a response body chunk; true when a big-abort exchange has read enough to abort mid-response. */
function recordChunk(action: Action, exchange: Exchange, chunk: Buffer): boolean {
  exchange.received += chunk.length;
  if (exchange.body.length < 64) exchange.body += chunk.toString('latin1');
  return action === 'big-abort' && exchange.received > 256 * 1024;
}

function h2Exchange(session: http2.ClientHttp2Session, action: Action): Promise<Outcome> {
  return new Promise((resolve) => {
    const done = settleOnce(resolve, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    const upload = action === 'upload-full' || action === 'upload-cancel';
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({ ':path': ACTION_PATHS[action], ':method': upload ? 'POST' : 'GET' }, { endStream: !upload });
    } catch {
      done('session-gone');
      return;
    }
    const exchange: Exchange = { status: 0, body: '', received: 0 };
    stream.on('response', (headers) => (exchange.status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => {
      if (recordChunk(action, exchange, chunk)) {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        done('client-abort-mid-response');
      }
    });
    stream.on('end', () => done(classify(action, exchange)));
    stream.on('error', () => done(action === 'broken-body' ? 'server-reset' : 'unexpected:stream-error'));
    stream.on('close', () => {
      if (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
        done(action === 'broken-body' ? 'server-reset' : `unexpected:rst-${stream.rstCode}`);
      } else done(classify(action, exchange));
    });
    if (action === 'upload-full') stream.end(UPLOAD);
    else if (action === 'upload-cancel') {
      stream.write(UPLOAD.subarray(0, UPLOAD.length / 2));
      setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        done('client-abort-mid-upload');
      }, 5 + Math.random() * 30);
    } else if (action === 'hang-abort' || action === 'slow-abort') {
      setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        done('client-abort-mid-request');
      }, Math.random() * 150);
    }
  });
}

function h1Exchange(agent: https.Agent, port: number, action: Action): Promise<Outcome> {
  return new Promise((resolve) => {
    const done = settleOnce(resolve, () => request.destroy());
    const upload = action === 'upload-full' || action === 'upload-cancel';
    const request = https.request(
      {
        host: '127.0.0.1',
        port,
        path: ACTION_PATHS[action],
        method: upload ? 'POST' : 'GET',
        agent,
        headers: upload ? { 'content-length': String(UPLOAD.length) } : {},
      },
      (response) => {
        const exchange: Exchange = { status: response.statusCode ?? 0, body: '', received: 0 };
        response.on('data', (chunk: Buffer) => {
          if (recordChunk(action, exchange, chunk)) {
            request.destroy();
            done('client-abort-mid-response');
          }
        });
        response.on('end', () => done(classify(action, exchange)));
        response.on('error', () => done(action === 'broken-body' ? 'server-reset' : 'unexpected:response-error'));
        response.on('aborted', () => done(action === 'broken-body' ? 'server-reset' : 'unexpected:response-aborted'));
      },
    );
    request.on('error', () => done(action === 'broken-body' ? 'server-reset' : 'unexpected:request-error'));
    if (action === 'upload-full') request.end(UPLOAD);
    else if (action === 'upload-cancel') {
      request.write(UPLOAD.subarray(0, UPLOAD.length / 2));
      setTimeout(() => {
        request.destroy();
        done('client-abort-mid-upload');
      }, 5 + Math.random() * 30);
    } else {
      request.end();
      if (action === 'hang-abort' || action === 'slow-abort') {
        setTimeout(() => {
          request.destroy();
          done('client-abort-mid-request');
        }, Math.random() * 150);
      }
    }
  });
}

function classify(action: Action, exchange: Exchange): Outcome {
  switch (action) {
    case 'get':
      return exchange.status === 200 && exchange.body === 'ok' ? 'ok' : `unexpected:get-${exchange.status}`;
    case 'upload-full':
      return exchange.status === 200 && exchange.body === String(UPLOAD.length) ? 'upload-ok' : `unexpected:upload-${exchange.status}`;
    case 'throw':
    case 'reject':
      // A handler failure is a 500 without the stack.
      return exchange.status === 500 && !exchange.body.includes('at ') ? 'handler-error-500' : `unexpected:${action}-${exchange.status}`;
    case 'hang-wait':
      return exchange.status === 200 ? 'hang-completed' : `unexpected:hang-${exchange.status}`;
    case 'broken-body':
      // The head went out before the body failed: the client sees a cut response, never a complete one.
      return 'unexpected:broken-body-completed';
    default:
      return exchange.status === 0 ? 'client-abort' : `completed-before-abort`;
  }
}

export async function runSoak(options: SoakOptions): Promise<SoakSummary> {
  const log = options.log ?? (() => {});
  const server = await ServerProcess.start({
    limits: { writeProgressTimeout: 3000, headersTimeout: 5000 },
    hangMs: 2000,
  });
  try {
    const before = await server.sampleAfterGc();
    let peak = before.rss;
    const outcomes: Record<string, number> = {};
    let requests = 0;
    const record = (outcome: Outcome) => {
      requests++;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    };
    const started = Date.now();
    const deadline = started + options.durationMs;
    const running = () => Date.now() < deadline;

    const h2Worker = async () => {
      while (running()) {
        const session = http2.connect(`https://127.0.0.1:${server.port}`, { rejectUnauthorized: false });
        session.on('error', () => {});
        // Each session lives for a random number of requests, then is closed politely or dropped abruptly.
        const lifetime = 20 + Math.floor(Math.random() * 200);
        let used = 0;
        await Promise.all(
          Array.from({ length: options.streamsPerSession ?? 4 }, async () => {
            while (running() && used < lifetime && !session.destroyed) {
              used++;
              record(await h2Exchange(session, pick()));
            }
          }),
        );
        if (Math.random() < 0.3) {
          // Drop the connection with requests still open.
          for (let i = 0; i < 3; i++) h2Exchange(session, 'hang-abort').then(() => {}, () => {});
          await sleep(20);
          session.destroy();
          record('connection-dropped');
        } else session.close();
      }
    };
    const h1Worker = async () => {
      while (running()) {
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
        const lifetime = 20 + Math.floor(Math.random() * 100);
        for (let i = 0; i < lifetime && running(); i++) record(await h1Exchange(agent, server.port, pick()));
        agent.destroy();
      }
    };
    const sampler = (async () => {
      let nextLog = started + 10_000;
      while (running()) {
        const sample = await server.sample().catch(() => undefined);
        if (sample) peak = Math.max(peak, sample.rss);
        if (Date.now() >= nextLog) {
          nextLog += 10_000;
          log(
            `soak ${Math.round((Date.now() - started) / 1000)} s: ${requests} requests, RSS ${(peak / MB).toFixed(0)} MB peak, ` +
              `${sample ? JSON.stringify(sample.stats) : 'no sample'}`,
          );
        }
        await sleep(200);
      }
    })();
    await Promise.all([
      ...Array.from({ length: options.h2Sessions ?? 3 }, h2Worker),
      ...Array.from({ length: options.h1Clients ?? 3 }, h1Worker),
      sampler,
    ]);
    const after = await server.waitIdle(15_000);
    peak = Math.max(peak, after.rss);
    const unexpected = Object.entries(outcomes)
      .filter(([kind]) => kind.startsWith('unexpected:'))
      .reduce((sum, [, n]) => sum + n, 0);
    return {
      durationMs: Date.now() - started,
      requests,
      outcomes,
      unexpected,
      rssBeforeMb: Math.round(before.rss / MB),
      rssPeakMb: Math.round(peak / MB),
      rssAfterMb: Math.round(after.rss / MB),
      statsAfter: after.stats,
      countersAfter: after.counters,
      handlerErrors: after.counters.handlerErrors ?? 0,
    };
  } finally {
    await server.stop();
  }
}

export function formatSummary(summary: SoakSummary): string {
  const kinds = Object.entries(summary.outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `  ${kind.padEnd(28)} ${n}`)
    .join('\n');
  return [
    `soak: ${summary.requests} requests in ${(summary.durationMs / 1000).toFixed(0)} s (${summary.unexpected} unexpected)`,
    kinds,
    `server RSS: before ${summary.rssBeforeMb} MB, peak ${summary.rssPeakMb} MB, after ${summary.rssAfterMb} MB`,
    `server counters after: ${JSON.stringify(summary.statsAfter)}`,
    `handler errors logged: ${summary.handlerErrors}`,
  ].join('\n');
}

/** Checks a summary; returns the list of failures (empty when the soak passed). */
export function checkSummary(summary: SoakSummary, maxRssAboveBaselineMb = 60): string[] {
  const failures: string[] = [];
  if (summary.unexpected > 0) failures.push(`${summary.unexpected} unexpected outcomes`);
  const s = summary.statsAfter;
  if (s.connections || s.openStreams || s.inFlightRequests || s.pendingOutputBytes) failures.push(`counters not back to zero: ${JSON.stringify(s)}`);
  if (summary.rssAfterMb - summary.rssBeforeMb > maxRssAboveBaselineMb) {
    failures.push(`RSS after (${summary.rssAfterMb} MB) is more than ${maxRssAboveBaselineMb} MB above the baseline (${summary.rssBeforeMb} MB)`);
  }
  if ((summary.outcomes.ok ?? 0) === 0) failures.push('no successful request at all');
  return failures;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let seconds = 180;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--duration' || arg.startsWith('--duration=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
      seconds = Number(value);
      if (!Number.isFinite(seconds) || seconds <= 0) {
        process.stderr.write(`soak: --duration needs a positive number of seconds (got ${String(value)})\n`);
        process.exit(2);
      }
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: npm run soak -- [--duration SECONDS]   (default 180)\n');
      return;
    } else {
      process.stderr.write(`soak: unknown argument ${arg} (try --duration SECONDS)\n`);
      process.exit(2);
    }
  }
  process.stdout.write(`soak: running for ${seconds} s against a server child process...\n`);
  const summary = await runSoak({ durationMs: seconds * 1000, log: (line) => process.stdout.write(line + '\n') });
  process.stdout.write(formatSummary(summary) + '\n');
  const failures = checkSummary(summary);
  if (failures.length > 0) {
    process.stdout.write(`FAILED:\n  ${failures.join('\n  ')}\n`);
    process.exitCode = 1;
  } else process.stdout.write('soak: passed\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
