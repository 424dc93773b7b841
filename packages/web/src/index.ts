// @mmbus/web: a gateway that serves a channel directory to browsers (docs/web.md), its browser client
// (@mmbus/web/client) and the live page it serves at /.
export { Gateway, startGateway } from './gateway.js';
export type { GatewayOptions, GatewayStats } from './gateway.js';
export { keySpecRanges } from './keyspec.js';
export type { GeneratedType } from './types.js';
export * from './browser/protocol.js';
