#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (the package ships TypeScript source, like every mmbus package).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const tsxCli = join(dirname(require.resolve('tsx/package.json')), 'dist', 'cli.mjs');
const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.ts');
const r = spawnSync(process.execPath, [tsxCli, cli, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
