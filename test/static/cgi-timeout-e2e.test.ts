/**
 * CGI scripts that outlive --cgi-timeout, through a real server process, over HTTP/1.1 (curl) and HTTP/2
 * (node:http2): 504 while the response has not started; once it has, a cut the client can see (an unfinished
 * chunked body on HTTP/1.1, RST_STREAM on HTTP/2); and one log line for the timeout, never a stack trace.
 * The timeouts are triggered by scripts that hang, so a slow machine only makes them fire later.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { constants as http2Constants } from 'node:http2';
import { once } from 'node:events';
import { createFixture, addCgiScripts } from './fixture.js';
import type { Fixture } from './fixture.js';
import { startServerProcess, curlWithExitCode, logLinesAfter, openHttp2 } from './e2e-helpers.js';
import type { ServerProcess } from './e2e-helpers.js';

/** Long enough for /bin/sh to print its first lines on a busy machine before the scripts hang. */
const TIMEOUT_MS = 2000;
/** curl's exit code for "transfer closed with outstanding read data remaining". */
const CURL_PARTIAL_FILE = 18;

let fixture: Fixture;
let server: ServerProcess;

before(async () => {
  fixture = createFixture();
  addCgiScripts(fixture);
  server = await startServerProcess(fixture.root, { cgi: { timeoutMs: TIMEOUT_MS } });
});

after(async () => {
  await server?.stop();
  fixture?.cleanup();
});

/** Checks that the timeout of `script` was logged as exactly one line, and no stack trace. */
async function assertLoggedOnceWithoutStack(script: string, from: number): Promise<void> {
  const expected = `cgi: /cgi-bin/${script} killed after ${TIMEOUT_MS} ms`;
  const logged = await logLinesAfter(server, from, new RegExp(`^${expected}$`));
  assert.deepEqual(logged.filter((line) => line.includes(script)), [expected], logged.join('\n'));
  assert.ok(!logged.some((line) => /^\s+at /.test(line)), `no stack trace: ${logged.join('\n')}`);
}

interface Http2Outcome {
  status: number;
  body: string;
  /** RST_STREAM error code, or undefined when the stream ended normally. */
  resetCode: number | undefined;
}

/** One GET on a fresh session; resolves when the stream closes, whether it ended or was reset. */
async function http2GetUntilClose(path: string): Promise<Http2Outcome> {
  const session = openHttp2(server.base);
  try {
    const stream = session.request({ ':path': path });
    stream.on('error', () => {}); // a reset is read from rstCode below
    const closed = new Promise((resolve) => stream.once('close', resolve));
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    const [headers] = (await once(stream, 'response')) as [Record<string, unknown>];
    await closed;
    const resetCode = stream.rstCode === http2Constants.NGHTTP2_NO_ERROR ? undefined : stream.rstCode;
    return { status: Number(headers[':status']), body: Buffer.concat(chunks).toString(), resetCode };
  } finally {
    session.close();
  }
}

describe('CGI timeout over HTTP/1.1', () => {
  test('headers then silence: 504, logged in one line', async () => {
    const from = server.stderr.length;
    const { exitCode, result } = await curlWithExitCode(server.base, '/cgi-bin/stall.sh', 'h1');
    assert.equal(exitCode, 0);
    assert.equal(result.status, 504);
    assert.equal(result.body.toString(), 'Gateway Timeout\n');
    await assertLoggedOnceWithoutStack('stall.sh', from);
  });

  test('part of the body then silence: a chunked 200 whose body never ends, logged in one line', async () => {
    const from = server.stderr.length;
    const { exitCode, result } = await curlWithExitCode(server.base, '/cgi-bin/slowbody.sh', 'h1');
    assert.equal(result.status, 200);
    assert.equal(result.headers.get('transfer-encoding'), 'chunked');
    assert.equal(result.body.toString(), 'started\n');
    assert.equal(exitCode, CURL_PARTIAL_FILE, 'the client sees an incomplete body, not a complete one');
    await assertLoggedOnceWithoutStack('slowbody.sh', from);
  });
});

describe('CGI timeout over HTTP/2', () => {
  test('headers then silence: 504, logged in one line', async () => {
    const from = server.stderr.length;
    const outcome = await http2GetUntilClose('/cgi-bin/stall.sh');
    assert.deepEqual(outcome, { status: 504, body: 'Gateway Timeout\n', resetCode: undefined });
    await assertLoggedOnceWithoutStack('stall.sh', from);
  });

  test('part of the body then silence: 200 then RST_STREAM, logged in one line', async () => {
    const from = server.stderr.length;
    const outcome = await http2GetUntilClose('/cgi-bin/slowbody.sh');
    assert.deepEqual(outcome, { status: 200, body: 'started\n', resetCode: http2Constants.NGHTTP2_INTERNAL_ERROR });
    await assertLoggedOnceWithoutStack('slowbody.sh', from);
  });
});
