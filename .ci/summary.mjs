// Sums test counts from ctest output (test.log) and vitest JSON reports: the line CI reads,
// `N passed, N failed`, after one `failed: ...` line per failed test (what a log's tail must name).
// scripts/test.mjs (npm test) prints them; run alone: node .ci/summary.mjs DIR.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The first line of a failure message, short enough for a log's tail. */
const firstLine = (message) => String(message ?? '').trim().split('\n')[0].slice(0, 300);

/**
 * Tests passed and failed according to DIR/test.log (ctest) and DIR/*.json (vitest), and a line
 * naming each failed test (project, file, test, the first line of its error).
 */
export function countTests(dir) {
  let passed = 0;
  let failed = 0;
  const failures = [];
  const log = readFileSync(join(dir, 'test.log'), 'utf8');
  // ctest names them after "The following tests FAILED:", one a line: "<project>:   12 - t_name (Failed)"
  let inFailedList = false;
  for (const line of log.split('\n')) {
    const m = inFailedList && /^(\S+:)?\s+\d+ - (\S+) \(([^)]+)\)\s*$/.exec(line);
    if (m) failures.push(`${m[1] ?? ''} ${m[2]}: ${m[3]}`.trim());
    inFailedList = Boolean(m) || /The following tests FAILED:\s*$/.test(line);
  }
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
    const project = f.replace(/\.json$/, '');
    for (const file of r.testResults ?? []) {
      const where = `${project}: ${relative(process.cwd(), file.name ?? '?')}`;
      const failedTests = (file.assertionResults ?? []).filter((a) => a.status === 'failed');
      for (const a of failedTests) failures.push(`${where} > ${a.fullName ?? a.title}: ${firstLine(a.failureMessages?.[0])}`);
      if (file.status === 'failed' && failedTests.length === 0) {
        failed++;
        failures.push(`${where} did not load: ${firstLine(file.message)}`);
      }
    }
  }
  return { passed, failed, failures };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { passed, failed, failures } = countTests(process.argv[2] ?? '.ci/out');
  for (const line of failures) console.log(`failed: ${line}`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}
