// Person records across languages, in separate processes: C++ -> TS, TS -> C++, and C++ and TS
// publishers on one channel at once; every subscriber checks count, checksum, names and order.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectChannel, openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';
import { describe, expect, it } from 'vitest';

import { batchLogCoverage, describeChild, expectedChecksum, killableMidStream, resultOf, runCpp, runTs, useScratchDir, within, type Child } from './helpers.js';

const RECORDS = Number(process.env['MMBUS_TEST_RECORDS'] ?? 2_000_000);

interface SubResult {
  received: number;
  checksum: number;
  badNames: number;
  outOfOrder: number;
  lost: number;
  perPublisher: [number, number];
}
interface PubResult {
  published: number;
  first: number;
  checksum: number;
}

let dir: string;
useScratchDir((d) => (dir = d), { perFile: true });

const clean = (n: number, perPublisher: [number, number] = [n, 0]): SubResult => ({
  received: n,
  checksum: expectedChecksum(n),
  badNames: 0,
  outOfOrder: 0,
  lost: 0,
  perPublisher,
});

describe('C++ publisher -> TS subscribers', () => {
  for (const subscribers of [1, 2]) {
    it(`1 -> ${subscribers}: ${RECORDS} Person records, checksum and every name`, async () => {
      const channel = `cpp-ts-${subscribers}`;
      const subs = Array.from({ length: subscribers }, () => runTs('person-subscriber', ['--dir', dir, '--channel', channel, '--count', String(RECORDS)]));
      await Promise.all(subs.map((s) => s.line('ready')));
      const pub = runCpp('person-publisher', ['--dir', dir, '--channel', channel, '--count', String(RECORDS), '--wait-subscribers', String(subscribers)]);
      const p = await resultOf<PubResult>(pub);
      expect(p).toMatchObject({ published: RECORDS, checksum: expectedChecksum(RECORDS) });
      for (const r of await Promise.all(subs.map((s) => resultOf<SubResult>(s)))) expect(r).toMatchObject(clean(RECORDS));
    });
  }
});

describe('TS publisher -> C++ subscriber', () => {
  it(`1 -> 1: ${RECORDS} Person records, checksum and every name`, async () => {
    const sub = runCpp('person-subscriber', ['--dir', dir, '--channel', 'ts-cpp', '--count', String(RECORDS)]);
    await sub.line('ready');
    const pub = runTs('person-publisher', ['--dir', dir, '--channel', 'ts-cpp', '--count', String(RECORDS), '--wait-subscribers', '1']);
    expect(await resultOf<PubResult>(pub)).toMatchObject({ published: RECORDS, checksum: expectedChecksum(RECORDS) });
    expect(await resultOf<SubResult>(sub)).toMatchObject(clean(RECORDS));
  });
});

describe('C++ and TS publishers on one channel at once -> TS and C++ subscribers', () => {
  it(`2 x ${RECORDS / 2} records: totals exact, each publisher's records in order`, async () => {
    const half = RECORDS / 2;
    const args = ['--dir', dir, '--channel', 'mixed', '--count', String(RECORDS), '--split', String(half)];
    const subs = [runTs('person-subscriber', args), runCpp('person-subscriber', args)];
    await Promise.all(subs.map((s) => s.line('ready')));
    // the C++ publisher writes indexes [0, half), the TS one [half, RECORDS), one by one, interleaved
    const pubArgs = ['--dir', dir, '--channel', 'mixed', '--count', String(half), '--wait-subscribers', '2'];
    const cpp = runCpp('person-publisher', [...pubArgs, '--first', '0', '--batch', '1']);
    const ts = runTs('person-publisher', [...pubArgs, '--first', String(half), '--mode', 'single']);
    const [c, t] = await Promise.all([resultOf<PubResult>(cpp), resultOf<PubResult>(ts)]);
    expect(c.published + t.published).toBe(RECORDS);
    expect(c.checksum + t.checksum).toBe(expectedChecksum(RECORDS));
    for (const r of await Promise.all(subs.map((s) => resultOf<SubResult>(s)))) expect(r).toMatchObject(clean(RECORDS, [half, half]));
  });
});

describe('a durable TS subscriber during a C++ stream', () => {
  it('killed (SIGKILL) and restarted, it misses nothing', async () => {
    // The ring holds the whole stream: an offline durable subscriber does not hold the publisher back.
    const count = Math.min(RECORDS, 500_000);
    const PACE_RECORDS = 5_000;
    openChannel('durable', Person, { dir, capacity: 1 << 19 }).close();
    const log = join(dir, 'durable.log');
    const args = ['--dir', dir, '--channel', 'durable', '--count', String(count), '--durable', 'web', '--until-index', String(count - 1), '--log', log];
    let sub = runTs('person-subscriber', args);
    let pub: Child | undefined;
    let step = 'starting the first subscriber';
    const ring = inspectChannel('durable', dir); // its head, and its stats for a failure message
    // Normally done in ~2 s: a hang fails with what every process and the channel were doing.
    const state = (): string => {
      const publisher = pub ? describeChild('publisher', pub) : 'no publisher';
      return [step, describeChild('subscriber', sub), publisher, `channel ${JSON.stringify(ring.stats())}`].join('\n');
    };
    const run = async (): Promise<void> => {
      await sub.line('ready');
      // 5,000 records every 10 ms: a stream long enough to kill the subscriber in the middle of it
      step = 'publishing';
      pub = runCpp('person-publisher', ['--dir', dir, '--channel', 'durable', '--count', String(count), '--wait-subscribers', '1', '--pace', `${PACE_RECORDS}:10`]);
      let kills = 0;
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 100));
        if (!killableMidStream(ring.head(), count, PACE_RECORDS)) break; // it hung so in CI once
        step = `kill ${i + 1}`;
        sub.proc.kill('SIGKILL');
        await sub.exited;
        kills++;
        step = `restart ${i + 1}`;
        sub = runTs('person-subscriber', args);
        await sub.line('ready');
        step = `after restart ${i + 1}`;
      }
      expect(await resultOf<PubResult>(pub)).toMatchObject({ published: count });
      step = 'the last subscriber finishing';
      const last = await resultOf<SubResult>(sub);
      expect(last.badNames).toBe(0);
      expect(last.outOfOrder).toBe(0);
      expect(kills).toBeGreaterThan(0);
      // every index is covered by a logged batch; overlaps are redeliveries of unacknowledged batches
      const { missing, redelivered } = batchLogCoverage(readFileSync(log, 'utf8'), count);
      expect(missing).toBe(0);
      expect(redelivered).toBeLessThanOrEqual(kills * 4096);
    };
    try {
      await within(60_000, run(), state);
    } finally {
      ring.close();
    }
  });
});
