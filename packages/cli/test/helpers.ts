import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { runTs, spawnChild, type Child } from '@mmbus/test-kit';

export { killChildren, useScratchDir } from '@mmbus/test-kit';
export type Running = Child;

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = join(here, '..', 'bin', 'mmbus.mjs');
export const SCHEMAS = join(here, '..', '..', '..', 'schemas');

/** A fresh private directory for the test's channels. */
export { tempDir } from '@mmbus/test-kit';

/** Plain output, and no channel directory inherited from the caller's environment. */
const cliEnv: NodeJS.ProcessEnv = { NO_COLOR: '1', MMBUS_DIR: undefined };

/** Starts `node bin/mmbus.mjs ...args`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  return spawnChild(process.execPath, [BIN, ...args], { ...cliEnv, ...env });
}

/** Runs the CLI to its end (killed after 30 s), with optional stdin. */
export async function cli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = startCli(args, opts.env);
  r.proc.stdin!.end(opts.input ?? '');
  const timer = setTimeout(() => r.proc.kill('SIGKILL'), 30_000);
  const e = await r.exited;
  clearTimeout(timer);
  return { code: e.code, stdout: e.stdout, stderr: e.stderr };
}

/** Runs test/fixtures/<name>.ts in a child Node process (through tsx). */
export function runFixture(name: string, args: string[]): Running {
  return runTs(join(here, 'fixtures', `${name}.ts`), args, cliEnv);
}
