import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { MMBUS_ERROR_CODES, MmbusError } from '../src/index.ts';
import { SchemaError, formatDiagnostic, hex64, loadSchemaText, loadSchemas, type Model, type SchemaRules, type StructDef } from '../src/schema.ts';

const schemasDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'schemas');
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
  it('carries a stable code, the C code and the message', () => {
    const e = new MmbusError('MMBUS_E_FULL', -11, 'channel full');
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'MmbusError', code: 'MMBUS_E_FULL', errno: -11, message: 'channel full' });
    expect(String(e)).toBe('MmbusError: channel full');
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
