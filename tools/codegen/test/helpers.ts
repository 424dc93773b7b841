// Shared test helpers: temp dirs, external tools (a missing tool FAILS the test: CI installs them).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  delete env.FORCE_COLOR;
  return env;
}

/** Runs a program; throws (failing the test) if it cannot be started, e.g. g++ or flatc is missing. */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string } = {}): RunResult {
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
