// @mmbus/runtime: what mmbus packages share at run time, without native code: the error class and its
// codes here; the schema model and the .fbs reader in '@mmbus/runtime/schema'.
export { MMBUS_ERROR_CODES, MmbusError, type MmbusErrorCode } from './errors.js';
export {
  LAYOUT_LIMITS,
  LAYOUT_SCALAR_SIZE,
  checkRecordLayout,
  layoutEnd,
  recordDecoder,
  type DecodeOptions,
  type FieldLayout,
  type LayoutElem,
  type LayoutScalar,
  type LayoutType,
  type RecordLayout,
  type StructLayout,
} from './layout.js';
export { recordLayoutFingerprint } from './schema/fingerprint.js';
export { layoutClass, type LayoutClass, type LayoutRecord } from './record-class.js';
