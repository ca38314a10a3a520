/**
 * The HTTP/1.1 engine over real sockets against real clients: curl (keep-alive, chunked upload, HEAD, HTTP/1.0,
 * Expect: 100-continue) and node:http with a keep-alive agent. The driver is a minimal one written for the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { H1Connection } from '../../src/h1/index.js';

/** Echo server: GET /n answers n bytes; POST echoes the body (read as it comes), with trailers on /trailers. */
async function startServer(): Promise<{ port: number; close(): void; connections: () => number }> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    const conn = new H1Connection();
    let chunks: Uint8Array[] = [];
    let target = '';
    const flush = () => {
      const out = conn.dataToSendv();
      if (out !== null) for (const chunk of out) socket.write(chunk);
      if (conn.isDone) socket.end();
    };
    const handle = (events: ReturnType<H1Connection['receive']>) => {
      for (const event of events) {
        if (event.type === 'request') {
          target = event.target;
          chunks = [];
          if (event.expectContinue) conn.continueIfExpected();
        } else if (event.type === 'data') {
          chunks.push(event.data.slice());
        } else if (event.type === 'requestEnded') {
          const body = Buffer.concat(chunks);
          if (target.startsWith('/n/')) {
            const size = Number(target.slice(3));
            conn.sendHeaders(200, ['content-type', 'application/octet-stream', 'content-length', String(size)], false);
            conn.sendData(new Uint8Array(size).fill(0x61), true);
          } else if (target === '/trailers') {
            conn.sendHeaders(200, [], false);
            conn.sendData(body);
            conn.sendTrailers(['x-length', String(body.byteLength)]);
          } else {
            conn.sendHeaders(200, ['content-length', String(body.byteLength)], false);
            conn.sendData(body, true);
          }
          flush();
          handle(conn.pollEvents());
        }
      }
      flush();
    };
    socket.on('data', (data) => handle(conn.receive(data)));
    socket.on('end', () => handle(conn.receiveEnd()));
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close(), connections: () => connections };
}

function curl(args: string[], input?: Buffer): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('curl', ['-sS', ...args], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
    if (input) child.stdin!.end(input);
  });
}

test('curl: several requests on one keep-alive connection, HEAD, HTTP/1.0', async () => {
  const server = await startServer();
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const { stdout, stderr } = await curl(['-v', `${base}/n/5`, `${base}/n/100000`, '-o', '/dev/null', '-o', '/dev/null']);
    assert.equal(stdout, '');
    assert.match(stderr, /Re-using existing connection/);
    assert.equal(server.connections(), 1);
    const head = await curl(['-I', `${base}/n/7`]);
    assert.match(head.stdout, /^HTTP\/1.1 200 OK\r\ncontent-type: application\/octet-stream\r\ncontent-length: 7\r\n/);
    const old = await curl(['-0', '-i', `${base}/n/3`]);
    assert.match(old.stdout, /\r\n\r\naaa$/);
  } finally {
    server.close();
  }
});

test('curl: a chunked upload echoed back with trailers; Expect: 100-continue', async () => {
  const server = await startServer();
  try {
    const payload = Buffer.alloc(300_000, 7);
    const chunked = await curl(['-T', '-', '-H', 'Transfer-Encoding: chunked', `http://127.0.0.1:${server.port}/trailers`, '-o', '/dev/null', '-w', '%{size_download}'], payload);
    assert.equal(chunked.stdout, '300000');
    const expect = await curl(['-v', '--data-binary', '@-', '-H', 'Expect: 100-continue', `http://127.0.0.1:${server.port}/echo`, '-o', '/dev/null', '-w', '%{size_download}'], Buffer.alloc(2_000_000, 1));
    assert.equal(expect.stdout, '2000000');
    assert.match(expect.stderr, /HTTP\/1.1 100 Continue/);
  } finally {
    server.close();
  }
});

test('node:http keep-alive agent: 200 sequential requests on few connections, bodies intact', async () => {
  const server = await startServer();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  try {
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const body = Buffer.alloc(i * 37, i & 0xff);
        const response = await new Promise<Buffer>((resolve, reject) => {
          const req = http.request({ port: server.port, host: '127.0.0.1', method: 'POST', path: '/echo', agent }, (res) => {
            const parts: Buffer[] = [];
            res.on('data', (d) => parts.push(d));
            res.on('end', () => resolve(Buffer.concat(parts)));
          });
          req.on('error', reject);
          req.end(body);
        });
        assert.ok(response.equals(body), `request ${i}`);
      }),
    );
    assert.ok(server.connections() <= 4, `${server.connections()} connections`);
  } finally {
    agent.destroy();
    server.close();
  }
});

test('a smuggling attempt over a real socket gets its 400 and the connection closes; the next client is served', async () => {
  const server = await startServer();
  try {
    const socket = net.connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /n/1 HTTP/1.1\r\nHost: x\r\n\r\n');
    const parts: Buffer[] = [];
    socket.on('data', (d) => parts.push(d));
    await once(socket, 'close');
    const answer = Buffer.concat(parts).toString('latin1');
    assert.match(answer, /^HTTP\/1.1 400 Bad Request\r\n/);
    assert.equal((answer.match(/HTTP\/1.1/g) ?? []).length, 1, 'the smuggled request was not answered');
    const { stdout } = await curl([`http://127.0.0.1:${server.port}/n/2`]);
    assert.equal(stdout, 'aa');
  } finally {
    server.close();
  }
});
