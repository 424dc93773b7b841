// A user's mistakes, as a newcomer makes them: each is an MmbusError with a stable code, nothing is
// stored silently coerced (issue 11.12), and the footguns of views are loud or have a copying way out.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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

/** What plain JavaScript, or JSON, can pass where TypeScript would refuse. */
const as = <T>(v: unknown): T => v as T;

describe('record values are refused, not coerced: publish(obj), publish((r) => ...), the same policy', () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["pointId: 'abc'", { pointId: 'abc' }, /PointUpdate\.pointId: "abc" is not an integer in 0 \.\. 4294967295/],
    ['pointId: -1', { pointId: -1 }, /PointUpdate\.pointId: -1 is not an integer/],
    ['pointId: 2**40+5', { pointId: 2 ** 40 + 5 }, /PointUpdate\.pointId: 1099511627781 is not an integer/],
    ['pointId: 1.9', { pointId: 1.9 }, /PointUpdate\.pointId: 1\.9 is not an integer/],
    ['quality: 9 (the enum has 0 .. 3)', { quality: 9 }, /PointUpdate\.quality: 9 is not a value of Quality \(0 \.\. 3\)/],
    ['tag with NUL', { tag: 'a\0b' }, /PointUpdate\.tag: .* is not text without NUL/],
    ['an unknown field', { pointId: 1, pointid: 2 }, /PointUpdate has no field "pointid" \(its fields: timestampNs, value, pointId, deviceId, quality, tag\)/],
    ['value as a string', { value: '3.5' }, /PointUpdate\.value: "3\.5" is not a number/],
    ['timestampNs as a number', { timestampNs: 5 }, /PointUpdate\.timestampNs: 5 is not a bigint/],
  ];
  for (const [what, obj, message] of bad) {
    it(`${what}: MMBUS_E_INVAL, nothing published`, () => {
      const ch = openChannel('p', PointUpdate, { dir, capacity: 16 });
      const sub = ch.subscribe({ start: 'oldest' });
      const e1 = errorOf(() => ch.publish(as<object>(obj)));
      expect(e1.code).toBe('MMBUS_E_INVAL');
      expect(e1.message).toMatch(message);
      // the same value set in place, in a writer callback: the claim is given up
      const e2 = errorOf(() => ch.publish((r) => r.assign(as<object>(obj))));
      expect([e2.code, e2.message]).toEqual([e1.code, e1.message]);
      ch.publish({ pointId: 5 });
      const got = sub.poll();
      expect(got?.toObjects().map((r) => r.pointId)).toEqual([5]);
      sub.close();
      ch.close();
    });
  }

  it('publish(42), publish(null), publish("x"), publishBatch without a function: MMBUS_E_INVAL', () => {
    const ch = openChannel('p', PointUpdate, { dir, capacity: 16 });
    for (const input of [42, null, 'x', undefined, true]) {
      const e = errorOf(() => ch.publish(as<object>(input)));
      expect(e.code).toBe('MMBUS_E_INVAL');
      expect(e.message).toContain('is not a record');
    }
    expect(errorOf(() => ch.publishBatch(2, as<() => void>(null))).code).toBe('MMBUS_E_INVAL');
    expect(errorOf(() => ch.publishBatch(2, () => {}, 0.5)).code).toBe('MMBUS_E_INVAL');
    expect(ch.head()).toBe(0);
    ch.close();
  });

  it('too-long text: MMBUS_E_TOOBIG; setName(v, { truncate: true }) stores the longest prefix', () => {
    const ch = openChannel('people', Person, { dir, capacity: 16 });
    const e = errorOf(() => ch.publish({ name: 'x'.repeat(65) }));
    expect(e.code).toBe('MMBUS_E_TOOBIG');
    expect(e.message).toContain('Person.name: the text is 65 bytes in UTF-8 but the field holds 64');
    expect(ch.publish((r) => r.setName('y'.repeat(70), { truncate: true }))).toBe(true);
    expect(ch.head()).toBe(1);
    ch.close();
  });
});

describe('records after close, batches of views', () => {
  it('a record read (or written) after its channel was closed: MMBUS_E_CLOSED, not a TypeError', async () => {
    const ch = openChannel('p', PointUpdate, { dir, capacity: 16 });
    const sub = ch.subscribe({ start: 'oldest' });
    ch.publish({ pointId: 1, quality: Quality.Bad, tag: 'a' });
    const batch = await sub.next();
    const kept = batch!.get(0);
    const copies = batch!.toArray();
    ch.close();
    for (const use of [() => kept.pointId, () => kept.tag, () => kept.toObject(), () => (kept.value = 1), () => JSON.stringify(kept)]) {
      const e = errorOf(use);
      expect(e.code).toBe('MMBUS_E_CLOSED');
      expect(e.message).toMatch(/^PointUpdate\.\w+: the record's memory is gone \(its channel or subscription was closed\)/);
    }
    // the copies are records of their own
    expect(copies.map((r) => [r.pointId, r.quality, r.tag])).toEqual([[1, Quality.Bad, 'a']]);
  });

  it('[...batch] is one flyweight n times; toArray() copies, toObjects() gives plain objects', async () => {
    const ch = openChannel('people', Person, { dir, capacity: 16 });
    const sub = ch.subscribe({ start: 'oldest' });
    for (const name of ['Ada', 'Grace', 'Edsger']) ch.publish({ name });
    const batch = (await sub.next())!;
    expect(batch.length).toBe(3);
    expect(new Set([...batch]).size).toBe(1); // the footgun, as documented
    expect(batch.toArray().map((r) => r.name)).toEqual(['Ada', 'Grace', 'Edsger']);
    expect(new Set(batch.toArray()).size).toBe(3);
    expect(batch.toObjects()).toEqual([
      { index: 0n, name: 'Ada', age: 0 },
      { index: 0n, name: 'Grace', age: 0 },
      { index: 0n, name: 'Edsger', age: 0 },
    ]);
    expect(errorOf(() => batch.get(3)).code).toBe('MMBUS_E_INVAL');
    sub.close();
    ch.close();
  });

  it('JSON.stringify of a record and toObject({ bigint: false }): 64-bit integers as numbers (strings beyond 2^53)', () => {
    const p = Person.fromObject({ index: 42n, name: 'Ada', age: 36 });
    expect(() => JSON.stringify(p.toObject())).toThrow(TypeError); // bigints, by default: exact
    expect(JSON.stringify(p)).toBe('{"index":42,"name":"Ada","age":36}');
    expect(p.toObject({ bigint: false })).toEqual({ index: 42, name: 'Ada', age: 36 });
    p.index = 2n ** 62n;
    expect(p.toObject({ bigint: false }).index).toBe('4611686018427387904');
  });
});

describe('MmbusError.errno: the OS errno behind a failure, 0 when there is none', () => {
  it('a directory that does not exist: MMBUS_E_DIR with errno ENOENT (2)', () => {
    const missing = join(dir, 'no', 'such');
    expect(existsSync(missing)).toBe(false);
    const e = errorOf(() => openChannel('p', PointUpdate, { dir: missing }));
    expect(e.code).toBe('MMBUS_E_DIR');
    expect(e.errno).toBe(2);
  });

  it('a mistake with no OS call behind it: errno 0', () => {
    expect(errorOf(() => openChannel('bad/name', PointUpdate, { dir })).errno).toBe(0);
    const ch = openChannel('p', PointUpdate, { dir, capacity: 16 });
    ch.close();
    const e = errorOf(() => ch.publish({ pointId: 1 }));
    expect([e.code, e.errno]).toEqual(['MMBUS_E_CLOSED', 0]);
  });
});
