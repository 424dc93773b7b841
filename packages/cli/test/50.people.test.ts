// Output for people (issue 13.5: thousands separators, floats rounded in tables, exact and stable --json,
// the API's state words) and publish refusing what a field cannot hold, as TypeScript does (issue 11.12).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { openChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';
import { cli, SCHEMAS, useScratchDir } from './helpers.ts';

let dir: string;
useScratchDir((d) => (dir = d));

/** 1,234 points on a ring of 4,096, the last with a float sum's binary noise. */
function points(): void {
  const ch = openChannel('points', PointUpdate, { dir, capacity: 4096 });
  ch.publishBatch(1233, (r, i) => {
    r.pointId = i;
    r.value = i / 4;
  });
  ch.publish({ pointId: 77, value: 902.21 + 1e-13, deviceId: 1234567, tag: 'p' });
  ch.close();
}

describe('numbers for people, exact in --json', () => {
  it('ls, stat: counts with thousands separators; --json the same counts as plain numbers', async () => {
    points();
    const ls = await cli(['ls', dir]);
    expect(ls.stdout).toMatch(/points\s+mmbus\.PointUpdate\s+128 B\s+4,096\s+block\s+1,234\s/);
    const stat = await cli(['stat', 'points', '-d', dir]);
    expect(stat.stdout).toMatch(/capacity\s+4,096 records/);
    expect(stat.stdout).toMatch(/published \(head\)\s+1,234\n/);
    expect(stat.stdout).toMatch(/block timeout\s+5,000 ms/);
    expect(stat.stdout).toMatch(/file size\s+\S+ \S+ \([\d,]+ bytes\)/);
    // the layout the file carries, by the schema's names
    expect(stat.stdout).toContain('record layout      in the file: timestamp_ns@0 value@8 point_id@16 device_id@20 quality@24 tag@25');
    const json = JSON.parse((await cli(['ls', dir, '--json'])).stdout) as { channels: { head: number; capacity: number }[] };
    expect(json.channels[0]).toMatchObject({ head: 1234, capacity: 4096 });
    const statJson = JSON.parse((await cli(['stat', 'points', '-d', dir, '--json'])).stdout) as { stats: { head: number } };
    expect(statJson.stats.head).toBe(1234);
  });

  it('--json is stable: the same keys in the same order on every run', async () => {
    points();
    const keys = (text: string): string => JSON.stringify(JSON.parse(text), (_k, v: unknown) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).map((k) => [k, (v as Record<string, unknown>)[k]])) : v));
    const a = await cli(['stat', 'points', '-d', dir, '--json']);
    const b = await cli(['stat', 'points', '-d', dir, '--json']);
    expect(keys(a.stdout)).toBe(keys(b.stdout));
    const shape = (text: string): string[] => Object.keys((JSON.parse(text) as { info: object }).info);
    expect(shape(a.stdout)).toEqual(shape(b.stdout));
  });

  it('tail: a float sum prints rounded in the table (902.21) and exactly with --json', async () => {
    points();
    const table = await cli(['tail', 'points', '-d', dir, '-n', '1']);
    expect(table.stdout).toMatch(/\b902\.21\b/);
    expect(table.stdout).not.toContain('902.2100000000');
    const json = await cli(['tail', 'points', '-d', dir, '-n', '1', '--json']);
    const line = JSON.parse(json.stdout.trim()) as { record: { value: number } };
    expect(line.record.value).toBe(902.21 + 1e-13);
  });
});

describe('mmbus publish refuses what a field cannot hold (the policy of the generated classes), in the schema\'s names', () => {
  const bad: [string, string, RegExp][] = [
    ['point_id "abc"', '{"point_id":"abc"}', /field 'point_id': expected a number, got "abc"/],
    ['point_id -1', '{"point_id":-1}', /field 'point_id': -1 is not an integer in 0 \.\. 4294967295/],
    ['point_id 2**40+5', `{"point_id":${2 ** 40 + 5}}`, /1099511627781 is not an integer/],
    ['point_id 1.9', '{"point_id":1.9}', /1\.9 is not an integer/],
    ['quality 9', '{"quality":9}', /field 'quality': 9 is not a value of mmbus\.Quality \(Good = 0, Uncertain = 1, Bad = 2, CommFailure = 3\)/],
    ['tag with NUL', '{"tag":"a\\u0000b"}', /NUL/],
    ['a number instead of a record', '42', /42 is not a record: give a JSON object of mmbus\.PointUpdate fields/],
    ['an unknown field', '{"pointId":1}', /no field 'pointId' in mmbus\.PointUpdate \(fields: timestamp_ns, value, point_id, device_id, quality, tag\)/],
    ['a numeric string for a 32-bit field', '{"device_id":"5"}', /expected a number, got "5"/],
  ];
  for (const [what, json, message] of bad) {
    it(`${what}: exit 1, one line naming the field, nothing published (generated type and --schema)`, async () => {
      const ch = openChannel('points', PointUpdate, { dir, capacity: 16 });
      ch.close();
      for (const extra of [[], ['--schema', join(SCHEMAS, 'point.fbs')]]) {
        const r = await cli(['publish', 'points', '-d', dir, '--json', json, ...extra]);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(/^mmbus: error: --json: /);
        expect(r.stderr).toMatch(message); // the same words whichever layout decodes it
      }
      const s = JSON.parse((await cli(['stat', 'points', '-d', dir, '--json'])).stdout) as { stats: { head: number } };
      expect(s.stats.head).toBe(0);
    });
  }

  it('what fits is published, 64-bit integers also as strings of digits', async () => {
    const r = await cli(['publish', 'made', '-d', dir, '--type', 'mmbus.PointUpdate', '--json', '[{"point_id":4294967295,"quality":"CommFailure","timestamp_ns":"18446744073709551615","value":-0.5,"tag":"ok"},{"quality":1}]']);
    expect(r.stderr).toBe('');
    const lines = (await cli(['tail', 'made', '-d', dir, '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { record: Record<string, unknown> });
    expect(lines[0]!.record).toMatchObject({ point_id: 4294967295, quality: 'CommFailure', timestamp_ns: '18446744073709551615', value: -0.5, tag: 'ok' });
    expect(lines[1]!.record).toMatchObject({ point_id: 0, quality: 'Uncertain' }); // enums by name or value, shown by name
  });
});
