/**
 * examples/chat.ts through the real command: a page and a WebSocket endpoint that Chromium (headless, Debian
 * chromium) uses over HTTP/2 — RFC 8441 extended CONNECT, which Chromium uses when the server advertises
 * SETTINGS_ENABLE_CONNECT_PROTOCOL — and over HTTP/1.1 (--disable-http2), with the npm `ws` client in the room.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import { makeCertificate } from '../support/certs.js';
import { startCli } from '../support/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const EXAMPLE = new URL('../../examples/chat.ts', import.meta.url).pathname;

/** Resolves with the first message matching `predicate`, rejects after `timeoutMs`. */
function nextMessage(ws: WebSocket, predicate: (text: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no matching message in time')), timeoutMs);
    ws.on('message', (data) => {
      const text = data.toString();
      if (!predicate(text)) return;
      clearTimeout(timer);
      resolve(text);
    });
  });
}

for (const protocol of ['h2', 'http/1.1'] as const) {
  test(`Chromium chats through examples/chat.ts over ${protocol === 'h2' ? 'HTTP/2 (RFC 8441)' : 'HTTP/1.1'}`, { timeout: 240_000 }, async () => {
    if (!existsSync(CHROMIUM)) assert.fail(`Chromium is not installed (${CHROMIUM}). Fix: apt-get install -y chromium`);
    const certificate = makeCertificate();
    const cli = await startCli([EXAMPLE, '--port', '0', '--cert', certificate.certFile, '--key', certificate.keyFile, '--access-log', 'short'], { timeoutMs: 60_000 });
    const profile = mkdtempSync(join(tmpdir(), 'httpsd-chat-chromium-'));
    const origin = `https://localhost:${cli.port}`;
    const observer = new WebSocket(`wss://localhost:${cli.port}/chat?name=observer`, { ca: certificate.cert, origin });
    let chromium: ReturnType<typeof spawn> | undefined;
    try {
      await new Promise((resolve, reject) => {
        observer.once('open', resolve);
        observer.once('error', reject);
      });
      const said = `hello-from-chromium-${protocol}`;
      const heard = nextMessage(observer, (text) => text === `chromium: ${said}`, 150_000);
      const spki = new X509Certificate(certificate.cert).publicKey.export({ type: 'spki', format: 'der' });
      const pin = createHash('sha256').update(spki).digest('base64');
      chromium = spawn(
        CHROMIUM,
        [
          '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`,
          '--host-resolver-rules=MAP localhost 127.0.0.1', `--ignore-certificate-errors-spki-list=${pin}`,
          '--remote-debugging-port=0', ...(protocol === 'http/1.1' ? ['--disable-http2'] : []),
          `${origin}/?name=chromium&say=${said}`,
        ],
        { stdio: 'ignore' },
      );
      // The page joined the room and its message reached another member.
      assert.equal(await heard, `chromium: ${said}`);
      // The access log says how the page's WebSocket came: an extended CONNECT on HTTP/2, a 101 on HTTP/1.1.
      const lines = cli.stdout().split('\n').filter((line) => line.includes('/chat?name=chromium'));
      assert.ok(lines.length > 0, cli.stdout());
      assert.match(lines[0]!, protocol === 'h2' ? /CONNECT \/chat\?name=chromium HTTP\/2\.0" 200/ : /GET \/chat\?name=chromium HTTP\/1\.1" 101/);
    } finally {
      chromium?.kill('SIGKILL');
      observer.terminate();
      await cli.stop();
      rmSync(profile, { recursive: true, force: true });
    }
  });
}
