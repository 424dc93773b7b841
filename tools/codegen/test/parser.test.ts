import { describe, expect, it } from 'vitest';
import { SchemaError, formatDiagnostic, loadSchemaText, type EnumDef, type Model, type StructDef } from '../src/index.ts';

const ATTRS = 'attribute "mmbus_text";\nattribute "mmbus_size";\n';

function load(src: string, extra: Record<string, string> = {}): Model {
  return loadSchemaText({ 'main.fbs': src, ...extra }, ['main.fbs']);
}

function struct(model: Model, name: string): StructDef {
  for (const s of model.schemas) for (const d of s.decls) if (d.kind === 'struct' && d.name === name) return d;
  throw new Error(`no struct ${name}`);
}

function enumDef(model: Model, name: string): EnumDef {
  for (const s of model.schemas) for (const d of s.decls) if (d.kind === 'enum' && d.name === name) return d;
  throw new Error(`no enum ${name}`);
}

/** The formatted diagnostics of a schema that must fail. */
function errors(src: string, extra: Record<string, string> = {}): string[] {
  try {
    load(src, extra);
  } catch (e) {
    if (e instanceof SchemaError) return e.diagnostics.map(formatDiagnostic);
    throw e;
  }
  throw new Error('expected a SchemaError, the schema loaded');
}

