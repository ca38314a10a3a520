/**
 * The listener's certificate for the `httpsd` command: --cert/--key/--pfx, else one minted by the local CA, else
 * (the CA unusable) a throwaway self-signed one from src/cert.
 */
import type { X509Certificate } from 'node:crypto';
import { UsageError } from '../common/errors.js';
import type { CliValues } from '../common/options.js';
import { DEFAULT_PKCS12_PASSWORD, LOCALHOST_NAMES, createThrowawaySelfSignedCertificate, ensureLocalhostCertificate } from '../cert/index.js';
import { TlsConfigError } from '../tls/errors.js';
import { tlsConfigFromCli, tlsPolicyFromCli } from '../tls/cli.js';
import { loadPair } from '../tls/material.js';
import type { TlsConfig } from '../tls/types.js';
import type { FetchHandler } from '../server/types.js';
import { acmeOptionsFromCli } from '../acme/cli.js';
import type { AcmeOptions } from '../acme/manager.js';

/** The TLS config for the listener, plus banner lines about where its certificate came from. */
export interface ResolvedTls {
  tls: TlsConfig;
  alpn: string[] | undefined;
  /** Printed after the listener and TLS lines of the start banner. */
  notes: string[];
  /** --acme: wraps the app (HTTP-01 answers) and, once listening, obtains or schedules the certificate. */
  acme?: { wrapFetch(handler: FetchHandler): FetchHandler; start(server: { httpPort?: number | undefined }): Promise<string[]> };
}

/** --acme: the managed certificate files and the hooks for the listener; refuses to start when the CA is unreachable and nothing is stored. */
async function resolveAcmeTls(values: CliValues, options: AcmeOptions): Promise<ResolvedTls> {
  const { acme } = await import('../acme/index.js');
  const manager = await acme(options);
  return {
    tls: { ...tlsPolicyFromCli(values), ...manager.tls },
    alpn: tlsConfigFromCli(values).alpn,
    notes: [],
    acme: {
      wrapFetch: (handler) => manager.fetch(handler),
      async start(server) {
        await manager.start(server);
        const stats = manager.stats();
        return [`Certificate from the ACME CA ${stats.directoryUrl} for ${stats.names.join(', ')}; renewal after ${stats.renewAfter} (stored in ${manager.storage.certDir})`];
      },
    },
  };
}

export async function resolveTls(values: CliValues): Promise<ResolvedTls> {
  const acmeOptions = acmeOptionsFromCli(values);
  if (acmeOptions !== undefined) return resolveAcmeTls(values, acmeOptions);
  const { tls, alpn } = tlsConfigFromCli(values);
  if (tls !== undefined) return { tls, alpn, notes: [] };
  const policy = tlsPolicyFromCli(values);
  try {
    const local = await ensureLocalhostCertificate();
    const notes = local.caCreated
      ? [
          `Created a local certificate authority (${local.caCertFile}) and a localhost certificate from it.`,
          `Browsers and curl do not trust the new authority yet. To trust it, run once: ${local.trustCommand}`,
        ]
      : [`Certificate from the local CA (${local.certFile}${local.created ? ', just issued' : ''}); if clients do not trust it yet, run: ${local.trustCommand}`];
    return { tls: { ...policy, cert: local.certFile, key: local.keyFile }, alpn, notes };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const selfSigned = createThrowawaySelfSignedCertificate(LOCALHOST_NAMES);
    // Said at once (not only in the banner): this is a degraded mode the user must notice even with --quiet.
    process.stderr.write(
      `httpsd: WARNING: the local CA is unavailable (${(error as Error).message}); using a throwaway SELF-SIGNED certificate.\n` +
        '        Clients will not trust it. Give --cert and --key for a real one.\n',
    );
    return {
      tls: { ...policy, cert: selfSigned.certFile, key: selfSigned.keyFile },
      alpn,
      notes: ['WARNING: serving a throwaway SELF-SIGNED certificate (the local CA is unavailable).'],
    };
  }
}

/**
 * The leaf the listener serves (PEM or PKCS#12, with the configured passphrase), for the banner's name checks;
 * undefined when unreadable (the server's own TLS setup has already reported that).
 */
export async function servedLeaf(tls: TlsConfig): Promise<X509Certificate | undefined> {
  try {
    return (await loadPair(tls)).leaf;
  } catch {
    return undefined;
  }
}

/**
 * A PKCS#12 file refused for want of a passphrase most likely came from `httpsd cert --pkcs12` (or mkcert, or
 * keytool), which all use the same default: say which, so the user need not search for it.
 */
export function explainTlsError(error: unknown, tls: TlsConfig): unknown {
  const withoutPassphrase = tls.pfx !== undefined && tls.passphrase === undefined && tls.passphraseFile === undefined;
  if (!(error instanceof TlsConfigError) || !withoutPassphrase || !/passphrase/i.test(error.message)) return error;
  return new TlsConfigError(
    `${error.message} A .p12 made by \`httpsd cert --pkcs12\` (or mkcert, or Java's keytool) has the password ` +
      `"${DEFAULT_PKCS12_PASSWORD}" unless another was chosen: --key-passphrase ${DEFAULT_PKCS12_PASSWORD}.`,
    error.exitCode,
  );
}
