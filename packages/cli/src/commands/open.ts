// Where channels are: the channel directory and channel arguments; opening them for inspection.
import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

import { defaultDir, inspectChannel, MmbusError, type ChannelInspector } from '@mmbus/core';

import { CliError, explainOpenError, type DirOption } from '../common.js';

/** --dir, else $MMBUS_DIR, else core's default (<tmpdir>/mmbus). */
export function channelDir(opts: DirOption, positional?: string): string {
  return resolve(positional ?? opts.dir ?? defaultDir());
}

/** A channel given by name (in the directory) or as a path to its `.db` file. */
export function channelRef(arg: string, opts: DirOption): { name: string; dir: string } {
  if (arg.endsWith('.db') && (arg.includes('/') || existsSync(arg))) {
    return { name: basename(arg).slice(0, -3), dir: resolve(dirname(arg)) };
  }
  return { name: arg, dir: channelDir(opts) };
}

/** Opens a channel read-only (or, for gc, read-write), turning open failures into one clear line. */
export function openInspector(ref: { name: string; dir: string }, options: { write?: boolean } = {}): ChannelInspector {
  try {
    return inspectChannel(ref.name, ref.dir, options);
  } catch (err) {
    if (err instanceof MmbusError && err.code === 'MMBUS_E_NOENT') {
      throw new CliError(`no channel '${ref.name}' in ${ref.dir} [${err.code}]`);
    }
    throw new CliError(`channel '${ref.name}' in ${ref.dir}: ${explainOpenError(err)}`);
  }
}
