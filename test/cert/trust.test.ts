import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { installTrust, loadOrCreateCA, uninstallTrust, type LocalCA, type TrustOptions } from '../../src/cert/index.js';
import { cli, sandbox, tool, type Sandbox } from './helpers.js';

/** Temporary stores only: these tests must never reach the machine's real trust store. */
function temporaryStores(box: Sandbox, nssDatabases: string[]): TrustOptions {
  return { systemDir: join(box.dir, 'system-anchors'), skipSystemUpdate: true, nssDatabases, stores: ['system', 'nss', 'java'] };
}

async function createNssDatabase(folder: string): Promise<void> {
  mkdirSync(folder, { recursive: true });
  const made = await tool('certutil', ['-N', '-d', `sql:${folder}`, '--empty-password']);
  assert.equal(made.code, 0, made.stderr);
}

async function nssList(folder: string): Promise<string> {
  const listed = await tool('certutil', ['-L', '-d', `sql:${folder}`]);
  assert.equal(listed.code, 0, listed.stderr);
  return listed.stdout;
}

describe('trust stores: --install / --uninstall against temporary stores', () => {
  let box: Sandbox;
  let nssA: string;
  let nssB: string;
  let trust: TrustOptions;
  before(async () => {
    box = sandbox();
    nssA = join(box.dir, 'nss-firefox');
    nssB = join(box.dir, 'nss-chromium');
    await createNssDatabase(nssA);
    await createNssDatabase(nssB);
    mkdirSync(join(box.dir, 'system-anchors'));
    trust = temporaryStores(box, [nssA, nssB]);
  });
  after(() => box.cleanup());

  test('--install creates the CA, adds it to every NSS database and the system folder, and reports manual steps', async () => {
    // A keytool on PATH: Java is installed, so its own store gets a manual step.
    const javaBin = join(box.dir, 'java-bin');
    mkdirSync(javaBin);
    writeFileSync(join(javaBin, 'keytool'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const run = await cli(box, ['--install'], { ...trust, env: { ...box.env, PATH: `${javaBin}${delimiter}${box.env.PATH ?? ''}` } });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /Created a new local CA/);
    for (const db of [nssA, nssB]) {
      assert.match(await nssList(db), /httpsd development CA [0-9a-f]{16}\s+C,,/);
      assert.match(run.stdout, new RegExp(`installed\\s+NSS sql:${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    }
    const anchors = readdirSync(join(box.dir, 'system-anchors'));
    assert.equal(anchors.length, 1);
    assert.match(anchors[0]!, /^httpsd-development-CA-[0-9a-f]{16}\.crt$/);
    assert.equal(readFileSync(join(box.dir, 'system-anchors', anchors[0]!), 'utf8').trim(), readFileSync(join(box.caroot, 'rootCA.pem'), 'utf8').trim());
    assert.match(run.stdout, /manual\s+Java: .*keytool -importcert/);
    assert.match(run.stdout, /manual\s+Node\.js: .*NODE_EXTRA_CA_CERTS=.*rootCA\.pem.*--use-system-ca/);
  });

  test('without Java (no keytool on PATH, no JAVA_HOME) there is no Java step', async () => {
    const emptyBin = join(box.dir, 'empty-bin');
    mkdirSync(emptyBin);
    const run = await cli(box, ['--install'], { ...trust, stores: ['java'], env: { ...box.env, PATH: emptyBin } });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.doesNotMatch(run.stdout, /Java|keytool/);
  });

  test('installing again reports every store as already installed', async () => {
    const run = await cli(box, ['--install'], trust);
    assert.equal(run.code, 0);
    assert.equal((run.stdout.match(/^  already /gm) ?? []).length, 3, run.stdout);
    assert.equal((await nssList(nssA)).match(/httpsd development CA/g)?.length, 1, 'no duplicate entry');
  });

  test('one failing store does not stop the others, and the exit code says something failed', async () => {
    const other = sandbox();
    try {
      const good = join(other.dir, 'nss-good');
      await createNssDatabase(good);
      mkdirSync(join(other.dir, 'system-anchors'));
      // The first database does not exist: certutil fails there; the next database and the system folder still work.
      const run = await cli(other, ['--install'], temporaryStores(other, [join(other.dir, 'no-such-db'), good]));
      assert.equal(run.code, 1);
      assert.match(run.stdout, /FAILED\s+NSS sql:.*no-such-db/);
      assert.match(run.stdout, /installed\s+NSS sql:.*nss-good/);
      assert.match(run.stdout, /installed\s+system store folder/);
      assert.match(await nssList(good), /httpsd development CA/);
      assert.equal(readdirSync(join(other.dir, 'system-anchors')).length, 1);
    } finally {
      other.cleanup();
    }
  });

  test('a system folder that cannot be written is reported with the manual command', async () => {
    const ca = await loadOrCreateCA(box.caroot, { create: false });
    const results = await installTrust(ca.certFile, ca.certPem, { systemDir: join(box.dir, 'missing', 'dir'), skipSystemUpdate: true, stores: ['system'] });
    assert.equal(results[0]!.status, 'failed');
    assert.match(results[0]!.detail, /run by hand: sudo cp/);
  });

  test('--uninstall removes the CA from every store and keeps the CA files', async () => {
    const run = await cli(box, ['--uninstall'], trust);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    for (const db of [nssA, nssB]) assert.doesNotMatch(await nssList(db), /httpsd development CA/);
    assert.deepEqual(readdirSync(join(box.dir, 'system-anchors')), []);
    assert.match(run.stdout, /removed\s+NSS/);
    assert.ok(readFileSync(join(box.caroot, 'rootCA.pem')));
    const again = await cli(box, ['--uninstall'], trust);
    assert.equal(again.code, 0);
    assert.equal((again.stdout.match(/^  not there /gm) ?? []).length, 3, again.stdout);
  });

  test('stores are selectable, and uninstall only removes this root (another root in the same database stays)', async () => {
    const otherBox = sandbox();
    try {
      const other: LocalCA = await loadOrCreateCA(otherBox.caroot);
      const mine = await loadOrCreateCA(box.caroot, { create: false });
      await installTrust(other.certFile, other.certPem, { nssDatabases: [nssA], stores: ['nss'] });
      await installTrust(mine.certFile, mine.certPem, { nssDatabases: [nssA], stores: ['nss'] });
      assert.equal((await nssList(nssA)).match(/httpsd development CA/g)?.length, 2);
      const results = await uninstallTrust(mine.certFile, mine.certPem, { nssDatabases: [nssA], stores: ['nss'] });
      assert.deepEqual(results.map((r) => r.status), ['removed']);
      const remaining = await nssList(nssA);
      assert.equal(remaining.match(/httpsd development CA/g)?.length, 1);
      assert.ok(remaining.includes(other.certificate.serialNumber.toLowerCase().slice(0, 16)));
    } finally {
      otherBox.cleanup();
    }
  });

  test('--uninstall without a CA says there is nothing to do and creates nothing', async () => {
    const empty = sandbox();
    try {
      writeFileSync(join(empty.dir, 'marker'), '');
      const run = await cli(empty, ['--uninstall'], temporaryStores(empty, []));
      assert.equal(run.code, 0);
      assert.match(run.stdout, /No local CA .*nothing to uninstall/);
      assert.deepEqual(readdirSync(empty.dir), ['marker']);
    } finally {
      empty.cleanup();
    }
  });
});

describe('trust options from the environment', () => {
  test('HTTPSD_TRUST_* variables are read, explicit options win', async () => {
    const { resolveTrustOptions } = await import('../../src/cert/index.js');
    const env = {
      HTTPSD_TRUST_SYSTEM_DIR: '/tmp/anchors',
      HTTPSD_TRUST_SKIP_SYSTEM_UPDATE: '1',
      HTTPSD_TRUST_NSS_DBS: '/tmp/a:/tmp/b',
      HTTPSD_TRUST_STORES: 'system, NSS',
    };
    const resolved = resolveTrustOptions({ env, platform: 'linux' });
    assert.equal(resolved.systemDir, '/tmp/anchors');
    assert.equal(resolved.skipSystemUpdate, true);
    assert.deepEqual(resolved.nssDatabases, ['/tmp/a', '/tmp/b']);
    assert.deepEqual(resolved.stores, ['system', 'nss']);
    assert.deepEqual(resolveTrustOptions({ env: { HTTPSD_TRUST_NSS_DBS: 'C:\\a;D:\\b' }, platform: 'win32' }).nssDatabases, ['C:\\a', 'D:\\b']);
    const explicit = resolveTrustOptions({ env, platform: 'linux', systemDir: '/x', skipSystemUpdate: false, nssDatabases: [], stores: ['java'] });
    assert.equal(explicit.systemDir, '/x');
    assert.equal(explicit.skipSystemUpdate, false);
    assert.deepEqual(explicit.nssDatabases, []);
    assert.deepEqual(explicit.stores, ['java']);
    const empty = resolveTrustOptions({ env: {}, platform: 'linux' });
    assert.equal(empty.systemDir, undefined);
    assert.equal(empty.nssDatabases, undefined);
    assert.equal(empty.skipSystemUpdate, false);
  });

  test('NSS discovery finds Firefox profiles and ~/.pki/nssdb under HOME only when a database exists', async () => {
    const { discoverNssDatabases } = await import('../../src/cert/index.js');
    const home = sandbox();
    try {
      const profile = join(home.dir, '.mozilla', 'firefox', 'abc.default-release');
      const emptyProfile = join(home.dir, '.mozilla', 'firefox', 'empty');
      const chromium = join(home.dir, '.pki', 'nssdb');
      mkdirSync(emptyProfile, { recursive: true });
      await createNssDatabase(profile);
      await createNssDatabase(chromium);
      const found = discoverNssDatabases({ HOME: home.dir }, 'linux').sort();
      assert.deepEqual(found, [chromium, profile].sort());
    } finally {
      home.cleanup();
    }
  });
});
