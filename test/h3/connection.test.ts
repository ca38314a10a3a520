// HTTP/3 client <-> server over the in-memory fake QUIC pair: SETTINGS exchange, GET, POST, trailers, 103, 100
// concurrent requests, backpressure, GOAWAY graceful shutdown, cancellation, priority updates and flow control.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { H3ErrorCode } from '../../src/h3/errors.js';
import { formatFrame } from '../../src/h3/trace.js';
import type { H3Event, TracedH3Frame } from '../../src/h3/types.js';
import { connectedPair, eventsOf, pump, type Side } from './fake-quic.js';
import { latin1Bytes } from './helpers.js';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const get = (path = '/') => [':method', 'GET', ':scheme', 'https', ':authority', 'example.test', ':path', path, 'user-agent', 'h3-test'];

/** Server handler: answers every request with 200 and `body`, echoing nothing. */
function answer(body: string, extra: string[] = []) {
  return (side: Side, event: H3Event) => {
    if (side.h3.role !== 'server' || event.type !== 'request') return;
    side.h3.sendHeaders(event.streamId, [':status', '200', 'content-type', 'text/plain', 'server', 'httpsd', ...extra], false);
    side.h3.sendData(event.streamId, latin1Bytes(body), true);
  };
}

describe('setup', () => {
  test('both sides exchange SETTINGS on their control streams', () => {
    const { client, server } = connectedPair({ enableConnectProtocol: true });
    const [clientSaw] = eventsOf(client, 'settings');
    const [serverSaw] = eventsOf(server, 'settings');
    assert.deepEqual(clientSaw?.settings, {
      qpackMaxTableCapacity: 4096,
      maxFieldSectionSize: 65536,
      qpackBlockedStreams: 16,
      enableConnectProtocol: true,
      h3Datagram: false,
    });
    assert.equal(serverSaw?.settings.enableConnectProtocol, false, 'extended CONNECT is off by default');
    assert.deepEqual(server.h3.remoteSettings, serverSaw?.settings);
    assert.ok(!client.h3.isTerminated && !server.h3.isTerminated);
  });
});

