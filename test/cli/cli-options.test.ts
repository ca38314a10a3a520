import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/cli/argv.js';
import { parseByteSize, parseServerOptions } from '../../src/cli/server-options.js';
import { UsageError } from '../../src/common/errors.js';

test('flags, HTTPSD_* variables (argv wins), and --access-log with and without a format', () => {
  const { values, positionals } = parseCommandLine(['app.ts', '-p', '9443', '--access-log', '--quiet'], {
    HTTPSD_PORT: '1234',
    HTTPSD_HTTP_PORT: '8080',
    HTTPSD_TRACE_FRAMES: '1',
  });
  assert.deepEqual(positionals, ['app.ts']);
  const settings = parseServerOptions(values);
  assert.equal(settings.port, 9443);
  assert.equal(settings.httpPort, 8080);
  assert.equal(settings.accessLog, 'combined');
  assert.equal(settings.traceFrames, true);
  assert.equal(settings.quiet, true);
  assert.equal(settings.host, 'localhost');

  assert.equal(parseServerOptions(parseCommandLine(['--access-log', 'json', 'app.ts'], {}).values).accessLog, 'json');
  assert.deepEqual(parseCommandLine(['--access-log', 'json', 'app.ts'], {}).positionals, ['app.ts']);
  assert.equal(parseServerOptions(parseCommandLine([], { HTTPSD_ACCESS_LOG: '1' }).values).accessLog, 'combined');
  assert.equal(parseServerOptions(parseCommandLine([], { HTTPSD_ACCESS_LOG: 'short' }).values).accessLog, 'short');
  assert.equal(parseServerOptions(parseCommandLine([], { HTTPSD_ACCESS_LOG: '0' }).values).accessLog, undefined);
  assert.equal(parseServerOptions(parseCommandLine(['--idle-timeout', '2.5'], {}).values).limits.idleTimeout, 2500);
  assert.equal(parseServerOptions(parseCommandLine(['--max-body-size', '512k'], {}).values).limits.maxBodySize, 512 * 1024);
});

test('bad values are UsageErrors naming the flag and the fix', () => {
  const bad: [string[], RegExp][] = [
    [['--port', '70000'], /--port 70000.*0–65535/],
    [['--workers', '0'], /--workers 0/],
    [['--access-log=fancy'], /--access-log fancy: unknown format/],
    [['--metrics', 'metrics'], /must start with "\/"/],
    [['--redirect-http'], /--redirect-http needs --http-port/],
    [['--max-body-size', 'lots'], /--max-body-size lots/],
  ];
  for (const [argv, message] of bad) {
    assert.throws(() => parseServerOptions(parseCommandLine(argv, {}).values), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${argv.join(' ')}: ${String(error)}`);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(() => parseCommandLine(['a.ts', 'b.ts'], {}), /one ENTRY expected/);
  assert.throws(() => parseCommandLine(['--nope'], {}), UsageError);
  assert.equal(parseByteSize('1g', 'x'), 1024 ** 3);
});
