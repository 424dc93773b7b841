// The hostile-schema corpus (test/hostile): names the target languages, the headers the outputs are
// compiled with or the generated code itself already use, names that collide after the spelling
// rules, sizes beyond a record. Each case is a .fbs file, or a directory of them generated in one run;
// its `// expect:` lines give either `accepted` or every diagnostic, exactly. The outputs of every
// accepted case must compile as C11 and C++17 (gcc, clang, g++, clang++, warnings as errors) and pass
// strict TypeScript.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SchemaError,
  cIdentifiers,
  emitCCommon,
  emitCHeader,
  formatDiagnostic,
  generate,
  loadSchemaText,
  loadSchemas,
  writeFiles,
  type Model,
} from '../src/index.ts';
import { TS_CLASS_MEMBERS, TS_PRIVATE_LAST, TS_STATIC_MEMBERS, tsFieldMembers, tsFieldNames } from '../src/names.ts';
import { C_COMPILERS, codegenDir, compileUnits, makeTmp, tscStrict, writeHeaderUnits } from './helpers.ts';

const hostileDir = join(codegenDir, 'test', 'hostile');
const tmp = makeTmp('hostile');
afterAll(() => tmp.cleanup());

interface Case {
  name: string;
  dir: string;
  roots: string[];
  expect: string[];
}

