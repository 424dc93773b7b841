import type { Channel, RecordInput, RecordView } from './channel.js';
import { check, closedError, MmbusError, nativeError } from './errors.js';
import { keyRanges, type Keys } from './keys.js';
import { native, type SubHandle } from './native.js';

export interface SubscribeOptions {
  /** Durable subscriber name: its cursor lives in the channel file and survives restarts and crashes. */
  name?: string;
  /** Where a new subscriber starts: 'newest' (default) or 'oldest' record still in the ring. */
  start?: 'newest' | 'oldest';
  /** Most records handed out in one batch (default 1024: faster than larger batches, tools/bench/results/maxbatch-ab-2026-12-03.txt). */
  maxBatch?: number;
  /** Aborting ends the iteration (and onMessage) and closes the subscription. */
  signal?: AbortSignal;
  /**
   * Keyed channels: only records of these keys reach this subscriber (batches, iteration, onMessage).
   * Default: every record. Change the set while running with ask() and unask().
   */
  keys?: Keys;
  /**
   * Keyed channels, with `keys`: first each asked key's latest value (batches with `snapshot` true),
   * then exactly the changes after it — no gap, nothing twice. 'changed': a durable subscriber that
   * resumes gets only the keys whose latest value is newer than what it had acknowledged before it went
   * away (what changed meanwhile, if it asked for the same keys then); otherwise as true. Default false.
   */
  snapshot?: boolean | 'changed';
  /**
   * Microseconds the subscriber looks for the next record, right after records were flowing, before
   * it sleeps (its waiter thread spins meanwhile; JavaScript itself looks for up to 20 µs first).
   * Default 20: a longer spin bought no latency here (the thread → event loop hop costs more) and
   * kept a core busy — a subscriber of 10,000 records/s used 98 % of one with the C default of 250 µs,
   * 54 % with 20, 35 % with 0 (README, Benchmarks). 0: sleep at once. At most 1,000,000.
   */
  spinUs?: number;
  /**
   * Coalescing: after a wake-up that brought records, the next one comes no sooner than this many
   * microseconds later; records published meanwhile arrive together, in one batch (up to `maxBatch`).
   * A busy stream then costs a fraction of the CPU — one wake-up for many records instead of one for
   * a few — at the price of up to this much latency while it is busy; a record after a quiet spell
   * longer than this is not delayed, nor are snapshot values, close() or ask()/unask(), and the
   * window ends early before the ring could fill (docs/api.md). Default 0 (off); at most 100,000
   * (100 ms).
   */
  coalesceUs?: number;
}

/** How ask() takes a snapshot. */
export interface AskOptions {
  /** Each newly asked key's latest value first (default true); 'changed' as in SubscribeOptions. */
  snapshot?: boolean | 'changed';
}

const SNAPSHOT_CODES = { false: 0, true: 1, changed: 2 } as const;
function snapshotCode(v: unknown, what: string): number {
  if (v === undefined || v === false) return 0;
  if (v === true) return 1;
  if (v === 'changed') return 2;
  throw new MmbusError('MMBUS_E_INVAL', `${what} must be true, false or 'changed', not ${JSON.stringify(v) ?? String(v)}`);
}

const HEARTBEAT_MS = 1000;
/** Index of a u64's low half in a Uint32Array view: the file is in the machine's byte order. */
const LOW_HALF = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
const {
  waitInterrupted: WAIT_INTR,
  ackedWithLoss: ACKED_WITH_LOSS,
  spinNone: SPIN_NONE,
  spinMaxUs: SPIN_MAX_US,
  coalesceMaxUs: COALESCE_MAX_US,
} = native.constants;
/** SubscribeOptions.spinUs when not given */
const DEFAULT_SPIN_US = 20;
/** How long next() looks for a record that follows at once before it parks (see spinForData). */
const SPIN_MAX_NS = 20_000;
const SPIN_MIN_NS = 1_000;

/** Out of line, so that get() stays small enough to be inlined into the caller's loop. */
function noSuchRecord(i: number, length: number): never {
  throw new MmbusError('MMBUS_E_INVAL', `record ${i} of a batch of ${length}: no such record`);
}

