// Bounded input and linear output: what mmbus-codegen reads (regular files only, limited bytes, files
// and include depth), how much layout text it hashes, and output that grows linearly with nesting.
// Reading is tested through the CLI in a child process with a time-out, so a regression that blocks
// on a FIFO or reads a device forever fails the test instead of hanging it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { extractNames, mmbusHeader } from '../scripts/c-library-names.ts';
import {
  INCLUDE_DEPTH_MAX,
  LAYOUT_TEXT_BYTES_MAX,
  RECORD_SIZE_MAX,
  SCHEMA_BYTES_MAX,
  SCHEMA_FILES_MAX,
  SCHEMA_NAME_MAX,
  SchemaError,
  canonicalLayout,
  emitCHeader,
  emitTsModule,
  fnv1a64,
  formatDiagnostic,
  loadSchemaText,
  loadSchemas,
  type StructDef,
} from '../src/index.ts';
import { cTakenName } from '../src/names.ts';
import { cliPath, makeTmp, repoDir, run } from './helpers.ts';

const tmp = makeTmp('limits');
afterAll(() => tmp.cleanup());

/**
 * Runs the CLI on `args` (stdin a pipe nobody writes to), killed after `timeoutMs`. One process, with
 * tsx's loader, not tsx's CLI: that would leave its child running when it is killed.
 */
