import { describe, expect, it } from 'vitest';

import { MmbusError, openChannel } from '../src/index.js';
import { Person, PointUpdate, Quality } from '@mmbus/messages';
import { useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

function errorOf(fn: () => unknown): MmbusError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MmbusError);
    return e as MmbusError;
  }
  throw new Error('expected an MmbusError');
}

describe('publish', () => {
  it('publishes from plain objects, in place, in batches and from record views', () => {
    const ch = openChannel('p', Person, { dir, capacity: 64 });
    const sub = ch.subscribe();
    expect(ch.publish({ index: 1n, name: 'Ada', age: 36 })).toBe(true);
    expect(
      ch.publish((r) => {
        r.indexNumber = 2;
        r.name = 'Grace';
        r.age = 85;
      }),
    ).toBe(true);
    expect(ch.publishBatch(3, (r, i) => ((r.indexNumber = 10 + i), (r.name = `batch-${i}`)))).toBe(3);
    const standalone = new Person();
    standalone.assign({ index: 99n, name: 'copied', age: 1 });
    expect(ch.publish(standalone)).toBe(true);
    const b = sub.poll()!;
    expect(b.length).toBe(6);
    const got = [...b].map((r) => r.toObject());
    expect(got).toHaveLength(6);
    expect([...Array(6).keys()].map((i) => b.get(i).toObject())).toEqual([
      { index: 1n, name: 'Ada', age: 36 },
      { index: 2n, name: 'Grace', age: 85 },
      { index: 10n, name: 'batch-0', age: 0 },
      { index: 11n, name: 'batch-1', age: 0 },
      { index: 12n, name: 'batch-2', age: 0 },
      { index: 99n, name: 'copied', age: 1 },
    ]);
    expect(sub.poll()).toBeNull();
    sub.close();
    ch.close();
  });

  it('a record kept from an in-place publish cannot change the committed record afterwards', () => {
    const ch = openChannel('p', Person, { dir, capacity: 64 });
    const sub = ch.subscribe();
    let kept: Person | undefined;
    ch.publish((r) => {
      r.indexNumber = 1;
      r.name = 'first';
      kept = r;
    });
    const keptInBatch: Person[] = [];
    ch.publishBatch(2, (r, i) => {
      r.indexNumber = 10 + i;
      r.name = `batch-${i}`;
      keptInBatch.push(r);
    });
    kept!.name = 'changed later'; // after publish returned
    kept!.indexNumber = 666;
    for (const r of keptInBatch) r.name = 'changed later';
    expect(() => ch.publish((r) => {
      kept = r;
      throw new Error('fill failed');
    })).toThrow('fill failed');
    kept!.name = 'after a failed fill';
    const b = sub.poll()!;
    const names: [number, string][] = [];
    for (const r of b) names.push([r.indexNumber, r.name]);
    expect(names).toEqual([[1, 'first'], [10, 'batch-0'], [11, 'batch-1']]);
    sub.close();
    ch.close();
  });

  it('does not leak fields of the previous object into the next one', () => {
    const ch = openChannel('p', Person, { dir, capacity: 64 });
    const sub = ch.subscribe();
    ch.publish({ index: 1n, name: 'first', age: 10 });
    ch.publish({ index: 2n });
    const b = sub.poll()!;
    expect(b.get(1).toObject()).toEqual({ index: 2n, name: '', age: 0 });
    sub.close();
    ch.close();
  });

  it('hands every writer a zeroed record, never the previous lap of its slot', async () => {
    // a ring of 8 filled with other records before every round: each slot written holds another record's fields
    const ch = openChannel('lap', Person, { dir, capacity: 8, policy: 'overwrite' });
    const sub = ch.subscribe();
    const full = (i: number) => ({ index: BigInt(i), name: `secret-${i}`, age: 99 });
    const got: ReturnType<Person['toObject']>[] = [];
    const drain = () => {
      for (let b = sub.poll(); b; b = sub.poll()) for (const r of b) got.push(r.toObject());
    };
    for (let lap = 0; lap < 3; lap++) {
      for (let i = 0; i < 8; i++) ch.publish(full(i));
      drain();
      ch.publish((r) => {
        r.indexNumber = 100 + lap;
      });
      ch.publishBatch(3, (r, i) => {
        r.age = 10 + i;
      });
      await ch.publishAsync((r) => {
        r.name = `async-${lap}`;
      });
      drain();
    }
    const written = got.filter((r) => r.age !== 99);
    expect(written).toEqual(
      [0, 1, 2].flatMap((lap) => [
        { index: BigInt(100 + lap), name: '', age: 0 },
        { index: 0n, name: '', age: 10 },
        { index: 0n, name: '', age: 11 },
        { index: 0n, name: '', age: 12 },
        { index: 0n, name: `async-${lap}`, age: 0 },
      ]),
    );
    expect(got).toHaveLength(3 * 13);
    sub.close();
    ch.close();
  });

  it('publishes records of another type only through their own channel', () => {
    const ch = openChannel('p', Person, { dir });
    const point = new PointUpdate();
    const err = errorOf(() => ch.publish(point as unknown as Person));
    expect(err.code).toBe('MMBUS_E_SCHEMA');
    expect(err.message).toContain('mmbus.PointUpdate');
    ch.close();
  });

  it('forwards a record read from one channel to another of the same type', () => {
    const a = openChannel('a', PointUpdate, { dir });
    const b = openChannel('b', PointUpdate, { dir });
    const subA = a.subscribe();
    const subB = b.subscribe();
    a.publish({ pointId: 7, deviceId: 3, value: 2.5, quality: Quality.Good, tag: 'dev3/p7' });
    const rec = subA.poll()!.get(0);
    b.publish(rec);
    expect(subB.poll()!.get(0).toObject()).toEqual(rec.toObject());
    subA.close();
    subB.close();
    a.close();
    b.close();
  });

  it('rejects: returns false when full, and nothing is written', () => {
    const ch = openChannel('r', Person, { dir, capacity: 8, policy: 'reject' });
    const sub = ch.subscribe();
    for (let i = 0; i < 8; i++) expect(ch.publish({ index: BigInt(i) })).toBe(true);
    expect(ch.publish({ index: 100n })).toBe(false);
    expect(ch.publish((r) => (r.indexNumber = 101))).toBe(false);
    expect(ch.publishBatch(4, (r, i) => (r.indexNumber = 200 + i))).toBe(0);
    const b = sub.poll()!;
    expect([...Array(b.length).keys()].map((i) => b.get(i).indexNumber)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(sub.poll()).toBeNull(); // acknowledges the 8
    expect(ch.publishBatch(12, (r, i) => (r.indexNumber = 300 + i), 4)).toBe(8); // room for 8, in claims of 4
    sub.close();
    ch.close();
  });

  it('blocks: throws a typed time-out when the subscriber does not move', async () => {
    const ch = openChannel('blk', Person, { dir, capacity: 8, policy: 'block', timeoutMs: 30 });
    const sub = ch.subscribe();
    for (let i = 0; i < 8; i++) ch.publish({ index: BigInt(i) });
    expect(errorOf(() => ch.publish({ index: 8n })).code).toBe('MMBUS_E_TIMEOUT');
    await expect(ch.publishAsync({ index: 8n })).rejects.toMatchObject({ code: 'MMBUS_E_TIMEOUT' });
    // publishAsync waits without blocking the event loop and goes on once the subscriber moves
    // (through a handle with a generous time-out: timers run late on a loaded machine)
    const patient = openChannel('blk', Person, { dir, timeoutMs: 10_000 });
    const pending = patient.publishAsync({ index: 9n });
    setTimeout(() => sub.poll(), 5);
    setTimeout(() => sub.poll(), 10); // the second poll acknowledges the first batch
    await expect(pending).resolves.toBe(true);
    sub.close();
    patient.close();
    ch.close();
  });

  it('a writer that re-points its record elsewhere does not re-point the next publishes', () => {
    const ch = openChannel('w', Person, { dir });
    const sub = ch.subscribe();
    const elsewhere = new DataView(new ArrayBuffer(Person.SIZE));
    ch.publishBatch(3, (r, i) => {
      r.indexNumber = 10 + i;
      if (i === 0) r.wrap(elsewhere, 0);
    });
    expect(Array.from(sub.poll()!, (r) => r.indexNumber)).toEqual([10, 11, 12]);
    ch.publish((r) => {
      r.indexNumber = 20;
      r.wrap(elsewhere, 0); // the same with a single publish: only this one record is the writer's doing
    });
    ch.publish((r) => (r.indexNumber = 21));
    expect(Array.from(sub.poll()!, (r) => r.indexNumber)).toEqual([20, 21]);
    sub.close();
    ch.close();
  });

  it('publishes nothing when the in-place writer throws', () => {
    const ch = openChannel('t', Person, { dir });
    const sub = ch.subscribe();
    expect(() =>
      ch.publish(() => {
        throw new Error('writer failed');
      }),
    ).toThrow('writer failed');
    expect(ch.stats().head).toBe(0); // not even a slot given up
    expect(() =>
      ch.publishBatch(2, (_r, i) => {
        if (i === 1) throw new Error('fill failed');
      }),
    ).toThrow('fill failed');
    ch.publish({ index: 5n });
    const b = sub.poll()!;
    expect(b.length).toBe(1); // the batch's claim was given up: subscribers step over it
    expect(b.get(0).indexNumber).toBe(5);
    sub.close();
    ch.close();
  });

  it('refuses a publish from inside a writer of the same channel, and the outer record stays whole', () => {
    const ch = openChannel('n', Person, { dir });
    const sub = ch.subscribe();
    const inner: MmbusError[] = [];
    ch.publish((r) => {
      r.indexNumber = 1;
      r.name = 'outer';
      inner.push(errorOf(() => ch.publish({ index: 2n, name: 'inner' })));
      inner.push(errorOf(() => ch.publish((q) => (q.name = 'inner'))));
      inner.push(errorOf(() => ch.publish(r))); // its own record, half written
      r.age = 7;
    });
    expect(inner.map((e) => e.code)).toEqual(['MMBUS_E_STATE', 'MMBUS_E_STATE', 'MMBUS_E_STATE']);
    let kept: Person | undefined;
    ch.publish((r) => {
      kept = r;
      r.indexNumber = 3;
    });
    ch.publish(kept!); // a writer's record kept and published again: the same record
    const b = sub.poll()!;
    expect(b.length).toBe(3);
    expect(Array.from(b, (r) => r.toObject())).toEqual([
      { index: 1n, name: 'outer', age: 7 },
      { index: 3n, name: '', age: 0 },
      { index: 3n, name: '', age: 0 },
    ]);
    sub.close();
    ch.close();
  });

  it('refuses use after close with MMBUS_E_CLOSED', () => {
    const ch = openChannel('c', Person, { dir });
    const sub = ch.subscribe();
    ch.close(); // closes its subscriptions too
    expect(sub.closed).toBe(true);
    expect(errorOf(() => ch.publish({ index: 1n })).code).toBe('MMBUS_E_CLOSED');
    expect(errorOf(() => ch.subscribe()).code).toBe('MMBUS_E_CLOSED');
    expect(errorOf(() => ch.stats()).code).toBe('MMBUS_E_CLOSED');
    expect(errorOf(() => sub.poll()).code).toBe('MMBUS_E_CLOSED');
    expect(() => ch.view.getUint8(0)).toThrow(TypeError); // the mapping is gone: no stale reads
    ch.close(); // closing twice is harmless
  });

  it('flushes to disk', () => {
    const ch = openChannel('f', Person, { dir });
    ch.publish({ index: 1n });
    expect(() => ch.flush()).not.toThrow();
    ch.close();
  });
});
