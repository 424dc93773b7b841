// Re-renders results/latest.md and latest.svg from results/latest.json (after a change to the writers),
// without measuring again:  npx tsx tools/bench/src/render.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { markdownReport, svgChart } from './report.ts';
import type { Results } from './results.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../results');
const results = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as Results;
writeFileSync(join(dir, 'latest.md'), markdownReport(results));
writeFileSync(join(dir, 'latest.svg'), svgChart(results));
