// mmbus-codegen <schemas...> --ts <dir> --c <dir> [--check]
import { Command } from 'commander';
import { SchemaError } from '@mmbus/runtime/schema';
import { generate, staleFiles, writeFiles } from './generate.js';
import { loadSchemas } from './rules.js';

interface Options {
  ts?: string;
  c?: string;
  check?: boolean;
}

export function main(argv: readonly string[]): number {
  const program = new Command()
    .name('mmbus-codegen')
    .description('Generate TypeScript flyweights and C headers with identical layouts from FlatBuffers struct schemas')
    .argument('<schemas...>', 'schema files (.fbs); included schemas are generated too')
    .option('--ts <dir>', 'write TypeScript modules (and index.ts) to <dir>')
    .option('--c <dir>', 'write C headers to <dir>')
    .option('--check', 'write nothing; exit 1 listing the files that differ from what would be generated')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    return typeof code === 'number' ? code : 2;
  }
  const opts = program.opts<Options>();
  if (opts.ts === undefined && opts.c === undefined) {
    process.stderr.write('mmbus-codegen: nothing to do; give --ts <dir> and/or --c <dir>\n');
    return 2;
  }
  let files: Map<string, string>;
  try {
    files = generate(loadSchemas(program.args), { ts: opts.ts, c: opts.c });
  } catch (e) {
    if (e instanceof SchemaError) {
      process.stderr.write(e.message + '\n');
      process.stderr.write(`mmbus-codegen: ${e.diagnostics.length} error(s); nothing was written\n`);
      return 1;
    }
    throw e;
  }
  if (opts.check) {
    const stale = staleFiles(files);
    if (stale.length > 0) {
      process.stderr.write(`mmbus-codegen: ${stale.length} generated file(s) are stale; regenerate them:\n`);
      for (const f of stale) process.stderr.write(`  ${f}\n`);
      return 1;
    }
    process.stdout.write(`mmbus-codegen: ${files.size} file(s) up to date\n`);
    return 0;
  }
  const changed = writeFiles(files);
  process.stdout.write(`mmbus-codegen: ${files.size} file(s), ${changed.length} written\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
