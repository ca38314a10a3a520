/** Small async helpers shared by the test suites. */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * How long a wait for something that must happen may take before the test fails: generous, because CI shares a
 * busy 2-core machine. The waits poll, so a healthy run never waits this long; only a test that is failing does.
 */
export const PATIENCE_MS = 30_000;
