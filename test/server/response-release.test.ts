/**
 * A response refused before its head is written (an invalid field: a 500 instead) or one nobody is left to receive
 * must release its streamed body: the application's stream is cancelled instead of being left to produce unread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FastResponse, NativeResponse } from '../../src/server/response.js';
import { connectH2, h1Request, h2Request, startServer, waitFor } from '../support/server.js';

function trackedStream(onCancel: () => void): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new Uint8Array(16));
    },
    cancel: onCancel,
  });
}

// The global Response is FastResponse while httpsd serves; undici's class is the server's other read path.
for (const kind of ['global Response', 'undici Response', 'FastResponse'] as const) {
  test(`${kind} with an invalid header and a streamed body: 500, and the body's stream is cancelled (h1 and h2)`, async () => {
    let cancelled = 0;
    const Make = kind === 'FastResponse' ? FastResponse : kind === 'undici Response' ? NativeResponse : Response;
    const server = await startServer(() => new Make(trackedStream(() => void cancelled++), { headers: { 'x-bad': 'a\u0001b' } }), {
      onError: () => {},
    });
    try {
      const h1 = await h1Request(server.origin + '/');
      assert.equal(h1.status, 500);
      await waitFor(() => cancelled === 1, 'the first stream to be cancelled');
      const session = connectH2(server.origin);
      try {
        const h2 = await h2Request(session, { ':path': '/' });
        assert.equal(h2.headers[':status'], 500);
      } finally {
        session.close();
      }
      await waitFor(() => cancelled === 2, 'the second stream to be cancelled');
    } finally {
      await server.close();
    }
  });
}
