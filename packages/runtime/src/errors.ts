// The error every mmbus package throws. It lives here, in a package without native code, so that
// @mmbus/core, generated message classes and tools share one class (instanceof works across them).

/**
 * The stable error codes: the names of libmmbus's MMBUS_E_* codes (MMBUS_ERRORS in mmbus.h, without
 * MMBUS_OK), in the order of their values -1, -2, ...; a test of @mmbus/core checks them against the
 * library.
 */
export const MMBUS_ERROR_CODES = [
  'MMBUS_E_INVAL',
  'MMBUS_E_NAME',
  'MMBUS_E_NOENT',
  'MMBUS_E_EXIST',
  'MMBUS_E_DIR',
  'MMBUS_E_IO',
  'MMBUS_E_BADFILE',
  'MMBUS_E_VERSION',
  'MMBUS_E_MISMATCH',
  'MMBUS_E_SCHEMA',
  'MMBUS_E_FULL',
  'MMBUS_E_TIMEOUT',
  'MMBUS_E_BUSY',
  'MMBUS_E_NOSLOT',
  'MMBUS_E_CLOSED',
  'MMBUS_E_NOMEM',
  'MMBUS_E_TOOBIG',
  'MMBUS_E_NOSPACE',
  'MMBUS_E_PERM',
  'MMBUS_E_STATE',
  'MMBUS_E_INTR',
  'MMBUS_E_REVOKED',
  'MMBUS_E_STALE',
  'MMBUS_E_CORRUPT',
] as const;

/** Stable error codes: the names of libmmbus's MMBUS_E_* codes. */
export type MmbusErrorCode = (typeof MMBUS_ERROR_CODES)[number];

/** Every failure of mmbus: `code` is stable, `message` says what and why. */
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
