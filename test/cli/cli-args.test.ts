/**
 * Argument and environment parsing of the `httpsd` command: flags with an optional value, and HTTPSD_* variables
 * of repeatable options whose values contain commas.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attributeToEnvironment, parseCommandLine } from '../../src/cli/argv.js';
import { helpText } from '../../src/cli/help.js';
import { SERVER_CLI_OPTIONS, parseServerOptions } from '../../src/cli/server-options.js';
import { STATIC_CLI_OPTIONS } from '../../src/static/cli.js';
import { TLS_CLI_OPTIONS } from '../../src/tls/cli.js';
import { staticOptionsFromCli } from '../../src/static/cli.js';
import { tlsConfigFromCli } from '../../src/tls/cli.js';

test('--cors alone means *, and takes * or an http(s) origin as its value, never the ENTRY', () => {
  const alone = parseCommandLine(['--cors'], {});
  assert.equal(alone.values.cors, '*');
  assert.equal(staticOptionsFromCli(alone.values).cors, true);

  // Given last or before the ENTRY, the directory stays the ENTRY.
  const beforeEntry = parseCommandLine(['--cors', './public'], {});
  assert.deepEqual(beforeEntry.positionals, ['./public']);
  assert.equal(staticOptionsFromCli(beforeEntry.values).cors, true);
  const afterEntry = parseCommandLine(['./public', '--cors', '--spa'], {});
  assert.deepEqual(afterEntry.positionals, ['./public']);
  assert.equal(afterEntry.values.cors, '*');
  assert.equal(afterEntry.values.spa, true);

  assert.equal(parseCommandLine(['--cors', '*', 'site'], {}).values.cors, '*');
  const origin = parseCommandLine(['--cors', 'https://app.example.test', 'site'], {});
  assert.equal(origin.values.cors, 'https://app.example.test');
  assert.deepEqual(origin.positionals, ['site']);
  assert.equal(staticOptionsFromCli(origin.values).cors, 'https://app.example.test');
  assert.equal(parseCommandLine(['--cors', 'http://localhost:3000'], {}).values.cors, 'http://localhost:3000');
  assert.equal(parseCommandLine(['--cors=https://a.example.test'], {}).values.cors, 'https://a.example.test');

  // After `--` everything is positional, even a lone --cors.
  assert.deepEqual(parseCommandLine(['--', '--cors'], {}).positionals, ['--cors']);
});

test('--access-log keeps its optional FORMAT', () => {
  assert.equal(parseCommandLine(['--access-log'], {}).values['access-log'], 'combined');
  assert.equal(parseCommandLine(['--access-log', 'short', 'app.ts'], {}).values['access-log'], 'short');
  assert.deepEqual(parseCommandLine(['--access-log', 'app.ts'], {}).positionals, ['app.ts']);
});

test('HTTPSD_HEADER: one header per line, so values with commas survive', () => {
  const { values } = parseCommandLine([], {
    HTTPSD_HEADER: 'Cache-Control: public, max-age=60\nX-Frame-Options: DENY\r\n\n',
  });
  assert.deepEqual(values.header, ['Cache-Control: public, max-age=60', 'X-Frame-Options: DENY']);
  assert.deepEqual(staticOptionsFromCli(values).headers, { 'Cache-Control': 'public, max-age=60', 'X-Frame-Options': 'DENY' });

  // One header, no newline at all.
  assert.deepEqual(parseCommandLine([], { HTTPSD_HEADER: 'Vary: Accept, Accept-Encoding' }).values.header, ['Vary: Accept, Accept-Encoding']);
  // argv wins over the environment.
  assert.deepEqual(parseCommandLine(['-H', 'A: b'], { HTTPSD_HEADER: 'C: d' }).values.header, ['A: b']);
});

test('HTTPSD_SNI: NAME=CERT,KEY per line (the comma is part of the value)', () => {
  const { values } = parseCommandLine([], { HTTPSD_SNI: 'a.example.test=a.pem,a-key.pem\nb.example.test=b.p12' });
  assert.deepEqual(values.sni, ['a.example.test=a.pem,a-key.pem', 'b.example.test=b.p12']);
  const { tls } = tlsConfigFromCli({ ...values, cert: 'site.pem', key: 'site-key.pem' });
  assert.ok(tls);
  assert.equal(JSON.stringify(tls.sni), JSON.stringify({ 'a.example.test': { cert: 'a.pem', key: 'a-key.pem' }, 'b.example.test': { pfx: 'b.p12' } }));
});

test('--help: every flag described with its default, grouped, within 100 columns, the environment rules stated', () => {
  const help = helpText();
  const lines = help.split('\n');
  for (const line of lines) assert.ok(line.length <= 100, `help line longer than 100 columns: ${line}`);
  for (const option of [...SERVER_CLI_OPTIONS, ...TLS_CLI_OPTIONS, ...STATIC_CLI_OPTIONS]) {
    const at = lines.findIndex((line) => new RegExp(`^  (-${option.short}, |    )--${option.name}\\b`).test(line));
    assert.ok(at >= 0, `--${option.name} is not listed`);
    // The description: this line and its continuation lines (indented past the flag column).
    let text = lines[at]!;
    for (let i = at + 1; i < lines.length && /^ {20,}\S/.test(lines[i]!); i++) text += ' ' + lines[i]!.trim();
    assert.ok(text.replace(/^\s*\S.*?\s{2,}/, '').length > 10, `--${option.name} has no description`);
    if (option.defaultText) assert.ok(text.includes(`Default: ${option.defaultText}.`), `--${option.name}: default not shown: ${text}`);
  }
  for (const title of ['Listening:', 'TLS:', 'Static files (when ENTRY is a directory):', 'Logging and metrics:', 'Limits:', 'General:', 'Environment:', 'Signals:']) {
    assert.ok(lines.includes(title), `no "${title}" section`);
  }
  assert.match(help, /--access-log \[FORMAT\]/);
  assert.match(help, /--cors \[ORIGIN\]/);
  assert.match(help, /HTTPSD_HTTP_PORT=8080 +is --http-port 8080/);
  assert.match(help, /one value per line/);
  assert.match(help, /a flag on the command line wins/);
  assert.match(help, /npx httpsd cert --install/);
});

test('usage errors: a value from HTTPSD_* is attributed to its variable; the same port twice is refused up front', () => {
  assert.equal(
    attributeToEnvironment('--port abc: not a port number.', ['port']),
    '--port abc: not a port number. (--port was set by the environment variable HTTPSD_PORT)',
  );
  // Only options named in the message, and never a longer option that merely starts with the name.
  assert.equal(attributeToEnvironment('--port-range x: bad.', ['port']), '--port-range x: bad.');
  assert.equal(attributeToEnvironment('--http-port 1: bad.', ['port']), '--http-port 1: bad.');
  assert.deepEqual(parseCommandLine([], { HTTPSD_PORT: '9000', HTTPSD_SPA: '1' }).fromEnvironment.sort(), ['port', 'spa']);
  assert.throws(() => parseServerOptions(parseCommandLine(['--port', '9443', '--http-port', '9443'], {}).values), /--http-port 9443 is the same as --port/);
  assert.throws(() => parseCommandLine(['--port'], {}), (error: Error) => /argument missing\. Run httpsd --help/.test(error.message));
});
