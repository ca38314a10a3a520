/**
 * The CI-sized soak (30 s): the same code as `npm run soak`, asserting that nothing unexpected happened and that the
 * server's counters return to zero and its RSS to near the baseline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSummary, formatSummary, runSoak } from './soak.js';

test('soak: 30 s of mixed h1/h2 load with aborts, cancelled uploads, throwing and hanging handlers', { timeout: 120_000 }, async (t) => {
  const summary = await runSoak({ durationMs: 30_000 });
  t.diagnostic(formatSummary(summary));
  assert.deepEqual(checkSummary(summary), []);
  // The load exercised every fault path at least once.
  for (const kind of ['ok', 'upload-ok', 'handler-error-500', 'client-abort-mid-response', 'client-abort-mid-upload', 'server-reset']) {
    assert.ok((summary.outcomes[kind] ?? 0) > 0, `no '${kind}' outcome in ${summary.requests} requests`);
  }
});
