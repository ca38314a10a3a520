/**
 * HTTP/3 interop with Chromium (headless): QUIC forced on for our origin, our self-signed certificate accepted by
 * its SPKI pin (plain --ignore-certificate-errors does not apply to QUIC), the page's DOM dumped and compared, and
 * the request the server saw checked for Chromium's user-agent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '../support/certs.js';
import { run } from '../support/server.js';
import { startH3Server } from './h3-server.js';

const CHROMIUM = '/usr/bin/chromium';
const INSTALL = 'apt-get install -y chromium';
const MARKER = 'served over HTTP/3 by httpsd';

test('Chromium loads a page over HTTP/3', { timeout: 240_000 }, async () => {
  if (!existsSync(CHROMIUM)) assert.fail(`Chromium is not installed (${CHROMIUM}); install it with: ${INSTALL}`);
  const root = mkdtempSync(join(tmpdir(), 'httpsd-h3-chromium-'));
  const profile = mkdtempSync(join(tmpdir(), 'httpsd-h3-chromium-profile-'));
  writeFileSync(join(root, 'index.html'), `<!doctype html><html><head><title>h3</title></head><body><p id="m">${MARKER}</p></body></html>`);
  const server = await startH3Server(root);
  try {
    const spki = new X509Certificate(makeCertificate().cert).publicKey.export({ type: 'spki', format: 'der' });
    const pin = createHash('sha256').update(spki).digest('base64');
    const origin = `localhost:${server.port}`;
    const result = await run(
      CHROMIUM,
      [
        '--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`,
        '--enable-quic', `--origin-to-force-quic-on=${origin}`, '--host-resolver-rules=MAP localhost 127.0.0.1',
        `--ignore-certificate-errors-spki-list=${pin}`, '--dump-dom', `https://${origin}/`,
      ],
      { timeoutMs: 180_000 },
    );
    const dom = result.stdout.toString();
    assert.ok(dom.includes(`<p id="m">${MARKER}</p>`), `no page in Chromium's DOM (exit ${result.code}):\n${dom}\n${result.stderr.split('\n').filter((line) => !line.includes('dbus')).slice(-10).join('\n')}`);
    const page = server.seen.find((request) => request.path === '/');
    assert.ok(page, JSON.stringify(server.seen));
    assert.equal(page.method, 'GET');
    assert.match(page.userAgent ?? '', /Chrome\//);
    assert.ok(server.endpoint.stats.handshakes >= 1);
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
});
