import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError } from '../../src/common/errors.js';
import type { CliValues } from '../../src/common/options.js';
import { TLS_CLI_OPTIONS, tlsConfigFromCli, tlsPolicyFromCli } from '../../src/tls/cli.js';
import { checkCertificateCoversHost, createTlsProvider } from '../../src/tls/index.js';
import { parseTlsVersion } from '../../src/tls/profiles.js';
import { TestCa, tempDir } from './helpers.js';

/** Parses argv the way the httpsd command does with node:util parseArgs and our option table. */
function cli(args: string[]) {
  const options = Object.fromEntries(TLS_CLI_OPTIONS.map((o) => [o.name, { type: o.type, multiple: o.multiple ?? false }]));
  const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
  return tlsConfigFromCli(values as CliValues);
}

function usage(args: string[], ...patterns: RegExp[]) {
  assert.throws(
    () => cli(args),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, String(e));
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
}

describe('TLS command-line flags', () => {
  test('every flag is declared once with a description', () => {
    const names = TLS_CLI_OPTIONS.map((o) => o.name);
    assert.equal(new Set(names).size, names.length);
    for (const flag of ['cert', 'key', 'pfx', 'key-passphrase', 'key-passphrase-file', 'tls-profile', 'tls-min', 'tls-max', 'ciphers', 'curves', 'alpn', 'sni', 'client-ca', 'client-cert', 'tls-keylog', 'no-session-tickets', 'watch-certs']) {
      assert.ok(names.includes(flag), flag);
    }
    assert.ok(TLS_CLI_OPTIONS.every((o) => o.description.length > 10));
  });

  test('no --cert/--pfx: tls is undefined (local CA fallback), alpn still parsed', () => {
    assert.deepEqual(cli([]), { tls: undefined, alpn: undefined });
    assert.deepEqual(cli(['--alpn', 'http/1.1,h2']), { tls: undefined, alpn: ['http/1.1', 'h2'] });
    assert.deepEqual(cli(['--alpn', 'h2']).alpn, ['h2']);
  });

  test('a full set of flags becomes a TlsConfig', () => {
    const { tls, alpn } = cli([
      '--cert', 'c.pem', '--key', 'k.pem', '--key-passphrase-file', 'p.txt', '--tls-profile', 'modern', '--tls-min', '1.2', '--tls-max', 'TLSv1.3',
      '--ciphers', 'intermediate', '--curves', 'X25519,P-256', '--sni', 'api.test=a.pem,a.key', '--sni', '*.b.test=b.p12',
      '--client-ca', 'ca.pem', '--client-cert', 'request', '--tls-keylog', 'keys.log', '--no-session-tickets', '--watch-certs',
    ]);
    assert.equal(alpn, undefined);
    assert.deepEqual(tls, {
      cert: 'c.pem', key: 'k.pem', passphraseFile: 'p.txt', profile: 'modern', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', ciphers: 'intermediate',
      curves: ['X25519', 'P-256'], sni: { 'api.test': { cert: 'a.pem', key: 'a.key' }, '*.b.test': { pfx: 'b.p12' } }, clientCa: 'ca.pem',
      clientCert: 'request', keylogFile: 'keys.log', sessionTickets: false, watch: true,
    });
    assert.deepEqual(cli(['--pfx', 's.p12', '--key-passphrase', 'x']).tls, { pfx: 's.p12', passphrase: 'x' });
  });

  test('policy flags survive without a certificate for the local-CA fallback', () => {
    assert.deepEqual(tlsPolicyFromCli({ 'tls-profile': 'modern', 'client-ca': 'ca.pem' }), { profile: 'modern', clientCa: 'ca.pem' });
  });

  test('bad values are UsageErrors naming the flag and the accepted values', () => {
    usage(['--tls-profile', 'paranoid'], /--tls-profile paranoid/, /modern, intermediate, old/);
    usage(['--tls-min', '1.4'], /--tls-min 1\.4/, /1\.2, 1\.3/);
    usage(['--tls-max', 'ssl3'], /--tls-max/);
    usage(['--tls-min', '1.3', '--tls-max', '1.2'], /--tls-min/);
    usage(['--alpn', 'h3,h2'], /--alpn/, /"h3"/, /h2, http\/1\.1/);
    usage(['--alpn', 'h2,h2'], /twice/);
    usage(['--alpn', ','], /--alpn is empty/);
    usage(['--cert', 'c.pem'], /--key/);
    usage(['--key', 'k.pem'], /--cert/);
    usage(['--pfx', 'a.p12', '--cert', 'c.pem', '--key', 'k.pem'], /--pfx/);
    usage(['--client-cert', 'maybe', '--client-ca', 'ca.pem'], /--client-cert maybe/, /request and require/);
    usage(['--client-cert', 'require'], /--client-ca/);
    usage(['--sni', 'nofiles'], /--sni/, /NAME=CERT,KEY/);
    usage(['--sni', 'a.test=only-one.pem', '--cert', 'c', '--key', 'k'], /--sni/);
    usage(['--sni', 'a.*.test=c,k', '--cert', 'c', '--key', 'k'], /--sni/, /wildcard/);
    usage(['--sni', 'a.test=c,k'], /--sni needs a default certificate/);
    usage(['--key-passphrase', 'x', '--key-passphrase-file', 'f', '--cert', 'c', '--key', 'k'], /cannot both/);
  });

  test('version spellings', () => {
    assert.equal(parseTlsVersion('1.2'), 'TLSv1.2');
    assert.equal(parseTlsVersion('TLSv1.3'), 'TLSv1.3');
    assert.equal(parseTlsVersion('tls1_1'), 'TLSv1.1');
    assert.equal(parseTlsVersion('1.0'), 'TLSv1');
    assert.equal(parseTlsVersion('TLSv1'), 'TLSv1');
    assert.equal(parseTlsVersion('1.4'), undefined);
    assert.equal(parseTlsVersion('SSLv3'), undefined);
  });
});

