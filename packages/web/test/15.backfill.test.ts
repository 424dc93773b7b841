// Tails with a backfill: `tail` with `last` sends the newest `last` records published before the request
// (as many as the ring still holds), oldest first, then the live tail — no record twice, none missing
// unless counted as skipped. Every record's contents are checked.
import { openChannel } from '@mmbus/core';
import { Person, PointUpdate, Quality } from '@mmbus/messages';
import { describe, expect, it } from 'vitest';

import type { DecodedRecord, FrameInfo } from '../src/browser/client.ts';
import type { Gateway } from '../src/index.ts';
import { connect, gateway, until, useGatewayTests } from './helpers.ts';

let dir = '';
useGatewayTests((d) => (dir = d));
let g: Gateway | null = null;

const person = (i: number) => ({ index: BigInt(i), name: `n${i}`, age: i % 100 });
const personOut = (i: number) => ({ index: BigInt(i), name: `n${i}`, age: i % 100 });

/** Every tail frame a client got, in order. */
function recorder(): { frames: { records: DecodedRecord[]; info: FrameInfo }[]; on: (records: DecodedRecord[], info: FrameInfo) => void } {
  const frames: { records: DecodedRecord[]; info: FrameInfo }[] = [];
  return { frames, on: (records, info) => void frames.push({ records, info }) };
}

