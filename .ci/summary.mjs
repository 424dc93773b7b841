// Sums test counts from ctest output (test.log) and vitest JSON reports, and prints the line CI reads.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.ci/out';
let passed = 0;
let failed = 0;
const log = readFileSync(join(dir, 'test.log'), 'utf8');
for (const m of log.matchAll(/(\d+)% tests passed, (\d+) tests? failed out of (\d+)/g)) {
  const total = Number(m[3]);
  const bad = Number(m[2]);
  passed += total - bad;
  failed += bad;
}
for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  // A test file that fails to load has no failed tests of its own: count it as one failure.
  for (const file of r.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((a) => a.status === 'failed').length;
    if (file.status === 'failed' && failedTests === 0) failed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
