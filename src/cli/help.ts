/**
 * `httpsd --help` and `--version`: the option table rendered as grouped, wrapped help text.
 */
import { readFileSync } from 'node:fs';
import type { CliOption } from '../common/options.js';
import { OPTIONAL_VALUE_FLAGS, OPTION_GROUPS } from './argv.js';

export function packageVersion(): string {
  // src/cli/help.ts and dist/cli/help.js are both two levels below the package root.
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** Defaults the TLS and static option tables leave implicit, as a newcomer needs them spelled out in --help. */
const IMPLICIT_DEFAULTS: Record<string, string> = {
  'client-cert': 'none; require with --client-ca',
  cors: 'off',
  sni: 'none',
};

const HELP_WIDTH = 100;
const FLAG_COLUMN = 32;

/** Word-wraps `text` into lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function helpLine(option: CliOption): string[] {
  let flag = (option.short ? `-${option.short}, ` : '    ') + `--${option.name}`;
  if (option.type === 'string') {
    const valueName = (option.valueName ?? 'VALUE').replace(/^\[(.*)\]$/, '$1');
    flag += option.name in OPTIONAL_VALUE_FLAGS ? ` [${valueName}]` : ` ${valueName}`;
  }
  let description = option.description.replace(/\.?$/, '.');
  if (option.multiple && !/repeatable/i.test(description)) description += ' Repeatable.';
  const defaultText = option.defaultText ?? IMPLICIT_DEFAULTS[option.name];
  if (defaultText) description += ` Default: ${defaultText}.`;
  const text = wrap(description, HELP_WIDTH - FLAG_COLUMN - 3);
  const first = `  ${flag.padEnd(FLAG_COLUMN)} ${text[0] ?? ''}`;
  // A flag wider than its column gets its description on the next lines.
  const lines = flag.length >= FLAG_COLUMN ? [`  ${flag}`, ...text.map((part) => ' '.repeat(FLAG_COLUMN + 3) + part)] : [first, ...text.slice(1).map((part) => ' '.repeat(FLAG_COLUMN + 3) + part)];
  return lines;
}

export function helpText(): string {
  const lines = [
    'Usage: httpsd [ENTRY] [options]',
    '       httpsd cert [NAME...] [options]     local certificate authority (httpsd cert --help)',
    '',
    ...wrap(
      'Serves ENTRY over HTTPS (HTTP/2 and HTTP/1.1). ENTRY is a directory of static files (default: the current ' +
        'directory) or a module (.ts, .mts, .js, .mjs) exporting `default { fetch(request, info) }`, a default ' +
        'function, or a named `fetch` (-H and --cors apply to its responses too; the other static-file flags are refused). Without --cert/--key/--pfx a localhost certificate from the local CA is ' +
        'used; run `npx httpsd cert --install` once so that browsers and curl trust it.',
      HELP_WIDTH,
    ),
  ];
  for (const group of OPTION_GROUPS) {
    lines.push('', `${group.title}:`);
    for (const option of group.options) lines.push(...helpLine(option));
  }
  lines.push(
    '',
    'Environment:',
    '  Every option is also an HTTPSD_* variable; a flag on the command line wins over its variable.',
    '    HTTPSD_HTTP_PORT=8080           is --http-port 8080',
    '    HTTPSD_TRACE_FRAMES=1           is --trace-frames (on/off: 1, true, yes or 0, false, no, off)',
    "    HTTPSD_HEADER=$'A: 1\\nB: 2'     is -H 'A: 1' -H 'B: 2': repeatable options (--header, --sni)",
    '                                    take one value per line, as a value may contain commas',
    '  HTTPSD_CAROOT=DIR                 where the local CA keeps its files (see httpsd cert --help)',
    '',
    'Signals:',
    '  SIGINT, SIGTERM                   graceful shutdown: in-flight requests may finish',
    '                                    (--shutdown-timeout); a second signal exits at once',
    '  SIGHUP                            reload certificates and keys (HTTPS and HTTP/3); a failed reload',
    '                                    keeps the old ones',
    '  With --health, the health path answers 503 from the first signal on; --health-drain-delay keeps',
    '  serving that long before the drain. A module may export onListen(server) and onShutdown().',
    '  The server runs in worker processes (--workers) watched by the httpsd process: an exception the',
    '  app throws outside a request is logged with its file:line, and that worker is restarted.',
    '',
    'Examples:',
    '  httpsd                            serve the current directory on https://localhost:8443/',
    '  httpsd ./public --spa --cors -H "Cache-Control: public, max-age=60"',
    '  httpsd examples/hello.ts --http-port 8080 --access-log',
    '  httpsd app.ts --watch             development: reload app.ts when a file it loaded changes',
    '  httpsd app.ts --compress          br/gzip for the responses of app.ts that are worth it',
    '  httpsd app.mjs --cert site.pem --key site-key.pem --host 0.0.0.0 --port 443 --workers 2',
    '  httpsd app.ts --acme example.com --acme-email me@example.com --host 0.0.0.0 --port 443',
    '  httpsd app.ts --http-port 8080 --trust-proxy loopback     behind a reverse proxy on this machine',
    '  httpsd app.ts --unix /run/myapp/http.sock --unix-mode 660 --health /health   behind nginx',
    '  httpsd app.ts --fd 3              serve a socket passed by the parent (systemd: automatic)',
  );
  return lines.join('\n');
}
