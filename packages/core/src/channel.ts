import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ChannelBase, POLICY_CODES, type Policy } from './base.js';
import { check, MmbusError, nativeError } from './errors.js';
import { native, type ChannelHandle } from './native.js';
import { Subscription, type SubscribeOptions } from './subscription.js';

/** What core needs of a generated message class (see @mmbus/messages); core knows no schema. */
export interface MessageType<T> {
  readonly NAME: string;
  readonly SIZE: number;
  readonly FINGERPRINT: bigint;
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


export interface ChannelOptions {
  /** Directory of the channel files; default $MMBUS_DIR, else <tmpdir>/mmbus (which is created if missing). */
  dir?: string;
  /** Records in the ring (a power of two); only used when the channel is created. Default 65536. */
  capacity?: number;
  /** What a publisher does when the slowest live subscriber is a whole ring behind. Default 'block'. */
  policy?: Policy;
  /** How long a `block` publish waits before failing with MMBUS_E_TIMEOUT. Default 5000. */
  timeoutMs?: number;
  /** Create the channel if it does not exist (default true). */
  create?: boolean;
  /** Fail with MMBUS_E_EXIST if the channel exists. */
  exclusive?: boolean;
  /** File mode on creation, default 0o600. */
  mode?: number;
  maxSubscribers?: number;
  maxPublishers?: number;
  /** A subscriber silent this long stops holding publishers back. Default 5000. */
  heartbeatTimeoutMs?: number;
}

/** The default directory: $MMBUS_DIR, or <tmpdir>/mmbus. */
export function defaultDir(): string {
  return process.env.MMBUS_DIR ?? join(tmpdir(), 'mmbus');
}

/**
 * Opens (by default creating) the channel `name` for records of `type`. Throws MmbusError:
 * MMBUS_E_SCHEMA when the channel holds another schema (the message names both), MMBUS_E_NAME for a
 * bad name, MMBUS_E_DIR for a missing directory, MMBUS_E_BADFILE for a corrupt or foreign file...
 */
export function openChannel<T extends RecordView>(name: string, type: MessageType<T>, options: ChannelOptions = {}): Channel<T> {
  return new Channel(name, type, options);
}

/** Removes a channel file; processes that have it open keep working on it. */
export function unlinkChannel(name: string, dir: string = defaultDir()): void {
  check(native.unlink(dir, name), `removing channel '${name}'`);
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
  private readonly staging: T;
  private readonly stagingBytes: Uint8Array;
  private readonly writer: T;
  private readonly subscriptions = new Set<Subscription<T>>();

  constructor(name: string, type: MessageType<T>, options: ChannelOptions = {}) {
    if (typeof name !== 'string') throw new MmbusError('MMBUS_E_NAME', -2, 'channel name must be a string');
    if (!type || typeof type.SIZE !== 'number' || typeof type.FINGERPRINT !== 'bigint') {
      throw new MmbusError('MMBUS_E_INVAL', -1, 'the second argument must be a generated message class (e.g. Person)');
    }
    const dir = options.dir ?? defaultDir();
    if (options.dir === undefined && process.env.MMBUS_DIR === undefined) mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (options.policy !== undefined && !(options.policy in POLICY_CODES)) {
      throw new MmbusError('MMBUS_E_INVAL', -1, `unknown policy '${String(options.policy)}' (block, reject or overwrite)`);
    }
    const opened = native.open(dir, name, {
      create: options.create ?? true,
      exclusive: options.exclusive ?? false,
      recordSize: type.SIZE,
      capacity: options.capacity ?? 0,
      schemaName: type.NAME,
      fingerprint: type.FINGERPRINT,
      policy: options.policy ? POLICY_CODES[options.policy] : 0,
      blockTimeoutMs: options.timeoutMs ?? -1,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? -1,
      mode: options.mode ?? 0,
      maxSubscribers: options.maxSubscribers ?? 0,
      maxPublishers: options.maxPublishers ?? 0,
    });
    if (typeof opened === 'number') throw nativeError(opened, `opening channel '${name}' in ${dir}`);
    super(name, dir, opened.handle, opened.info);
    this.type = type;
    this.copying = opened.buffer === null;
    this.view = new DataView(opened.buffer ?? new ArrayBuffer(0));
    this.dataOffset = opened.info.dataOffset;
    this.stride = opened.info.recordStride;
    this.capacity = opened.info.capacity;
    this.staging = new type();
    this.stagingBytes = new Uint8Array(this.staging.view.buffer, this.staging.view.byteOffset + this.staging.offset, type.SIZE);
    this.writer = new type();
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
  publish(input: RecordInput<T> | ((record: T) => void) | T): boolean {
    return this.publishWithin(input, -1);
  }

  /** timeoutMs < 0: the channel's block time-out. */
  private publishWithin(input: RecordInput<T> | ((record: T) => void) | T, timeoutMs: number): boolean {
    const h = this.liveHandle();
    if (typeof input !== 'function' && timeoutMs < 0) {
      // one native call: the record is copied in from a staging buffer
      const rc = native.publish(h, this.bytesOf(input), 1);
      return rc < 0 ? this.publishFailed(rc) : true;
    }
    const seq = native.claim(h, 1, timeoutMs);
    if (seq < 0) return this.publishFailed(seq);
    try {
      const w = this.writerAt(seq, 0, 1);
      if (typeof input === 'function') {
        (input as (record: T) => void)(w);
      } else {
        new Uint8Array(w.view.buffer, w.view.byteOffset + w.offset, this.type.SIZE).set(this.bytesOf(input));
      }
    } catch (err) {
      native.commit(h, true); // give the slot up: subscribers step over it
      throw err;
    }
    check(this.commitClaim(h, 1), `publishing on '${this.name}'`);
    return true;
  }

  /** Points the writer at record i of a claim of n starting at seq: its slot, or the copy area. */
  private writerAt(seq: number, i: number, n: number): T {
    if (!this.copying) {
      this.writer.wrap(this.view, this.offsetOf(seq + i));
      return this.writer;
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

  private commitClaim(h: ChannelHandle, n: number): number {
    return this.copyArea && this.copying ? native.commitFrom(h, this.copyArea.bytes.subarray(0, n * this.stride)) : native.commit(h);
  }

  private bytesOf(input: RecordInput<T> | T): Uint8Array {
    if (input !== null && typeof input === 'object' && 'view' in input && input.view instanceof DataView) {
      const ctor = (input as object).constructor as Partial<MessageType<unknown>>;
      if (ctor.FINGERPRINT !== undefined && ctor.FINGERPRINT !== this.type.FINGERPRINT) {
        throw new MmbusError(
          'MMBUS_E_SCHEMA',
          -10,
          `a ${String(ctor.NAME)} record cannot be published on channel '${this.name}', which holds ${this.type.NAME}`,
        );
      }
      const rec = input as RecordView;
      return new Uint8Array(rec.view.buffer, rec.view.byteOffset + rec.offset, this.type.SIZE);
    }
    const staging = this.staging as unknown as { assign(o: unknown): unknown };
    this.stagingBytes.fill(0);
    staging.assign(input);
    return this.stagingBytes;
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
    if (!Number.isInteger(n) || n < 0) throw new MmbusError('MMBUS_E_INVAL', -1, `batch size ${n} is not a count`);
    const step = Math.max(1, Math.min(chunk, this.capacity));
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
        native.commit(h, true);
        throw err;
      }
      check(this.commitClaim(h, k), `publishing on '${this.name}'`);
      done += k;
    }
    return done;
  }

  /**
   * Publishes one record; on a full `block` channel waits for room without blocking the event loop
   * (up to the channel's time-out, then MMBUS_E_TIMEOUT). Resolves false only for a full `reject`.
   */
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
            throw new MmbusError(err.code, err.errno, `channel '${this.name}' stayed full for ${this.info.blockTimeoutMs} ms: the slowest subscriber did not move`);
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
    const sub = new Subscription(this, options, () => this.subscriptions.delete(sub));
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
