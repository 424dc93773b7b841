// The reference scenario: collector-host loads libcollector.so (dlopen), which publishes the start-up
// burst of every point and then steady changes; the TS "web back end" keeps the latest value of every
// point and must end with exactly the values the library reports it published.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectChannel, openChannel } from '@mmbus/core';
import { recordDecoder } from '@mmbus/runtime';
import { PointUpdate } from '@mmbus/messages';
import { describe, expect, it } from 'vitest';

import { buildDir, resultOf, runCpp, runTs, useScratchDir } from './helpers.js';

interface HostResult {
  ok: boolean;
  points: number;
  published: number;
  burst: number;
  changes: number;
  burstDone: boolean;
  valueSum: number;
  error: string | null;
}
interface BackendResult {
  received: number;
  distinctPoints: number;
  points: number;
  valueSum: number;
  lost: number;
  bad: number;
}

let dir: string;
useScratchDir((d) => (dir = d));

async function scenario(devices: number, perDevice: number, hostArgs: string[]): Promise<{ host: HostResult; backend: BackendResult }> {
  const shape = ['--devices', String(devices), '--points-per-device', String(perDevice)];
  // a ring smaller than the burst, block policy: the collector waits for the back end, nothing is lost
  const backend = runTs('web-backend', ['--dir', dir, ...shape, '--capacity', '65536', '--policy', 'block', '--dump', join(dir, 'ts-values.bin')]);
  await backend.line('ready');
  const host = runCpp('collector-host', ['--dir', dir, ...shape, '--capacity', '65536', '--policy', 'block', '--dump-values', join(dir, 'lib-values.bin'), ...hostArgs]);
  const h = await resultOf<HostResult>(host);
  backend.send(`stop ${h.published}`);
  const b = await resultOf<BackendResult>(backend);
  const ch = openChannel('points', PointUpdate, { dir });
  expect(ch.info.capacity).toBe(65536);
  ch.close();
  return { host: h, backend: b };
}

