// Keyed channels into a JetStream KV bucket, against a real nats-server: the C++ collector's points
// (a bridge started mid-stream takes the snapshot, then the changes), a TypeScript keyed publisher
// changing values while the bridge is killed with SIGKILL and restarted, a clean restart that puts
// only the keys changed meanwhile; the bucket read back record by record (every key's value equal to
// the channel's latest), through the nats client's KV API (keys, get, watch).
import { join } from 'node:path';

import { openChannel, type Channel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';
import { lastJson, spawnChild } from '@mmbus/test-kit';
import { type KV, type KvEntry, type NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';

import { HEADER, hex64, readStatsFile, type OutRouteStats } from '../src/index.js';
import { bridgeProcess, CPP_BUILD, natsClient, startBridge, stopBridge, until, useNatsServer, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));
const server = useNatsServer();

const kvRoute = (bucket: string, extra: object = {}) => ({
  nats: { servers: server().url, ackTimeoutMs: 1000 },
  routes: [{ direction: 'kv', channel: 'points', bucket, batch: 1000, ...extra }],
});

const routeStats = (): OutRouteStats => readStatsFile(join(dir, 'bridge.bridge.json')).routes[0] as OutRouteStats;
/** The bridge has put everything (the snapshot too: it is not in `lag`) and waits for changes. */
const caughtUp = (): boolean => {
  const r = routeStats();
  return r.waiting && r.lag === 0;
};

/** The bytes of a record (a copy from latest(), or one in a batch). */
const bytesOf = (r: PointUpdate): Uint8Array => new Uint8Array(r.view.buffer, r.view.byteOffset + r.offset, PointUpdate.SIZE);

/** Every key's stored value in the bucket, read from its stream (history 1: one message per key). */
async function bucketValues(nc: NatsConnection, bucket: string): Promise<Map<number, { data: Uint8Array; seq: number }>> {
  // the bridge's headers on every value (what it is, and which record of the channel)
  const stream = `KV_${bucket}`;
  const { messages } = (await (await nc.jetstreamManager()).streams.info(stream)).state;
  const out = new Map<number, { data: Uint8Array; seq: number }>();
  if (messages === 0) return out;
  const consumer = await (await nc.jetstream().consumers.get(stream)).consume();
  let n = 0;
  for await (const m of consumer) {
    const key = Number(m.subject.slice(`$KV.${bucket}.`.length));
    expect(out.has(key), `key ${key} twice in the bucket`).toBe(false);
    expect(m.headers?.get(HEADER.fingerprint)).toBe(hex64(PointUpdate.FINGERPRINT));
    out.set(key, { data: m.data, seq: Number(m.headers?.get(HEADER.seq)) });
    if (++n === messages) break;
  }
  return out;
}

/** Checks that the bucket holds exactly the channel's latest value of every key (bytes and sequence). */
async function expectBucketIsLatest(nc: NatsConnection, bucket: string, ch: Channel<PointUpdate>): Promise<void> {
  const values = await bucketValues(nc, bucket);
  expect(values.size, 'keys in the bucket').toBe(ch.keyCount);
  let wrong = 0;
  let first = '';
  for (let key = 0; key < ch.keyCount; key++) {
    const latest = ch.latest(key);
    const got = values.get(key);
    if (!latest || !got || !Buffer.from(got.data).equals(bytesOf(latest))) {
      if (!wrong++) first = `key ${key}: bucket ${got ? JSON.stringify(new PointUpdate(new DataView(got.data.buffer, got.data.byteOffset), 0).toObject(), big) : 'missing'}, channel ${latest ? JSON.stringify(latest.toObject(), big) : 'no value'}`;
    }
  }
  expect(wrong, `keys whose value in the bucket is not the latest (first: ${first})`).toBe(0);
}

const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? String(v) : v);

/** A watch of the whole bucket by a plain nats client: the last entry seen per key. */
async function watchBucket(nc: NatsConnection, bucket: string): Promise<{ kv: KV; seen: Map<string, KvEntry>; stop: () => void }> {
  const kv = await nc.jetstream().views.kv(bucket, { bindOnly: true });
  const seen = new Map<string, KvEntry>();
  const w = await kv.watch({ key: '>' });
  void (async () => {
    for await (const e of w) seen.set(e.key, e);
  })();
  return { kv, seen, stop: () => w.stop() };
}

