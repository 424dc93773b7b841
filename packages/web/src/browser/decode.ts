// Records as plain objects, read through a RecordLayout (field names as the schema spells them): what
// the browser client hands out, and what the gateway's JSON format sends. One reader per layout, made
// once: a closure per field at its offset, no lookups per record.
// INTERIM: the layout types live here until @mmbus/runtime's RecordLayout lands on main.
/** A scalar type: its FlatBuffers canonical name. */
export type LayoutScalar =
  | 'bool'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'float32'
  | 'float64';

/** The type of one element: a scalar, an enum (its values by name), or a nested struct. */
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
  | { readonly kind: 'struct'; readonly layout: RecordLayout };

/** A field's type: an element, a fixed array of elements, or UTF-8 text in a fixed number of bytes (NUL-padded). */
export type LayoutType =
  | LayoutElem
  | { readonly kind: 'array'; readonly elem: LayoutElem; readonly length: number }
  | { readonly kind: 'text'; readonly length: number };

export interface FieldLayout {
  /** The field's name as the schema spells it, e.g. 'point_id'. */
  readonly name: string;
  /** Byte offset in the record (or in the enclosing struct). */
  readonly offset: number;
  /** Bytes the field takes. */
  readonly size: number;
  readonly type: LayoutType;
}

export interface RecordLayout {
  /** Fully qualified struct name, e.g. 'mmbus.PointUpdate' (a channel's schema name). */
  readonly name: string;
  /** Record size in bytes (the declared size when padded). */
  readonly size: number;
  readonly align: number;
  /** Fields in layout order. */
  readonly fields: readonly FieldLayout[];
  /** The key field's name, for a keyed message type. */
  readonly key?: string;
}


/** Where the last field ends: the bytes after it are padding, not sent. */
export function layoutEnd(layout: RecordLayout): number {
  let end = 0;
  for (const f of layout.fields) end = Math.max(end, f.offset + f.size);
  return end;
}

/** A decoded field value. */
export type FieldValue = number | bigint | boolean | string | FieldValue[] | DecodedRecord;
/** A decoded record: its fields by schema name. */
export interface DecodedRecord {
  [field: string]: FieldValue;
}

export interface DecodeOptions {
  /**
   * JSON-safe values: 64-bit integers as strings of digits (a JSON number cannot carry every one), and
   * NaN / Infinity / -Infinity as those strings. Default false: 64-bit integers are bigints.
   */
  json?: boolean;
}

type Reader = (view: DataView, at: number) => FieldValue;

const utf8 = new TextDecoder();

function scalarReader(k: LayoutScalar, json: boolean): Reader {
  const float = (v: number): FieldValue => (json && !Number.isFinite(v) ? String(v) : v);
  switch (k) {
    case 'bool': return (v, at) => v.getUint8(at) !== 0;
    case 'int8': return (v, at) => v.getInt8(at);
    case 'uint8': return (v, at) => v.getUint8(at);
    case 'int16': return (v, at) => v.getInt16(at, true);
    case 'uint16': return (v, at) => v.getUint16(at, true);
    case 'int32': return (v, at) => v.getInt32(at, true);
    case 'uint32': return (v, at) => v.getUint32(at, true);
    case 'int64': return json ? (v, at) => v.getBigInt64(at, true).toString() : (v, at) => v.getBigInt64(at, true);
    case 'uint64': return json ? (v, at) => v.getBigUint64(at, true).toString() : (v, at) => v.getBigUint64(at, true);
    case 'float32': return (v, at) => float(v.getFloat32(at, true));
    case 'float64': return (v, at) => float(v.getFloat64(at, true));
  }
}

const SCALAR_BYTES: Record<LayoutScalar, number> = {
  bool: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8, float32: 4, float64: 8,
};

function elemSize(t: LayoutElem): number {
  return t.kind === 'struct' ? t.layout.size : SCALAR_BYTES[t.scalar];
}

function elemReader(t: LayoutElem, json: boolean): Reader {
  if (t.kind === 'scalar') return scalarReader(t.scalar, json);
  if (t.kind === 'enum') {
    // a declared value reads as its name, any other as the number (as `mmbus tail` prints it)
    const raw = scalarReader(t.scalar, false);
    const names = new Map(t.values.map((v) => [v.value, v.name]));
    return (v, at) => {
      const n = raw(v, at) as number | bigint;
      return names.get(String(n)) ?? (json && typeof n === 'bigint' ? n.toString() : n);
    };
  }
  const inner = structReader(t.layout, json);
  return inner;
}

function fieldReader(t: LayoutType, json: boolean): Reader {
  if (t.kind === 'text') {
    const length = t.length;
    return (v, at) => {
      const bytes = new Uint8Array(v.buffer, v.byteOffset + at, length);
      const nul = bytes.indexOf(0);
      return utf8.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
    };
  }
  if (t.kind === 'array') {
    const read = elemReader(t.elem, json);
    const step = elemSize(t.elem);
    const length = t.length;
    return (v, at) => {
      const out: FieldValue[] = new Array<FieldValue>(length);
      for (let i = 0; i < length; i++) out[i] = read(v, at + i * step);
      return out;
    };
  }
  return elemReader(t, json);
}

function structReader(layout: RecordLayout, json: boolean): (view: DataView, at: number) => DecodedRecord {
  const fields = layout.fields.map((f) => ({ name: f.name, offset: f.offset, read: fieldReader(f.type, json) }));
  return (view, at) => {
    const out: DecodedRecord = {};
    for (const f of fields) out[f.name] = f.read(view, at + f.offset);
    return out;
  };
}

/**
 * A function that reads the record at byte `offset` of `view` into a plain object: fields by their
 * schema names; 8- to 32-bit integers and floats as numbers, 64-bit integers as bigints (strings with
 * `json`), bool as boolean, text as a string (up to its first NUL), enums as the value's name (or the
 * number for an undeclared value), arrays as arrays, nested structs as objects.
 */
export function recordDecoder(layout: RecordLayout, options: DecodeOptions = {}): (view: DataView, offset: number) => DecodedRecord {
  return structReader(layout, options.json === true);
}
