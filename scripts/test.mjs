#!/usr/bin/env node
// npm test: every project's test target through Nx (nx run-many -t test), then the one line CI reads,
// `N passed, N failed`, summed over all projects (.ci/summary.mjs: ctest's counts from the log and
// vitest's JSON reports). Nx's closing performance report (durations and a link to nx.dev) is left
// out; colours only on a terminal. Arguments go to Nx: `npm test -- -p core cli`.
//
// MMBUS_REPORT_DIR (.ci/run sets it) keeps the reports and the log (test.log) there; otherwise they go
// to a temporary directory that is removed at the end.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

import { countTests } from '../.ci/summary.mjs';

const root = resolve(import.meta.dirname, '..');
const keep = process.env.MMBUS_REPORT_DIR;
const reportDir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), 'mmbus-test-reports-'));
mkdirSync(reportDir, { recursive: true });
for (const f of readdirSync(reportDir)) if (f.endsWith('.json') || f === 'test.log') rmSync(join(reportDir, f));

const env = { ...process.env, MMBUS_REPORT_DIR: reportDir };
if (!process.stdout.isTTY) {
  // Nx passes FORCE_COLOR=true to every task unless it is set: 0 (Nx, Node) and NO_COLOR (vitest,
  // picocolors) keep escapes out of piped logs
  env.NO_COLOR = '1';
  env.FORCE_COLOR = '0';
}

const args = ['nx', 'run-many', '-t', 'test', '--outputStyle=stream', ...process.argv.slice(2)];
const nx = spawn('npx', args, { cwd: root, env, stdio: ['inherit', 'pipe', 'pipe'] });
const log = [];
/** Nx ends with a performance report (run duration, critical path, a recommendation and its link). */
const REPORT_START = /^\s*Run duration:\s/;
let inReport = false;
function relay(stream, out) {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  lines.on('line', (line) => {
    log.push(line);
    if (REPORT_START.test(line)) inReport = true;
    if (!inReport) out.write(`${line}\n`);
  });
  return new Promise((res) => lines.on('close', res));
}
const relayed = Promise.all([relay(nx.stdout, process.stdout), relay(nx.stderr, process.stderr)]);
const forward = (sig) => () => nx.kill(sig);
process.on('SIGINT', forward('SIGINT'));
process.on('SIGTERM', forward('SIGTERM'));
const status = await new Promise((res) => nx.on('exit', (code, signal) => res(code ?? (signal ? 128 : 1))));
await relayed;

writeFileSync(join(reportDir, 'test.log'), `${log.join('\n')}\n`);
let { passed, failed, failures } = countTests(reportDir);
// a task that failed without a test report (a build error, a crash before vitest wrote its report)
if (status !== 0 && failed === 0) failed = 1;
if (!keep) rmSync(reportDir, { recursive: true, force: true });
for (const line of failures) console.log(`failed: ${line}`); // the log's tail names what failed
console.log(`${passed} passed, ${failed} failed`);
process.exit(status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
