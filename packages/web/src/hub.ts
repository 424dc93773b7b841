// One served channel, shared by every client that uses it: the channel opened once, one subscription
// that asks for the union of the keys clients watch (or every record, for tails and overviews), and
// what it saw since the last frame: which keys changed (keyed) and the newest records (tails). Values
// are not copied here: each frame reads the latest value of a changed key from the channel's key
// table when it is built, so a key that changed ten times between frames is sent once, and fresh.
import { inspectChannel, openChannel, type Batch, type Channel, type ChannelInspector, type RecordView, type Subscription } from '@mmbus/core';
import { MmbusError } from '@mmbus/runtime';

import type { ServedType } from './types.js';

/** What a hub tells the clients of its channel. */
export interface HubListener {
  /** The hub stopped (the channel was removed, replaced, or failed): `err` says why. */
  dropped(err: MmbusError): void;
}

/** How long a hub reads a backlog before it lets timers and I/O run, ms. */
const YIELD_MS = 5;

/** [first, count] runs as key ranges, for one ask()/unask() call. */
const toRanges = (runs: readonly [number, number][]): { from: number; to: number }[] => runs.map(([from, n]) => ({ from, to: from + n }));

export class Hub {
  readonly name: string;
  readonly type: ServedType;
  readonly channel: Channel<RecordView>;
  readonly keyCount: number;
  /** Keyed: how many of this hub's client subscriptions watch each key. */
  private readonly refs: Uint32Array;
  /** Clients that need every record (tails, overviews): the subscription asks every key meanwhile. */
  private everything = 0;
  private readonly sub: Subscription<RecordView>;
  /** Keyed: keys changed since the last takeChanged() (each once), and a flag per key. */
  private changed: number[] = [];
  private readonly isChanged: Uint8Array;
  /** Tails: the newest TAIL records seen (a ring of wire-size records) and how many records were seen. */
  readonly tailMax: number;
  private readonly tailRing: Uint8Array;
  /** Sequence numbers of the records in tailRing, by slot. */
  private readonly tailSeqs: Float64Array;
  /** Records the subscription saw, in total (the tail position). */
  seen = 0;
  /**
   * The sequence number after the newest record the subscription has passed: every record before it is
   * committed (or lost), so a backfill may read it from the ring. Keyed: raised by snapshots too (the
   * newest value of every key lies before the subscription's position).
   */
  nextSeq = 0;
  /**
   * The sequence number from which the subscription gets every record (tails: plain channels always;
   * keyed ones from when the ask for every key took effect — its snapshot says where); -1 until known.
   */
  allFrom = 0;
  /** Backfills read the ring through this (opened on the first one): reading needs no subscriber slot. */
  private inspector: ChannelInspector | null = null;
  private readonly dir: string;
  private readonly listeners = new Set<HubListener>();
  private stopped = false;
  readonly done: Promise<void>;

  constructor(name: string, dir: string, type: ServedType, tailMax: number) {
    this.name = name;
    this.dir = dir;
    this.type = type;
    this.channel = openChannel(name, type.cls, { dir, create: false });
    this.keyCount = this.channel.keyCount;
    if (this.keyCount) this.allFrom = -1;
    this.refs = new Uint32Array(this.keyCount);
    this.isChanged = new Uint8Array(this.keyCount);
    this.tailMax = tailMax;
    this.tailRing = new Uint8Array(tailMax * type.recordBytes);
    this.tailSeqs = new Float64Array(tailMax);
    try {
      // read before subscribing (a new subscriber starts at the head): never past where it starts
      this.nextSeq = this.channel.head();
      // keyed: nothing asked yet, so no record is handed out until a client asks (keys: [])
      this.sub = this.channel.subscribe(this.keyCount ? { keys: [] } : {});
    } catch (err) {
      this.channel.close();
      throw err;
    }
    this.done = this.run();
  }

  addListener(l: HubListener): void {
    this.listeners.add(l);
  }

