// mmbus → NATS against a real nats-server: the C++ collector's burst through the bridge into a
// JetStream stream, read back in order by a NATS consumer, every record compared with what the
// library published; two C++ Person publishers through core NATS as JSON, every record checked.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { openChannel, unlinkChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';
import { expectedChecksum, lastJson, spawnChild } from '@mmbus/test-kit';
import { describe, expect, it } from 'vitest';

import { formatStats, HEADER, hex64, readStatsFile, type OutRouteStats } from '../src/index.js';
import { bridgeProcess, CPP_BUILD, natsClient, startBridge, stopBridge, useNatsServer, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));
const server = useNatsServer();

interface HostResult {
  ok: boolean;
  published: number;
  valueSum: number;
  error: string | null;
}

describe('mmbus → NATS', () => {
  it('C++ collector → mmbus → bridge → JetStream → a NATS consumer: all 210,000 points, in order, each value exact', async () => {
    const devices = 70;
    const perDevice = 3000;
    const points = devices * perDevice;
    // the collector's keyed channel, created first (as the collector opens it) so that the bridge's
    // durable subscriber holds the block ring from the first record
    openChannel('points', PointUpdate, { dir, keys: points, capacity: 65536, policy: 'block' }).close();
    const bridge = await startBridge(dir, {
      nats: { servers: server().url },
      routes: [{ direction: 'out', channel: 'points', subject: 'plant.points', type: 'PointUpdate', batch: 4096, jetstream: { stream: 'POINTS' } }],
    });
    const nc = await natsClient(server().url);
    const consumer = await nc.jetstream().consumers.get('POINTS');
    const messages = await consumer.consume();
    const host = spawnChild(join(CPP_BUILD, 'collector-host'), [
      '--dir', dir, '--devices', String(devices), '--points-per-device', String(perDevice),
      '--capacity', '65536', '--policy', 'block', '--rate', '0', '--dump-values', join(dir, 'lib-values.bin'), '--quiet',
    ]);
    // a collector that fails ends the wait below (the test then fails on its exit code and stderr)
    void host.exited.then((e) => e.code !== 0 && messages.stop());

    const values = new Float64Array(points);
    let received = 0;
    let sum = 0;
    const view = new PointUpdate();
    for await (const m of messages) {
      // order: the stream's sequence and the channel's, one after the other from the first record
      expect(m.seq).toBe(received + 1);
      expect(m.headers?.get(HEADER.seq)).toBe(String(received));
      expect(m.headers?.get(HEADER.fingerprint)).toBe(hex64(PointUpdate.FINGERPRINT));
      expect(m.headers?.get(HEADER.schema)).toBe('mmbus.PointUpdate');
      expect(m.data.length).toBe(PointUpdate.SIZE);
      view.wrap(new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength), 0);
      const p = received;
      const [device, point] = [Math.floor(p / perDevice), p % perDevice];
      if (view.deviceId !== device || view.pointId !== p || view.tag !== `dev${device}/pt${point}` || view.quality !== 0) {
        expect.fail(`record ${p}: ${JSON.stringify(view.toObject(), (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
      }
      values[p] = view.value;
      sum += view.value;
      if (++received === points) break;
    }
    const h = await host.exited;
    expect(h.code, h.stderr).toBe(0);
    const result = lastJson<HostResult>(h.stdout);
    expect(result).toMatchObject({ ok: true, published: points, error: null });
    // every value, bit for bit, is the one the library reports it published; so is their sum
    const lib = readFileSync(join(dir, 'lib-values.bin'));
    expect(Buffer.from(values.buffer).equals(lib)).toBe(true);
    expect(sum).toBe(result.valueSum);
    // nothing more in the stream than the records
    const info = await (await nc.jetstreamManager()).streams.info('POINTS');
    expect(info.state.messages).toBe(points);

    // `mmbus bridge stat` reads the stats file of the running bridge
    let live = readStatsFile(join(dir, 'bridge.bridge.json'));
    for (let i = 0; i < 50 && (live.routes[0] as OutRouteStats).acked < points; i++) {
      await new Promise((r) => setTimeout(r, 100));
      live = readStatsFile(join(dir, 'bridge.bridge.json'));
    }
    expect(live).toMatchObject({ name: 'bridge', state: 'running', nats: { connected: true, reconnects: 0 } });
    expect(live.routes[0]).toMatchObject({ forwarded: points, acked: points, duplicates: 0, resent: 0, lag: 0, lost: 0, stream: 'POINTS' });
    const text = formatStats(live);
    expect(text).toMatch(/state\s+running/);
    expect(text).toMatch(/out\s+points\s+plant\.points\s+raw\s+JetStream POINTS\s+210000\s+210000\s+0\s+0/);

    const final = await stopBridge(bridge);
    expect(final.state).toBe('stopped');
    expect(final.routes[0]).toMatchObject({ direction: 'out', forwarded: points, acked: points, duplicates: 0, held: false, lastSeq: points - 1 });
    expect(readStatsFile(join(dir, 'bridge.bridge.json')).state).toBe('stopped');
  });

  it('two C++ Person publishers → bridge → core NATS as JSON → a NATS subscriber: every record, each publisher in order', async () => {
    const each = 15_000;
    const nc = await natsClient(server().url);
    const got: { seq: number; index: number; name: string; age: number; channel: string; encoding: string; json: string }[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const sub = nc.subscribe('people.json', {
      callback: (_err, m) => {
        const json = new TextDecoder().decode(m.data);
        const r = JSON.parse(json) as { index: string; name: string; age: number };
        const h = (k: string): string => m.headers?.get(k) ?? '';
        got.push({ seq: Number(h(HEADER.seq)), index: Number(r.index), name: r.name, age: r.age, channel: h(HEADER.channel), encoding: h(HEADER.encoding), json });
        if (got.length === 2 * each) done();
      },
    });
    await nc.flush();
    const bridge = await startBridge(dir, {
      nats: { servers: server().url },
      routes: [{ direction: 'out', channel: 'people', subject: 'people.json', encoding: 'json', type: 'Person', batch: 512 }],
    });
    const pubs = [0, each].map((first) =>
      spawnChild(join(CPP_BUILD, 'person-publisher'), ['--dir', dir, '--count', String(each), '--first', String(first), '--batch', '64', '--quiet']),
    );
    for (const p of pubs) expect((await p.exited).code).toBe(0);
    await all;
    sub.unsubscribe();

    // the channel's sequence numbers, each once and in order: nothing lost, nothing repeated
    expect(got.map((g) => g.seq)).toEqual(Array.from({ length: 2 * each }, (_, i) => i));
    expect(new Set(got.map((g) => `${g.channel} ${g.encoding}`))).toEqual(new Set(['people json']));
    for (const g of got) {
      // toObject() as JSON, the 64-bit index as a string of digits
      if (g.json !== `{"index":"${g.index}","name":"person-${g.index}","age":${g.index % 100}}`) expect.fail(`record ${g.seq}: ${g.json}`);
    }
    for (const first of [0, each]) {
      const mine = got.filter((g) => g.index >= first && g.index < first + each).map((g) => g.index);
      expect(mine).toEqual(Array.from({ length: each }, (_, i) => first + i));
    }
    const checksum = got.reduce((a, g) => a + (g.index % 2 === 0 ? g.index : -g.index), 0);
    expect(checksum).toBe(expectedChecksum(2 * each));
    const final = await stopBridge(bridge);
    expect(final.routes[0]).toMatchObject({ forwarded: 2 * each, acked: 2 * each, resent: 0, stream: null, held: false });
  });

  it('an existing stream that does not capture the subject, or a missing one not to be created: the bridge does not start', async () => {
    const nc = await natsClient(server().url);
    await (await nc.jetstreamManager()).streams.add({ name: 'OTHER', subjects: ['other.>'] });
    const route = { direction: 'out', channel: 'people', subject: 'people.x', type: 'Person' };
    const a = await bridgeProcess(dir, { nats: { servers: server().url }, routes: [{ ...route, jetstream: { stream: 'OTHER' } }] }).exited;
    expect(a.code).toBe(1);
    expect(a.stderr).toContain('stream OTHER does not capture that subject (its subjects: other.>) [BRIDGE_E_NATS]');
    const b = await bridgeProcess(dir, { nats: { servers: server().url }, routes: [{ ...route, jetstream: { stream: 'NONE', create: false } }] }).exited;
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('stream NONE does not exist (and the route does not create it) [BRIDGE_E_NATS]');
  });

  it('a channel that does not exist and no type to create it: a configuration error (exit 2)', async () => {
    const e = await bridgeProcess(dir, { nats: { servers: server().url }, routes: [{ direction: 'out', channel: 'nothing', subject: 'x' }] }).exited;
    expect(e.code).toBe(2);
    expect(e.stderr).toContain("channel 'nothing' does not exist in");
    expect(e.stderr).toContain("give the route a 'type' to create it [BRIDGE_E_CONFIG]");
  });

  it('its channel removed under it: the bridge stops, exit 1, saying why (MMBUS_E_STALE)', async () => {
    const bridge = await startBridge(dir, {
      nats: { servers: server().url },
      routes: [
        { direction: 'out', channel: 'people', subject: 'people.out', type: 'Person' },
        { direction: 'in', channel: 'inbox', subject: 'people.in', type: 'Person' },
      ],
    });
    unlinkChannel('people', dir);
    const e = await bridge.exited;
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/stopping: .*was removed or replaced.*\[MMBUS_E_STALE\]/);
  });

  it('an inbound channel removed under it: the same', async () => {
    const bridge = await startBridge(dir, {
      nats: { servers: server().url },
      routes: [{ direction: 'in', channel: 'inbox', subject: 'people.in', type: 'Person' }],
    });
    unlinkChannel('inbox', dir);
    const e = await bridge.exited;
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/stopping: .*was removed or replaced.*\[MMBUS_E_STALE\]/);
  });
});
