/**
 * The process the user started: it forks the worker(s) that serve (src/cli/workers.ts) and supervises them.
 */
import { envNameFor, type CliValues } from '../common/options.js';
import type { ServerCliSettings } from './server-options.js';
import { runPrimary } from './workers.js';

/**
 * The supervisor: forks the worker(s). With one worker nothing else is loaded here, so starting costs one extra
 * Node.js boot only. Several workers get the entry checked and the certificate resolved once, before forking (one
 * error message rather than N, no concurrent local-CA creation).
 */
export async function supervise(values: CliValues, positionals: string[], settings: ServerCliSettings): Promise<void> {
  const env: Record<string, string> = {};
  let notes: string[] = [];
  if (settings.workers > 1) {
    const [{ resolveTls }, { loadEntry }] = await Promise.all([import('./tls-setup.js'), import('./load-app.js')]);
    const resolved = await resolveTls(values);
    await loadEntry(positionals[0], values);
    if (typeof resolved.tls.cert === 'string' && typeof resolved.tls.key === 'string' && values.cert === undefined) {
      env[envNameFor('cert')] = resolved.tls.cert;
      env[envNameFor('key')] = resolved.tls.key;
    }
    notes = resolved.notes;
  }
  // A --port 0 needs nothing more: node:cluster binds one socket in the primary for every worker's first listen(0)
  // on an address, so all workers, replacements included, share the port it picked.
  await runPrimary({ workers: settings.workers, env, quiet: settings.quiet, notes });
}
