/**
 * CGI (RFC 3875) through the static handler, called directly with real scripts run as real processes.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '../../src/static/index.js';
import type { StaticOptions } from '../../src/static/index.js';
import { parseCgiHeaderLines } from '../../src/static/cgi.js';
import type { ServeInfo } from '../../src/server/types.js';
import { addCgiScripts, createFixture, serveInfo } from './fixture.js';
import { waitFor } from '../support/server.js';
import type { Fixture } from './fixture.js';

let fixture: Fixture;
before(() => {
  fixture = createFixture();
  addCgiScripts(fixture);
});
after(() => fixture.cleanup());

const HAPPY_PATH_TIMEOUT_MS = 30_000;
/**
 * For scripts that hang: long enough for /bin/sh to have started them (and written their pid file) on a busy
 * machine, short enough to keep the tests quick.
 */
const HANG_TIMEOUT_MS = 2000;

interface Result {
  status: number;
  headers: Headers;
  text: string;
  body: Buffer;
  logs: string[];
}

async function cgi(
  path: string,
  init: RequestInit = {},
  options: Partial<Exclude<StaticOptions['cgi'], false>> = {},
  info: ServeInfo = serveInfo(),
): Promise<Result> {
  const logs: string[] = [];
  // Scripts expected to finish get a generous timeout (a Python interpreter starts slowly on a busy machine);
  // tests of the timeout use scripts that hang.
  const handler = serveStatic(fixture.root, { cgi: { timeoutMs: HAPPY_PATH_TIMEOUT_MS, ...options }, log: (line) => logs.push(line) });
  const response = await handler(new Request(`https://localhost:8443${path}`, init), info);
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, text: body.toString(), body, logs };
}

function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

/** Alive and not a zombie (an orphaned, killed process may stay unreaped when PID 1 does not reap). */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