describe('requests and responses', () => {
  test('GET: request event, response, body, end', () => {
    const { client, server } = connectedPair();
    const id = client.h3.sendRequest(get('/hello'), true);
    assert.equal(id, 0);
    pump(client, server, answer('hello'));
    const [request] = eventsOf(server, 'request');
    assert.deepEqual(request, {
      type: 'request',
      streamId: 0,
      pseudo: { method: 'GET', scheme: 'https', authority: 'example.test', path: '/hello', protocol: undefined },
      headers: ['user-agent', 'h3-test'],
      endStream: true,
      contentLength: -1,
    });
    assert.deepEqual(eventsOf(server, 'streamEnded'), [{ type: 'streamEnded', streamId: 0 }]);
    const [response] = eventsOf(client, 'response');
    assert.equal(response?.status, 200);
    assert.deepEqual(response?.headers, ['content-type', 'text/plain', 'server', 'httpsd']);
    assert.equal(eventsOf(client, 'data').map((e) => text(e.data)).join(''), 'hello');
    assert.deepEqual(eventsOf(client, 'streamEnded'), [{ type: 'streamEnded', streamId: 0 }]);
    assert.equal(server.h3.openRequestCount, 0);
    assert.equal(client.h3.openRequestCount, 0);
  });

  test('POST with a body: data events, content-length checked, consume() returns flow control', () => {
    const { client, server } = connectedPair();
    const body = 'x'.repeat(5000);
    const id = client.h3.sendRequest([':method', 'POST', ':scheme', 'https', ':authority', 'a.test', ':path', '/upload', 'content-length', '5000'], false);
    client.h3.sendData(id, latin1Bytes(body.slice(0, 1000)), false);
    client.h3.sendData(id, latin1Bytes(body.slice(1000)), true);
    let received = '';
    pump(client, server, (side, event) => {
      if (side !== server) return;
      if (event.type === 'data') {
        received += text(event.data);
        server.h3.consume(event.streamId, event.data.length);
      }
      if (event.type === 'streamEnded') {
        server.h3.sendHeaders(event.streamId, [':status', '201'], true);
      }
    });
    assert.equal(received, body);
    assert.equal(eventsOf(server, 'request')[0]?.contentLength, 5000);
    assert.equal(eventsOf(client, 'response')[0]?.status, 201);
    assert.equal(eventsOf(client, 'response')[0]?.endStream, true);
    // Every byte of the request stream went back to flow control: frame overhead by the engine, DATA by consume().
    assert.equal(server.quic.consumed.get(id), server.quic.received.get(id));
  });

  test('trailers in both directions', () => {
    const { client, server } = connectedPair();
    const id = client.h3.sendRequest([':method', 'POST', ':scheme', 'https', ':authority', 'a.test', ':path', '/', 'te', 'trailers'], false);
    client.h3.sendData(id, latin1Bytes('abc'), false);
    client.h3.sendTrailers(id, ['x-checksum', '123']);
    pump(client, server, (side, event) => {
      if (side === server && event.type === 'trailers') {
        server.h3.sendHeaders(id, [':status', '200'], false);
        server.h3.sendData(id, latin1Bytes('ok'), false);
        server.h3.sendTrailers(id, ['grpc-status', '0']);
      }
    });
    assert.deepEqual(eventsOf(server, 'trailers'), [{ type: 'trailers', streamId: id, headers: ['x-checksum', '123'] }]);
    assert.deepEqual(eventsOf(client, 'trailers'), [{ type: 'trailers', streamId: id, headers: ['grpc-status', '0'] }]);
    assert.equal(eventsOf(client, 'streamEnded').length, 1);
  });

  test('103 Early Hints before the final response', () => {
    const { client, server } = connectedPair();
    client.h3.sendRequest(get(), true);
    pump(client, server, (side, event) => {
      if (side !== server || event.type !== 'request') return;
      server.h3.sendInformational(event.streamId, 103, ['link', '</style.css>; rel=preload']);
      server.h3.sendHeaders(event.streamId, [':status', '200'], true);
    });
    assert.deepEqual(eventsOf(client, 'informational'), [
      { type: 'informational', streamId: 0, status: 103, headers: ['link', '</style.css>; rel=preload'] },
    ]);
    assert.equal(eventsOf(client, 'response')[0]?.status, 200);
    assert.throws(() => server.h3.sendInformational(0, 101), RangeError);
  });

  test('100 concurrent requests, dynamic QPACK table on both sides', () => {
    const { client, server } = connectedPair();
    const ids: number[] = [];
    for (let i = 0; i < 100; i++) ids.push(client.h3.sendRequest(get(`/item/${i}`), true));
    pump(client, server, (side, event) => {
      if (side !== server || event.type !== 'request') return;
      server.h3.sendHeaders(event.streamId, [':status', '200', 'server', 'httpsd', 'content-type', 'text/x-item', 'cache-control', 'max-age=60'], false);
      server.h3.sendData(event.streamId, latin1Bytes(event.pseudo.path!), true);
    });
    assert.equal(eventsOf(server, 'request').length, 100);
    const bodies = new Map<number, string>();
    for (const e of eventsOf(client, 'data')) bodies.set(e.streamId, (bodies.get(e.streamId) ?? '') + text(e.data));
    ids.forEach((id, i) => assert.equal(bodies.get(id), `/item/${i}`));
    for (const r of eventsOf(client, 'response')) assert.deepEqual(r.headers, ['server', 'httpsd', 'content-type', 'text/x-item', 'cache-control', 'max-age=60']);
    assert.equal(server.h3.openRequestCount, 0);
    assert.ok(!server.h3.isTerminated && !client.h3.isTerminated);
    // Both encoders used the dynamic table, both decoders mirror it, everything was acknowledged.
    const s = server.h3.qpackState;
    const c = client.h3.qpackState;
    assert.ok(s.encoderInsertCount > 0 && c.encoderInsertCount > 0);
    assert.equal(c.decoderInsertCount, s.encoderInsertCount);
    assert.equal(s.decoderInsertCount, c.encoderInsertCount);
    assert.equal(s.encoderKnownReceivedCount, s.encoderInsertCount);
    assert.equal(c.encoderKnownReceivedCount, c.encoderInsertCount);
  });

  test('QPACK encoder stream delivered late: requests block, then arrive when the inserts do', () => {
    const { client, server } = connectedPair();
    for (let i = 0; i < 5; i++) client.h3.sendRequest([...get(`/late/${i}`), 'accept-language', `x-${i}`], true);
    // Hold back the client's QPACK encoder stream (client uni stream 6) until after the requests.
    const inbox = server.quic.inbox;
    const held = inbox.filter((e) => e.type === 'streamData' && e.streamId === 6);
    const rest = inbox.filter((e) => !(e.type === 'streamData' && e.streamId === 6));
    inbox.splice(0, inbox.length, ...rest);
    server.events.push(...server.h3.handleEvents(server.quic.pollEvents()));
    assert.equal(eventsOf(server, 'request').length, 0, 'every request waits for its inserts');
    assert.equal(server.h3.qpackState.blockedStreams, 5);
    server.quic.inbox.push(...held);
    pump(client, server, answer('ok'));
    assert.deepEqual(eventsOf(server, 'request').map((e) => e.pseudo.path), ['/late/0', '/late/1', '/late/2', '/late/3', '/late/4']);
    assert.equal(eventsOf(client, 'response').length, 5);
    assert.equal(server.h3.qpackState.blockedStreams, 0);
  });

  test('sendData backpressure: false above the high-water mark, then streamWritable', () => {
    const { client, server } = connectedPair({}, {}, 1000);
    client.h3.sendRequest(get(), true);
    let full = false;
    pump(client, server, (side, event) => {
      if (side !== server || event.type !== 'request') return;
      server.h3.sendHeaders(event.streamId, [':status', '200'], false);
      full = !server.h3.sendData(event.streamId, new Uint8Array(5000), false);
    });
    assert.ok(full, 'sendData returned false');
    assert.deepEqual(eventsOf(server, 'streamWritable'), [{ type: 'streamWritable', streamId: 0 }]);
  });

  test('PRIORITY_UPDATE from the client reaches the server (RFC 9218)', () => {
    const { client, server } = connectedPair();
    const id = client.h3.sendRequest(get(), true);
    client.h3.sendPriorityUpdate(id, 'u=1, i');
    // The same frame written by hand on the client's control stream (stream 2), as a browser would.
    client.quic.sendStreamData(2, Uint8Array.of(0x80, 0x0f, 0x07, 0x00, 0x06, id, ...latin1Bytes('u=5,i')), false);
    pump(client, server);
    assert.deepEqual(eventsOf(server, 'priorityUpdate'), [
      { type: 'priorityUpdate', streamId: 0, value: 'u=1, i' },
      { type: 'priorityUpdate', streamId: 0, value: 'u=5,i' },
    ]);
    assert.throws(() => client.h3.sendPriorityUpdate(2, 'u=1'), RangeError);
    assert.throws(() => server.h3.sendPriorityUpdate(0, 'u=1'), /only clients/);
  });
});

