import type { RecordLayout } from '@mmbus/runtime';

import { ChannelBase, POLICY_CODES, type Policy } from './base.js';
import { check, invalid, MmbusError, nativeError } from './errors.js';
import { keyRanges, keyReader, type Keys } from './keys.js';
import { native, type ChannelHandle } from './native.js';
import { Subscription, type SubscribeOptions } from './subscription.js';

/** What core needs of a generated message class (see @mmbus/messages); core knows no schema. */
export interface MessageType<T> {
  readonly NAME: string;
  readonly SIZE: number;
  readonly FINGERPRINT: bigint;
  /** The key field of a keyed message type (`(mmbus_key)` in its schema): name, byte offset and size. */
  readonly KEY?: { readonly field: string; readonly offset: number; readonly size: number };
  /** The record layout as plain data (generated classes have it): written into channels it creates. */
  readonly LAYOUT?: RecordLayout;
  new (view?: DataView, offset?: number): T;
}

/** A generated flyweight: re-pointable at any offset of a view. */
export interface RecordView {
  wrap(view: DataView, offset: number): unknown;
  /** Re-points at another offset of the same view (cheaper than wrap). */
  moveTo(offset: number): unknown;
  readonly view: DataView;
  readonly offset: number;
}

/** The plain-object form a record class accepts in `assign()`. */
export type RecordInput<T> = T extends { assign(input: infer I): unknown } ? I : never;

/** The message type's name of a generated record (its Symbol.toStringTag), for type errors. */
type MessageName<T> = T extends { readonly [Symbol.toStringTag]: infer N extends string } ? N : 'another message type';

/** What a record of another type than the channel's meets in publish(): a type error naming both. */
export type WrongType<I, T> = `a ${MessageName<I>} record cannot be published on a channel of ${MessageName<T>}`;


export interface ChannelOptions {
  /** Directory of the channel files; default: defaultDir(). */
  dir?: string;
  /** Records in the ring (a power of two, 2 .. 2^32); only used when the channel is created. Default 65536. */
  capacity?: number;
  /** What a publisher does when the slowest live subscriber is a whole ring behind. Default 'block'. */
  policy?: Policy;
  /** How long a `block` publish waits before failing with MMBUS_E_TIMEOUT, ms. Default: the file's (5000). */
  timeoutMs?: number;
  /** Create the channel if it does not exist (default true). */
  create?: boolean;
  /** Fail with MMBUS_E_EXIST if the channel exists. */
  exclusive?: boolean;
  /**
   * File permission bits on creation, default 0o600 (private). Sharing with a group (0o660) or
   * everyone (0o666) must be asked for here, also to open an existing file shared that way.
   */
  mode?: number;
  maxSubscribers?: number;
  maxPublishers?: number;
  /** A subscriber silent this long (ms) stops holding publishers back; 0: never. Default: the file's (5000). */
  heartbeatTimeoutMs?: number;
  /**
   * A claim left uncommitted this long (ms) by a publisher that shows no progress (stopped, or stuck
   * between claim and commit) is given up by the others; 0: never. Default: the file's (1000).
   */
  unblockTimeoutMs?: number;
  /** Longest wait for the channel's table lock (attach, detach, gc), ms. Default 5000. */
  lockTimeoutMs?: number;
  /**
   * A keyed channel: the number of keys (records carry keys 0 .. keys - 1 in the message type's key
   * field), when the channel is created; opening an existing channel checks it. Default: the file's.
   */
  keys?: number;
  /**
   * Whether a channel this call creates carries the message type's layout (field names, offsets,
   * types: `type.LAYOUT`), so that tools decode its records without the schema (docs/format.md §13).
   * Default true; a layout beyond 1 MiB of JSON needs `false`.
   */
  describe?: boolean;
}

