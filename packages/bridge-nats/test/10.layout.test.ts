// The JSON encoding: field kinds read off the generated classes (checked against the schema parser's
// layout for every struct of the codegen corpus), exact 64-bit integers, and the strict inbound check.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadSchemas, type ElemType, type FieldType, type StructDef } from '@mmbus/runtime/schema';
import { Person, PointUpdate } from '@mmbus/messages';
import { describe, expect, it } from 'vitest';

// The codegen corpus (checked in, generated from tools/codegen/test/corpus): one of every field kind.
import * as corpus from '../../../tools/codegen/test/generated/ts/index.js';
import { jsonToInput, recordToJson, shapeOf, type RecordClass, type Shape } from '../src/layout.js';
import { Refused } from '../src/refused.js';

const here = dirname(fileURLToPath(import.meta.url));
const CORPUS = join(here, '../../../tools/codegen/test/corpus');
const enc = new TextEncoder();
const json = (v: unknown): Uint8Array => enc.encode(typeof v === 'string' ? v : JSON.stringify(v));

/** The shape the schema parser's layout implies (what shapeOf must find from the class alone). */
function expected(t: FieldType | ElemType): Shape {
  switch (t.kind) {
    case 'text':
      return { kind: 'text', capacity: t.length };
    case 'array':
      return { kind: 'array', length: t.length, elem: expected(t.elem) };
    case 'struct':
      return structShape(t.def);
    case 'enum': {
      const leaf = expected({ kind: 'scalar', scalar: t.def.underlying });
      return leaf.kind === 'int64' ? { ...leaf, values: t.def.values.map((v) => v.value) } : { ...leaf, values: t.def.values.map((v) => Number(v.value)) } as Shape;
    }
    case 'scalar': {
      const s = t.scalar;
      if (s === 'bool') return { kind: 'bool' };
      if (s === 'float32') return { kind: 'float', bits: 32 };
      if (s === 'float64') return { kind: 'float', bits: 64 };
      if (s === 'int64' || s === 'uint64') return { kind: 'int64', signed: s === 'int64' };
      return { kind: 'int', signed: !s.startsWith('u'), bits: Number(s.replace(/^u?int/, '')) as 8 | 16 | 32 };
    }
  }
}

function structShape(def: StructDef): Shape {
  // toObject() names are the schema's in camelCase, in declaration order
  const camel = (n: string): string => n.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  return { kind: 'struct', fields: def.fields.map((f) => [camel(f.name), expected(f.type)]) };
}

describe('field kinds from the generated classes\' LAYOUT', () => {
  it('Person and PointUpdate', () => {
    expect(shapeOf(Person as unknown as RecordClass)).toEqual({
      kind: 'struct',
      fields: [
        ['index', { kind: 'int64', signed: true }],
        ['name', { kind: 'text', capacity: 64 }],
        ['age', { kind: 'int', signed: false, bits: 8 }],
      ],
    });
    expect(shapeOf(PointUpdate as unknown as RecordClass)).toEqual({
      kind: 'struct',
      fields: [
        ['timestampNs', { kind: 'int64', signed: false }],
        ['value', { kind: 'float', bits: 64 }],
        ['pointId', { kind: 'int', signed: false, bits: 32 }],
        ['deviceId', { kind: 'int', signed: false, bits: 32 }],
        ['quality', { kind: 'int', signed: false, bits: 8, values: [0, 1, 2, 3] }],
        ['tag', { kind: 'text', capacity: 64 }],
      ],
    });
  });

  it('every struct of the codegen corpus: the same kinds as the schema parser finds', () => {
    const model = loadSchemas([join(CORPUS, 'tricky.fbs')]);
    const structs = model.schemas.flatMap((s) => s.decls.filter((d): d is StructDef => d.kind === 'struct'));
    expect(structs.length).toBeGreaterThan(8);
    const classes = (Object.values(corpus) as unknown[]).filter((v): v is RecordClass => typeof v === 'function' && 'FINGERPRINT' in v);
    for (const def of structs) {
      const cls = classes.find((c) => c.NAME === def.fqn);
      expect(cls, def.fqn).toBeDefined();
      expect(cls!.FINGERPRINT).toBe(def.fingerprint);
      expect(shapeOf(cls!), def.fqn).toEqual(structShape(def));
    }
  });
});

