import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { codegenDir, corpusDir, makeTmp, run, runCli } from './helpers.ts';

const tmp = makeTmp('cli');
afterAll(() => tmp.cleanup());

const ATTRS = 'attribute "mmbus_text";\nattribute "mmbus_size";\n';

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

describe('mmbus-codegen CLI', () => {
  it('writes TS modules, an index, the TS runtime, C headers and the common C header; a second run writes nothing', () => {
    const out = join(tmp.dir, 'gen1');
    const r = runCli([join(corpusDir, 'tricky.fbs'), '--ts', join(out, 'ts'), '--c', join(out, 'c')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('mmbus-codegen: 7 file(s), 7 written\n');
    expect(listFiles(out)).toEqual([
      'c',
      'c/geometry.h',
      'c/mmbus_codegen.h',
      'c/tricky.h',
      'ts',
      'ts/_runtime.ts',
      'ts/geometry.ts',
      'ts/index.ts',
      'ts/tricky.ts',
    ]);
    // identical to the checked-in corpus outputs: generation is deterministic
    for (const f of ['ts/tricky.ts', 'ts/_runtime.ts', 'c/tricky.h', 'c/mmbus_codegen.h']) {
      expect(readFileSync(join(out, f), 'utf8')).toBe(readFileSync(join(codegenDir, 'test/generated', f), 'utf8'));
    }
    const again = runCli([join(corpusDir, 'tricky.fbs'), '--ts', join(out, 'ts'), '--c', join(out, 'c')]);
    expect(again.stdout).toBe('mmbus-codegen: 7 file(s), 0 written\n');
  });

  it('--check passes when up to date, fails with exit 1 listing stale and missing files', () => {
    const out = join(tmp.dir, 'gen2');
    const args = [join(corpusDir, 'tricky.fbs'), '--ts', join(out, 'ts'), '--c', join(out, 'c')];
    expect(runCli(args).status).toBe(0);
    const ok = runCli([...args, '--check']);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe('mmbus-codegen: 7 file(s) up to date\n');

    writeFileSync(join(out, 'c', 'geometry.h'), readFileSync(join(out, 'c', 'geometry.h'), 'utf8') + '\n');
    rmSync(join(out, 'ts', 'index.ts'));
    const stale = runCli([...args, '--check']);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toBe(
      `mmbus-codegen: 2 generated file(s) are stale; regenerate them:\n  ${join(out, 'c', 'geometry.h')}\n  ${join(out, 'ts', 'index.ts')}\n`,
    );
    // --check writes nothing
    expect(listFiles(join(out, 'ts'))).toEqual(['_runtime.ts', 'geometry.ts', 'tricky.ts']);
  });

  it('--check covers the shared runtime files: a stale or missing _runtime.ts or mmbus_codegen.h exits 1', () => {
    const out = join(tmp.dir, 'gen-runtime');
    const args = [join(corpusDir, 'tricky.fbs'), '--ts', join(out, 'ts'), '--c', join(out, 'c')];
    expect(runCli(args).status).toBe(0);
    writeFileSync(join(out, 'ts', '_runtime.ts'), readFileSync(join(out, 'ts', '_runtime.ts'), 'utf8').replace('checkIndex', 'checkIdx'));
    rmSync(join(out, 'c', 'mmbus_codegen.h'));
    const stale = runCli([...args, '--check']);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toBe(
      `mmbus-codegen: 2 generated file(s) are stale; regenerate them:\n  ${join(out, 'c', 'mmbus_codegen.h')}\n  ${join(out, 'ts', '_runtime.ts')}\n`,
    );
    expect(runCli(args).stdout).toBe('mmbus-codegen: 7 file(s), 2 written\n');
    expect(runCli([...args, '--check']).status).toBe(0);
  });

  it('a schema error exits 1 with file:line:column and writes nothing, not even for the valid schemas', () => {
    const dir = join(tmp.dir, 'bad');
    mkdirSync(dir);
    writeFileSync(join(dir, 'good.fbs'), `${ATTRS}namespace g;\nstruct Good { a: int; }\n`);
    writeFileSync(join(dir, 'bad.fbs'), 'namespace b;\nstruct Bad {\n  a: Nope;\n  b: string;\n}\n');
    const out = join(dir, 'out');
    const r = runCli([join(dir, 'good.fbs'), join(dir, 'bad.fbs'), '--ts', join(out, 'ts'), '--c', join(out, 'c')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'bad.fbs')}:3:6: error: unknown type 'Nope'`);
    expect(r.stderr).toContain(`${join(dir, 'bad.fbs')}:4:6: error: 'string' is not fixed-size`);
    expect(r.stderr).toContain('mmbus-codegen: 2 error(s); nothing was written');
    expect(() => readdirSync(out)).toThrow();
  });

  it('usage errors: no output directory, unknown option', () => {
    const none = runCli([join(corpusDir, 'tricky.fbs')]);
    expect(none.status).toBe(2);
    expect(none.stderr).toBe('mmbus-codegen: nothing to do; give --ts <dir> and/or --c <dir>\n');
    const unknown = runCli([join(corpusDir, 'tricky.fbs'), '--java', 'x']);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain("unknown option '--java'");
  });

  it('the mmbus-codegen bin runs the CLI', () => {
    const r = run(process.execPath, [join(codegenDir, 'bin', 'mmbus-codegen.mjs'), '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: mmbus-codegen [options] <schemas...>');
    expect(r.stdout).toContain('--check');
  });

  it('the checked-in corpus outputs (test/generated) are up to date: npm run corpus -w @mmbus/codegen', () => {
    const gen = join(codegenDir, 'test', 'generated');
    const r = runCli([join(corpusDir, 'tricky.fbs'), '--ts', join(gen, 'ts'), '--c', join(gen, 'c'), '--check']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('writes through temporary files and leaves none behind', () => {
    const out = join(tmp.dir, 'gen3');
    expect(runCli([join(corpusDir, 'geometry.fbs'), '--c', out]).status).toBe(0);
    expect(listFiles(out)).toEqual(['geometry.h', 'mmbus_codegen.h']);
  });
});
