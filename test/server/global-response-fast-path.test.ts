import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readResponse, undiciStateSymbol, webStreamStateSymbol } from '../../src/server/response-parts.js';

// The global Response is read through Node's internal state (undici's body source, the web stream's kState) so no
// ReadableStream is pulled and no slow getter runs per response. These probes are best effort with a public
// fallback; on the Node versions this project supports they must be found, or the speed silently regresses.
const read = (response: unknown) => readResponse(response, { family: 'h2-like', isHead: false, serverHeader: false });

describe('global Response fast path', () => {
  test('the internal probes are found on this Node.js version', () => {
    assert.equal(typeof undiciStateSymbol, 'symbol', 'undici Response state symbol not found: string bodies would be streamed');
    assert.equal(typeof webStreamStateSymbol, 'symbol', 'web stream kState not found: bodyUsed/locked getters used per response');
  });

  test('a string or byte body is taken from its source without touching the stream', () => {
    const text = new Response('hello');
    const parts = read(text);
    assert.ok(parts.body instanceof Uint8Array);
    assert.equal(Buffer.from(parts.body).toString(), 'hello');
    // The stream was never read, locked or disturbed.
    assert.equal(text.bodyUsed, false);
    assert.equal(text.body!.locked, false);
    // undici copied the bytes at construction (Fetch standard); that copy is sent as it is.
    const bytes = read(new Response(new Uint8Array([1, 2, 3]))).body;
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual([...bytes], [1, 2, 3]);
  });

  test('a body the handler already read, or locked with a reader, is refused', async () => {
    const consumed = new Response('used');
    assert.equal(await consumed.text(), 'used');
    assert.throws(() => read(consumed), /already consumed/);
    const locked = new Response('locked');
    locked.body!.getReader();
    assert.throws(() => read(locked), /already consumed/);
    const streamed = new Response(new ReadableStream({ pull: (c) => c.enqueue(new Uint8Array(1)) }));
    await streamed.body!.getReader().read();
    assert.throws(() => read(streamed), /already consumed/);
  });

  test('a stream body is handed over as the stream', () => {
    const stream = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    assert.equal(read(new Response(stream)).body, stream);
  });
});
