// gc and rm.
import { join } from 'node:path';

import { checkChannelName, inspectChannel, MmbusError, unlinkChannel } from '@mmbus/core';

import { CliError, describeError, EXIT_USAGE, explainOpenError, type DirOption } from '../common.js';
import { channelRef, openInspector } from './open.js';

export function gcCommand(channel: string, opts: DirOption): number {
  const ref = channelRef(channel, opts);
  const ins = openInspector(ref, { write: true }); // gc writes: the one tool command that does
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
  try {
    checkChannelName(ref.name); // never a path: nothing outside the directory is ever removed
  } catch (err) {
    throw new CliError(`'${ref.name}' is not a channel name: ${describeError(err)}`, EXIT_USAGE);
  }
  const file = join(ref.dir, `${ref.name}.db`);
  let ins;
  try {
    ins = inspectChannel(ref.name, ref.dir);
  } catch (err) {
    if (err instanceof MmbusError && err.code === 'MMBUS_E_NOENT') throw new CliError(`no channel '${ref.name}' in ${ref.dir}: nothing removed`);
    if (!opts.force) {
      throw new CliError(`channel '${ref.name}' cannot be opened (${explainOpenError(err)}); use --force to remove the file anyway`);
    }
  }
  if (ins) {
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
  }
  try {
    unlinkChannel(ref.name, ref.dir);
  } catch (err) {
    if (err instanceof MmbusError && err.code === 'MMBUS_E_NOENT') throw new CliError(`no channel '${ref.name}' in ${ref.dir}: nothing removed`);
    throw new CliError(`removing ${file}: ${describeError(err)}`);
  }
  process.stdout.write(`removed ${ins ? `channel '${ref.name}'` : 'an unreadable channel file'} (${file})\n`);
  return 0;
}
