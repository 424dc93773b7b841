// Slow clients and many clients: a client that stops reading gets fewer, fresher frames and costs a
// bounded amount of memory; it never holds the bus or the other clients back.
import { openChannel } from '@mmbus/core';
import { PointUpdate, Quality } from '@mmbus/messages';
import { describe, expect, it } from 'vitest';

import type { MmbusWebClient } from '../src/browser/client.ts';
import type { Gateway } from '../src/index.ts';
import { connect, gateway, sleep, until, useGatewayTests } from './helpers.ts';

let dir = '';
useGatewayTests((d) => (dir = d));
let g: Gateway | null = null;

const point = (k: number, value: number) => ({ pointId: k, deviceId: 0, value, quality: Quality.Good, tag: `p${k}` });
/** The client's socket (ws package) underneath, to stop reading from it as a stalled browser would. */
const socketOf = (c: MmbusWebClient) => (c as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;

describe('load', () => {
  it('a stalled client: bounded bytes queued for it, frames skipped, the bus and a fast client unaffected; resumed, it gets every final value', async () => {
    const KEYS = 50_000;
    const HIGH_WATER = 64 * 1024;
    const MAX_FRAME = 16 * 1024;
    // block: a gateway that stopped reading the channel would stall this publisher (time-out after 2 s)
    const ch = openChannel('points', PointUpdate, { dir, keys: KEYS, capacity: 1 << 16, policy: 'block', timeoutMs: 2000 });
    g = await gateway(dir, { highWaterBytes: HIGH_WATER, maxFrameBytes: MAX_FRAME });
    const slow = await connect(g);
    const fast = await connect(g);
    const slowLast = new Float64Array(KEYS).fill(NaN);
    slow.channel('points').onValues = (rs) => rs.forEach((r) => (slowLast[r['point_id'] as number] = r['value'] as number));
    const fastLast = new Map<number, number>();
    fast.channel('points').onValues = (rs) => rs.forEach((r) => fastLast.set(r['point_id'] as number, r['value'] as number));
    await slow.channel('points').ask('all');
    const fastKeys = [0, 17, 4242, 49_999];
    await fast.channel('points').ask(fastKeys);
    socketOf(slow).pause();
    let maxBuffered = 0;
    let maxPending = 0;
    const ROUNDS = 30;
    for (let round = 1; round <= ROUNDS; round++) {
      for (let k0 = 0; k0 < KEYS; k0 += 10_000) {
        ch.publishBatch(10_000, (r, i) => r.assign(point(k0 + i, round)));
        await sleep(2);
        const s = g.stats();
        maxBuffered = Math.max(maxBuffered, s.bufferedBytes);
        maxPending = Math.max(maxPending, s.pendingKeys);
      }
      // the fast client sees each round's values while the slow one is stalled
      await until(() => fastKeys.every((k) => fastLast.get(k) === round), `the fast client's round ${round}`);
    }
    const s = g.stats();
    expect(s.skippedFrames).toBeGreaterThan(0);
    // what is queued for the stalled client: at most the high-water mark plus one frame
    expect(maxBuffered).toBeLessThanOrEqual(HIGH_WATER + MAX_FRAME);
    // pending keys: a set, at most one entry per key and client, whatever the number of changes
    expect(maxPending).toBeLessThanOrEqual(KEYS + fastKeys.length);
    socketOf(slow).resume();
    await until(() => slowLast.every((v) => v === ROUNDS), 'every final value at the resumed client');
    slow.close();
    fast.close();
    ch.close();
  });

  it('200 clients at once, each asking its own keys: each gets exactly its current values, then its changes', async () => {
    const KEYS = 10_000;
    const ch = openChannel('points', PointUpdate, { dir, keys: KEYS, policy: 'overwrite' });
    ch.publishBatch(KEYS, (r, i) => r.assign(point(i, i)));
    g = await gateway(dir);
    const N = 200;
    const clients = await Promise.all(Array.from({ length: N }, () => connect(g!)));
    const seen = clients.map(() => new Map<number, number>());
    const keysOf = (i: number) => [i, (i * 37 + 1) % KEYS, { from: 5000 + i * 10, to: 5000 + i * 10 + 3 }];
    const expectedKeys = (i: number) => [...new Set([i, (i * 37 + 1) % KEYS, 5000 + i * 10, 5001 + i * 10, 5002 + i * 10])].sort((a, b) => a - b);
    clients.forEach((c, i) => (c.channel('points').onValues = (rs) => rs.forEach((r) => seen[i]!.set(r['point_id'] as number, r['value'] as number))));
    await Promise.all(clients.map((c, i) => c.channel('points').ask(keysOf(i))));
    await until(() => seen.every((m, i) => m.size === expectedKeys(i).length), 'every snapshot');
    seen.forEach((m, i) => {
      expect([...m.keys()].sort((a, b) => a - b)).toEqual(expectedKeys(i));
      for (const [k, v] of m) expect(v).toBe(k);
    });
    ch.publishBatch(KEYS, (r, i) => r.assign(point(i, -i)));
    await until(() => seen.every((m) => [...m].every(([k, v]) => v === -k)), 'every change');
    seen.forEach((m, i) => expect(m.size).toBe(expectedKeys(i).length)); // nothing else came
    for (const c of clients) c.close();
    await until(() => g!.stats().clients === 0, 'all gone');
    ch.close();
  });
});