const OPTION_KEYS = new Set<string>([
  'dir', 'capacity', 'policy', 'timeoutMs', 'create', 'exclusive', 'mode', 'maxSubscribers', 'maxPublishers',
  'heartbeatTimeoutMs', 'unblockTimeoutMs', 'lockTimeoutMs', 'keys', 'describe',
]);
/** MMBUS_KEY_COUNT_MAX */
const KEY_COUNT_MAX = 2 ** 24;
/** A key's latest value is read again at most this often while it keeps changing (as in C). */
const LATEST_TRIES = 1000;
const KEY_BUFFERS = 3;
const SEQ_MASK = (1n << 62n) - 1n;
/** The head word's place in the file (docs/format.md §1: the head line). */
const HEAD_OFFSET = 384;
/** Every time-out is 0 .. 2^40 ms (MMBUS_TIMEOUT_MAX_MS). */
const TIMEOUT_MAX_MS = 2 ** 40;

/** An integer option in [min, max], or undefined when not given; anything else throws MMBUS_E_INVAL. */
export function integerOption(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`option ${name} must be an integer in ${min} .. ${max}, not ${typeof value === 'number' ? value : JSON.stringify(value) ?? String(value)}`);
  }
  return value;
}

function booleanOption(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw invalid(`option ${name} must be true or false, not ${JSON.stringify(value) ?? String(value)}`);
}

/** A string that reaches C: NUL bytes would cut it short there. */
export function cString(value: unknown, what: string, code: 'MMBUS_E_NAME' | 'MMBUS_E_DIR' | 'MMBUS_E_INVAL'): string {
  if (typeof value !== 'string') throw new MmbusError(code, `${what} must be a string`);
  if (value.includes('\0')) throw new MmbusError(code, `${what} contains a NUL byte`);
  return value;
}

/** The default directory: $MMBUS_DIR; else $XDG_RUNTIME_DIR/mmbus; else <tmpdir>/mmbus-<uid>, private (0700). */
export function defaultDir(): string {
  const d = native.defaultDir();
  if (typeof d === 'number') throw nativeError(d, 'the default channel directory');
  return d;
}

/**
 * Opens (by default creating) the channel `name` for records of `type`. Throws MmbusError:
 * MMBUS_E_SCHEMA when the channel holds another schema (the message names both), MMBUS_E_NAME for a
 * bad name, MMBUS_E_DIR for a missing directory, MMBUS_E_BADFILE for a corrupt or foreign file...
 */
export function openChannel<T extends RecordView>(name: string, type: MessageType<T>, options: ChannelOptions = {}): Channel<T> {
  return new Channel(name, type, options);
}

/** Throws MMBUS_E_NAME unless `name` is a valid channel name (1..128 of A-Z a-z 0-9 _ - ., no leading '.', no '..'). */
export function checkChannelName(name: string): void {
  check(native.checkName(cString(name, 'the channel name', 'MMBUS_E_NAME')), `channel name '${name}'`);
}

/**
 * Zeroes a Float64Array of whole 64-byte lines (+0 is all bits zero). Up to 256 bytes eight stores per
 * turn: 5 ns for 128 bytes, against 13 for one store per turn and 14 for fill() (a runtime call, which
 * costs about as much at any size: 17 ns for 1 KiB, so it wins for larger records).
 */
function zeroWords(w: Float64Array): void {
  if (w.length > 32) {
    w.fill(0);
    return;
  }
  for (let j = 0; j < w.length; j += 8) {
    w[j] = 0;
    w[j + 1] = 0;
    w[j + 2] = 0;
    w[j + 3] = 0;
    w[j + 4] = 0;
    w[j + 5] = 0;
    w[j + 6] = 0;
    w[j + 7] = 0;
  }
}

/** Removes a channel file; processes that have it open keep working on it (and learn it: MMBUS_E_STALE). */
export function unlinkChannel(name: string, dir?: string): void {
  const d = dir === undefined ? defaultDir() : cString(dir, 'the directory', 'MMBUS_E_DIR');
  check(native.unlink(d, cString(name, 'the channel name', 'MMBUS_E_NAME')), `removing channel '${name}'`);
}

