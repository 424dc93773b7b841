import { inspectChannel, MmbusError, type ChannelInspector } from '@mmbus/core';

import { CliError, explainOpenError } from '../common.ts';

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