describe('collector-host (libcollector.so through dlopen) -> TS web back end', () => {
  it('the start-up burst of 70 x 3,000 points on a 65,536-record ring: every point ends with its exact value', async () => {
    const { host, backend } = await scenario(70, 3000, ['--rate', '0', '--duration', '0']);
    expect(host).toMatchObject({ ok: true, points: 210_000, published: 210_000, burst: 210_000, changes: 0, burstDone: true, error: null });
    expect(backend).toMatchObject({ received: 210_000, distinctPoints: 210_000, points: 210_000, lost: 0, bad: 0 });
    expect(backend.valueSum).toBe(host.valueSum);
    // every point's last value, bit for bit, equals what the library reports it published
    const ts = readFileSync(join(dir, 'ts-values.bin'));
    const lib = readFileSync(join(dir, 'lib-values.bin'));
    expect(ts.length).toBe(210_000 * 8);
    expect(ts.equals(lib)).toBe(true);
    expect(new Float64Array(lib.buffer, lib.byteOffset, 210_000).every((v) => v !== 0)).toBe(true);
  });

  it('the burst, then steady changes for a second: nothing lost, the last values match', async () => {
    const { host, backend } = await scenario(70, 3000, ['--rate', '50000', '--duration', '1']);
    expect(host).toMatchObject({ ok: true, points: 210_000, burst: 210_000, burstDone: true, error: null });
    expect(host.changes).toBeGreaterThan(0);
    expect(host.published).toBe(host.burst + host.changes);
    expect(backend).toMatchObject({ received: host.published, distinctPoints: 210_000, lost: 0, bad: 0 });
    expect(backend.valueSum).toBe(host.valueSum);
    expect(readFileSync(join(dir, 'ts-values.bin')).equals(readFileSync(join(dir, 'lib-values.bin')))).toBe(true);
  });

  it('stopped by SIGINT in the middle of the changes: the summary and the back end still agree', async () => {
    const shape = ['--devices', '10', '--points-per-device', '1000'];
    const backend = runTs('web-backend', ['--dir', dir, ...shape, '--dump', join(dir, 'ts-values.bin')]);
    await backend.line('ready');
    const host = runCpp('collector-host', ['--dir', dir, ...shape, '--rate', '20000', '--duration', '600', '--dump-values', join(dir, 'lib-values.bin')]);
    await new Promise((r) => setTimeout(r, 500));
    host.proc.kill('SIGINT');
    const h = await resultOf<HostResult & { interrupted: boolean }>(host);
    expect(h).toMatchObject({ ok: true, interrupted: true, points: 10_000, burst: 10_000, burstDone: true });
    backend.send(`stop ${h.published}`);
    const b = await resultOf<BackendResult>(backend);
    expect(b).toMatchObject({ received: h.published, distinctPoints: 10_000, lost: 0, bad: 0 });
    expect(readFileSync(join(dir, 'ts-values.bin')).equals(readFileSync(join(dir, 'lib-values.bin')))).toBe(true);
  });

  it('a late TS subscriber of the keyed channel, after the burst and changes, gets all 210,000 current values at once, equal to the collector\'s', async () => {
    const { host } = await scenario(70, 3000, ['--rate', '50000', '--duration', '1']);
    expect(host).toMatchObject({ ok: true, points: 210_000, burstDone: true });
    const late = await resultOf<{ values: number; points: number; equal: boolean; mismatched: number }>(
      runTs('late-viewer', ['--dir', dir, '--points', '210000', '--values', join(dir, 'lib-values.bin')]),
    );
    expect(late).toMatchObject({ values: 210_000, points: 210_000, equal: true, mismatched: 0 });
    // the same through the channel API: every point's latest record, its key and tag consistent
    const ch = openChannel('points', PointUpdate, { dir });
    expect(ch.keyCount).toBe(210_000);
    const lib = new Float64Array(readFileSync(join(dir, 'lib-values.bin')).buffer.slice(0));
    let equal = 0;
    ch.snapshot('all', (r, key) => {
      if (r.pointId === key && r.deviceId === Math.floor(key / 3000) && r.tag === `dev${r.deviceId}/pt${key % 3000}` && Object.is(r.value, lib[key])) equal++;
    });
    expect(equal).toBe(210_000);
    // the C++ collector created a self-describing channel: decoded without the type, as the CLI does
    expect(ch.layout).toEqual(JSON.parse(JSON.stringify(PointUpdate.LAYOUT)));
    const ins = inspectChannel('points', dir);
    const decode = recordDecoder(ins.layout!);
    const head = ins.head();
    let decoded = 0;
    for (let seq = Math.max(0, head - 100); seq < head; seq++) {
      const bytes = ins.read(seq);
      if (!bytes) continue;
      const want = new PointUpdate(new DataView(bytes.buffer, bytes.byteOffset));
      const got = decode(new DataView(bytes.buffer, bytes.byteOffset), 0);
      expect(got).toMatchObject({ point_id: want.pointId, device_id: want.deviceId, tag: want.tag, value: want.value });
      decoded++;
    }
    expect(decoded).toBeGreaterThan(0);
    ins.close();
    ch.close();
  });

  it('the library exports only its C ABI, and the host finds it next to itself', async () => {
    const nm = spawnSync('nm', ['-D', '--defined-only', join(buildDir, 'libcollector.so')], { encoding: 'utf8' });
    expect(nm.status, nm.stderr).toBe(0);
    const exported = nm.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length === 3 && /^[TDBR]$/.test(f[1]!))
      .map((f) => f[2])
      .sort();
    expect(exported).toEqual(['collector_errmsg', 'collector_last_values', 'collector_start', 'collector_stats', 'collector_stop']);
    const host = runCpp('collector-host', ['--dir', dir, '--devices', '2', '--points-per-device', '5']);
    expect(await resultOf<HostResult>(host)).toMatchObject({ ok: true, points: 10, published: 10 });
    const missing = runCpp('collector-host', ['--dir', dir, '--lib', join(dir, 'nope.so')]);
    const e = await missing.exited;
    expect(e.code).toBe(1);
    expect(e.stderr).toContain('cannot load');
  });
});
