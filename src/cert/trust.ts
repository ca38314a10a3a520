/**
 * Installing the local root into trust stores, and removing it. Every store is handled on its own: a failing store
 * is reported and the others still run. Locations are overridable (HTTPSD_TRUST_*) so tests use temporary stores.
 */
import { createHash } from 'node:crypto';
import { promises as fs, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { x509 } from './x509.js';
import { exists } from './files.js';
import { run, which, type RunResult } from './run.js';

export type StoreStatus = 'installed' | 'already-installed' | 'removed' | 'not-installed' | 'failed' | 'manual' | 'skipped';

export interface StoreResult {
  store: string;
  status: StoreStatus;
  /** What was done, or the exact manual step. */
  detail: string;
}

export interface TrustOptions {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  /** Folder for the system store's anchor file instead of the distribution's (HTTPSD_TRUST_SYSTEM_DIR). */
  systemDir?: string;
  /** Do not run update-ca-certificates / update-ca-trust after changing the folder (HTTPSD_TRUST_SKIP_SYSTEM_UPDATE=1). */
  skipSystemUpdate?: boolean;
  /** NSS database folders to use instead of the discovered Firefox/Chromium ones (HTTPSD_TRUST_NSS_DBS, PATH-style list). */
  nssDatabases?: string[];
  /** Which stores to touch (HTTPSD_TRUST_STORES, comma list of system, nss, java). Default: all. */
  stores?: string[];
}

interface CaIdentity {
  certFile: string;
  certPem: string;
  /** Nickname in NSS, file name stem in system folders; unique per root so two roots never collide. */
  nickname: string;
  fileStem: string;
  serial: string;
  sha1: string;
}

export function caIdentity(certFile: string, certPem: string): CaIdentity {
  const certificate = new x509.X509Certificate(certPem);
  const serial = certificate.serialNumber.toLowerCase();
  const short = serial.slice(0, 16);
  const sha1 = createHash('sha1').update(Buffer.from(certificate.rawData)).digest('hex').toUpperCase();
  return { certFile, certPem, nickname: `httpsd development CA ${short}`, fileStem: `httpsd-development-CA-${short}`, serial, sha1 };
}

/** Explicit options win; HTTPSD_TRUST_* environment variables fill the rest. */
export function resolveTrustOptions(options: TrustOptions): Required<Pick<TrustOptions, 'env' | 'platform'>> & TrustOptions {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  const listSeparator = platform === 'win32' ? ';' : ':';
  return {
    ...options,
    env,
    platform,
    systemDir: options.systemDir ?? (env.HTTPSD_TRUST_SYSTEM_DIR || undefined),
    skipSystemUpdate: options.skipSystemUpdate ?? ['1', 'true', 'yes'].includes((env.HTTPSD_TRUST_SKIP_SYSTEM_UPDATE ?? '').toLowerCase()),
    nssDatabases:
      options.nssDatabases ??
      (env.HTTPSD_TRUST_NSS_DBS !== undefined ? env.HTTPSD_TRUST_NSS_DBS.split(listSeparator).filter(Boolean) : undefined),
    stores:
      options.stores ??
      (env.HTTPSD_TRUST_STORES ? env.HTTPSD_TRUST_STORES.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean) : undefined),
  };
}

function wants(options: TrustOptions, store: string): boolean {
  return !options.stores || options.stores.includes(store);
}

function describeFailure(result: RunResult): string {
  return result.stderr.split('\n').filter(Boolean).slice(-3).join(' / ') || `exit code ${result.code}`;
}

// ---------------------------------------------------------------------------------------------------------------
// System stores

interface LinuxSystemStore {
  label: string;
  folder: string;
  extension: string;
  update: string[];
  /** Arch/p11-kit: the tool stores the anchor itself. */
  tool?: 'trust';
}

