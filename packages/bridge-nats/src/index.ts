// @mmbus/bridge-nats: mmbus channels to NATS subjects and back (docs/bridge.md).
export { Bridge, runBridge, subjectMatches, type BridgeOptions, type RunIo } from './bridge.js';
export {
  configFromFlags,
  DEFAULTS,
  defaultStatsFile,
  loadConfig,
  parseConfig,
  type BridgeConfig,
  type BridgeFlags,
  type InRouteConfig,
  type JetStreamOptions,
  type NatsOptions,
  type OutRouteConfig,
  type RouteConfig,
} from './config.js';
export { BRIDGE_ERROR_CODES, BridgeError, type BridgeErrorCode } from './errors.js';
export { jsonToInput, recordToJson, shapeOf, type RecordClass, type Shape } from './layout.js';
export { REFUSAL_KINDS, Refused, type RefusalKind } from './refused.js';
export { formatStats, isLive, readStatsFile, refusedTotal, type BridgeStats, type InRouteStats, type OutRouteStats, type RouteStats } from './stats.js';
export { ENCODINGS, HEADER, hex64, messageId, RecordCodec, type Encoding } from './wire.js';
