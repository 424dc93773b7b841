import { describe, expect, it } from 'vitest';

import { MmbusError, openChannel } from '../src/index.js';
import { Person } from '@mmbus/messages';
import { useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

const person = (i: number) => ({ index: BigInt(i), name: `person-${i}`, age: i % 100 });

/** Iterates `sub` until it has `n` records, each checked whole; their indexes in arrival order. */
async function indexesOf(sub: AsyncIterable<Iterable<{ name: string; indexNumber: number }>>, n: number): Promise<number[]> {
  const seen: number[] = [];
  for await (const batch of sub) {
    for (const r of batch) {
      expect(r.name).toBe(`person-${r.indexNumber}`);
      seen.push(r.indexNumber);
    }
    if (seen.length >= n) break;
  }
  return seen;
}

describe('subscribe', () => {
  it('iterates batches with for await, waiting for records published later', async () => {
    const ch = openChannel('s', Person, { dir, capacity: 1024 });
    const sub = ch.subscribe();
    let published = 0;
    const timer = setInterval(() => {
      ch.publishBatch(10, (r, i) => r.assign(person(published + i)));
      published += 10;
      if (published === 100) clearInterval(timer);
    }, 2);
    expect(await indexesOf(sub, 100)).toEqual([...Array(100).keys()]);
    expect(ch.stats().subscribers[0]!.cursor).toBe(100); // leaving the loop acknowledged the last batch
    sub.close();
    ch.close();
  });

  it('starts at the newest record, or at the oldest still in the ring (late join)', () => {
    const ch = openChannel('s', Person, { dir, capacity: 16, policy: 'overwrite' });
    for (let i = 0; i < 40; i++) ch.publish(person(i));
    const newest = ch.subscribe();
    const oldest = ch.subscribe({ start: 'oldest' });
    expect(newest.poll()).toBeNull();
    const b = oldest.poll()!;
    expect(b.length).toBe(16);
    expect(b.get(0).indexNumber).toBe(24);
    expect(b.get(15).indexNumber).toBe(39);
    newest.close();
    oldest.close();
    ch.close();
  });

  it('resumes a durable subscriber after the last record it consumed', async () => {
    const ch = openChannel('d', Person, { dir, capacity: 1024 });
    let sub = ch.subscribe({ name: 'web', maxBatch: 4 });
    for (let i = 0; i < 10; i++) ch.publish(person(i));
    const first = sub.poll()!;
    expect(first.length).toBe(4);
    sub.poll(); // acknowledges 0..3, holds 4..7
    sub.close(); // leaving holds... close acknowledges the batch handed out
    expect(ch.stats().subscribers[0]).toMatchObject({ state: 'offline', durable: true, name: 'web', cursor: 8 });
    for (let i = 10; i < 12; i++) ch.publish(person(i));
    sub = ch.subscribe({ name: 'web' });
    const rest: number[] = [];
    for await (const b of sub) {
      for (const r of b) rest.push(r.indexNumber);
      if (rest.length === 4) break;
    }
    expect(rest).toEqual([8, 9, 10, 11]);
    // the same durable name cannot be attached twice at once
    expect(() => ch.subscribe({ name: 'web' })).toThrow(MmbusError);
    try {
      ch.subscribe({ name: 'web' });
    } catch (e) {
      expect((e as MmbusError).code).toBe('MMBUS_E_BUSY');
    }
    sub.close();
    ch.close();
  });

  it('calls onMessage for every record; returning false stops it', async () => {
    const ch = openChannel('m', Person, { dir });
    const sub = ch.subscribe();
    for (let i = 0; i < 50; i++) ch.publish(person(i));
    const got: number[] = [];
    await sub.onMessage((r) => {
      got.push(r.indexNumber);
      return r.indexNumber < 29;
    });
    expect(got).toEqual([...Array(30).keys()]);
    expect(sub.closed).toBe(true);
    ch.close();
  });

  it('onMessage rejects with the callback error and leaves the batch for a durable retry', async () => {
    const ch = openChannel('m', Person, { dir });
    let sub = ch.subscribe({ name: 'retry' });
    for (let i = 0; i < 3; i++) ch.publish(person(i));
    await expect(
      sub.onMessage((r) => {
        if (r.indexNumber === 1) throw new Error('handler failed');
      }),
    ).rejects.toThrow('handler failed');
    sub.close();
    sub = ch.subscribe({ name: 'retry' });
    expect(sub.poll()!.get(0).indexNumber).toBe(0); // redelivered from the start of that batch
    sub.close();
    ch.close();
  });

  it('ends the iteration when aborted or closed while waiting', async () => {
    const ch = openChannel('a', Person, { dir });
    const controller = new AbortController();
    const sub = ch.subscribe({ signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    let batches = 0;
    for await (const _ of sub) batches++;
    expect(batches).toBe(0);
    expect(sub.closed).toBe(true);
    const other = ch.subscribe();
    setTimeout(() => other.close(), 20);
    expect(await other.next()).toBeNull();
    const aborted = new AbortController();
    aborted.abort();
    expect(() => ch.subscribe({ signal: aborted.signal })).toThrow(MmbusError);
    ch.close();
  });

  it('counts what an overwrite channel made a slow subscriber lose', () => {
    const ch = openChannel('o', Person, { dir, capacity: 64, policy: 'overwrite' });
    const sub = ch.subscribe();
    for (let i = 0; i < 1000; i++) ch.publish(person(i));
    let received = 0;
    for (let b = sub.poll(); b; b = sub.poll()) received += b.length;
    expect(received).toBe(64);
    expect(sub.lost + received).toBe(1000);
    expect(ch.stats().subscribers[0]!.lost).toBe(936);
    sub.close();
    ch.close();
  });

  it('reports stats of the channel and of every subscriber', () => {
    const ch = openChannel('st', Person, { dir, capacity: 128 });
    const a = ch.subscribe();
    const d = ch.subscribe({ name: 'durable' });
    for (let i = 0; i < 5; i++) ch.publish(person(i));
    d.poll();
    d.poll();
    const s = ch.stats();
    expect(s).toMatchObject({ head: 5, capacity: 128, publishersAlive: 1, subscribersActive: 2, maxLag: 5 });
    expect(s.subscribers).toHaveLength(2);
    expect(s.subscribers[0]).toMatchObject({ state: 'active', durable: false, pid: process.pid, lag: 5, lost: 0 });
    expect(s.subscribers[1]).toMatchObject({ state: 'active', durable: true, name: 'durable', cursor: 5, lag: 0 });
    a.close();
    d.close();
    expect(ch.stats().subscribersOffline).toBe(1);
    ch.close();
  });

  it('validates subscribe options', () => {
    const ch = openChannel('v', Person, { dir });
    expect(() => ch.subscribe({ name: 'bad/name' })).toThrow(expect.objectContaining({ code: 'MMBUS_E_NAME' }));
    expect(() => ch.subscribe({ start: 'middle' as 'oldest' })).toThrow(expect.objectContaining({ code: 'MMBUS_E_INVAL' }));
    expect(() => ch.subscribe({ maxBatch: 0 })).toThrow(expect.objectContaining({ code: 'MMBUS_E_INVAL' }));
    for (const spinUs of [-1, 1.5, 1_000_001, Number.NaN, '20' as unknown as number])
      expect(() => ch.subscribe({ spinUs })).toThrow(expect.objectContaining({ code: 'MMBUS_E_INVAL', message: expect.stringContaining('spinUs') }));
    for (const coalesceUs of [-1, 0.5, 100_001, Number.NaN, '20' as unknown as number])
      expect(() => ch.subscribe({ coalesceUs })).toThrow(expect.objectContaining({ code: 'MMBUS_E_INVAL', message: expect.stringContaining('coalesceUs') }));
    expect(ch.stats().subscribersActive).toBe(0); // nothing refused took a slot
    ch.close();
  });

  it('coalesceUs: a paced stream comes in a few batches, every record in order; close() is not held back', async () => {
    const ch = openChannel('coalesce', Person, { dir, capacity: 256 });
    /** Publishes 60 records 1 ms apart while `sub` takes them: its batches, and how long it took. */
    const take = async (coalesceUs: number): Promise<{ batches: number; ms: number }> => {
      const sub = ch.subscribe({ coalesceUs });
      let published = 0;
      const t0 = performance.now();
      const timer = setInterval(() => {
        ch.publish(person(published));
        if (++published === 60) clearInterval(timer);
      }, 1);
      const seen: number[] = [];
      let batches = 0;
      for await (const batch of sub) {
        batches++;
        for (const r of batch) {
          expect(r.name).toBe(`person-${r.indexNumber}`);
          seen.push(r.indexNumber);
        }
        if (seen.length >= 60) break;
      }
      clearInterval(timer);
      sub.close();
      expect(seen).toEqual([...Array(60).keys()]);
      return { batches, ms: performance.now() - t0 };
    };
    const plain = await take(0);
    const coalesced = await take(20_000);
    expect(plain.batches).toBeGreaterThanOrEqual(20); // the control: a wake-up for nearly every record
    expect(coalesced.batches).toBeLessThanOrEqual(2 + Math.floor(coalesced.ms / 20)); // one per 20 ms window at most

    // inside a (100 ms) window: close() ends the iteration at once
    const sub = ch.subscribe({ coalesceUs: 100_000 });
    ch.publish(person(0));
    const it = sub[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false); // the first wake-up is not held back
    const t0 = performance.now();
    setTimeout(() => sub.close(), 5);
    expect((await it.next()).done).toBe(true);
    expect(performance.now() - t0).toBeLessThan(100);
    ch.close();
  });

  it('receives every record whatever its spin: none, the default, the longest', async () => {
    const ch = openChannel('spin', Person, { dir, capacity: 64 });
    for (const spinUs of [0, undefined, 1_000_000]) {
      const sub = ch.subscribe(spinUs === undefined ? {} : { spinUs });
      let published = 0;
      const timer = setInterval(() => {
        ch.publish(person(published)); // one at a time, 1 ms apart: every wait follows records flowing
        if (++published === 40) clearInterval(timer);
      }, 1);
      const seen = await indexesOf(sub, 40);
      clearInterval(timer);
      expect(seen).toEqual([...Array(40).keys()]);
      sub.close();
    }
    ch.close();
  });

  it('the iterator acknowledges batch by batch, looks again after a miss, and rejects (never throws) on misuse', async () => {
    const ch = openChannel('iter', Person, { dir, capacity: 64 });
    const sub = ch.subscribe({ name: 'it', maxBatch: 4 });
    const it = sub[Symbol.asyncIterator]();
    ch.publishBatch(6, (r, i) => r.assign(person(i)));
    const first = await it.next();
    expect(first.done ? [] : Array.from(first.value, (r) => r.indexNumber)).toEqual([0, 1, 2, 3]);
    expect(ch.stats().subscribers[0]!.cursor).toBe(0); // still in hand
    const second = await it.next();
    expect(second.done ? [] : Array.from(second.value, (r) => r.indexNumber)).toEqual([4, 5]);
    expect(ch.stats().subscribers[0]!.cursor).toBe(4);
    // nothing there: the iterator waits; records that follow at once (or later) arrive, in order
    const third = it.next();
    ch.publish(person(6));
    setTimeout(() => ch.publish(person(7)), 5);
    const got: number[] = [];
    const r3 = await third;
    if (!r3.done) got.push(...Array.from(r3.value, (r) => r.indexNumber));
    while (got.length < 2) {
      const r = await it.next();
      if (r.done) break;
      got.push(...Array.from(r.value, (x) => x.indexNumber));
    }
    expect(got).toEqual([6, 7]);
    expect(ch.stats().subscribers[0]!.cursor).toBeGreaterThanOrEqual(6); // the batches before the last acknowledged
    // a wait in progress: another next() is a rejected promise with MMBUS_E_STATE, not a synchronous throw
    const waiting = sub.next();
    let thrown: unknown = null;
    let p: Promise<unknown> | null = null;
    try {
      p = it.next();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeNull();
    await expect(p).rejects.toMatchObject({ code: 'MMBUS_E_STATE' });
    sub.close();
    expect(await waiting).toBeNull();
    expect(await it.next()).toEqual({ value: undefined, done: true });
    ch.close();
  });
});
