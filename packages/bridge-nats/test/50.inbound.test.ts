// NATS → mmbus against a real nats-server: NATS publishers → bridge → channel → TS subscriber, every
// record checked; malformed messages refused and counted per kind (never written, logged once per
// kind); the channel's policy decides what a full ring does.
import { readFileSync } from 'node:fs';

import { openChannel, type Channel, type Subscription } from '@mmbus/core';
import { Person } from '@mmbus/messages';
import { headers, type NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';

import { HEADER, hex64, readStatsFile, type InRouteStats } from '../src/index.js';
import { bridgeProcess, natsClient, startBridge, stopBridge, until, useNatsServer, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));
const server = useNatsServer({ jetstream: false });

const enc = new TextEncoder();

function personBytes(index: bigint): Uint8Array {
  const p = new Person().assign({ index, name: `person-${index}`, age: Number(index % 100n) });
  return new Uint8Array(p.view.buffer, p.offset, Person.SIZE).slice();
}

function rawHeaders(over: Record<string, string> = {}): ReturnType<typeof headers> {
  const h = headers();
  const all = { [HEADER.schema]: 'mmbus.Person', [HEADER.fingerprint]: hex64(Person.FINGERPRINT), [HEADER.recordSize]: '128', ...over };
  for (const [k, v] of Object.entries(all)) if (v !== '') h.set(k, v);
  return h;
}

/** Reads the channel from its oldest record until `n` records arrived; returns their indexes, names, ages. */
async function collect(sub: Subscription<Person>, n: number): Promise<{ index: bigint; name: string; age: number }[]> {
  const out: { index: bigint; name: string; age: number }[] = [];
  while (out.length < n) {
    const b = await sub.next();
    if (!b) break;
    for (const r of b) out.push({ index: r.index, name: r.name, age: r.age });
  }
  return out;
}

async function publishRange(nc: NatsConnection, subject: string, first: number, count: number): Promise<void> {
  for (let i = first; i < first + count; i++) {
    nc.publish(subject, personBytes(BigInt(i)), { headers: rawHeaders() });
    if (i % 1000 === 999) await nc.flush();
  }
  await nc.flush();
}

