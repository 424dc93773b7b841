// Shared vitest settings: every package's vitest.config.ts calls this, so CI can collect one JSON
// report per project (MMBUS_REPORT_DIR, set by .ci/run) and print a single "N passed, N failed" line.
import { resolve } from 'node:path';
import type { ViteUserConfig } from 'vitest/config';

export function mmbusVitestConfig(project: string, overrides: ViteUserConfig['test'] = {}): ViteUserConfig {
  const reportDir = process.env['MMBUS_REPORT_DIR'];
  return {
    test: {
      testTimeout: 120_000,
      hookTimeout: 60_000,
      reporters: reportDir
        ? ['default', ['json', { outputFile: resolve(reportDir, `${project}.json`) }]]
        : ['default'],
      ...overrides,
    },
  };
}
