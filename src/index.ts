/**
 * httpsd: an HTTPS server for Node.js with its own HTTP/2 engine and a web-standard fetch handler.
 *
 *   import { serve, FastResponse } from 'httpsd';
 *   serve({ fetch: () => new FastResponse('hello'), tls: { cert: 'cert.pem', key: 'key.pem' } });
 */
export { serve, FastResponse, DEFAULT_SERVER_LIMITS, PayloadTooLargeError } from './server/index.js';
export { takeSystemdSockets, type SystemdSockets, type InheritedSocketOptions, type UnixSocketOptions } from './server/index.js';
export type {
  FastResponseInit,
  TrailersInit,
  FetchHandler,
  Protocol,
  ServeInfo,
  ServeOptions,
  Server,
  ServerLimits,
  ServerStats,
  ServerWebSocket,
  WebSocketHandler,
  UpgradeOptions,
  WebSocketStats,
} from './server/index.js';
export type { CompressOptions, CompressionEncoding } from './server/compress/index.js';
export type { TlsConfig, TlsProfileName, CertKeyPair } from './tls/types.js';
export { serveStatic } from './static/index.js';
