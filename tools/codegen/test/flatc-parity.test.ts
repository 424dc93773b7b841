// Layout parity with the real flatc: its C++ output and our C header are compiled into one C++
// program that compares sizeof, alignof and every field offset.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, loadSchemaText, loadSchemas, parseSchema, type Model, type StructDef } from '../src/index.ts';
import { corpusDir, makeTmp, run, runOk, schemasDir } from './helpers.ts';

const tmp = makeTmp('parity');
afterAll(() => tmp.cleanup());

const TAIL_PAD = 'mmbus_tail_pad_';

function structs(model: Model): StructDef[] {
  return model.schemas.flatMap((s) => s.decls.filter((d): d is StructDef => d.kind === 'struct'));
}

/**
 * flatc does not know our declared size: give it the same tail padding as an explicit byte array at
 * the end of each such struct, so that its sizeof (and every struct nesting it) must match ours.
 */
function schemaForFlatc(file: string, src: string, model: Model): string {
  const byFqn = new Map(structs(model).map((s) => [s.fqn, s]));
  const ast = parseSchema(file, src);
  const lineStarts = [0];
  for (let i = 0; i < src.length; i++) if (src[i] === '\n') lineStarts.push(i + 1);
  const inserts: { at: number; text: string }[] = [];
  for (const d of ast.decls) {
    if (d.kind !== 'struct') continue;
    const def = byFqn.get(d.namespace ? `${d.namespace}.${d.name}` : d.name);
    if (def?.declaredSize === undefined || def.declaredSize === def.end) continue;
    const at = (lineStarts[d.closePos.line - 1] as number) + d.closePos.col - 1;
    inserts.push({ at, text: `  ${TAIL_PAD}: [ubyte:${def.declaredSize - def.end}];\n` });
  }
  let out = src;
  for (const ins of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, ins.at) + ins.text + out.slice(ins.at);
  return out;
}

/** Builds and runs the comparison program; returns its output lines. */
function compare(name: string, model: Model, oursModel: Model = model): { lines: string[]; checks: number } {
  const dir = join(tmp.dir, name);
  const fbsDir = join(dir, 'fbs');
  const flatcOut = join(dir, 'flatc');
  mkdirSync(fbsDir, { recursive: true });
  for (const s of model.schemas) {
    writeFileSync(join(fbsDir, `${s.baseName}.fbs`), schemaForFlatc(s.path, readFileSync(s.path, 'utf8'), model));
  }
  runOk('flatc', ['--cpp', '-o', flatcOut, '-I', fbsDir, ...model.schemas.map((s) => join(fbsDir, `${s.baseName}.fbs`))]);
  const files = generate(oursModel, { c: join(dir, 'ours') });
  for (const [p, content] of files) {
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, content);
  }

  const checks: string[] = [];
  for (const s of structs(model)) {
    const cpp = `${s.namespace ? s.namespace.replace(/\./g, '::') + '::' : ''}${s.name}`;
    const c = `${s.namespace ? s.namespace.replace(/\./g, '_') + '_' : ''}${s.name}`;
    checks.push(`CHECK("${s.fqn} sizeof", sizeof(${cpp}), sizeof(${c}));`);
    checks.push(`CHECK("${s.fqn} alignof", alignof(${cpp}), alignof(${c}));`);
    for (const f of s.fields) checks.push(`CHECK("${s.fqn}.${f.name} offset", offsetof(${cpp}, ${f.name}_), offsetof(${c}, ${f.name}));`);
    if (s.declaredSize !== undefined && s.declaredSize > s.end) {
      checks.push(`CHECK("${s.fqn} tail padding starts at the end of the last field", offsetof(${cpp}, ${TAIL_PAD}_), ${s.end});`);
    }
  }
  const program = [
    '#include <cstddef>',
    '#include <cstdio>',
    '#include "flatbuffers/flatbuffers.h"',
    '#define private public',
    ...model.schemas.map((s) => `#include "${s.baseName}_generated.h"`),
    '#undef private',
    ...oursModel.schemas.map((s) => `#include "${s.baseName}.h"`),
    'static int bad = 0;',
    'static void CHECK(const char *what, size_t theirs, size_t ours) {',
    '  if (theirs == ours) std::printf("ok %s %zu\\n", what, ours);',
    '  else { std::printf("MISMATCH %s flatc=%zu ours=%zu\\n", what, theirs, ours); bad = 1; }',
    '}',
    'int main() {',
    ...checks.map((l) => '  ' + l),
    '  return bad;',
    '}',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'parity.cpp'), program);
  const exe = join(dir, 'parity');
  runOk('g++', ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-Wno-invalid-offsetof', '-I', flatcOut, '-I', join(dir, 'ours'), join(dir, 'parity.cpp'), '-o', exe]);
  const r = run(exe, []);
  return { lines: r.stdout.trim().split('\n'), checks: checks.length };
}

describe('layout parity with flatc', () => {
  it('flatc is installed (CI installs flatbuffers-compiler and libflatbuffers-dev)', () => {
    expect(runOk('flatc', ['--version']).stdout).toMatch(/flatc version/);
  });

  const cases: [string, () => Model][] = [
    ['test corpus (mixed widths, nesting, arrays, bool, enums, force_align, padding)', () => loadSchemas([join(corpusDir, 'tricky.fbs')])],
    ['schemas/person.fbs', () => loadSchemas([join(schemasDir, 'person.fbs')])],
    ['schemas/point.fbs', () => loadSchemas([join(schemasDir, 'point.fbs')])],
  ];
  for (const [name, load] of cases) {
    it(`agrees on sizeof, alignof and every offset: ${name}`, () => {
      const model = load();
      const { lines, checks } = compare(name.replace(/[^a-z]+/gi, '_'), model);
      expect(lines.filter((l) => l.startsWith('MISMATCH'))).toEqual([]);
      expect(lines.filter((l) => l.startsWith('ok '))).toHaveLength(checks);
      expect(checks).toBeGreaterThan(structs(model).length * 2);
    });
  }

  it('the comparison catches a wrong layout (two fields swapped in our header only)', () => {
    const model = loadSchemas([join(schemasDir, 'person.fbs')]);
    const src = readFileSync(join(schemasDir, 'person.fbs'), 'utf8');
    const swapped = src.replace(/(\s+\/\/\/ Sequence number[^\n]*\n\s+index: long;)([\s\S]*?)(\n\s+\/\/\/ Age in years.\n\s+age: ubyte;)/, '$3$2$1');
    expect(swapped).not.toEqual(src);
    const ours = loadSchemaText({ 'person.fbs': swapped });
    const { lines } = compare('negative', model, ours);
    expect(lines.filter((l) => l.startsWith('MISMATCH mmbus.Person.index offset flatc=0 ours='))).toHaveLength(1);
  });

  it('declared sizes are checked against flatc through explicit tail padding', () => {
    const model = loadSchemas([join(schemasDir, 'person.fbs')]);
    const text = schemaForFlatc('person.fbs', readFileSync(join(schemasDir, 'person.fbs'), 'utf8'), model);
    expect(text).toContain(`${TAIL_PAD}: [ubyte:55];`);
  });
});
