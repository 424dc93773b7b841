// Bounds on what a schema may describe and on the input mmbus-codegen reads (see README.md, Limits).

/** MMBUS_RECORD_SIZE_MAX (native/include/mmbus.h): the largest record a channel carries, in bytes. */
export const RECORD_SIZE_MAX = 65536;

/** MMBUS_SCHEMA_NAME_MAX (native/include/mmbus.h): bytes of the schema name (a struct's NAME) a channel stores. */
export const SCHEMA_NAME_MAX = 63;

/** Elements of a fixed array. */
export const ARRAY_LENGTH_MAX = 65535;

/** FLATBUFFERS_MAX_ALIGNMENT in flatc 2.0.8: the largest force_align. */
export const ALIGN_MAX = 32;

/** Bytes of schema text read in one run, every file together. */
export const SCHEMA_BYTES_MAX = 8 * 1024 * 1024;

/** Schema files in one run, roots and includes together. */
export const SCHEMA_FILES_MAX = 1024;

/** Includes nested in includes, from a root. */
export const INCLUDE_DEPTH_MAX = 64;

/**
 * Bytes of canonical layout text hashed for the fingerprints of one run. A struct's text contains the
 * text of every struct nested in it, so deep nesting costs more than the schema's size: this bounds the work.
 */
export const LAYOUT_TEXT_BYTES_MAX = 64 * 1024 * 1024;

export function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}
