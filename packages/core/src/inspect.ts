import { ChannelBase } from './base.js';
import { cString, integerOption } from './channel.js';
import { invalid, nativeError } from './errors.js';
import { native } from './native.js';

/** Keys whose latest values keysWithValue() reads per native call. */
const KEY_CHUNK = 1024;

/**
 * Opens an existing channel of any schema for tools (the `mmbus` command), read-only: its header,
 * stats, and records read by sequence number without joining as a subscriber, so it never holds a
 * publisher back and never writes to the file (a user with read permission only can inspect).
 * Opening validates the whole header like any open; a corrupt or foreign file throws MmbusError.
 */
export function inspectChannel(name: string, dir: string, options: { write?: boolean } = {}): ChannelInspector {
  return new ChannelInspector(name, dir, options);
}

export class ChannelInspector extends ChannelBase {
  /** `write: true` only for housekeeping that writes (gc): the file is opened read-write then. */
  constructor(name: string, dir: string, options: { write?: boolean } = {}) {
    const opened = native.open(cString(dir, 'the directory', 'MMBUS_E_DIR'), cString(name, 'the channel name', 'MMBUS_E_NAME'), {
      readonly: !options.write,
    });
    if (typeof opened === 'number') throw nativeError(opened, `opening channel '${name}' in ${dir}`);
    super(name, dir, opened.handle, opened.info);
  }

  /**
   * Checks what readers rely on in the file's mutable part: every stamp a lap of its own slot at or
   * below head, cursors at or below head, announced claims plausible, head not far beyond the newest
   * record. `problems` is 0 for a healthy channel; `first` describes the first problem found.
   */
  verify(): { problems: number; first: string } {
    const r = native.verify(this.liveHandle());
    if (typeof r === 'number') throw nativeError(r, `verifying '${this.info.name}'`);
    return r;
  }

  /**
   * Keyed channels: how many keys have a latest value (a record of theirs was published); 0 for a
   * channel that is not keyed. Reads every key's latest value (a copy, a thousand keys per native call).
   */
  keysWithValue(): number {
    const count = this.info.keyCount;
    if (count === 0) return 0;
    const chunk = Math.min(KEY_CHUNK, count);
    const stride = Math.ceil(this.info.recordSize / 8) * 8; // as the records are laid out in the file
    const keys = new Uint32Array(chunk);
    const seqs = new Float64Array(chunk);
    const bytes = new Uint8Array(chunk * stride);
    let found = 0;
    for (let k = 0; k < count; k += chunk) {
      const m = Math.min(chunk, count - k);
      for (let j = 0; j < m; j++) keys[j] = k + j;
      const n = native.latest(this.liveHandle(), keys.subarray(0, m), bytes, seqs);
      if (n < 0) throw nativeError(n, `reading the latest values of '${this.info.name}'`);
      found += n;
    }
    return found;
  }

  /** A copy of record `seq`, or null if it is not committed yet, was given up, or was overwritten. */
  read(seq: number | bigint, out: Uint8Array = new Uint8Array(this.info.recordSize)): Uint8Array | null {
    if (typeof seq === 'bigint' ? seq < 0n || seq >= 2n ** 64n : integerOption(seq, 'seq', 0, Number.MAX_SAFE_INTEGER) === undefined) {
      throw invalid(`sequence number ${String(seq)} is out of range`);
    }
    const rc = native.read(this.liveHandle(), seq, out);
    if (rc === 0) return out;
    const err = nativeError(rc, `reading record ${seq} of '${this.info.name}'`);
    if (err.code === 'MMBUS_E_NOENT') return null;
    throw err;
  }
}
