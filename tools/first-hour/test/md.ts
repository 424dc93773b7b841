// Fenced code blocks of the repository's Markdown files, with the marks their info strings carry
// (```ts run, ```sh demo, ```c no-run ...: docs/README of tools/first-hour).
import { readFileSync } from 'node:fs';

import { repoPath } from './helpers.js';

export interface CodeBlock {
  /** Repository-relative path of the Markdown file. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  marks: string[];
  code: string;
}

export function codeBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(repoPath(file), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [lang = '', ...marks] = open[3]!.trim().split(/\s+/).filter(Boolean);
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trimStart().startsWith(open[2]!)) body.push(lines[j++]!.slice(open[1]!.length));
    blocks.push({ file, line: i + 1, lang, marks, code: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** The commands of a shell block: one per line, comments and blank lines left out. */
export function shellCommands(code: string): string[] {
  return code
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean);
}
