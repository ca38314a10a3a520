/**
 * The server under attack, in its own process so its memory (RSS) and health are measured apart from the attacking
 * clients. Configured by the ATTACK_SERVER_CONFIG environment variable (JSON); answers the parent over IPC:
 *   { id, cmd: 'stats' | 'gc' | 'reset-peaks' | 'close' }  ->  { id, sample: { stats, rss, heapUsed, counters, peaks } }
 */
import { subscribe } from 'node:diagnostics_channel';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ServeOptions, serve as serveFunction } from '../../../src/index.js';
import type { InputTurnMessage } from '../../../src/server/h2-driver.js';

// ATTACK_SERVER_MODULE lets a developer run the suite against a patched copy of the server (e.g. to check a fix).
const { serve } = (await import(process.env.ATTACK_SERVER_MODULE ?? '../../../src/index.js')) as { serve: typeof serveFunction };

interface ChildConfig {
  certFile: string;
  keyFile: string;
  limits?: ServeOptions['limits'];
  h2Limits?: ServeOptions['h2Limits'];
  metricsPath?: string;
  /** Upper bound of the /hang handler (ms): a hanging handler must never outlive the test. */
  hangMs?: number;
}

const config = JSON.parse(process.env.ATTACK_SERVER_CONFIG ?? '{}') as ChildConfig;

/** What the handlers did, to tell "the server stopped pulling the body" from "the server buffered it". */
const counters = {
  handlerErrors: 0,
  bigBytesProduced: 0,
  bigStarted: 0,
  hangsAborted: 0,
  hangsTimedOut: 0,
  uploadsCompleted: 0,
  uploadsFailed: 0,
};

/**
 * Per-turn peaks since the last 'reset-peaks': the most peer input (bytes) and request events one h2 connection was
 * given in one event-loop turn (published by the driver), and the longest event-loop stall (a wall-clock figure,
 * reported only).
 */
const peaks = { inputBytesPerTurn: 0, requestsPerTurn: 0, loopDelayMaxMs: 0 };
subscribe('httpsd:h2:input-turn', (message) => {
  const turn = message as InputTurnMessage;
  if (turn.bytes > peaks.inputBytesPerTurn) peaks.inputBytesPerTurn = turn.bytes;
  if (turn.requests > peaks.requestsPerTurn) peaks.requestsPerTurn = turn.requests;
});
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();

const CHUNK = new Uint8Array(64 * 1024).fill(0x61);

function bigBody(size: number): ReadableStream<Uint8Array> {
  let sent = 0;
  // pull() is only called when the server wants more: a server that respects backpressure stops pulling.
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (sent >= size) {
          controller.close();
          return;
        }
        const n = Math.min(CHUNK.length, size - sent);
        sent += n;
        counters.bigBytesProduced += n;
        controller.enqueue(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      },
    },
    { highWaterMark: 0 },
  );
}

const server = serve({
  port: 0,
  hostname: '127.0.0.1',
  tls: { cert: config.certFile, key: config.keyFile },
  limits: config.limits,
  h2Limits: config.h2Limits,
  metricsPath: config.metricsPath,
  onError: () => {
    counters.handlerErrors++;
  },
  async fetch(request) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case '/':
        return new Response('ok');
      case '/big': {
        counters.bigStarted++;
        return new Response(bigBody(Number(url.searchParams.get('size') ?? 32 * 1024 * 1024)));
      }
      case '/echo': {
        try {
          const body = await request.arrayBuffer();
          counters.uploadsCompleted++;
          return new Response(String(body.byteLength));
        } catch (error) {
          counters.uploadsFailed++;
          throw error;
        }
      }
      case '/throw':
        throw new Error('handler failure on purpose');
      case '/reject':
        return Promise.reject(new Error('handler rejection on purpose'));
      case '/hang':
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            counters.hangsTimedOut++;
            resolve();
          }, config.hangMs ?? 3000);
          request.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            counters.hangsAborted++;
            resolve();
          });
        });
        return new Response('late');
      case '/slow':
        await new Promise((resolve) => setTimeout(resolve, Number(url.searchParams.get('ms') ?? 200)));
        return new Response('slow');
      case '/broken-body':
        // A body that fails halfway: the server must reset the stream / cut the h1 response, never crash.
        return new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(CHUNK);
              setTimeout(() => controller.error(new Error('body failure on purpose')), 20);
            },
          }),
        );
      default:
        return new Response('not found', { status: 404 });
    }
  },
});

function sample() {
  const memory = process.memoryUsage();
  peaks.loopDelayMaxMs = Math.round(loopDelay.max / 1e5) / 10;
  return { stats: server.stats(), rss: memory.rss, heapUsed: memory.heapUsed, counters: { ...counters }, peaks: { ...peaks } };
}

process.on('message', (message: { id: number; cmd: string }) => {
  const reply = (extra: object = {}) => process.send?.({ id: message.id, sample: sample(), ...extra });
  switch (message.cmd) {
    case 'gc':
      (globalThis as { gc?: () => void }).gc?.();
      reply();
      break;
    case 'reset-peaks':
      peaks.inputBytesPerTurn = 0;
      peaks.requestsPerTurn = 0;
      loopDelay.reset();
      reply();
      break;
    case 'close':
      server.close(2000).then(
        () => {
          reply();
          process.disconnect();
          process.exit(0);
        },
        () => process.exit(1),
      );
      break;
    default:
      reply();
  }
});
// The parent went away (test runner killed): never linger.
process.on('disconnect', () => process.exit(0));

server.ready.then(
  () => process.send?.({ ready: true, port: server.port }),
  (error: unknown) => {
    process.stderr.write(`server failed to start: ${String(error)}\n`);
    process.exit(1);
  },
);
