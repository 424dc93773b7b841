import { checkRecordLayout, recordLayoutFingerprint, type RecordLayout } from '@mmbus/runtime';

import { badFile, check, closedError, nativeError } from './errors.js';
import { native, type ChannelHandle, type NativeInfo, type NativeStats } from './native.js';

export type Policy = 'block' | 'reject' | 'overwrite';
export const POLICY_CODES: Record<Policy, number> = { block: 1, reject: 2, overwrite: 3 };
const POLICY_NAMES = ['unset', 'block', 'reject', 'overwrite'] as const;

export interface ChannelInfo {
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
  unblockTimeoutMs: number;
  /** Opened for inspection: nothing is ever written through this handle. */
  readonly: boolean;
  maxSubscribers: number;
  maxPublishers: number;
  fileSize: number;
  createdAt: Date;
  /** Keyed channels: the number of keys; 0 when not keyed. */
  keyCount: number;
  /** Keyed channels: the key field's byte offset in a record and its size in bytes (1, 2, 4 or 8); 0 when not keyed. */
  keyOffset: number;
  keySize: number;
  /** @internal where the key table starts in the file */
  keysOffset: number;
}

/** Counters as numbers (exact below 2^53), or as bigints (`ExactChannelStats`, for tools). */
export type ChannelStats = NativeStats;
export type ExactChannelStats = NativeStats<bigint>;

/** What every open channel handle offers, typed or not: its header, counters and housekeeping. */
export abstract class ChannelBase {
  readonly info: ChannelInfo;
  /** @internal */
  handle: ChannelHandle | null;

  protected constructor(name: string, dir: string, handle: ChannelHandle, i: NativeInfo) {
    this.handle = handle;
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
      unblockTimeoutMs: i.unblockTimeoutMs,
      readonly: i.readonly,
      maxSubscribers: i.maxSubscribers,
      maxPublishers: i.maxPublishers,
      fileSize: i.fileSize,
      createdAt: new Date(Number(i.createdNs / 1000000n)),
      keyCount: i.keyCount,
      keyOffset: i.keyOffset,
      keySize: i.keySize,
      keysOffset: i.keysOffset,
    };
  }

  private layoutRead: { layout: RecordLayout | undefined } | undefined;

  /**
   * The layout of the channel's records as the file describes it (self-describing channels: written
   * by the creator from its message type, docs/format.md §13), or undefined for a file without one.
   * Checked: well-formed, and of the schema name, record size and fingerprint in the header
   * (MMBUS_E_BADFILE otherwise).
   */
  get layout(): RecordLayout | undefined {
    if (this.layoutRead) return this.layoutRead.layout;
    const text = native.layout(this.liveHandle());
    if (typeof text === 'number') throw nativeError(text, `reading the record layout of '${this.info.name}'`);
    let layout: RecordLayout | undefined;
    if (text !== '') {
      const bad = (why: string): Error => badFile(`'${this.info.name}' has a record layout description that ${why}`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw bad('is not JSON');
      }
      try {
        layout = checkRecordLayout(parsed);
      } catch (e) {
        throw bad(`is malformed (${(e as Error).message})`);
      }
      const i = this.info;
      if (layout.name !== i.schemaName || layout.size !== i.recordSize) {
        throw bad(`is of ${layout.name} (${layout.size} bytes), not of the header's ${i.schemaName} (${i.recordSize} bytes)`);
      }
      if (i.fingerprint !== 0n && recordLayoutFingerprint(layout) !== i.fingerprint) throw bad('does not have the fingerprint of the header');
    }
    this.layoutRead = { layout };
    return layout;
  }

  get name(): string {
    return this.info.name;
  }

  get closed(): boolean {
    return this.handle === null;
  }

  /** @internal */
  liveHandle(): ChannelHandle {
    if (this.handle === null) throw closedError(`channel '${this.info.name}'`);
    return this.handle;
  }

  /** Records claimed so far: the next record gets this sequence number. */
  head(): number {
    return native.head(this.liveHandle());
  }

  /** Channel counters and every subscriber's cursor, lag, lost, state and heartbeat age. */
  stats(): ChannelStats {
    const s = native.stats(this.liveHandle());
    if (typeof s === 'number') throw nativeError(s, `stats of '${this.info.name}'`);
    return s;
  }

  /** stats() with the 64-bit counters (head, cursors, lag, lost) as exact bigints. */
  statsExact(): ExactChannelStats {
    const s = native.stats(this.liveHandle(), true);
    if (typeof s === 'number') throw nativeError(s, `stats of '${this.info.name}'`);
    return s;
  }

  /** head() as an exact bigint. */
  headExact(): bigint {
    return native.head(this.liveHandle(), true);
  }

  /** Reclaims the slots of dead processes now; returns how many. */
  gc(): number {
    return check(native.gc(this.liveHandle()), `gc of '${this.info.name}'`);
  }

  /**
   * Throws MMBUS_E_STALE when the channel's file was removed or replaced since it was opened (this
   * handle then maps a file no new process sees), MMBUS_E_CORRUPT when it was truncated under the
   * mapping. Waits and heartbeats make this check about once a second on their own.
   */
  check(): void {
    check(native.check(this.liveHandle()), `checking '${this.info.name}'`);
  }

  /** Makes the channel durable on disk (msync): survives power loss, not only process crashes. */
  flush(): void {
    check(native.flush(this.liveHandle()), `flushing '${this.info.name}'`);
  }

  /** Unmaps the channel. */
  close(): void {
    if (this.handle === null) return;
    check(native.close(this.handle), `closing '${this.info.name}'`);
    this.handle = null;
  }
}