export class Channel<T extends RecordView> extends ChannelBase {
  readonly type: MessageType<T>;
  /** @internal the whole mapping (empty when copying) */
  readonly view: DataView;
  /**
   * True where the runtime refuses external ArrayBuffers (Electron) or MMBUS_COPY_BUFFERS=1: records
   * are then copied between the mapping and JS memory (one native call per batch still), not read in place.
   */
  readonly copying: boolean;
  /** copying mode: where records are written before commitFrom() copies them into their slots */
  private copyArea: { bytes: Uint8Array; view: DataView } | null = null;
  /** @internal */
  readonly dataOffset: number;
  /** @internal */
  readonly stride: number;
  /** @internal */
  readonly capacity: number;
  /** @internal the low 32 bits of every slot's commit stamp (docs/format.md §6); empty when copying */
  readonly stampsLow: Uint32Array;
  private readonly staging: T;
  private readonly stagingBytes: Uint8Array;
  private readonly stagingWords: Float64Array;
  private readonly stagingView: DataView;
  /** stageRecord() is filling the staging record. */
  private staged = false;
  /** publishes the staging record: undefined, or a negative code (native.stage) */
  private readonly publishStaged: () => number | undefined;
  private readonly writer: T;
  private readonly spentView: DataView;
  private readonly subscriptions = new Set<Subscription<T>>();

  constructor(name: string, type: MessageType<T>, options: ChannelOptions = {}) {
    cString(name, 'the channel name', 'MMBUS_E_NAME');
    if (!type || typeof type.SIZE !== 'number' || typeof type.FINGERPRINT !== 'bigint') {
      throw invalid('the second argument must be a generated message class (e.g. Person)');
    }
    if (type.FINGERPRINT < 0n || type.FINGERPRINT >= 2n ** 64n) throw invalid(`${type.NAME}.FINGERPRINT is not a 64-bit unsigned integer`);
    if (options === null || typeof options !== 'object') throw invalid('options must be an object');
    for (const key of Object.keys(options)) if (!OPTION_KEYS.has(key)) throw invalid(`unknown option '${key}'`);
    if (options.policy !== undefined && !Object.hasOwn(POLICY_CODES, options.policy)) {
      throw invalid(`option policy must be 'block', 'reject' or 'overwrite', not ${JSON.stringify(options.policy)}`);
    }
    const capacity = integerOption(options.capacity, 'capacity', 2, 2 ** 32);
    if (capacity !== undefined && (capacity & (capacity - 1)) !== 0 && capacity !== 2 ** 32) {
      throw invalid(`option capacity must be a power of two, not ${capacity}`);
    }
    const keys = integerOption(options.keys, 'keys', 1, KEY_COUNT_MAX);
    const key = type.KEY;
    if (keys !== undefined && !key) {
      throw invalid(`option keys: ${String(type.NAME)} has no key field (mark one with (mmbus_key) in its schema)`);
    }
    const dir = options.dir === undefined ? defaultDir() : cString(options.dir, 'option dir', 'MMBUS_E_DIR');
    const opened = native.open(dir, name, {
      create: booleanOption(options.create, 'create') ?? true,
      exclusive: booleanOption(options.exclusive, 'exclusive') ?? false,
      recordSize: type.SIZE,
      capacity: capacity ?? 0,
      schemaName: cString(type.NAME, `${String(type.NAME)}.NAME`, 'MMBUS_E_INVAL'),
      fingerprint: type.FINGERPRINT,
      policy: options.policy ? POLICY_CODES[options.policy] : 0,
      blockTimeoutMs: integerOption(options.timeoutMs, 'timeoutMs', 0, TIMEOUT_MAX_MS) ?? -1,
      heartbeatTimeoutMs: integerOption(options.heartbeatTimeoutMs, 'heartbeatTimeoutMs', 0, TIMEOUT_MAX_MS) ?? -1,
      unblockTimeoutMs: integerOption(options.unblockTimeoutMs, 'unblockTimeoutMs', 0, TIMEOUT_MAX_MS) ?? -1,
      lockTimeoutMs: integerOption(options.lockTimeoutMs, 'lockTimeoutMs', 0, TIMEOUT_MAX_MS) ?? -1,
      mode: integerOption(options.mode, 'mode', 0, 0o777) ?? 0,
      maxSubscribers: integerOption(options.maxSubscribers, 'maxSubscribers', 1, 4096) ?? 0,
      maxPublishers: integerOption(options.maxPublishers, 'maxPublishers', 1, 4096) ?? 0,
      keyCount: keys ?? 0,
      keyOffset: key?.offset ?? 0,
      keySize: key?.size ?? 0,
      ...(type.LAYOUT && (booleanOption(options.describe, 'describe') ?? true) ? { layout: JSON.stringify(type.LAYOUT) } : {}),
    });
    if (typeof opened === 'number') throw nativeError(opened, `opening channel '${name}' in ${dir}`);
    super(name, dir, opened.handle, opened.info);
    this.type = type;
    this.copying = opened.buffer === null;
    this.view = new DataView(opened.buffer ?? new ArrayBuffer(0));
    this.dataOffset = opened.info.dataOffset;
    this.stride = opened.info.recordStride;
    this.capacity = opened.info.capacity;
    this.stampsLow = opened.buffer ? new Uint32Array(opened.buffer, opened.info.stampsOffset, this.capacity * 2) : new Uint32Array(0);
    // whole 64-byte lines of 8-byte words, zeroed by stores eight at a time (zeroWords)
    const stagingBuffer = new ArrayBuffer(Math.ceil(type.SIZE / 64) * 64);
    this.stagingView = new DataView(stagingBuffer);
    this.staging = new type(this.stagingView, 0);
    this.stagingBytes = new Uint8Array(stagingBuffer, 0, type.SIZE);
    this.stagingWords = new Float64Array(stagingBuffer);
    const publishStaged = native.stage(opened.handle, this.stagingBytes);
    if (typeof publishStaged === 'number') throw nativeError(publishStaged, `opening channel '${name}' in ${dir}`);
    this.publishStaged = publishStaged;
    this.writer = new type();
    this.spentView = new DataView(new ArrayBuffer(type.SIZE));
    const i = opened.info;
    this.keyCount = i.keyCount;
    this.readKey = i.keyCount ? keyReader(i.keyOffset, i.keySize) : null;
    this.keyEntrySize = i.keyEntrySize;
    this.keyHeaderSize = i.keyHeaderSize;
    this.keyWords = opened.buffer && i.keyCount ? new BigUint64Array(opened.buffer, i.keysOffset, (i.keyCount * this.keyEntrySize) / 8) : null;
    this.headWord = opened.buffer ? new BigUint64Array(opened.buffer, HEAD_OFFSET, 1) : null;
  }

