import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { runTs, type Child } from '@mmbus/test-kit';

export { batchLogCoverage, childEnv, expectedChecksum, killableMidStream, killChildren, lastJson, tempDir, useScratchDir, type Child } from '@mmbus/test-kit';

const here = dirname(fileURLToPath(import.meta.url));

/** Runs test/fixtures/<name>.ts in a child Node process (through tsx), under `prefix` if given. */
export function runFixture(name: string, args: string[], env: NodeJS.ProcessEnv = {}, prefix: string[] = []): Child {
  return runTs(join(here, 'fixtures', `${name}.ts`), args, env, prefix);
}
