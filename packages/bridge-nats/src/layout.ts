// The JSON encoding of records: a generated message class's toObject() as JSON (64-bit integers as
// strings of digits, non-finite floats as "NaN"/"Infinity"/"-Infinity"), and the strict check of
// inbound JSON before anything is assigned to a record.
//
// The generated classes carry no field table, and the bridge must not re-implement the schema
// parser: the kind of every field (integer width and sign, float width, text capacity, array
// lengths) is read off the class itself, once per class, by writing probe values into a scratch
// record through assign() and reading them back with toObject(). Inbound values are then checked
// against those kinds explicitly; assign() only ever sees values that fit.
import { Refused, type RefusalKind } from './refused.js';

export type Leaf =
  | { kind: 'int'; signed: boolean; bits: 8 | 16 | 32 }
  | { kind: 'int64'; signed: boolean }
  | { kind: 'float'; bits: 32 | 64 }
  | { kind: 'bool' }
  | { kind: 'text'; capacity: number };

export type Shape = Leaf | { kind: 'array'; length: number; elem: Shape } | { kind: 'struct'; fields: [string, Shape][] };

/** What the bridge needs of a generated class (see @mmbus/messages' MessageType). */
export interface RecordClass {
  readonly NAME: string;
  readonly SIZE: number;
  readonly FINGERPRINT: bigint;
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

type Path = (string | number)[];

/** `value` placed at `path` in an assign() input: arrays may be shorter than the field. */
function objectAt(path: Path, value: unknown): unknown {
  let out = value;
  for (let i = path.length - 1; i >= 0; i--) {
    const k = path[i]!;
    out = typeof k === 'number' ? [out] : { [k]: out };
  }
  return out;
}

function readAt(obj: unknown, path: Path): unknown {
  let v = obj;
  for (const k of path) v = (v as Record<string | number, unknown>)[k];
  return v;
}

/** Writes `value` at `path` into a fresh record and reads it back; undefined if assign() refused it. */
function roundTrip(type: RecordClass, path: Path, value: unknown): unknown {
  const r = new type();
  try {
    r.assign(objectAt(path, value) as object);
  } catch {
    return undefined;
  }
  return readAt(r.toObject(), path);
}

function probeLeaf(type: RecordClass, path: Path, sample: unknown): Leaf {
  const same = (v: unknown): boolean => roundTrip(type, path, v) === v;
  switch (typeof sample) {
    case 'boolean':
      return { kind: 'bool' };
    case 'bigint':
      return { kind: 'int64', signed: same(-1n) };
    case 'string': {
      // the longest ASCII text that survives; the field is a fixed number of bytes
      let lo = 0;
      let hi = type.SIZE;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (same('x'.repeat(mid))) lo = mid;
        else hi = mid - 1;
      }
      return { kind: 'text', capacity: lo };
    }
    case 'number': {
      if (same(0.5)) return { kind: 'float', bits: same(1 / 3) ? 64 : 32 };
      const signed = same(-1);
      for (const bits of [8, 16] as const) if (!same(signed ? 2 ** (bits - 1) : 2 ** bits)) return { kind: 'int', signed, bits };
      return { kind: 'int', signed, bits: 32 };
    }
    default:
      throw new TypeError(`${type.NAME}: field ${path.join('.')} has an unexpected toObject() value (${typeof sample})`);
  }
}

function probe(type: RecordClass, path: Path, sample: unknown): Shape {
  if (Array.isArray(sample)) {
    if (sample.length === 0) throw new TypeError(`${type.NAME}: field ${path.join('.')} is an empty array`);
    return { kind: 'array', length: sample.length, elem: probe(type, [...path, 0], sample[0]) };
  }
  if (typeof sample === 'object' && sample !== null) {
    return { kind: 'struct', fields: Object.entries(sample).map(([k, v]) => [k, probe(type, [...path, k], v)]) };
  }
  return probeLeaf(type, path, sample);
}

const shapes = new WeakMap<RecordClass, Shape>();

/** The field kinds of a generated class, read off it once (see the top of this file). */
export function shapeOf(type: RecordClass): Shape {
  let s = shapes.get(type);
  if (!s) {
    s = probe(type, [], new type().toObject());
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