  /** Keyed channels: the number of keys (0 .. keyCount - 1); 0 for a channel that is not keyed. */
  readonly keyCount: number;
  /** @internal reads a record's key (keyed channels) */
  readonly readKey: ((view: DataView, offset: number) => number) | null;
  private readonly keyEntrySize: number;
  private readonly keyHeaderSize: number;
  /** the key table as 64-bit words: entry k's `ver` is word k * keyEntrySize / 8 (docs/format.md §11) */
  private readonly keyWords: BigUint64Array | null;
  private readonly headWord: BigUint64Array | null;
  private latestReader: T | null = null;
  private latestBuf: { keys: Uint32Array; seqs: Float64Array; bytes: Uint8Array; view: DataView; record: T } | null = null;

  /** The key of a record of this keyed channel. */
  keyOf(record: RecordView): number {
    if (!this.readKey) throw this.notKeyed();
    return this.readKey(record.view, record.offset);
  }

  private notKeyed(): MmbusError {
    return new MmbusError('MMBUS_E_STATE', `'${this.name}' is not a keyed channel (create it with the option keys)`);
  }

  private checkKey(key: number): void {
    if (!this.readKey) throw this.notKeyed();
    if (!Number.isInteger(key) || key < 0 || key >= this.keyCount) {
      throw invalid(`key ${key} is not one of the keys 0 .. ${this.keyCount - 1} of '${this.name}'`);
    }
  }

  /**
   * Keyed channels: a copy of the latest record published with `key` (its own memory: keep it as long
   * as you like), or undefined if none was. Never torn; never waits.
   */
  latest(key: number): T | undefined {
    this.checkKey(key);
    const bytes = new Uint8Array(this.stride);
    const seqs = new Float64Array(1);
    const n = check(native.latest(this.liveHandle(), Uint32Array.of(key), bytes, seqs), `latest value of key ${key} of '${this.name}'`);
    return n ? new this.type(new DataView(bytes.buffer), 0) : undefined;
  }

