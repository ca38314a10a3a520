/**
 * Loads the TLS provider (src/tls: Mozilla profiles, SNI, mTLS, reload, OCSP, keylog). The server owns ALPN, so the
 * provider's options never carry ALPNProtocols.
 *
 * HTTP/3 runs its own TLS 1.3 engine (src/quic/tls), so the provider also hands it the same material: `quic` picks
 * the certificate by SNI exactly as the TCP listener's SNICallback does, from the provider's current state, so a
 * reload (SIGHUP, file watch, an ACME renewal) applies to the next QUIC handshake as it does to the next TLS one.
 */
import { createPrivateKey } from 'node:crypto';
import type * as tls from 'node:tls';
import type { TlsConfig } from '../tls/types.js';
import { createTlsProvider, type LoadedPair, type TlsProvider } from '../tls/index.js';
import { signingKeyFrom } from '../crypto/node.js';
import type { CertificateSelection } from '../quic/tls/index.js';

/** What the QUIC endpoint takes from the TLS material, or why HTTP/3 cannot use it. */
export type QuicTlsMaterial =
  | {
      usable: true;
      /** The certificate for a ClientHello's server name; undefined refuses that handshake. */
      selectCertificate(serverName: string | undefined): CertificateSelection | undefined;
      /** --tls-keylog: the file the TCP listener appends to, shared by QUIC. */
      keyLogFile: string | undefined;
    }
  | { usable: false; reason: string };

export interface TlsProviderLike {
  serverOptions: tls.TlsOptions;
  reload(): Promise<void>;
  attach(server: tls.Server): void;
  close(): void;
  describe(): string[];
  /**
   * false when answerAcmeTlsAlpn can never say yes (no ACME manager): ALPN is then chosen by OpenSSL from a list,
   * without a call into JavaScript per handshake. Absent: assumed true.
   */
  readonly answersAcmeTlsAlpn?: boolean;
  /** RFC 8737 TLS-ALPN-01 (src/acme): true when this handshake must select acme-tls/1 (see TlsProvider in src/tls). */
  answerAcmeTlsAlpn?(socket: tls.TLSSocket, servername: string, protocols: readonly string[]): boolean;
  /** The material for HTTP/3's TLS engine; absent: HTTP/3 is not served. */
  quic?(): QuicTlsMaterial;
}

export async function loadTlsProvider(config: TlsConfig): Promise<TlsProviderLike> {
  const provider = await createTlsProvider(config);
  return Object.assign(provider, { quic: () => quicTlsMaterial(provider, config) });
}

/**
 * The provider's pairs as the QUIC engine wants them (DER chain, signing key), converted once per loaded pair: a
 * reload loads new pairs, which are converted on their first handshake.
 */
export function quicTlsMaterial(provider: Pick<TlsProvider, 'pairFor' | 'serverOptions'>, config: Pick<TlsConfig, 'keylogFile'>): QuicTlsMaterial {
  // QUIC's TLS engine never sends a CertificateRequest: serving h3 beside a listener that verifies client
  // certificates would let clients skip that check.
  if (provider.serverOptions.requestCert === true) return { usable: false, reason: 'client certificates (mTLS) are not supported over QUIC' };
  const converted = new WeakMap<LoadedPair, CertificateSelection | null>();
  const selectionOf = (pair: LoadedPair): CertificateSelection | null => {
    let selection = converted.get(pair);
    if (selection === undefined) {
      selection = quicSelection(pair);
      converted.set(pair, selection);
    }
    return selection;
  };
  if (selectionOf(provider.pairFor(undefined)) === null) {
    return { usable: false, reason: 'the certificate is PKCS#12 or its key type has no TLS 1.3 signature scheme in the QUIC engine' };
  }
  return {
    usable: true,
    selectCertificate: (serverName) => selectionOf(provider.pairFor(serverName)) ?? undefined,
    keyLogFile: config.keylogFile,
  };
}

/** null for material the QUIC engine cannot use: PKCS#12 (no PEM key to hand it) or a key it cannot sign with. */
function quicSelection(pair: LoadedPair): CertificateSelection | null {
  const keyPem = pair.contextOptions.key;
  if (keyPem === undefined) return null;
  try {
    return { chain: pair.chain.map((certificate) => new Uint8Array(certificate.raw)), key: signingKeyFrom(createPrivateKey(keyPem)) };
  } catch {
    return null;
  }
}
