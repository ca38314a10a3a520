/**
 * The ACME flags of the `httpsd` command (`--acme example.com --acme-email me@example.com`) and their validation
 * into AcmeOptions.
 */
import { UsageError } from '../common/errors.js';
import type { CliOption, CliValues } from '../common/options.js';
import type { AcmeOptions } from './manager.js';
import { LETS_ENCRYPT_DIRECTORY } from './directories.js';

export const ACME_CLI_OPTIONS: CliOption[] = [
  {
    name: 'acme',
    type: 'string',
    multiple: true,
    valueName: 'NAMES',
    description:
      'Obtain and renew the certificate from an ACME CA (Let\'s Encrypt by default) for these DNS names (comma-separated, repeatable). The names must resolve to this machine and the CA must reach port 443 (TLS-ALPN-01) or, with --http-port, port 80 (HTTP-01). No wildcards.',
  },
  { name: 'acme-email', type: 'string', valueName: 'EMAIL', description: 'Contact address given to the CA (expiry and policy notices).' },
  { name: 'acme-directory', type: 'string', valueName: 'URL', description: 'Directory URL of another ACME CA.', defaultText: LETS_ENCRYPT_DIRECTORY },
  { name: 'acme-staging', type: 'boolean', description: 'Use Let\'s Encrypt\'s staging CA (untrusted certificates, generous rate limits): for trying the setup out.' },
  { name: 'acme-storage', type: 'string', valueName: 'DIR', description: 'Folder for the ACME account key and certificates.', defaultText: '<data dir>/acme (HTTPSD_CAROOT or ~/.local/share/httpsd)' },
];

function strings(values: CliValues, name: string): string[] {
  const value = values[name];
  if (value === undefined || value === false) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

function last(values: CliValues, name: string): string | undefined {
  const all = strings(values, name);
  return all[all.length - 1];
}

/** undefined without --acme; else the options, after refusing combinations that cannot work. */
export function acmeOptionsFromCli(values: CliValues): AcmeOptions | undefined {
  const domains = strings(values, 'acme');
  const stray = ['acme-email', 'acme-directory', 'acme-staging', 'acme-storage'].filter((name) => values[name] !== undefined && values[name] !== false);
  if (domains.length === 0) {
    if (stray.length > 0) throw new UsageError(`--${stray[0]} needs --acme NAMES (the DNS names to obtain a certificate for).`);
    return undefined;
  }
  for (const flag of ['cert', 'key', 'pfx', 'sni']) {
    if (values[flag] !== undefined) throw new UsageError(`--acme and --${flag} both choose the certificate. Fix: drop one of them.`);
  }
  const workers = last(values, 'workers');
  if (workers !== undefined && Number(workers) > 1) {
    // Each worker would renew on its own, and the CA's validation connection may land on a worker with no pending challenge.
    throw new UsageError('--acme runs in one worker process: drop --workers, or obtain the certificate with --acme in one httpsd and serve it with --cert/--key --watch-certs in another.');
  }
  const directory = last(values, 'acme-directory');
  const staging = values['acme-staging'] === true || (typeof values['acme-staging'] === 'string' && !/^(0|false|no|off|)$/i.test(values['acme-staging']));
  if (directory !== undefined && staging) throw new UsageError('--acme-directory and --acme-staging both choose the CA. Fix: drop one of them.');
  const email = last(values, 'acme-email');
  if (email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) throw new UsageError(`--acme-email ${email}: not an email address.`);
  const storage = last(values, 'acme-storage');
  // The CA connects to 80 for HTTP-01: offer it only when a cleartext port is open.
  const challenges: AcmeOptions['challenges'] = values['http-port'] !== undefined ? ['tls-alpn-01', 'http-01'] : ['tls-alpn-01'];
  return {
    domains,
    challenges,
    ...(email !== undefined ? { email } : {}),
    ...(directory !== undefined ? { directoryUrl: directory } : {}),
    ...(staging ? { staging } : {}),
    ...(storage !== undefined ? { storage } : {}),
  };
}
