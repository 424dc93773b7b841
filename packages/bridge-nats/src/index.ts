// @mmbus/bridge-nats: mmbus channels to NATS subjects and back (docs/bridge.md).
export { Bridge, runBridge, subjectMatches, type BridgeOptions, type RunIo } from './bridge.ts';
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
} from './config.ts';
export { BRIDGE_ERROR_CODES, BridgeError, type BridgeErrorCode } from './errors.ts';
export { jsonToInput, recordToJson, shapeOf, type RecordClass, type Shape } from './layout.ts';
export { REFUSAL_KINDS, Refused, type RefusalKind } from './refused.ts';
export { formatStats, isLive, readStatsFile, refusedTotal, type BridgeStats, type InRouteStats, type OutRouteStats, type RouteStats } from './stats.ts';
export { ENCODINGS, HEADER, hex64, messageId, RecordCodec, type Encoding } from './wire.ts';
