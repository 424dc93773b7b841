// Loads the addon (prebuilt, or compiled by `npm install` through node-gyp) and types its functions.
import { loadAddon } from './load-addon.js';

export interface NativeInfo {
  formatVersion: number;
  recordSize: number;
  recordStride: number;
  capacity: number;
  policy: number;
  fingerprint: bigint;
  schemaName: string;
  createdNs: bigint;
  blockTimeoutMs: number;
  heartbeatTimeoutMs: number;
  unblockTimeoutMs: number;
  readonly: boolean;
  maxSubscribers: number;
  maxPublishers: number;
  fileSize: number;
  dataOffset: number;
  stampsOffset: number;
  /** Keyed channels: keys 0 .. keyCount-1, the key field, and where the key table starts; 0 when not keyed. */
  keyCount: number;
  keyOffset: number;
  keySize: number;
  keysOffset: number;
  /** Bytes per key in the key table, and where in an entry its buffers start (docs/format.md §11). */
  keyEntrySize: number;
  keyHeaderSize: number;
  /** Bytes of the record layout description the file carries (self-describing channels); 0 = none. */
  layoutSize: number;
}

export interface NativeOpenOptions {
  create?: boolean;
  exclusive?: boolean;
  readonly?: boolean;
  recordSize?: number;
  capacity?: number;
  schemaName?: string;
  fingerprint?: bigint;
  policy?: number;
  blockTimeoutMs?: number;
  heartbeatTimeoutMs?: number;
  unblockTimeoutMs?: number;
  lockTimeoutMs?: number;
  mode?: number;
  maxSubscribers?: number;
  maxPublishers?: number;
  keyCount?: number;
  keyOffset?: number;
  keySize?: number;
  /** On create: the record layout description the file is to carry (JSON of a RecordLayout). */
  layout?: string;
}

export interface NativeSubscriberStats<N = number> {
  slot: number;
  state: 'active' | 'offline' | 'dead';
  durable: boolean;
  name: string;
  pid: number;
  /** The owner lives in another PID namespace (a container): its pid means nothing here. */
  otherPidNamespace: boolean;
  cursor: N;
  lag: N;
  lost: N;
  heartbeatAgeMs: number;
}

export interface NativeStats<N = number> {
  head: N;
  capacity: number;
  publishersAlive: number;
  subscribersActive: number;
  subscribersOffline: number;
  subscribersDead: number;
  maxLag: N;
  /** Claims given up after the unblock time-out whose publisher has not resumed yet. */
  claimsRevoked: number;
  subscribers: NativeSubscriberStats<N>[];
}

declare const channelBrand: unique symbol;
declare const subBrand: unique symbol;
export type ChannelHandle = { readonly [channelBrand]: true };
export type SubHandle = { readonly [subBrand]: true };

