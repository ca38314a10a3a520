/** The UDP driver for QUIC + HTTP/3: the endpoint the server's h3 transport runs on. */
export { QuicEndpoint, certificateSelector, pemBlocks } from './endpoint.js';
export type { ConnectionHandler, EndpointCertificate, EndpointConnection, QuicEndpointOptions } from './endpoint.js';
export { DeadlineQueue } from './deadlines.js';