describe('cancellation', () => {
  test('client cancels: server sees streamReset, its response is abandoned', () => {
    const { client, server } = connectedPair();
    const id = client.h3.sendRequest(get(), false);
    pump(client, server);
    client.h3.resetStream(id, H3ErrorCode.H3_REQUEST_CANCELLED);
    pump(client, server);
    assert.deepEqual(eventsOf(server, 'streamReset'), [{ type: 'streamReset', streamId: id, code: H3ErrorCode.H3_REQUEST_CANCELLED, byPeer: true }]);
    assert.equal(server.h3.openRequestCount, 0);
    server.h3.sendHeaders(id, [':status', '200'], true); // a late answer is dropped, not thrown
    assert.equal(client.h3.openRequestCount, 0);
  });

  test('server resets a request: the client sees the code', () => {
    const { client, server } = connectedPair();
    const id = client.h3.sendRequest(get(), true);
    pump(client, server, (side, event) => {
      if (side === server && event.type === 'request') server.h3.resetStream(event.streamId, H3ErrorCode.H3_REQUEST_REJECTED);
    });
    const resets = eventsOf(client, 'streamReset');
    assert.equal(resets.length, 1);
    assert.equal(resets[0]?.code, H3ErrorCode.H3_REQUEST_REJECTED);
    assert.equal(resets[0]?.streamId, id);
  });
});