describe('parser: constructs', () => {
  it('reads namespace, struct, every scalar spelling and lays them out', () => {
    const m = load(`namespace a.b;
struct S {
  f1: bool; f2: byte; f3: ubyte; f4: short; f5: ushort; f6: int; f7: uint; f8: long; f9: ulong; f10: float; f11: double;
  g1: int8; g2: uint8; g3: int16; g4: uint16; g5: int32; g6: uint32; g7: int64; g8: uint64; g9: float32; g10: float64;
}`);
    const s = struct(m, 'S');
    expect(s.fqn).toBe('a.b.S');
    const types = s.fields.map((f) => (f.type.kind === 'scalar' ? f.type.scalar : f.type.kind));
    expect(types).toEqual([
      'bool', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64',
      'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64',
    ]);
    expect(s.fields.map((f) => f.offset)).toEqual([0, 1, 2, 4, 6, 8, 12, 16, 24, 32, 40, 48, 49, 50, 52, 56, 60, 64, 72, 80, 88]);
    expect(s.size).toBe(96);
    expect(s.align).toBe(8);
  });

  it('lays out padding by the FlatBuffers rules and records the gaps', () => {
    const s = struct(load('struct P { a: ubyte; b: long; c: short; }'), 'P');
    expect(s.fields.map((f) => [f.name, f.offset, f.size])).toEqual([['a', 0, 1], ['b', 8, 8], ['c', 16, 2]]);
    expect(s.size).toBe(24);
    expect(s.padding).toEqual([{ offset: 1, size: 7 }, { offset: 18, size: 6 }]);
  });

  it('reads enums with an underlying type, implicit and explicit values, negative and hex values', () => {
    const m = load('namespace n;\nenum E : byte { A = -2, B, C = 0x10, D, }\nenum U : ulong { Z, Max = 18446744073709551615 }');
    const e = enumDef(m, 'E');
    expect(e.underlying).toBe('int8');
    expect(e.values.map((v) => [v.name, v.value])).toEqual([['A', -2n], ['B', -1n], ['C', 16n], ['D', 17n]]);
    expect(enumDef(m, 'U').values[1]?.value).toBe(18446744073709551615n);
  });

  it('resolves nested structs and fixed arrays of scalars, enums and structs', () => {
    const m = load(`namespace n;
enum Q : ushort { None, A }
struct V { x: float; y: float; z: float; }
struct S { tag: ubyte; v: V; bytes: [ubyte:32]; qs: [Q:3]; vs: [V:4]; ls: [n.V:1]; }`);
    const s = struct(m, 'S');
    const f = Object.fromEntries(s.fields.map((x) => [x.name, x]));
    expect(f['v']?.type.kind).toBe('struct');
    expect([f['v']?.offset, f['v']?.size]).toEqual([4, 12]);
    expect(f['bytes']?.type).toMatchObject({ kind: 'array', length: 32, elem: { kind: 'scalar', scalar: 'uint8' } });
    expect([f['bytes']?.offset, f['qs']?.offset, f['qs']?.size, f['vs']?.offset, f['vs']?.size, f['ls']?.offset]).toEqual([16, 48, 6, 56, 48, 104]);
    expect(s.size).toBe(116);
  });

  it('follows includes and sees their types and attribute declarations', () => {
    const m = load('include "lib.fbs";\nnamespace app;\nstruct S (mmbus_size: 32) { v: lib.V; name: [ubyte:8] (mmbus_text); }', {
      'lib.fbs': `${ATTRS}namespace lib;\nstruct V { x: double; }`,
    });
    expect(m.schemas.map((s) => s.baseName)).toEqual(['lib', 'main']);
    const s = struct(m, 'S');
    expect(s.schema.includes.map((i) => i.baseName)).toEqual(['lib']);
    expect(s.fields[1]?.type).toEqual({ kind: 'text', length: 8 });
    expect(s.size).toBe(32);
  });

  it('applies force_align, the declared size and ignores declared custom attributes', () => {
    const m = load(`${ATTRS}attribute "other";\nstruct A (force_align: 16, other) { a: ubyte; }\nstruct B (mmbus_size: 128, other: "x") { a: ubyte; t: [ubyte:4] (mmbus_text, other); }`);
    expect([struct(m, 'A').align, struct(m, 'A').size, struct(m, 'A').naturalSize]).toEqual([16, 16, 16]);
    const b = struct(m, 'B');
    expect([b.size, b.naturalSize, b.end, b.declaredSize, b.align]).toEqual([128, 5, 5, 128, 1]);
    expect(b.padding).toEqual([{ offset: 5, size: 123 }]);
  });

  it('carries /// doc comments of structs, fields, enums and enum values; skips // and /* */ comments', () => {
    const m = load(`/// The enum.
/// Second line.
enum E : ubyte {
  /// Zero.
  Z,
}
// not documentation
/* nor this */
/// The struct.
struct S {
  /// The field.
  x: E; // trailing comment
}`);
    expect(enumDef(m, 'E').doc).toEqual(['The enum.', 'Second line.']);
    expect(enumDef(m, 'E').values[0]?.doc).toEqual(['Zero.']);
    expect(struct(m, 'S').doc).toEqual(['The struct.']);
    expect(struct(m, 'S').fields[0]?.doc).toEqual(['The field.']);
  });

  it('accepts file_identifier and file_extension and ignores them', () => {
    expect(struct(load('file_identifier "ABCD";\nfile_extension "bin";\nstruct S { a: int; }'), 'S').size).toBe(4);
  });
});

