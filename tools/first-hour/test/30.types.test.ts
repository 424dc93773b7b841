// A newcomer's type errors say what is wrong: a record of one message type where another is expected
// names both types (it named a private member, '#_mmbusLast', before).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { REPO, repoPath } from './helpers.js';

const scratch = mkdtempSync(join(REPO, 'tools', 'first-hour', '.examples-types-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it('publishing a Person on a channel of PointUpdate: the type error names both message types', () => {
  writeFileSync(join(scratch, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(scratch, 'app.ts'),
    [
      "import { openChannel } from '@mmbus/core';",
      "import { Person, PointUpdate } from '@mmbus/messages';",
      "const ch = openChannel('points', PointUpdate);",
      'ch.publish({ pointId: 1 });',
      'ch.publish((r) => { r.pointId = 2; });',
      'ch.publish(new PointUpdate());',
      'ch.publish(new Person());',
      'void ch.publishAsync(new Person());',
      '',
    ].join('\n'),
  );
  writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({ extends: repoPath('tsconfig.base.json'), compilerOptions: { noEmit: true }, files: ['app.ts'] }));
  const r = spawnSync(process.execPath, [repoPath('node_modules', 'typescript', 'bin', 'tsc'), '-p', join(scratch, 'tsconfig.json')], { cwd: scratch, encoding: 'utf8', timeout: 120_000 });
  const errors = r.stdout.split('\n').filter((l) => /^app\.ts\(\d+,\d+\): error/.test(l));
  // only the two wrong calls fail, each with a message naming both types
  expect(errors.map((l) => /^app\.ts\((\d+),/.exec(l)?.[1])).toEqual(['7', '8']);
  expect(r.stdout.match(/a mmbus\.Person record cannot be published on a channel of mmbus\.PointUpdate/g)?.length).toBeGreaterThanOrEqual(2);
});
