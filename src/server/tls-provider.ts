/**
 * Loads the TLS provider (src/tls: Mozilla profiles, SNI, mTLS, reload, OCSP, keylog). The server owns ALPN, so the
 * provider's options never carry ALPNProtocols.
 */
import type * as tls from 'node:tls';
import type { TlsConfig } from '../tls/types.js';
import { createTlsProvider } from '../tls/index.js';

export interface TlsProviderLike {
  serverOptions: tls.TlsOptions;
  reload(): Promise<void>;
  attach(server: tls.Server): void;
  close(): void;
  describe(): string[];
  /** RFC 8737 TLS-ALPN-01 (src/acme): true when this handshake must select acme-tls/1 (see TlsProvider in src/tls). */
  answerAcmeTlsAlpn?(socket: tls.TLSSocket, servername: string, protocols: readonly string[]): boolean;
}

export async function loadTlsProvider(config: TlsConfig): Promise<TlsProviderLike> {
  return createTlsProvider(config);
}
