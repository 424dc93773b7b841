// npm test (scripts/test.mjs) ends with one line "N passed, N failed" over every project it ran, the
// line CI prints: no colour escapes in a pipe, none of Nx's closing performance report or its links.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect, it } from 'vitest';

import { childEnv, useScratchDir } from '@mmbus/test-kit';

import { repoPath } from './helpers.js';

let dir = '';
useScratchDir((d) => (dir = d));

it('sums ctest counts from the log and vitest reports, a file that failed to load counting as a failure, and names each failure', () => {
  writeFileSync(
    join(dir, 'test.log'),
    [
      'native: 100% tests passed, 0 tests failed out of 31',
      'native: 75% tests passed, 1 tests failed out of 4',
      'native: The following tests FAILED:',
      'native: \t  3 - t_open_errors (Failed)',
      'native: Errors while running CTest',
      'core:   7 - not a ctest line (x)',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'a.json'),
    JSON.stringify({
      numPassedTests: 5,
      numFailedTests: 1,
      testResults: [
        {
          name: join(dir, 'one.test.ts'),
          status: 'failed',
          assertionResults: [{ status: 'passed' }, { status: 'failed', fullName: 'group > the test', failureMessages: ['Error: boom\n  at stack'] }],
        },
        { name: join(dir, 'two.test.ts'), status: 'failed', message: 'Cannot find module x\nmore', assertionResults: [] },
      ],
    }),
  );
  const r = spawnSync(process.execPath, [repoPath('.ci', 'summary.mjs'), dir], { cwd: dir, encoding: 'utf8' });
  expect(r.stdout).toBe(
    [
      'failed: native: t_open_errors: Failed',
      'failed: a: one.test.ts > group > the test: Error: boom',
      'failed: a: two.test.ts did not load: Cannot find module x',
      '39 passed, 3 failed',
      '',
    ].join('\n'),
  );
  expect(r.status).toBe(1);
});

it('npm test ends with "N passed, 0 failed" for the projects it ran, nothing of Nx after it, no escapes', () => {
  // one small project, its build left out (the outer run has built it; rebuilding would race other tests)
  const r = spawnSync(process.execPath, [repoPath('scripts', 'test.mjs'), '-p', 'runtime', '--excludeTaskDependencies'], {
    cwd: repoPath(),
    encoding: 'utf8',
    env: childEnv({ MMBUS_REPORT_DIR: dir, NO_COLOR: undefined, FORCE_COLOR: undefined }),
    timeout: 300_000,
  });
  const out = r.stdout + r.stderr;
  expect(r.status, out).toBe(0);
  const report = JSON.parse(readFileSync(join(dir, 'runtime.json'), 'utf8')) as { numPassedTests: number };
  expect(report.numPassedTests).toBeGreaterThan(0);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines.at(-1)).toBe(`${report.numPassedTests} passed, 0 failed`);
  expect(out).not.toMatch(/\x1b\[/);
  expect(out).not.toMatch(/nx\.dev|nx\.app|Run duration|Recommendation/);
  // the log keeps everything, for CI to look at
  expect(readFileSync(join(dir, 'test.log'), 'utf8')).toContain('runtime:test');
});
