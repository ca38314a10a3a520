export { serve } from './serve.js';
export { FastResponse, type FastResponseInit, type TrailersInit } from './response.js';
export { DEFAULT_SERVER_LIMITS } from './limits.js';
export { PayloadTooLargeError } from './request.js';
export type { FetchHandler, Protocol, ServeInfo, ServeOptions, Server, ServerLimits, ServerStats } from './types.js';
export { takeSystemdSockets, type SystemdSockets } from './listeners.js';
export type { InheritedSocketOptions, UnixSocketOptions } from './types.js';
export type { ServerWebSocket, WebSocketHandler, UpgradeOptions, WebSocketStats } from './websocket/index.js';
