import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalLayout, fnv1a64, hex64, loadSchemaText, loadSchemas, type Model, type StructDef } from '../src/index.ts';
import { schemasDir } from './helpers.ts';

/** Checked-in value: changing it means every channel file written with the old layout is refused. */
const PERSON_FINGERPRINT = 0x71669c9ff47bbfc8n;
const PERSON_CANONICAL =
  'struct mmbus.Person size=128 align=8;field index:int64@0:8;field name:text[64]@8:64;field age:uint8@72:1;';

const ATTRS = 'attribute "mmbus_text";\nattribute "mmbus_size";\nattribute "mmbus_key";\nnamespace t;\n';

function fp(src: string, name = 'S'): bigint {
  return struct(loadSchemaText({ 'x.fbs': ATTRS + src }), name).fingerprint;
}

function struct(model: Model, name: string): StructDef {
  for (const s of model.schemas) for (const d of s.decls) if (d.kind === 'struct' && d.name === name) return d;
  throw new Error(`no struct ${name}`);
}

describe('fingerprint', () => {
  it('is FNV-1a 64 (reference vectors)', () => {
    expect(hex64(fnv1a64(''))).toBe('0xcbf29ce484222325');
    expect(hex64(fnv1a64('a'))).toBe('0xaf63dc4c8601ec8c');
    expect(hex64(fnv1a64('foobar'))).toBe('0x85944171f73967e8');
  });

  it('of Person is the checked-in constant, over the documented canonical text', () => {
    const person = struct(loadSchemas([join(schemasDir, 'person.fbs')]), 'Person');
    expect(canonicalLayout(person)).toBe(PERSON_CANONICAL);
    expect(person.fingerprint).toBe(fnv1a64(PERSON_CANONICAL));
    expect(hex64(person.fingerprint)).toBe(hex64(PERSON_FINGERPRINT));
  });

  it('is stable across loads and independent of the spelling of a scalar, of comments and of the file name', () => {
    const a = fp('struct S { a: int; b: long; }');
    expect(fp('struct S { a: int; b: long; }')).toBe(a);
    expect(fp('/// doc\nstruct S {\n  // c\n  a: int32;\n  b: int64;\n}')).toBe(a);
    expect(struct(loadSchemaText({ 'other.fbs': ATTRS + 'struct S { a: int; b: long; }' }), 'S').fingerprint).toBe(a);
  });

  it('changes when a field name, type, order, the padding, the struct name or a nested struct changes', () => {
    const base = 'struct S (mmbus_size: 32) { a: int; b: long; t: [ubyte:8] (mmbus_text); }';
    const variants = [
      base,
      'struct S (mmbus_size: 32) { x: int; b: long; t: [ubyte:8] (mmbus_text); }', // name
      'struct S (mmbus_size: 32) { a: uint; b: long; t: [ubyte:8] (mmbus_text); }', // type, same size
      'struct S (mmbus_size: 32) { a: float; b: long; t: [ubyte:8] (mmbus_text); }', // type, same size
      'struct S (mmbus_size: 32) { b: long; a: int; t: [ubyte:8] (mmbus_text); }', // order
      'struct S (mmbus_size: 40) { a: int; b: long; t: [ubyte:8] (mmbus_text); }', // declared padding
      'struct S (mmbus_size: 32, force_align: 16) { a: int; b: long; t: [ubyte:8] (mmbus_text); }', // alignment
      'struct S (mmbus_size: 32) { a: int; b: long; t: [ubyte:8]; }', // text marker
      'struct S (mmbus_size: 32) { a: int; b: long; t: [ubyte:9] (mmbus_text); }', // array length
      'struct S (mmbus_size: 32) { a: uint (mmbus_key); b: long; t: [ubyte:8] (mmbus_text); }', // a key
      'struct S (mmbus_size: 32) { a: uint; b: ulong (mmbus_key); t: [ubyte:8] (mmbus_text); }', // another key
    ];
    const values = variants.map((v) => fp(v));
    expect(new Set(values).size).toBe(variants.length);
    expect(fp('struct T (mmbus_size: 32) { a: int; b: long; t: [ubyte:8] (mmbus_text); }', 'T')).not.toBe(values[0]);

    const nested = (inner: string): bigint => fp(`struct V { ${inner} }\nstruct S { v: V; }`);
    expect(nested('x: float; y: float;')).not.toBe(nested('x: float; z: float;'));
    expect(nested('x: float; y: float;')).not.toBe(nested('x: int; y: float;'));
  });
});
