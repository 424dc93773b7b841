import type { Channel, RecordView } from './channel.js';
import { check, closedError, MmbusError, nativeError } from './errors.js';
import { native, type SubHandle } from './native.js';

export interface SubscribeOptions {
  /** Durable subscriber name: its cursor lives in the channel file and survives restarts and crashes. */
  name?: string;
  /** Where a new subscriber starts: 'newest' (default) or 'oldest' record still in the ring. */
  start?: 'newest' | 'oldest';
  /** Most records handed out in one batch (default 8192). */
  maxBatch?: number;
  /** Aborting ends the iteration (and onMessage) and closes the subscription. */
  signal?: AbortSignal;
}

const HEARTBEAT_MS = 1000;
/** Index of a u64's low half in a Uint32Array view: the file is in the machine's byte order. */
const LOW_HALF = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
const WAIT_INTR = -21;

/**
 * Records [seq, seq + length) read in place from the mapping. Valid until the iteration moves on:
 * `get(i)` and the iterator re-point one flyweight, so keep values, not records.
 */
export class Batch<T extends RecordView> implements Iterable<T> {
  seq = 0;
  length = 0;
  private firstSlot = 0;
  private view: DataView;
  private base = 0;
  private slots = 0;
  private overwrittenWhileCopied = 0;
  private readonly record: T;
  private readonly channel: Channel<T>;
  private readonly overrunOf: () => number;

  constructor(channel: Channel<T>, record: T, overrunOf: () => number) {
    this.channel = channel;
    this.overrunOf = overrunOf;
    this.record = record;
    this.view = new DataView(new ArrayBuffer(0)); // set by reset()
  }

  /**
   * Overwrite channels only: how many records from the start of this batch a publisher may have
   * overwritten while you read them. Call it after reading: records before this index are suspect
   * (discard what you read from them; they are counted in `lost`), the others were read intact.
   * Always 0 for `block` and `reject` channels.
   */
  overwritten(): number {
    return this.channel.copying ? this.overwrittenWhileCopied : this.overrunOf();
  }

  /**
   * Whether record i is still the one committed at its sequence number: false once a publisher has
   * overwritten it (only possible for a subscriber that stopped counting: stopped, or silent past the
   * heartbeat time-out). The iterator and onMessage() skip such records; a record being overwritten
   * right now is caught by overwritten() after reading.
   */
  intact(i: number): boolean {
    if (this.channel.copying) return i >= this.overwrittenWhileCopied;
    const stamps = this.channel.stampsLow;
    let slot = this.firstSlot + i;
    if (slot >= this.slots) slot -= this.slots;
    // the low half of the slot's stamp is (sequence + 1) mod 2^32 while the record is there
    return stamps[slot * 2 + LOW_HALF] === (this.seq + i + 1) % 4294967296;
  }

  /** @internal */
  reset(seq: number, length: number): void {
    const ch = this.channel;
    this.seq = seq;
    this.length = length;
    if (this.view !== ch.view) this.record.wrap(ch.view, ch.dataOffset);
    this.view = ch.view;
    this.base = ch.dataOffset;
    this.slots = ch.capacity;
    this.firstSlot = seq % ch.capacity;
  }

  /** @internal copying mode: the records were copied to `view`, record i at i * stride */
  resetCopied(seq: number, length: number, view: DataView, overwritten: number): void {
    this.seq = seq;
    this.length = length;
    if (this.view !== view) this.record.wrap(view, 0);
    this.view = view;
    this.base = 0;
    this.slots = Infinity;
    this.firstSlot = 0;
    this.overwrittenWhileCopied = overwritten;
  }

  /** The i-th record of the batch (the same flyweight object, re-pointed). */
  get(i: number): T {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`record ${i} of a batch of ${this.length}`);
    let slot = this.firstSlot + i;
    if (slot >= this.slots) slot -= this.slots;
    this.record.moveTo(this.base + slot * this.channel.stride);
    return this.record;
  }

  /** The records still intact (see intact()), one flyweight re-pointed: keep values, not records. */
  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.length; i++) if (this.intact(i)) yield this.get(i);
  }
}

export class Subscription<T extends RecordView> implements AsyncIterable<Batch<T>> {
  readonly channel: Channel<T>;
  readonly name: string | undefined;
  private handle: SubHandle | null;
  private readonly maxBatch: number;
  private readonly batch: Batch<T>;
  private readonly out = new Float64Array(3);
  private readonly copyBytes: Uint8Array | null;
  private readonly copyView: DataView | null;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly onClose: () => void;
  private readonly signal: AbortSignal | undefined;
  private readonly abortListener: (() => void) | undefined;
  private holding = false; // a batch was handed out and is not acked yet
  /** Set while the waiter thread waits for this subscriber (JS must not touch it meanwhile). */
  private settleWait: ((dataReady: boolean) => void) | null = null;
  private lostCount = 0;

