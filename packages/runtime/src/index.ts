// @mmbus/runtime: what mmbus packages share at run time, without native code: the error class and its
// codes here; the schema model and the .fbs reader in '@mmbus/runtime/schema'.
export { MMBUS_ERROR_CODES, MmbusError, type MmbusErrorCode } from './errors.js';