describe('keyed channel → KV bucket', () => {
  it('the C++ collector: a bridge started mid-stream puts the snapshot then the changes; the bucket is every point’s latest value, also to a watch', async () => {
    const devices = 10;
    const perDevice = 500;
    const points = devices * perDevice;
    const ch = openChannel('points', PointUpdate, { dir, keys: points, capacity: 1 << 16, policy: 'block' });
    const nc = await natsClient(server().url);
    const host = spawnChild(join(CPP_BUILD, 'collector-host'), [
      '--dir', dir, '--devices', String(devices), '--points-per-device', String(perDevice),
      '--capacity', String(1 << 16), '--policy', 'block', '--rate', '20000', '--duration', '3', '--quiet',
    ]);
    await until(() => ch.head() >= points, 'the collector’s start-up burst');
    // the bridge comes after the burst: its first batches are the snapshot of every point
    const bridge = await startBridge(dir, kvRoute('points'));
    const watch = await watchBucket(nc, 'points');
    const h = await host.exited;
    expect(h.code, h.stderr).toBe(0);
    const published = lastJson<{ ok: boolean; published: number }>(h.stdout);
    expect(published).toMatchObject({ ok: true });
    expect(published.published).toBeGreaterThan(points); // changes went by while the bridge ran
    await until(() => caughtUp(), 'the bridge to finish');
    const final = await stopBridge(bridge);
    const r = final.routes[0] as OutRouteStats;
    expect(r).toMatchObject({ direction: 'kv', bucket: 'points', stream: 'KV_points', subject: '$KV.points.>', durable: 'kv.bridge', lost: 0, held: false });
    expect(r.acked).toBe(r.forwarded);
    expect(r.forwarded).toBeGreaterThanOrEqual(points);
    await expectBucketIsLatest(nc, 'points', ch);

    // the KV API of a remote client: the keys are the decimal keys; get and watch see the latest values
    const keys: string[] = [];
    for await (const k of await watch.kv.keys()) keys.push(k);
    expect(keys.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: points }, (_, i) => i));
    for (const key of [0, 1, 1234, points - 1]) {
      const e = await watch.kv.get(String(key));
      expect(e?.operation).toBe('PUT');
      expect(Buffer.from(e!.value).equals(bytesOf(ch.latest(key)!))).toBe(true);
      const v = new PointUpdate(new DataView(e!.value.buffer, e!.value.byteOffset), 0);
      expect([v.pointId, v.deviceId, v.tag]).toEqual([key, Math.floor(key / perDevice), `dev${Math.floor(key / perDevice)}/pt${key % perDevice}`]);
    }
    await until(() => watch.seen.size === points, 'the watch to see every key');
    let stale = 0;
    for (let key = 0; key < points; key++) if (!Buffer.from(watch.seen.get(String(key))!.value).equals(bytesOf(ch.latest(key)!))) stale++;
    expect(stale, 'keys whose last watched value is not the latest').toBe(0);
    watch.stop();
    ch.close();
  });

  it('a TypeScript keyed publisher changing values while the bridge is killed with SIGKILL twice and restarted: the bucket ends equal to the latest values', async () => {
    const keys = 2000;
    const ch = openChannel('points', PointUpdate, { dir, keys, capacity: 1 << 16, policy: 'block' });
    const nc = await natsClient(server().url);
    let version = 0;
    /** `n` changes of pseudo-random keys (every key once in the first round), each value naming its version. */
    const publish = (n: number, all = false): void => {
      ch.publishBatch(n, (r, i) => {
        version++;
        const key = all ? i : (version * 7919) % keys;
        r.assign({ pointId: key, deviceId: key % 10, value: version, timestampNs: BigInt(version), quality: 0, tag: `v${version}` });
      });
    };
    publish(keys, true);
    let bridge = await startBridge(dir, kvRoute('kills'));
    // changes every few milliseconds while the bridge is killed and restarted
    let publishing = true;
    const changes = (async () => {
      for (let round = 0; publishing && round < 4000; round++) {
        publish(50);
        await new Promise((res) => setTimeout(res, 5));
      }
    })();
    for (let kill = 0; kill < 2; kill++) {
      const from = routeStats().acked;
      await until(() => routeStats().acked >= from + 3000, 'the bridge to put some changes');
      bridge.proc.kill('SIGKILL');
      await bridge.exited;
      publish(500); // changed while it is away
      bridge = await startBridge(dir, kvRoute('kills'));
    }
    await until(() => routeStats().acked >= 3000, 'the restarted bridge to put some changes');
    publishing = false;
    await changes;
    await until(() => caughtUp(), 'the bridge to finish');
    const final = await stopBridge(bridge);
    expect(final.routes[0]).toMatchObject({ direction: 'kv', lost: 0, held: false });
    await expectBucketIsLatest(nc, 'kills', ch);
    ch.close();
  });

  it('a clean restart puts exactly the keys changed while the bridge was away (snapshot "changed"), as JSON; one put per key per batch, its last value', async () => {
    const keys = 1000;
    const ch = openChannel('points', PointUpdate, { dir, keys, capacity: 1 << 14, policy: 'block' });
    const nc = await natsClient(server().url);
    const put = (list: number[], value: number): void => {
      ch.publishBatch(list.length, (r, i) => r.assign({ pointId: list[i]!, deviceId: 1, value, timestampNs: 1n, quality: 0, tag: `k${list[i]!}` }));
    };
    put(Array.from({ length: keys }, (_, i) => i), 1);
    const route = kvRoute('json', { encoding: 'json' });
    let bridge = await startBridge(dir, route);
    await until(() => routeStats().acked >= keys, 'the snapshot in the bucket');
    expect((await stopBridge(bridge)).routes[0]).toMatchObject({ forwarded: keys, acked: keys, duplicates: 0 });

    // away: 100 keys change, some of them several times
    const changed = Array.from({ length: 100 }, (_, i) => i * 10);
    put(changed, 2);
    put(changed.slice(0, 50), 3);
    bridge = await startBridge(dir, route);
    await until(() => caughtUp() && routeStats().acked >= 100, 'the changed keys in the bucket');
    const second = (await stopBridge(bridge)).routes[0] as OutRouteStats;
    expect(second).toMatchObject({ forwarded: 100, acked: 100, duplicates: 0 });

    const kv = await nc.jetstream().views.kv('json', { bindOnly: true });
    const jsm = await nc.jetstreamManager();
    for (const [key, value] of [[0, 3], [490, 3], [500, 2], [990, 2], [1, 1], [999, 1]] as const) {
      const e = await kv.get(String(key));
      const m = await jsm.streams.getMessage('KV_json', { last_by_subj: `$KV.json.${key}` });
      expect(m.header.get(HEADER.encoding)).toBe('json');
      expect(JSON.parse(e!.string())).toEqual({ timestampNs: '1', value, pointId: key, deviceId: 1, quality: 0, tag: `k${key}` });
    }
    // nothing changed: a restart puts nothing, then only what changes
    bridge = await startBridge(dir, route);
    await until(() => caughtUp(), 'the bridge to wait for changes');
    expect(routeStats()).toMatchObject({ forwarded: 0, acked: 0 });
    // ten values of one key in one commit: one put, the last value (what a bucket of history 1 keeps)
    ch.publishBatch(10, (r, i) => r.assign({ pointId: 7, deviceId: 1, value: 10 + i, timestampNs: 1n, quality: 0, tag: 'k7' }));
    await until(() => caughtUp() && routeStats().acked >= 1, 'the change in the bucket');
    expect((await stopBridge(bridge)).routes[0]).toMatchObject({ forwarded: 1, acked: 1 });
    expect((await kv.get('7'))?.json()).toMatchObject({ pointId: 7, value: 19 });
    ch.close();
  });

  it('a channel that is not keyed, or a bucket that is not there and not to be created: the bridge does not start, saying why', async () => {
    openChannel('plain', PointUpdate, { dir }).close();
    const plain = await bridgeProcess(dir, { nats: { servers: server().url }, routes: [{ direction: 'kv', channel: 'plain', bucket: 'plain' }] }).exited;
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain("channel 'plain' is not keyed");
    expect(plain.stderr).toContain('[BRIDGE_E_CONFIG]');
    openChannel('points', PointUpdate, { dir, keys: 10 }).close();
    const missing = await bridgeProcess(dir, kvRoute('nothere', { create: false })).exited;
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('bucket nothere does not exist (and the route does not create it) [BRIDGE_E_NATS]');
  });

  it("a bucket's values into a keyed channel (NATS KV → mmbus): those already there, then every put; deletes, foreign keys and records of another key refused", async () => {
    const keys = 200;
    const nc = await natsClient(server().url);
    const kv = await nc.jetstream().views.kv('remote', { history: 1 });
    const json = (key: number, value: number): string => JSON.stringify({ timestampNs: String(value), value, pointId: key, deviceId: 4, quality: 0, tag: `r${key}` });
    for (let key = 0; key < keys; key++) await kv.put(String(key), json(key, 1));
    const bridge = await startBridge(dir, {
      nats: { servers: server().url },
      routes: [{ direction: 'in', channel: 'remote', bucket: 'remote', encoding: 'json', type: 'PointUpdate', keys }],
    });
    const ch = openChannel('remote', PointUpdate, { dir });
    expect(ch.keyCount).toBe(keys);
    const valueOf = (key: number): number | undefined => ch.latest(key)?.value;
    await until(() => Array.from({ length: keys }, (_, k) => valueOf(k)).every((v) => v === 1), 'every value already in the bucket in the channel');

    for (let key = 0; key < 50; key++) await kv.put(String(key), json(key, 2));
    await kv.put('500', json(500, 2)); // not a key of the channel
    await kv.put('7', json(8, 4)); // key 7 holding key 8's record
    await kv.put('9', '{ not json');
    await kv.delete('60');
    await kv.put('61', json(61, 3));
    const stats = (): { published: number; refused: Record<string, number> } => readStatsFile(join(dir, 'bridge.bridge.json')).routes[0] as never;
    await until(() => stats().published >= keys + 51 && valueOf(61) === 3, 'the puts in the channel');
    const final = await stopBridge(bridge);
    expect(final.routes[0]).toMatchObject({ direction: 'in', bucket: 'remote', subject: '$KV.remote.>', received: keys + 55, published: keys + 51, refused: { 'kv-key': 2, 'json-syntax': 1, 'kv-delete': 1 } });
    for (let key = 0; key < keys; key++) {
      const want = key === 61 ? 3 : key < 50 ? 2 : 1; // 7, 9 and 60 as before the refused entries
      const r = ch.latest(key)!;
      if (r.value !== want || r.pointId !== key || r.tag !== `r${key}` || r.timestampNs !== BigInt(want)) expect.fail(`key ${key}: ${JSON.stringify(r.toObject(), big)}, expected value ${want}`);
    }
    ch.close();
  });

  it('a keyed channel mirrored through a bucket into another host’s channel (kv route → bucket → in route): every key’s latest value', async () => {
    const keys = 1000;
    const src = openChannel('points', PointUpdate, { dir, keys, capacity: 1 << 14 });
    const put = (round: number): void => {
      src.publishBatch(keys, (r, i) => r.assign({ pointId: (i * 7) % keys, deviceId: round, value: round * keys + i, timestampNs: BigInt(round), quality: 0, tag: `m${round}` }));
    };
    put(0);
    const bridge = await startBridge(dir, {
      nats: { servers: server().url },
      routes: [
        { direction: 'kv', channel: 'points', bucket: 'mirror' },
        { direction: 'in', channel: 'replica', bucket: 'mirror', type: 'PointUpdate', keys },
      ],
    });
    for (let round = 1; round <= 3; round++) put(round);
    const replica = openChannel('replica', PointUpdate, { dir });
    const same = (): boolean => {
      for (let key = 0; key < keys; key++) if (!Buffer.from(bytesOf(src.latest(key)!)).equals(bytesOf(replica.latest(key) ?? new PointUpdate()))) return false;
      return true;
    };
    await until(same, 'the replica to hold every key’s latest value');
    const final = await stopBridge(bridge);
    expect(final.routes.map((r) => [r.direction, r.bucket])).toEqual([['kv', 'mirror'], ['in', 'mirror']]);
    src.close();
    replica.close();
  });
});
