/** A temporary document root with the files the static tests need, and a ServeInfo literal. */
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, chmodSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import type { ServeInfo } from '../../src/server/types.js';

export interface Fixture {
  base: string;
  root: string;
  outside: string;
  binary: Buffer;
  bigText: string;
  appJs: string;
  cleanup(): void;
}

export const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';

export function createFixture(): Fixture {
  const base = mkdtempSync(join(tmpdir(), 'httpsd-static-'));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.txt'), SECRET);
  writeFileSync(join(base, 'secret.txt'), SECRET);
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>home</title>');
  writeFileSync(join(root, 'hello.txt'), 'hello\n');
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, '.secret'), 'dotfile');
  mkdirSync(join(root, '.git'));
  writeFileSync(join(root, '.git', 'config'), 'dotdir');
  const binary = randomBytes(200_000);
  writeFileSync(join(root, 'data.bin'), binary);
  const bigText = 'The quick brown fox jumps over the lazy dog. '.repeat(2000);
  writeFileSync(join(root, 'big.txt'), bigText);
  writeFileSync(join(root, 'image.png'), randomBytes(4000));
  writeFileSync(join(root, 'data.json'), '{"a":1}');
  writeFileSync(join(root, 'module.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
  writeFileSync(join(root, 'noext'), 'no extension');
  const appJs = 'export const answer = 42;\n'.repeat(300);
  writeFileSync(join(root, 'app.js'), appJs);
  writeFileSync(join(root, 'app.js.br'), brotliCompressSync(appJs));
  writeFileSync(join(root, 'app.js.gz'), gzipSync(appJs));
  writeFileSync(join(root, 'app.js.zst'), Buffer.from('pretend-zstd-bytes'));
  writeFileSync(join(root, 'style.css'), 'body{}'.repeat(400));
  // Only a gzip sibling, and that sibling is a symlink leaving the root: it must never be served.
  symlinkSync(join(outside, 'secret.txt'), join(root, 'style.css.gz'));
  // A brotli sibling that is a symlink to a dotfile: hidden like the dotfile itself.
  symlinkSync(join(root, '.secret'), join(root, 'style.css.br'));
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(root, 'sub', '<script>.txt'), 'xss');
  writeFileSync(join(root, 'sub', '<img src=x onerror=alert(1)>.txt'), 'xss');
  writeFileSync(join(root, 'sub', 'a&b "q".txt'), 'amp');
  writeFileSync(join(root, 'sub', 'small.txt'), 'a');
  writeFileSync(join(root, 'sub', 'large.txt'), 'a'.repeat(5000));
  writeFileSync(join(root, 'sub', '.hidden'), 'hidden');
  mkdirSync(join(root, 'sub', 'nested'));
  mkdirSync(join(root, 'evil.com'));
  writeFileSync(join(root, 'evil.com', 'index.html'), 'evil dir');
  mkdirSync(join(root, 'with space'));
  symlinkSync(join(outside, 'secret.txt'), join(root, 'link-out.txt'));
  symlinkSync(outside, join(root, 'link-out-dir'));
  symlinkSync(join(root, 'hello.txt'), join(root, 'link-in.txt'));
  symlinkSync(join(root, '.secret'), join(root, 'link-to-dotfile.txt'));
  return {
    base,
    root,
    outside,
    binary,
    bigText,
    appJs,
    cleanup: () => rmSync(base, { recursive: true, force: true }),
  };
}

/** Adds a cgi-bin directory with test scripts (and the example hello.py, copied unchanged). */
export function addCgiScripts(fixture: Fixture): string {
  const dir = join(fixture.root, 'cgi-bin');
  mkdirSync(dir, { recursive: true });
  copyFileSync(new URL('../../examples/cgi-bin/hello.py', import.meta.url), join(dir, 'hello.py'));
  const scripts: Record<string, string> = {
    'env.sh': '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\nenv\n',
    'echo.sh': '#!/bin/sh\nprintf "Content-Type: application/octet-stream\\nX-Length: %s\\n\\n" "$CONTENT_LENGTH"\ncat\n',
    'status.sh': '#!/bin/sh\nprintf "Status: 418 I am a teapot\\r\\nContent-Type: text/plain\\r\\nX-Script: yes\\r\\nConnection: close\\r\\nContent-Length: 999\\r\\n\\r\\nshort and stout"\n',
    'local.sh': '#!/bin/sh\nprintf "Location: /hello.txt\\n\\n"\n',
    'loop.sh': '#!/bin/sh\nprintf "Location: /cgi-bin/loop.sh\\n\\n"\n',
    'client.sh': '#!/bin/sh\nprintf "Location: https://example.com/elsewhere\\n\\n"\n',
    'hang.sh': `#!/bin/sh\nsleep 60 &\necho $! > "${join(fixture.base, 'hang.pid')}"\nwait\n`,
    'slowbody.sh': `#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nstarted\\n"\nsleep 60 &\necho $! > "${join(fixture.base, 'slowbody.pid')}"\nwait\n`,
    // Its header section, then nothing: the response has not started when the timeout kills it.
    'stall.sh': '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\nexec sleep 60\n',
    'garbage.sh': '#!/bin/sh\necho "this is not a CGI header"\necho\necho body\n',
    'die.sh': '#!/bin/sh\necho "oops" >&2\nexit 3\n',
    'noheaders.sh': '#!/bin/sh\nprintf "X-Only: 1\\n\\nbody"\n',
    'huge-header.sh': '#!/bin/sh\nprintf "Content-Type: text/plain\\n"\nwhile true; do printf "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\n"; done\n',
    'big.sh': '#!/bin/sh\nprintf "Content-Type: application/octet-stream\\n\\n"\nhead -c 3000000 /dev/zero\n',
    'badinterp.sh': '#!/nonexistent/interpreter\n',
    '.hidden.sh': '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nhidden"\n',
  };
  for (const [name, text] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), text);
    chmodSync(join(dir, name), 0o755);
  }
  writeFileSync(join(dir, 'notexec.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(dir, 'notexec.sh'), 0o644);
  mkdirSync(join(dir, 'tools'));
  writeFileSync(join(dir, 'tools', 'pi.sh'), '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n%s|%s" "$SCRIPT_NAME" "$PATH_INFO"\n');
  chmodSync(join(dir, 'tools', 'pi.sh'), 0o755);
  symlinkSync('/bin/sh', join(dir, 'link-out-sh'));
  return dir;
}

export function serveInfo(overrides: Partial<ServeInfo> = {}): ServeInfo {
  return {
    remoteAddress: '127.0.0.1',
    remotePort: 54321,
    localAddress: '127.0.0.1',
    localPort: 8443,
    protocol: 'h2',
    scheme: 'https',
    sendInformational() {},
    waitUntil() {},
    ...overrides,
  };
}
