/**
 * Automatic HTTPS from an ACME CA (RFC 8555): `acme(options)` prepares the storage and returns the manager whose
 * `tls` goes to serve({ tls }), whose `fetch(app)` answers HTTP-01, and whose `start(server)` obtains and renews.
 *
 *   const certificates = await acme({ domains: ['example.com'], email: 'me@example.com' });
 *   const server = serve({ fetch: certificates.fetch(app), tls: certificates.tls, port: 443, httpPort: 80 });
 *   await server.ready;
 *   await certificates.start(server);
 *   // ... on shutdown: certificates.stop(); await server.close();
 */
import { AcmeManager, type AcmeOptions } from './manager.js';

export { AcmeManager, LETS_ENCRYPT_DIRECTORY, LETS_ENCRYPT_STAGING_DIRECTORY } from './manager.js';
export type { AcmeChallengeType, AcmeOptions, AcmeStats } from './manager.js';
export { AcmeError } from './errors.js';
export { defaultAcmeStorage } from './storage.js';

/** Validates the options, loads the stored certificate or checks the CA answers (rejecting with the URL and the fix). */
export async function acme(options: AcmeOptions): Promise<AcmeManager> {
  const manager = new AcmeManager(options);
  await manager.prepare();
  return manager;
}
