// bench/clients/h3load (Go, quic-go from Debian's golang-github-lucas-clemente-quic-go-dev) built offline in GOPATH
// mode, once per source version, into the system temp dir.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToEnd, which } from './proc.mjs';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(benchDir, 'clients', 'h3load', 'main.go');
const quicGo = '/usr/share/gocode/src/github.com/lucas-clemente/quic-go/http3';
export const h3loadInstall = 'apt-get install -y golang-go golang-github-lucas-clemente-quic-go-dev';

let built;

/** Resolves to { binary } or { error, install } (no Go toolchain, no quic-go, or a failed build). */
export async function buildH3load() {
  if (built) return built;
  const go = which('go');
  if (!go) return (built = { error: 'the Go toolchain is not installed', install: h3loadInstall });
  if (!existsSync(quicGo)) return (built = { error: `quic-go is not installed (${quicGo})`, install: h3loadInstall });
  const text = readFileSync(source);
  const key = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const root = path.join(os.tmpdir(), `httpsd-bench-h3load-${key}`);
  const binary = path.join(root, 'h3load');
  if (existsSync(binary)) return (built = { binary });
  const dir = path.join(root, 'gopath', 'src', 'h3load');
  mkdirSync(dir, { recursive: true });
  copyFileSync(source, path.join(dir, 'main.go'));
  const partial = `${binary}.${process.pid}`;
  const run = await runToEnd(go, ['build', '-o', partial, '.'], {
    cwd: dir,
    timeoutMs: 600_000,
    env: { GO111MODULE: 'off', GOPATH: `${path.join(root, 'gopath')}:/usr/share/gocode`, GOCACHE: path.join(root, 'cache'), GOFLAGS: '' },
  });
  if (run.code !== 0) return (built = { error: `go build failed: ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ')}` });
  // Two harness processes may build at once: the rename makes the binary appear whole.
  renameSync(partial, binary);
  return (built = { binary });
}
