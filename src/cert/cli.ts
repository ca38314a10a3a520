/**
 * `httpsd cert ...`: issue certificates from the local CA, sign CSRs, self-sign, and manage trust stores.
 * Errors caused by the user (UsageError) are printed as one clear message, never a stack.
 */
import { promises as fs } from 'node:fs';
import { basename, resolve } from 'node:path';
import { UsageError } from '../common/errors.js';
import type { CliOption } from '../common/options.js';
import { issueCertificate, loadOrCreateCA, MAX_LEAF_DAYS, validateDays, validateRsaBits, type LocalCA } from './ca.js';
import { exists, readTextFile, writeFileAtomic } from './files.js';
import { defaultFileBase, parseConstraints, type NameConstraint } from './names.js';
import { buildPkcs12, DEFAULT_PKCS12_PASSWORD } from './pkcs12.js';
import { caRoot } from './paths.js';
import { installTrust, uninstallTrust, type StoreResult, type TrustOptions } from './trust.js';

/** The flags of `httpsd cert`, in the shared CliOption shape (for the assembled --help and the docs). */
export const certCliOptions: CliOption[] = [
  { name: 'cert-file', type: 'string', valueName: 'FILE', description: 'Where to write the certificate.', defaultText: './NAME[+N].pem' },
  { name: 'key-file', type: 'string', valueName: 'FILE', description: 'Where to write the private key (mode 0600).', defaultText: './NAME[+N]-key.pem' },
  { name: 'p12-file', type: 'string', valueName: 'FILE', description: 'Where to write the PKCS#12 bundle (with --pkcs12).', defaultText: './NAME[+N].p12' },
  { name: 'ecdsa', type: 'boolean', description: 'ECDSA P-256 key.', defaultText: 'on' },
  { name: 'rsa', type: 'string', valueName: '[BITS]', description: 'RSA key instead of ECDSA; BITS ≥ 2048.', defaultText: '2048' },
  { name: 'days', type: 'string', valueName: 'N', description: `Validity in days, at most ${MAX_LEAF_DAYS} (Apple's limit).`, defaultText: String(MAX_LEAF_DAYS) },
  { name: 'client', type: 'boolean', description: 'Client-authentication certificate (EKU clientAuth), for mTLS.' },
  { name: 'pkcs12', type: 'boolean', description: `Write a .p12 bundle (key, certificate, root) instead of PEM files; password "${DEFAULT_PKCS12_PASSWORD}".` },
  { name: 'pkcs12-password', type: 'string', valueName: 'PASSWORD', description: 'Password of the .p12 bundle (or HTTPSD_PKCS12_PASSWORD).', defaultText: DEFAULT_PKCS12_PASSWORD },
  { name: 'csr', type: 'string', valueName: 'FILE', description: 'Sign this certificate request (keeps its key and SANs).' },
  { name: 'self-signed', type: 'boolean', description: 'A self-signed certificate, no CA involved.' },
  { name: 'constrain', type: 'string', multiple: true, valueName: 'LIST', description: 'Create the root name-constrained to these DNS subtrees / IP networks ("default": localhost,.test,127.0.0.0/8,::1).' },
  { name: 'force', type: 'boolean', description: 'Overwrite existing output files.' },
  { name: 'install', type: 'boolean', description: 'Trust the local root in the system store and browsers (NSS).' },
  { name: 'uninstall', type: 'boolean', description: 'Remove the local root from those stores.' },
  { name: 'caroot', type: 'boolean', description: 'Print the CA folder and exit.' },
  { name: 'help', short: 'h', type: 'boolean', description: 'Show this help.' },
];

const HELP = `Usage: httpsd cert [flags] NAME...

Issue a certificate for NAME... (host names, *.wildcards, IPv4/IPv6 addresses, emails, URIs), signed by a local
root CA that is created on first use. Trust the root once with "httpsd cert --install".

Examples:
  httpsd cert localhost 127.0.0.1 ::1          ./localhost+2.pem and ./localhost+2-key.pem
  httpsd cert --install                         trust the local root (system store, Firefox/Chromium)
  httpsd cert --rsa 3072 --days 90 app.test '*.app.test'
  httpsd cert --client me@example.test          a client certificate for mTLS
  httpsd cert --csr request.csr                 sign a CSR made elsewhere
  httpsd cert --self-signed localhost           no CA: the certificate is its own issuer
  httpsd cert --constrain default --install     a root that can only sign localhost, *.test, 127/8 and ::1

Flags:
${certCliOptions
  .map((option) => {
    const flag = `--${option.name}${option.valueName ? ' ' + option.valueName : ''}`;
    return `  ${flag.padEnd(28)} ${option.description}${option.defaultText ? ` (default: ${option.defaultText})` : ''}`;
  })
  .join('\n')}

Environment:
  HTTPSD_CAROOT                 CA folder (default: the per-user data directory; see --caroot)
  HTTPSD_TRUST_STORES           Stores for --install/--uninstall: comma list of system, nss, java (default: all)
  HTTPSD_TRUST_SYSTEM_DIR       Use this folder as the system anchor folder
  HTTPSD_TRUST_SKIP_SYSTEM_UPDATE=1   Do not run update-ca-certificates / update-ca-trust
  HTTPSD_TRUST_NSS_DBS          NSS database folders (":"-separated) instead of the discovered browser profiles
  HTTPSD_PKCS12_PASSWORD        Password of .p12 bundles (keeps it out of the process list)
`;