function detectLinuxStore(env: NodeJS.ProcessEnv): LinuxSystemStore | undefined {
  const isDir = (path: string) => {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  };
  // Fedora/RHEL/CentOS: p11-kit anchors + update-ca-trust (update-ca-trust(8)).
  if (isDir('/etc/pki/ca-trust/source/anchors') && which('update-ca-trust', env)) {
    return { label: 'Fedora/RHEL', folder: '/etc/pki/ca-trust/source/anchors', extension: '.pem', update: ['update-ca-trust', 'extract'] };
  }
  // Debian/Ubuntu: update-ca-certificates(8) only picks up *.crt files in this folder.
  if (isDir('/usr/local/share/ca-certificates') && which('update-ca-certificates', env)) {
    return { label: 'Debian/Ubuntu', folder: '/usr/local/share/ca-certificates', extension: '.crt', update: ['update-ca-certificates'] };
  }
  // openSUSE.
  if (isDir('/etc/pki/trust/anchors') && which('update-ca-certificates', env)) {
    return { label: 'openSUSE', folder: '/etc/pki/trust/anchors', extension: '.pem', update: ['update-ca-certificates'] };
  }
  // Arch and other p11-kit systems: `trust anchor` stores and extracts in one step.
  if (which('trust', env)) return { label: 'p11-kit (Arch)', folder: '', extension: '', update: [], tool: 'trust' };
  return undefined;
}

/** Runs a privileged command: directly as root, through sudo otherwise (non-interactive when there is no terminal). */
async function runPrivileged(command: string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) return run(command[0]!, command.slice(1), { env, input });
  if (!which('sudo', env)) return { code: 126, stdout: Buffer.alloc(0), stderr: 'not running as root and sudo is not available' };
  const sudoArgs = process.stdin.isTTY ? ['--prompt=httpsd needs administrator rights to change the system trust store. Password: '] : ['-n'];
  return run('sudo', [...sudoArgs, '--', ...command], { env, input });
}

async function installSystem(ca: CaIdentity, options: ReturnType<typeof resolveTrustOptions>, remove: boolean): Promise<StoreResult> {
  const { env, platform } = options;
  if (options.systemDir) {
    // An explicit folder (a container image's bundle dir, or a test's temporary folder): written directly, then the
    // distribution's update tool runs unless skipped.
    const detected = platform === 'linux' ? detectLinuxStore(env) : undefined;
    const update = detected && !detected.tool ? detected.update : [];
    const folderStore = { label: `folder ${options.systemDir}`, folder: options.systemDir, extension: '.crt', update };
    return systemFolderStore(ca, folderStore, { ...options, skipSystemUpdate: options.skipSystemUpdate || update.length === 0 }, remove, false);
  }
  if (platform === 'linux') {
    const store = detectLinuxStore(env);
    if (!store) {
      return {
        store: 'system',
        status: 'manual',
        detail: `no known system trust store tool found (update-ca-certificates, update-ca-trust, trust); add ${ca.certFile} to your distribution's CA bundle by hand.`,
      };
    }
    if (store.tool === 'trust') return trustAnchorStore(ca, options, remove);
    return systemFolderStore(ca, store, options, remove, true);
  }
  if (platform === 'darwin') return macosStore(ca, env, remove);
  if (platform === 'win32') return windowsStore(ca, env, remove);
  return { store: 'system', status: 'manual', detail: `${platform} is not supported for automatic install; trust ${ca.certFile} by hand.` };
}

