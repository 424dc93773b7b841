// Keyed channels from TypeScript: latest values (copied and in place), snapshots, subscribers that ask
// for keys and get a snapshot then exactly the changes after it, while publishers in other processes
// change random keys at full speed.
import { describe, expect, it } from 'vitest';

import { MmbusError, openChannel, type Batch } from '../src/index.js';
import { Person, PointUpdate } from '@mmbus/messages';
import { native } from '../src/native.js';
import { fillPoint, pointIntact } from './fixtures/keyed.js';
import { lastJson, runFixture, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

/** Values read from each record handed out (one flyweight is re-pointed: keep values, not records). */
function collect<T, R>(batch: Iterable<T>, fn: (r: T) => R): R[] {
  const out: R[] = [];
  for (const r of batch) out.push(fn(r));
  return out;
}

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof MmbusError) return err.code;
    throw err;
  }
  return 'no error';
};

/** A type with the same layout and fingerprint but another key field: the file must refuse it. */
class KeyedByDevice extends PointUpdate {}
Object.defineProperty(KeyedByDevice, 'KEY', { value: { field: 'deviceId', offset: 20, size: 4 } });

describe('keyed channels', () => {
  it('keeps the latest value of every key: copied, read in place, and many at once', () => {
    const ch = openChannel('k', PointUpdate, { dir, keys: 100, capacity: 64 });
    expect(ch.keyCount).toBe(100);
    expect(ch.info.keyCount).toBe(100);
    expect(ch.latest(7)).toBeUndefined();
    expect(ch.readLatest(7, (r) => r.value)).toBeUndefined();
    for (let v = 1; v <= 200; v++) for (const k of [7, 8, 99]) ch.publish((r) => fillPoint(r, k, v, 0));
    const copy = ch.latest(7)!;
    expect(copy.pointId).toBe(7);
    expect(copy.value).toBe(200);
    expect(pointIntact(copy)).toBe(true);
    ch.publish((r) => fillPoint(r, 7, 201, 0));
    expect(copy.value).toBe(200); // a copy is the caller's
    expect(ch.readLatest(7, (r) => [r.value, r.tag])).toEqual([201, 'p7v201']);
    expect(ch.keyOf(copy)).toBe(7);
    const seen: [number, number, number][] = [];
    expect(ch.snapshot('all', (r, key, seq) => seen.push([key, r.value, seq]))).toBe(3);
    const head = ch.head();
    expect(seen).toEqual([
      [7, 201, head - 1],
      [8, 200, head - 3],
      [99, 200, head - 2],
    ]);
    const some: number[] = [];
    expect(ch.snapshot([99, { from: 0, to: 8 }], (r, key) => some.push(key))).toBe(2);
    expect(some).toEqual([7, 99]);
    ch.close();
  });

  it('refuses what is not a key, keyed calls on plain channels, and another key field', () => {
    const ch = openChannel('k', PointUpdate, { dir, keys: 10, capacity: 64 });
    const head = ch.head();
    const sub0 = ch.subscribe();
    // single publishes are copied in: refused before anything is claimed
    expect(code(() => ch.publish((r) => fillPoint(r, 10, 1, 0)))).toBe('MMBUS_E_INVAL');
    expect(code(() => ch.publish({ pointId: 10 }))).toBe('MMBUS_E_INVAL');
    expect(ch.head()).toBe(head);
    expect(code(() => ch.publishBatch(3, (r, i) => fillPoint(r, i === 2 ? 4000000000 : i, 1, 0)))).toBe('MMBUS_E_INVAL');
    expect(ch.head()).toBe(head + 3); // the batch's claim was given up whole: nothing of it reaches a reader
    expect(sub0.poll()).toBeNull();
    sub0.close();
    expect(ch.latest(0)).toBeUndefined();
    expect(code(() => ch.latest(10))).toBe('MMBUS_E_INVAL');
    expect(code(() => ch.latest(-1))).toBe('MMBUS_E_INVAL');
    expect(code(() => ch.latest(1.5))).toBe('MMBUS_E_INVAL');
    expect(code(() => ch.snapshot([3, 11], () => {}))).toBe('MMBUS_E_INVAL');
    expect(code(() => ch.subscribe({ keys: [{ from: 5, to: 5 }] }))).toBe('MMBUS_E_INVAL');
    expect(code(() => ch.subscribe({ snapshot: true }))).toBe('MMBUS_E_INVAL');
    expect(code(() => ch.subscribe({ keys: 'all', snapshot: 'yes' as never }))).toBe('MMBUS_E_INVAL');
    expect(code(() => openChannel('k', PointUpdate, { dir, keys: 11 }))).toBe('MMBUS_E_MISMATCH');
    expect(code(() => openChannel('k', KeyedByDevice, { dir }))).toBe('MMBUS_E_MISMATCH');
    const again = openChannel('k', PointUpdate, { dir }); // the file's keys
    expect(again.keyCount).toBe(10);
    again.close();
    ch.close();

    expect(code(() => openChannel('p', Person, { dir, keys: 10 }))).toBe('MMBUS_E_INVAL'); // no key field
    const plain = openChannel('p', Person, { dir });
    expect(plain.keyCount).toBe(0);
    expect(code(() => plain.latest(0))).toBe('MMBUS_E_STATE');
    expect(code(() => plain.readLatest(0, () => 0))).toBe('MMBUS_E_STATE');
    expect(code(() => plain.subscribe({ keys: [1] }))).toBe('MMBUS_E_STATE');
    const sub = plain.subscribe();
    expect(code(() => sub.ask([1]))).toBe('MMBUS_E_STATE');
    sub.close();
    plain.close();
    expect(code(() => openChannel('p', PointUpdate, { dir, keys: 10 }))).toBe('MMBUS_E_SCHEMA');
  });

  it('hands a subscriber a snapshot of the keys it asks for, then only their changes', async () => {
    const ch = openChannel('k', PointUpdate, { dir, keys: 1000, capacity: 1024 });
    for (let k = 0; k < 1000; k++) ch.publish((r) => fillPoint(r, k, 1, 0));
    const sub = ch.subscribe({ keys: [3, 4, { from: 500, to: 510 }], snapshot: true });
    const first = sub.poll()!;
    expect(first.snapshot).toBe(true);
    const snap = collect(first, (r) => [r.pointId, r.value]);
    expect(snap).toEqual([3, 4, 500, 501, 502, 503, 504, 505, 506, 507, 508, 509].map((k) => [k, 1]));
    expect(first.keyOf(2)).toBe(500);
    expect(first.seqOf(2)).toBe(500);
    expect(sub.poll()).toBeNull(); // nothing changed since
    for (let k = 0; k < 1000; k++) ch.publish((r) => fillPoint(r, k, 2, 0));
    const changes = sub.poll()!;
    expect(changes.snapshot).toBe(false);
    expect(collect(changes, (r) => r.pointId)).toEqual([3, 4, 500, 501, 502, 503, 504, 505, 506, 507, 508, 509]);
    expect(changes.seqOf(0)).toBe(1003);
    // given back in the middle of a batch: the rest of the batch skips it
    for (const k of [3, 4, 3, 4]) ch.publish((r) => fillPoint(r, k, 3, 0));
    const b = sub.poll()!;
    const got: number[] = [];
    for (const r of b) {
      got.push(r.pointId);
      if (got.length === 2) sub.unask(3);
    }
    expect(got).toEqual([3, 4, 4]);
    // asked later: its current value first, then its changes
    sub.ask(3);
    const again = sub.poll()!;
    expect(again.snapshot).toBe(true);
    expect(collect(again, (r) => [r.pointId, r.value])).toEqual([[3, 3]]);
    ch.publish((r) => fillPoint(r, 3, 4, 0));
    expect(collect(sub.poll()!, (r) => [r.pointId, r.value])).toEqual([[3, 4]]);
    sub.close();
    ch.close();
  });

  it('takes keys asked while it waits, and onMessage says which records are snapshot values', async () => {
    const ch = openChannel('k', PointUpdate, { dir, keys: 50, capacity: 256 });
    for (let k = 0; k < 50; k++) ch.publish((r) => fillPoint(r, k, 1, 0));
    const sub = ch.subscribe({ keys: [1], snapshot: true });
    const seen: string[] = [];
    const done = sub.onMessage((r, batch: Batch<PointUpdate>) => {
      seen.push(`${batch.snapshot ? 'snap' : 'chg'} ${r.pointId}:${r.value}`);
      if (seen.length === 1) setTimeout(() => sub.ask([10, 11]), 20); // while it waits
      if (seen.length === 3) setTimeout(() => ch.publish((w) => fillPoint(w, 11, 2, 0)), 20);
      return seen.length < 4;
    });
    await done;
    expect(seen).toEqual(['snap 1:1', 'snap 10:1', 'snap 11:1', 'chg 11:2']);
    expect(sub.closed).toBe(true);
    ch.close();
  });

  it('coalescing: a key asked inside the window has its snapshot value at once (the ask cuts the window short)', async () => {
    const ch = openChannel('k', PointUpdate, { dir, keys: 20, capacity: 64 });
    for (let k = 0; k < 20; k++) ch.publish((r) => fillPoint(r, k, 1, 0));
    const sub = ch.subscribe({ keys: [1], snapshot: true, coalesceUs: 100_000 });
    const it = sub[Symbol.asyncIterator]();
    const values = async (): Promise<string[]> => {
      const b = (await it.next()).value as Batch<PointUpdate>;
      return collect(b, (r) => `${b.snapshot ? 'snap' : 'chg'} ${r.pointId}:${r.value}`);
    };
    expect(await values()).toEqual(['snap 1:1']);
    setTimeout(() => ch.publish((r) => fillPoint(r, 1, 2, 0)), 5);
    expect(await values()).toEqual(['chg 1:2']); // a wait returned records: a 100 ms window starts
    const t0 = performance.now();
    setTimeout(() => sub.ask([7]), 5);
    expect(await values()).toEqual(['snap 7:1']);
    expect(performance.now() - t0).toBeLessThan(100); // inside the window
    sub.close();
    ch.close();
  });

  it('copying mode (Electron) reads latest values and snapshots the same', async () => {
    const ch = openChannel('k', PointUpdate, { dir, keys: 20, capacity: 64 });
    for (let k = 0; k < 20; k++) ch.publish((r) => fillPoint(r, k, k + 1, 0));
    ch.close();
    const child = runFixture('keyed-copying', [dir, 'k'], { MMBUS_COPY_BUFFERS: '1' });
    const exit = await child.exited;
    expect(exit.stderr).toBe('');
    expect(JSON.parse(exit.stdout.trim().split('\n').pop()!)).toEqual({ copying: true, latest: 6, inPlace: 13, snapshot: 20, sub: [[5, 6], [6, 7]] });
  });

  it('snapshot then stream under load: every subscriber ends with each asked key\'s final value and sees every change after its snapshot exactly once', async () => {
    const keys = 400;
    const final = 400;
    const pubs = 2;
    const ch = openChannel('load', PointUpdate, { dir, keys, capacity: 2048 });
    const children = Array.from({ length: pubs }, (_, id) =>
      runFixture('keyed-publisher', [dir, 'load', String(keys), String(final), String(id), String(pubs)]),
    );
    // subscribers join at different moments, with different key sets; one gives keys back and asks again
    const follow = async (delayMs: number, asked: number[], churn: boolean) => {
      await new Promise((r) => setTimeout(r, delayMs));
      const sub = ch.subscribe({ keys: asked, snapshot: true });
      const last = new Map<number, number>();
      const askedNow = new Set(asked);
      let problems = 0;
      let changes = 0;
      let snapshots = 0;
      const churnKeys = asked.slice(0, Math.floor(asked.length / 4));
      const toggle = (): void => {
        if (askedNow.has(churnKeys[0]!)) {
          sub.unask(churnKeys);
          for (const k of churnKeys) askedNow.delete(k);
        } else {
          sub.ask(churnKeys); // while the loop waits, or between batches: a snapshot of them again
          for (const k of churnKeys) askedNow.add(k);
        }
      };
      const timer = churn ? setInterval(toggle, 7) : undefined;
      void Promise.all(children.map((c) => c.exited)).then(() => {
        clearInterval(timer);
        if (churn && !sub.closed && !askedNow.has(churnKeys[0]!)) toggle(); // the last word: asked
      });
      const done = () => asked.every((k) => last.get(k) === final);
      for await (const b of sub) {
        for (const r of b) {
          const k = r.pointId;
          if (!askedNow.has(k) || !pointIntact(r)) {
            problems++;
            continue;
          }
          const had = last.get(k) ?? 0;
          if (b.snapshot) {
            snapshots++;
            if (r.value < had) problems++; // never backwards
          } else {
            changes++;
            if (r.value !== had + 1) problems++; // the next version, no gap, none twice
          }
          last.set(k, r.value);
        }
        if (done()) break;
      }
      clearInterval(timer);
      sub.close();
      return { problems, changes, snapshots };
    };
    const all = Array.from({ length: keys }, (_, k) => k);
    const results = await Promise.all([
      follow(0, all, false),
      follow(30, all.filter((k) => k % 3 === 0), true),
      follow(80, [5, 77, 133, 399], false),
    ]);
    for (const c of children) expect((await c.exited).code).toBe(0);
    for (const r of results) {
      expect(r.problems).toBe(0);
      expect(r.changes + r.snapshots).toBeGreaterThan(0);
    }
    expect(results[1]!.snapshots).toBeGreaterThan(keys / 3); // it gave keys back and asked again: snapshots again
    for (let k = 0; k < keys; k++) expect(ch.readLatest(k, (r) => r.value)).toBe(final);
    ch.close();
  }, 120_000);

  // Most of its batches hold none of its keys: poll() acknowledges such a batch in the same native call
  // as it polls the next. When that acknowledgement finds the batch overwritten meanwhile, the key
  // table owes the asked keys' values again (snapshot values): the poll must hand those out first, not
  // fail with MMBUS_E_STATE (the web gateway's hub died of it under a 1 M changes/s burst).
  for (const copying of [false, true]) {
    it(`a subscriber of a few keys lapped on an overwrite ring gets their values again, never an error${copying ? ' (copying mode)' : ''}`, async () => {
      const keys = 4096;
      const final = 150;
      const sub = runFixture('lapped-keyed-subscriber', [dir, 'lapped', String(keys), String(final)], copying ? { MMBUS_COPY_BUFFERS: '1' } : {});
      await sub.line('ready');
      const publisher = runFixture('keyed-publisher', [dir, 'lapped', String(keys), String(final), '0', '1']);
      expect((await publisher.exited).code).toBe(0);
      const r = await sub.exited;
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const got = lastJson(r.stdout) as { copying: boolean; error: string | null; problems: number; snapshots: number; lost: number; last: number[] };
      expect({ copying: got.copying, error: got.error, problems: got.problems, last: got.last }).toEqual({ copying, error: null, problems: 0, last: [final, final, final, final] });
      expect(got.snapshots).toBeGreaterThan(4); // the first snapshot, and values given again after laps
      expect(got.lost).toBeGreaterThan(0); // it was lapped
    }, 120_000);
  }

  // Copying mode copies a batch, then wants() filters it by the keys in the ring. A publisher that laps
  // the ring in between leaves an asked key in the slot of a copied record of another key: that copy
  // must count as overwritten (never handed out), and the asked key's value must come again.
  it('copying mode never hands out a record of a key not asked when the ring is lapped between copy and filter', () => {
    const capacity = 64;
    const was = process.env['MMBUS_COPY_BUFFERS'];
    process.env['MMBUS_COPY_BUFFERS'] = '1';
    const ch = openChannel('between', PointUpdate, { dir, keys: 8, capacity, policy: 'overwrite' });
    if (was === undefined) delete process.env['MMBUS_COPY_BUFFERS'];
    else process.env['MMBUS_COPY_BUFFERS'] = was;
    const pub = openChannel('between', PointUpdate, { dir });
    expect(ch.copying).toBe(true);
    const sub = ch.subscribe({ keys: [1], snapshot: true });
    expect(sub.poll()).toBeNull(); // nothing published yet: an empty snapshot
    pub.publish((r) => fillPoint(r, 2, 100, 0)); // a key not asked
    const realWants = native.wants;
    let lapped = 0;
    native.wants = (s, idx) => {
      if (lapped++ === 0) for (let v = 1; v <= capacity; v++) pub.publish((r) => fillPoint(r, 1, v, 0));
      return realWants(s, idx);
    };
    const seen: [key: number, value: number][] = [];
    try {
      for (let polls = 0; polls < 8; polls++) {
        const b = sub.poll();
        if (!b) continue;
        const read: [number, number, number][] = [];
        for (let i = 0; i < b.length; i++) if (b.intact(i)) read.push([i, b.get(i).pointId, b.get(i).value]);
        const suspect = b.overwritten();
        for (const [i, k, v] of read) if (i >= suspect) seen.push([k, v]);
      }
    } finally {
      native.wants = realWants;
    }
    expect(lapped).toBeGreaterThan(0); // the filter ran, after the lap
    expect(seen.filter(([k]) => k !== 1)).toEqual([]);
    expect(seen.at(-1)).toEqual([1, capacity]); // the asked key's final value came
    expect(sub.lost).toBeGreaterThan(0);
    sub.close();
    pub.close();
    ch.close();
  });
});
