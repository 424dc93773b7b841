// Test helpers: C++ programs from build/ and TS programs from ts/ run as child processes (tracked by
// @mmbus/test-kit: killChildren() in afterEach leaves none behind).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { lastJson, runTs as runTsFile, spawnChild, type Child } from '@mmbus/test-kit';

export { batchLogCoverage, describeChild, expectedChecksum, killableMidStream, killChildren, lastJson, useScratchDir, within, type Child, type Exit } from '@mmbus/test-kit';

const here = dirname(fileURLToPath(import.meta.url));
export const buildDir = resolve(here, '..', 'build');
export const tsDir = resolve(here, '..', 'ts');

export { tempDir } from '@mmbus/test-kit';

/** Runs a C++ program of build/ (collector-host, person-publisher, person-subscriber). */
export function runCpp(name: string, args: string[]): Child {
  const path = join(buildDir, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: build examples-cpp first (npx nx run examples-cpp:build)`);
  return spawnChild(path, args);
}

/** Runs ts/<name>.ts in a child Node process through tsx. */
export function runTs(name: string, args: string[]): Child {
  return runTsFile(join(tsDir, `${name}.ts`), args);
}

/** Waits for a child to exit 0 and returns its last JSON line. */
export async function resultOf<T>(child: Child): Promise<T> {
  const e = await child.exited;
  if (e.code !== 0) throw new Error(`child exited with ${e.code ?? e.signal}: ${e.stderr}`);
  return lastJson<T>(e.stdout);
}
