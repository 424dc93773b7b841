import { ChannelBase } from './base.js';
import { nativeError } from './errors.js';
import { native } from './native.js';

/**
 * Opens an existing channel of any schema for tools (the `mmbus` command): its header, stats, and
 * records read by sequence number without joining as a subscriber, so it never holds a publisher back.
 * Opening validates the whole header like any open; a corrupt or foreign file throws MmbusError.
 */
export function inspectChannel(name: string, dir: string): ChannelInspector {
  return new ChannelInspector(name, dir);
}

export class ChannelInspector extends ChannelBase {
  constructor(name: string, dir: string) {
    const opened = native.open(dir, name, {});
    if (typeof opened === 'number') throw nativeError(opened, `opening channel '${name}' in ${dir}`);
    super(name, dir, opened.handle, opened.info);
  }

  /** A copy of record `seq`, or null if it is not committed yet, was given up, or was overwritten. */
  read(seq: number, out: Uint8Array = new Uint8Array(this.info.recordSize)): Uint8Array | null {
    const rc = native.read(this.liveHandle(), seq, out);
    if (rc === 0) return out;
    const err = nativeError(rc, `reading record ${seq} of '${this.info.name}'`);
    if (err.code === 'MMBUS_E_NOENT') return null;
    throw err;
  }
}
