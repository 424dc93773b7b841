// The tools on hostile input: `rm` never removes anything outside the directory and says what it
// did; `doctor` finds what readers would trip on (garbage stamps, a head far ahead); `tail` handles
// 64-bit sequence numbers exactly (a double stops advancing at 2^53); and a user who may only read a
// channel can inspect it without changing a byte of it.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';
import { BIN, cli, useScratchDir } from './helpers.ts';

let dir: string;
useScratchDir((d) => (dir = d));

const OFF_HEAD = 384; // docs/format.md §1

function people(name: string, n: number, capacity = 16): void {
  const ch = openChannel(name, Person, { dir, capacity });
  for (let i = 0; i < n; i++) ch.publish({ index: BigInt(i), name: `person-${i}`, age: i % 100 });
  ch.close();
}

function poke(name: string, offset: number, bytes: Buffer): void {
  const fd = openSync(join(dir, `${name}.db`), 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

const u64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
};

describe('mmbus rm', () => {
  it('refuses a name that is a path, and removes nothing outside the directory', async () => {
    const victim = join(dir, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'keep.db'), 'precious');
    const channels = join(dir, 'channels');
    mkdirSync(channels);
    for (const name of ['../victim/keep', '..', '.hidden', 'a/b']) {
      const r = await cli(['rm', '--force', name, '-d', channels]);
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('is not a channel name');
      expect(r.stdout).not.toContain('removed');
    }
    expect(readFileSync(join(victim, 'keep.db'), 'utf8')).toBe('precious');
  });

  it('says when there was nothing to remove, and what it removed', async () => {
    const none = await cli(['rm', 'ghost', '-d', dir]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no channel 'ghost'");
    expect(none.stderr).toContain('nothing removed');
    const forcedNone = await cli(['rm', '--force', 'ghost', '-d', dir]);
    expect(forcedNone.code).toBe(1);
    expect(forcedNone.stderr).toContain('nothing removed');
    writeFileSync(join(dir, 'junk.db'), Buffer.alloc(8192, 0x5a));
    const junk = await cli(['rm', '--force', 'junk', '-d', dir]);
    expect(junk.code).toBe(0);
    expect(junk.stdout).toContain(`removed an unreadable channel file (${join(dir, 'junk.db')})`);
    expect(existsSync(join(dir, 'junk.db'))).toBe(false);
  });
});

describe('mmbus doctor on damaged files', () => {
  it('reports garbage stamps and a head far beyond the newest record, where it used to say ok', async () => {
    people('healthy', 5);
    people('stamps', 5);
    people('far', 5);
    // stamps start at 4096 + 64 * 128 + 64 * 128 for the default tables (docs/format.md §1)
    poke('stamps', 4096 + 64 * 128 + 64 * 128, Buffer.alloc(16 * 8, 0xff));
    poke('far', OFF_HEAD, u64(2n ** 53n + 10n));
    const r = await cli(['doctor', dir, '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout) as { findings: { channel: string; level: string; message: string }[] };
    const of = (c: string) => doc.findings.filter((f) => f.channel === c);
    expect(of('healthy')).toEqual([]);
    expect(of('stamps')).toContainEqual(expect.objectContaining({ level: 'error', message: expect.stringMatching(/16 inconsistencies.*slot 0/) }));
    expect(of('far')).toContainEqual(expect.objectContaining({ level: 'error', message: expect.stringContaining('nobody fills them') }));
  });
});

describe('64-bit sequence numbers', () => {
  it('tail prints exact sequence numbers past 2^53 and ends', async () => {
    people('big', 3);
    poke('big', OFF_HEAD, u64(2n ** 53n + 10n)); // the last records were never published: gaps
    const r = await cli(['tail', 'big', '-d', dir, '-n', '5', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(''); // nothing committed there, and it returns at once
    const stat = await cli(['stat', 'big', '-d', dir, '--json']);
    expect(stat.stdout).toContain('"head":9007199254741002'); // exact, not 9007199254741000
  });
});

const canAddUser =
  process.getuid?.() === 0 &&
  (spawnSync('id', ['mmbus-test-other']).status === 0 ||
    spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'mmbus-test-other']).status === 0);

// The other user must also reach the CLI: a checkout under a private directory (mktemp -d) is not
// reachable by it, and then the test cannot run (it says so).
const otherRunsCli = canAddUser && spawnSync('runuser', ['-u', 'mmbus-test-other', '--', process.execPath, BIN, '--help']).status === 0;
if (canAddUser && !otherRunsCli) console.warn(`skipped 'a user who may only read': user mmbus-test-other cannot run ${BIN} (a parent directory is private)`);

describe('a user who may only read', () => {
  // needs root to run as another user, and a checkout the other user can read
  it.runIf(otherRunsCli)('inspects a channel with ls, stat, tail, doctor and changes no byte of it', () => {
    chmodSync(dir, 0o755);
    people('shared', 7);
    const file = join(dir, 'shared.db');
    chmodSync(file, 0o644);
    const before = createHash('sha256').update(readFileSync(file)).digest('hex');
    for (const args of [['ls', dir], ['stat', 'shared', '-d', dir], ['tail', 'shared', '-d', dir, '-n', '3'], ['doctor', dir]]) {
      const r = spawnSync('runuser', ['-u', 'mmbus-test-other', '--', process.execPath, BIN, ...args], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', MMBUS_DIR: undefined },
      });
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      if (args[0] === 'tail') expect(r.stdout).toContain('person-6');
    }
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(before);
  });
});
