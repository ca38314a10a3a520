import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAccessLog } from '../../src/server/core/access-log.js';
import { connectH2, h1Request, h2Request, sleep, startServer, waitFor } from '../support/server.js';

test('close() waits for info.waitUntil() work and logs its failures', async () => {
  let finished = false;
  const server = await startServer((_request, info) => {
    info.waitUntil(sleep(200).then(() => (finished = true)));
    info.waitUntil(Promise.reject(new Error('background failure')));
    return new Response('answered first');
  });
  const result = await h1Request(server.origin);
  assert.equal(result.body.toString(), 'answered first');
  assert.equal(finished, false);
  await server.server.close(5000);
  assert.equal(finished, true);
  assert.ok(server.errors.some((entry) => entry.context === 'waitUntil' && String(entry.error).includes('background failure')));
});

test('access log: one line per request in the chosen format, with protocol, status and bytes', async () => {
  const lines: string[] = [];
  const server = await startServer(() => new Response('12345'), { accessLog: (line) => lines.push(line), accessLogFormat: 'json' });
  try {
    const session = connectH2(server.origin);
    await h2Request(session, { ':path': '/a?b=1', 'user-agent': 'test-agent', referer: 'https://ref.test/' });
    session.close();
    await h1Request(server.origin, { path: '/h1' });
    await waitFor(() => lines.length === 2, 'two log lines');
    const [h2, h1] = lines.map((line) => JSON.parse(line));
    assert.equal(h2.method, 'GET');
    assert.equal(h2.path, '/a?b=1');
    assert.equal(h2.protocol, 'h2');
    assert.equal(h2.status, 200);
    assert.equal(h2.bytes, 5);
    assert.equal(h2.userAgent, 'test-agent');
    assert.equal(h2.referer, 'https://ref.test/');
    assert.equal(h1.protocol, 'http/1.1');
    assert.equal(h1.path, '/h1');
  } finally {
    await server.close();
  }
  const entry = {
    remoteAddress: '::1',
    method: 'GET',
    path: '/x"y',
    protocol: 'h2' as const,
    status: 404,
    bytes: 9,
    referer: '',
    userAgent: 'curl/8',
    durationMs: 1.25,
  };
  assert.match(formatAccessLog('combined', entry), /^::1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/x\\x22y HTTP\/2\.0" 404 9 "-" "curl\/8"$/);
  assert.match(formatAccessLog('common', entry), /"GET \/x\\x22y HTTP\/2\.0" 404 9$/);
  assert.equal(formatAccessLog('short', entry), '::1 "GET /x\\x22y HTTP/2.0" 404 9 1.3ms');
});

test('metricsPath serves the counters in Prometheus text format', async () => {
  const server = await startServer(() => new Response('app'), { metricsPath: '/metrics' });
  try {
    await h1Request(server.origin, { path: '/' });
    const metrics = await h1Request(server.origin, { path: '/metrics' });
    assert.equal(metrics.status, 200);
    assert.match(String(metrics.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = metrics.body.toString();
    assert.match(text, /^# TYPE httpsd_requests_total counter$/m);
    assert.match(text, /^httpsd_requests_total 2$/m);
    assert.match(text, /^httpsd_in_flight_requests 1$/m); // the metrics request itself
    assert.match(text, /^httpsd_connections \d+$/m);
    const app = await h1Request(server.origin, { path: '/metricsx' });
    assert.equal(app.body.toString(), 'app');
  } finally {
    await server.close();
  }
});