  /** @internal use channel.subscribe() */
  constructor(channel: Channel<T>, options: SubscribeOptions, onClose: () => void) {
    this.channel = channel;
    this.name = options.name || undefined;
    this.onClose = onClose;
    const maxBatch = options.maxBatch ?? 8192;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new MmbusError('MMBUS_E_INVAL', -1, `maxBatch ${maxBatch} must be a positive integer`);
    this.maxBatch = maxBatch;
    const start = options.start ?? 'newest';
    if (start !== 'newest' && start !== 'oldest') throw new MmbusError('MMBUS_E_INVAL', -1, `start must be 'newest' or 'oldest', not '${String(start)}'`);
    if (options.name !== undefined && typeof options.name !== 'string') throw new MmbusError('MMBUS_E_NAME', -2, 'subscriber name must be a string');
    if (options.signal?.aborted) throw new MmbusError('MMBUS_E_INTR', WAIT_INTR, 'the signal was aborted before subscribing');
    const h = native.subscribe(channel.liveHandle(), this.name ?? null, start === 'oldest' ? 1 : 0);
    if (typeof h === 'number') throw nativeError(h, `subscribing to '${channel.name}'`);
    this.handle = h;
    this.copyBytes = channel.copying ? new Uint8Array(this.maxBatch * channel.stride) : null;
    this.copyView = this.copyBytes ? new DataView(this.copyBytes.buffer) : null;
    this.batch = new Batch(channel, new channel.type(), () => (this.holding && this.handle ? native.overrun(this.handle) : 0));
    // Keeps the heartbeat fresh while the subscriber is idle but not waiting; never keeps the process alive.
    this.heartbeat = setInterval(() => {
      if (this.handle && !this.settleWait) native.heartbeat(this.handle);
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    this.signal = options.signal;
    if (this.signal) {
      this.abortListener = () => this.close();
      this.signal.addEventListener('abort', this.abortListener, { once: true });
    }
  }

  get closed(): boolean {
    return this.handle === null;
  }

  /** Records this subscriber lost: lapped by an `overwrite` publisher, or offline too long. */
  get lost(): number {
    return this.handle ? native.lost(this.handle) : this.lostCount;
  }

  private live(): SubHandle {
    if (this.handle === null) throw closedError(`subscription to '${this.channel.name}'`);
    return this.handle;
  }

  /** Marks the batch handed out last as consumed (one native call per batch). */
  private ackHeld(h: SubHandle): void {
    if (!this.holding) return;
    this.holding = false;
    check(native.ack(h), `acknowledging on '${this.channel.name}'`);
  }

  /**
   * The next batch if records are waiting, else null; never waits. Acknowledges the previous batch.
   */
  poll(): Batch<T> | null {
    const h = this.live();
    if (this.settleWait) {
      throw new MmbusError('MMBUS_E_STATE', -20, `a wait of this subscription to '${this.channel.name}' is in progress: iterate or poll, not both at once`);
    }
    this.ackHeld(h);
    const n = this.copyBytes ? native.pollCopy(h, this.maxBatch, this.out, this.copyBytes) : native.poll(h, this.maxBatch, this.out);
    if (n < 0) throw nativeError(n, `polling '${this.channel.name}'`);
    if (n === 0) return null;
    if (this.copyView) this.batch.resetCopied(this.out[0] as number, n, this.copyView, this.out[2] as number);
    else this.batch.reset(this.out[0] as number, n);
    this.holding = true;
    return this.batch;
  }

  /** Resolves true when a record is waiting, false when the subscription was closed or aborted. */
  private waitForData(h: SubHandle): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.settleWait = resolve; // close() ends the wait itself: the native callback is dropped then
      const rc = native.wait(h, -1, (code: number, detail: string) => {
        this.settleWait = null;
        if (code === 0) resolve(true);
        else if (code === WAIT_INTR || this.handle === null) resolve(false);
        else reject(new MmbusError(native.errname(code) as MmbusError['code'], code, detail));
      });
      if (rc < 0) {
        this.settleWait = null;
        reject(nativeError(rc, `waiting on '${this.channel.name}'`));
      }
    });
  }

  /** The next batch, waiting (off the event loop) until one is there; null once closed. */
  async next(): Promise<Batch<T> | null> {
    for (;;) {
      if (this.handle === null) return null;
      const b = this.poll();
      if (b) return b;
      if (!(await this.waitForData(this.handle))) return null;
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch<T>> {
    return {
      next: async (): Promise<IteratorResult<Batch<T>>> => {
        const b = await this.next();
        return b ? { value: b, done: false } : { value: undefined, done: true };
      },
      // Leaving the loop (break, return, or an exception in its body) counts the batch as consumed.
      return: async (): Promise<IteratorResult<Batch<T>>> => {
        if (this.handle) this.ackHeld(this.handle);
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Calls fn for every record, like the original Subscribe(channel, callback). Returning false from
   * fn stops and closes the subscription. Resolves when stopped (by fn, close() or the signal);
   * rejects with fn's exception, leaving its batch unacknowledged (a durable subscriber gets it again).
   */
  async onMessage(fn: (record: T) => boolean | void): Promise<void> {
    for (;;) {
      const b = await this.next();
      if (!b) return;
      for (let i = 0; i < b.length; i++) {
        if (!b.intact(i)) continue; // overwritten while this subscriber was not counted: counted in lost
        let more: boolean | void;
        try {
          more = fn(b.get(i));
        } catch (err) {
          this.holding = false; // not consumed: the batch is delivered again (durable subscribers)
          throw err;
        }
        if (more === false) {
          // Records up to and including this one are consumed; the rest of the batch is not.
          this.holding = false;
          check(native.ack(this.live(), i + 1), `acknowledging on '${this.channel.name}'`);
          this.close();
          return;
        }
      }
    }
  }

  /** Detaches: an anonymous slot is freed; a durable one keeps its cursor for the next run. */
  close(): void {
    const h = this.handle;
    if (h === null) return;
    if (this.holding && !this.settleWait) {
      this.holding = false;
      native.ack(h);
    }
    this.lostCount = native.lost(h);
    this.handle = null;
    const settle = this.settleWait;
    this.settleWait = null;
    clearInterval(this.heartbeat);
    if (this.signal && this.abortListener) this.signal.removeEventListener('abort', this.abortListener);
    check(native.subClose(h), `closing a subscription of '${this.channel.name}'`);
    this.onClose();
    settle?.(false);
  }
}