async function systemFolderStore(
  ca: CaIdentity,
  store: LinuxSystemStore,
  options: ReturnType<typeof resolveTrustOptions>,
  remove: boolean,
  privileged: boolean,
): Promise<StoreResult> {
  const label = `system store ${store.label}`;
  const target = join(store.folder, ca.fileStem + store.extension);
  const present = await exists(target);
  const updateText = options.skipSystemUpdate ? ' (store update skipped)' : ` and ran ${store.update.join(' ')}`;
  const updateCommand = store.update.length ? ` && sudo ${store.update.join(' ')}` : '';
  const manualCommand = remove ? `sudo rm -f '${target}'${updateCommand}` : `sudo cp '${ca.certFile}' '${target}'${updateCommand}`;
  if (remove && !present) return { store: label, status: 'not-installed', detail: `${target} is not there` };
  if (!remove && present) {
    const current = await fs.readFile(target, 'utf8').catch(() => '');
    if (current.trim() === ca.certPem.trim()) return { store: label, status: 'already-installed', detail: target };
  }
  const canWriteDirectly = !privileged || (typeof process.getuid === 'function' && process.getuid() === 0);
  try {
    if (canWriteDirectly) {
      if (remove) await fs.rm(target, { force: true });
      else await fs.writeFile(target, ca.certPem.trim() + '\n', { mode: 0o644 });
    } else {
      const result = remove
        ? await runPrivileged(['rm', '-f', target], options.env)
        : await runPrivileged(['install', '-m', '0644', ca.certFile, target], options.env);
      if (result.code !== 0) return { store: label, status: 'failed', detail: `${describeFailure(result)}; run by hand: ${manualCommand}` };
    }
  } catch (error) {
    return { store: label, status: 'failed', detail: `${(error as Error).message}; run by hand: ${manualCommand}` };
  }
  if (!options.skipSystemUpdate) {
    const result = await runPrivileged(store.update, options.env);
    if (result.code !== 0) {
      return { store: label, status: 'failed', detail: `${remove ? 'removed' : 'wrote'} ${target} but ${store.update.join(' ')} failed: ${describeFailure(result)}` };
    }
  }
  return { store: label, status: remove ? 'removed' : 'installed', detail: `${remove ? 'removed' : 'wrote'} ${target}${updateText}` };
}

async function trustAnchorStore(ca: CaIdentity, options: ReturnType<typeof resolveTrustOptions>, remove: boolean): Promise<StoreResult> {
  const label = 'system store p11-kit (Arch)';
  const command = remove ? ['trust', 'anchor', '--remove', ca.certFile] : ['trust', 'anchor', '--store', ca.certFile];
  const result = await runPrivileged(command, options.env);
  if (result.code !== 0) {
    if (remove && /not found|no such/i.test(result.stderr)) return { store: label, status: 'not-installed', detail: 'not in the p11-kit store' };
    return { store: label, status: 'failed', detail: `${describeFailure(result)}; run by hand: sudo ${command.join(' ')}` };
  }
  return { store: label, status: remove ? 'removed' : 'installed', detail: `ran ${command.join(' ')}` };
}

async function macosStore(ca: CaIdentity, env: NodeJS.ProcessEnv, remove: boolean): Promise<StoreResult> {
  const label = 'macOS System keychain';
  // -d: admin trust settings; -r trustRoot: trusted as a root for every policy (SSL included); the System keychain
  // makes it apply to all users and to apps that do not read the login keychain.
  const command = remove
    ? ['security', 'remove-trusted-cert', '-d', ca.certFile]
    : ['security', 'add-trusted-cert', '-d', '-r', 'trustRoot', '-k', '/Library/Keychains/System.keychain', ca.certFile];
  const result = await runPrivileged(command, env);
  if (result.code !== 0) {
    if (remove && /not found|could not be found/i.test(result.stderr)) return { store: label, status: 'not-installed', detail: 'no trust settings for this root' };
    return { store: label, status: 'failed', detail: `${describeFailure(result)}; run by hand: sudo ${command.join(' ')}` };
  }
  if (remove) {
    // remove-trusted-cert drops the trust setting; the certificate itself stays in the keychain until deleted.
    await runPrivileged(['security', 'delete-certificate', '-Z', ca.sha1, '/Library/Keychains/System.keychain'], env);
  }
  return { store: label, status: remove ? 'removed' : 'installed', detail: `ran ${command.join(' ')}` };
}

