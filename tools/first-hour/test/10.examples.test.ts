// Every code example of the READMEs and docs/*.md runs as written: each TypeScript, JavaScript, C or C++
// block is marked `run` (executed here, in a fresh channel directory, and when a ```text output block
// follows it, it must print exactly that), `demo` (the README walkthrough: 20.demo), `out-of-tree`
// (compiled and run in an app outside the repository by tools/out-of-tree), or `no-run` (a fragment).
// The run blocks also type-check under the repository's strict compiler options.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { MMBUS_ERROR_CODES } from '@mmbus/runtime';
import { childEnv } from '@mmbus/test-kit';

import { REPO, repoPath } from './helpers.js';
import { codeBlocks, type CodeBlock } from './md.js';

/** The Markdown files a user reads: the READMEs and docs/. */
const FILES = [
  'README.md',
  ...readdirSync(repoPath('docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...['packages', 'tools'].flatMap((top) =>
    readdirSync(repoPath(top), { withFileTypes: true })
      .filter((d) => d.isDirectory() && readdirSync(repoPath(top, d.name)).includes('README.md'))
      .map((d) => `${top}/${d.name}/README.md`),
  ),
  'examples-cpp/README.md',
];
const CODE_LANGS = new Set(['ts', 'typescript', 'js', 'javascript', 'c', 'cpp', 'c++']);
const MARKS = ['run', 'demo', 'out-of-tree', 'no-run'];

const blocks = FILES.flatMap((f) => codeBlocks(f));
const where = (b: CodeBlock): string => `${b.file}:${b.line}`;
/** The ```text output block right after b, if any: what b prints. */
function outputOf(b: CodeBlock): string | undefined {
  const next = blocks[blocks.indexOf(b) + 1];
  return next && next.file === b.file && next.lang === 'text' && next.marks.includes('output') ? next.code : undefined;
}
const runnable = blocks.filter((b) => b.marks.includes('run'));

// Inside the repository, so that the examples' imports (@mmbus/core ...) resolve as in an app.
const scratch = mkdtempSync(join(REPO, 'tools', 'first-hour', '.examples-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const fileOf = (b: CodeBlock): string => join(scratch, `${b.file.replace(/\W+/g, '_')}_${b.line}.${b.lang.startsWith('j') ? 'mjs' : 'ts'}`);
for (const b of runnable) writeFileSync(fileOf(b), `${b.code}\n`);

describe('code examples of the READMEs and docs', () => {
  it('every code block says whether it runs (run, demo, out-of-tree) or is a fragment (no-run)', () => {
    const code = blocks.filter((b) => CODE_LANGS.has(b.lang));
    const unmarked = code.filter((b) => !b.marks.some((m) => MARKS.includes(m))).map(where);
    expect(unmarked).toEqual([]);
    expect(FILES).toContain('docs/api.md');
    expect(runnable.length).toBeGreaterThanOrEqual(6);
    for (const f of ['README.md', 'docs/api.md', 'packages/core/README.md']) expect(runnable.map((b) => b.file)).toContain(f);
  });

  for (const b of runnable) {
    it(`${where(b)} runs as written${outputOf(b) === undefined ? '' : ' and prints what the text shows'}`, () => {
      const channels = mkdtempSync(join(scratch, 'channels-'));
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileOf(b)], {
        cwd: REPO,
        encoding: 'utf8',
        env: childEnv({ MMBUS_DIR: channels, NO_COLOR: '1' }),
        timeout: 60_000,
      });
      expect({ status: r.status, signal: r.signal, stderr: r.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
      const expected = outputOf(b);
      if (expected !== undefined) expect(r.stdout.trimEnd()).toBe(expected.trimEnd());
    });
  }

  it('the examples that run type-check as the repository compiles its own code (tsc, strict flags)', () => {
    const dir = join(scratch, 'tsc');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const files = runnable.filter((b) => !b.lang.startsWith('j')).map(fileOf);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: repoPath('tsconfig.base.json'), compilerOptions: { noEmit: true, allowImportingTsExtensions: true }, files }),
    );
    const r = spawnSync(process.execPath, [repoPath('node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it("docs/api.md says when each error code is thrown: every code of MMBUS_ERROR_CODES, once", () => {
    const text = readFileSync(repoPath('docs', 'api.md'), 'utf8');
    const rows = [...text.matchAll(/^\| `(MMBUS_E_[A-Z]+)` \| (.+) \|$/gm)].map((m) => m[1]);
    expect([...rows].sort()).toEqual([...MMBUS_ERROR_CODES].sort());
  });
});
