// The TypeScript runtime: the helpers generated modules import, as source text (no ts-morph here, so
// the schema reader can know their names without loading the emitter).

/**
 * The runtime helpers, by key, in a fixed order: all are written once into the runtime module
 * (TS_RUNTIME_MODULE) of an output directory; a generated module imports the functions it uses.
 */
export const HELPERS: Record<string, string> = {
  errors: `/** How a value shows in a message: strings quoted, bigints with n, objects by kind. */
function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? \`\${v.slice(0, 40)}...\` : v);
  if (typeof v === 'bigint') return \`\${v}n\`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  if (typeof v === 'function') return 'a function';
  return String(v);
}

/** A value a field cannot hold: MMBUS_E_INVAL naming the field, the value and what the field takes. */
export function invalidValue(what: string, v: unknown, takes: string): MmbusError {
  return new MmbusError('MMBUS_E_INVAL', \`\${what}: \${shown(v)} is not \${takes}\`);
}

/**
 * What a failed access of the record's view throws: MMBUS_E_CLOSED when the view's memory is gone (a
 * channel's mapping is detached when it closes), else the error itself.
 */
export function viewError(what: string, view: DataView, err: unknown): unknown {
  if (err instanceof MmbusError || view.buffer.byteLength !== 0) return err;
  return new MmbusError(
    'MMBUS_E_CLOSED',
    \`\${what}: the record's memory is gone (its channel or subscription was closed): records handed out are views into the channel; copy what you keep (toObject(), batch.toArray())\`,
    { cause: err },
  );
}`,
  tag: `/** Symbol.toStringTag, under a name no schema type can shadow (a struct may be named Symbol). */
export const toStringTag: typeof Symbol.toStringTag = Symbol.toStringTag;`,
  layout: `const layouts = new WeakMap<object, RecordLayout>();

/** A generated class's LAYOUT: its own part, then every struct nested in it once (innermost first), built on first use. */
export function layoutOf(type: object, own: () => Omit<RecordLayout, 'structs'>, nested: () => readonly { readonly LAYOUT: RecordLayout }[]): RecordLayout {
  let layout = layouts.get(type);
  if (layout === undefined) {
    const structs: StructLayout[] = [];
    const seen = new Set<string>();
    for (const { LAYOUT: n } of nested()) {
      for (const st of [...n.structs, { name: n.name, size: n.size, align: n.align, fields: n.fields }]) {
        if (seen.has(st.name)) continue;
        seen.add(st.name);
        structs.push(st);
      }
    }
    layout = { ...own(), structs };
    layouts.set(type, layout);
  }
  return layout;
}`,
  bounds: `export function checkBounds(name: string, size: number, view: DataView, offset: number): void {
  if (!(view instanceof DataView)) throw invalidValue(\`\${name}: the view\`, view, 'a DataView');
  if (!(offset >= 0 && offset + size <= view.byteLength && Number.isInteger(offset))) {
    throw new MmbusError('MMBUS_E_INVAL', \`\${name}: a record of \${size} bytes at offset \${offset} does not fit a view of \${view.byteLength} bytes\`);
  }
}`,
  index: `export function checkIndex(what: string, i: number, length: number): number {
  if ((i >>> 0) !== i || i >= length) throw new MmbusError('MMBUS_E_INVAL', \`\${what}: index \${shown(i)} is out of range 0..\${length - 1}\`);
  return i;
}`,
  arrayLength: `export function checkArrayLength(what: string, got: unknown, length: number): void {
  if (!Array.isArray(got)) throw invalidValue(what, got, \`an array of at most \${length} elements\`);
  if (got.length > length) throw new MmbusError('MMBUS_E_TOOBIG', \`\${what}: \${got.length} elements given, the array holds \${length}\`);
}`,
  values: `// Field values are checked before they are stored: a value the field cannot hold exactly throws
// MMBUS_E_INVAL (never wrapped, truncated or rounded; float32 fields round to the nearest float32).
// One typeof and a range compare per field, no allocation.
export function checkInt8(what: string, v: number): number {
  if (typeof v !== 'number' || (v << 24) >> 24 !== v) throw invalidValue(what, v, 'an integer in -128 .. 127');
  return v;
}

export function checkUint8(what: string, v: number): number {
  if (typeof v !== 'number' || (v & 0xff) !== v) throw invalidValue(what, v, 'an integer in 0 .. 255');
  return v;
}

export function checkInt16(what: string, v: number): number {
  if (typeof v !== 'number' || (v << 16) >> 16 !== v) throw invalidValue(what, v, 'an integer in -32768 .. 32767');
  return v;
}

export function checkUint16(what: string, v: number): number {
  if (typeof v !== 'number' || (v & 0xffff) !== v) throw invalidValue(what, v, 'an integer in 0 .. 65535');
  return v;
}

export function checkInt32(what: string, v: number): number {
  if (typeof v !== 'number' || (v | 0) !== v) throw invalidValue(what, v, 'an integer in -2147483648 .. 2147483647');
  return v;
}

export function checkUint32(what: string, v: number): number {
  if (typeof v !== 'number' || v >>> 0 !== v) throw invalidValue(what, v, 'an integer in 0 .. 4294967295');
  return v;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

export function checkInt64(what: string, v: bigint): bigint {
  if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) throw invalidValue(what, v, 'a bigint in -2n ** 63n .. 2n ** 63n - 1n (numbers: the ...Number accessor)');
  return v;
}

export function checkUint64(what: string, v: bigint): bigint {
  if (typeof v !== 'bigint' || v < 0n || v > UINT64_MAX) throw invalidValue(what, v, 'a bigint in 0n .. 2n ** 64n - 1n (numbers: the ...Number accessor)');
  return v;
}

export function checkBool(what: string, v: boolean): boolean {
  if (v !== true && v !== false) throw invalidValue(what, v, 'true or false');
  return v;
}

export function checkFloat64(what: string, v: number): number {
  if (typeof v !== 'number') throw invalidValue(what, v, 'a number');
  return v;
}

/** Finite numbers from here on round to Infinity as float32. */
const FLOAT32_OVERFLOW = 3.4028235677973366e38;

export function checkFloat32(what: string, v: number): number {
  if (typeof v !== 'number' || (Math.abs(v) >= FLOAT32_OVERFLOW && Math.abs(v) !== Infinity)) {
    throw invalidValue(what, v, 'a number a float32 holds (|v| < 3.4028235677973366e38, or Infinity, or NaN)');
  }
  return v;
}

/** An enum whose values are the integers min .. max (numbers or, for 64-bit enums, bigints). */
export function checkEnumRange<T extends number | bigint>(what: string, v: T, min: T, max: T, name: string): T {
  if (typeof v !== typeof min || v < min || v > max || (typeof v === 'number' && !Number.isInteger(v))) {
    throw invalidValue(what, v, \`a value of \${name} (\${min} .. \${max})\`);
  }
  return v;
}

/** An enum whose values have gaps: \`known\` is v compared with each of them. */
export function checkEnumIn<T extends number | bigint>(what: string, v: T, known: boolean, name: string, values: string): T {
  if (!known) throw invalidValue(what, v, \`a value of \${name} (one of \${values})\`);
  return v;
}

/** The argument of assign() / fromObject(): a plain object. */
export function checkObject(what: string, obj: unknown): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw invalidValue(what, obj, \`an object with fields of \${what}\`);
}

/** How many enumerable keys obj has (no array made). */
export function keyCount(obj: object): number {
  let n = 0;
  for (const _ in obj) n++;
  return n;
}

/** Called when obj has more keys than fields written: throws for a key that is not a field (keys holding undefined are fine). */
export function checkKeys(what: string, obj: object, fields: readonly string[]): void {
  for (const k in obj) {
    if (!fields.includes(k)) throw new MmbusError('MMBUS_E_INVAL', \`\${what} has no field \${JSON.stringify(k)} (its fields: \${fields.join(', ')})\`);
  }
}`,
  int64Number: `export function getInt64Number(view: DataView, at: number): number {
  return view.getInt32(at + 4, true) * 4294967296 + view.getUint32(at, true);
}

export function setInt64Number(what: string, view: DataView, at: number, v: number): void {
  if (!Number.isSafeInteger(v)) throw invalidValue(what, v, 'a safe integer (-(2 ** 53 - 1) .. 2 ** 53 - 1); use the bigint accessor');
  view.setUint32(at, v >>> 0, true);
  view.setInt32(at + 4, Math.floor(v / 4294967296), true);
}`,
  uint64Number: `export function getUint64Number(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * 4294967296 + view.getUint32(at, true);
}

export function setUint64Number(what: string, view: DataView, at: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw invalidValue(what, v, 'a non-negative safe integer (0 .. 2 ** 53 - 1); use the bigint accessor');
  view.setUint32(at, v >>> 0, true);
  view.setUint32(at + 4, Math.floor(v / 4294967296), true);
}`,
  json: `/** JsonSafe<XObject>: the form of toObject({ bigint: false }): 64-bit integers as numbers, or strings beyond 2^53. */
export type JsonSafe<T> = T extends bigint
  ? number | string
  : T extends readonly (infer E)[]
    ? JsonSafe<E>[]
    : T extends object
      ? { [K in keyof T]: JsonSafe<T[K]> }
      : T;

/** What toObject(options) builds before its overloads narrow it: each 64-bit integer a bigint or JSON-safe. */
export type EitherForm<T> = T extends bigint
  ? bigint | number | string
  : T extends readonly (infer E)[]
    ? EitherForm<E>[]
    : T extends object
      ? { [K in keyof T]: EitherForm<T[K]> }
      : T;

/** A 64-bit integer for JSON: a number when exact (|v| <= 2^53 - 1), else its decimal string. */
export function jsonInt64(v: bigint): number | string {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString();
}`,
  text: `const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();
let textScratch = new Uint8Array(256);

/** Reads UTF-8 text up to the first NUL or the end of the field. Short ASCII text needs no buffer. */
export function readText(view: DataView, at: number, capacity: number): string {
  let length = 0;
  let ascii = true;
  while (length < capacity) {
    const b = view.getUint8(at + length);
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    length++;
  }
  if (ascii && length <= 32) {
    let s = '';
    for (let i = 0; i < length; i++) s += String.fromCharCode(view.getUint8(at + i));
    return s;
  }
  return textDecoder.decode(new Uint8Array(view.buffer, view.byteOffset + at, length));
}

/**
 * Writes text as UTF-8 and zero-fills the rest of the field. Not a string, or holding U+0000 (which
 * would end the text when read): MMBUS_E_INVAL. Too long: MMBUS_E_TOOBIG (nothing written), or with
 * truncate stores the longest prefix that does not split a UTF-8 sequence and returns true.
 */
export function writeText(what: string, setter: string, view: DataView, at: number, capacity: number, v: string, truncate: boolean): boolean {
  if (typeof v !== 'string') throw invalidValue(what, v, 'a string');
  const n = v.length;
  let i = 0;
  if (n <= capacity) {
    for (let c = 0; i < n && (c = v.charCodeAt(i)) < 0x80 && c !== 0; ) i++;
    if (i === n) {
      for (let k = 0; k < n; k++) view.setUint8(at + k, v.charCodeAt(k));
      for (let k = n; k < capacity; k++) view.setUint8(at + k, 0);
      return false;
    }
  }
  if (v.indexOf('\\0', i) !== -1) throw invalidValue(what, v, 'text without NUL (U+0000): it would end the text');
  if (textScratch.length < capacity) textScratch = new Uint8Array(capacity);
  const scratch = textScratch.subarray(0, capacity);
  const { read, written } = textEncoder.encodeInto(v, scratch);
  const truncated = read < n;
  if (truncated && !truncate) {
    const bytes = textEncoder.encode(v).length;
    throw new MmbusError(
      'MMBUS_E_TOOBIG',
      \`\${what}: the text is \${bytes} bytes in UTF-8 but the field holds \${capacity}; shorten it or call \${setter}(value, { truncate: true })\`,
    );
  }
  const field = new Uint8Array(view.buffer, view.byteOffset + at, capacity);
  field.set(scratch.subarray(0, written));
  field.fill(0, written);
  return truncated;
}`,
};

/** The functions a helper exports, and its types as `type X` (for an import list). */
export function exportedFunctions(code: string): string[] {
  return [...code.matchAll(/^export (function|type|const) (\w+)/gm)].map((m) => (m[1] === 'type' ? `type ${m[2]}` : (m[2] as string)));
}

/** The runtime module: every helper the generated modules use, once per output directory. */
export function emitTsRuntime(): string {
  const lines = [
    '// Generated by mmbus-codegen. Do not edit: regenerate.',
    '// The runtime shared by the modules generated into this directory (bounds and index checks, 64-bit',
    '// integers as numbers, UTF-8 text fields, value checks). Internal: import the generated classes, not these.',
    '',
    "import { MmbusError, type RecordLayout, type StructLayout } from '@mmbus/runtime';",
  ];
  for (const code of Object.values(HELPERS)) lines.push('', code);
  return lines.join('\n') + '\n';
}

/** Every function the runtime module exports. */
export function runtimeExports(): string[] {
  return Object.values(HELPERS)
    .flatMap(exportedFunctions)
    .map((n) => n.replace(/^type /, ''));
}