async function windowsStore(ca: CaIdentity, env: NodeJS.ProcessEnv, remove: boolean): Promise<StoreResult> {
  const label = 'Windows root store (current user)';
  // -user: the current user's Root store needs no administrator; Windows shows its own confirmation dialog.
  const command = remove ? ['certutil', '-delstore', '-user', 'Root', ca.serial] : ['certutil', '-addstore', '-user', '-f', 'Root', ca.certFile];
  const result = await run(command[0]!, command.slice(1), { env });
  if (result.code !== 0) {
    const output = result.stdout.toString('utf8') + result.stderr;
    if (remove && /not found|cannot find/i.test(output)) return { store: label, status: 'not-installed', detail: 'not in the store' };
    return { store: label, status: 'failed', detail: `${output.trim().split(/\r?\n/).slice(-2).join(' / ')}; run by hand: ${command.join(' ')}` };
  }
  return { store: label, status: remove ? 'removed' : 'installed', detail: `ran ${command.join(' ')}` };
}

// ---------------------------------------------------------------------------------------------------------------
// NSS (Firefox profiles, Chromium's shared database on Linux)

function listProfileDatabases(root: string): string[] {
  try {
    return readdirSync(root).map((name) => join(root, name));
  } catch {
    return [];
  }
}

/** The NSS databases browsers use on this platform that actually exist (cert9.db: sql format, cert8.db: legacy dbm). */
export function discoverNssDatabases(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string[] {
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  const candidates: string[] = [];
  if (platform === 'linux' || platform === 'freebsd' || platform === 'openbsd') {
    candidates.push(join(home, '.pki', 'nssdb'));
    candidates.push(join(home, 'snap', 'chromium', 'current', '.pki', 'nssdb'));
    for (const root of [
      join(home, '.mozilla', 'firefox'),
      join(home, 'snap', 'firefox', 'common', '.mozilla', 'firefox'),
      join(home, '.var', 'app', 'org.mozilla.firefox', '.mozilla', 'firefox'),
    ]) {
      candidates.push(...listProfileDatabases(root));
    }
  } else if (platform === 'darwin') {
    candidates.push(...listProfileDatabases(join(home, 'Library', 'Application Support', 'Firefox', 'Profiles')));
  } else if (platform === 'win32') {
    candidates.push(...listProfileDatabases(join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'Mozilla', 'Firefox', 'Profiles')));
  }
  return candidates.filter((folder) => {
    try {
      return statSync(join(folder, 'cert9.db')).isFile() || statSync(join(folder, 'cert8.db')).isFile();
    } catch {
      return false;
    }
  });
}

function nssDatabaseArgument(folder: string): string {
  if (/^(sql|dbm):/.test(folder)) return folder;
  try {
    if (statSync(join(folder, 'cert9.db')).isFile()) return `sql:${folder}`;
  } catch {
    // fall through
  }
  try {
    if (statSync(join(folder, 'cert8.db')).isFile()) return `dbm:${folder}`;
  } catch {
    // fall through
  }
  return `sql:${folder}`;
}