export interface CertCommandIO {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  /** Trust-store locations (tests point these at temporary stores). Environment variables apply otherwise. */
  trust?: TrustOptions;
}

interface ParsedArgs {
  names: string[];
  certFile?: string;
  keyFile?: string;
  p12File?: string;
  rsaBits?: number;
  ecdsa: boolean;
  days?: number;
  client: boolean;
  pkcs12: boolean;
  pkcs12Password?: string;
  csr?: string;
  selfSigned: boolean;
  constrain?: string[];
  force: boolean;
  install: boolean;
  uninstall: boolean;
  caroot: boolean;
  help: boolean;
}

const BOOLEAN_FLAGS = new Set(['ecdsa', 'client', 'pkcs12', 'self-signed', 'force', 'install', 'uninstall', 'caroot', 'help']);
const VALUE_FLAGS = new Set(['cert-file', 'key-file', 'p12-file', 'days', 'csr', 'constrain', 'pkcs12-password']);

function parseInteger(flag: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`httpsd cert: --${flag} expects a whole number, got "${text}".`);
  return Number(text);
}

export function parseCertArgs(argv: string[]): ParsedArgs {
  const parsed: ParsedArgs = {
    names: [],
    ecdsa: false,
    client: false,
    pkcs12: false,
    selfSigned: false,
    force: false,
    install: false,
    uninstall: false,
    caroot: false,
    help: false,
  };
  let onlyNames = false;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    if (onlyNames || !argument.startsWith('-') || argument === '-') {
      parsed.names.push(argument);
      continue;
    }
    if (argument === '--') {
      onlyNames = true;
      continue;
    }
    if (argument === '-h') {
      parsed.help = true;
      continue;
    }
    if (!argument.startsWith('--')) throw new UsageError(`httpsd cert: unknown flag ${argument}; see "httpsd cert --help".`);
    const equals = argument.indexOf('=');
    const flag = argument.slice(2, equals === -1 ? undefined : equals);
    let inlineValue = equals === -1 ? undefined : argument.slice(equals + 1);
    if (flag === 'rsa') {
      // --rsa takes an optional BITS: "--rsa", "--rsa 3072", "--rsa=3072". A bare number is never a useful host name.
      if (inlineValue === undefined && /^\d+$/.test(argv[index + 1] ?? '')) inlineValue = argv[++index];
      parsed.rsaBits = inlineValue === undefined ? 2048 : parseInteger('rsa', inlineValue);
      continue;
    }
    if (BOOLEAN_FLAGS.has(flag)) {
      if (inlineValue !== undefined) throw new UsageError(`httpsd cert: --${flag} takes no value.`);
      const key = flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase()) as 'ecdsa';
      parsed[key] = true;
      continue;
    }
    if (!VALUE_FLAGS.has(flag)) throw new UsageError(`httpsd cert: unknown flag --${flag}; see "httpsd cert --help".`);
    const value = inlineValue ?? argv[++index];
    if (value === undefined || (inlineValue === undefined && value.startsWith('--'))) {
      throw new UsageError(`httpsd cert: --${flag} needs a value.`);
    }
    switch (flag) {
      case 'cert-file':
        parsed.certFile = value;
        break;
      case 'key-file':
        parsed.keyFile = value;
        break;
      case 'p12-file':
        parsed.p12File = value;
        break;
      case 'days':
        parsed.days = parseInteger('days', value);
        break;
      case 'csr':
        parsed.csr = value;
        break;
      case 'pkcs12-password':
        parsed.pkcs12Password = value;
        break;
      case 'constrain':
        (parsed.constrain ??= []).push(value);
        break;
    }
  }
  return parsed;
}

