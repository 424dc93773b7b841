// A record layout as plain data: every field's schema name, byte offset, size and type. Generated
// message classes carry theirs (`static LAYOUT`, emitted by mmbus-codegen from the schema), a channel
// file carries the layout of its records (self-describing channels, docs/format.md §13), and
// `recordLayout()` of '@mmbus/runtime/schema' makes one from a schema read at run time. Tools that
// decode records they were not compiled against (the `mmbus` command, the web gateway and its browser
// client) read fields through `recordDecoder`. JSON-serialisable as it is (enum values are decimal
// strings: exact for 64-bit ones). Nested structs are named, and laid out once in `structs`: the size
// of a layout grows with the number of declarations, never with the depth of nesting.
// No Node.js imports: this module runs in browsers too.
import { MMBUS_ERROR_CODES, MmbusError, type MmbusErrorCode } from './errors.js';

/** A scalar type: its FlatBuffers canonical name. */
export type LayoutScalar = 'bool' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

/** The type of one element: a scalar, an enum (its values by name), or a nested struct (by name: see RecordLayout.structs). */
export type LayoutElem =
  | { readonly kind: 'scalar'; readonly scalar: LayoutScalar }
  | {
      readonly kind: 'enum';
      /** Fully qualified enum name, e.g. 'mmbus.Quality'. */
      readonly name: string;
      readonly scalar: LayoutScalar;
      /** Every declared value: its name and its value as a decimal string. */
      readonly values: readonly { readonly name: string; readonly value: string }[];
    }
  | { readonly kind: 'struct'; /** Fully qualified name of a struct of RecordLayout.structs. */ readonly name: string };

/** A field's type: an element, a fixed array of elements, or UTF-8 text in a fixed number of bytes (NUL-padded). */
export type LayoutType = LayoutElem | { readonly kind: 'array'; readonly elem: LayoutElem; readonly length: number } | { readonly kind: 'text'; readonly length: number };

export interface FieldLayout {
  /** The field's name as the schema spells it, e.g. 'point_id'. */
  readonly name: string;
  /** Byte offset in the record (or in the enclosing struct). */
  readonly offset: number;
  /** Bytes the field takes. */
  readonly size: number;
  readonly type: LayoutType;
}

/** One struct: its fields in layout order. */
export interface StructLayout {
  /** Fully qualified struct name, e.g. 'mmbus.PointUpdate'. */
  readonly name: string;
  /** Size in bytes (the declared size when padded). */
  readonly size: number;
  readonly align: number;
  readonly fields: readonly FieldLayout[];
}

/** The layout of a record: its struct, the key field of a keyed type, and every struct nested in it. */
export interface RecordLayout extends StructLayout {
  /** The key field's name, for a keyed message type. */
  readonly key?: string;
  /** Every struct nested in the record, directly or not, once each, innermost first. */
  readonly structs: readonly StructLayout[];
}

/** Bytes of one scalar. */
export const LAYOUT_SCALAR_SIZE: Readonly<Record<LayoutScalar, number>> = {
  bool: 1,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float32: 4,
  float64: 8,
};

/** Bounds on a layout read from outside (a file, a socket): what a schema within the codegen limits stays under. */
export const LAYOUT_LIMITS = {
  /** Record and struct size (as a channel's record_size). */
  size: 65536,
  /** Fields over the record and all its structs. */
  fields: 65536,
  /** Structs in `structs`. */
  structs: 4096,
  /** Values of one enum. */
  enumValues: 65536,
  /** Characters of a name. */
  name: 256,
} as const;

function fail(code: MmbusErrorCode, message: string): never {
  throw new MmbusError(code, -(MMBUS_ERROR_CODES.indexOf(code) + 1), message);
}

