// The JSON encoding of records: a generated message class's toObject() as JSON (64-bit integers as
// strings of digits, non-finite floats as "NaN"/"Infinity"/"-Infinity"), and the strict check of
// inbound JSON before anything is assigned to a record.
//
// The kind of every field (integer width and sign, float width, text capacity, array lengths, enum
// values) comes from the class's static LAYOUT (the schema's layout as data, @mmbus/runtime); the
// property names from its toObject(), whose fields are in layout order. Inbound values are checked
// against those kinds explicitly; assign() only ever sees values that fit.
import type { LayoutElem, LayoutType, RecordLayout, StructLayout } from '@mmbus/runtime';

import { Refused, type RefusalKind } from './refused.js';

export type Leaf =
  | { kind: 'int'; signed: boolean; bits: 8 | 16 | 32; values?: readonly number[] }
  | { kind: 'int64'; signed: boolean; values?: readonly bigint[] }
  | { kind: 'float'; bits: 32 | 64 }
  | { kind: 'bool' }
  | { kind: 'text'; capacity: number };

export type Shape = Leaf | { kind: 'array'; length: number; elem: Shape } | { kind: 'struct'; fields: [string, Shape][] };

/** What the bridge needs of a generated class (see @mmbus/messages' MessageType). */
export interface RecordClass {
  readonly NAME: string;
  readonly SIZE: number;
  readonly FINGERPRINT: bigint;
  readonly LAYOUT: RecordLayout;
  new (view?: DataView, offset?: number): GeneratedRecord;
}

export interface GeneratedRecord {
  readonly view: DataView;
  readonly offset: number;
  wrap(view: DataView, offset: number): unknown;
  moveTo(offset: number): unknown;
  toObject(): object;
  assign(obj: object): unknown;
}

function leafOf(e: Exclude<LayoutElem, { kind: 'struct' }>): Leaf {
  const s = e.scalar;
  const values = e.kind === 'enum' ? e.values.map((v) => v.value) : undefined;
  if (s === 'bool') return { kind: 'bool' };
  if (s === 'float32' || s === 'float64') return { kind: 'float', bits: s === 'float32' ? 32 : 64 };
  if (s === 'int64' || s === 'uint64') return { kind: 'int64', signed: s === 'int64', ...(values ? { values: values.map(BigInt) } : {}) };
  const bits = Number(s.replace(/^u?int/, '')) as 8 | 16 | 32;
  return { kind: 'int', signed: !s.startsWith('u'), bits, ...(values ? { values: values.map(Number) } : {}) };
}

/** The shape of a struct of `layout`, its property names taken from a toObject() of it. */
function structShape(name: string, s: StructLayout, structs: ReadonlyMap<string, StructLayout>, sample: unknown): Shape {
  const entries = Object.entries(sample as object);
  if (entries.length !== s.fields.length) throw new TypeError(`${name}: toObject() of ${s.name} has ${entries.length} fields, its LAYOUT ${s.fields.length}`);
  const elem = (e: LayoutElem, v: unknown): Shape => {
    if (e.kind !== 'struct') return leafOf(e);
    const inner = structs.get(e.name);
    if (!inner) throw new TypeError(`${name}: LAYOUT names struct ${e.name} without its layout`);
    return structShape(name, inner, structs, v);
  };
  const type = (t: LayoutType, v: unknown): Shape => {
    if (t.kind === 'text') return { kind: 'text', capacity: t.length };
    if (t.kind === 'array') return { kind: 'array', length: t.length, elem: elem(t.elem, (v as unknown[])[0]) };
    return elem(t, v);
  };
  return { kind: 'struct', fields: entries.map(([k, v], i) => [k, type(s.fields[i]!.type, v)]) };
}

const shapes = new WeakMap<RecordClass, Shape>();

/** The field kinds of a generated class, from its LAYOUT, once per class (see the top of this file). */
export function shapeOf(type: RecordClass): Shape {
  let s = shapes.get(type);
  if (!s) {
    const layout = type.LAYOUT;
    if (!layout) throw new TypeError(`${type.NAME} has no static LAYOUT: regenerate it with this version of mmbus-codegen`);
    s = structShape(type.NAME, layout, new Map(layout.structs.map((x) => [x.name, x])), new type().toObject());
    shapes.set(type, s);
  }
  return s;
}

// ---- outbound: a record as JSON ------------------------------------------------------------------

