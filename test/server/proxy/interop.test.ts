/**
 * Real peers in front of httpsd: curl sending a PROXY protocol v1 header (--haproxy-protocol), and nginx as a reverse
 * proxy setting X-Forwarded-For / -Proto / -Host.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, startServer, waitFor, sleep, PATIENCE_MS } from '../../support/server.js';
import { echoInfo } from './proxy-client.js';

const hasCommand = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;
const hasCurl = hasCommand('curl', ['--version']);
const hasNginx = hasCommand('nginx', ['-v']);

test('curl --haproxy-protocol (PROXY v1) over TLS (h1, h2) and cleartext (h1, h2c); without it curl is closed', { skip: !hasCurl && 'curl is not installed' }, async () => {
  const logLines: string[] = [];
  const server = await startServer(echoInfo, { proxyProtocol: true, trustProxy: 'loopback', httpPort: 0, http3: false, accessLog: (line) => logLines.push(line), accessLogFormat: 'short' });
  try {
    const modes = [
      { args: ['--http1.1'], url: `https://127.0.0.1:${server.port}/tls`, protocol: 'http/1.1' },
      { args: ['--http2'], url: `https://127.0.0.1:${server.port}/tls`, protocol: 'h2' },
      { args: ['--http1.1'], url: `http://127.0.0.1:${server.httpPort}/clear`, protocol: 'http/1.1' },
      { args: ['--http2-prior-knowledge'], url: `http://127.0.0.1:${server.httpPort}/clear`, protocol: 'h2c' },
    ];
    for (const mode of modes) {
      const result = await run('curl', ['-sS', '-k', '--haproxy-protocol', ...mode.args, '-H', 'X-Forwarded-For: 198.51.100.3', mode.url]);
      assert.equal(result.code, 0, result.stderr);
      const info = JSON.parse(result.stdout.toString()) as Record<string, unknown>;
      // curl's header names its own end (127.0.0.1, trusted), so the X-Forwarded-For it sent is believed.
      assert.deepEqual([info.remoteAddress, info.peerAddress, info.protocol], ['198.51.100.3', '127.0.0.1', mode.protocol], JSON.stringify(mode));
      const plain = await run('curl', ['-sS', '-k', ...mode.args, mode.url]);
      assert.notEqual(plain.code, 0, 'a client without the PROXY header is closed');
    }
    await waitFor(() => logLines.filter((line) => line.startsWith('198.51.100.3 ')).length === 4, 'four access log lines naming the client');
  } finally {
    await server.close();
  }
});

/** A port free on 127.0.0.1 for a server that cannot bind port 0 itself (nginx): bound, read and released. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

test('nginx as a reverse proxy: the client behind it, a spoofed X-Forwarded-For ignored, its scheme and host in request.url', { skip: (!hasNginx || !hasCurl) && 'nginx or curl is not installed' }, async () => {
  const logLines: string[] = [];
  // nginx connects from 127.0.0.2 (proxy_bind), the only trusted address: curl on 127.0.0.1 is an ordinary client.
  const server = await startServer(echoInfo, { tls: false, trustProxy: '127.0.0.2', accessLog: (line) => logLines.push(line), accessLogFormat: 'short' });
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-nginx-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${server.port};
      proxy_bind 127.0.0.2;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host $host;
    }
  }
}
`,
  );
  const nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let nginxErrors = '';
  nginx.stderr.on('data', (chunk: Buffer) => (nginxErrors += chunk.toString()));
  try {
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      const probe = await run('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${port}/`]);
      if (probe.code === 0) break;
      if (nginx.exitCode !== null || Date.now() > deadline) {
        assert.fail(`nginx did not start: ${nginxErrors} ${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`);
      }
      await sleep(50);
    }
    const result = await run('curl', ['-sS', '-H', 'Host: app.example', '-H', 'X-Forwarded-For: 6.6.6.6', `http://127.0.0.1:${port}/through?x=1`]);
    assert.equal(result.code, 0, result.stderr);
    const info = JSON.parse(result.stdout.toString()) as Record<string, unknown>;
    // nginx sent "6.6.6.6, 127.0.0.1": the hop it appended (curl's address) is the first untrusted one.
    assert.deepEqual([info.remoteAddress, info.peerAddress, info.url], ['127.0.0.1', '127.0.0.2', 'https://app.example/through?x=1']);
    await waitFor(() => logLines.some((line) => line.startsWith('127.0.0.1 "GET /through?x=1 HTTP/1.1" 200')), 'the access log line naming the client');
  } finally {
    nginx.kill('SIGTERM');
    await new Promise((resolve) => (nginx.exitCode !== null ? resolve(undefined) : nginx.once('exit', resolve)));
    rmSync(dir, { recursive: true, force: true });
    await server.close();
  }
});