/** Where the last field ends: the bytes after it are padding (zero in every record mmbus writes from a schema). */
export function layoutEnd(layout: StructLayout): number {
  let end = 0;
  for (const f of layout.fields) end = Math.max(end, f.offset + f.size);
  return end;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const INT_RE = /^-?(0|[1-9][0-9]*)$/;

function scalarRange(s: LayoutScalar): [bigint, bigint] | undefined {
  if (s === 'bool' || s === 'float32' || s === 'float64') return undefined;
  const bits = BigInt(LAYOUT_SCALAR_SIZE[s] * 8);
  return s.startsWith('u') ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
}

/**
 * Checks that `value` (parsed JSON from a file or a peer) is a well-formed RecordLayout: every field
 * within its struct, sizes that add up, nested structs declared before use (so there is no cycle),
 * names and enum values that a schema could have. Returns it typed; throws MmbusError MMBUS_E_SCHEMA
 * saying what is wrong. Bounded work on any input (LAYOUT_LIMITS).
 */
export function checkRecordLayout(value: unknown): RecordLayout {
  const bad = (what: string): never => fail('MMBUS_E_SCHEMA', `record layout: ${what}`);
  if (!isObj(value)) bad('not an object');
  const top = value as Record<string, unknown>;
  const structsIn = top['structs'];
  if (!Array.isArray(structsIn) || structsIn.length > LAYOUT_LIMITS.structs) bad(`'structs' is not an array of at most ${LAYOUT_LIMITS.structs}`);
  const sizes = new Map<string, number>();
  let fieldCount = 0;
  const name = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || v.length > LAYOUT_LIMITS.name || !NAME_RE.test(v)) bad(`${what} is not a name`);
    return v as string;
  };
  const int = (v: unknown, what: string, min: number, max: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(`${what} is not an integer in ${min}..${max}`);
    return v as number;
  };
  const scalar = (v: unknown, what: string): LayoutScalar => {
    if (typeof v !== 'string' || !Object.hasOwn(LAYOUT_SCALAR_SIZE, v)) bad(`${what} is not a scalar type`);
    return v as LayoutScalar;
  };
  const elemSize = (e: unknown, what: string): number => {
    if (!isObj(e)) bad(`${what} is not a type`);
    const t = e as Record<string, unknown>;
    if (t['kind'] === 'scalar') return LAYOUT_SCALAR_SIZE[scalar(t['scalar'], what)];
    if (t['kind'] === 'struct') {
      const n = sizes.get(name(t['name'], what));
      if (n === undefined) bad(`${what} names struct '${String(t['name'])}', not declared before it in 'structs'`);
      return n as number;
    }
    if (t['kind'] === 'enum') {
      name(t['name'], what);
      const s = scalar(t['scalar'], what);
      const range = scalarRange(s);
      const values = t['values'];
      if (range === undefined || !Array.isArray(values) || values.length > LAYOUT_LIMITS.enumValues) bad(`${what}: an enum needs an integer type and at most ${LAYOUT_LIMITS.enumValues} values`);
      for (const v of values as unknown[]) {
        if (!isObj(v)) bad(`${what}: an enum value is not an object`);
        const ev = v as Record<string, unknown>;
        name(ev['name'], `${what}: an enum value's name`);
        const x = ev['value'];
        if (typeof x !== 'string' || x.length > 21 || !INT_RE.test(x) || BigInt(x) < range![0] || BigInt(x) > range![1]) bad(`${what}: enum value '${String(ev['name'])}' is not a ${s}`);
      }
      return LAYOUT_SCALAR_SIZE[s];
    }
    return bad(`${what} has an unknown kind`);
  };
  const struct = (v: unknown, what: string): void => {
    if (!isObj(v)) bad(`${what} is not an object`);
    const s = v as Record<string, unknown>;
    const sname = name(s['name'], `${what}'s name`);
    const size = int(s['size'], `${sname}: size`, 1, LAYOUT_LIMITS.size);
    const align = int(s['align'], `${sname}: align`, 1, LAYOUT_LIMITS.size);
    if ((align & (align - 1)) !== 0) bad(`${sname}: align ${align} is not a power of two`);
    const fields = s['fields'];
    if (!Array.isArray(fields)) bad(`${sname}: 'fields' is not an array`);
    fieldCount += (fields as unknown[]).length;
    if (fieldCount > LAYOUT_LIMITS.fields) bad(`more than ${LAYOUT_LIMITS.fields} fields`);
    const seen = new Set<string>();
    for (const f of fields as unknown[]) {
      if (!isObj(f)) bad(`${sname}: a field is not an object`);
      const fl = f as Record<string, unknown>;
      const fname = name(fl['name'], `${sname}: a field's name`);
      const at = `${sname}.${fname}`;
      if (seen.has(fname)) bad(`${at} appears twice`);
      seen.add(fname);
      const offset = int(fl['offset'], `${at}: offset`, 0, size - 1);
      const fsize = int(fl['size'], `${at}: size`, 1, size - offset);
      const t = fl['type'];
      if (!isObj(t)) bad(`${at}: 'type' is not an object`);
      const ty = t as Record<string, unknown>;
      let want: number;
      if (ty['kind'] === 'text') want = int(ty['length'], `${at}: text length`, 1, LAYOUT_LIMITS.size);
      else if (ty['kind'] === 'array') want = elemSize(ty['elem'], `${at}: element`) * int(ty['length'], `${at}: array length`, 1, LAYOUT_LIMITS.size);
      else want = elemSize(t, `${at}: type`);
      if (want !== fsize) bad(`${at}: size ${fsize} is not the size of its type (${want})`);
    }
    sizes.set(sname, size);
  };
  (structsIn as unknown[]).forEach((s, i) => struct(s, `structs[${i}]`));
  struct(top, 'the record');
  const key = top['key'];
  if (key !== undefined) {
    const f = (top['fields'] as { name: string; type: { kind: string; scalar?: string } }[]).find((x) => x.name === key);
    if (!f || f.type.kind !== 'scalar' || !['uint8', 'uint16', 'uint32', 'uint64'].includes(f.type.scalar ?? '')) bad(`key '${String(key)}' is not an unsigned integer field of the record`);
  }
  return value as unknown as RecordLayout;
}