function cli(args: string[], timeoutMs = 30_000): { status: number | null; signal: string | null; stderr: string } {
  const loader = pathToFileURL(join(repoDir, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const out = ['--ts', join(tmp.dir, 'out-ts'), '--c', join(tmp.dir, 'out-c')];
  const r = spawnSync(process.execPath, ['--import', loader, cliPath, ...args, ...out], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

function schemaErrors(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof SchemaError) return e.diagnostics.map(formatDiagnostic);
    throw e;
  }
  return [];
}

function write(name: string, text: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, text);
  return path;
}

describe('schema input', () => {
  it('include "/dev/zero": refused as a device before reading it', () => {
    const main = write('zero.fbs', 'include "/dev/zero";\nstruct S { a: int; }\n');
    const r = cli([main]);
    expect(r.signal).toBe(null);
    expect(r.stderr).toBe(
      `${main}:1:9: error: /dev/zero is a character device, not a regular file; schemas and includes must be regular files\nmmbus-codegen: 1 error(s); nothing was written\n`,
    );
    expect(r.status).toBe(1);
  });

  it('include "/dev/stdin" (a pipe nobody writes to): refused at once, without waiting', () => {
    const main = write('stdin.fbs', 'include "/dev/stdin";\nstruct S { a: int; }\n');
    const r = cli([main]);
    expect(r.signal).toBe(null);
    // a pipe here is a socket pair (libuv); either way not a regular file
    expect(r.stderr).toMatch(new RegExp(`^${main}:1:9: error: /dev/stdin is a (FIFO \\(named pipe\\)|socket), not a regular file; schemas and includes must be regular files\n`));
    expect(r.status).toBe(1);
  });

  it('a FIFO, as an include or as a schema argument: refused without opening it (an open would block)', () => {
    const fifo = join(tmp.dir, 'pipe.fbs');
    expect(run('mkfifo', [fifo]).status).toBe(0);
    const main = write('fifo.fbs', 'include "pipe.fbs";\nstruct S { a: int; }\n');
    const r = cli([main]);
    expect(r.signal).toBe(null);
    expect(r.stderr).toContain(`${main}:1:9: error: ${fifo} is a FIFO (named pipe), not a regular file`);
    const direct = cli([fifo]);
    expect(direct.signal).toBe(null);
    expect(direct.stderr).toContain(`${fifo}:1:1: error: ${fifo} is a FIFO (named pipe), not a regular file`);
  });

  it('a directory as an include: refused as one', () => {
    mkdirSync(join(tmp.dir, 'adir.fbs'));
    const main = write('dir.fbs', 'include "adir.fbs";\nstruct S { a: int; }\n');
    expect(schemaErrors(() => loadSchemas([main]))).toEqual([
      `${main}:1:9: error: ${join(tmp.dir, 'adir.fbs')} is a directory, not a regular file; schemas and includes must be regular files`,
    ]);
  });

  it(`schema text is bounded: ${SCHEMA_BYTES_MAX} bytes per run, every file together`, () => {
    const line = '// ' + 'x'.repeat(60) + '\n';
    const big = write('big.fbs', line.repeat(Math.ceil((SCHEMA_BYTES_MAX + 1) / line.length)));
    expect(schemaErrors(() => loadSchemas([big]))).toEqual([
      `${big}:1:1: error: schema file ${big} is ${Math.ceil((SCHEMA_BYTES_MAX + 1) / line.length) * line.length} bytes, more than the 8 MiB of schema text mmbus-codegen reads in one run; split it`,
    ]);
    const half = line.repeat(Math.ceil(SCHEMA_BYTES_MAX / 2 / line.length) + 1);
    const a = write('half-a.fbs', half);
    const b = write('half-b.fbs', half);
    expect(schemaErrors(() => loadSchemas([a, b]))).toEqual([
      `${b}:1:1: error: schema file ${b} (${half.length} bytes) takes the schema text of this run past the 8 MiB mmbus-codegen reads in one run; generate the schemas in several runs`,
    ]);
  });

  it(`includes are bounded: at most ${INCLUDE_DEPTH_MAX} deep and ${SCHEMA_FILES_MAX} files`, () => {
    const files: Record<string, string> = {};
    for (let i = 0; i <= INCLUDE_DEPTH_MAX + 1; i++) files[`d${i}.fbs`] = `include "d${i + 1}.fbs";\n`;
    files[`d${INCLUDE_DEPTH_MAX + 2}.fbs`] = 'struct S { a: int; }\n';
    expect(schemaErrors(() => loadSchemaText(files, ['d0.fbs']))).toEqual([
      `d${INCLUDE_DEPTH_MAX}.fbs:1:9: error: includes nested more than ${INCLUDE_DEPTH_MAX} deep (mmbus-codegen's limit) to reach d${INCLUDE_DEPTH_MAX + 1}.fbs; include it from a file nearer the root`,
    ]);
    const many: Record<string, string> = {};
    for (let i = 0; i <= SCHEMA_FILES_MAX; i++) many[`f${i}.fbs`] = '';
    expect(schemaErrors(() => loadSchemaText(many))).toEqual([
      `f${SCHEMA_FILES_MAX}.fbs:1:1: error: more than ${SCHEMA_FILES_MAX} schema files in one run (mmbus-codegen's limit), counting includes; generate them in several runs`,
    ]);
  });
});

/** A chain of `depth` structs, each holding the previous one. */
function chain(depth: number): string {
  let s = 'namespace chain;\nstruct S0 { x: int; }\n';
  for (let i = 1; i <= depth; i++) s += `struct S${i} { a: S${i - 1}; }\n`;
  return s;
}

describe('nesting', () => {
  it('a 400-deep chain of nested structs generates in linear time and size (it took 205 s and 4.8 MB before)', () => {
    const sizes = new Map<number, { ts: number; c: number }>();
    const t0 = performance.now();
    for (const depth of [200, 400]) {
      const model = loadSchemaText({ 'chain.fbs': chain(depth) });
      const schema = model.schemas[0]!;
      sizes.set(depth, { ts: emitTsModule(schema).length, c: emitCHeader(schema).length });
    }
    const seconds = (performance.now() - t0) / 1000;
    const [a, b] = [sizes.get(200)!, sizes.get(400)!];
    expect(b.ts / a.ts).toBeLessThan(2.1);
    expect(b.c / a.c).toBeLessThan(2.1);
    expect(b.ts).toBeLessThan(2_000_000); // every accessor guards its view access (MMBUS_E_CLOSED)
    expect(b.c).toBeLessThan(400_000);
    expect(seconds).toBeLessThan(60);
  });

  it('the fingerprint of a deep struct is still FNV-1a of its whole canonical text', () => {
    const model = loadSchemaText({ 'chain.fbs': chain(50) });
    const top = model.schemas[0]!.decls.at(-1) as StructDef;
    const text = canonicalLayout(top);
    expect(text.startsWith('struct chain.S50 size=4 align=4;field a:(struct chain.S49 size=4 align=4;field a:(')).toBe(true);
    expect(text.split('(').length - 1).toBe(50);
    expect(top.fingerprint).toBe(fnv1a64(text));
  });

  it(`the layout text the fingerprints hash is bounded (${LAYOUT_TEXT_BYTES_MAX} bytes per run)`, () => {
    // W's canonical text is about 80 kB; every struct holding a W hashes all of it again.
    let src = 'struct W {\n';
    for (let i = 0; i < 3000; i++) src += `  field_number_${i}: ubyte;\n`;
    src += '}\n';
    const count = 1000;
    for (let i = 0; i < count; i++) src += `struct H${i} { w: W; }\n`;
    const errors = schemaErrors(() => loadSchemaText({ 'wide.fbs': src }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^wide\.fbs:\d+:8: error: the canonical layout text of struct H\d+, which its fingerprint hashes, is \d+ bytes \(it holds the text of every struct nested in it\); with the structs before it that is more than the 64 MiB mmbus-codegen hashes in one run; nest fewer levels or split the schemas$/,
    );
  });
});

describe('limits shared with libmmbus', () => {
  const header = readFileSync(mmbusHeader, 'utf8');
  const define = (name: string): number => Number(/^#define (\w+) (\d+)u?\b/m.exec(header.slice(header.indexOf(`#define ${name} `)))?.[2]);

  it('RECORD_SIZE_MAX and SCHEMA_NAME_MAX are the values of native/include/mmbus.h', () => {
    expect(RECORD_SIZE_MAX).toBe(define('MMBUS_RECORD_SIZE_MAX'));
    expect(SCHEMA_NAME_MAX).toBe(define('MMBUS_SCHEMA_NAME_MAX'));
  });

  it('the taken C names cover every identifier of native/include/mmbus.h (regenerate: scripts/c-library-names.ts)', () => {
    const names = extractNames(`"${mmbusHeader}"`, ['-std=c11']);
    const all = Object.values(names).flat();
    expect(all).toContain('mmbus_open');
    expect(all.filter((n) => cTakenName(n) === undefined)).toEqual([]);
  });
});