describe('NATS → mmbus', () => {
  it('two NATS publishers → bridge → channel → TS subscriber: every record, each publisher in order', async () => {
    const each = 20_000;
    const bridge = await startBridge(dir, {
      nats: { servers: server().url },
      routes: [{ direction: 'in', channel: 'people', subject: 'people.in', type: 'Person', capacity: 65536 }],
    });
    const ch = openChannel('people', Person, { dir });
    // the bridge created it with the defaults: its own non-waiting handle did not become the file's time-out
    expect(ch.info).toMatchObject({ capacity: 65536, policy: 'block', blockTimeoutMs: 5000 });
    const sub = ch.subscribe({ start: 'oldest' });
    const [a, b] = [await natsClient(server().url), await natsClient(server().url)];
    const reading = collect(sub, 2 * each);
    await Promise.all([publishRange(a, 'people.in', 0, each), publishRange(b, 'people.in', each, each)]);
    const got = await reading;
    expect(got.length).toBe(2 * each);
    for (const g of got) {
      if (g.name !== `person-${g.index}` || g.age !== Number(g.index % 100n)) expect.fail(`record ${JSON.stringify({ ...g, index: String(g.index) })}`);
    }
    for (const first of [0, each]) {
      const mine = got.map((g) => Number(g.index)).filter((i) => i >= first && i < first + each);
      expect(mine).toEqual(Array.from({ length: each }, (_, i) => first + i));
    }
    const checksum = got.reduce((s, g) => s + (g.index % 2n === 0n ? g.index : -g.index), 0n);
    expect(checksum).toBe(-BigInt(each));
    const final = await stopBridge(bridge);
    expect(final.routes[0]).toMatchObject({ direction: 'in', received: 2 * each, published: 2 * each, refused: {}, dropped: { full: 0, timeout: 0, backlog: 0 } });
    sub.close();
    ch.close();
  });

  it('JSON → channel: toObject() form, 64-bit integers exact beyond 2^53', async () => {
    const bridge = await startBridge(dir, {
      nats: { servers: server().url },
      routes: [{ direction: 'in', channel: 'people', subject: 'people.json', encoding: 'json', type: 'Person' }],
    });
    const ch = openChannel('people', Person, { dir });
    const sub = ch.subscribe({ start: 'oldest' });
    const nc = await natsClient(server().url);
    const indexes = [0n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 42n];
    for (const i of indexes) nc.publish('people.json', enc.encode(`{"index":"${i}","name":"person-${i}","age":${Number((i < 0n ? -i : i) % 100n)}}`));
    await nc.flush();
    const got = await collect(sub, indexes.length);
    expect(got).toEqual(indexes.map((i) => ({ index: i, name: `person-${i}`, age: Number((i < 0n ? -i : i) % 100n) })));
    await stopBridge(bridge);
    sub.close();
    ch.close();
  });

  it('malformed messages are refused and counted per kind, never written; each kind logged once', async () => {
    const bridge = await startBridge(dir, {
      nats: { servers: server().url },
      routes: [
        { direction: 'in', channel: 'people', subject: 'people.raw', type: 'Person' },
        { direction: 'in', channel: 'people', subject: 'people.json', encoding: 'json' },
      ],
    });
    const ch = openChannel('people', Person, { dir });
    const sub = ch.subscribe({ start: 'oldest' });
    const nc = await natsClient(server().url);
    let valid = 0n;
    const good = (): void => void nc.publish('people.raw', personBytes(valid++), { headers: rawHeaders() });
    const bad: [string, () => void][] = [
      ['size', () => nc.publish('people.raw', personBytes(900n).subarray(0, 100), { headers: rawHeaders() })],
      ['size', () => nc.publish('people.raw', personBytes(901n), { headers: rawHeaders({ [HEADER.recordSize]: '64' }) })],
      ['fingerprint', () => nc.publish('people.raw', personBytes(902n), { headers: rawHeaders({ [HEADER.schema]: '', [HEADER.fingerprint]: '0x0123456789abcdef' }) })],
      ['schema', () => nc.publish('people.raw', personBytes(903n), { headers: rawHeaders({ [HEADER.schema]: 'mmbus.PointUpdate' }) })],
      ['header', () => nc.publish('people.raw', personBytes(904n))],
      ['header', () => nc.publish('people.raw', personBytes(905n), { headers: rawHeaders({ [HEADER.fingerprint]: 'e07fd5035556c6cf' }) })],
      ['json-syntax', () => nc.publish('people.json', enc.encode('{"index": "1", '))],
      ['json-field', () => nc.publish('people.json', enc.encode('{"index":"1","name":"x","age":1,"email":"x@y"}'))],
      ['json-missing', () => nc.publish('people.json', enc.encode('{"index":"1","name":"x"}'))],
      ['json-type', () => nc.publish('people.json', enc.encode('{"index":1,"name":"x","age":1}'))],
      ['json-type', () => nc.publish('people.json', enc.encode('{"index":"1","name":"x","age":"1"}'))],
      ['json-range', () => nc.publish('people.json', enc.encode('{"index":"1","name":"x","age":256}'))],
      ['json-range', () => nc.publish('people.json', enc.encode(`{"index":"1","name":"${'x'.repeat(65)}","age":1}`))],
      ['json-range', () => nc.publish('people.json', enc.encode('{"index":"9223372036854775808","name":"x","age":1}'))],
    ];
    // every bad message between two good ones, three rounds
    for (let round = 0; round < 3; round++) {
      for (const [, send] of bad) {
        good();
        send();
      }
    }
    good();
    await nc.flush();
    const expectedCounts: Record<string, number> = {};
    for (const [kind] of bad) expectedCounts[kind] = (expectedCounts[kind] ?? 0) + 3;
    const total = Number(valid);
    const got = await collect(sub, total);
    // only the good ones, in order: nothing of a refused message reached the channel
    expect(got.map((g) => g.index)).toEqual(Array.from({ length: total }, (_, i) => BigInt(i)));
    await until(() => ch.head() >= total, 'the channel head');
    expect(ch.head()).toBe(total);

    const final = await stopBridge(bridge);
    const [raw, json] = final.routes as InRouteStats[];
    const sum = (r: InRouteStats): number => Object.values(r.refused).reduce((a, b) => a + (b ?? 0), 0);
    expect({ ...raw!.refused, ...json!.refused }).toEqual(expectedCounts);
    expect(raw!.published).toBe(total);
    expect(raw!.received).toBe(total + sum(raw!));
    expect(json!).toMatchObject({ published: 0, received: sum(json!) });
    const stderr = (await bridge.exited).stderr;
    for (const kind of Object.keys(expectedCounts)) {
      expect(stderr.split('\n').filter((l) => l.includes(`refused a message (${kind})`)).length, kind).toBe(1);
    }
    sub.close();
    ch.close();
  });

  it("a full 'reject' channel: the records that do not fit are dropped and counted, the bridge never waits", async () => {
    const ch: Channel<Person> = openChannel('people', Person, { dir, capacity: 16, policy: 'reject' });
    const holder = ch.subscribe({ name: 'slow' }); // counts, never reads: the ring is full after 16
    const bridge = await startBridge(dir, { nats: { servers: server().url }, routes: [{ direction: 'in', channel: 'people', subject: 'people.in' }] });
    const nc = await natsClient(server().url);
    await publishRange(nc, 'people.in', 0, 100);
    const statsFile = `${dir}/bridge.bridge.json`;
    await until(() => {
      const r = readStatsFile(statsFile).routes[0] as InRouteStats | undefined;
      return r !== undefined && r.published + r.dropped.full === 100;
    }, 'the bridge to account for every record');
    const final = await stopBridge(bridge);
    expect(final.routes[0]).toMatchObject({ received: 100, published: 16, dropped: { full: 84, timeout: 0, backlog: 0 } });
    const b = holder.poll()!;
    expect(Array.from({ length: b.length }, (_, i) => b.get(i).index)).toEqual(Array.from({ length: 16 }, (_, i) => BigInt(i)));
    holder.close();
    ch.close();
  });

  it("a 'block' channel whose subscriber does not read: after the file's block time-out the records are dropped and counted", async () => {
    const ch = openChannel('people', Person, { dir, capacity: 32, policy: 'block', timeoutMs: 200 });
    const holder = ch.subscribe({ name: 'stuck' });
    const bridge = await startBridge(dir, { nats: { servers: server().url }, routes: [{ direction: 'in', channel: 'people', subject: 'people.in', batch: 16 }] });
    const nc = await natsClient(server().url);
    await publishRange(nc, 'people.in', 0, 100);
    await until(() => {
      const r = readStatsFile(`${dir}/bridge.bridge.json`).routes[0] as InRouteStats | undefined;
      return r !== undefined && r.published + r.dropped.timeout === 100;
    }, 'the bridge to account for every record');
    const final = await stopBridge(bridge);
    // a claim is all of a chunk or nothing, and chunks follow the client's bursts: how many of the
    // first records filled the ring of 32 depends on how NATS delivered them (all 32 when in chunks of 16)
    const r = final.routes[0] as InRouteStats;
    expect(r.published).toBeGreaterThan(0);
    expect(r.published).toBeLessThanOrEqual(32);
    expect(r).toMatchObject({ received: 100, dropped: { full: 0, timeout: 100 - r.published, backlog: 0 } });
    const b = holder.poll()!;
    expect(Array.from({ length: b.length }, (_, i) => b.get(i).index)).toEqual(Array.from({ length: r.published }, (_, i) => BigInt(i)));
    holder.close();
    ch.close();
  });

  it("a 'block' channel with a slow subscriber: the bridge waits for room, nothing is dropped", async () => {
    const ch = openChannel('people', Person, { dir, capacity: 64, policy: 'block' });
    const sub = ch.subscribe({ name: 'slow' });
    const bridge = await startBridge(dir, { nats: { servers: server().url }, routes: [{ direction: 'in', channel: 'people', subject: 'people.in', batch: 256 }] });
    const nc = await natsClient(server().url);
    await publishRange(nc, 'people.in', 0, 3000);
    const got: bigint[] = [];
    while (got.length < 3000) {
      const b = await sub.next();
      if (!b) break;
      for (const r of b) got.push(r.index);
      await new Promise((r) => setTimeout(r, 2)); // slower than the bridge
    }
    expect(got).toEqual(Array.from({ length: 3000 }, (_, i) => BigInt(i)));
    const final = await stopBridge(bridge);
    expect(final.routes[0]).toMatchObject({ received: 3000, published: 3000, dropped: { full: 0, timeout: 0, backlog: 0 } });
    sub.close();
    ch.close();
  });

  it('a JetStream route on a server without JetStream: the bridge does not start, and says why', async () => {
    const e = await bridgeProcess(dir, {
      nats: { servers: server().url },
      routes: [{ direction: 'out', channel: 'people', subject: 'people.out', type: 'Person', jetstream: { stream: 'PEOPLE' } }],
    }).exited;
    expect(e.code).toBe(1);
    expect(e.stderr).toMatch(/mmbus bridge: error: route people → people\.out: JetStream is not available on the server .*start nats-server with -js \[BRIDGE_E_NATS\]/);
    expect(e.stdout).not.toContain('ready');
  });

  it('a channel of another schema than the route says: refused at start (BRIDGE_E_SCHEMA), nothing opened', async () => {
    openChannel('people', Person, { dir }).close();
    const e = await bridgeProcess(dir, { nats: { servers: server().url }, routes: [{ direction: 'in', channel: 'people', subject: 'p', type: 'PointUpdate' }] }).exited;
    expect(e.code).toBe(1);
    expect(e.stderr).toContain("channel 'people' holds mmbus.Person, not mmbus.PointUpdate [BRIDGE_E_SCHEMA]");
  });

  it('a password in a server URL reaches neither the log nor the stats file', async () => {
    const url = server().url.replace('nats://', 'nats://bridge:s3cret@');
    const bridge = await startBridge(dir, { nats: { servers: url }, routes: [{ direction: 'in', channel: 'people', subject: 'p', type: 'Person' }] });
    const stats = readFileSync(`${dir}/bridge.bridge.json`, 'utf8');
    const final = await stopBridge(bridge);
    const e = await bridge.exited;
    expect(final.nats.servers).toEqual([server().url.replace('nats://', 'nats://***@')]);
    for (const text of [stats, e.stderr, e.stdout]) expect(text).not.toContain('s3cret');
  });
});
