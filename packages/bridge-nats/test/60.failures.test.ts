// Failures mid-stream, against a real nats-server with JetStream: the bridge killed with SIGKILL and
// restarted (its durable subscriber resumes, JetStream drops what it already had by message id),
// nats-server stopped and restarted (the bridge reconnects and catches up), a second bridge sending
// the same records (all recognised as duplicates). The stream must end with every record once, in order.
import { join } from 'node:path';

import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';
import { spawnChild } from '@mmbus/test-kit';
import { DiscardPolicy, nanos, type NatsConnection } from 'nats';
import { describe, expect, it } from 'vitest';

import { readStatsFile, type OutRouteStats } from '../src/index.js';
import { bridgeProcess, CPP_BUILD, expectStreamOfPeople, natsClient, startBridge, stopBridge, until, useNatsServer, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));
const server = useNatsServer();

const RING = 1 << 17;
const TOTAL = 60_000;

/** The channel, made big enough to hold everything published while the bridge is down. */
function makeChannel(): void {
  openChannel('people', Person, { dir, capacity: RING, policy: 'block' }).close();
}

/** The C++ Person publisher, paced so that the stream lasts while things fail. */
function paced(count: number): ReturnType<typeof spawnChild> {
  return spawnChild(join(CPP_BUILD, 'person-publisher'), ['--dir', dir, '--count', String(count), '--capacity', String(RING), '--batch', '50', '--pace', '500:20', '--quiet']);
}

async function streamCount(nc: NatsConnection, stream: string): Promise<number> {
  return (await (await nc.jetstreamManager()).streams.info(stream)).state.messages;
}

const route = (stream: string, extra: object = {}) => ({
  nats: { servers: server().url, ackTimeoutMs: 1000 },
  routes: [{ direction: 'out', channel: 'people', subject: `people.${stream}`, batch: 1000, jetstream: { stream }, ...extra }],
});