  /**
   * Keyed channels: calls fn with the latest record of `key` read in place (no copy) and returns what
   * fn returns, or undefined if no record of that key was published. fn may run more than once — again
   * whenever a publisher replaced the value while fn read it — so it must only read the record and
   * return a value; the record must not be kept after fn returns.
   */
  readLatest<R>(key: number, fn: (record: T) => R): R | undefined {
    this.checkKey(key);
    this.liveHandle();
    const words = this.keyWords;
    if (!words || !this.headWord) {
      const copy = this.latest(key);
      return copy === undefined ? undefined : fn(copy);
    }
    const reader = (this.latestReader ??= new this.type(this.view, this.dataOffset));
    const at = (key * this.keyEntrySize) / 8;
    const entry = this.info.keysOffset + key * this.keyEntrySize;
    for (let t = 0; t < LATEST_TRIES; t++) {
      const v = Atomics.load(words, at);
      if ((v & SEQ_MASK) === 0n) return undefined;
      const buffer = Number(v >> 62n);
      const offset = entry + this.keyHeaderSize + buffer * this.stride;
      if (buffer >= KEY_BUFFERS || (v & SEQ_MASK) > Atomics.load(this.headWord, 0) || this.readKey!(this.view, offset) !== key) {
        if (Atomics.load(words, at) !== v) continue; // a writer's moment, not damage
        throw new MmbusError('MMBUS_E_CORRUPT', `'${this.name}': the latest value of key ${key} is damaged (the file was written by something other than mmbus)`);
      }
      reader.wrap(this.view, offset);
      const result = fn(reader);
      if (Atomics.load(words, at) === v) return result;
    }
    throw new MmbusError('MMBUS_E_BUSY', `'${this.name}': key ${key} changed ${LATEST_TRIES} times while it was read`);
  }

  /**
   * Keyed channels: calls fn(record, key, seq) with the latest record of each of `keys` that has one
   * (copied a thousand at a time, one native call each; the record is valid only during the call).
   * Returns how many it found.
   */
  snapshot(keys: Keys, fn: (record: T, key: number, seq: number) => void): number {
    if (!this.readKey) throw this.notKeyed();
    const ranges = keyRanges(keys, this.keyCount);
    const chunk = 1024;
    const buf = (this.latestBuf ??= (() => {
      const bytes = new Uint8Array(chunk * this.stride);
      const view = new DataView(bytes.buffer);
      return { keys: new Uint32Array(chunk), seqs: new Float64Array(chunk), bytes, view, record: new this.type(view, 0) };
    })());
    let found = 0;
    for (const [first, count] of ranges) {
      for (let k = first; k < first + count; k += chunk) {
        const m = Math.min(chunk, first + count - k);
        for (let j = 0; j < m; j++) buf.keys[j] = k + j;
        const n = check(
          native.latest(this.liveHandle(), buf.keys.subarray(0, m), buf.bytes, buf.seqs),
          `snapshot of '${this.name}'`,
        );
        if (n === 0) continue;
        for (let j = 0; j < m; j++) {
          const seq = buf.seqs[j] as number;
          if (seq < 0) continue;
          buf.record.moveTo(j * this.stride);
          fn(buf.record, k + j, seq);
          found++;
        }
      }
    }
    return found;
  }

  /** @internal byte offset of the record with sequence number seq in the mapping */
  offsetOf(seq: number): number {
    return this.dataOffset + (seq % this.capacity) * this.stride;
  }

  /**
   * Publishes one record: from a plain object, by writing it in place (`(r) => { r.x = 1; }`, no copy,
   * no allocation), or by copying a record view of the same type. Returns false when a `reject`
   * channel is full; a `block` channel waits (synchronously) up to its time-out, then throws
   * MMBUS_E_TIMEOUT. Use publishAsync() to wait without blocking the event loop.
   */
  publish(input: RecordInput<T> | ((record: T) => void) | T): boolean;
  /** A record of another message type is refused: at compile time by this signature (its error names both types), at run time with MMBUS_E_SCHEMA. */
  publish<I extends RecordView>(input: I & WrongType<I, T>): never;
  publish(input: RecordInput<T> | ((record: T) => void) | T): boolean {
    return this.publishWithin(input, -1);
  }

