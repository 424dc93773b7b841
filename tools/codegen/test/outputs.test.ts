// The generated code itself: TypeScript behaviour and strictness, C headers under C11 and C++17.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordLayout } from '@mmbus/runtime/schema';
import { emitCCommon, emitCHeader, emitTsModule, emitTsRuntime, loadSchemas } from '../src/index.ts';
import { Aligned16, Axis, Vec3 } from './generated/ts/geometry.ts';
import { Color, Deep, Edge, Text } from './generated/ts/tricky.ts';
import { codegenDir, corpusDir, makeTmp, runOk, tscStrict } from './helpers.ts';

const genTs = join(codegenDir, 'test', 'generated', 'ts');
const genC = join(codegenDir, 'test', 'generated', 'c');
const tmp = makeTmp('outputs');
afterAll(() => tmp.cleanup());

describe('generated TypeScript', () => {
  it('is deterministic byte for byte', () => {
    const a = loadSchemas([join(corpusDir, 'tricky.fbs')]);
    const b = loadSchemas([join(corpusDir, 'tricky.fbs')]);
    for (let i = 0; i < a.schemas.length; i++) {
      expect(emitTsModule(a.schemas[i]!)).toBe(emitTsModule(b.schemas[i]!));
      expect(emitCHeader(a.schemas[i]!)).toBe(emitCHeader(b.schemas[i]!));
    }
    expect(emitTsRuntime()).toBe(emitTsRuntime());
    expect(emitCCommon()).toBe(emitCCommon());
  });

  it('imports only the runtime helpers it uses, from the one runtime module', () => {
    const geometry = readFileSync(join(genTs, 'geometry.ts'), 'utf8');
    expect(geometry).toContain("import { checkBounds, layoutOf } from './_runtime.js';");
    for (const f of ['geometry.ts', 'tricky.ts']) {
      const text = readFileSync(join(genTs, f), 'utf8');
      expect(text).not.toMatch(/^(export )?function |^(const|let) /m); // no helper defined outside the runtime
    }
    const runtime = readFileSync(join(genTs, '_runtime.ts'), 'utf8');
    expect(runtime.match(/^export function \w+/gm)).toEqual([
      'export function layoutOf',
      'export function checkBounds',
      'export function checkIndex',
      'export function checkArrayLength',
      'export function getInt64Number',
      'export function setInt64Number',
      'export function getUint64Number',
      'export function setUint64Number',
      'export function readText',
      'export function writeText',
    ]);
  });

  it('passes strict tsc (STRICT_TS_OPTIONS: noUnused*, exactOptionalPropertyTypes, verbatimModuleSyntax, ...) and uses no escape hatch', () => {
    const files = readdirSync(genTs).filter((f) => f.endsWith('.ts'));
    for (const f of files) {
      const text = readFileSync(join(genTs, f), 'utf8');
      expect(text).not.toMatch(/\bany\b|@ts-ignore|@ts-expect-error|@ts-nocheck|eslint-disable/);
    }
    const r = tscStrict(
      tmp.dir,
      files.map((f) => join(genTs, f)),
    );
    expect({ status: r.status, output: r.stdout + r.stderr }).toEqual({ status: 0, output: '' });
  });

  it('carries /// doc comments into JSDoc and the C header', () => {
    const ts = readFileSync(join(genTs, 'geometry.ts'), 'utf8');
    const c = readFileSync(join(genC, 'geometry.h'), 'utf8');
    expect(ts).toContain('/** An axis, on a signed byte starting below zero. */\nexport const Axis');
    expect(ts).toMatch(/\/\*\*\n \* A 12-byte vector, 4-byte aligned\.\n \*\n \* Flyweight over a 12-byte corpus\.geo\.Vec3 record/);
    expect(c).toContain('/** An axis, on a signed byte starting below zero. */\ntypedef int8_t corpus_geo_Axis;');
    expect(c).toMatch(/\/\*\*\n \* A 12-byte vector, 4-byte aligned\.\n \*\n \* Layout: struct corpus\.geo\.Vec3/);
  });

  it('has the static constants of a message type', () => {
    expect([Edge.NAME, Edge.SIZE, Edge.ALIGN, typeof Edge.FINGERPRINT]).toEqual(['corpus.Edge', 256, 16, 'bigint']);
    expect([Aligned16.SIZE, Aligned16.ALIGN]).toEqual([16, 16]);
    const c = readFileSync(join(genC, 'tricky.h'), 'utf8');
    expect(c).toContain(`#define CORPUS_EDGE_FINGERPRINT UINT64_C(0x${Edge.FINGERPRINT.toString(16).padStart(16, '0')})`);
  });

  it('a keyed type carries its key field: TS KEY, C KEY_OFFSET and KEY_SIZE', () => {
    const schema = 'attribute "mmbus_key";\nnamespace k;\nstruct Tick { t: ulong; id: ushort (mmbus_key); }\nstruct Plain { id: ushort; }\n';
    const file = join(tmp.dir, 'keyed.fbs');
    writeFileSync(file, schema);
    const model = loadSchemas([file]);
    const ts = emitTsModule(model.schemas[0]!);
    expect(ts).toContain("static readonly KEY = { field: 'id', offset: 8, size: 2 } as const;");
    expect(ts.match(/static readonly KEY =/g)).toHaveLength(1); // Plain has none
    const c = emitCHeader(model.schemas[0]!);
    expect(c).toContain('#define K_TICK_KEY_OFFSET 8\n#define K_TICK_KEY_SIZE 2');
    expect(c).not.toContain('K_PLAIN_KEY');
  });

  it('carries its layout as plain data: static LAYOUT equals recordLayout() of the schema, for every struct', async () => {
    const model = loadSchemas([join(corpusDir, 'geometry.fbs'), join(corpusDir, 'tricky.fbs')]);
    let checked = 0;
    for (const schema of model.schemas) {
      const mod = (await import(join(genTs, `${schema.baseName}.ts`))) as Record<string, { LAYOUT?: unknown }>;
      for (const d of schema.decls) {
        if (d.kind !== 'struct') continue;
        expect(mod[d.name]?.LAYOUT, d.fqn).toEqual(recordLayout(d));
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(6);
    // what a decoder reads off it: offsets, text capacity, enum values as exact decimal strings, nested layouts inline
    const edge = Edge.LAYOUT.fields.find((f) => f.name === 'colors');
    expect(edge?.type).toMatchObject({ kind: 'array', length: 2, elem: { kind: 'enum', name: 'corpus.Color' } });
    const deep = Deep.LAYOUT.fields.find((f) => f.name === 'n');
    expect(deep?.type.kind === 'struct' && deep.type.name).toBe('corpus.Nested');
    expect(Deep.LAYOUT.structs.map((x) => x.name)).toContain('corpus.Nested');
    expect(JSON.parse(JSON.stringify(Deep.LAYOUT))).toEqual(Deep.LAYOUT); // plain data: survives JSON
  });

  it('re-points a flyweight with wrap() and checks bounds', () => {
    const buf = new DataView(new ArrayBuffer(Vec3.SIZE * 3));
    const v = new Vec3(buf, 0);
    for (let i = 0; i < 3; i++) v.wrap(buf, i * Vec3.SIZE).assign({ x: i, y: i * 10, z: -i });
    expect(v.wrap(buf, Vec3.SIZE).toObject()).toEqual({ x: 1, y: 10, z: -1 });
    expect(buf.getFloat32(2 * Vec3.SIZE + 4, true)).toBe(20);
    expect(() => v.wrap(buf, 2 * Vec3.SIZE + 1)).toThrow('Vec3: a record of 12 bytes at offset 25 does not fit a view of 36 bytes');
    expect(() => new Vec3(buf, -1)).toThrow(RangeError);
  });

  it('nested structs come back as one reused flyweight; setters accept plain objects', () => {
    const d = new Deep();
    expect(d.n).toBe(d.n);
    expect(d.arr(0)).toBe(d.arr(1)); // one flyweight, re-pointed
    d.n.pos = { x: 1.5, z: 3 };
    d.setArr(1, { d: 2.5, pts: [{ x: 7, y: 8, z: 9 }] });
    expect(d.n.pos.toObject()).toEqual({ x: 1.5, y: 0, z: 3 });
    expect(d.arr(1).pts(0).toObject()).toEqual({ x: 7, y: 8, z: 9 });
    expect(d.arr(0).d).toBe(0);
    expect(d.toObject().arr[1]?.d).toBe(2.5);
    expect(d.view.getFloat32(d.n.offset + 4 + 8, true)).toBe(3); // Nested.pos at 4, z at 8
  });

  it('arrays: indexed accessors with a length and range checks', () => {
    const e = new Edge();
    expect([e.ptsLength, e.longsLength, e.colorsLength, e.flagsLength]).toEqual([2, 2, 2, 2]);
    e.setColors(1, Color.Blue);
    e.setLongs(0, -5n);
    e.setLongsNumber(1, -(2 ** 40));
    e.setFlags(1, true);
    expect([e.colors(1), e.longs(0), e.longs(1), e.longsNumber(0), e.flags(1)]).toEqual([Color.Blue, -5n, -(2n ** 40n), -5, true]);
    expect(() => e.colors(2)).toThrow('Edge.colors: index 2 is out of range 0..1');
    expect(() => e.colors(-1)).toThrow(RangeError);
    expect(() => e.colors(0.5)).toThrow(RangeError);
    expect(() => e.assign({ flags: [true, true, true] })).toThrow('Edge.flags: 3 elements given, the array holds 2');
  });

  it('64-bit integers: bigint accessors and exact Number fast paths', () => {
    const e = new Edge();
    for (const v of [0, 1, -1, 2 ** 32, -(2 ** 32), 2 ** 32 + 7, -(2 ** 32) - 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      e.i64Number = v;
      expect(e.i64).toBe(BigInt(v));
      expect(e.i64Number).toBe(v);
      if (v >= 0) {
        e.u64Number = v;
        expect(e.u64).toBe(BigInt(v));
        expect(e.u64Number).toBe(v);
      }
      e.i64 = BigInt(v);
      expect(e.i64Number).toBe(v);
    }
    expect(() => (e.i64Number = 0.5)).toThrow('Edge.i64: 0.5 is not a safe integer; use the bigint accessor');
    expect(() => (e.i64Number = 2 ** 53)).toThrow(RangeError);
    expect(() => (e.u64Number = -1)).toThrow('Edge.u64: -1 is not a non-negative safe integer; use the bigint accessor');
  });

  it('text: UTF-8 strings, a clear error when too long, truncation that never splits a sequence', () => {
    const e = new Edge();
    e.text = 'héllo';
    expect(e.text).toBe('héllo');
    expect([...e.textBytes().subarray(0, 7)]).toEqual([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f, 0]);
    e.shortText = 'abcd'; // full length: no terminator
    expect(e.shortText).toBe('abcd');
    e.shortText = 'é';
    expect([...e.shortTextBytes()]).toEqual([0xc3, 0xa9, 0, 0]);
    expect(() => (e.shortText = 'abcde')).toThrow(
      'Edge.shortText: the text is 5 bytes in UTF-8 but the field holds 4; shorten it or call setShortText(value, { truncate: true })',
    );
    expect(() => (e.shortText = 'ééé')).toThrow('Edge.shortText: the text is 6 bytes in UTF-8 but the field holds 4');
    expect(e.shortText).toBe('é'); // unchanged after an error
    expect(e.setShortText('aéé', { truncate: true })).toBe(true);
    expect(e.shortText).toBe('aé');
    expect(e.setShortText('ab', { truncate: true })).toBe(false);
    // every cut of strings mixing 1- to 4-byte sequences: valid UTF-8, a prefix, as long as possible
    const fatal = new TextDecoder('utf-8', { fatal: true });
    const sample = [...'a€😀éb世😀c😀😀€€'];
    for (let start = 0; start < sample.length; start++) {
      const s = sample.slice(start).join('');
      const full = new TextEncoder().encode(s);
      e.setText(s, { truncate: true });
      const stored = e.textBytes();
      const len = stored.indexOf(0) < 0 ? stored.length : stored.indexOf(0);
      const text = fatal.decode(stored.subarray(0, len));
      expect(s.startsWith(text)).toBe(true);
      expect(len).toBeLessThanOrEqual(16);
      if (full.length > 16) {
        const nextChar = String.fromCodePoint(s.slice(text.length).codePointAt(0) ?? 0);
        expect(len + new TextEncoder().encode(nextChar).length).toBeGreaterThan(16);
      } else {
        expect(text).toBe(s);
      }
    }
  });

  it('long ASCII and non-ASCII text read through the decoder path', () => {
    const t = new Text(); // 7-byte text field
    t.s = 'abcdefg';
    expect(t.s).toBe('abcdefg');
    const e = new Edge();
    e.text = '0123456789abcdef';
    expect(e.text).toBe('0123456789abcdef');
  });

  it('fromObject fills a zeroed record; assign leaves absent fields alone; enums are plain values', () => {
    const buf = new DataView(new ArrayBuffer(Edge.SIZE * 2));
    new Uint8Array(buf.buffer).fill(0xff);
    const e = Edge.fromObject({ i8: -3, axis: Axis.Z, text: 'x' }, buf, Edge.SIZE);
    expect(new Uint8Array(buf.buffer, 0, Edge.SIZE).every((b) => b === 0xff)).toBe(true);
    expect(e.toObject()).toMatchObject({ i8: -3, axis: 1, text: 'x', i16: 0, b: false, f64: 0 });
    e.assign({ i16: 9 });
    expect([e.i8, e.i16]).toEqual([-3, 9]);
    expect(Axis).toEqual({ X: -1, Y: 0, Z: 1 });
  });
});

describe('generated C headers', () => {
  const headers = readdirSync(genC).filter((f) => f.endsWith('.h'));

  it('each schema header includes the common header instead of repeating it', () => {
    expect(headers).toContain('mmbus_codegen.h');
    for (const h of headers.filter((f) => f !== 'mmbus_codegen.h')) {
      const text = readFileSync(join(genC, h), 'utf8');
      expect(text).toContain('#include "mmbus_codegen.h"\n');
      expect(text).not.toContain('MMBUS_CODEGEN_COMMON_V1');
      expect(text).not.toContain('static inline int mmbus_text_set_');
    }
  });

  for (const h of headers) {
    it(`${h} compiles as C11 and C++17 with -Wall -Wextra -Werror -pedantic`, () => {
      const c = join(tmp.dir, `${h}.c`);
      const cpp = join(tmp.dir, `${h}.cpp`);
      const src = `#include "${h}"\n#include "${h}"\nint main(void) { return 0; }\n`;
      writeFileSync(c, src);
      writeFileSync(cpp, src);
      runOk('gcc', ['-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic', '-I', genC, c, '-o', join(tmp.dir, `${h}-c`)]);
      runOk('g++', ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-pedantic', '-I', genC, cpp, '-o', join(tmp.dir, `${h}-cpp`)]);
    });
  }

  it('a wrong offset fails to compile (the static asserts are live)', () => {
    const text = readFileSync(join(genC, 'geometry.h'), 'utf8').replace('offsetof(corpus_geo_Vec3, y) == 4', 'offsetof(corpus_geo_Vec3, y) == 5');
    writeFileSync(join(tmp.dir, 'geometry.h'), text);
    writeFileSync(join(tmp.dir, 'bad.c'), '#include "geometry.h"\nint main(void) { return 0; }\n');
    expect(() => runOk('gcc', ['-std=c11', '-I', tmp.dir, '-I', genC, join(tmp.dir, 'bad.c'), '-o', join(tmp.dir, 'bad')])).toThrow(
      'corpus_geo_Vec3.y: offset differs from the schema layout',
    );
  });
});