describe('checkCertificateCoversHost', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let certPem: string;
  let ca: TestCa;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    ca = await TestCa.create(dir);
    const pair = await ca.issue('multi', { sans: ['DNS:localhost', 'DNS:*.dev.test', 'IP:127.0.0.1', 'IP:::1'] });
    certPem = await readFile(pair.certPath, 'utf8');
  });
  after(() => cleanup());

  test('covered names give null', () => {
    for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '::1', '[::1]', 'app.dev.test', '0.0.0.0', '::']) {
      assert.equal(checkCertificateCoversHost(certPem, host), null, host);
    }
  });
  test('uncovered names give a warning naming the host and the fix', () => {
    for (const host of ['example.com', 'dev.test', 'a.b.dev.test', '10.0.0.1', '::2']) {
      const warning = checkCertificateCoversHost(certPem, host);
      assert.ok(warning, host);
      assert.match(warning, new RegExp(`"${host.replace(/[.*]/g, '\\$&')}"`));
      assert.match(warning, /httpsd cert/);
      assert.match(warning, /DNS:localhost/);
    }
  });
  test('the subject CN alone does not count (RFC 6125 §6.4.4; browsers ignore it)', async () => {
    const noSan = await ca.issue('nosan', { cn: 'nosan.test' });
    const pem = await readFile(noSan.certPath, 'utf8');
    assert.match(checkCertificateCoversHost(pem, 'nosan.test') ?? '', /no subjectAltName/);
  });
  test('the banner describes profile, versions, subject, SANs, issuer and expiry', async () => {
    const provider = await createTlsProvider({ cert: certPem, key: await readFile(`${dir}/ca/multi.key`, 'utf8'), onWarning: () => {} });
    const text = provider.describe().join('\n');
    provider.close();
    assert.match(text, /TLS profile intermediate .*TLSv1\.2–TLSv1\.3/);
    assert.match(text, /Certificate: CN=localhost/);
    assert.match(text, /DNS:\*\.dev\.test/);
    assert.match(text, /issuer: CN=httpsd test CA; expires \d{4}-/);
    assert.match(text, /Session tickets on \(key rotated every 12 h\)/);
  });
});
