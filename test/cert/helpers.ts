/** Shared helpers for the local CA tests: temporary CA folders, in-process CLI runs, the openssl tool. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCertCommand } from '../../src/cert/index.js';
import type { TrustOptions } from '../../src/cert/index.js';

const execFileAsync = promisify(execFile);

export interface Sandbox {
  dir: string;
  caroot: string;
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** A temporary working folder with its own CA folder; nothing outside it is touched. */
export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'httpsd-cert-test-'));
  const caroot = join(dir, 'caroot');
  // Trust-store variables cleared so a developer's environment cannot redirect tests to a real store.
  const env: NodeJS.ProcessEnv = { ...process.env, HTTPSD_CAROOT: caroot };
  delete env.HTTPSD_TRUST_SYSTEM_DIR;
  delete env.HTTPSD_TRUST_NSS_DBS;
  delete env.HTTPSD_TRUST_STORES;
  delete env.JAVA_HOME;
  return { dir, caroot, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(box: Sandbox, argv: string[], trust?: TrustOptions): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCertCommand(argv, {
    env: box.env,
    cwd: box.dir,
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    trust,
  });
  return { code, stdout, stderr };
}

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function tool(command: string, args: string[], cwd?: string): Promise<ToolRun> {
  try {
    const { stdout, stderr } = await execFileAsync(command, args, { cwd, timeout: 30_000, encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failure.code === 'number' ? failure.code : 1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

export function opensslText(certFile: string): Promise<ToolRun> {
  return tool('openssl', ['x509', '-in', certFile, '-noout', '-text']);
}

export function opensslVerify(caFile: string, certFile: string, extra: string[] = []): Promise<ToolRun> {
  return tool('openssl', ['verify', ...extra, '-CAfile', caFile, certFile]);
}
