// ls, stat, doctor, gc, rm and usage on real channels made here, corrupt and foreign files, and a
// subscriber process killed with SIGKILL.
import { copyFileSync, existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { openChannel } from '@mmbus/core';
import { Person, PointUpdate } from '@mmbus/messages';
import { cli, runFixture, useScratchDir } from './helpers.ts';

let dir: string;
useScratchDir((d) => (dir = d));

function makeChannels(): void {
  const people = openChannel('people', Person, { dir, capacity: 16 });
  for (let i = 0; i < 5; i++) people.publish({ index: BigInt(i), name: `person-${i}`, age: 20 + i });
  people.close();
  const points = openChannel('points', PointUpdate, { dir, capacity: 64, policy: 'overwrite' });
  points.publish({ timestampNs: 1n, value: 2.5, pointId: 7, deviceId: 3, quality: 0, tag: 'temp' });
  points.close();
}

/** A subscriber in another process, killed with SIGKILL: its slot stays, owned by a dead pid. */
async function deadSubscriber(channel: string, durable = ''): Promise<number> {
  const child = runFixture('subscriber', [dir, channel, durable]);
  const out = await child.waitFor('ready');
  const pid = Number(/ready (\d+)/.exec(out)![1]);
  child.proc.kill('SIGKILL');
  await child.exited;
  return pid;
}

const noStack = (stderr: string): void => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
  expect(stderr).toMatch(/^mmbus: /);
};

