/**
 * ACME storage and failure wording without a CA: what counts as a stored certificate (never a placeholder, a torn
 * write or other names), private key modes, CA folder names, and the cause named for each RFC 8555 problem type.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AcmeStorage, caFolderName } from '../../src/acme/storage.js';
import { classifyAcmeError, describeChallengeFailure } from '../../src/acme/errors.js';
import { validateAcmeNames } from '../../src/acme/names.js';

const root = mkdtempSync(join(tmpdir(), 'httpsd-acme-storage-'));
after(() => rmSync(root, { recursive: true, force: true }));

function pair(names: string[]): { cert: string; key: string } {
  const dir = mkdtempSync(join(root, 'pair-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
  return { cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') };
}

describe('ACME storage', () => {
  const names = ['s.test', 'www.s.test'];
  const storage = new AcmeStorage(root, 'https://ca.example:14000/dir', names);

  it('keeps one folder per CA, named after its directory URL', () => {
    assert.equal(caFolderName('https://acme-v02.api.letsencrypt.org/directory'), 'acme-v02.api.letsencrypt.org-directory');
    assert.equal(caFolderName('https://127.0.0.1:14000/dir'), '127.0.0.1_14000-dir');
    assert.ok(storage.certFile.startsWith(join(root, 'ca.example_14000-dir', 'certificates', 's.test')));
  });

  it('never takes a placeholder for a stored certificate', async () => {
    await storage.prepare();
    const placeholder = pair(names);
    await storage.savePlaceholder(placeholder.cert, placeholder.key);
    assert.equal(await storage.load(names), undefined);
    assert.equal(statSync(storage.keyFile).mode & 0o777, 0o600);
    assert.equal(statSync(storage.certDir).mode & 0o777, 0o700);
  });

  it('loads a saved certificate for the same names only, and not after a torn write', async () => {
    const issued = pair(names);
    await storage.save(names, issued.cert, issued.key, Date.now());
    const loaded = await storage.load(['www.s.test', 's.test']);
    assert.ok(loaded);
    assert.equal(loaded.certPem, issued.cert);
    assert.equal(await storage.load(['s.test']), undefined, 'other names: a new order');
    // A crash after the new key landed but before the chain: the key no longer matches, meta no longer describes it.
    const other = pair(names);
    writeFileSync(storage.keyFile, other.key);
    assert.equal(await storage.load(names), undefined);
    writeFileSync(storage.keyFile, issued.key);
    writeFileSync(storage.certFile, other.cert);
    assert.equal(await storage.load(names), undefined);
  });

  it('creates the account key once, 0600, and reuses it', async () => {
    let created = 0;
    const make = async () => {
      created++;
      return pair(['account.test']).key;
    };
    const first = await storage.accountKey(make);
    const second = await storage.accountKey(make);
    assert.equal(first, second);
    assert.equal(created, 1);
    assert.equal(statSync(join(storage.caDir, 'account-key.pem')).mode & 0o777, 0o600);
  });
});

describe('ACME failure causes', () => {
  it('names the cause of each RFC 8555 problem type', () => {
    assert.match(describeChallengeFailure('a.test', 'http-01', 'urn:ietf:params:acme:error:connection', 'Fetching http://a.test/...: Timeout during connect'), /could not connect to a\.test on port 80: that port is not reachable/);
    assert.match(describeChallengeFailure('a.test', 'tls-alpn-01', 'urn:ietf:params:acme:error:unauthorized', 'Failed to connect to 203.0.113.7:443 for the tls-alpn-01 challenge'), /on port 443: that port is not reachable/);
    assert.match(describeChallengeFailure('a.test', 'http-01', 'urn:ietf:params:acme:error:dns', 'DNS problem: NXDOMAIN looking up A for a.test'), /DNS for a\.test does not point here/);
    assert.match(describeChallengeFailure('a.test', 'http-01', 'urn:ietf:params:acme:error:unauthorized', 'Invalid response from http://a.test/.well-known/acme-challenge/x: 404'), /DNS does not point to this machine, or a proxy.*\/\.well-known\/acme-challenge\//);
  });

  it('tells unreachable, rate-limited and refused apart', () => {
    const url = 'https://ca.example/dir';
    assert.equal(classifyAcmeError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), url).kind, 'unreachable');
    assert.equal(classifyAcmeError(Object.assign(new Error('x'), { response: { status: 429 } }), url).kind, 'rate-limited');
    assert.equal(classifyAcmeError(new Error('Error creating new order :: too many certificates already issued'), url).kind, 'rate-limited');
    assert.equal(classifyAcmeError(new Error('Order has invalid identifiers'), url).kind, 'rejected');
  });

  it('refuses wildcards (DNS-01 only), IP addresses and non-public names; normalizes the rest', () => {
    assert.throws(() => validateAcmeNames(['*.a.test']), /DNS-01/);
    assert.throws(() => validateAcmeNames(['192.0.2.1']), /IP address/);
    assert.throws(() => validateAcmeNames(['localhost']), /not a public DNS name/);
    assert.deepEqual(validateAcmeNames(['A.test.', 'a.test,www.a.test']), ['a.test', 'www.a.test']);
  });
});
