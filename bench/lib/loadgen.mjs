// Load generators: h2load (nghttp2-client) for h2, h2c and h1, wrk for h1. Both run pinned to the client CPU with
// one thread, and their text output is parsed into { requests, succeeded, failed, seconds, rps }.
import { pinned, runToEnd, pinning } from './proc.mjs';

function number(text) {
  return text === undefined ? NaN : Number(text);
}

/**
 * Parses h2load's summary ("finished in 2.00s, 5000.00 req/s, ..." and "requests: N total, ... N succeeded, ...").
 * h2load counts 2xx and 3xx as succeeded and everything else (4xx, 5xx, stream errors, timeouts) as failed, errored
 * and timeout being parts of failed; here only 2xx succeed, so 3xx move from succeeded to failed.
 */
export function parseH2load(output) {
  const finished = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(output);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(output);
  const protocol = /Application protocol: (\S+)/.exec(output)?.[1];
  const status = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  if (!finished || !requests) return undefined;
  const seconds = number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1);
  const redirects = status ? number(status[2]) : 0;
  const succeeded = number(requests[4]) - redirects;
  return {
    protocol,
    requests: number(requests[3]),
    succeeded,
    failed: number(requests[5]) + redirects,
    seconds,
    rps: seconds > 0 ? succeeded / seconds : 0,
  };
}

/**
 * One h2load run. h1: HTTP/1.1 over TLS; cleartext http:// URLs speak h2c with prior knowledge.
 * duration (s) runs a timed test (-D); otherwise `requests` (-n) are sent.
 * h2load silently falls back to HTTP/1.1 when ALPN does not select h2, so the negotiated protocol is checked.
 */
export async function h2load({ url, clients, streams = 1, duration, requests, h1 = false, dataFile, headers = [], timeoutMs }) {
  const expected = h1 ? 'http/1.1' : url.startsWith('http://') ? 'h2c' : 'h2';
  const args = ['-t', '1', '-c', String(clients), '-m', String(streams)];
  // Whole milliseconds: h2load takes "500ms" but not fractional seconds.
  if (duration !== undefined) args.push('-D', `${Math.max(1, Math.round(duration * 1000))}ms`);
  else args.push('-n', String(requests ?? clients));
  if (h1) args.push('--h1');
  if (dataFile) args.push('-d', dataFile);
  for (const header of headers) args.push('-H', header);
  args.push(url);
  const { command, args: fullArgs } = pinned(pinning.clientCpu, 'h2load', args);
  const limit = timeoutMs ?? ((duration ?? 30) * 1000 + 30_000);
  const run = await runToEnd(command, fullArgs, { timeoutMs: limit });
  const parsed = parseH2load(run.stdout);
  if (!parsed) {
    return { error: `h2load produced no summary (exit ${run.code}): ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ')}` };
  }
  if (parsed.protocol && parsed.protocol !== expected) {
    return { error: `negotiated ${parsed.protocol} instead of ${expected}` };
  }
  if (!parsed.protocol && parsed.succeeded > 0) return { error: 'h2load reported no application protocol' };
  return parsed;
}

/** Parses wrk's "N requests in 2.00s" and "Non-2xx or 3xx responses: N" / "Socket errors: ..." lines. */
export function parseWrk(output) {
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)/.exec(output);
  if (!total) return undefined;
  const unit = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[total[3]];
  const seconds = Number(total[2]) * unit;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, value) => sum + Number(value), 0) : 0;
  const requests = Number(total[1]);
  return {
    requests,
    succeeded: requests - non2xx,
    failed: non2xx + socketErrors,
    seconds,
    rps: seconds > 0 ? (requests - non2xx) / seconds : 0,
  };
}

/**
 * One wrk run (HTTP/1.1 keep-alive, one thread). script: a Lua file (bench/clients/wrk/*.lua) and scriptArgs its
 * arguments (after `--`), e.g. pipelining or a POST body.
 */
export async function wrk({ url, connections, duration, script, scriptArgs = [] }) {
  const seconds = Math.max(1, Math.round(duration));
  const args = ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--timeout', '5s'];
  if (script) args.push('-s', script);
  args.push(url);
  if (script && scriptArgs.length) args.push('--', ...scriptArgs);
  const { command, args: fullArgs } = pinned(pinning.clientCpu, 'wrk', args);
  const run = await runToEnd(command, fullArgs, { timeoutMs: seconds * 1000 + 30_000 });
  const parsed = parseWrk(run.stdout);
  if (!parsed) {
    return { error: `wrk produced no summary (exit ${run.code}): ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ')}` };
  }
  return parsed;
}
