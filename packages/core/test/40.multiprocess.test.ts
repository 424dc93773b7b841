// Separate processes: a TS publisher and TS subscribers on one channel file, 2,000,000 records of the
// 128-byte Person each; every subscriber checks count, the original checksum and every decoded name.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { batchLogCoverage, expectedChecksum, killableMidStream, lastJson, runFixture, useScratchDir } from './helpers.js';

const RECORDS = Number(process.env['MMBUS_TEST_RECORDS'] ?? 2_000_000);
interface Result {
  received: number;
  checksum: number;
  badNames: number;
  outOfOrder: number;
  lost: number;
}

let dir: string;
useScratchDir((d) => (dir = d), { perFile: true });

async function fanOut(channel: string, subscribers: number, mode: string): Promise<Result[]> {
  const subs = Array.from({ length: subscribers }, () => runFixture('person-subscriber', [dir, channel, String(RECORDS)]));
  await Promise.all(subs.map((s) => s.line('ready')));
  const pub = runFixture('person-publisher', [dir, channel, String(RECORDS), String(subscribers), mode]);
  const p = await pub.exited;
  expect(p.stderr).toBe('');
  expect(p.code).toBe(0);
  const results = await Promise.all(subs.map((s) => s.exited));
  return results.map((r) => {
    expect(r.code, r.stderr).toBe(0);
    return lastJson<Result>(r.stdout);
  });
}

describe('TS publisher -> TS subscribers in other processes', () => {
  it(`1 -> 1: ${RECORDS} records, checksum and names`, async () => {
    const [r] = await fanOut('one', 1, 'batch');
    expect(r).toEqual({ received: RECORDS, checksum: expectedChecksum(RECORDS), badNames: 0, outOfOrder: 0, lost: 0 });
  });

  it(`1 -> 2: ${RECORDS} records each, published one by one`, async () => {
    const results = await fanOut('two', 2, 'single');
    for (const r of results) {
      expect(r).toEqual({ received: RECORDS, checksum: expectedChecksum(RECORDS), badNames: 0, outOfOrder: 0, lost: 0 });
    }
  });

  it('a durable subscriber killed mid-stream and restarted receives every record, at most a batch twice', async () => {
    // The ring holds the whole stream: an offline durable subscriber does not hold the publisher back,
    // and a Node process takes a while to restart.
    const count = Math.min(RECORDS, 500_000);
    const { inspectChannel, openChannel } = await import('../src/index.js');
    const { Person } = await import('@mmbus/messages');
    openChannel('durable', Person, { dir, capacity: 1 << 19 }).close();
    const log = join(dir, 'durable.log');
    const args = [dir, 'durable', String(count), 'web', log];
    let sub = runFixture('person-subscriber', args);
    await sub.line('ready');
    const pub = runFixture('person-publisher', [dir, 'durable', String(count), '1', 'paced']); // 5,000 per 10 ms
    let kills = 0;
    const ring = inspectChannel('durable', dir);
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 100));
      if (!killableMidStream(ring.head(), count, 5_000)) break;
      sub.proc.kill('SIGKILL');
      await sub.exited;
      kills++;
      sub = runFixture('person-subscriber', args);
      await sub.line('ready');
    }
    ring.close();
    expect((await pub.exited).code).toBe(0);
    const last = await sub.exited;
    expect(last.code, last.stderr).toBe(0);
    expect(kills).toBeGreaterThan(0);
    // every index is covered by a logged batch; overlaps are redeliveries of unacknowledged batches
    const { missing, redelivered } = batchLogCoverage(readFileSync(log, 'utf8'), count);
    expect(missing).toBe(0);
    expect(redelivered).toBeLessThanOrEqual(kills * 4096);
  });

  it('overwrite with a slow subscriber: received + lost = sent', async () => {
    const count = 200_000;
    const { openChannel } = await import('../src/index.js');
    const { Person } = await import('@mmbus/messages');
    openChannel('lossy', Person, { dir, capacity: 4096, policy: 'overwrite' }).close();
    const sub = runFixture('person-subscriber', [dir, 'lossy', String(count), '', '', '1']);
    await sub.line('ready');
    const pub = runFixture('person-publisher', [dir, 'lossy', String(count), '1', 'batch']);
    expect((await pub.exited).code).toBe(0);
    const r = await sub.exited;
    expect(r.code, r.stderr).toBe(0);
    const res = lastJson<Result>(r.stdout);
    expect(res.badNames).toBe(0);
    expect(res.outOfOrder).toBe(0);
    expect(res.lost).toBeGreaterThan(0);
    expect(res.received + res.lost).toBe(count);
  });
});
