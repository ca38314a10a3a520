/**
 * The `httpsd` command: `httpsd [ENTRY] [options]` serves a directory or a fetch-handler module over HTTPS
 * (h2 + http/1.1, optional cleartext h1 + h2c); `httpsd cert ...` manages the local CA.
 *
 * The process started by the user is a supervisor (src/cli/workers.ts); the server runs in its worker(s), node:cluster
 * children that run this same script. Only what parsing needs is imported up front: the rest is loaded by the side
 * (supervisor, worker, cert) that uses it.
 */
import cluster from 'node:cluster';
import { statSync } from 'node:fs';
import { UsageError } from '../common/errors.js';
import { attributeToEnvironment, parseCommandLine } from './argv.js';
import { helpText, packageVersion } from './help.js';
import { parseServerOptions } from './server-options.js';

/**
 * The scripts that run main(): bin/httpsd.js (also as the `.bin/httpsd` or `/usr/local/bin/httpsd` link to it) and
 * this module. A supervisor's workers re-run process.argv[1]; when main() is called from anything else (a test, an
 * embedding script) that would not start a server, so the server runs in this process, unsupervised.
 */
const COMMAND_SCRIPT = /(?:[\\/]\.?bin[\\/]httpsd(?:\.js)?|[\\/]cli[\\/]main\.(?:ts|js))$/;

/**
 * --watch reloads application modules. A directory ENTRY has none: static files (and CGI scripts) are read on every
 * request, so an edit shows on the next one without a restart. Said once rather than refused, so that HTTPSD_WATCH=1
 * set for development does not break serving a folder.
 */
function watchableEntry(entry: string | undefined): boolean {
  let isDirectory = false;
  try {
    isDirectory = statSync(entry ?? '.').isDirectory();
  } catch {
    // A missing ENTRY is the worker's to report.
  }
  if (isDirectory) process.stderr.write('httpsd: --watch has nothing to reload for a directory ENTRY: its files are read on every request\n');
  return !isDirectory;
}

export async function main(argv: string[]): Promise<void> {
  let fromEnvironment: string[] = [];
  try {
    if (argv[0] === 'cert') {
      const { runCertCommand } = await import('../cert/index.js');
      process.exitCode = await runCertCommand(argv.slice(1));
      return;
    }
    const { values, positionals, fromEnvironment: environmentOptions } = parseCommandLine(argv);
    fromEnvironment = environmentOptions;
    if (values.help) {
      process.stdout.write(helpText() + '\n');
      return;
    }
    if (values.version) {
      process.stdout.write(`httpsd ${packageVersion()} (Node.js ${process.version})\n`);
      return;
    }
    const settings = parseServerOptions(values);
    if (cluster.isPrimary && COMMAND_SCRIPT.test(process.argv[1] ?? '')) {
      // The supervisor loads nothing more: one extra Node.js boot, and application code (its timers, its
      // connections) only ever runs in workers.
      const { runPrimary } = await import('./workers.js');
      const { supervisorInheritedFds } = await import('./deploy-options.js');
      const inheritedFds = supervisorInheritedFds(settings.deploy);
      await runPrimary({ workers: settings.workers, quiet: settings.quiet, watch: settings.watch && watchableEntry(positionals[0]), inheritedFds });
    } else {
      const { runWorker } = await import('./run-server.js');
      await runWorker(values, positionals, settings);
    }
  } catch (error) {
    const message = error instanceof UsageError ? attributeToEnvironment(error.message, fromEnvironment) : error instanceof Error ? error.message : String(error);
    const exitCode = error instanceof UsageError ? error.exitCode : 1;
    process.stderr.write(`httpsd: ${message}\n`);
    process.exitCode = exitCode;
    // A worker holds its IPC channel (and maybe timers of the app) open: leave now, with the status for the supervisor.
    if (cluster.isWorker) process.exit(exitCode);
  }
}

// Run when executed directly (`node --import tsx src/cli/main.ts ...` or `node dist/cli/main.js ...`),
// and in cluster workers, which re-run the primary's script.
const invokedDirectly = /[\\/]cli[\\/]main\.(ts|js)$/.test(process.argv[1] ?? '');
if (invokedDirectly) void main(process.argv.slice(2));
