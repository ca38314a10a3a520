/**
 * Runs the `httpsd` command from source (node --import tsx src/cli/main.ts) or from the build (bin/httpsd.js),
 * waits for its startup banner, and stops it cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_FROM_SOURCE = ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts')];
export const CLI_FROM_BUILD = [join(REPO_ROOT, 'bin/httpsd.js')];

export interface RunningCli {
  child: ChildProcess;
  /** TLS port, cleartext port (from the banner). */
  port: number;
  httpPort: number | undefined;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  stop(): Promise<number | string>;
}

/** A private CA directory so tests never touch the user's real local CA. */
const temporaryCaRoots = new Set<string>();
export function tempCaRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-caroot-'));
  // One exit listener removes every folder (one per call would trip MaxListenersExceededWarning).
  if (temporaryCaRoots.size === 0) {
    process.once('exit', () => {
      for (const root of temporaryCaRoots) rmSync(root, { recursive: true, force: true });
    });
  }
  temporaryCaRoots.add(dir);
  return dir;
}

export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const caroot = extra.HTTPSD_CAROOT ?? process.env.HTTPSD_TEST_CAROOT ?? tempCaRoot();
  const env: NodeJS.ProcessEnv = { ...process.env, HTTPSD_CAROOT: caroot, ...extra };
  // The test runner's own flags must not leak into the child.
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  return env;
}

interface CliSpawnOptions {
  env?: NodeJS.ProcessEnv;
  build?: boolean;
  cwd?: string;
  /** How long the command may take (runCli) or take to start (startCli); generous by default (a busy CI machine). */
  timeoutMs?: number;
  /** Its own process group (a group leader), so a test can signal the group as a terminal's Ctrl-C does. */
  detached?: boolean;
}

/** The command as a child: from source through tsx, or from the build (`bin/httpsd.js`, what `npx httpsd` runs). */
function spawnCli(args: string[], options: CliSpawnOptions) {
  return spawn(process.execPath, [...(options.build ? CLI_FROM_BUILD : CLI_FROM_SOURCE), ...args], {
    env: options.env ?? cliEnv(),
    cwd: options.cwd ?? REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached === true,
  });
}

/** Runs the command to completion (for --help, errors). */
export function runCli(
  args: string[],
  options: CliSpawnOptions = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** SIGTERM, then the exit code (or signal name); SIGKILL if the graceful stop does not end. */
export async function stopGracefully(child: ChildProcess, exited: Promise<number | string>): Promise<number | string> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  // A graceful shutdown gets as long as the server's own default limit (10 s) and then some, on a busy machine.
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const result = await exited;
  clearTimeout(killer);
  return result;
}

/** Starts a long-running server and waits for the banner with its URLs. */
export function startCli(
  args: string[],
  options: CliSpawnOptions = {},
): Promise<RunningCli> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, options);
    let stdout = '';
    let stderr = '';
    const exited = new Promise<number | string>((resolveExit) => child.on('exit', (code, signal) => resolveExit(code ?? signal ?? -1)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`httpsd did not start in time. stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    const check = () => {
      const https = /https:\/\/[^\s]+:(\d+)\//.exec(stderr);
      const http = /http:\/\/[^\s]+:(\d+)\//.exec(stderr);
      const wantsHttp = args.includes('--http-port') || (options.env?.HTTPSD_HTTP_PORT ?? '') !== '';
      if (https && (!wantsHttp || http)) {
        clearTimeout(timer);
        resolve({
          child,
          port: Number(https[1]),
          httpPort: http ? Number(http[1]) : undefined,
          stdout: () => stdout,
          stderr: () => stderr,
          exited,
          stop: () => stopGracefully(child, exited),
        });
      }
    };
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      check();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`httpsd exited with ${code} before starting. stderr: ${stderr}`));
    });
  });
}

/** How many requests the slow.mjs fixture has announced: they are in its handler, held until a signal. */
export function heldRequests(cli: RunningCli): number {
  return (cli.stderr().match(/^slow\.mjs: holding /gm) ?? []).length;
}

/** The slow.mjs fixture (see its header), by absolute path. */
export const SLOW_APP = join(REPO_ROOT, 'test/cli/fixtures/slow.mjs');