  /** timeoutMs < 0: the channel's block time-out. */
  private publishWithin(input: RecordInput<T> | ((record: T) => void) | T, timeoutMs: number): boolean {
    const h = this.liveHandle();
    if (timeoutMs < 0) {
      // one native call: the record is written, assigned or copied in a zeroed staging record, then copied in
      this.stageRecord(input);
      const rc = this.publishStaged();
      return rc === undefined ? true : this.publishFailed(rc);
    }
    const seq = native.claim(h, 1, timeoutMs);
    if (seq < 0) return this.publishFailed(seq);
    try {
      const w = this.writerAt(seq, 0, 1);
      if (typeof input === 'function') {
        (input as (record: T) => void)(w);
      } else {
        this.stageRecord(input);
        new Uint8Array(w.view.buffer, w.view.byteOffset + w.offset, this.type.SIZE).set(this.stagingBytes);
      }
    } catch (err) {
      this.detachWriter();
      native.commit(h, true); // give the slot up: subscribers step over it
      throw err;
    }
    this.detachWriter();
    const rc = this.commitClaim(h, 1);
    if (rc < 0) check(rc, `publishing on '${this.name}'`); // the message only when it is needed: no string per publish
    return true;
  }

  /** Points the writer at record i of a claim of n starting at seq: its slot, or the copy area. */
  private writerAt(seq: number, i: number, n: number): T {
    if (!this.copying) {
      // moveTo within the mapping (no bounds look-up of the view), wrap when detached or re-pointed
      const w = this.writer;
      if (w.view === this.view) w.moveTo(this.offsetOf(seq + i));
      else w.wrap(this.view, this.offsetOf(seq + i));
      return w;
    }
    const need = n * this.stride;
    if (!this.copyArea || this.copyArea.bytes.length < need) {
      const bytes = new Uint8Array(Math.max(need, 4096 * this.stride));
      this.copyArea = { bytes, view: new DataView(bytes.buffer) };
    }
    if (i === 0) this.copyArea.bytes.fill(0, 0, need);
    this.writer.wrap(this.copyArea.view, i * this.stride);
    return this.writer;
  }

  /**
   * The record handed to a fill callback is the ring slot itself until the claim is committed; after
   * that, a reference the callback kept points at a scratch record, so writing it can never change a
   * committed record.
   */
  private detachWriter(): void {
    this.writer.wrap(this.spentView, 0);
  }

  private commitClaim(h: ChannelHandle, n: number): number {
    return this.copyArea && this.copying ? native.commitFrom(h, this.copyArea.bytes.subarray(0, n * this.stride)) : native.commit(h);
  }

  /**
   * Puts the record in the zeroed staging record: written by a writer, assigned from a plain object, or
   * copied from a record view. A writer that keeps its record and writes it later changes only the
   * staging record, which the next publish zeroes again.
   */
  private stageRecord(input: RecordInput<T> | ((record: T) => void) | T): void {
    // a publish from inside a writer of the same channel would overwrite the record being written
    if (this.staged) throw new MmbusError('MMBUS_E_STATE', `publish on '${this.name}' from inside one of its own writers: publish one record at a time`);
    const from = typeof input === 'function' ? null : this.viewBytes(input);
    if (from && from.buffer === this.stagingBytes.buffer) return; // a kept writer's record: there already
    this.staged = true;
    zeroWords(this.stagingWords);
    try {
      if (typeof input === 'function') (input as (record: T) => void)(this.staging);
      else if (from) this.stagingBytes.set(from);
      else (this.staging as unknown as { assign(o: unknown): unknown }).assign(input);
    } finally {
      this.staged = false;
      // a writer that re-pointed its record (wrap) must not re-point every later publish
      if (this.staging.view !== this.stagingView) this.staging.wrap(this.stagingView, 0);
    }
  }

