// gc and rm.
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import { inspectChannel, MmbusError, unlinkChannel } from '@mmbus/core';

import { channelRef, CliError, describeError, explainOpenError, type DirOption } from '../common.ts';
import { openInspector } from './open.ts';

export function gcCommand(channel: string, opts: DirOption): number {
  const ref = channelRef(channel, opts);
  const ins = openInspector(ref);
  try {
    const n = ins.gc();
    process.stdout.write(`reclaimed ${n} slot${n === 1 ? '' : 's'} of dead processes on '${ref.name}'\n`);
    return 0;
  } finally {
    ins.close();
  }
}

export function rmCommand(channel: string, opts: DirOption & { force?: boolean }): number {
  const ref = channelRef(channel, opts);
  let ins;
  try {
    ins = inspectChannel(ref.name, ref.dir);
  } catch (err) {
    if (err instanceof MmbusError && err.code === 'MMBUS_E_NOENT') throw new CliError(`no channel '${ref.name}' in ${ref.dir}`);
    if (!opts.force) {
      throw new CliError(`channel '${ref.name}' cannot be opened (${explainOpenError(err)}); use --force to remove the file anyway`);
    }
    rmSync(join(ref.dir, `${ref.name}.db`), { force: true });
    process.stdout.write(`removed ${join(ref.dir, `${ref.name}.db`)} (not a valid channel file)\n`);
    return 0;
  }
  try {
    const s = ins.stats();
    const live = s.publishersAlive + s.subscribersActive;
    if (live > 0 && !opts.force) {
      const pids = [...new Set(s.subscribers.filter((x) => x.state === 'active').map((x) => x.pid))];
      throw new CliError(
        `channel '${ref.name}' is in use by ${s.publishersAlive} publisher(s) and ${s.subscribersActive} subscriber(s)` +
          `${pids.length ? ` (subscriber pids ${pids.join(', ')})` : ''}; stop them first or use --force`,
      );
    }
  } finally {
    ins.close();
  }
  try {
    unlinkChannel(ref.name, ref.dir);
  } catch (err) {
    throw new CliError(`removing channel '${ref.name}': ${describeError(err)}`);
  }
  process.stdout.write(`removed channel '${ref.name}' (${join(ref.dir, `${ref.name}.db`)})\n`);
  return 0;
}
