/** WebSockets on the server: the hub, the socket the app sees, the upgrade Response. */
export { WebSocketHub } from './hub.js';
export { ServerWebSocket, ReadyState, SEND_BACKPRESSURE, SEND_DROPPED } from './socket.js';
export { upgradeWebSocket, upgradeOf, type PendingUpgrade, type UpgradeFacts } from './upgrade.js';
export type { WebSocketHandler, UpgradeOptions, WebSocketStats } from './types.js';
