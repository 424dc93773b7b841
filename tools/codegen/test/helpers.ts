// Shared test helpers: temp dirs, external tools (a missing tool FAILS the test: CI installs them).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const codegenDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repoDir = resolve(codegenDir, '..', '..');
export const corpusDir = join(codegenDir, 'test', 'corpus');
export const schemasDir = join(repoDir, 'schemas');
export const cliPath = join(codegenDir, 'src', 'cli.ts');
export const tsxCli = join(repoDir, 'node_modules', 'tsx', 'dist', 'cli.mjs');

export function makeTmp(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `mmbus-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** The environment for child processes, without Node's NO_COLOR/FORCE_COLOR warning on stderr. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: '1' };
  delete env['FORCE_COLOR'];
  return env;
}

/** Runs a program; throws (failing the test) if it cannot be started, e.g. g++ or flatc is missing. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string | undefined } = {}): RunResult {
  const r = spawnSync(cmd, [...args], { cwd: opts.cwd, encoding: 'utf8', maxBuffer: 64 << 20, env: childEnv() });
  if (r.error) {
    throw new Error(`cannot run ${cmd}: ${r.error.message}. Install it (Debian: flatbuffers-compiler, libflatbuffers-dev, g++, gcc)`);
  }
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a program and throws with its output unless it exits 0. */
export function runOk(cmd: string, args: readonly string[], opts: { cwd?: string } = {}): RunResult {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Runs mmbus-codegen's CLI through tsx, as the Nx target does. */
export function runCli(args: readonly string[], cwd?: string): RunResult {
  return run(process.execPath, [tsxCli, cliPath, ...args], { cwd });
}

/**
 * The compiler options generated TypeScript must pass: strict, plus every stricter check a consumer
 * may turn on (the base config adds noUncheckedIndexedAccess, noImplicitOverride, isolatedModules).
 */
export const STRICT_TS_OPTIONS = {
  strict: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  noImplicitReturns: true,
  noFallthroughCasesInSwitch: true,
  noPropertyAccessFromIndexSignature: true,
  exactOptionalPropertyTypes: true,
  verbatimModuleSyntax: true,
  erasableSyntaxOnly: true,
  allowUnreachableCode: false,
  allowUnusedLabels: false,
} as const;

/** Type-checks `files` with STRICT_TS_OPTIONS in one tsc run; `dir` gets the tsconfig (and an ESM package.json). */
export function tscStrict(dir: string, files: readonly string[]): RunResult {
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(repoDir, 'tsconfig.base.json'),
      compilerOptions: {
        noEmit: true,
        ...STRICT_TS_OPTIONS,
        typeRoots: [join(repoDir, 'node_modules', '@types')],
        // generated modules import the RecordLayout type from @mmbus/runtime, as a user's project installs it
        paths: { '@mmbus/runtime': [join(repoDir, 'packages', 'runtime', 'src', 'index.ts')] },
      },
      files,
    }),
  );
  return run(process.execPath, [join(repoDir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')]);
}

/** The C and C++ compilers and modes every generated header must pass, warnings as errors. */
export const C_COMPILERS: readonly { name: string; cmd: string; args: readonly string[]; cpp: boolean }[] = [
  { name: 'gcc -std=c11', cmd: 'gcc', args: ['-std=c11'], cpp: false },
  { name: 'gcc -std=gnu11', cmd: 'gcc', args: ['-std=gnu11'], cpp: false }, // predefines linux, unix
  { name: 'clang -std=c11', cmd: 'clang', args: ['-std=c11'], cpp: false },
  { name: 'g++ -std=c++17', cmd: 'g++', args: ['-std=c++17'], cpp: true },
  { name: 'clang++ -std=gnu++17', cmd: 'clang++', args: ['-std=gnu++17'], cpp: true },
];

export const C_WARNINGS = ['-Wall', '-Wextra', '-Werror', '-pedantic'];

/**
 * One translation unit per entry, each including the standard headers programs use next to the
 * generated ones, libmmbus's header, then `headers` (twice: the include guards must work).
 */
export function writeHeaderUnits(dir: string, units: readonly { name: string; headers: readonly string[] }[], cpp: boolean): string[] {
  const std = ['stdio.h', 'stdlib.h', 'stdbool.h', 'assert.h', 'limits.h', 'inttypes.h', 'stdint.h', 'stddef.h', 'string.h', 'errno.h'];
  return units.map((u) => {
    const path = join(dir, `${u.name}.${cpp ? 'cpp' : 'c'}`);
    const lines = [
      ...std.map((h) => `#include <${h}>`),
      ...(cpp ? [] : ['#include <stdalign.h>', '#include <stdnoreturn.h>']),
      '#include "mmbus.h"',
      ...[...u.headers, ...u.headers].map((h) => `#include "${h}"`),
      'int main(void) { return 0; }',
      '',
    ];
    writeFileSync(path, lines.join('\n'));
    return path;
  });
}

/** Syntax-checks the units with one compiler invocation; -I finds mmbus.h. */
export function compileUnits(compiler: (typeof C_COMPILERS)[number], units: readonly string[]): RunResult {
  return run(compiler.cmd, [...compiler.args, ...C_WARNINGS, '-fsyntax-only', '-I', join(repoDir, 'native', 'include'), ...units]);
}
