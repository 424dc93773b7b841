// Self-describing channels: a channel created from a generated type carries its record layout, and
// any process reads records through it without the type (docs/format.md §13).
import { openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { recordDecoder } from '@mmbus/runtime';
import { Person, PointUpdate, Quality } from '@mmbus/messages';
import { inspectChannel, MmbusError, openChannel } from '../src/index.js';
import { useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MmbusError);
    return (e as MmbusError).code;
  }
  return undefined;
}

/** A message type like Person whose LAYOUT is `layout` (what a hand-written or stale class could carry). */
function withLayout(layout: unknown): typeof Person {
  const type = class extends Person {};
  Object.defineProperty(type, 'LAYOUT', { value: layout });
  return type;
}

describe('self-describing channels', () => {
  it('a channel carries the layout of its message type; a process without the type decodes every record through it', () => {
    const ch = openChannel('people', Person, { dir, capacity: 64 });
    expect(ch.layout).toEqual(JSON.parse(JSON.stringify(Person.LAYOUT)));
    for (let i = 0; i < 40; i++) ch.publish({ index: BigInt(i), age: 20 + (i % 50), name: `person ${i} ✓` });
    const ins = inspectChannel('people', dir);
    const layout = ins.layout!;
    expect(layout.name).toBe('mmbus.Person');
    const decode = recordDecoder(layout);
    for (let i = 0; i < 40; i++) {
      const bytes = ins.read(i)!;
      const want = new Person(new DataView(bytes.buffer, bytes.byteOffset)).toObject();
      const got = decode(new DataView(bytes.buffer, bytes.byteOffset), 0);
      expect(got).toMatchObject({ index: BigInt(i), age: 20 + (i % 50), name: `person ${i} ✓` });
      expect(Object.keys(got)).toHaveLength(Object.keys(want).length);
    }
    ins.close();
    ch.close();
  });

  it('a keyed type names its key field; enum values decode by name', () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: 100, capacity: 64 });
    ch.publish({ pointId: 7, deviceId: 3, value: 2.5, quality: Quality.CommFailure, tag: 'dev3/p7' });
    const ins = inspectChannel('points', dir);
    expect(ins.layout?.key).toBe('point_id');
    const bytes = ins.read(0)!;
    expect(recordDecoder(ins.layout!)(new DataView(bytes.buffer, bytes.byteOffset), 0)).toMatchObject({ point_id: 7, device_id: 3, value: 2.5, quality: 'CommFailure', tag: 'dev3/p7' });
    ins.close();
    ch.close();
  });

  it("describe: false leaves the layout out (and files without one open as before); a bad describe is refused", () => {
    const ch = openChannel('bare', Person, { dir, describe: false });
    expect(ch.layout).toBeUndefined();
    const ins = inspectChannel('bare', dir);
    expect(ins.layout).toBeUndefined();
    ins.close();
    // opening with a described type does not add one: the description is written once, at creation
    const again = openChannel('bare', Person, { dir });
    expect(again.layout).toBeUndefined();
    again.close();
    ch.close();
    expect(codeOf(() => openChannel('x', Person, { dir, describe: 'yes' as unknown as boolean }))).toBe('MMBUS_E_INVAL');
  });

  it('a description that does not match its header is refused with MMBUS_E_BADFILE, saying why', () => {
    const renamed = { ...Person.LAYOUT, fields: Person.LAYOUT.fields.map((f) => (f.name === 'age' ? { ...f, name: 'years' } : f)) };
    const cases: [string, unknown, RegExp][] = [
      ['renamed', renamed, /fingerprint/],
      ['other', PointUpdate.LAYOUT, /not of the header's mmbus\.Person/],
      ['malformed', { ...Person.LAYOUT, size: 0 }, /malformed/],
    ];
    for (const [name, layout, why] of cases) {
      const ch = openChannel(name, withLayout(layout), { dir });
      let err: unknown;
      try {
        void ch.layout;
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(MmbusError);
      expect((err as MmbusError).code).toBe('MMBUS_E_BADFILE');
      expect((err as MmbusError).message).toMatch(why);
      ch.close();
    }
  });

  it('a description changed in the file after creation: the open handle says MMBUS_E_CORRUPT, a new open MMBUS_E_BADFILE', () => {
    const ch = openChannel('changed', Person, { dir });
    const path = join(dir, 'changed.db');
    const text = JSON.stringify(Person.LAYOUT);
    const at = readFileSync(path).indexOf(Buffer.from(text));
    expect(at).toBeGreaterThan(0); // the description is in the file as written
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('X'), 0, 1, at + 10);
    closeSync(fd);
    expect(codeOf(() => ch.layout)).toBe('MMBUS_E_CORRUPT');
    expect(codeOf(() => inspectChannel('changed', dir))).toBe('MMBUS_E_BADFILE');
    ch.close();
  });

  it('a layout beyond 1 MiB of JSON is refused with MMBUS_E_TOOBIG, and describe: false opens it', () => {
    const huge = withLayout({ ...Person.LAYOUT, note: 'x'.repeat(1 << 20) });
    expect(codeOf(() => openChannel('huge', huge, { dir }))).toBe('MMBUS_E_TOOBIG');
    const ch = openChannel('huge', huge, { dir, describe: false });
    expect(ch.layout).toBeUndefined();
    ch.close();
  });
});
