// Child-process bookkeeping for the benchmark: CPU pinning, port allocation, readiness, /proc accounting and
// guaranteed cleanup (every child is started in its own process group and killed on exit, error or signal).
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, openSync, closeSync, existsSync } from 'node:fs';
import net from 'node:net';

const children = new Set();

export function which(command) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(`${dir}/${command}`)) return `${dir}/${command}`;
  }
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (existsSync(`${dir}/${command}`)) return `${dir}/${command}`;
  }
  return undefined;
}

const cpuCount = (() => {
  try { return readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm)?.length ?? 1; } catch { return 1; }
})();
const tasksetPath = which('taskset');
/** Server on CPU 0, load generator on CPU 1, so neither steals the other's core. */
export const pinning = { enabled: Boolean(tasksetPath) && cpuCount >= 2, serverCpu: '0', clientCpu: '1' };

/** Optional scheduling priority (nice value) for servers and load generators, for a machine that is not idle. */
export const priority = { nice: 0 };

export function pinned(cpu, command, args) {
  let result = pinning.enabled ? { command: tasksetPath, args: ['-c', cpu, command, ...args] } : { command, args };
  if (priority.nice !== 0 && which('nice')) result = { command: which('nice'), args: ['-n', String(priority.nice), result.command, ...result.args] };
  return result;
}

/** Starts a long-running child (a server or an idle-connection client) in its own process group. */
export function startChild(command, args, { cwd, env, logFile, stdio } = {}) {
  let out = 'ignore';
  if (logFile) out = openSync(logFile, 'a');
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    detached: true,
    stdio: stdio ?? ['ignore', out, out],
  });
  if (typeof out === 'number') closeSync(out);
  children.add(child);
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    children.delete(child);
    resolve({ code, signal });
  }));
  child.on('error', () => children.delete(child));
  return child;
}

export async function stopChild(child, graceMs = 2000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
  const timer = new Promise((resolve) => setTimeout(resolve, graceMs, 'timeout'));
  if ((await Promise.race([child.exited, timer])) === 'timeout') {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    await child.exited;
  }
}

function killAllNow() {
  for (const child of children) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  children.clear();
}

let cleanupInstalled = false;
/** Kills every child on normal exit, uncaught error and SIGINT/SIGTERM/SIGHUP. */
export function installCleanup(onSignal) {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      killAllNow();
      onSignal?.(signal);
      process.exit(130);
    });
  }
}

/** Runs a command to completion, collecting stdout/stderr, killed after timeoutMs. */
export function runToEnd(command, args, { timeoutMs = 120_000, env, cwd } = {}) {
  return new Promise((resolve) => {
    const child = startChild(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text) => { stdout += text; });
    child.stderr.setEncoding('utf8').on('data', (text) => { stderr += text; });
    const timer = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    child.on('error', (error) => { clearTimeout(timer); resolve({ code: -1, stdout, stderr: String(error) }); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, signal, stdout, stderr });
    });
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port, child, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) return false;
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

const clockTicks = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { return 100; }
})();

function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses; fields resume after the last ')'.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** pid plus all its descendants (Hypercorn and others may fork workers). */
export function processTree(rootPid) {
  const parentOf = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields) parentOf.set(Number(entry), Number(fields[1]));
  }
  const tree = [rootPid];
  for (let index = 0; index < tree.length; index++) {
    for (const [pid, parent] of parentOf) if (parent === tree[index]) tree.push(pid);
  }
  return tree;
}

/** User + system CPU seconds of the process tree (fields 14 and 15 of /proc/PID/stat). */
export function cpuSeconds(rootPid) {
  let ticks = 0;
  for (const pid of processTree(rootPid)) {
    const fields = statFields(pid);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / clockTicks;
}

/** Resident memory of the process tree in KiB (VmRSS of /proc/PID/status). */
export function rssKiB(rootPid) {
  let total = 0;
  for (const pid of processTree(rootPid)) {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) total += Number(match[1]);
    } catch { /* exited */ }
  }
  return total;
}