function validateCombination(args: ParsedArgs): void {
  if (args.ecdsa && args.rsaBits !== undefined) throw new UsageError('httpsd cert: choose one of --ecdsa and --rsa.');
  if (args.install && args.uninstall) throw new UsageError('httpsd cert: choose one of --install and --uninstall.');
  if (args.selfSigned && args.csr) throw new UsageError('httpsd cert: --self-signed and --csr cannot be combined (a CSR is signed by the CA).');
  if (args.selfSigned && args.constrain) throw new UsageError('httpsd cert: --constrain applies to the local root; --self-signed uses no root.');
  if (args.csr && (args.rsaBits !== undefined || args.ecdsa)) throw new UsageError('httpsd cert: with --csr the key comes from the request; drop --rsa/--ecdsa.');
  if (args.csr && args.pkcs12) throw new UsageError('httpsd cert: --pkcs12 needs the private key, which a CSR does not carry.');
  if (args.csr && args.keyFile) throw new UsageError('httpsd cert: with --csr no key is generated; drop --key-file.');
  if (args.pkcs12 && (args.certFile || args.keyFile)) throw new UsageError('httpsd cert: --pkcs12 writes one .p12 file; use --p12-file instead of --cert-file/--key-file.');
  if (args.p12File && !args.pkcs12) throw new UsageError('httpsd cert: --p12-file needs --pkcs12.');
  if (args.uninstall && (args.names.length > 0 || args.csr || args.constrain)) throw new UsageError('httpsd cert: --uninstall takes no names.');
  if (args.rsaBits !== undefined) validateRsaBits(args.rsaBits);
  validateDays(args.days);
}

function formatResults(results: StoreResult[]): string {
  const marks: Record<StoreResult['status'], string> = {
    installed: 'installed ',
    'already-installed': 'already   ',
    removed: 'removed   ',
    'not-installed': 'not there ',
    failed: 'FAILED    ',
    manual: 'manual    ',
    skipped: 'skipped   ',
  };
  return results.map((result) => `  ${marks[result.status]} ${result.store}: ${result.detail}`).join('\n') + '\n';
}

export async function runCertCommand(argv: string[], io: CertCommandIO = {}): Promise<number> {
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  const out = io.stdout ?? ((text: string) => void process.stdout.write(text));
  const err = io.stderr ?? ((text: string) => void process.stderr.write(text));
  try {
    return await certCommand(argv, env, cwd, out, err, io.trust ?? {});
  } catch (error) {
    if (error instanceof UsageError) {
      err(error.message + '\n');
      return error.exitCode;
    }
    // Unexpected failures still get one line: a stack helps nobody who only wanted a certificate.
    err(`httpsd cert: ${(error as Error)?.message ?? String(error)}\n`);
    return 1;
  }
}

