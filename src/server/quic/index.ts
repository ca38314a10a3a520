/** The UDP driver for QUIC + HTTP/3 (internal until the server core serves HTTP/3 itself). */
export { QuicEndpoint, certificateSelector, pemBlocks } from './endpoint.js';
export type { EndpointCertificate, QuicEndpointOptions, RequestHandler, Respond } from './endpoint.js';
export { DeadlineQueue } from './deadlines.js';