  removeListener(l: HubListener): void {
    this.listeners.delete(l);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Keyed: a client subscription watches these keys now ([first, count] ranges, none watched by it before). */
  watch(ranges: readonly [number, number][]): void {
    const ask: [number, number][] = [];
    for (const [first, count] of ranges) {
      let runStart = -1;
      for (let k = first; k < first + count; k++) {
        const was = this.refs[k]!;
        this.refs[k] = was + 1;
        if (was === 0 && this.everything === 0) {
          if (runStart < 0) runStart = k;
        } else if (runStart >= 0) {
          ask.push([runStart, k - runStart]);
          runStart = -1;
        }
      }
      if (runStart >= 0) ask.push([runStart, first + count - runStart]);
    }
    // the snapshot marks each newly asked key changed: so a value published before the ask took effect
    // (asks wait for the subscription's wait to be interrupted) still reaches every client that watches it
    if (ask.length) this.sub.ask(toRanges(ask), { snapshot: true }); // one call: each is a wait interrupted
  }

  /** Keyed: a client subscription stops watching these keys (each watched by it before). */
  unwatch(ranges: readonly [number, number][]): void {
    const unask: [number, number][] = [];
    for (const [first, count] of ranges) {
      let runStart = -1;
      for (let k = first; k < first + count; k++) {
        const now = this.refs[k]! - 1;
        this.refs[k] = now;
        if (now === 0 && this.everything === 0) {
          if (runStart < 0) runStart = k;
        } else if (runStart >= 0) {
          unask.push([runStart, k - runStart]);
          runStart = -1;
        }
      }
      if (runStart >= 0) unask.push([runStart, first + count - runStart]);
    }
    if (unask.length) this.sub.unask(toRanges(unask));
  }

  /** A client needs every record (a tail or an overview) from now on, or no longer (`on` false). */
  needEverything(on: boolean): void {
    if (!this.keyCount) return; // a plain subscription gets every record anyway
    if (on) {
      // with a snapshot: a client that asked a key before this ask took effect gets what came meanwhile
      if (this.everything++ === 0) {
        this.allFrom = -1;
        this.sub.ask('all', { snapshot: true });
      }
      return;
    }
    if (--this.everything > 0) return;
    // give back the keys no client watches
    const unask: [number, number][] = [];
    let runStart = -1;
    for (let k = 0; k < this.keyCount; k++) {
      if (this.refs[k] === 0) {
        if (runStart < 0) runStart = k;
      } else if (runStart >= 0) {
        unask.push([runStart, k - runStart]);
        runStart = -1;
      }
    }
    if (runStart >= 0) unask.push([runStart, this.keyCount - runStart]);
    if (unask.length) this.sub.unask(toRanges(unask));
  }

  /** Keyed: the keys changed since the previous call, each once (the caller owns the array). */
  takeChanged(): number[] {
    const out = this.changed;
    if (out.length === 0) return out;
    this.changed = [];
    for (const k of out) this.isChanged[k] = 0;
    return out;
  }

  /**
   * Tails: the records seen after position `from` (at most tailMax, the newest), copied to `out` one
   * after the other; returns how many were copied and how many were skipped (seen but not copied).
   */
  tailSince(from: number, out: Uint8Array, minSeq = 0): { count: number; skipped: number } {
    let fresh = this.seen - from;
    // records before minSeq went out in the client's backfill: neither sent again nor counted as skipped
    // (the records seen are consecutive: the subscription gets every record while anyone tails)
    fresh -= Math.max(0, Math.min(fresh, minSeq - (this.nextSeq - fresh)));
    const rb = this.type.recordBytes;
    let count = 0;
    for (let i = Math.min(fresh, this.tailMax); i > 0; i--) {
      const slot = (this.seen - i) % this.tailMax;
      if (this.tailSeqs[slot]! < minSeq) continue;
      out.set(this.tailRing.subarray(slot * rb, slot * rb + rb), count * rb);
      count++;
    }
    return { count, skipped: fresh - count };
  }

  /**
   * Backfills: copies the records from sequence number `from` (wire size each) into `out`, at most
   * `max` and none at or past `end`; returns where it stopped and how many it could not read (overwritten
   * since). Only records before nextSeq are read: those are committed.
   */
  readRing(from: number, end: number, max: number, out: Uint8Array): { next: number; count: number; skipped: number } {
    const to = Math.min(end, this.nextSeq, from + max);
    if (to <= from) return { next: from, count: 0, skipped: 0 };
    this.inspector ??= inspectChannel(this.name, this.dir);
    const rb = this.type.recordBytes;
    const buf = new Uint8Array(this.channel.info.recordSize);
    let count = 0;
    for (let seq = from; seq < to; seq++) {
      if (!this.inspector.read(seq, buf)) continue; // overwritten meanwhile (or given up by its publisher)
      out.set(buf.subarray(0, rb), count * rb);
      count++;
    }
    return { next: to, count, skipped: to - from - count };
  }

  private markChanged(key: number): void {
    if (this.isChanged[key]) return;
    this.isChanged[key] = 1;
    this.changed.push(key);
  }

  private take(batch: Batch<RecordView>): void {
    const keyed = this.keyCount > 0;
    const rb = this.type.recordBytes;
    // the last tailMax records of the batch are all a tail can get: copy only those
    const tailFrom = Math.max(0, batch.length - this.tailMax);
    if (batch.length) {
      // the last record's sequence: a snapshot's values are each key's newest, all before the position
      let last = batch.seqOf(batch.length - 1);
      if (batch.snapshot) for (let i = 0; i < batch.length - 1; i++) last = Math.max(last, batch.seqOf(i));
      if (this.allFrom < 0 && this.everything > 0 && !batch.snapshot) this.allFrom = Math.max(this.nextSeq, batch.seqOf(0));
      this.nextSeq = Math.max(this.nextSeq, last + 1);
      // the ask for every key took effect with this snapshot: records of keys asked only now were left
      // out before it (their newest values are in it), every record after it comes
      if (this.allFrom < 0 && this.everything > 0 && batch.snapshot) this.allFrom = this.nextSeq;
    }
    for (let i = 0; i < batch.length; i++) {
      if (!batch.wanted(i)) continue;
      if (keyed) this.markChanged(batch.keyOf(i));
      if (batch.snapshot) continue; // snapshot values are no new records: not for tails
      if (i >= tailFrom) {
        const r = batch.get(i);
        const slot = this.seen % this.tailMax;
        this.tailRing.set(new Uint8Array(r.view.buffer, r.view.byteOffset + r.offset, rb), slot * rb);
        this.tailSeqs[slot] = batch.seqOf(i);
      }
      this.seen++;
    }
  }

  private async run(): Promise<void> {
    try {
      let since = performance.now();
      for (;;) {
        const batch = await this.sub.next();
        if (!batch) break;
        this.take(batch);
        // a backlog comes as batches that resolve at once, a chain of microtasks that the frame timer
        // and the sockets would wait behind until the hub caught up: give them their turn now and then
        if (performance.now() - since > YIELD_MS) {
          await new Promise((r) => setImmediate(r));
          since = performance.now();
        }
      }
    } catch (err) {
      const e = err instanceof MmbusError ? err : new MmbusError('MMBUS_E_IO', String(err));
      if (!this.stopped) for (const l of [...this.listeners]) l.dropped(e);
    } finally {
      this.close();
    }
  }

  /**
   * Keyed: fn's result on the latest value of `key` read in place from the channel's key table, or
   * undefined when the key has none. fn may run again when a publisher replaced the value while it read
   * (the read is checked after): it must only read or copy. Not snapshot(): that takes key ranges, one
   * native call per range, so one per key for the scattered keys of a frame; this makes no call.
   */
  readLatest<R>(key: number, fn: (view: DataView, offset: number) => R): R | undefined {
    return this.channel.readLatest(key, (r) => fn(r.view, r.offset));
  }

  get closed(): boolean {
    return this.stopped;
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.sub.close();
    this.inspector?.close();
    this.channel.close();
  }
}