async function certCommand(
  argv: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  out: (text: string) => void,
  err: (text: string) => void,
  trust: TrustOptions,
): Promise<number> {
  const args = parseCertArgs(argv);
  const caroot = resolve(cwd, caRoot(env));
  if (args.help || argv.length === 0) {
    out(HELP);
    return 0;
  }
  if (args.caroot) {
    out(caroot + '\n');
    return 0;
  }
  validateCombination(args);
  const constraints: NameConstraint[] | undefined = args.constrain ? parseConstraints(args.constrain) : undefined;
  const trustOptions: TrustOptions = { env, ...trust };
  let exitCode = 0;

  if (args.uninstall) {
    const ca = await loadOrCreateCA(caroot, { create: false }).catch((error: unknown) => {
      if (error instanceof UsageError && /no local CA/.test(error.message)) return undefined;
      throw error;
    });
    if (!ca) {
      out(`No local CA in ${caroot}; nothing to uninstall.\n`);
      return 0;
    }
    const results = await uninstallTrust(ca.certFile, ca.certPem, trustOptions);
    out(`Removing the local CA ${ca.certFile} from trust stores:\n${formatResults(results)}`);
    out(`The CA files stay in ${caroot}; delete that folder to destroy the CA for good.\n`);
    return results.some((result) => result.status === 'failed') ? 1 : 0;
  }

  let ca: LocalCA | undefined;
  if (!args.selfSigned || args.install) {
    ca = await loadOrCreateCA(caroot, { constraints });
    if (ca.created) {
      out(`Created a new local CA in ${caroot}${ca.constraints ? ` (name-constrained to ${describeConstraints(ca.constraints)})` : ''}.\n`);
      if (!args.install) out('Trust it once with: httpsd cert --install\n');
    } else if (constraints) {
      out(`Using the local CA in ${caroot} (name-constrained to ${describeConstraints(ca.constraints!)}).\n`);
    }
  }

  if (args.install) {
    const results = await installTrust(ca!.certFile, ca!.certPem, trustOptions);
    out(`Trusting the local CA ${ca!.certFile}:\n${formatResults(results)}`);
    if (results.some((result) => result.status === 'failed')) exitCode = 1;
  }

  if (args.names.length === 0 && !args.csr) {
    if (!args.install && !args.selfSigned && !constraints) {
      throw new UsageError('httpsd cert: name at least one host, IP, email or URI, e.g. "httpsd cert localhost 127.0.0.1 ::1".');
    }
    if (args.selfSigned) throw new UsageError('httpsd cert: --self-signed needs at least one name, e.g. "httpsd cert --self-signed localhost".');
    return exitCode;
  }

  const csrPem = args.csr ? await readTextFile(resolve(cwd, args.csr), 'the certificate request', 64 * 1024) : undefined;
  const issued = await issueCertificate(args.selfSigned ? undefined : ca, {
    names: args.names,
    keyType: args.rsaBits !== undefined ? 'rsa' : 'ecdsa',
    rsaBits: args.rsaBits,
    days: args.days,
    client: args.client,
    csrPem,
  });
  const nameList = issued.names.map((name) => name.value);
  const base = defaultFileBase(args.csr && args.names.length === 0 ? [basename(args.csr).replace(/\.(csr|pem|req)$/i, '')] : nameList, args.client);
  const written: string[] = [];
  if (args.pkcs12) {
    const p12File = resolve(cwd, args.p12File ?? `${base}.p12`);
    if (!args.force && (await exists(p12File))) throw new UsageError(`httpsd cert: ${p12File} already exists; pass --force to overwrite it.`);
    // A password on the command line shows in `ps` and shell history; HTTPSD_PKCS12_PASSWORD avoids both.
    const password = args.pkcs12Password ?? env.HTTPSD_PKCS12_PASSWORD ?? DEFAULT_PKCS12_PASSWORD;
    const bundle = await buildPkcs12({
      certPem: issued.certPem,
      keyPem: issued.keyPem!,
      chainPems: ca ? [ca.certPem] : [],
      friendlyName: nameList[0]!,
      password,
    });
    // The bundle holds the private key: same protection as a key file.
    await writeFileAtomic(p12File, bundle, { mode: 0o600, overwrite: args.force });
    // Only the well-known default is echoed; a chosen password never ends up in terminal logs.
    written.push(`PKCS#12 bundle: ${p12File} (${password === DEFAULT_PKCS12_PASSWORD ? `password "${DEFAULT_PKCS12_PASSWORD}"` : 'with the password you chose'})`);
  } else {
    const certFile = resolve(cwd, args.certFile ?? `${base}.pem`);
    const keyFile = issued.keyPem ? resolve(cwd, args.keyFile ?? `${base}-key.pem`) : undefined;
    if (keyFile && keyFile === certFile) throw new UsageError('httpsd cert: --cert-file and --key-file name the same file; give them different names.');
    // Check both before writing either, so a refusal never leaves a certificate without its key.
    for (const file of [certFile, keyFile]) {
      if (file && !args.force && (await exists(file))) {
        throw new UsageError(`httpsd cert: ${file} already exists; pass --force to overwrite it, or choose another name with --cert-file/--key-file.`);
      }
    }
    if (keyFile) {
      await writeFileAtomic(keyFile, issued.keyPem!, { mode: 0o600, overwrite: args.force });
      written.push(`key:         ${keyFile}`);
    }
    try {
      await writeFileAtomic(certFile, issued.certPem, { mode: 0o644, overwrite: args.force });
    } catch (error) {
      // Do not leave a fresh key behind without its certificate.
      if (keyFile) await fs.rm(keyFile, { force: true });
      throw error;
    }
    written.unshift(`certificate: ${certFile}`);
  }
  out(
    `Created a ${args.selfSigned ? 'self-signed ' : ''}${args.client ? 'client ' : ''}certificate for ${nameList.map((n) => `"${n}"`).join(', ')}, ` +
      `valid until ${issued.notAfter.toISOString().slice(0, 10)}:\n  ${written.join('\n  ')}\n`,
  );
  if (nameList.some((name) => /^\*\.[^.]+$/.test(name))) {
    err('Warning: a wildcard directly under a top-level domain (e.g. *.test) is rejected by browsers; use *.app.test.\n');
  }
  if (args.selfSigned) out('Clients must trust this exact certificate (e.g. curl --cacert, NODE_EXTRA_CA_CERTS).\n');
  return exitCode;
}

function describeConstraints(constraints: NameConstraint[]): string {
  return constraints.map((c) => (c.kind === 'dns' ? c.value : c.cidr)).join(', ');
}
