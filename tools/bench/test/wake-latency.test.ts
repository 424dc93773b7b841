// `npm run bench:wake` end to end on a few samples: both systems measured, every stamp accounted for,
// the publishers gone. Not timed: the figures are the benchmark's, this checks that it runs.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

describe('bench:wake', () => {
  it('measures the mmbus subscriber and the Unix socket side by side, run after run', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, '../src/wake-latency.ts'), '--samples', '5', '--runs', '2'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.filter((l) => /^run [12]\/2 mmbus TS subscriber: p50 \d+ us, p99 \d+ us$/.test(l))).toHaveLength(2);
    expect(lines.filter((l) => /^run [12]\/2 Unix socket \(node:net\): p50 \d+ us, p99 \d+ us$/.test(l))).toHaveLength(2);
    expect(r.stdout).toMatch(/mmbus TS subscriber +\d+ us \(\d+–\d+; goal ≤ 20 us\)/);
    expect(r.stdout).toMatch(/Unix socket \(node:net\) +\d+ us \(\d+–\d+\)/);
  });

  it('refuses a sample count that is not a positive integer', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, '../src/wake-latency.ts'), '--samples', '0'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('--samples and --runs take positive integers');
  });
});