describe('CGI', () => {
  test('the example hello.py runs unchanged', async () => {
    const { status, text, headers } = await cgi('/cgi-bin/hello.py');
    assert.equal(status, 200);
    assert.equal(text, 'hello world\n');
    assert.equal(headers.get('content-type'), 'text/plain');
  });

  test('meta-variables (RFC 3875 §4.1)', async () => {
    const { status, text } = await cgi('/cgi-bin/env.sh/extra/path%20info?a=1&b=$(id)', {
      headers: {
        'x-custom': 'custom value',
        authorization: 'Basic c2VjcmV0',
        'proxy-authorization': 'Basic c2VjcmV0',
        proxy: 'http://evil.example:8080',
        'x_underscore': 'spoof',
        cookie: 'a=b',
      },
    });
    assert.equal(status, 200);
    const env = parseEnv(text);
    assert.equal(env.get('GATEWAY_INTERFACE'), 'CGI/1.1');
    assert.equal(env.get('SERVER_SOFTWARE'), 'httpsd');
    assert.equal(env.get('SERVER_NAME'), 'localhost');
    assert.equal(env.get('SERVER_PORT'), '8443');
    assert.equal(env.get('SERVER_PROTOCOL'), 'HTTP/2.0');
    assert.equal(env.get('REQUEST_METHOD'), 'GET');
    assert.equal(env.get('QUERY_STRING'), 'a=1&b=$(id)');
    assert.equal(env.get('SCRIPT_NAME'), '/cgi-bin/env.sh');
    assert.equal(env.get('PATH_INFO'), '/extra/path info');
    assert.equal(env.get('PATH_TRANSLATED'), join(fixture.root, 'extra/path info'));
    assert.equal(env.get('REMOTE_ADDR'), '127.0.0.1');
    assert.equal(env.get('REMOTE_PORT'), '54321');
    assert.equal(env.get('HTTPS'), 'on');
    assert.equal(env.get('HTTP_X_CUSTOM'), 'custom value');
    assert.equal(env.get('HTTP_COOKIE'), 'a=b');
    assert.equal(env.get('HTTP_HOST'), 'localhost:8443');
    assert.equal(env.has('HTTP_AUTHORIZATION'), false);
    assert.equal(env.has('HTTP_PROXY_AUTHORIZATION'), false);
    assert.equal(env.has('HTTP_PROXY'), false, 'httpoxy');
    assert.equal(env.has('HTTP_X_UNDERSCORE'), false);
    assert.equal(env.has('CONTENT_LENGTH'), false);
    assert.equal(env.has('HOME'), false, 'the server environment is not inherited');
  });

  test('HTTP/1.1 over cleartext: protocol and no HTTPS', async () => {
    const { text } = await cgi('/cgi-bin/env.sh', {}, {}, serveInfo({ protocol: 'http/1.1', scheme: 'http' }));
    const env = parseEnv(text);
    assert.equal(env.get('SERVER_PROTOCOL'), 'HTTP/1.1');
    assert.equal(env.has('HTTPS'), false);
  });

  test('request body on stdin with CONTENT_LENGTH, declared or buffered', async () => {
    const payload = Buffer.alloc(300_000, 'x');
    const declared = await cgi('/cgi-bin/echo.sh', {
      method: 'POST',
      body: payload,
      headers: { 'content-type': 'application/x-test', 'content-length': String(payload.length) },
    });
    assert.equal(declared.status, 200);
    assert.equal(declared.headers.get('x-length'), String(payload.length));
    assert.deepEqual(declared.body, payload);
    const streamed = await cgi('/cgi-bin/echo.sh', {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('chunk-1 '));
          controller.enqueue(new TextEncoder().encode('chunk-2'));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.headers.get('x-length'), '15');
    assert.equal(streamed.text, 'chunk-1 chunk-2');
    const env = parseEnv((await cgi('/cgi-bin/env.sh', { method: 'POST', body: 'abc', headers: { 'content-type': 'text/plain' } })).text);
    assert.equal(env.get('CONTENT_LENGTH'), '3');
    assert.equal(env.get('CONTENT_TYPE'), 'text/plain');
  });

  test('Status, extra headers, CRLF lines; hop-by-hop and Content-Length from the script dropped', async () => {
    const { status, headers, text } = await cgi('/cgi-bin/status.sh');
    assert.equal(status, 418);
    assert.equal(headers.get('x-script'), 'yes');
    assert.equal(headers.get('connection'), null);
    assert.equal(headers.get('content-length'), null);
    assert.equal(text, 'short and stout');
  });

  test('local redirect is re-dispatched internally; client redirect is 302', async () => {
    const local = await cgi('/cgi-bin/local.sh');
    assert.equal(local.status, 200);
    assert.equal(local.text, 'hello\n');
    const loop = await cgi('/cgi-bin/loop.sh');
    assert.equal(loop.status, 502);
    assert.ok(loop.logs.some((line) => line.includes('local redirects')));
    const client = await cgi('/cgi-bin/client.sh');
    assert.equal(client.status, 302);
    assert.equal(client.headers.get('location'), 'https://example.com/elsewhere');
  });

  test('a hung script is killed with its process group: 504, logged', async () => {
    const pidFile = join(fixture.base, 'hang.pid');
    rmSync(pidFile, { force: true });
    const { status, logs } = await cgi('/cgi-bin/hang.sh', {}, { timeoutMs: HANG_TIMEOUT_MS });
    assert.equal(status, 504);
    assert.deepEqual(logs, [`cgi: /cgi-bin/hang.sh killed after ${HANG_TIMEOUT_MS} ms`]);
    assert.ok(existsSync(pidFile), 'the script started its child before the timeout');
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => !processAlive(grandchild), 'the sleep started by the script to be killed too');
  });

  test('a script that hangs mid-body is killed and the body errors', async () => {
    const logs: string[] = [];
    const handler = serveStatic(fixture.root, { cgi: { timeoutMs: HANG_TIMEOUT_MS }, log: (line) => logs.push(line) });
    const response = await handler(new Request('https://localhost/cgi-bin/slowbody.sh'), serveInfo());
    assert.equal(response.status, 200);
    await assert.rejects(response.arrayBuffer(), /timed out/);
    assert.deepEqual(logs, [`cgi: /cgi-bin/slowbody.sh killed after ${HANG_TIMEOUT_MS} ms`]);
    const grandchild = Number(readFileSync(join(fixture.base, 'slowbody.pid'), 'utf8'));
    await waitFor(() => !processAlive(grandchild), 'the child of the script to be killed too');
  });

  test('garbage, death before headers, missing interpreter, oversized headers → 502 with a log line', async () => {
    for (const [script, reason] of [
      ['garbage.sh', /malformed header line/],
      ['die.sh', /ended before the end of its header section \(exit code 3\)/],
      ['noheaders.sh', /no Content-Type, Location or Status/],
      ['huge-header.sh', /header section larger than/],
      ['badinterp.sh', /could not start|ended before/],
    ] as const) {
      const { status, logs, text } = await cgi(`/cgi-bin/${script}`);
      assert.equal(status, 502, script);
      assert.equal(text, 'Bad Gateway\n');
      assert.ok(logs.some((line) => reason.test(line)), `${script}: ${logs.join(' | ')}`);
    }
    const died = await cgi('/cgi-bin/die.sh');
    assert.ok(died.logs.some((line) => line.endsWith('die.sh: oops')), 'stderr is logged');
  });

  test('only executable regular files inside the CGI directory', async () => {
    const notExec = await cgi('/cgi-bin/notexec.sh');
    assert.equal(notExec.status, 403);
    assert.ok(notExec.logs.some((line) => line.includes('not executable')));
    for (const path of [
      '/cgi-bin/',
      '/cgi-bin',
      '/cgi-bin/missing.sh',
      '/cgi-bin/.hidden.sh',
      '/cgi-bin/link-out-sh',
      '/cgi-bin/..%2fhello.txt',
      '/cgi-bin/..%5c..%5cbin%5csh',
      '/cgi-bin/%2e%2e/%2e%2e/bin/sh',
      '/cgi-bin/tools',
      '/cgi-bin/hello.py%00.txt',
    ]) {
      const { status } = await cgi(path);
      assert.equal(status, 404, path);
    }
    const nested = await cgi('/cgi-bin/tools/pi.sh/a/b/');
    assert.equal(nested.text, '/cgi-bin/tools/pi.sh|/a/b/');
  });

  test('script sources are not served statically while CGI is on; prefix is configurable', async () => {
    const moved = await cgi('/cgi-bin/hello.py', {}, { prefix: '/run/' });
    assert.equal(moved.status, 404);
    const run = await cgi('/run/hello.py', {}, { prefix: '/run/' });
    assert.equal(run.text, 'hello world\n');
    const handler = serveStatic(fixture.root);
    const plain = await handler(new Request('https://localhost/cgi-bin/hello.py'), serveInfo());
    assert.match(await plain.text(), /print\("hello world"\)/, 'without CGI it is just a file');
  });

  test('any method reaches the script; HEAD gets no body', async () => {
    const put = parseEnv((await cgi('/cgi-bin/env.sh', { method: 'DELETE' })).text);
    assert.equal(put.get('REQUEST_METHOD'), 'DELETE');
    const head = await cgi('/cgi-bin/hello.py', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers.get('content-type'), 'text/plain');
  });

  test('concurrent scripts are bounded (503), and slots are released after failures', async () => {
    const logs: string[] = [];
    const handler = serveStatic(fixture.root, { cgi: { timeoutMs: HAPPY_PATH_TIMEOUT_MS, maxConcurrent: 1 }, log: (line) => logs.push(line) });
    const call = async (path: string, signal?: AbortSignal) => {
      const response = await handler(new Request(`https://localhost${path}`, { signal }), serveInfo());
      await response.arrayBuffer();
      return response.status;
    };
    for (let i = 0; i < 3; i++) assert.equal(await call('/cgi-bin/badinterp.sh'), 502);
    // The hanging script holds the only slot until its client goes away (which kills it), not until a timer.
    const pidFile = join(fixture.base, 'hang.pid');
    rmSync(pidFile, { force: true });
    const client = new AbortController();
    const hanging = call('/cgi-bin/hang.sh', client.signal);
    await waitFor(() => existsSync(pidFile), 'the hanging script to start');
    assert.equal(await call('/cgi-bin/env.sh'), 503);
    assert.ok(logs.some((line) => line.includes('1 scripts already running')));
    client.abort();
    assert.equal(await hanging, 502, 'a script killed because its client left ends without a response');
    assert.equal(await call('/cgi-bin/env.sh'), 200);
    assert.equal(await call('/cgi-bin/env.sh'), 200);
  });

  test('a finished script whose output is read after the timeout is not cut off', async () => {
    const timeoutMs = 3000;
    const handler = serveStatic(fixture.root, { cgi: { timeoutMs }, log: () => {} });
    const started = Date.now();
    const response = await handler(new Request('https://localhost/cgi-bin/status.sh'), serveInfo());
    assert.equal(response.status, 418);
    // Read only once the timer has fired: the script has long exited, and what it wrote is still delivered.
    await new Promise((resolve) => setTimeout(resolve, timeoutMs + 500 - (Date.now() - started)));
    assert.equal(await response.text(), 'short and stout');
  });

  test('large output streams through', async () => {
    const { status, body } = await cgi('/cgi-bin/big.sh');
    assert.equal(status, 200);
    assert.equal(body.length, 3_000_000);
  });

  test('no shell: metacharacters in the path and query are inert', async () => {
    const marker = join(fixture.base, 'pwned');
    const { status } = await cgi(`/cgi-bin/env.sh;touch%20${encodeURIComponent(marker)}?$(touch%20${marker})`);
    assert.equal(status, 404);
    await cgi(`/cgi-bin/env.sh?;touch%20${marker};\`touch%20${marker}\``);
    assert.equal(existsSync(marker), false);
  });

  test('header section parser', () => {
    assert.deepEqual(parseCgiHeaderLines(['Content-Type: text/html', 'X-A: 1']), {
      status: undefined,
      statusText: undefined,
      location: undefined,
      contentType: 'text/html',
      headers: [['x-a', '1']],
    });
    assert.equal((parseCgiHeaderLines(['Status: 404 Not Found']) as { status: number }).status, 404);
    assert.equal(typeof parseCgiHeaderLines(['Status: 99']), 'string');
    assert.equal(typeof parseCgiHeaderLines(['Status: 100 Continue']), 'string');
    assert.equal(typeof parseCgiHeaderLines(['Bad Name: x']), 'string');
    assert.equal(typeof parseCgiHeaderLines([' folded: x']), 'string');
    assert.equal(typeof parseCgiHeaderLines(['X: a\u0000b']), 'string');
    assert.equal(typeof parseCgiHeaderLines(['X-Only: 1']), 'string');
  });
});