describe('records as JSON', () => {
  it("toObject() with 64-bit integers as exact strings and non-finite floats as strings", () => {
    const p = new Person().assign({ index: -(2n ** 63n), name: 'Ada Lovelace', age: 36 });
    expect(recordToJson(p as never)).toBe('{"index":"-9223372036854775808","name":"Ada Lovelace","age":36}');
    const u = new PointUpdate().assign({ timestampNs: 2n ** 64n - 1n, value: NaN, pointId: 7, deviceId: 2, quality: 3, tag: 'dev2/pt7' });
    expect(JSON.parse(recordToJson(u as never))).toEqual({ timestampNs: '18446744073709551615', value: 'NaN', pointId: 7, deviceId: 2, quality: 3, tag: 'dev2/pt7' });
    u.value = -Infinity;
    expect(JSON.parse(recordToJson(u as never)).value).toBe('-Infinity');
  });

  it('round trip of every field kind (corpus.Edge, corpus.Deep): JSON back to the same bytes', () => {
    for (const cls of [corpus.Edge, corpus.Deep, corpus.Arrays] as unknown as RecordClass[]) {
      const shape = shapeOf(cls);
      for (let seed = 1; seed <= 20; seed++) {
        const src = new cls();
        const bytes = new Uint8Array(src.view.buffer, src.offset, cls.SIZE);
        src.assign(sample(shape, seed) as object);
        const text = recordToJson(src);
        const back = new cls();
        back.assign(jsonToInput(shape, enc.encode(text)));
        expect(new Uint8Array(back.view.buffer, back.offset, cls.SIZE), `${cls.NAME} seed ${seed}`).toEqual(bytes);
      }
    }
  });
});

/** A value of every leaf, extreme ones included, varied by seed. */
function sample(shape: Shape, seed: number): unknown {
  const pick = <T>(xs: T[]): T => xs[seed % xs.length]!;
  switch (shape.kind) {
    case 'struct':
      return Object.fromEntries(shape.fields.map(([k, s], i) => [k, sample(s, seed + i)]));
    case 'array':
      return Array.from({ length: shape.length }, (_, i) => sample(shape.elem, seed + i));
    case 'bool':
      return seed % 2 === 0;
    case 'text':
      return pick(['', 'a', 'é€', '😀', 'é€😀', 'z'.repeat(shape.capacity)].filter((t) => enc.encode(t).length <= shape.capacity));
    case 'float':
      return pick([0, -0.5, 1.5e-7, 3.25, NaN, Infinity, -Infinity, shape.bits === 32 ? 3.4028234663852886e38 : Number.MAX_VALUE]);
    case 'int64':
      if (shape.values) return pick([...shape.values]);
      return shape.signed ? pick([0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n]) : pick([0n, 1n, 2n ** 64n - 1n, 2n ** 53n + 1n]);
    case 'int': {
      if (shape.values) return pick([...shape.values]);
      const max = shape.signed ? 2 ** (shape.bits - 1) - 1 : 2 ** shape.bits - 1;
      const min = shape.signed ? -(2 ** (shape.bits - 1)) : 0;
      return pick([0, max, min, 1]);
    }
  }
}