/** How recordDecoder renders values. */
export interface DecodeOptions {
  /** 64-bit integers: 'bigint' (exact, the default), or 'number' when safe and a decimal string otherwise (JSON-safe). */
  readonly int64?: 'bigint' | 'json';
  /** Enum values: 'name' (the default; a value the enum lacks stays a number) or 'number'. */
  readonly enums?: 'name' | 'number';
}

type Read = (view: DataView, offset: number) => unknown;

const utf8 = new TextDecoder('utf-8');

function scalarReader(s: LayoutScalar, int64: 'bigint' | 'json'): Read {
  const big = (v: bigint): unknown => (int64 === 'bigint' ? v : v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());
  switch (s) {
    case 'bool':
      return (v, o) => v.getUint8(o) !== 0;
    case 'int8':
      return (v, o) => v.getInt8(o);
    case 'uint8':
      return (v, o) => v.getUint8(o);
    case 'int16':
      return (v, o) => v.getInt16(o, true);
    case 'uint16':
      return (v, o) => v.getUint16(o, true);
    case 'int32':
      return (v, o) => v.getInt32(o, true);
    case 'uint32':
      return (v, o) => v.getUint32(o, true);
    case 'int64':
      return (v, o) => big(v.getBigInt64(o, true));
    case 'uint64':
      return (v, o) => big(v.getBigUint64(o, true));
    case 'float32':
      return (v, o) => v.getFloat32(o, true);
    case 'float64':
      return (v, o) => v.getFloat64(o, true);
  }
}

/**
 * A decoder of records of `layout`: `(view, offset) => object` with the schema's field names, nested
 * structs as objects, arrays as arrays, text as strings (up to the first NUL), enum values by name.
 * The layout is compiled once; each call reads only the record's bytes.
 */
export function recordDecoder(layout: RecordLayout, options: DecodeOptions = {}): (view: DataView, offset: number) => Record<string, unknown> {
  const int64 = options.int64 ?? 'bigint';
  const structs = new Map<string, (view: DataView, offset: number) => Record<string, unknown>>();
  const elem = (e: LayoutElem): Read => {
    if (e.kind === 'scalar') return scalarReader(e.scalar, int64);
    if (e.kind === 'enum') {
      const raw = scalarReader(e.scalar, int64);
      if (options.enums === 'number') return raw;
      const exact = scalarReader(e.scalar, 'bigint');
      const names = new Map(e.values.map((v) => [BigInt(v.value), v.name]));
      return (v, o) => names.get(BigInt(exact(v, o) as number | bigint)) ?? raw(v, o);
    }
    const s = structs.get(e.name);
    if (!s) return fail('MMBUS_E_SCHEMA', `record layout: struct '${e.name}' is used before it is declared in 'structs'`);
    return s;
  };
  const compile = (s: StructLayout): ((view: DataView, offset: number) => Record<string, unknown>) => {
    const readers: [string, number, Read][] = s.fields.map((f) => {
      const t = f.type;
      if (t.kind === 'text') {
        const n = t.length;
        return [f.name, f.offset, (v: DataView, o: number) => {
          const bytes = new Uint8Array(v.buffer, v.byteOffset + o, n);
          const end = bytes.indexOf(0);
          return utf8.decode(end < 0 ? bytes : bytes.subarray(0, end));
        }];
      }
      if (t.kind === 'array') {
        const read = elem(t.elem);
        const step = f.size / t.length;
        const n = t.length;
        return [f.name, f.offset, (v: DataView, o: number) => {
          const out: unknown[] = new Array(n);
          for (let i = 0; i < n; i++) out[i] = read(v, o + i * step);
          return out;
        }];
      }
      return [f.name, f.offset, elem(t)];
    });
    return (view, offset) => {
      const out: Record<string, unknown> = {};
      for (const [name, at, read] of readers) out[name] = read(view, offset + at);
      return out;
    };
  };
  for (const s of layout.structs) structs.set(s.name, compile(s));
  return compile(layout);
}