const NON_FINITE = new Map<string, number>([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

/** A record's toObject() as JSON text: exact 64-bit integers (strings of digits), non-finite floats as strings. */
export function recordToJson(record: GeneratedRecord): string {
  return JSON.stringify(record.toObject(), jsonReplacer);
}

// ---- inbound: strict JSON check ------------------------------------------------------------------

type JsonRefusal = Extract<RefusalKind, `json-${string}`>;

const INT64 = /^-?(0|[1-9][0-9]*)$/;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function where(path: string): string {
  return path === '' ? 'the record' : `field ${path}`;
}

function convertLeaf(leaf: Leaf, v: unknown, path: string): unknown {
  const bad = (kind: JsonRefusal, why: string): never => {
    throw new Refused(kind, `${where(path)}: ${why}, got ${JSON.stringify(v)}`);
  };
  switch (leaf.kind) {
    case 'bool':
      if (typeof v !== 'boolean') bad('json-type', 'expected true or false');
      return v;
    case 'text': {
      if (typeof v !== 'string') bad('json-type', 'expected a string');
      const s = v as string;
      if (s.includes('\0')) bad('json-range', 'a NUL character (text fields end at the first NUL)');
      const bytes = utf8.encode(s);
      // a lone surrogate has no UTF-8 form: the encoder would store U+FFFD instead
      if (utf8Decoder.decode(bytes) !== s) bad('json-range', 'not well-formed text (a lone surrogate)');
      if (bytes.length > leaf.capacity) bad('json-range', `${bytes.length} bytes of UTF-8, the field holds ${leaf.capacity}`);
      return s;
    }
    case 'int64': {
      // a JSON number cannot carry every 64-bit value: only strings of digits are exact
      if (typeof v !== 'string') bad('json-type', 'expected a 64-bit integer as a string of decimal digits');
      if (!INT64.test(v as string)) bad('json-type', 'expected a string of decimal digits');
      const b = BigInt(v as string);
      if ((leaf.signed ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b)) !== b) bad('json-range', `out of range for ${leaf.signed ? 'int64' : 'uint64'}`);
      if (leaf.values && !leaf.values.includes(b)) bad('json-range', 'not a value of the enum');
      return b;
    }
    case 'float': {
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string' && NON_FINITE.has(v)) n = NON_FINITE.get(v)!;
      else return bad('json-type', 'expected a number (or "NaN", "Infinity", "-Infinity")');
      if (leaf.bits === 32 && Number.isFinite(n) && !Number.isFinite(Math.fround(n))) bad('json-range', 'out of range for float32');
      return n;
    }
    case 'int': {
      if (typeof v !== 'number') bad('json-type', 'expected an integer number');
      const n = v as number;
      if (!Number.isInteger(n)) bad('json-type', 'expected an integer');
      const min = leaf.signed ? -(2 ** (leaf.bits - 1)) : 0;
      const max = leaf.signed ? 2 ** (leaf.bits - 1) - 1 : 2 ** leaf.bits - 1;
      if (n < min || n > max) bad('json-range', `out of range for ${leaf.signed ? 'int' : 'uint'}${leaf.bits} (${min}..${max})`);
      if (leaf.values && !leaf.values.includes(n)) bad('json-range', `not a value of the enum (${leaf.values.join(', ')})`);
      return n;
    }
  }
}

function convert(shape: Shape, v: unknown, path: string): unknown {
  if (shape.kind === 'array') {
    if (!Array.isArray(v)) throw new Refused('json-type', `${where(path)}: expected an array of ${shape.length}, got ${JSON.stringify(v)}`);
    if (v.length !== shape.length) throw new Refused('json-range', `${where(path)}: expected ${shape.length} elements, got ${v.length}`);
    return v.map((e, i) => convert(shape.elem, e, `${path}[${i}]`));
  }
  if (shape.kind === 'struct') {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      throw new Refused('json-type', `${where(path)}: expected an object, got ${JSON.stringify(v)}`);
    }
    const obj = v as Record<string, unknown>;
    const names = new Set(shape.fields.map(([k]) => k));
    for (const k of Object.keys(obj)) {
      if (!names.has(k)) throw new Refused('json-field', `${where(path)}: unknown field '${k}' (fields: ${[...names].join(', ')})`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, s] of shape.fields) {
      const sub = path === '' ? k : `${path}.${k}`;
      if (!Object.hasOwn(obj, k)) throw new Refused('json-missing', `${where(sub)} is missing (every field is required)`);
      out[k] = convert(s, obj[k], sub);
    }
    return out;
  }
  return convertLeaf(shape, v, path);
}

/**
 * Parses and checks an inbound JSON message against `shape`: exactly the fields of toObject(), each
 * of its kind and in its range. Returns the assign() input; throws Refused (never a partial result).
 */
export function jsonToInput(shape: Shape, bytes: Uint8Array): object {
  let value: unknown;
  try {
    value = JSON.parse(utf8Decoder.decode(bytes));
  } catch (err) {
    throw new Refused('json-syntax', `not JSON: ${(err as Error).message}`);
  }
  return convert(shape, value, '') as object;
}