describe('inbound JSON is checked before anything is assigned', () => {
  const person = shapeOf(Person as unknown as RecordClass);
  const point = shapeOf(PointUpdate as unknown as RecordClass);
  const ok = { index: '42', name: 'Ada', age: 36 };
  const refusal = (shape: Shape, v: unknown): string => {
    try {
      jsonToInput(shape, v instanceof Uint8Array ? v : json(v));
    } catch (err) {
      expect(err).toBeInstanceOf(Refused);
      return (err as Refused).kind;
    }
    return 'accepted';
  };

  it('a valid record is converted to the assign() form (bigint for 64-bit fields)', () => {
    expect(jsonToInput(person, json(ok))).toEqual({ index: 42n, name: 'Ada', age: 36 });
    expect(jsonToInput(point, json({ timestampNs: '18446744073709551615', value: 'NaN', pointId: 4294967295, deviceId: 0, quality: 3, tag: '' }))).toEqual({
      timestampNs: 2n ** 64n - 1n, value: NaN, pointId: 4294967295, deviceId: 0, quality: 3, tag: '',
    });
  });

  it.each([
    ['not JSON', '{"index": ', 'json-syntax'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'json-syntax'],
    ['a JSON array', [ok], 'json-type'],
    ['a JSON string', '"hello"', 'json-type'],
    ['null', 'null', 'json-type'],
    ['an unknown field', { ...ok, email: 'ada@example.org' }, 'json-field'],
    ['a schema name instead of the camelCase name', { index: '1', name: 'x', age: 1, point_id: 3 }, 'json-field'],
    ['a missing field', { index: '42', name: 'Ada' }, 'json-missing'],
    ['a 64-bit integer as a number', { ...ok, index: 42 }, 'json-type'],
    ['a 64-bit integer as hex', { ...ok, index: '0x2a' }, 'json-type'],
    ['a 64-bit integer with a leading +', { ...ok, index: '+42' }, 'json-type'],
    ['a 64-bit integer with spaces', { ...ok, index: ' 42' }, 'json-type'],
    ['a 64-bit integer with a fraction', { ...ok, index: '42.0' }, 'json-type'],
    ['int64 above its range', { ...ok, index: '9223372036854775808' }, 'json-range'],
    ['int64 below its range', { ...ok, index: '-9223372036854775809' }, 'json-range'],
    ['uint8 as a string', { ...ok, age: '36' }, 'json-type'],
    ['uint8 as a boolean', { ...ok, age: true }, 'json-type'],
    ['uint8 with a fraction', { ...ok, age: 36.5 }, 'json-type'],
    ['uint8 above 255', { ...ok, age: 256 }, 'json-range'],
    ['uint8 below 0', { ...ok, age: -1 }, 'json-range'],
    ['text as a number', { ...ok, name: 7 }, 'json-type'],
    ['text of 65 ASCII bytes', { ...ok, name: 'x'.repeat(65) }, 'json-range'],
    ['text of 22 characters but 66 UTF-8 bytes', { ...ok, name: '€'.repeat(22) }, 'json-range'],
    ['text with a NUL', { ...ok, name: 'a\u0000b' }, 'json-range'],
    ['text with a lone surrogate', { ...ok, name: 'a\ud800b' }, 'json-range'],
    ['the record is null', 'null', 'json-type'],
  ])('refused: %s', (_what, v, kind) => {
    expect(refusal(person, v)).toBe(kind);
  });

  it.each([
    ['uint64 negative', { timestampNs: '-1' }, 'json-range'],
    ['uint64 at 2^64', { timestampNs: '18446744073709551616' }, 'json-range'],
    ['float64 as an arbitrary string', { value: 'fast' }, 'json-type'],
    ['float64 as null (what JSON.stringify makes of NaN)', { value: null }, 'json-type'],
    ['uint32 above its range', { pointId: 4294967296 }, 'json-range'],
    ['an enum field above its byte', { quality: 256 }, 'json-range'],
    ['an enum value the enum lacks', { quality: 9 }, 'json-range'],
  ])('refused: %s', (_what, patch, kind) => {
    const base = { timestampNs: '1', value: 1.5, pointId: 1, deviceId: 1, quality: 0, tag: 't' };
    expect(refusal(point, { ...base, ...patch })).toBe(kind);
  });

  it('float32 out of range and arrays of the wrong length (corpus.Edge)', () => {
    const edge = shapeOf(corpus.Edge as unknown as RecordClass);
    const e = new corpus.Edge();
    const good = JSON.parse(recordToJson(e as never)) as Record<string, unknown>;
    expect(refusal(edge, good)).toBe('accepted');
    expect(refusal(edge, { ...good, f32: 3.5e38 })).toBe('json-range');
    expect(refusal(edge, { ...good, f64: 3.5e38 })).toBe('accepted');
    expect(refusal(edge, { ...good, longs: ['1'] })).toBe('json-range');
    expect(refusal(edge, { ...good, longs: ['1', '2', '3'] })).toBe('json-range');
    expect(refusal(edge, { ...good, longs: '1' })).toBe('json-type');
    expect(refusal(edge, { ...good, pos: { x: 1, y: 2 } })).toBe('json-missing');
    expect(refusal(edge, { ...good, pos: { x: 1, y: 2, z: 3, w: 4 } })).toBe('json-field');
    expect(refusal(edge, { ...good, flags: [true, 1] })).toBe('json-type');
    expect(refusal(edge, { ...good, shortText: 'abcde' })).toBe('json-range');
    expect(refusal(edge, { ...good, axis: -129 })).toBe('json-range');
    expect(refusal(edge, { ...good, axis: -128 })).toBe('json-range'); // an int8, but not a value of geo.Axis
    expect(refusal(edge, { ...good, axis: -1 })).toBe('accepted');
    expect(refusal(edge, { ...good, color: 3 })).toBe('json-range'); // Color has 0, 1, 2 and 0x400
    expect(refusal(edge, { ...good, color: 0x400 })).toBe('accepted');
  });
});
