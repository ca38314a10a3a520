/**
 * TLS configuration accepted by serve({ tls }) and built by the CLI's TLS flags.
 * Contract between src/tls (which turns it into node:tls options, SNI and reload) and src/server.
 */
export type TlsProfileName = 'modern' | 'intermediate' | 'old';

export interface CertKeyPair {
  /** PEM text or a path to a PEM file (certificate chain: leaf first). */
  cert?: string | Uint8Array;
  /** PEM text or a path (PKCS#1, PKCS#8, SEC1; possibly encrypted). */
  key?: string | Uint8Array;
  /** PKCS#12 (.p12/.pfx) path or bytes, instead of cert+key. */
  pfx?: string | Uint8Array;
  passphrase?: string;
  /** A file holding the passphrase (first line). */
  passphraseFile?: string;
}

/**
 * A certificate manager (src/acme) bound to a listener: it answers TLS-ALPN-01 challenges (RFC 8737) on the TLS port
 * and swaps in the certificates it renews through the provider's reload().
 */
export interface ManagedCertificates {
  /** The challenge certificate for `servername` while a TLS-ALPN-01 challenge for it is pending, else undefined. */
  tlsAlpnCertificate(servername: string): { cert: string; key: string } | undefined;
  /** Called by each provider using this config with its reload(); returns the function that unbinds it (on close). */
  bind(reload: () => Promise<void>): () => void;
}

export interface TlsConfig extends CertKeyPair {
  /** Default 'intermediate'. */
  profile?: TlsProfileName;
  minVersion?: 'TLSv1.2' | 'TLSv1.3' | 'TLSv1' | 'TLSv1.1';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3' | 'TLSv1' | 'TLSv1.1';
  /** A profile name or an OpenSSL cipher string (TLS 1.2) — TLS 1.3 suites are accepted too. */
  ciphers?: string;
  /** e.g. ["X25519", "P-256", "P-384"]. */
  curves?: string[];
  honorCipherOrder?: boolean;
  /** Additional certificates chosen by SNI: server name (wildcards allowed, "*.example.test") → pair. */
  sni?: Record<string, CertKeyPair>;
  /** mTLS: CA bundle (path or PEM) to verify client certificates against. */
  clientCa?: string | Uint8Array;
  /** 'request' asks for a certificate, 'require' rejects clients without a valid one. */
  clientCert?: 'none' | 'request' | 'require';
  /** Append NSS key log lines here (SSLKEYLOGFILE format). */
  keylogFile?: string;
  /** Session tickets (with key rotation) on by default. */
  sessionTickets?: boolean;
  /** Watch the certificate files and reload on change. */
  watch?: boolean;
  /** OCSP stapling when the certificate names a responder. Default true. */
  ocspStapling?: boolean;
  /** Session ticket key rotation period in ms (default 12 h). Node keeps a single ticket key: see docs/tls.md. */
  ticketKeyRotationMs?: number;
  /** TLS session / ticket lifetime in seconds (default 7200). */
  sessionTimeout?: number;
  /** Receives loud, non-fatal warnings (certificate not yet valid, near expiry, OCSP failures, failed reloads). Default console.warn. */
  onWarning?: (message: string) => void;
  /** Set by src/acme: TLS-ALPN-01 answers and reloads after issuance or renewal. */
  managed?: ManagedCertificates;
}
