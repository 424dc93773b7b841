// Sums test counts from ctest output (test.log) and vitest JSON reports: the line CI reads,
// `N passed, N failed`. scripts/test.mjs (npm test) prints it; run alone: node .ci/summary.mjs DIR.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Tests passed and failed according to DIR/test.log (ctest) and DIR/*.json (vitest). */
export function countTests(dir) {
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
  return { passed, failed };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { passed, failed } = countTests(process.argv[2] ?? '.ci/out');
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}
