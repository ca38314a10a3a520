/**
 * Let's Encrypt's directory URLs, kept apart from the manager so the CLI can name them in `--help` without loading
 * the ACME client library (a server without --acme never loads it).
 */
export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING_DIRECTORY = 'https://acme-staging-v02.api.letsencrypt.org/directory';