/** Every function returns a negative MMBUS_E_* code on failure; errmsg() has the detail. */
export interface NativeBinding {
  /** buffer is null where external buffers are refused (Electron) or MMBUS_COPY_BUFFERS=1: copy records then. */
  open(dir: string, name: string, options: NativeOpenOptions): number | { handle: ChannelHandle; buffer: ArrayBuffer | null; info: NativeInfo };
  close(h: ChannelHandle): number;
  /** The record layout description of the file ("" when it has none), or a negative code. */
  layout(h: ChannelHandle): string | number;
  /**
   * Stages the record a single publish copies from (kept by the addon until close), once per channel:
   * returns the channel's publish function, which publishes it (undefined, or a negative code).
   */
  stage(h: ChannelHandle, bytes: Uint8Array): (() => number | undefined) | number;
  claim(h: ChannelHandle, n: number, timeoutMs: number): number;
  commit(h: ChannelHandle, abort?: boolean): number;
  /** Copying mode: copies the claimed records from src (record i at i * stride), then commits. */
  commitFrom(h: ChannelHandle, src: Uint8Array): number;
  /** Copying mode poll: records copied to dst; out = [first sequence, lost, overwritten while copying]. */
  pollCopy(s: SubHandle, max: number, out: Float64Array, dst: Uint8Array, ackFirst?: boolean): number;
  flush(h: ChannelHandle): number;
  stats(h: ChannelHandle, exact?: false): number | NativeStats;
  stats(h: ChannelHandle, exact: true): number | NativeStats<bigint>;
  gc(h: ChannelHandle): number;
  head(h: ChannelHandle, exact?: false): number;
  head(h: ChannelHandle, exact: true): bigint;
  read(h: ChannelHandle, seq: number | bigint, out: Uint8Array): number;
  /** spinUs: mmbus_sub_options_t.spin_us (0: the C default, constants.spinNone: no spin); coalesceUs: .coalesce_us */
  subscribe(h: ChannelHandle, name: string | null, start: number, spinUs: number, coalesceUs: number): number | SubHandle;
  subClose(s: SubHandle): number;
  /**
   * ackFirst: acknowledges the batch polled last first, in the same call (a failed ack: its code, nothing
   * polled; an ack that found records overwritten: 0 with out[0] = -1, nothing polled, snapshot values may be owed).
   */
  poll(s: SubHandle, max: number, out: Float64Array, ackFirst?: boolean): number;
  /** Acknowledges the last polled batch, or only its first `count` records. */
  ack(s: SubHandle, count?: number): number;
  heartbeat(s: SubHandle): number;
  /** Keyed: the latest record of keys[i] to dst at i * stride, its sequence to seqs[i] (-1: none yet); how many found. */
  latest(h: ChannelHandle, keys: Uint32Array, dst: Uint8Array, seqs: Float64Array): number;
  /** snapshot: 0 none, 1 every key's latest value, 2 only what changed while a durable subscriber was away. */
  ask(s: SubHandle, first: number, count: number, snapshot: number): number;
  unask(s: SubHandle, first: number, count: number): number;
  /** Takes pending snapshot values (at most keys.length): value i to dst at i * stride; how many. */
  snapshot(s: SubHandle, dst: Uint8Array, keys: Uint32Array, seqs: Float64Array): number;
  /** Indices of the last polled batch's records the subscriber asked for and has not had; how many. */
  wants(s: SubHandle, idx: Uint32Array): number;
  /** Overwrite channels: records of the last polled batch (from its start) that may have been overwritten. */
  overrun(s: SubHandle): number;
  lost(s: SubHandle): number;
  wait(s: SubHandle, timeoutMs: number, callback: (rc: number, detail: string) => void): number;
  interrupt(s: SubHandle): number;
  unlink(dir: string, name: string): number;
  /** 0 while the file is still the channel's and intact; MMBUS_E_STALE / MMBUS_E_CORRUPT otherwise. */
  check(h: ChannelHandle): number;
  /** What readers rely on (stamps, head, cursors, claims): how many problems, and the first. */
  verify(h: ChannelHandle): number | { problems: number; first: string };
  /** The default channel directory (created private if missing), or a negative code. */
  defaultDir(): string | number;
  /** The OS errno behind the last failure of this thread, 0 if none. */
  errno(): number;
  /** 0 when `name` is a valid channel name, else MMBUS_E_NAME (errmsg says why). */
  checkName(name: string): number;
  /** The error codes of libmmbus (MMBUS_ERRORS in mmbus.h). */
  errorCodes(): { code: number; name: string; text: string }[];
  version(): string;
  errmsg(): string;
  errname(code: number): string;
  strerror(code: number): string;
  readonly constants: {
    /** wait()'s callback code when interrupt() (close, ask, unask) ended the wait: MMBUS_E_INTR */
    readonly waitInterrupted: number;
    /** out[0] of a poll whose acknowledgement (ackFirst) found the batch overwritten: nothing was polled */
    readonly ackedWithLoss: number;
    /** subscribe()'s spinUs for "sleep at once": MMBUS_SPIN_NONE */
    readonly spinNone: number;
    /** the longest spin a subscriber may ask for: MMBUS_SPIN_MAX_US */
    readonly spinMaxUs: number;
    /** the longest coalescing window: MMBUS_COALESCE_MAX_US */
    readonly coalesceMaxUs: number;
  };
}

// Copied into an object literal: the addon's exports object is in dictionary mode (38 properties set
// one by one), which makes every `native.fn` load an inline-cache miss on the hot path (~6 % of a publish).
export const native: NativeBinding = { ...(loadAddon() as NativeBinding) };
