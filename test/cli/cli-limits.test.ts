/**
 * Server limits as users set them (serve({ limits }) and the CLI flags): headersTimeout must not exceed
 * requestTimeout (node:http enforces it), and the error names the user's own settings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_SERVER_LIMITS, resolveLimits } from '../../src/server/limits.js';
import { serve } from '../../src/server/serve.js';
import { h1Request } from '../support/server.js';

test('a requestTimeout below the default headersTimeout lowers headersTimeout with it', () => {
  const limits = resolveLimits({ requestTimeout: 2000 });
  assert.equal(limits.requestTimeout, 2000);
  assert.equal(limits.headersTimeout, 2000);
  // Untouched when consistent, and when requestTimeout is off (0).
  assert.equal(resolveLimits({ requestTimeout: 60_000 }).headersTimeout, DEFAULT_SERVER_LIMITS.headersTimeout);
  assert.equal(resolveLimits({ requestTimeout: 0 }).headersTimeout, DEFAULT_SERVER_LIMITS.headersTimeout);
  assert.deepEqual(resolveLimits({ requestTimeout: 2000, headersTimeout: 500 }).headersTimeout, 500);
  assert.deepEqual(resolveLimits({ requestTimeout: 2000, headersTimeout: 2000 }).headersTimeout, 2000);
});

test('headersTimeout > requestTimeout, both given: a RangeError naming both limits and the fix', () => {
  assert.throws(
    () => resolveLimits({ requestTimeout: 2000, headersTimeout: 5000 }),
    (error: unknown) => {
      assert.ok(error instanceof RangeError, String(error));
      assert.match(error.message, /limits\.headersTimeout \(5000 ms\)/);
      assert.match(error.message, /limits\.requestTimeout \(2000 ms\)/);
      assert.match(error.message, /Fix: make headersTimeout <= requestTimeout/);
      return true;
    },
  );
});

test('serve({ limits: { requestTimeout } }) alone starts and serves (cleartext h1)', async () => {
  const server = serve({ port: 0, hostname: '127.0.0.1', limits: { requestTimeout: 2000 }, fetch: () => new Response('ok') });
  try {
    await server.ready;
    const result = await h1Request(`http://127.0.0.1:${server.port}`);
    assert.equal(result.body.toString(), 'ok');
  } finally {
    await server.close();
  }
});