  /** The bytes of a record view of this channel's type; null for a plain object; anything else throws. */
  private viewBytes(input: RecordInput<T> | T): Uint8Array | null {
    if (typeof input !== 'object' || input === null) {
      throw invalid(`publish on '${this.name}': ${typeof input === 'string' ? JSON.stringify(input) : String(input)} is not a record: pass an object of ${this.type.NAME} fields, a (record) => void writer, or a ${this.type.NAME} record`);
    }
    if (!('view' in input && input.view instanceof DataView)) return null;
    const ctor = (input as object).constructor as Partial<MessageType<unknown>>;
    if (ctor.FINGERPRINT !== undefined && ctor.FINGERPRINT !== this.type.FINGERPRINT) {
      throw new MmbusError('MMBUS_E_SCHEMA', `a ${String(ctor.NAME)} record cannot be published on channel '${this.name}', which holds ${this.type.NAME}`);
    }
    const rec = input as RecordView;
    return new Uint8Array(rec.view.buffer, rec.view.byteOffset + rec.offset, this.type.SIZE);
  }

  private publishFailed(rc: number): false {
    const err = nativeError(rc, `publishing on '${this.name}'`);
    if (err.code === 'MMBUS_E_FULL') return false;
    throw err;
  }

  /**
   * Publishes n records written in place by fill(record, i), in claims of up to `chunk` records
   * (each claim is all or nothing). Returns how many were published: fewer than n only when a
   * `reject` channel filled up.
   */
  publishBatch(n: number, fill: (record: T, i: number) => void, chunk = 4096): number {
    const h = this.liveHandle();
    if (!Number.isInteger(n) || n < 0) throw new MmbusError('MMBUS_E_INVAL', `batch size ${n} is not a count`);
    if (typeof fill !== 'function') throw invalid(`publishBatch: fill must be a function (record, i) => void, not ${typeof fill}`);
    const step = Math.min(integerOption(chunk, 'chunk', 1, 2 ** 32) as number, this.capacity);
    let done = 0;
    while (done < n) {
      const k = Math.min(step, n - done);
      const seq = native.claim(h, k, -1);
      if (seq < 0) {
        this.publishFailed(seq);
        return done;
      }
      try {
        for (let i = 0; i < k; i++) fill(this.writerAt(seq, i, k), done + i);
      } catch (err) {
        this.detachWriter();
        native.commit(h, true);
        throw err;
      }
      this.detachWriter();
      check(this.commitClaim(h, k), `publishing on '${this.name}'`);
      done += k;
    }
    return done;
  }

  /**
   * Publishes one record; on a full `block` channel waits for room without blocking the event loop
   * (up to the channel's time-out, then MMBUS_E_TIMEOUT). Resolves false only for a full `reject`.
   */
  publishAsync(input: RecordInput<T> | ((record: T) => void) | T): Promise<boolean>;
  /** A record of another message type: see publish(). */
  publishAsync<I extends RecordView>(input: I & WrongType<I, T>): Promise<never>;
  async publishAsync(input: RecordInput<T> | ((record: T) => void) | T): Promise<boolean> {
    if (this.info.policy !== 'block') return this.publish(input);
    const deadline = Date.now() + this.info.blockTimeoutMs;
    let pause = 1;
    for (;;) {
      try {
        return this.publishWithin(input, 0);
      } catch (err) {
        if (!(err instanceof MmbusError) || err.code !== 'MMBUS_E_TIMEOUT' || Date.now() >= deadline) {
          if (err instanceof MmbusError && err.code === 'MMBUS_E_TIMEOUT') {
            throw new MmbusError(err.code, `channel '${this.name}' stayed full for ${this.info.blockTimeoutMs} ms: the slowest subscriber did not move`, { errno: err.errno });
          }
          throw err;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 20);
    }
  }

  /** Subscribes: durable when `name` is given (resumes after its last consumed record), else anonymous. */
  subscribe(options: SubscribeOptions = {}): Subscription<T> {
    let sub: Subscription<T> | undefined; // a constructor that fails closes itself before it is set
    sub = new Subscription(this, options, () => sub && this.subscriptions.delete(sub));
    this.subscriptions.add(sub);
    return sub;
  }

  /** Closes the channel and every subscription of it. Record views of it must not be used after. */
  override close(): void {
    if (this.handle === null) return;
    for (const sub of [...this.subscriptions]) sub.close();
    super.close();
  }
}