describe('failures mid-stream (JetStream)', () => {
  it('the bridge killed with SIGKILL twice and restarted: every record in the stream once, in order', async () => {
    makeChannel();
    const nc = await natsClient(server().url);
    let bridge = await startBridge(dir, route('KILLS'));
    const publisher = paced(TOTAL);
    let duplicates = 0;
    for (const at of [TOTAL / 4, TOTAL / 2]) {
      await until(async () => (await streamCount(nc, 'KILLS')) >= at, `${at} records in the stream`);
      bridge.proc.kill('SIGKILL');
      await bridge.exited;
      bridge = await startBridge(dir, route('KILLS'));
    }
    expect((await publisher.exited).code).toBe(0);
    await until(async () => (await streamCount(nc, 'KILLS')) >= TOTAL, 'every record in the stream');
    await until(() => (readStatsFile(join(dir, 'bridge.bridge.json')).routes[0] as OutRouteStats).lag === 0, 'the bridge to finish');
    const final = await stopBridge(bridge);
    const r = final.routes[0] as OutRouteStats;
    duplicates += r.duplicates;
    // what the last run sent again is at most the batch in flight at the kill, and JetStream dropped it
    expect(duplicates).toBeLessThanOrEqual(1000);
    expect(r).toMatchObject({ lost: 0, lag: 0, held: false, lastSeq: TOTAL - 1 });
    await expectStreamOfPeople(nc, 'KILLS', TOTAL);
  });

  it('nats-server stopped and restarted mid-stream: the bridge reconnects and catches up, every record once', async () => {
    makeChannel();
    const nc = await natsClient(server().url);
    const bridge = await startBridge(dir, route('OUTAGE'));
    const publisher = paced(TOTAL);
    const stats = (): OutRouteStats => readStatsFile(join(dir, 'bridge.bridge.json')).routes[0] as OutRouteStats;
    await until(async () => (await streamCount(nc, 'OUTAGE')) >= TOTAL / 3, 'a third of the records in the stream');
    await server().halt();
    await until(() => !readStatsFile(join(dir, 'bridge.bridge.json')).nats.connected, 'the bridge to see the server gone');
    const during = stats().acked;
    // the publisher goes on into mmbus meanwhile; the bridge forwards nothing
    await until(() => stats().lag > 1000, 'records to wait in the channel');
    expect(stats().acked).toBe(during);
    await server().restart();
    expect((await publisher.exited).code).toBe(0);
    await until(async () => (await streamCount(nc, 'OUTAGE')) >= TOTAL, 'every record in the stream');
    await until(() => stats().lag === 0, 'the bridge to finish');
    const final = await stopBridge(bridge);
    expect(final.nats).toMatchObject({ connected: true, reconnects: 1, disconnects: 1 });
    // each record acknowledged once; those resent after the outage and already stored were duplicates
    expect(final.routes[0]).toMatchObject({ forwarded: TOTAL, acked: TOTAL, lost: 0, held: false, lastSeq: TOTAL - 1 });
    await expectStreamOfPeople(nc, 'OUTAGE', TOTAL);
  });

  it('a second bridge sending the same records again: JetStream recognises every one by its id', async () => {
    makeChannel();
    const n = 5000;
    const publisher = spawnChild(join(CPP_BUILD, 'person-publisher'), ['--dir', dir, '--count', String(n), '--capacity', String(RING), '--quiet']);
    expect((await publisher.exited).code).toBe(0);
    const nc = await natsClient(server().url);
    const first = await startBridge(dir, route('TWICE', { durable: 'first' }));
    await until(async () => (await streamCount(nc, 'TWICE')) >= n, 'every record in the stream');
    expect((await stopBridge(first)).routes[0]).toMatchObject({ forwarded: n, acked: n, duplicates: 0 });
    // another durable subscriber of the same channel: the same records, the same ids
    const second = await startBridge(dir, route('TWICE', { durable: 'second' }));
    await until(() => (readStatsFile(join(dir, 'bridge.bridge.json')).routes[0] as OutRouteStats).acked >= n, 'the second bridge');
    expect((await stopBridge(second)).routes[0]).toMatchObject({ forwarded: n, acked: n, duplicates: n });
    await expectStreamOfPeople(nc, 'TWICE', n);
  });

  it('JetStream refusing records (a full stream): they are not acknowledged in mmbus, and forwarded once it takes them', async () => {
    makeChannel();
    const nc = await natsClient(server().url);
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: 'FULL', subjects: ['people.FULL'], max_msgs: 1000, discard: DiscardPolicy.New, duplicate_window: nanos(120_000) });
    const bridge = await startBridge(dir, route('FULL'));
    const n = 3000;
    const pub = spawnChild(join(CPP_BUILD, 'person-publisher'), ['--dir', dir, '--count', String(n), '--capacity', String(RING), '--quiet']);
    expect((await pub.exited).code).toBe(0);
    // refused records are sent again (and refused again) while the stream is full
    await until(() => (readStatsFile(join(dir, 'bridge.bridge.json')).routes[0] as OutRouteStats).resent > 0, 'the bridge to send refused records again');
    const ch = openChannel('people', Person, { dir });
    const me = (): { cursor: number; lag: number } => ch.stats().subscribers.find((s) => s.name === 'nats.bridge')!;
    // the batch holding record 1000 is not acknowledged in mmbus: the cursor is at its start at most
    expect(me().cursor).toBeLessThanOrEqual(1000);
    expect(await streamCount(nc, 'FULL')).toBe(1000);
    const info = await jsm.streams.info('FULL');
    await jsm.streams.update('FULL', { ...info.config, max_msgs: -1 });
    await until(async () => (await streamCount(nc, 'FULL')) >= n, 'every record in the stream');
    await until(() => me().lag === 0, 'the bridge to finish');
    ch.close();
    const final = await stopBridge(bridge);
    expect(final.routes[0]).toMatchObject({ forwarded: n, acked: n, lost: 0, lastSeq: n - 1 });
    expect((final.routes[0] as OutRouteStats).resent).toBeGreaterThan(0);
    // once each; not necessarily in order: records refused in a batch whose later records the stream
    // took once the limit was raised are stored after those
    await expectStreamOfPeople(nc, 'FULL', n, false);
    expect((await bridge.exited).stderr).toContain('maximum messages');
  });

  it('stopped while the server is down: the batch in flight is held (exit 1) and forwarded by the next run', async () => {
    makeChannel();
    const nc = await natsClient(server().url);
    const bridge = await startBridge(dir, { ...route('HELD'), drainTimeoutMs: 300 });
    const n = 3000;
    const pub = spawnChild(join(CPP_BUILD, 'person-publisher'), ['--dir', dir, '--count', String(n / 2), '--capacity', String(RING), '--quiet']);
    expect((await pub.exited).code).toBe(0);
    await until(async () => (await streamCount(nc, 'HELD')) >= n / 2, 'the first half in the stream');
    await server().halt();
    await until(() => !readStatsFile(join(dir, 'bridge.bridge.json')).nats.connected, 'the bridge to see the server gone');
    const more = spawnChild(join(CPP_BUILD, 'person-publisher'), ['--dir', dir, '--count', String(n / 2), '--first', String(n / 2), '--capacity', String(RING), '--quiet']);
    expect((await more.exited).code).toBe(0);
    await until(() => (readStatsFile(join(dir, 'bridge.bridge.json')).routes[0] as OutRouteStats).inFlight > 0, 'a batch in flight');
    const held = await stopBridge(bridge, 1);
    expect(held.routes[0]).toMatchObject({ held: true, lastSeq: n / 2 - 1 });
    // the subscriber's cursor did not move past what NATS confirmed
    const ch = openChannel('people', Person, { dir });
    expect(ch.stats().subscribers.find((s) => s.name === 'nats.bridge')).toMatchObject({ cursor: n / 2, lag: n / 2 });
    ch.close();
    await server().restart();
    const next = await startBridge(dir, route('HELD'));
    await until(async () => (await streamCount(nc, 'HELD')) >= n, 'every record in the stream');
    await until(() => (readStatsFile(join(dir, 'bridge.bridge.json')).routes[0] as OutRouteStats).lag === 0, 'the bridge to finish');
    await stopBridge(next);
    await expectStreamOfPeople(nc, 'HELD', n);
  });

  it('started before nats-server is up: it waits, connects when the server comes, and forwards everything', async () => {
    makeChannel();
    const n = 2000;
    const pub = spawnChild(join(CPP_BUILD, 'person-publisher'), ['--dir', dir, '--count', String(n), '--capacity', String(RING), '--quiet']);
    expect((await pub.exited).code).toBe(0);
    await server().halt();
    const bridge = bridgeProcess(dir, route('LATE'));
    // it cannot be ready without a server; bring the server and it is
    const ready = bridge.line('ready');
    await server().restart();
    await ready;
    const nc = await natsClient(server().url);
    await until(async () => (await (await nc.jetstreamManager()).streams.info('LATE').then((i) => i.state.messages, () => 0)) >= n, 'every record in the stream');
    await stopBridge(bridge);
    await expectStreamOfPeople(nc, 'LATE', n);
  });

  it('stopped (SIGTERM) while waiting for a first server: it exits 0', async () => {
    makeChannel();
    await server().halt();
    const bridge = bridgeProcess(dir, route('NEVER'));
    let stderr = '';
    await new Promise<void>((resolve) =>
      bridge.proc.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('nats: connecting to')) resolve();
      }),
    );
    bridge.proc.kill('SIGTERM');
    const exit = await bridge.exited;
    expect(exit.code).toBe(0);
    expect(exit.stderr).toContain('stopped before connecting to NATS');
    expect(exit.stdout).toBe(''); // never ready, no final stats
    await server().restart();
  });
});