/** A batch's iterator: a class, not a generator (for-of over a batch: 92 → 65 ns per record, best of 10). */
class BatchIterator<T extends RecordView> implements Iterator<T> {
  private i = 0;
  private readonly batch: Batch<T>;
  constructor(batch: Batch<T>) {
    this.batch = batch;
  }

  next(): IteratorResult<T> {
    const b = this.batch;
    while (this.i < b.length) {
      const i = this.i++;
      if (b.wanted(i)) return { value: b.get(i), done: false };
    }
    return { value: undefined, done: true };
  }

  [Symbol.iterator](): Iterator<T> {
    return this;
  }
}

/**
 * Records [seq, seq + length) read in place from the mapping. Valid until the iteration moves on:
 * `get(i)` and the iterator re-point one flyweight, so keep values, not records.
 */
export class Batch<T extends RecordView> implements Iterable<T> {
  /** Sequence number of the batch's first record in the ring (see seqOf for each record). */
  seq = 0;
  length = 0;
  /** Keyed channels: these are snapshot values (each key's latest record, copied), not changes. */
  snapshot = false;
  /** keyed: which records of the polled range are handed out (null: all of them) */
  private picked: Uint32Array | null = null;
  private snapSeqs: Float64Array | null = null;
  private snapKeys: Uint32Array | null = null;
  /** @internal set after unask() while the batch is in hand: records of keys given back are skipped */
  keep: ((key: number) => boolean) | null = null;
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
    if (this.snapshot) return 0;
    const raw = this.channel.copying ? this.overwrittenWhileCopied : this.overrunOf();
    if (!this.picked || raw === 0) return raw;
    let n = 0; // records handed out that lie in the overwritten prefix of the polled range
    while (n < this.length && (this.picked[n] as number) < raw) n++;
    return n;
  }

  /** The sequence number of record i (snapshot values: the sequence of the record they are). */
  seqOf(i: number): number {
    if (this.snapSeqs) return this.snapSeqs[i] as number;
    return this.seq + this.raw(i);
  }

  /** Keyed channels: the key of record i. */
  keyOf(i: number): number {
    if (this.snapKeys) return this.snapKeys[i] as number;
    return this.channel.keyOf(this.get(i));
  }

  /** the index of record i in the polled range */
  private raw(i: number): number {
    return this.picked ? (this.picked[i] as number) : i;
  }

  /**
   * Whether record i is still the one committed at its sequence number: false once a publisher has
   * overwritten it (only possible for a subscriber that stopped counting: stopped, or silent past the
   * heartbeat time-out). The iterator and onMessage() skip such records; a record being overwritten
   * right now is caught by overwritten() after reading.
   */
  intact(i: number): boolean {
    if (this.snapshot) return true;
    i = this.raw(i);
    if (this.channel.copying) return i >= this.overwrittenWhileCopied;
    const stamps = this.channel.stampsLow;
    let slot = this.firstSlot + i;
    if (slot >= this.slots) slot -= this.slots;
    // the low half of the slot's stamp is (sequence + 1) mod 2^32 while the record is there
    // >>> 0 is the sequence mod 2^32 (exact below 2^53), with no floating-point modulo call
    return stamps[slot * 2 + LOW_HALF] === (this.seq + i + 1) >>> 0;
  }

  /** @internal */
  reset(seq: number, length: number): void {
    const ch = this.channel;
    this.unpick();
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
    this.unpick();
    this.seq = seq;
    this.length = length;
    if (this.view !== view) this.record.wrap(view, 0);
    this.view = view;
    this.base = 0;
    this.slots = Infinity;
    this.firstSlot = 0;
    this.overwrittenWhileCopied = overwritten;
  }

  /** @internal snapshot values copied to view (value i at i * stride), with their keys and sequences */
  resetSnapshot(length: number, view: DataView, keys: Uint32Array, seqs: Float64Array): void {
    this.resetCopied(0, length, view, 0);
    this.snapshot = true;
    this.snapKeys = keys;
    this.snapSeqs = seqs;
  }

  /** @internal copying mode: records [0, n) of the polled range may have been overwritten since they were copied */
  overwrittenUntil(n: number): void {
    if (n > this.overwrittenWhileCopied) this.overwrittenWhileCopied = n;
  }

  /** @internal only records picked[0 .. n) of the polled range are handed out */
  pick(picked: Uint32Array, n: number): void {
    this.picked = picked;
    this.length = n;
  }

  private unpick(): void {
    this.picked = null;
    this.snapshot = false;
    this.snapKeys = null;
    this.snapSeqs = null;
    this.keep = null;
  }

  /** @internal still to be handed out: intact, and (after unask) of a key still asked */
  wanted(i: number): boolean {
    return this.intact(i) && (this.keep === null || this.keep(this.keyOf(i)));
  }

  /** @internal how many records of the polled range up to and including record i */
  rawCount(i: number): number {
    return this.raw(i) + 1;
  }

  /** The i-th record of the batch (the same flyweight object, re-pointed). */
  get(i: number): T {
    if (!(i >= 0 && i < this.length)) noSuchRecord(i, this.length);
    let slot = this.firstSlot + this.raw(i);
    if (slot >= this.slots) slot -= this.slots;
    this.record.moveTo(this.base + slot * this.channel.stride);
    return this.record;
  }

  /**
   * The records still intact (see intact()), one flyweight re-pointed: keep values, not records
   * (`[...batch]` is n times the same object). To keep records, copy them: toArray() or toObjects().
   */
  [Symbol.iterator](): Iterator<T> {
    return new BatchIterator(this);
  }

  /**
   * Copies of the records the iterator hands out, each a record of its own (its own buffer): they stay
   * valid after the batch moves on and after the channel is closed. Allocates; read in place where
   * speed matters.
   */
  toArray(): T[] {
    const type = this.channel.type;
    const out: T[] = [];
    for (let i = 0; i < this.length; i++) {
      if (!this.wanted(i)) continue;
      const r = this.get(i);
      const copy = new Uint8Array(type.SIZE);
      copy.set(new Uint8Array(r.view.buffer, r.view.byteOffset + r.offset, type.SIZE));
      out.push(new type(new DataView(copy.buffer)));
    }
    return out;
  }

  /** The records the iterator hands out as plain objects (each record's toObject()). */
  toObjects(): Required<RecordInput<T>>[] {
    const out: Required<RecordInput<T>>[] = [];
    for (let i = 0; i < this.length; i++) {
      if (this.wanted(i)) out.push((this.get(i) as unknown as { toObject(): Required<RecordInput<T>> }).toObject());
    }
    return out;
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
  /** next(): the last poll found records (then it looks briefly before parking), and for how long */
  private flowing = false;
  private spinBudgetNs = SPIN_MAX_NS;
  /** SubscribeOptions.coalesceUs > 0 */
  private readonly coalescing: boolean;
  /** the cursor when poll() last found nothing */
  private emptyAt = 0;
  /** keyed: asked for keys (then only their records are handed out, picked by the C library) */
  private asking = false;
  /** keyed: which keys are asked now (a byte per key), for a batch in hand when keys are given back */
  private asked: Uint8Array | null = null;
  private picked: Uint32Array | null = null;
  private snapArea: { bytes: Uint8Array; view: DataView; keys: Uint32Array; seqs: Float64Array } | null = null;
  /** ask/unask called while the waiter thread has the subscriber: done when the wait returns */
  private readonly deferred: (() => void)[] = [];

  /** @internal use channel.subscribe() */
  constructor(channel: Channel<T>, options: SubscribeOptions, onClose: () => void) {
    this.channel = channel;
    this.name = options.name || undefined;
    this.onClose = onClose;
    const maxBatch = options.maxBatch ?? 1024;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new MmbusError('MMBUS_E_INVAL', `maxBatch ${maxBatch} must be a positive integer`);
    this.maxBatch = maxBatch;
    const start = options.start ?? 'newest';
    if (start !== 'newest' && start !== 'oldest') throw new MmbusError('MMBUS_E_INVAL', `start must be 'newest' or 'oldest', not '${String(start)}'`);
    if (options.name !== undefined && typeof options.name !== 'string') throw new MmbusError('MMBUS_E_NAME', 'subscriber name must be a string');
    if (options.signal?.aborted) throw new MmbusError('MMBUS_E_INTR', 'the signal was aborted before subscribing');
    const snapshot = snapshotCode(options.snapshot, 'option snapshot');
    const spinUs = options.spinUs ?? DEFAULT_SPIN_US;
    if (!Number.isInteger(spinUs) || spinUs < 0 || spinUs > SPIN_MAX_US)
      throw new MmbusError('MMBUS_E_INVAL', `spinUs ${String(spinUs)} must be an integer from 0 (no spin) to ${SPIN_MAX_US}`);
    const coalesceUs = options.coalesceUs ?? 0;
    if (!Number.isInteger(coalesceUs) || coalesceUs < 0 || coalesceUs > COALESCE_MAX_US)
      throw new MmbusError('MMBUS_E_INVAL', `coalesceUs ${String(coalesceUs)} must be an integer from 0 (off) to ${COALESCE_MAX_US}`);
    this.coalescing = coalesceUs > 0;
    const h = native.subscribe(channel.liveHandle(), this.name ?? null, start === 'oldest' ? 1 : 0, spinUs === 0 ? SPIN_NONE : spinUs, coalesceUs);
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
    if (options.keys !== undefined || snapshot) {
      try {
        if (!channel.keyCount) {
          throw new MmbusError('MMBUS_E_STATE', `options keys and snapshot need a keyed channel; '${channel.name}' is not keyed`);
        }
        if (options.keys === undefined) throw new MmbusError('MMBUS_E_INVAL', 'option snapshot needs the option keys (which keys)');
        if (options.keys !== 'all' || snapshot) this.askNow(options.keys, snapshot);
      } catch (err) {
        this.close();
        throw err;
      }
    }
  }

  /**
   * Keyed channels: asks for more keys. With a snapshot (the default) each newly asked key's latest
   * value comes first (a batch with `snapshot` true), then its changes. Keys asked already are left as
   * they are. Allowed at any time, also from inside the iteration.
   */
  ask(keys: Keys, options: AskOptions = {}): void {
    const snapshot = snapshotCode(options.snapshot ?? true, 'option snapshot');
    this.live();
    if (!this.channel.keyCount) throw new MmbusError('MMBUS_E_STATE', `'${this.channel.name}' is not a keyed channel`);
    const ranges = keyRanges(keys, this.channel.keyCount); // validated now, not when a wait returns
    this.whenIdle(() => this.askRanges(ranges, snapshot));
  }

  /** Keyed channels: gives keys back: no record of them reaches this subscriber any more. */
  unask(keys: Keys): void {
    this.live();
    if (!this.channel.keyCount) throw new MmbusError('MMBUS_E_STATE', `'${this.channel.name}' is not a keyed channel`);
    const ranges = keyRanges(keys, this.channel.keyCount);
    const asked = this.startAsking();
    for (const [first, count] of ranges) asked.fill(0, first, first + count);
    if (this.holding) this.batch.keep = (k) => asked[k] === 1; // the rest of the batch in hand
    this.whenIdle(() => {
      for (const [first, count] of ranges) check(native.unask(this.live(), first, count), `unask on '${this.channel.name}'`);
    });
  }

  private askNow(keys: Keys, snapshot: number): void {
    this.askRanges(keyRanges(keys, this.channel.keyCount), snapshot);
  }

  private startAsking(): Uint8Array {
    this.asking = true;
    this.picked ??= new Uint32Array(this.maxBatch);
    return (this.asked ??= new Uint8Array(this.channel.keyCount));
  }

  private askRanges(ranges: [number, number][], snapshot: number): void {
    const h = this.live();
    const asked = this.startAsking();
    if (snapshot) this.ackHeld(h); // the C library takes snapshots with no batch in hand
    for (const [first, count] of ranges) {
      check(native.ask(h, first, count, snapshot), `ask on '${this.channel.name}'`);
      asked.fill(1, first, first + count);
    }
  }

  /** Runs op now, or — while a wait has the subscriber — as soon as the wait is interrupted. */
  private whenIdle(op: () => void): void {
    if (!this.settleWait) {
      op();
      return;
    }
    this.deferred.push(op);
    native.interrupt(this.live());
  }

  private runDeferred(): void {
    // by index (shift() per op costs the queue's length each); ops queued meanwhile run too, and an op
    // that throws leaves the ones after it queued
    let i = 0;
    try {
      while (i < this.deferred.length) (this.deferred[i++] as () => void)();
    } finally {
      this.deferred.splice(0, i);
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
      throw new MmbusError('MMBUS_E_STATE', `a wait of this subscription to '${this.channel.name}' is in progress: iterate or poll, not both at once`);
    }
    // The common case acknowledges the batch in hand and polls the next in one native call.
    this.emptyAt = -1;
    let ackFirst = this.holding && !this.asking && this.deferred.length === 0;
    if (ackFirst) {
      this.holding = false;
    } else {
      this.ackHeld(h);
      this.runDeferred();
      if (this.asking) {
        const snap = this.takeSnapshot(h);
        if (snap) return snap;
      }
    }
    // keyed: a batch with nothing asked for in it is consumed at once; a few of them per call
    for (let tries = 0; tries < 16; tries++) {
      if (ackFirst) this.holding = false; // this poll acknowledges the batch in hand first
      const n = this.copyBytes
        ? native.pollCopy(h, this.maxBatch, this.out, this.copyBytes, ackFirst)
        : native.poll(h, this.maxBatch, this.out, ackFirst);
      ackFirst = false;
      if (n < 0) throw nativeError(n, `polling '${this.channel.name}'`);
      if (n === 0 && (this.out[0] as number) === ACKED_WITH_LOSS) {
        // the batch acknowledged first was overwritten meanwhile: its keys' values come again, first
        const snap = this.asking ? this.takeSnapshot(h) : null;
        if (snap) return snap;
        continue;
      }
      if (n === 0) {
        this.emptyAt = this.out[0] as number; // the cursor: where the next record will be
        return null;
      }
      if (this.copyView) this.batch.resetCopied(this.out[0] as number, n, this.copyView, this.out[2] as number);
      else this.batch.reset(this.out[0] as number, n);
      this.holding = true;
      if (!this.asking) return this.batch;
      const picked = this.picked as Uint32Array;
      const m = check(native.wants(h, picked), `filtering keys on '${this.channel.name}'`);
      // copying mode: wants() read the keys in the ring, after the copy; a record overwritten since the
      // copy was filtered by its successor's key, so such records count as overwritten too
      if (this.copyView && m > 0) this.batch.overwrittenUntil(check(native.overrun(h), `checking '${this.channel.name}'`));
      if (m > 0) {
        this.batch.pick(picked, m);
        return this.batch;
      }
      ackFirst = true; // nothing asked for in it: acknowledged by the next poll, in the same native call
    }
    if (ackFirst) this.ackHeld(h);
    return null;
  }

  /** Pending snapshot values (keyed), as a batch; null when none are pending. */
  private takeSnapshot(h: SubHandle): Batch<T> | null {
    const stride = this.channel.stride;
    const area = (this.snapArea ??= (() => {
      const bytes = new Uint8Array(this.maxBatch * stride);
      return { bytes, view: new DataView(bytes.buffer), keys: new Uint32Array(this.maxBatch), seqs: new Float64Array(this.maxBatch) };
    })());
    const m = check(native.snapshot(h, area.bytes, area.keys, area.seqs), `snapshot of '${this.channel.name}'`);
    if (m === 0) return null;
    this.batch.resetSnapshot(m, area.view, area.keys, area.seqs);
    return this.batch;
  }

  /** Resolves true when a record is waiting, false when the subscription was closed or aborted. */
  private waitForData(h: SubHandle): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.settleWait = resolve; // close() ends the wait itself: the native callback is dropped then
      const rc = native.wait(h, -1, (code: number, detail: string) => {
        this.settleWait = null;
        if (code === 0) resolve(true);
        // interrupted by close() (the handle is gone then), or by ask/unask: look again
        else if (code === WAIT_INTR || this.handle === null) resolve(this.handle !== null);
        else reject(new MmbusError(native.errname(code) as MmbusError['code'], detail));
      });
      if (rc < 0) {
        this.settleWait = null;
        reject(nativeError(rc, `waiting on '${this.channel.name}'`));
      }
    });
  }

  /** The next batch, waiting (off the event loop) until one is there; null once closed. */
  next(): Promise<Batch<T> | null> {
    return this.nextAfter(false);
  }

  /** next(), when a poll just found nothing (polledEmpty) or not */
  private async nextAfter(polledEmpty: boolean): Promise<Batch<T> | null> {
    for (;;) {
      if (this.handle === null) return null;
      const b = polledEmpty ? null : this.poll();
      polledEmpty = false;
      if (b) {
        this.flowing = true;
        return b;
      }
      const spin = this.flowing && !this.coalescing; // coalescing: the waiter thread holds the wake-up back
      this.flowing = false; // one look per empty poll that follows a batch: bounded, whatever the ring holds
      if (spin && this.spinForData()) continue;
      if (!(await this.waitForData(this.handle))) return null;
      this.spinBudgetNs = Math.max(this.spinBudgetNs, SPIN_MIN_NS); // may grow again after a wake-up
    }
  }

  /**
   * Data was just flowing and the ring is empty: looks at the cursor's stamp in the mapping for a few
   * microseconds before parking (a record that follows at once then costs no wake-up through the
   * waiter thread). Only a hint — poll() decides what is there. The budget halves after every look
   * that found nothing (two cores shared by more processes: no long spins) and doubles after a hit.
   */
  private spinForData(): boolean {
    const budget = this.spinBudgetNs;
    if (budget < SPIN_MIN_NS || this.channel.copying || this.emptyAt < 0) return false;
    const stamps = this.channel.stampsLow;
    const at = (this.emptyAt % this.channel.capacity) * 2 + LOW_HALF;
    const now = (this.emptyAt + 1) >>> 0; // the stamp's low half once record emptyAt is there
    const t0 = process.hrtime.bigint();
    const end = t0 + BigInt(budget);
    // one look per clock read: the read (tens of ns) spaces the looks, so this reader does not pull the
    // stamp line away from the publisher writing it on every look (JS has no pause instruction)
    do {
      if (Atomics.load(stamps, at) === now) {
        this.spinBudgetNs = Math.min(budget * 2, SPIN_MAX_NS);
        return true;
      }
    } while (process.hrtime.bigint() < end);
    this.spinBudgetNs = budget >> 1;
    return false;
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch<T>> {
    return {
      // A batch that is there already is handed over without an async function of ours in between.
      next: (): Promise<IteratorResult<Batch<T>>> => {
        try {
          const b = this.handle === null ? null : this.poll();
          if (b) {
            this.flowing = true;
            return Promise.resolve({ value: b, done: false });
          }
        } catch (err) {
          return Promise.reject(err as Error);
        }
        return this.nextAfter(this.handle !== null).then((b) => (b ? { value: b, done: false } : { value: undefined, done: true }));
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
  async onMessage(fn: (record: T, batch: Batch<T>) => boolean | void): Promise<void> {
    for (;;) {
      const b = await this.next();
      if (!b) return;
      for (let i = 0; i < b.length; i++) {
        // skipped: overwritten while this subscriber was not counted (counted in lost), or a key given back
        if (!b.wanted(i)) continue;
        let more: boolean | void;
        try {
          more = fn(b.get(i), b);
        } catch (err) {
          this.holding = false; // not consumed: the batch is delivered again (durable subscribers)
          throw err;
        }
        if (more === false) {
          // Records up to and including this one are consumed; the rest of the batch is not.
          if (this.holding) {
            this.holding = false;
            check(native.ack(this.live(), b.rawCount(i)), `acknowledging on '${this.channel.name}'`);
          }
          this.close();
          return;
        }
        if (this.handle === null) return; // fn closed it
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