describe('parser: errors name file:line:column and what to do', () => {
  it('syntax error', () => {
    expect(errors('struct S {\n  a: int\n}')).toEqual(["main.fbs:3:1: error: expected ';' after field 'a', found '}'"]);
    expect(errors('struct S { a int; }')).toEqual(["main.fbs:1:14: error: expected ':' between field name 'a' and its type, found 'int'"]);
    expect(errors('struct S { a: int; ')).toEqual(["main.fbs:1:20: error: expected a field name or '}' in struct S, found end of file"]);
    expect(errors('namespace x\nstruct S { a: int; }')).toEqual(["main.fbs:2:1: error: expected ';' after the namespace name, found 'struct'"]);
    expect(errors('enum E { A }')).toEqual([
      "main.fbs:1:8: error: expected ':' and an underlying integer type after enum E (e.g. 'enum E : ubyte'), found '{'",
    ]);
    expect(errors('struct S { a: int; } @')).toEqual(["main.fbs:1:22: error: unexpected character '@'; remove it"]);
  });

  it('unknown type', () => {
    expect(errors('struct S {\n  a: int;\n  b: Vec3;\n}')).toEqual([
      "main.fbs:3:6: error: unknown type 'Vec3'; declare a struct or enum named Vec3 before this field, or include the schema that declares it",
    ]);
    // A type declared in a file that is not included is not visible.
    expect(errors('struct S { b: V; }\n', { 'other.fbs': 'struct V { a: int; }' })[0]).toMatch(/^main\.fbs:1:15: error: unknown type 'V'/);
  });

  it('duplicate names: types, fields, enum values', () => {
    expect(errors('namespace n;\nstruct A { a: int; }\nenum A : ubyte { X }')).toEqual([
      "main.fbs:3:6: error: duplicate name 'n.A': already declared as a struct at main.fbs:2:8; rename one of them",
    ]);
    expect(errors('struct A {\n  a: int;\n  a: short;\n}')).toEqual([
      "main.fbs:3:3: error: duplicate field 'a' in struct A (first at main.fbs:2:3); rename one of them",
    ]);
    expect(errors('enum E : ubyte { A, B, A }')).toEqual([
      "main.fbs:1:24: error: duplicate enum value name 'A' in enum E (first at main.fbs:1:18); rename one",
    ]);
    expect(errors('enum E : ubyte { A = 1, B = 1 }')).toEqual([
      'main.fbs:1:29: error: enum values must be unique: A and B are both 1; give B another value',
    ]);
  });

  it('table, union, string, vector and root_type are refused', () => {
    expect(errors('table T { a: int; }')).toEqual([
      "main.fbs:1:1: error: 'table' is not supported: mmbus messages are fixed-size records; declare it as a 'struct'",
    ]);
    expect(errors('struct S { a: int; }\nunion U { S }')).toEqual([
      "main.fbs:2:1: error: 'union' is not supported: unions are not fixed-size; use an enum field and a struct holding every variant's fields",
    ]);
    expect(errors('struct S {\n  name: string;\n}')).toEqual([
      "main.fbs:2:9: error: 'string' is not fixed-size and cannot be a struct field; use a text byte array: 'name: [ubyte:32] (mmbus_text);'",
    ]);
    expect(errors('struct S {\n  xs: [int];\n}')).toEqual([
      "main.fbs:2:7: error: vectors are not fixed-size and cannot be struct fields; give the array a length, e.g. '[ubyte:32]'",
    ]);
    expect(errors('struct S { a: int; }\nroot_type S;')[0]).toMatch(/^main\.fbs:2:1: error: 'root_type' is not supported/);
  });

  it('struct larger than its declared size, or a declared size that is not a multiple of the alignment', () => {
    expect(errors(`${ATTRS}struct S (mmbus_size: 16) {\n  a: long;\n  b: [ubyte:9];\n}`)).toEqual([
      'main.fbs:3:23: error: struct S is 17 bytes, larger than its declared size 16 (mmbus_size); remove or shrink fields, or raise the declared size',
    ]);
    expect(errors(`${ATTRS}struct S (mmbus_size: 12) { a: long; }`)).toEqual([
      'main.fbs:3:23: error: declared size 12 of struct S is not a multiple of its alignment 8; use 16',
    ]);
  });

  it('keywords of TypeScript, C and C++ are refused as names', () => {
    expect(errors('struct S {\n  class: int;\n}')).toEqual([
      "main.fbs:2:3: error: field name 'class' is a keyword in TypeScript and C++; rename it (e.g. 'class_')",
    ]);
    expect(errors('struct S { register: int; }')).toEqual([
      "main.fbs:1:12: error: field name 'register' is a keyword in C; rename it (e.g. 'register_')",
    ]);
    expect(errors('struct string { a: int; }')[0]).toBe(
      "main.fbs:1:8: error: struct name 'string' is a keyword in TypeScript; rename it (e.g. 'string_')",
    );
    expect(errors('enum E : ubyte { A, default }')).toEqual([
      "main.fbs:1:21: error: enum value name 'default' is a keyword in TypeScript and C; rename it (e.g. 'default_')",
    ]);
  });

  it('type names that would shadow what the generated TypeScript uses, or clash with an XObject interface', () => {
    expect(errors('struct DataView { a: int; }')).toEqual([
      "main.fbs:1:8: error: struct name 'DataView' would shadow a name the generated TypeScript uses; rename it",
    ]);
    expect(errors('struct P { a: int; }\nstruct PObject { b: int; }')).toEqual([
      "main.fbs:2:8: error: struct name 'PObject' clashes with the TypeScript interface generated for struct P (declared at main.fbs:1:8); rename it",
    ]);
    expect(errors('enum PObject : ubyte { A }\nstruct P { b: int; }')).toEqual([
      "main.fbs:2:8: error: struct P would generate the TypeScript interface PObject, already the name of the enum declared at main.fbs:1:6; rename one of them",
    ]);
  });

  it('schema names whose outputs mmbus-codegen writes itself are refused', () => {
    const one = (name: string): string[] => {
      try {
        loadSchemaText({ [name]: 'struct S { a: int; }' }, [name]);
      } catch (e) {
        if (e instanceof SchemaError) return e.diagnostics.map(formatDiagnostic);
        throw e;
      }
      return [];
    };
    expect(one('index.fbs')).toEqual(['index.fbs:1:1: error: schema index.fbs would generate index.ts, which mmbus-codegen writes itself; rename the schema']);
    expect(one('_runtime.fbs')).toEqual([
      '_runtime.fbs:1:1: error: schema _runtime.fbs would generate _runtime.ts, which mmbus-codegen writes itself; rename the schema',
    ]);
    expect(one('mmbus_codegen.fbs')).toEqual([
      'mmbus_codegen.fbs:1:1: error: schema mmbus_codegen.fbs would generate mmbus_codegen.h, which mmbus-codegen writes itself; rename the schema',
    ]);
    expect(one('runtime.fbs')).toEqual([]);
  });

  it('generated member clashes are refused', () => {
    expect(errors('struct S { a: long; a_number: int; }')).toEqual([
      "main.fbs:1:21: error: field 'a_number' would generate the TypeScript member 'aNumber', also generated for field 'a'; rename one of them",
    ]);
    expect(errors('struct S { wrap: int; }')[0]).toBe(
      "main.fbs:1:12: error: field 'wrap' would generate the TypeScript member 'wrap', which the generated class already has; rename the field",
    );
  });

  it('attributes: undeclared, misplaced, unsupported, bad force_align, text on a non-byte array', () => {
    expect(errors('struct S (mmbus_size: 8) { a: int; }')).toEqual([
      `main.fbs:1:11: error: attribute 'mmbus_size' is not declared; add 'attribute "mmbus_size";' to the schema (flatc requires it too)`,
    ]);
    expect(errors(`${ATTRS}struct S { a: int (mmbus_size: 8); }`)).toEqual([
      "main.fbs:3:20: error: attribute 'mmbus_size' applies to a struct, not to a field; move it",
    ]);
    expect(errors('struct S { a: int (deprecated); }')).toEqual([
      "main.fbs:1:20: error: attribute 'deprecated' is not supported on a fixed-size field; remove it",
    ]);
    expect(errors('struct S (force_align: 3) { a: int; }')).toEqual([
      'main.fbs:1:24: error: force_align: 3 is invalid for struct S; it must be a power of two from the natural alignment 4 to 32',
    ]);
    expect(errors('struct S (force_align: 2) { a: int; }')[0]).toMatch(/^main\.fbs:1:24: error: force_align: 2 is invalid/);
    expect(errors(`${ATTRS}struct S { a: [ushort:4] (mmbus_text); }`)).toEqual([
      "main.fbs:3:27: error: 'mmbus_text' marks a byte array holding UTF-8; declare field 'a' as [ubyte:N]",
    ]);
  });

  it('mmbus_key: one unsigned integer field per struct, declared like every attribute', () => {
    const KEY = `${ATTRS}attribute "mmbus_key";\n`;
    const s = struct(load(`${KEY}struct P { t: ulong; id: uint (mmbus_key); }`), 'P');
    expect(s.key?.name).toBe('id');
    expect([s.key?.offset, s.key?.size]).toEqual([8, 4]);
    expect(struct(load(`${KEY}struct P { t: ulong; id: uint; }`), 'P').key).toBeUndefined();
    for (const t of ['ubyte', 'ushort', 'uint64']) expect(struct(load(`${KEY}struct P { k: ${t} (mmbus_key); }`), 'P').key?.name).toBe('k');
    for (const t of ['int', 'float', 'bool', '[uint:2]']) {
      expect(errors(`${KEY}struct P { k: ${t} (mmbus_key); }`)[0]).toMatch(
        /error: 'mmbus_key' marks the key field, an unsigned integer \(ubyte, ushort, uint or ulong\); field 'k' is not one$/,
      );
    }
    expect(errors(`${KEY}struct P { a: uint (mmbus_key); b: uint (mmbus_key); }`)).toEqual([
      "main.fbs:4:42: error: struct P has two key fields ('a' and 'b'); a keyed message has one",
    ]);
    expect(errors(`${KEY}struct P (mmbus_key) { a: uint; }`)).toEqual([
      "main.fbs:4:11: error: attribute 'mmbus_key' applies to a field, not to a struct; move it",
    ]);
    expect(errors(`${ATTRS}struct P { a: uint (mmbus_key); }`)).toEqual([
      `main.fbs:3:21: error: attribute 'mmbus_key' is not declared; add 'attribute "mmbus_key";' to the schema (flatc requires it too)`,
    ]);
  });

  it('other fixed-size rules: defaults, empty structs, array lengths, nested arrays, enums without 0, bad enum types and ranges', () => {
    expect(errors('struct S { a: int = 3; }')).toEqual([
      "main.fbs:1:19: error: struct fields cannot have default values (field 'a'); remove '= ...'",
    ]);
    expect(errors('struct S { }')).toEqual([
      'main.fbs:1:8: error: struct S has no fields; size 0 structs are not allowed (flatc refuses them too)',
    ]);
    expect(errors('struct S { a: [int:0]; }')).toEqual(['main.fbs:1:20: error: array length 0 is out of range; it must be 1..65535']);
    expect(errors('struct S { a: [[int:2]:2]; }')).toEqual([
      'main.fbs:1:16: error: arrays of arrays are not supported; use an array of a struct that holds an array',
    ]);
    expect(errors('enum E : ubyte { A = 1 }\nstruct S { e: E; }')).toEqual([
      "main.fbs:2:15: error: field 'e' has enum type E, which has no value 0 (the value of a zeroed record); add one, e.g. 'None = 0' (flatc requires it too)",
    ]);
    expect(errors('enum E : float { A }')).toEqual([
      "main.fbs:1:10: error: the underlying type of enum E must be an integer type (byte, ubyte, short, ushort, int, uint, long, ulong), not 'float'",
    ]);
    expect(errors('enum E : byte { A = 128 }')).toEqual([
      'main.fbs:1:21: error: enum value A = 128 does not fit the underlying type byte (-128..127); change the value or widen the type',
    ]);
  });

  it('includes: must come first, must exist, must not cycle', () => {
    expect(errors('struct S { a: int; }\ninclude "x.fbs";')).toEqual([
      "main.fbs:2:1: error: 'include' must come before every other declaration; move it to the top of the file",
    ]);
    expect(errors('include "nope.fbs";\nstruct S { a: int; }')).toEqual(['main.fbs:1:9: error: cannot read schema file nope.fbs; check the path']);
    expect(errors('include "b.fbs";\nstruct S { a: int; }', { 'b.fbs': 'include "main.fbs";\n' })[0]).toMatch(/^b\.fbs:1:9: error: include cycle/);
  });

  it('reports several independent errors at once', () => {
    expect(errors('struct S { a: Foo; }\nstruct T { class: int; }')).toHaveLength(2);
  });
});