describe('tail with a backfill', () => {
  it('last N: the N records published before the request, oldest first and flagged, then exactly the live ones', async () => {
    const ch = openChannel('people', Person, { dir, capacity: 1024 });
    for (let i = 0; i < 3000; i++) ch.publish(person(i)); // the ring holds 1976 .. 2999
    g = await gateway(dir, { tailMax: 50 });
    const client = await connect(g);
    const people = client.channel('people');
    const rec = recorder();
    people.onTail = rec.on;
    expect(await people.tail({ last: 100 })).toBe(100);
    await until(() => rec.frames.reduce((n, f) => n + f.records.length, 0) === 100, 'the backfill');
    for (let i = 0; i < 10; i++) ch.publish(person(3000 + i));
    await until(() => rec.frames.reduce((n, f) => n + f.records.length + f.info.skipped, 0) === 110, 'the live records');
    const backfill = rec.frames.filter((f) => f.info.backfill).flatMap((f) => f.records);
    const live = rec.frames.filter((f) => !f.info.backfill).flatMap((f) => f.records);
    expect(backfill).toEqual(Array.from({ length: 100 }, (_, i) => personOut(2900 + i)));
    expect(live).toEqual(Array.from({ length: 10 }, (_, i) => personOut(3000 + i)));
    expect(rec.frames.every((f) => f.info.skipped === 0)).toBe(true);
    // the backfill frames come before every live frame
    const firstLive = rec.frames.findIndex((f) => !f.info.backfill);
    expect(rec.frames.slice(firstLive).every((f) => !f.info.backfill)).toBe(true);
    client.close();
    ch.close();
  });

  it('more than the ring holds: what it still holds (the reply says how many); none at all when nothing was published', async () => {
    const ch = openChannel('people', Person, { dir, capacity: 1024, policy: 'overwrite' });
    g = await gateway(dir);
    const early = await connect(g);
    expect(await early.channel('people').tail({ last: 10 })).toBe(0);
    early.close();
    for (let i = 0; i < 3000; i++) ch.publish(person(i));
    const client = await connect(g);
    const people = client.channel('people');
    const rec = recorder();
    people.onTail = rec.on;
    expect(await people.tail({ last: 1_000_000 })).toBe(1024);
    await until(() => rec.frames.reduce((n, f) => n + f.records.length, 0) === 1024, 'the backfill');
    expect(rec.frames.flatMap((f) => f.records)).toEqual(Array.from({ length: 1024 }, (_, i) => personOut(1976 + i)));
    expect(rec.frames.every((f) => f.info.backfill && f.info.skipped === 0)).toBe(true);
    client.close();
    ch.close();
  });

  it('a backfill bigger than a frame, while records keep coming: in order, none twice, sent + skipped = every record', async () => {
    const ch = openChannel('people', Person, { dir, capacity: 1 << 15 });
    ch.publishBatch(20_000, (r, i) => r.assign(person(i)));
    // small frames and a small high-water mark: the backfill goes out over many ticks
    g = await gateway(dir, { maxFrameBytes: 4096, highWaterBytes: 8192, tailMax: 100 });
    const client = await connect(g);
    const people = client.channel('people');
    const rec = recorder();
    people.onTail = rec.on;
    const tailing = people.tail({ last: 20_000 });
    ch.publishBatch(5000, (r, i) => r.assign(person(20_000 + i))); // before the gateway reads the request, or after
    expect(await tailing).toBe(20_000);
    for (let i = 25_000; i < 26_000; i++) ch.publish(person(i));
    const got = (): DecodedRecord[] => rec.frames.flatMap((f) => f.records);
    await until(() => got().some((r) => r['index'] === 25_999n), 'the last record');
    const idx = got().map((r) => Number(r['index']));
    const first = idx[0]!; // the backfill: the 20,000 before the request, whenever the gateway read it
    expect(first === 0 || first === 5000).toBe(true);
    expect(idx.slice(0, 20_000)).toEqual(Array.from({ length: 20_000 }, (_, i) => first + i));
    expect(rec.frames.reduce((n, f) => n + f.records.length + f.info.skipped, 0)).toBe(26_000 - first);
    for (let i = 1; i < idx.length; i++) expect(idx[i]).toBeGreaterThan(idx[i - 1]!);
    for (const r of got()) expect(r).toEqual(personOut(Number(r['index'])));
    expect(rec.frames.filter((f) => f.info.backfill).length).toBeGreaterThan(100); // 20,000 records of ~60 bytes in frames of 4 KiB
    client.close();
    ch.close();
  });

  it('a keyed channel (its subscription asked only some keys before): the backfill then every record published after', async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: 100, capacity: 4096, policy: 'overwrite' });
    const point = (i: number) => ({ pointId: i % 100, deviceId: 1, value: i, quality: Quality.Good, tag: `t${i}`, timestampNs: BigInt(i) });
    const pointOut = (i: number) => ({ point_id: i % 100, device_id: 1, value: i, quality: 'Good', tag: `t${i}`, timestamp_ns: i }); // json: 64-bit integers as numbers when exact
    for (let i = 0; i < 500; i++) ch.publish(point(i));
    g = await gateway(dir);
    const asker = await connect(g);
    const values: DecodedRecord[] = [];
    asker.channel('points').onValues = (rs) => void values.push(...rs);
    await asker.channel('points').ask(7);
    await until(() => values.length === 1, 'the asked key');
    for (let i = 500; i < 600; i++) ch.publish(point(i)); // the gateway's subscription takes only key 7 of these
    await until(() => values.some((r) => r['value'] === 507), 'key 7 changed');
    const client = await connect(g, { format: 'json' });
    const points = client.channel('points');
    const rec = recorder();
    points.onTail = rec.on;
    expect(await points.tail({ last: 150 })).toBe(150);
    for (let i = 600; i < 620; i++) ch.publish(point(i));
    await until(() => rec.frames.reduce((n, f) => n + f.records.length, 0) === 170, 'backfill and live');
    // records published while the ask for every key took effect come in the backfill (those of other
    // keys were left out of the live subscription until then): together, every record from 450 on, once
    expect(rec.frames.flatMap((f) => f.records)).toEqual(Array.from({ length: 170 }, (_, i) => pointOut(450 + i)));
    const firstLive = rec.frames.findIndex((f) => !f.info.backfill);
    expect(rec.frames.slice(0, firstLive < 0 ? undefined : firstLive).reduce((n, f) => n + f.records.length, 0)).toBeGreaterThanOrEqual(150);
    if (firstLive >= 0) expect(rec.frames.slice(firstLive).every((f) => !f.info.backfill)).toBe(true);
    expect(rec.frames.every((f) => f.info.skipped === 0)).toBe(true);
    asker.close();
    client.close();
    ch.close();
  });

  it('refused: a last that is no count, or a backfill asked while already tailing (one error, nothing changes)', async () => {
    const ch = openChannel('people', Person, { dir, capacity: 1024 });
    ch.publishBatch(10, (r, i) => r.assign(person(i)));
    g = await gateway(dir);
    const client = await connect(g);
    const people = client.channel('people');
    const rec = recorder();
    people.onTail = rec.on;
    for (const last of [-1, 1.5, '3', null, 2 ** 32 + 1]) {
      await expect(client.request({ op: 'tail', channel: 'people', last: last as number })).rejects.toMatchObject({ code: 'MMBUS_E_INVAL' });
    }
    expect(g.stats().channels).toBe(0); // nothing was opened
    expect(await people.tail()).toBe(0);
    await expect(people.tail({ last: 5 })).rejects.toMatchObject({ code: 'MMBUS_E_STATE' });
    ch.publish(person(10));
    await until(() => rec.frames.length === 1, 'the live record');
    expect(rec.frames[0]!.records).toEqual([personOut(10)]);
    expect(rec.frames[0]!.info.backfill).toBe(false);
    await people.untail();
    expect(await people.tail({ last: 3 })).toBe(3); // untailed: a backfill again
    await until(() => rec.frames.length === 2, 'the backfill');
    expect(rec.frames[1]!.records).toEqual([personOut(8), personOut(9), personOut(10)]);
    client.close();
    ch.close();
  });
});
