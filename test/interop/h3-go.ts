/**
 * Builds test/interop/go/h3client (quic-go 0.29 from Debian's golang-github-lucas-clemente-quic-go-dev, offline,
 * GOPATH mode) once per source version into the temp dir, and returns the binary's path. A missing Go toolchain
 * or quic-go fails with the install command.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GO_INSTALL = 'apt-get install -y golang-go golang-github-lucas-clemente-quic-go-dev';
const QUIC_GO = '/usr/share/gocode/src/github.com/lucas-clemente/quic-go/http3';
const SOURCE = new URL('./go/h3client/main.go', import.meta.url).pathname;

export function buildGoClient(): string {
  let go: string;
  try {
    go = execFileSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`the Go toolchain is not installed; install it with: ${GO_INSTALL}`);
  }
  if (!existsSync(QUIC_GO)) throw new Error(`quic-go is not installed (${QUIC_GO}); install it with: ${GO_INSTALL}`);
  const source = readFileSync(SOURCE);
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const root = join(tmpdir(), `httpsd-h3client-${key}`);
  const binary = join(root, 'h3client');
  if (existsSync(binary)) return binary;
  const gopath = join(root, 'gopath');
  const dir = join(gopath, 'src', 'h3client');
  mkdirSync(dir, { recursive: true });
  copyFileSync(SOURCE, join(dir, 'main.go'));
  const partial = `${binary}.${process.pid}`;
  execFileSync(go, ['build', '-o', partial, '.'], {
    cwd: dir,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${gopath}:/usr/share/gocode`, GOCACHE: join(root, 'cache'), GOFLAGS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 600_000,
  });
  // Concurrent test processes may build at once: the rename makes the cached binary appear whole.
  renameSync(partial, binary);
  return binary;
}
