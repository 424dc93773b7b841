import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { MMBUS_ERROR_CODES, MmbusError, checkRecordLayout, layoutEnd, recordDecoder } from '../src/index.ts';
import { SchemaError, formatDiagnostic, hex64, loadSchemaText, loadSchemas, recordLayout, recordLayoutFingerprint, type Model, type SchemaRules, type StructDef } from '../src/schema.ts';

const schemasDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'schemas');
const corpusDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tools', 'codegen', 'test', 'corpus');
const ATTRS = 'attribute "mmbus_text";\nattribute "mmbus_size";\n';

function struct(model: Model, name: string): StructDef {
  for (const s of model.schemas) for (const d of s.decls) if (d.kind === 'struct' && d.name === name) return d;
  throw new Error(`no struct ${name}`);
}

function errors(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof SchemaError) return e.diagnostics.map(formatDiagnostic);
    throw e;
  }
  throw new Error('expected a SchemaError');
}

describe('MmbusError', () => {
  it('carries a stable code, the message and the OS errno (0 when there is none)', () => {
    const e = new MmbusError('MMBUS_E_FULL', 'channel full');
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'MmbusError', code: 'MMBUS_E_FULL', errno: 0, message: 'channel full' });
    expect(String(e)).toBe('MmbusError: channel full');
    const io = new MmbusError('MMBUS_E_DIR', "'/x' does not exist", { errno: 2 });
    expect(io.errno).toBe(2);
  });

  it('has one code per C error, each once', () => {
    expect(new Set(MMBUS_ERROR_CODES).size).toBe(MMBUS_ERROR_CODES.length);
    expect(MMBUS_ERROR_CODES.every((c) => /^MMBUS_E_[A-Z]+$/.test(c))).toBe(true);
  });
});

