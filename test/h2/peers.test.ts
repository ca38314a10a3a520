/**
 * The engine against real HTTP/2 clients over real sockets (node:http2, curl, nghttp, Python h2), driven by a
 * minimal in-test driver: request bodies, large responses under flow control and backpressure, concurrency.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { H2Connection } from '../../src/h2/index.js';
import type { H2Event } from '../../src/h2/index.js';
import { run } from '../support/server.js';

const BIG = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 7) & 0xff);
const bigHash = createHash('sha256').update(BIG).digest('hex');

/** A small driver: GET /big streams 5 MiB with backpressure; POST echoes the body's sha256 and length. */
function startServer(): Promise<net.Server> {
  const server = net.createServer((socket) => {
    const conn = new H2Connection();
    const bodies = new Map<number, ReturnType<typeof createHash>>();
    const lengths = new Map<number, number>();
    const writers = new Map<number, () => void>();
    const flush = () => {
      // dataToSend() can make room in stream queues ('streamWritable' via pollEvents()), which queues more data.
      for (;;) {
        const bytes = conn.dataToSend();
        if (bytes !== null) socket.write(bytes);
        const events = conn.pollEvents();
        if (events.length === 0 && bytes === null) break;
        handle(events);
      }
      if (conn.isDone) socket.end();
    };
    const streamBig = (id: number) => {
      let offset = 0;
      const pump = () => {
        while (offset < BIG.length) {
          const end = Math.min(offset + 65536, BIG.length);
          const more = conn.sendData(id, BIG.subarray(offset, end), end === BIG.length);
          offset = end;
          if (!more) return; // wait for streamWritable
        }
        writers.delete(id);
      };
      writers.set(id, pump);
      pump();
    };
    const handle = (events: H2Event[]) => {
      for (const e of events) {
        if (e.type === 'request') {
          if (e.pseudo.method === 'POST') {
            bodies.set(e.streamId, createHash('sha256'));
            lengths.set(e.streamId, 0);
          } else if (e.pseudo.path === '/big') {
            conn.sendHeaders(e.streamId, [':status', '200', 'content-length', String(BIG.length)], false);
            streamBig(e.streamId);
          } else {
            conn.sendHeaders(e.streamId, [':status', '200', 'content-type', 'text/plain', 'content-length', '5'], false);
            conn.sendData(e.streamId, new TextEncoder().encode('hello'), true);
          }
        } else if (e.type === 'data') {
          bodies.get(e.streamId)?.update(e.data);
          lengths.set(e.streamId, (lengths.get(e.streamId) ?? 0) + e.data.length);
          conn.consume(e.streamId, e.flowControlledLength);
        } else if (e.type === 'streamEnded' && bodies.has(e.streamId)) {
          const answer = `${lengths.get(e.streamId)} ${bodies.get(e.streamId)!.digest('hex')}`;
          bodies.delete(e.streamId);
          conn.sendHeaders(e.streamId, [':status', '200'], false);
          conn.sendData(e.streamId, new TextEncoder().encode(answer), true);
        } else if (e.type === 'streamWritable') {
          writers.get(e.streamId)?.();
        }
      }
    };
    socket.on('data', (chunk) => {
      handle(conn.receive(chunk));
      flush();
    });
    socket.on('error', () => socket.destroy());
    flush();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** A peer command's standard output (latin1); a failure (non-zero exit, timeout) rejects with its stderr. */
async function peer(cmd: string, args: string[], input?: string): Promise<string> {
  const result = await run(cmd, args, { input, timeoutMs: 20_000 });
  if (result.code !== 0) throw new Error(`${cmd} failed (exit ${result.code ?? result.signal}): ${result.stderr}`);
  return result.stdout.toString('latin1');
}

describe('real clients', { timeout: 60_000 }, () => {
  let server: net.Server;
  let url: string;
  let port: number;
  before(async () => {
    server = await startServer();
    port = (server.address() as net.AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function nodeRequest(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Uint8Array) {
    return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      const req = session.request(headers);
      const chunks: Buffer[] = [];
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve({ status, body: Buffer.concat(chunks) }));
      req.on('error', reject);
      req.end(body);
    });
  }

  test('node:http2: GET, 50 concurrent, a 3 MiB upload and a 5 MiB download', async () => {
    const session = http2.connect(url);
    try {
      const hello = await nodeRequest(session, { ':path': '/' });
      assert.equal(hello.status, 200);
      assert.equal(hello.body.toString(), 'hello');
      const many = await Promise.all(Array.from({ length: 50 }, () => nodeRequest(session, { ':path': '/' })));
      assert.ok(many.every((r) => r.body.toString() === 'hello'));
      const upload = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
      const echoed = await nodeRequest(session, { ':method': 'POST', ':path': '/up' }, upload);
      assert.equal(echoed.body.toString(), `${upload.length} ${createHash('sha256').update(upload).digest('hex')}`);
      const big = await nodeRequest(session, { ':path': '/big' });
      assert.equal(big.body.length, BIG.length);
      assert.equal(createHash('sha256').update(big.body).digest('hex'), bigHash);
    } finally {
      session.close();
    }
  });

  test('curl: download and upload', async () => {
    const body = await peer('curl', ['-sS', '--http2-prior-knowledge', `${url}/big`]);
    assert.equal(createHash('sha256').update(Buffer.from(body, 'latin1')).digest('hex'), bigHash);
    const out = await peer('curl', ['-sS', '--http2-prior-knowledge', '--data-binary', '@-', `${url}/up`], 'x'.repeat(200_000));
    assert.equal(out, `200000 ${createHash('sha256').update('x'.repeat(200_000)).digest('hex')}`);
  });

  test('nghttp: several streams at once', async () => {
    const out = await peer('nghttp', ['-n', '-s', '-m', '20', `${url}/`]);
    assert.match(out, /complete/);
    const big = await peer('nghttp', ['-n', '-s', `${url}/big`]);
    assert.match(big, /complete/);
  });

  test('h2load: 2000 requests, none failed', async () => {
    const out = await peer('h2load', ['-n', '2000', '-c', '2', '-m', '10', `${url}/`]);
    assert.match(out, /2000 succeeded, 0 failed, 0 errored/);
  });

  test('Python h2 client', async () => {
    const script = `
import socket, h2.connection, h2.events, h2.config
s = socket.create_connection(('127.0.0.1', ${port}))
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
c.initiate_connection()
c.send_headers(1, [(':method', 'GET'), (':path', '/'), (':scheme', 'http'), (':authority', 'x')], end_stream=True)
s.sendall(c.data_to_send())
body = b''
done = False
while not done:
    data = s.recv(65536)
    if not data: break
    for e in c.receive_data(data):
        if isinstance(e, h2.events.DataReceived):
            body += e.data
            c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        if isinstance(e, h2.events.StreamEnded): done = True
    s.sendall(c.data_to_send())
print(body.decode())
`;
    assert.equal((await peer('/usr/bin/python3', ['-c', script])).trim(), 'hello');
  });

  test('Python h2 client: a header list over the limit is answered 431 by the engine', async () => {
    const script = `
import socket, h2.connection, h2.events, h2.config
s = socket.create_connection(('127.0.0.1', ${port}))
c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
c.initiate_connection()
c.send_headers(1, [(':method', 'GET'), (':path', '/'), (':scheme', 'http'), (':authority', 'x'), ('x-big', 'a' * 70000)], end_stream=True)
s.sendall(c.data_to_send())
done = False
while not done:
    data = s.recv(65536)
    if not data: break
    for e in c.receive_data(data):
        if isinstance(e, h2.events.ResponseReceived): print(dict(e.headers)[b':status'].decode())
        if isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)): done = True
    s.sendall(c.data_to_send())
`;
    assert.equal((await peer('/usr/bin/python3', ['-c', script])).trim(), '431');
  });
});
