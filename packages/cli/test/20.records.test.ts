// tail, tail -f, publish and watch on real channels: generated types, --schema for any schema, mismatches.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { openChannel } from '@mmbus/core';
import { Person, PointUpdate } from '@mmbus/messages';
import { sparkline } from '../src/index.ts';
import { cli, SCHEMAS, startCli, useScratchDir } from './helpers.ts';

let dir: string;
useScratchDir((d) => (dir = d));

function people(n: number, capacity = 16): void {
  const ch = openChannel('people', Person, { dir, capacity });
  for (let i = 0; i < n; i++) ch.publish({ index: BigInt(i), name: `person-${i}`, age: i % 100 });
  ch.close();
}

const SAMPLE_FBS = `
attribute "mmbus_text";
namespace lab;
enum Color : ubyte { Red = 0, Green, Blue }
struct Vec2 { x: float; y: float; }
struct Sample {
  id: ulong;
  pos: Vec2;
  color: Color;
  vals: [short:3];
  label: [ubyte:16] (mmbus_text);
  ok: bool;
}
`;

interface Line {
  seq: number;
  record: Record<string, unknown>;
}
const jsonLines = (stdout: string): Line[] =>
  stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

describe('mmbus tail', () => {
  it('prints the newest N records as a table, decoded with the generated class', async () => {
    people(12);
    const r = await cli(['tail', 'people', '-d', dir, '-n', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+index\s+name\s+age\s*$/);
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/))).toEqual([
      ['9', '9', 'person-9', '9'],
      ['10', '10', 'person-10', '10'],
      ['11', '11', 'person-11', '11'],
    ]);
    const all = await cli(['tail', 'people', '-d', dir]); // default 10
    expect(all.stdout.trim().split('\n')).toHaveLength(11);
  });

  it('JSON lines: 64-bit integers as strings; an overwritten ring gives what it still holds', async () => {
    people(40, 16);
    const r = await cli(['tail', 'people', '-d', dir, '-n', '100', '--json']);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.map((l) => l.seq)).toEqual(Array.from({ length: 16 }, (_, i) => 24 + i));
    expect(lines[15]).toEqual({ seq: 39, record: { index: '39', name: 'person-39', age: 39 } });
    const points = openChannel('points', PointUpdate, { dir });
    points.publish({ timestampNs: 1700000000123456789n, value: -1.25, pointId: 9, deviceId: 70, quality: 2, tag: 'Druck' });
    points.close();
    const p = await cli(['tail', 'points', '-d', dir, '--json']);
    expect(jsonLines(p.stdout)).toEqual([
      // the schema's names and enum values by name: one convention, from the layout the file carries
      { seq: 0, record: { timestamp_ns: '1700000000123456789', value: -1.25, point_id: 9, device_id: 70, quality: 'Bad', tag: 'Druck' } },
    ]);
  });

  it('--schema decodes with a schema file; a different layout of the same name is refused as a mismatch', async () => {
    people(3);
    const r = await cli(['tail', 'people', '-d', dir, '--json', '--schema', join(SCHEMAS, 'person.fbs')]);
    expect(r.stderr).toBe('');
    expect(jsonLines(r.stdout).map((l) => l.record)).toEqual([0, 1, 2].map((i) => ({ index: String(i), name: `person-${i}`, age: i })));

    const other = join(dir, 'person-v2.fbs');
    writeFileSync(other, 'namespace mmbus;\nstruct Person { index: long; age: ubyte; }\n');
    const bad = await cli(['tail', 'people', '-d', dir, '--schema', other]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^mmbus: error: schema mismatch: channel 'people' holds mmbus\.Person with fingerprint 0x[0-9a-f]{16}/);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);

    const none = join(dir, 'other.fbs');
    writeFileSync(none, 'namespace x;\nstruct Y { a: int; }\n');
    const missing = await cli(['tail', 'people', '-d', dir, '--schema', none]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("declares no struct 'mmbus.Person' (it declares: x.Y)");

    writeFileSync(none, 'namespace x;\nstruct Y { a: nope; }\n');
    const broken = await cli(['tail', 'people', '-d', dir, '--schema', none]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^mmbus: error: schema \S*other\.fbs:2:\d+: unknown type 'nope'/);
  });

  it('a channel of a schema the repo does not know: publish --schema creates it described, tail decodes it without the schema', async () => {
    const fbs = join(dir, 'sample.fbs');
    writeFileSync(fbs, SAMPLE_FBS);
    const pub = await cli([
      'publish', 'samples', '-d', dir, '--schema', fbs, '--type', 'lab.Sample',
      '--json', '[{"id":"18446744073709551615","pos":{"x":1.5,"y":-2},"color":"Blue","vals":[1,-2,3],"label":"α-β","ok":true},{"id":7}]',
    ]);
    expect(pub.stderr).toBe('');
    expect(pub.stdout).toContain("published 2 records (lab.Sample) to 'samples'");
    const described = await cli(['tail', 'samples', '-d', dir, '--json']);
    expect(described.stderr).toBe('');
    const r = await cli(['tail', 'samples', '-d', dir, '--schema', fbs, '--json']);
    expect(r.stderr).toBe('');
    expect(described.stdout).toBe(r.stdout); // --schema, an override, reads the same
    expect(jsonLines(r.stdout)).toEqual([
      { seq: 0, record: { id: '18446744073709551615', pos: { x: 1.5, y: -2 }, color: 'Blue', vals: [1, -2, 3], label: 'α-β', ok: true } },
      { seq: 1, record: { id: '7', pos: { x: 0, y: 0 }, color: 'Red', vals: [0, 0, 0], label: '', ok: false } },
    ]);
    const table = await cli(['tail', 'samples', '-d', dir, '--schema', fbs]);
    expect(table.stdout).toMatch(/SEQ\s+id\s+pos\s+color\s+vals\s+label\s+ok/);
    expect(table.stdout).toMatch(/\{"x":1\.5,"y":-2\}\s+Blue\s+\[1,-2,3\]\s+α-β\s+true/);
  });

  it('-f prints records published after it started, and exits cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const name = `follow-${signal}`;
      const ch = openChannel(name, Person, { dir });
      ch.publish({ index: 0n, name: 'before-0', age: 0 });
      ch.publish({ index: 1n, name: 'before-1', age: 1 });
      const tail = startCli(['tail', name, '-d', dir, '-f', '--json', '-n', '1']);
      await tail.waitFor('before-1');
      ch.publish({ index: 100n, name: 'late-a', age: 1 });
      ch.publish({ index: 101n, name: 'late-b', age: 2 });
      await tail.waitFor('late-b');
      ch.close();
      tail.proc.kill(signal);
      const e = await tail.exited;
      expect(e.code, signal).toBe(0);
      expect(e.stderr).toBe('');
      expect(jsonLines(e.stdout)).toEqual([
        { seq: 1, record: { index: '1', name: 'before-1', age: 1 } },
        { seq: 2, record: { index: '100', name: 'late-a', age: 1 } },
        { seq: 3, record: { index: '101', name: 'late-b', age: 2 } },
      ]);
    }
  });

  it('-f as a table keeps printing rows under the header', async () => {
    people(1);
    const tail = startCli(['tail', 'people', '-d', dir, '-f']);
    await tail.waitFor('person-0');
    const ch = openChannel('people', Person, { dir });
    ch.publish({ index: 5n, name: 'follow-me', age: 50 });
    await tail.waitFor('follow-me');
    ch.close();
    tail.proc.kill('SIGINT');
    const e = await tail.exited;
    expect(e.code).toBe(0);
    const lines = e.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+index\s+name\s+age/);
    expect(lines.filter((l) => l.startsWith('SEQ'))).toHaveLength(1);
    expect(lines[2]!.trim().split(/\s+/)).toEqual(['1', '5', 'follow-me', '50']);
  });

  it('tail of a corrupt file fails in one line', async () => {
    writeFileSync(join(dir, 'bad.db'), Buffer.alloc(10000, 7));
    const r = await cli(['tail', 'bad', '-d', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mmbus: error: channel 'bad' in .*: not a valid mmbus channel file/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('mmbus publish', () => {
  it('publishes --json objects and JSON lines from stdin, converting 64-bit fields', async () => {
    people(0);
    const one = await cli(['publish', 'people', '-d', dir, '--json', '{"index":"9007199254740993","name":"Ada","age":36}']);
    expect(one.stderr).toBe('');
    expect(one.code).toBe(0);
    expect(one.stdout).toContain("published 1 record (mmbus.Person) to 'people'");
    const lines = await cli(['publish', 'people', '-d', dir], { input: '{"index":1,"name":"b"}\n\n{"index":2,"name":"c","age":3}\n' });
    expect(lines.stdout).toContain('published 2 records');
    const r = await cli(['tail', 'people', '-d', dir, '--json']);
    expect(jsonLines(r.stdout).map((l) => l.record)).toEqual([
      { index: '9007199254740993', name: 'Ada', age: 36 },
      { index: '1', name: 'b', age: 0 },
      { index: '2', name: 'c', age: 3 },
    ]);
  });

  it('refuses bad input in one line: unknown field (1), invalid JSON (2), missing channel (1)', async () => {
    people(0);
    const field = await cli(['publish', 'people', '-d', dir, '--json', '{"idx":1}']);
    expect(field.code).toBe(1);
    expect(field.stderr).toContain("no field 'idx' in mmbus.Person (fields: index, name, age)");
    const notInt = await cli(['publish', 'people', '-d', dir, '--json', '{"index":"abc"}']);
    expect(notInt.code).toBe(1);
    expect(notInt.stderr).toContain("field 'index': expected an integer");
    const json = await cli(['publish', 'people', '-d', dir, '--json', '{nope']);
    expect(json.code).toBe(2);
    expect(json.stderr).toContain('--json: invalid JSON');
    const missing = await cli(['publish', 'ghost', '-d', dir, '--json', '{}']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no channel 'ghost'");
    for (const r of [field, notInt, json, missing]) expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(jsonLines((await cli(['tail', 'people', '-d', dir, '--json'])).stdout)).toEqual([]);
  });

  it('--type creates a channel of a generated type', async () => {
    const r = await cli(['publish', 'made', '-d', dir, '--type', 'mmbus.PointUpdate', '--capacity', '32', '--json', '{"point_id":1,"tag":"t","timestamp_ns":5}']);
    expect(r.stderr).toBe('');
    const s = JSON.parse((await cli(['stat', 'made', '-d', dir, '--json'])).stdout) as { info: { schemaName: string; capacity: number }; stats: { head: number } };
    expect(s).toMatchObject({ info: { schemaName: 'mmbus.PointUpdate', capacity: 32 }, stats: { head: 1 } });
  });
});

describe('mmbus watch', () => {
  it('--once prints one plain frame of every channel and subscriber', async () => {
    people(3);
    const ch = openChannel('people', Person, { dir });
    const sub = ch.subscribe({ name: 'dashboard', start: 'oldest' });
    const r = await cli(['watch', dir, '--once']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('\x1b[');
    expect(r.stdout.match(/mmbus watch/g)).toHaveLength(1);
    expect(r.stdout).toMatch(/people\s+mmbus\.Person\s+3\s+-/);
    expect(r.stdout).toMatch(/people\s+dashboard\s+active\s+\d+\s+3\s+0/);
    sub.close();
    ch.close();
  });

  it('shows the rate from head deltas between frames, with a sparkline', async () => {
    people(0);
    const w = startCli(['watch', '-d', dir, '--iterations', '3', '--interval', '500']);
    await w.waitFor('mmbus watch');
    const ch = openChannel('people', Person, { dir });
    for (let i = 0; i < 50; i++) ch.publish({ index: BigInt(i), name: 'x' });
    ch.close();
    const e = await w.exited;
    expect(e.code).toBe(0);
    const frames = e.stdout.split(/(?=mmbus watch)/);
    expect(frames).toHaveLength(3);
    expect(frames[0]).toMatch(/people\s+mmbus\.Person\s+0\s+-/);
    const rates = frames.slice(1).map((f) => /people\s+mmbus\.Person\s+(\d+)\s+(\d+)\s+(\S+)/.exec(f)!);
    expect(rates.at(-1)![1]).toBe('50');
    expect(rates.some((m) => Number(m[2]) > 0)).toBe(true);
    expect(rates.at(-1)![3]).toMatch(/^[▁▂▃▄▅▆▇█]{2}$/);
  });

  it('sparkline scales to the largest rate', () => {
    expect(sparkline([0, 5, 10])).toBe('▁▅█');
    expect(sparkline([0, 0])).toBe('▁▁');
  });
});
