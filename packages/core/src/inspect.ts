import { POLICY_NAMES, type ChannelStats, type Policy } from './channel.js';
import { check, closedError, nativeError } from './errors.js';
import { native, type ChannelHandle } from './native.js';

export interface InspectedInfo {
  name: string;
  dir: string;
  formatVersion: number;
  schemaName: string;
  fingerprint: bigint;
  recordSize: number;
  capacity: number;
  policy: Policy;
  blockTimeoutMs: number;
  heartbeatTimeoutMs: number;
  maxSubscribers: number;
  maxPublishers: number;
  fileSize: number;
  createdAt: Date;
}

/**
 * Opens an existing channel of any schema for tools (the `mmbus` command): its header, stats, and
 * records read by sequence number without joining as a subscriber, so it never holds a publisher back.
 * Opening validates the whole header like any open; a corrupt or foreign file throws MmbusError.
 */
export function inspectChannel(name: string, dir: string): ChannelInspector {
  return new ChannelInspector(name, dir);
}

export class ChannelInspector {
  readonly info: InspectedInfo;
  private handle: ChannelHandle | null;

  constructor(name: string, dir: string) {
    const opened = native.open(dir, name, {});
    if (typeof opened === 'number') throw nativeError(opened, `opening channel '${name}' in ${dir}`);
    this.handle = opened.handle;
    const i = opened.info;
    this.info = {
      name,
      dir,
      formatVersion: i.formatVersion,
      schemaName: i.schemaName,
      fingerprint: i.fingerprint,
      recordSize: i.recordSize,
      capacity: i.capacity,
      policy: POLICY_NAMES[i.policy] as Policy,
      blockTimeoutMs: i.blockTimeoutMs,
      heartbeatTimeoutMs: i.heartbeatTimeoutMs,
      maxSubscribers: i.maxSubscribers,
      maxPublishers: i.maxPublishers,
      fileSize: i.fileSize,
      createdAt: new Date(Number(i.createdNs / 1000000n)),
    };
  }

  private live(): ChannelHandle {
    if (this.handle === null) throw closedError(`channel '${this.info.name}'`);
    return this.handle;
  }

  /** Records claimed so far: the next record gets this sequence number. */
  head(): number {
    return native.head(this.live());
  }

  /** A copy of record `seq`, or null if it is not committed yet, was given up, or was overwritten. */
  read(seq: number, out: Uint8Array = new Uint8Array(this.info.recordSize)): Uint8Array | null {
    const rc = native.read(this.live(), seq, out);
    if (rc === 0) return out;
    const err = nativeError(rc, `reading record ${seq} of '${this.info.name}'`);
    if (err.code === 'MMBUS_E_NOENT') return null;
    throw err;
  }

  stats(): ChannelStats {
    const s = native.stats(this.live());
    if (typeof s === 'number') throw nativeError(s, `stats of '${this.info.name}'`);
    return s;
  }

  /** Reclaims the slots of dead processes now; returns how many. */
  gc(): number {
    return check(native.gc(this.live()), `gc of '${this.info.name}'`);
  }

  close(): void {
    if (this.handle === null) return;
    check(native.close(this.handle), `closing '${this.info.name}'`);
    this.handle = null;
  }
}