describe('GOAWAY graceful shutdown (RFC 9114 §5.2)', () => {
  test('in-flight requests finish, later ones are rejected, then isDone', () => {
    const { client, server } = connectedPair();
    const first = client.h3.sendRequest(get('/1'), true);
    const second = client.h3.sendRequest(get('/2'), true);
    pump(client, server);
    server.h3.shutdown();
    pump(client, server);
    assert.deepEqual(eventsOf(client, 'goaway'), [{ type: 'goaway', id: 8 }]);
    assert.ok(server.h3.isClosing && !server.h3.isDone, 'two requests still in flight');
    assert.throws(() => client.h3.sendRequest(get('/3'), true), /GOAWAY/);
    // A request that crossed the GOAWAY (stream 8) is refused with H3_REQUEST_REJECTED.
    const raced = client.quic.openStream(false);
    assert.equal(raced, 8);
    client.quic.sendStreamData(raced, Uint8Array.of(0x01, 0x02, 0x00, 0x00), true);
    pump(client, server);
    assert.deepEqual(server.quic.resets.filter((r) => r.streamId === 8), [{ streamId: 8, code: H3ErrorCode.H3_REQUEST_REJECTED }]);
    for (const id of [first, second]) {
      server.h3.sendHeaders(id, [':status', '200'], true);
    }
    pump(client, server);
    assert.equal(eventsOf(client, 'response').length, 2);
    assert.ok(server.h3.isDone);
    server.h3.close();
    pump(client, server);
    assert.deepEqual(eventsOf(client, 'connectionTerminated'), [
      { type: 'connectionTerminated', code: H3ErrorCode.H3_NO_ERROR, reason: '', byPeer: true },
    ]);
  });
});

describe('GOAWAY edge cases', () => {
  test('shutdown before any request: GOAWAY 0, the connection is done at once', () => {
    const { client, server } = connectedPair();
    server.h3.shutdown();
    pump(client, server);
    assert.deepEqual(eventsOf(client, 'goaway'), [{ type: 'goaway', id: 0 }]);
    assert.ok(server.h3.isDone && !client.h3.isTerminated);
  });
  test('a second shutdown never raises the id; the client can shut down too', () => {
    const { client, server } = connectedPair();
    client.h3.sendRequest(get(), true);
    pump(client, server);
    server.h3.shutdown();
    server.h3.shutdown();
    client.h3.shutdown();
    pump(client, server);
    assert.deepEqual(eventsOf(client, 'goaway'), [{ type: 'goaway', id: 4 }]);
    assert.deepEqual(eventsOf(server, 'goaway'), [{ type: 'goaway', id: 0 }]);
    assert.ok(!client.h3.isTerminated && !server.h3.isTerminated);
  });
});

describe('frame trace', () => {
  test('every frame in and out, one line each', () => {
    const lines: string[] = [];
    const onFrame = (direction: 'in' | 'out', frame: TracedH3Frame) => lines.push(formatFrame(direction, frame));
    const { client, server } = connectedPair({ onFrame });
    client.h3.sendRequest(get('/t'), true);
    pump(client, server, answer('hi'));
    server.h3.shutdown();
    pump(client, server);
    assert.ok(lines.some((l) => /^send SETTINGS frame <length=\d+, stream_id=3> settings=\[QPACK_MAX_TABLE_CAPACITY=4096, QPACK_BLOCKED_STREAMS=16, MAX_FIELD_SECTION_SIZE=65536\]$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('recv SETTINGS frame')));
    assert.ok(lines.some((l) => /^recv HEADERS frame <length=\d+, stream_id=0> \| :method: GET; :scheme: https; :authority: example.test; :path: \/t; user-agent: h3-test$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^send HEADERS frame .*\| :status: 200; content-type: text\/plain; server: httpsd$/.test(l)));
    assert.ok(lines.includes('send DATA frame <length=2, stream_id=0> dataLength=2'));
    assert.ok(lines.includes('send GOAWAY frame <length=1, stream_id=3> id=4'));
  });
});