function readCases(): Case[] {
  const out: Case[] = [];
  for (const e of readdirSync(hostileDir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const dir = e.isDirectory() ? join(hostileDir, e.name) : hostileDir;
    const files = e.isDirectory() ? readdirSync(dir).filter((f) => f.endsWith('.fbs')).sort() : e.name.endsWith('.fbs') ? [e.name] : [];
    if (files.length === 0) continue;
    const expect = files.flatMap((f) => [...readFileSync(join(dir, f), 'utf8').matchAll(/^\/\/ expect: (.*)$/gm)].map((m) => m[1] as string));
    out.push({ name: e.name, dir, roots: files.map((f) => join(dir, f)), expect });
  }
  return out;
}

interface Outcome {
  diagnostics: string[];
  model?: Model;
  tsFiles: string[];
  cHeaders: string[];
}

const cases = readCases();
const outcomes = new Map<string, Outcome>();

beforeAll(() => {
  for (const c of cases) {
    const o: Outcome = { diagnostics: [], tsFiles: [], cHeaders: [] };
    outcomes.set(c.name, o);
    try {
      o.model = loadSchemas(c.roots);
    } catch (e) {
      if (!(e instanceof SchemaError)) throw e;
      o.diagnostics = e.diagnostics.map((d) => formatDiagnostic(d).replaceAll(`${c.dir}/`, ''));
      continue;
    }
    const out = join(tmp.dir, c.name);
    const files = generate(o.model, { ts: join(out, 'ts'), c: join(out, 'c') });
    writeFiles(files);
    o.tsFiles = [...files.keys()].filter((f) => f.endsWith('.ts'));
    o.cHeaders = [...files.keys()].filter((f) => f.endsWith('.h'));
  }
});

const accepted = (): [string, Outcome][] => [...outcomes].filter(([, o]) => o.model !== undefined);

describe('hostile schemas', () => {
  it('the corpus has refused and accepted cases, each with its expectations', () => {
    expect(cases.length).toBeGreaterThan(50);
    for (const c of cases) {
      expect(c.expect.length, c.name).toBeGreaterThan(0);
      if (c.expect.includes('accepted')) expect(c.expect, c.name).toEqual(['accepted']);
    }
    expect(cases.filter((c) => c.expect[0] === 'accepted').length).toBeGreaterThan(5);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.expect[0] === 'accepted' ? 'accepted' : 'refused with its diagnostics'}`, () => {
      const o = outcomes.get(c.name) as Outcome;
      if (c.expect[0] === 'accepted') expect(o.diagnostics).toEqual([]);
      else expect([...o.diagnostics].sort()).toEqual([...c.expect].sort());
    });
  }

  describe('the outputs of every accepted case compile', () => {
    for (const compiler of C_COMPILERS) {
      it(`as ${compiler.cpp ? 'C++' : 'C'} with ${compiler.name} ${'-Wall -Wextra -Werror -pedantic'}`, () => {
        const dir = join(tmp.dir, `units-${compiler.name.replace(/\W+/g, '-')}`);
        mkdirSync(dir, { recursive: true });
        const units = writeHeaderUnits(
          dir,
          accepted().map(([name, o]) => ({ name: name.replace(/\W+/g, '-'), headers: o.cHeaders })),
          compiler.cpp,
        );
        const r = compileUnits(compiler, units);
        expect({ status: r.status, output: r.stderr.slice(0, 6000) }).toEqual({ status: 0, output: '' });
      });
    }

    it('(negative control: a header with a member named errno fails with every compiler)', () => {
      const dir = join(tmp.dir, 'control');
      mkdirSync(dir, { recursive: true });
      const model = loadSchemaText({ 'control.fbs': 'struct S { errno_: int; }' });
      writeFileSync(join(dir, 'control.h'), emitCHeader(model.schemas[0]!).replace(/\berrno_\b/g, 'errno'));
      writeFileSync(join(dir, 'mmbus_codegen.h'), emitCCommon());
      for (const compiler of C_COMPILERS) {
        const [unit] = writeHeaderUnits(dir, [{ name: 'control', headers: [join(dir, 'control.h')] }], compiler.cpp);
        expect(compileUnits(compiler, [unit!]).status, compiler.name).not.toBe(0);
      }
    });

    it('as strict TypeScript (tsc --strict, exactOptionalPropertyTypes, verbatimModuleSyntax, erasableSyntaxOnly, ...)', () => {
      const r = tscStrict(tmp.dir, accepted().flatMap(([, o]) => o.tsFiles));
      expect({ status: r.status, output: (r.stdout + r.stderr).slice(0, 6000) }).toEqual({ status: 0, output: '' });
    });
  });

  describe('built at test time (characters and file names a fixture should not hold)', () => {
    const errors = (files: Record<string, string>): string[] => {
      try {
        loadSchemaText(files);
      } catch (e) {
        if (e instanceof SchemaError) return e.diagnostics.map(formatDiagnostic);
        throw e;
      }
      return [];
    };

    it('a bidirectional control character in a doc comment (gcc -Wbidi-chars) is refused', () => {
      expect(errors({ 'bidi.fbs': 'struct S {\n  /// price \u202e 01$\n  a: int;\n}' })).toEqual([
        'bidi.fbs:2:13: error: doc comment holds the bidirectional control character U+202E: copied into the outputs it would make the code read differently than it compiles (gcc refuses it); remove it',
      ]);
      expect(errors({ 'marks.fbs': '/// a right-to-left mark \u200f is no control\nstruct S { a: int; }' })).toEqual([]);
    });

    it('a schema file name that cannot name the outputs or the imports between them is refused', () => {
      expect(errors({ "it's.fbs": 'struct S { a: int; }' })).toEqual([
        "it's.fbs:1:1: error: schema file name 'it's.fbs': the output files and the imports between them are named after it, so it must be letters, digits, '_', '-' and '.' (not starting with '.' or '-'); rename the file",
      ]);
      expect(errors({ '.fbs': 'struct S { a: int; }' })[0]).toMatch(/^\.fbs:1:1: error: schema file name '\.fbs'/);
      expect(errors({ 'ok-name.v2.fbs': 'struct S { a: int; }' })).toEqual([]);
    });
  });

  describe('the collision checks know every identifier the emitters write', () => {
    it('C: every macro, type, function and member in the headers is one cIdentifiers() lists', () => {
      for (const [name, o] of accepted()) {
        const known = new Set(cIdentifiers(o.model as Model).map((id) => id.name));
        const written = new Set<string>();
        for (const h of o.cHeaders.filter((f) => !f.endsWith('mmbus_codegen.h'))) {
          const text = readFileSync(h, 'utf8');
          for (const re of [/^#define (\w+)/gm, /^typedef \w+ (\w+);$/gm, /^} (\w+);$/gm, /^typedef struct (\w+) \{$/gm, /^static inline [^(]*?(\w+)\(/gm]) {
            for (const m of text.matchAll(re)) written.add(m[1] as string);
          }
          for (const m of text.matchAll(/^ {2}(?:MMBUS_ALIGNAS\(\d+\) )?\w+ (\w+)(?:\[\d+\])?;/gm)) written.add(m[1] as string);
        }
        const unknown = [...written].filter((n) => !known.has(n) && !/^mmbus_pad\d+$/.test(n));
        expect(unknown, name).toEqual([]);
        expect(written.size, name).toBeGreaterThan(0);
      }
    });

    it('TypeScript: every class member is a field member the resolver claims or a fixed one', () => {
      const fixed = new Set([...TS_CLASS_MEMBERS, TS_PRIVATE_LAST, ...TS_STATIC_MEMBERS]);
      for (const [name, o] of accepted()) {
        const claimed = new Map<string, Set<string>>();
        for (const s of (o.model as Model).schemas) {
          for (const d of s.decls) if (d.kind === 'struct') claimed.set(d.name, new Set(d.fields.flatMap((f) => tsFieldMembers(tsFieldNames(f)))));
        }
        for (const file of o.tsFiles) {
          const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022);
          for (const st of sf.statements) {
            if (!ts.isClassDeclaration(st) || !st.name) continue;
            const fields = claimed.get(st.name.text) ?? new Set<string>();
            const members = st.members.map((m) => (m.name ? m.name.getText(sf) : 'constructor'));
            expect(
              members.filter((m) => !fields.has(m) && !fixed.has(m)),
              `${name}: class ${st.name.text}`,
            ).toEqual([]);
          }
        }
      }
    });
  });
});
