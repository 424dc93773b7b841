// Generation in memory, then an all-or-nothing write (each file via temp + rename), or a staleness check.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cHeaderName, emitCCommon, emitCHeader } from './emit-c.js';
import { emitTsIndex, emitTsModule, emitTsRuntime, tsModuleName } from './emit-ts.js';
import type { Model } from '@mmbus/runtime/schema';
import { C_COMMON_HEADER, TS_RUNTIME_MODULE } from './names.js';

export interface OutputDirs {
  ts?: string | undefined;
  c?: string | undefined;
}

/** Every output file, path -> content, sorted by path. Throws before anything is written. */
export function generate(model: Model, dirs: OutputDirs): Map<string, string> {
  const out = new Map<string, string>();
  if (dirs.ts !== undefined) {
    for (const s of model.schemas) out.set(join(dirs.ts, tsModuleName(s)), emitTsModule(s));
    out.set(join(dirs.ts, 'index.ts'), emitTsIndex(model.schemas));
    out.set(join(dirs.ts, TS_RUNTIME_MODULE), emitTsRuntime());
  }
  if (dirs.c !== undefined) {
    for (const s of model.schemas) out.set(join(dirs.c, cHeaderName(s)), emitCHeader(s));
    out.set(join(dirs.c, C_COMMON_HEADER), emitCCommon());
  }
  return new Map([...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Files whose content on disk differs from `files` (missing files included). */
export function staleFiles(files: Map<string, string>): string[] {
  const stale: string[] = [];
  for (const [path, content] of files) {
    if (!existsSync(path) || readFileSync(path, 'utf8') !== content) stale.push(path);
  }
  return stale;
}

/** Writes the files that changed, each through a temporary file renamed over the target. */
export function writeFiles(files: Map<string, string>): string[] {
  const changed = staleFiles(files);
  for (const path of changed) {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, files.get(path) as string);
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return changed;
}
