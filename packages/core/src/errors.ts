// MmbusError lives in @mmbus/runtime (one class for every mmbus package); core builds it from the C
// library's codes.
import { MmbusError, type MmbusErrorCode } from '@mmbus/runtime';

import { native } from './native.js';

export { MmbusError, type MmbusErrorCode };

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

/** A channel file whose contents are wrong. */
export function badFile(message: string): MmbusError {
  return new MmbusError('MMBUS_E_BADFILE', -7, message);
}

/** Throws when rc is a negative code; returns it otherwise. */
export function check(rc: number, context?: string): number {
  if (rc < 0) throw nativeError(rc, context);
  return rc;
}