describe('the schema reader', () => {
  it('lays out the project schemas (Person: 128 bytes, the checked-in fingerprint)', () => {
    const person = struct(loadSchemas([join(schemasDir, 'person.fbs')]), 'Person');
    expect([person.fqn, person.size, person.align]).toEqual(['mmbus.Person', 128, 8]);
    expect(person.fields.map((f) => [f.name, f.offset, f.size])).toEqual([
      ['index', 0, 8],
      ['name', 8, 64],
      ['age', 72, 1],
    ]);
    expect(hex64(person.fingerprint)).toBe('0x71669c9ff47bbfc8');
  });

  it('gives a struct layout as plain data (recordLayout): names, offsets, sizes, types, the key, nested structs once by name', () => {
    const point = struct(loadSchemas([join(schemasDir, 'point.fbs')]), 'PointUpdate');
    const layout = recordLayout(point);
    expect(layout).toMatchObject({ name: 'mmbus.PointUpdate', size: 128, align: 8, key: 'point_id', structs: [] });
    expect(layout.fields.map((f) => [f.name, f.offset, f.size, f.type.kind])).toEqual([
      ['timestamp_ns', 0, 8, 'scalar'],
      ['value', 8, 8, 'scalar'],
      ['point_id', 16, 4, 'scalar'],
      ['device_id', 20, 4, 'scalar'],
      ['quality', 24, 1, 'enum'],
      ['tag', 25, 64, 'text'],
    ]);
    expect(layout.fields[4]!.type).toEqual({
      kind: 'enum',
      name: 'mmbus.Quality',
      scalar: 'uint8',
      values: [{ name: 'Good', value: '0' }, { name: 'Uncertain', value: '1' }, { name: 'Bad', value: '2' }, { name: 'CommFailure', value: '3' }],
    });
    expect(layoutEnd(layout)).toBe(89); // the rest of the 128 bytes is padding
    expect(JSON.parse(JSON.stringify(layout))).toEqual(layout);
    const m = loadSchemaText({ 'n.fbs': 'enum Big : ulong { Zero = 0, Max = 18446744073709551615 }\nstruct In { a: short; }\nstruct Mid { i: In; j: In; }\nstruct Out { b: byte; i: [In:2]; e: Big; m: Mid; }' });
    const out = recordLayout(struct(m, 'Out'));
    expect(out.fields.map((f) => f.type)).toEqual([
      { kind: 'scalar', scalar: 'int8' },
      { kind: 'array', length: 2, elem: { kind: 'struct', name: 'In' } },
      { kind: 'enum', name: 'Big', scalar: 'uint64', values: [{ name: 'Zero', value: '0' }, { name: 'Max', value: '18446744073709551615' }] },
      { kind: 'struct', name: 'Mid' },
    ]);
    // each nested struct once, innermost first
    expect(out.structs.map((s) => s.name)).toEqual(['In', 'Mid']);
    expect(out.key).toBeUndefined();
    expect(checkRecordLayout(JSON.parse(JSON.stringify(out)))).toEqual(out);
  });

  it('a layout has the fingerprint of its struct (recordLayoutFingerprint), for every struct of the schemas and the codegen corpus', () => {
    const files = [
      ...readdirSync(schemasDir).filter((f) => f.endsWith('.fbs')).map((f) => join(schemasDir, f)),
      ...readdirSync(corpusDir).map((f) => join(corpusDir, f)),
    ];
    let n = 0;
    for (const file of files) {
      for (const s of loadSchemas([file]).schemas) {
        for (const d of s.decls) {
          if (d.kind !== 'struct') continue;
          const layout = checkRecordLayout(JSON.parse(JSON.stringify(recordLayout(d))));
          expect(hex64(recordLayoutFingerprint(layout)), d.fqn).toBe(hex64(d.fingerprint));
          n++;
        }
      }
    }
    expect(n).toBeGreaterThanOrEqual(10);
    // a layout that differs in anything the fingerprint covers has another fingerprint
    const point = recordLayout(struct(loadSchemas([join(schemasDir, 'point.fbs')]), 'PointUpdate'));
    const renamed = { ...point, fields: point.fields.map((f) => (f.name === 'value' ? { ...f, name: 'val' } : f)) };
    expect(recordLayoutFingerprint(renamed)).not.toBe(recordLayoutFingerprint(point));
    const { key: _key, ...unkeyed } = point;
    expect(recordLayoutFingerprint(unkeyed)).not.toBe(recordLayoutFingerprint(point));
  });

  it('decodes records through a layout (recordDecoder): field names, nested structs, arrays, text, enums by name, 64-bit integers exact or JSON-safe', () => {
    const m = loadSchemaText({
      'd.fbs': `${ATTRS}enum Mode : ubyte { Off = 0, On = 1 }\nstruct V { x: float; y: float; }\nstruct R { id: ulong; big: long; v: [V:2]; mode: Mode; other: Mode; ok: bool; name: [ubyte:8] (mmbus_text); s: short; }`,
    });
    const layout = recordLayout(struct(m, 'R'));
    const buf = new ArrayBuffer(layout.size * 2);
    const dv = new DataView(buf);
    const at = layout.size; // the second record of the buffer
    const off = (name: string): number => layout.fields.find((f) => f.name === name)!.offset + at;
    dv.setBigUint64(off('id'), 2n ** 63n + 5n, true);
    dv.setBigInt64(off('big'), -42n, true);
    dv.setFloat32(off('v'), 1.5, true);
    dv.setFloat32(off('v') + 4, -2, true);
    dv.setFloat32(off('v') + 8, 3, true);
    dv.setFloat32(off('v') + 12, 4.25, true);
    dv.setUint8(off('mode'), 1);
    dv.setUint8(off('other'), 7); // a value the enum lacks stays a number
    dv.setUint8(off('ok'), 1);
    new Uint8Array(buf, off('name'), 8).set(new TextEncoder().encode('héllo'));
    dv.setInt16(off('s'), -300, true);
    expect(recordDecoder(layout)(dv, at)).toEqual({ id: 2n ** 63n + 5n, big: -42n, v: [{ x: 1.5, y: -2 }, { x: 3, y: 4.25 }], mode: 'On', other: 7, ok: true, name: 'héllo', s: -300 });
    const json = recordDecoder(layout, { int64: 'json', enums: 'number' })(dv, at);
    expect(json).toMatchObject({ id: '9223372036854775813', big: -42, mode: 1, other: 7 });
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('refuses a malformed layout from outside with MMBUS_E_SCHEMA, saying what is wrong (checkRecordLayout)', () => {
    const point = recordLayout(struct(loadSchemas([join(schemasDir, 'point.fbs')]), 'PointUpdate'));
    const f0 = point.fields[0]!;
    const bad: [unknown, RegExp][] = [
      [null, /not an object/],
      [{ ...point, structs: undefined }, /'structs'/],
      [{ ...point, size: 0 }, /size is not an integer/],
      [{ ...point, align: 3 }, /power of two/],
      [{ ...point, fields: [{ ...f0, offset: 124 }] }, /size 8 is not|offset|size/],
      [{ ...point, fields: [{ ...f0, size: 4 }] }, /not the size of its type/],
      [{ ...point, fields: [f0, f0] }, /appears twice/],
      [{ ...point, fields: [{ ...f0, name: 'a b' }] }, /not a name/],
      [{ ...point, fields: [{ ...f0, type: { kind: 'struct', name: 'Nope' } }] }, /not declared before/],
      [{ ...point, fields: [{ ...f0, type: { kind: 'enum', name: 'E', scalar: 'uint64', values: [{ name: 'A', value: '-1' }] } }] }, /not a uint64/],
      [{ ...point, fields: [{ ...f0, type: { kind: 'what' } }] }, /unknown kind/],
      [{ ...point, key: 'value' }, /not an unsigned integer field/],
      [{ ...point, structs: [{ name: 'S', size: 8, align: 8, fields: [{ name: 'x', offset: 0, size: 8, type: { kind: 'struct', name: 'S' } }] }] }, /not declared before/],
    ];
    for (const [v, re] of bad) {
      let err: unknown;
      try {
        checkRecordLayout(v);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(v)?.slice(0, 80)).toBeInstanceOf(MmbusError);
      expect((err as MmbusError).code).toBe('MMBUS_E_SCHEMA');
      expect((err as MmbusError).message).toMatch(re);
    }
  });

  it('refuses what no tool could lay out, with positions', () => {
    expect(errors(() => loadSchemaText({ 'a.fbs': 'struct S { v: [float]; }' }))).toEqual([
      "a.fbs:1:15: error: vectors are not fixed-size and cannot be struct fields; give the array a length, e.g. '[ubyte:32]'",
    ]);
  });

  it('leaves names to the tool: without rules, names generated code could not use are read', () => {
    const m = loadSchemaText({ 'index.fbs': `${ATTRS}namespace n;\nstruct Object { class: int; view: [ubyte:8] (mmbus_text); }` });
    expect(struct(m, 'Object').fields.map((f) => f.name)).toEqual(['class', 'view']);
  });

  it("applies a tool's rules where it checks the same item, in schema order", () => {
    const seen: string[] = [];
    const rules: SchemaRules = {
      files: (schemas) => (seen.push(`files ${schemas.map((s) => s.baseName).join(',')}`), []),
      name: (name, what) => (name === 'bad' ? [`${what} '${name}' refused`] : []),
      declaration: (decl) => (decl.name === 'Taken' ? `${decl.kind} ${decl.name} taken` : undefined),
      enumValue: (name) => (name === 'Nope' ? `value ${name} refused` : undefined),
      fields: () => (f) => (f.name === 'clash' ? `field ${f.name} clashes` : undefined),
      model: (model) => (seen.push(`model ${model.schemas.length}`), []),
    };
    const src = 'enum E : ubyte { A, Nope }\nstruct Taken { a: int; }\nstruct S { bad: int; clash: int; ok: E; }';
    expect(errors(() => loadSchemaText({ 'm.fbs': src }, ['m.fbs'], rules))).toEqual([
      'm.fbs:1:21: error: value Nope refused',
      'm.fbs:2:8: error: struct Taken taken',
      "m.fbs:3:12: error: field 'bad' refused",
      'm.fbs:3:22: error: field clash clashes',
    ]);
    expect(seen).toEqual(['files m']); // refused before the model rule
    loadSchemaText({ 'ok.fbs': 'struct T { x: int; }' }, ['ok.fbs'], rules);
    expect(seen).toEqual(['files m', 'files ok', 'model 1']);
  });
});

describe('layoutClass', () => {
  it('a flyweight class over a layout read at run time: what openChannel takes (name, size, fingerprint, key, layout), decoding in place', async () => {
    const { layoutClass } = await import('../src/index.ts');
    const model = loadSchemas([join(schemasDir, 'point.fbs')]);
    const d = struct(model, 'PointUpdate');
    const layout = recordLayout(d);
    const cls = layoutClass(layout);
    expect([cls.NAME, cls.SIZE, cls.ALIGN, cls.FINGERPRINT, cls.LAYOUT]).toEqual([d.fqn, d.size, d.align, d.fingerprint, layout]);
    expect(cls.KEY).toEqual({ field: 'point_id', offset: d.key!.offset, size: d.key!.size });
    expect(layoutClass(layout, 42n).FINGERPRINT).toBe(42n);
    // two records in one buffer: the same flyweight re-pointed reads each
    const view = new DataView(new ArrayBuffer(2 * d.size));
    for (const [i, id] of [[0, 7], [1, 4711]] as const) view.setUint32(i * d.size + d.key!.offset, id, true);
    const r = new cls(view, 0);
    expect(r.toObject()['point_id']).toBe(7);
    expect(r.moveTo(d.size).toObject()['point_id']).toBe(4711);
    expect(new cls().view.byteLength).toBe(d.size);
    const person = layoutClass(recordLayout(struct(loadSchemas([join(schemasDir, 'person.fbs')]), 'Person')));
    expect(person.KEY).toBeUndefined();
  });
});
