// The bridge's own failures, each with a stable code (mmbus failures stay MmbusError from @mmbus/runtime).

export const BRIDGE_ERROR_CODES = [
  /** A configuration file or flag is wrong: the message names the key or flag. */
  'BRIDGE_E_CONFIG',
  /** A message type does not match a channel (name, fingerprint or record size). */
  'BRIDGE_E_SCHEMA',
  /** NATS refused a setup step (connect, stream creation); transient publish failures are retried, not thrown. */
  'BRIDGE_E_NATS',
  /** A bridge's stats file is missing or unreadable (`mmbus bridge stat`). */
  'BRIDGE_E_STATS',
  /** The nats-server binary is missing or did not start (the test and bench helper). */
  'BRIDGE_E_SERVER',
] as const;

export type BridgeErrorCode = (typeof BRIDGE_ERROR_CODES)[number];

export class BridgeError extends Error {
  override readonly name = 'BridgeError';
  readonly code: BridgeErrorCode;

  constructor(code: BridgeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