describe('mmbus ls', () => {
  it('lists every channel with schema, sizes, head and subscribers; bad files are listed with their error', async () => {
    makeChannels();
    writeFileSync(join(dir, 'garbage.db'), Buffer.alloc(8192, 0x5a));
    copyFileSync(join(dir, 'people.db'), join(dir, 'cut.db'));
    truncateSync(join(dir, 'cut.db'), 100);
    const r = await cli(['ls', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const line = (name: string): string => r.stdout.split('\n').find((l) => l.startsWith(`${name} `))!;
    expect(line('people')).toMatch(/mmbus\.Person\s+128 B\s+16\s+block\s+5\s+0\s+0\s+0\s+\d+ KiB/);
    expect(line('points')).toMatch(/mmbus\.PointUpdate\s+128 B\s+64\s+overwrite\s+1\s/);
    expect(line('garbage')).toContain('unreadable');
    expect(r.stdout).toMatch(/garbage\.db: error: .*MMBUS_E_BADFILE/);
    expect(r.stdout).toMatch(/cut\.db: error: .*MMBUS_E_/);

    const j = await cli(['ls', '--json', '--dir', dir]);
    const doc = JSON.parse(j.stdout) as { channels: { name: string; head?: number; error?: string; fingerprint?: string }[] };
    expect(doc.channels.map((c) => c.name)).toEqual(['cut', 'garbage', 'people', 'points']);
    expect(doc.channels.find((c) => c.name === 'people')).toMatchObject({ head: 5, fingerprint: `0x${Person.FINGERPRINT.toString(16)}` });
    expect(doc.channels.find((c) => c.name === 'garbage')!.error).toContain('MMBUS_E_BADFILE');
  });

  it('uses $MMBUS_DIR when no directory is given, and says when a directory does not exist', async () => {
    makeChannels();
    const r = await cli(['ls'], { env: { MMBUS_DIR: dir } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('people');
    const missing = await cli(['ls', join(dir, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
    noStack(missing.stderr);
  });
});

describe('mmbus stat', () => {
  it('prints the header and every subscriber: durable and anonymous, alive, offline and dead', async () => {
    makeChannels();
    const ch = openChannel('people', Person, { dir });
    const live = ch.subscribe({ name: 'web' });
    const offline = ch.subscribe({ name: 'archive', start: 'oldest' });
    offline.close(); // a durable subscriber that went away cleanly: offline
    const deadPid = await deadSubscriber('people');
    const r = await cli(['stat', 'people', '--dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/schema\s+mmbus\.Person/);
    expect(r.stdout).toMatch(/fingerprint\s+0x[0-9a-f]{16}/);
    expect(r.stdout).toMatch(/capacity\s+16 records/);
    expect(r.stdout).toMatch(/published \(head\)\s+5/);
    expect(r.stdout).toMatch(/subscribers\s+1 active, 1 offline, 1 dead/);
    const row = (text: string): string => r.stdout.split('\n').find((l) => l.includes(text))!;
    expect(row(' web ')).toMatch(new RegExp(`web\\s+active\\s+${process.pid}\\s+5\\s+0\\s+0\\s+\\d+ ms ago`));
    expect(row('archive')).toMatch(/archive\s+offline\s+\d+\s+0\s+5\s+0/);
    expect(row('(anonymous)')).toMatch(new RegExp(`\\(anonymous\\)\\s+dead\\s+${deadPid}\\s`));

    const j = await cli(['stat', join(dir, 'people.db'), '--json']); // a path to the file works too
    const doc = JSON.parse(j.stdout) as { info: { schemaName: string }; stats: { subscribers: { name: string; state: string }[] } };
    expect(doc.info.schemaName).toBe('mmbus.Person');
    expect(doc.stats.subscribers.map((s) => s.state).sort()).toEqual(['active', 'dead', 'offline']);
    live.close();
    ch.close();
  });

  it('shows how many keys a keyed channel has, its key field and how many keys have a value (text and --json)', async () => {
    makeChannels();
    const keyed = openChannel('keyed', PointUpdate, { dir, capacity: 64, keys: 5000 });
    for (const pointId of [0, 7, 7, 4999, 1234]) keyed.publish({ timestampNs: 1n, value: pointId, pointId, deviceId: 1, quality: 0, tag: 'k' });
    keyed.close();
    const r = await cli(['stat', 'keyed', '-d', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const offset = PointUpdate.KEY.offset;
    expect(r.stdout).toMatch(new RegExp(`\\nkeys\\s+5,000 \\(point_id: 4-byte unsigned at offset ${offset}\\); 4 with a value\\n`));
    const doc = JSON.parse((await cli(['stat', 'keyed', '-d', dir, '--json'])).stdout) as { keys: unknown; info: { keyCount: number } };
    expect(doc.keys).toEqual({ count: 5000, field: 'point_id', offset, size: 4, withValue: 4 });
    expect(doc.info.keyCount).toBe(5000);

    const plain = await cli(['stat', 'points', '-d', dir]); // the same message type, not keyed
    expect(plain.stdout).toMatch(/\nkeys\s+not keyed\n/);
    expect((JSON.parse((await cli(['stat', 'points', '-d', dir, '--json'])).stdout) as { keys: unknown }).keys).toBeNull();
  });

  it('fails in one line for a missing channel, a foreign file and a truncated file', async () => {
    makeChannels();
    writeFileSync(join(dir, 'foreign.db'), 'this is not a channel\n'.repeat(400));
    copyFileSync(join(dir, 'people.db'), join(dir, 'half.db'));
    truncateSync(join(dir, 'half.db'), Math.floor(readFileSync(join(dir, 'people.db')).length / 2));
    const missing = await cli(['stat', 'ghost', '-d', dir]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no channel 'ghost' in ${dir}`);
    noStack(missing.stderr);
    const foreign = await cli(['stat', 'foreign', '-d', dir]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain('not a valid mmbus channel file');
    noStack(foreign.stderr);
    const half = await cli(['stat', 'half', '-d', dir]);
    expect(half.code).toBe(1);
    expect(half.stderr).toMatch(/MMBUS_E_/);
    noStack(half.stderr);
  });
});

describe('mmbus gc and rm', () => {
  it("gc reclaims a killed subscriber's slot and prints how many", async () => {
    makeChannels();
    await deadSubscriber('people');
    await deadSubscriber('people', 'durable-one');
    const r = await cli(['gc', 'people', '-d', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("reclaimed 2 slots of dead processes on 'people'");
    const s = JSON.parse((await cli(['stat', 'people', '-d', dir, '--json'])).stdout) as { stats: { subscribers: { name: string; state: string }[] } };
    expect(s.stats.subscribers).toEqual([expect.objectContaining({ name: 'durable-one', state: 'offline' })]);
    expect((await cli(['gc', 'people', '-d', dir])).stdout).toContain('reclaimed 0 slots');
  });

  it('rm refuses while a live subscriber uses the channel, removes with --force or when idle', async () => {
    makeChannels();
    const ch = openChannel('people', Person, { dir });
    const sub = ch.subscribe();
    const refused = await cli(['rm', 'people', '-d', dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("channel 'people' is in use by 0 publisher(s) and 1 subscriber(s)");
    expect(refused.stderr).toContain(String(process.pid));
    noStack(refused.stderr);
    expect(existsSync(join(dir, 'people.db'))).toBe(true);
    const forced = await cli(['rm', 'people', '-d', dir, '--force']);
    expect(forced.code).toBe(0);
    expect(existsSync(join(dir, 'people.db'))).toBe(false);
    sub.close();
    ch.close();

    openChannel('idle', Person, { dir }).close();
    await deadSubscriber('idle'); // dead subscribers do not count as users
    const idle = await cli(['rm', 'idle', '-d', dir]);
    expect(idle.code).toBe(0);
    expect(idle.stdout).toContain("removed channel 'idle'");
    expect(existsSync(join(dir, 'idle.db'))).toBe(false);
  });

  it('rm needs --force for a file that is not a valid channel', async () => {
    writeFileSync(join(dir, 'junk.db'), Buffer.alloc(4096, 1));
    const refused = await cli(['rm', 'junk', '-d', dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('--force');
    expect(existsSync(join(dir, 'junk.db'))).toBe(true);
    expect((await cli(['rm', 'junk', '-d', dir, '-f'])).code).toBe(0);
    expect(existsSync(join(dir, 'junk.db'))).toBe(false);
    expect((await cli(['rm', 'junk', '-d', dir])).code).toBe(1);
  });
});

describe('mmbus doctor', () => {
  it('passes a healthy directory', async () => {
    makeChannels();
    const r = await cli(['doctor', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok\s+people/);
    expect(r.stdout).toMatch(/ok\s+points/);
    expect(r.stdout).toContain('0 errors, 0 warnings');
  });

  it('reports corrupt files (exit 1), dead subscribers and unknown schemas (warnings)', async () => {
    makeChannels();
    await deadSubscriber('people');
    writeFileSync(join(dir, 'garbage.db'), Buffer.alloc(8192, 0xff));
    const r = await cli(['doctor', '--dir', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/error\s+garbage: cannot be opened: not a valid mmbus channel file/);
    expect(r.stdout).toMatch(/warning\s+people: anonymous subscriber in slot \d+ belongs to process \d+, which is gone; reclaim its slot with 'mmbus gc people'/);
    expect(r.stdout).toMatch(/ok\s+points/);
    expect(r.stdout).toContain('1 error, 1 warning');

    const j = JSON.parse((await cli(['doctor', dir, '--json'])).stdout) as { errors: number; warnings: number };
    expect(j).toMatchObject({ errors: 1, warnings: 1 });
  });

  it('warnings alone exit 0, or 1 with --strict', async () => {
    makeChannels();
    await deadSubscriber('people');
    expect((await cli(['doctor', dir])).code).toBe(0);
    const strict = await cli(['doctor', dir, '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain('0 errors, 1 warning');
  });
});

describe('usage', () => {
  it('--help works on every command; bad usage exits 2 in one line', async () => {
    for (const c of ['ls', 'stat', 'tail', 'watch', 'publish', 'gc', 'rm', 'doctor']) {
      const r = await cli([c, '--help']);
      expect(r.code, c).toBe(0);
      expect(r.stdout).toContain(`Usage: mmbus ${c}`);
      expect(r.stdout).toContain('Exit codes:');
    }
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/tail.*\n/);
    for (const args of [['bogus'], ['stat'], ['tail', 'x', '-n', 'many'], ['ls', '--nope'], ['watch', '--interval', '0']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      noStack(r.stderr);
    }
  });

  it('NO_COLOR output has no escape codes; FORCE_COLOR colours it', async () => {
    makeChannels();
    await deadSubscriber('people');
    const plain = await cli(['stat', 'people', '-d', dir]);
    expect(plain.stdout).not.toContain('\x1b[');
    const coloured = await cli(['stat', 'people', '-d', dir], { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(coloured.stdout).toContain('\x1b[');
  });
});
