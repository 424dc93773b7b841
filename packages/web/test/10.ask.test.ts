// ASK over WebSocket: current values first, then changes coalesced per key; unask; tails of plain channels.
import { openChannel, unlinkChannel } from '@mmbus/core';
import { Person, PointUpdate, Quality } from '@mmbus/messages';
import { describe, expect, it } from 'vitest';

import type { DecodedRecord, StatsMessage } from '../src/browser/client.ts';
import type { Gateway } from '../src/index.ts';
import { connect, gateway, sleep, until, useGatewayTests } from './helpers.ts';

let dir = '';
useGatewayTests((d) => (dir = d));
let g: Gateway | null = null;

const KEYS = 5000;
const point = (k: number, value: number) => ({ pointId: k, deviceId: Math.floor(k / 100), value, quality: Quality.Good, tag: `p${k}`, timestampNs: BigInt(k) });

describe('ask', () => {
  it('sends the current value of each newly asked key, then every change coalesced to its last value', async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: KEYS, capacity: 1 << 14, policy: 'overwrite' });
    for (let k = 0; k < KEYS; k++) if (k % 3 !== 0) ch.publish(point(k, k * 1.5)); // every third key has no value yet
    g = await gateway(dir);
    const client = await connect(g);
    const points = client.channel('points');
    const got = new Map<number, DecodedRecord>();
    let received = 0;
    points.onValues = (records) => {
      for (const r of records) got.set(r['point_id'] as number, r);
      received += records.length;
    };
    const asked = await points.ask([{ from: 100, to: 200 }, 4999, 7, 7]);
    expect(asked).toBe(102);
    await until(() => got.size === 69, 'the snapshot of the asked keys that have a value'); // 102 - 33 without a value
    for (const [k, r] of got) {
      expect(k % 3).not.toBe(0);
      expect(r).toEqual({ timestamp_ns: BigInt(k), value: k * 1.5, point_id: k, device_id: Math.floor(k / 100), quality: 'Good', tag: `p${k}` });
    }
    expect(points.info?.layout.name).toBe('mmbus.PointUpdate');
    // 20,000 changes of key 150 and one of key 102 (no value before): the last of each arrives, not every one
    received = 0;
    for (let i = 1; i <= 20_000; i++) ch.publish(point(150, -i));
    ch.publish(point(102, 42));
    await until(() => got.get(150)?.['value'] === -20_000 && got.get(102)?.['value'] === 42, 'the last values');
    expect(received).toBeLessThan(2000);
    // a key not asked never comes
    ch.publish(point(300, 1));
    ch.publish(point(101, 2));
    await until(() => got.get(101)?.['value'] === 2, 'key 101');
    expect(got.has(300)).toBe(false);
    client.close();
    ch.close();
  });

  it('unask: after its reply no value of the keys given back arrives; asking again sends the current value', async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: KEYS, policy: 'overwrite' });
    for (let k = 0; k < 10; k++) ch.publish(point(k, k));
    g = await gateway(dir);
    const client = await connect(g);
    const points = client.channel('points');
    const log: [number, number][] = [];
    points.onValues = (records) => {
      for (const r of records) log.push([r['point_id'] as number, r['value'] as number]);
    };
    await points.ask({ from: 0, to: 10 });
    await until(() => log.length === 10, 'the snapshot');
    expect(await points.unask([3, { from: 5, to: 10 }])).toBe(4);
    const mark = log.length;
    for (let i = 0; i < 100; i++) for (let k = 0; k < 10; k++) ch.publish(point(k, 1000 + i));
    await until(() => log.some(([k, v]) => k === 4 && v === 1099), 'key 4 changes');
    await sleep(200);
    expect(log.slice(mark).filter(([k]) => k === 3 || k >= 5)).toEqual([]);
    expect(await points.ask(7)).toBe(5);
    await until(() => log.some(([k, v]) => k === 7 && v === 1099), 'key 7 again, its current value');
    client.close();
    ch.close();
  });

  it("two clients asking the same key get it each; one leaving doesn't stop the other", async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: KEYS, policy: 'overwrite' });
    g = await gateway(dir);
    const a = await connect(g);
    const b = await connect(g);
    const seenA = new Map<number, number>();
    const seenB = new Map<number, number>();
    a.channel('points').onValues = (rs) => rs.forEach((r) => seenA.set(r['point_id'] as number, r['value'] as number));
    b.channel('points').onValues = (rs) => rs.forEach((r) => seenB.set(r['point_id'] as number, r['value'] as number));
    await a.channel('points').ask([1, 2]);
    await b.channel('points').ask([2, 3]);
    ch.publish(point(1, 1));
    ch.publish(point(2, 2));
    ch.publish(point(3, 3));
    await until(() => seenA.size === 2 && seenB.size === 2, 'both');
    expect([...seenA]).toEqual(expect.arrayContaining([[1, 1], [2, 2]]));
    expect([...seenB]).toEqual(expect.arrayContaining([[2, 2], [3, 3]]));
    a.close();
    await until(() => g!.stats().clients === 1, 'a gone');
    ch.publish(point(2, 22));
    await until(() => seenB.get(2) === 22, 'b still served');
    b.close();
    await until(() => g!.stats().channels === 0, 'the channel closed with its last client');
    ch.close();
  });

  it('a gateway lapped on an overwrite channel still sends every key its last value (read again from the key table)', async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: KEYS, capacity: 16, policy: 'overwrite' });
    g = await gateway(dir);
    const client = await connect(g);
    const got = new Map<number, number>();
    client.channel('points').onValues = (rs) => rs.forEach((r) => got.set(r['point_id'] as number, r['value'] as number));
    await client.channel('points').ask({ from: 0, to: 1000 });
    await sleep(100);
    // 3 x 1,000 changes through a 16-record ring while the gateway cannot read: it is lapped
    ch.publishBatch(3000, (r, i) => r.assign(point(i % 1000, Math.floor(i / 1000) + 1)), 8);
    await until(() => got.size === 1000 && [...got.values()].every((v) => v === 3), 'every key at its last value', 10_000).catch((e: Error) => {
      throw new Error(`${e.message}: ${[...got.values()].filter((v) => v === 3).length} of 1000 at 3`);
    });
    client.close();
    ch.close();
  });

  it('a channel removed under the gateway: its clients are told (dropped, MMBUS_E_STALE), the rest carries on', async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: 10 });
    ch.publish(point(1, 1));
    g = await gateway(dir);
    const client = await connect(g);
    const points = client.channel('points');
    let dropped = '';
    points.onDropped = (code) => (dropped = code);
    let value = 0;
    points.onValues = (rs) => (value = rs[0]!['value'] as number);
    await points.ask(1);
    await until(() => value === 1, 'the value');
    ch.close();
    unlinkChannel('points', dir);
    await until(() => dropped !== '', 'dropped', 10_000);
    expect(dropped).toBe('MMBUS_E_STALE');
    await until(() => g!.stats().channels === 0, 'the hub closed');
    // a new channel of that name can be asked for again
    const again = openChannel('points', PointUpdate, { dir, keys: 10 });
    again.publish(point(1, 2));
    await points.ask(1);
    await until(() => value === 2, 'the new channel\'s value');
    client.close();
    again.close();
  });

  it("stats: the channel's head and its subscribers (the gateway's own among them), to every client that asks", async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: 10 });
    const sub = ch.subscribe({ name: 'backend' });
    for (let i = 0; i < 7; i++) ch.publish(point(i, i));
    g = await gateway(dir, { statsIntervalMs: 50 });
    const clients = await Promise.all([connect(g), connect(g)]);
    const seen: StatsMessage[][] = [[], []];
    clients.forEach((c, i) => (c.channel('points').onStats = (m) => seen[i]!.push(m)));
    await Promise.all(clients.map((c) => c.channel('points').stats(true)));
    await until(() => seen.every((l) => l.length >= 3), 'stats');
    for (const l of seen) {
      const m = l[l.length - 1]!;
      expect(m.head).toBe(7);
      expect(m.subscribers.map((s) => s.name ?? '(anonymous)').sort()).toEqual(['(anonymous)', 'backend']); // the gateway's is anonymous
      expect(m.subscribers.find((s) => s.name === 'backend')).toMatchObject({ durable: true, lag: 7, pid: process.pid });
    }
    await clients[0]!.channel('points').stats(false);
    const n = seen[0]!.length;
    await until(() => seen[1]!.length >= n + 3, 'more stats for the other');
    expect(seen[0]!.length).toBeLessThanOrEqual(n + 1);
    for (const c of clients) c.close();
    sub.close();
    ch.close();
  });

  it('a channel that describes its records is served with no type or schema given', async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: 10 });
    ch.publish(point(3, 0.5));
    g = await gateway(dir, { schemas: [] });
    const client = await connect(g);
    expect(await client.list()).toMatchObject([{ name: 'points', schema: 'mmbus.PointUpdate', keyCount: 10, known: true }]);
    let got: DecodedRecord | null = null;
    client.channel('points').onValues = (rs) => (got = rs[0] ?? null);
    await client.channel('points').ask(3);
    await until(() => got !== null, 'the value');
    expect(got).toEqual({ timestamp_ns: 3n, value: 0.5, point_id: 3, device_id: 0, quality: 'Good', tag: 'p3' });
    client.close();
    ch.close();
  });

  it('json format: the same records decoded by the gateway (64-bit integers exact, NaN as a string)', async () => {
    const ch = openChannel('points', PointUpdate, { dir, keys: KEYS, policy: 'overwrite' });
    ch.publish({ ...point(9, 0.25), timestampNs: 2n ** 63n + 5n });
    ch.publish({ ...point(8, NaN), timestampNs: 7n });
    g = await gateway(dir);
    const client = await connect(g, { format: 'json' });
    const got: DecodedRecord[] = [];
    client.channel('points').onValues = (rs) => got.push(...rs);
    await client.channel('points').ask([8, 9]);
    await until(() => got.length === 2, 'the values');
    // exact 64-bit integers: numbers when safe, else strings of digits; NaN as a string (JSON has none)
    expect(got).toEqual([
      { timestamp_ns: 7, value: 'NaN', point_id: 8, device_id: 0, quality: 'Good', tag: 'p8' },
      { timestamp_ns: (2n ** 63n + 5n).toString(), value: 0.25, point_id: 9, device_id: 0, quality: 'Good', tag: 'p9' },
    ]);
    client.close();
    ch.close();
  });
});

describe('tail', () => {
  it('a plain channel: the newest records, rate-limited; skipped + sent = published', async () => {
    const ch = openChannel('people', Person, { dir, capacity: 1 << 16 });
    g = await gateway(dir, { tailMax: 50 });
    const client = await connect(g);
    const people = client.channel('people');
    const got: DecodedRecord[] = [];
    let skipped = 0;
    people.onTail = (rs, f) => {
      got.push(...rs);
      skipped += f.skipped;
    };
    await people.tail();
    const N = 10_000;
    ch.publishBatch(N, (r, i) => r.assign({ index: BigInt(i), name: `n${i}`, age: i % 100 }));
    await until(() => got.length + skipped === N, 'every record sent or counted as skipped');
    expect(got[got.length - 1]).toEqual({ index: BigInt(N - 1), name: `n${N - 1}`, age: (N - 1) % 100 });
    expect(got.length).toBeLessThan(N);
    // in order, no record twice
    const idx = got.map((r) => Number(r['index']));
    expect(idx).toEqual([...idx].sort((x, y) => x - y));
    expect(new Set(idx).size).toBe(idx.length);
    await expect(people.ask(1)).rejects.toMatchObject({ code: 'MMBUS_E_STATE' });
    client.close();
    ch.close();
  });
});
