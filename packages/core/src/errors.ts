import { native } from './native.js';

/** Stable error codes: the names of libmmbus's MMBUS_E_* codes. */
export type MmbusErrorCode =
  | 'MMBUS_E_INVAL'
  | 'MMBUS_E_NAME'
  | 'MMBUS_E_NOENT'
  | 'MMBUS_E_EXIST'
  | 'MMBUS_E_DIR'
  | 'MMBUS_E_IO'
  | 'MMBUS_E_BADFILE'
  | 'MMBUS_E_VERSION'
  | 'MMBUS_E_MISMATCH'
  | 'MMBUS_E_SCHEMA'
  | 'MMBUS_E_FULL'
  | 'MMBUS_E_TIMEOUT'
  | 'MMBUS_E_BUSY'
  | 'MMBUS_E_NOSLOT'
  | 'MMBUS_E_CLOSED'
  | 'MMBUS_E_NOMEM'
  | 'MMBUS_E_TOOBIG'
  | 'MMBUS_E_NOSPACE'
  | 'MMBUS_E_PERM'
  | 'MMBUS_E_STATE'
  | 'MMBUS_E_INTR'
  | 'MMBUS_E_REVOKED'
  | 'MMBUS_E_STALE'
  | 'MMBUS_E_CORRUPT';

/** Every failure of @mmbus/core: `code` is stable, `message` says what and why. */
export class MmbusError extends Error {
  override readonly name = 'MmbusError';
  /** e.g. 'MMBUS_E_FULL' */
  readonly code: MmbusErrorCode;
  /** The negative code of the C library. */
  readonly errno: number;

  constructor(code: MmbusErrorCode, errno: number, message: string) {
    super(message);
    this.code = code;
    this.errno = errno;
  }
}

/** Builds the error for a negative code returned by the addon, with the C library's detail. */
export function nativeError(rc: number, context?: string): MmbusError {
  const detail = native.errmsg() || native.strerror(rc);
  const code = native.errname(rc) as MmbusErrorCode;
  return new MmbusError(code, rc, context ? `${context}: ${detail}` : detail);
}

export function closedError(what: string): MmbusError {
  return new MmbusError('MMBUS_E_CLOSED', -15, `${what} is closed`);
}

/** An argument the caller got wrong, caught before it reaches the C library. */
export function invalid(message: string): MmbusError {
  return new MmbusError('MMBUS_E_INVAL', -1, message);
}

/** Throws when rc is a negative code; returns it otherwise. */
export function check(rc: number, context?: string): number {
  if (rc < 0) throw nativeError(rc, context);
  return rc;
}