async function nssStores(ca: CaIdentity, options: ReturnType<typeof resolveTrustOptions>, remove: boolean): Promise<StoreResult[]> {
  const { env, platform } = options;
  const databases = options.nssDatabases ?? discoverNssDatabases(env, platform);
  if (databases.length === 0) return [{ store: 'NSS (Firefox/Chromium)', status: 'skipped', detail: 'no NSS database found' }];
  // On Windows "certutil" is the unrelated system tool; NSS's certutil is not shipped there.
  const certutil = platform === 'win32' ? undefined : which('certutil', env);
  if (!certutil) {
    const hint =
      platform === 'darwin' ? 'brew install nss' : platform === 'win32' ? 'Firefox ≥ 120 also reads the Windows root store (security.enterprise_roots.enabled)' : 'install libnss3-tools (Debian/Ubuntu), nss-tools (Fedora) or nss (Arch)';
    return databases.map((db) => ({
      store: `NSS ${db}`,
      status: 'manual' as const,
      detail: `certutil not found (${hint}), then: certutil -A -d ${nssDatabaseArgument(db)} -t C,, -n "${ca.nickname}" -i '${ca.certFile}'`,
    }));
  }
  const results: StoreResult[] = [];
  for (const db of databases) {
    const database = nssDatabaseArgument(db);
    const label = `NSS ${database}`;
    try {
      const listed = await run(certutil, ['-L', '-d', database, '-n', ca.nickname], { env, timeoutMs: 30_000 });
      const present = listed.code === 0;
      if (remove) {
        if (!present) {
          results.push({ store: label, status: 'not-installed', detail: `no certificate named "${ca.nickname}"` });
          continue;
        }
        const deleted = await run(certutil, ['-D', '-d', database, '-n', ca.nickname], { env, timeoutMs: 30_000 });
        results.push(
          deleted.code === 0
            ? { store: label, status: 'removed', detail: `deleted "${ca.nickname}"` }
            : { store: label, status: 'failed', detail: describeFailure(deleted) },
        );
        continue;
      }
      if (present) {
        results.push({ store: label, status: 'already-installed', detail: `"${ca.nickname}"` });
        continue;
      }
      // -t C,,: a trusted CA for TLS servers only (not for email or code signing) — the least trust that works.
      const added = await run(certutil, ['-A', '-d', database, '-t', 'C,,', '-n', ca.nickname, '-i', ca.certFile], { env, timeoutMs: 30_000 });
      results.push(
        added.code === 0
          ? { store: label, status: 'installed', detail: `added "${ca.nickname}" (trust C,,)` }
          : { store: label, status: 'failed', detail: describeFailure(added) },
      );
    } catch (error) {
      results.push({ store: label, status: 'failed', detail: (error as Error).message });
    }
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------------------

/** A Java step is only worth printing where Java is: keytool on PATH, or a JAVA_HOME. */
function javaIsInstalled(options: ReturnType<typeof resolveTrustOptions>): boolean {
  return which('keytool', options.env, options.platform) !== undefined || Boolean(options.env.JAVA_HOME);
}

function manualSteps(ca: CaIdentity, options: ReturnType<typeof resolveTrustOptions>, remove: boolean): StoreResult[] {
  const steps: StoreResult[] = [];
  if (wants(options, 'java') && javaIsInstalled(options)) {
    // Java ignores the OS store; its cacerts keystore needs keytool (JDK 9+ understands -cacerts).
    steps.push({
      store: 'Java',
      status: 'manual',
      detail: remove
        ? `if you imported it into Java: keytool -delete -cacerts -storepass changeit -alias "${ca.fileStem}"`
        : `Java does not read the system store; if you use Java: keytool -importcert -noprompt -cacerts -storepass changeit -alias "${ca.fileStem}" -file '${ca.certFile}'`,
    });
  }
  if (!remove) {
    // Node ships its own Mozilla bundle and ignores the OS store unless told otherwise.
    steps.push({
      store: 'Node.js',
      status: 'manual',
      detail:
        `Node uses its own CA list: export NODE_EXTRA_CA_CERTS='${ca.certFile}' (any version), or let it read the system store ` +
        `with node --use-system-ca (Node ≥ ${options.platform === 'darwin' || options.platform === 'win32' ? '23.8' : '23.9'}) or NODE_USE_SYSTEM_CA=1 (Node ≥ 22.19)`,
    });
  }
  return steps;
}

async function applyTrust(certFile: string, certPem: string, options: TrustOptions, remove: boolean): Promise<StoreResult[]> {
  const resolved = resolveTrustOptions(options);
  const ca = caIdentity(certFile, certPem);
  const results: StoreResult[] = [];
  if (wants(resolved, 'system')) {
    try {
      results.push(await installSystem(ca, resolved, remove));
    } catch (error) {
      results.push({ store: 'system', status: 'failed', detail: (error as Error).message });
    }
  }
  if (wants(resolved, 'nss')) {
    try {
      results.push(...(await nssStores(ca, resolved, remove)));
    } catch (error) {
      results.push({ store: 'NSS', status: 'failed', detail: (error as Error).message });
    }
  }
  results.push(...manualSteps(ca, resolved, remove));
  return results;
}

export function installTrust(certFile: string, certPem: string, options: TrustOptions = {}): Promise<StoreResult[]> {
  return applyTrust(certFile, certPem, options, false);
}

export function uninstallTrust(certFile: string, certPem: string, options: TrustOptions = {}): Promise<StoreResult[]> {
  return applyTrust(certFile, certPem, options, true);
}
