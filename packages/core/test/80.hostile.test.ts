// Hostile input through @mmbus/core: options are never coerced, NUL bytes never cut a string short on
// its way to C, a Node process survives its channel file being truncated (MMBUS_E_CORRUPT, not a
// silent exit 135), and a channel removed and re-created under it is noticed (MMBUS_E_STALE).
import { chmodSync, existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { defaultDir, inspectChannel, MmbusError, openChannel, unlinkChannel, type ChannelOptions } from '../src/index.js';
import { Person } from '@mmbus/messages';
import { lastJson, runFixture, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MmbusError);
    return `${(err as MmbusError).code}: ${(err as MmbusError).message}`;
  }
  return 'no error';
};

describe('options are checked, never coerced', () => {
  const bad: [string, ChannelOptions | Record<string, unknown>, string][] = [
    ['capacity 16.5', { capacity: 16.5 }, 'capacity'],
    ["capacity '16'", { capacity: '16' }, 'capacity'],
    ['capacity 2^64', { capacity: 2 ** 64 }, 'capacity'],
    ['capacity 1000', { capacity: 1000 }, 'power of two'],
    ['maxSubscribers 2^32 + 3', { maxSubscribers: 2 ** 32 + 3 }, 'maxSubscribers'],
    ['timeoutMs -5', { timeoutMs: -5 }, 'timeoutMs'],
    ['timeoutMs NaN', { timeoutMs: NaN }, 'timeoutMs'],
    ['timeoutMs Infinity', { timeoutMs: Infinity }, 'timeoutMs'],
    ['timeoutMs 1e300', { timeoutMs: 1e300 }, 'timeoutMs'],
    ['timeoutMs 2^62', { timeoutMs: 2 ** 62 }, 'timeoutMs'],
    ['heartbeatTimeoutMs 1.5', { heartbeatTimeoutMs: 1.5 }, 'heartbeatTimeoutMs'],
    ['mode 0o1777', { mode: 0o1777 }, 'mode'],
    ["policy 'fast'", { policy: 'fast' }, 'policy'],
    ["create 'yes'", { create: 'yes' }, 'create'],
    ['an unknown option', { capcity: 16 }, "unknown option 'capcity'"],
  ];
  for (const [what, options, word] of bad) {
    it(`refuses ${what} with MMBUS_E_INVAL naming it`, () => {
      const msg = code(() => openChannel('opts', Person, { dir, ...(options as ChannelOptions) }));
      expect(msg).toMatch(/^MMBUS_E_INVAL: /);
      expect(msg).toContain(word);
      expect(existsSync(join(dir, 'opts.db'))).toBe(false); // nothing was created
    });
  }
  it('refuses a fingerprint that is not 64-bit', () => {
    const Wide = Object.assign(class extends Person {}, { FINGERPRINT: 2n ** 70n }) as unknown as typeof Person;
    expect(code(() => openChannel('wide', Wide, { dir }))).toMatch(/^MMBUS_E_INVAL: .*FINGERPRINT/);
  });
});

describe('NUL bytes never reach C', () => {
  it('in names and directories: refused, and nothing is removed or created elsewhere', () => {
    openChannel('victim', Person, { dir }).close();
    expect(code(() => unlinkChannel('victim\0-other', dir))).toMatch(/^MMBUS_E_NAME: .*NUL/);
    expect(existsSync(join(dir, 'victim.db'))).toBe(true);
    const real = join(dir, 'real');
    mkdirSync(real);
    expect(code(() => openChannel('x', Person, { dir: `${real}\0/../elsewhere` }))).toMatch(/^MMBUS_E_DIR: .*NUL/);
    expect(existsSync(join(real, 'x.db'))).toBe(false);
    expect(code(() => inspectChannel('victim\0', dir))).toMatch(/^MMBUS_E_NAME: /);
    const ch = openChannel('victim', Person, { dir });
    expect(code(() => ch.subscribe({ name: 'web\0x' }))).toMatch(/^MMBUS_E_NAME: .*NUL/);
    ch.close();
  });
});

describe('the default directory', () => {
  it('is private and refused when it is not', () => {
    const base = join(dir, 'tmp');
    mkdirSync(base, { mode: 0o1777 });
    const saved = { TMPDIR: process.env['TMPDIR'], XDG: process.env['XDG_RUNTIME_DIR'], MMBUS_DIR: process.env['MMBUS_DIR'] };
    try {
      process.env['TMPDIR'] = base;
      delete process.env['XDG_RUNTIME_DIR'];
      delete process.env['MMBUS_DIR'];
      const d = defaultDir();
      expect(d).toBe(join(base, `mmbus-${process.geteuid!()}`));
      const ch = openChannel('in-default', Person);
      expect(existsSync(join(d, 'in-default.db'))).toBe(true);
      ch.close();
      // opened to others (as a squatter would leave it): refused with a reason
      chmodSync(d, 0o777);
      expect(code(() => defaultDir())).toMatch(/^MMBUS_E_DIR: .*open to group or others/);
      expect(code(() => openChannel('again', Person))).toMatch(/^MMBUS_E_DIR: /);
    } finally {
      if (saved.TMPDIR === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved.TMPDIR;
      if (saved.XDG !== undefined) process.env['XDG_RUNTIME_DIR'] = saved.XDG;
      if (saved.MMBUS_DIR !== undefined) process.env['MMBUS_DIR'] = saved.MMBUS_DIR;
    }
  });
});

describe('files changed under a running process', () => {
  it('a Node process whose channel is truncated gets MMBUS_E_CORRUPT and exits normally, not 135', async () => {
    openChannel('trunc', Person, { dir, capacity: 4096 }).close();
    const child = runFixture('truncated-reader', [dir, 'trunc']);
    await child.line('ready');
    truncateSync(join(dir, 'trunc.db'), 4096);
    const e = await child.exited;
    expect(e.signal).toBeNull();
    expect(e.code, e.stderr).toBe(0);
    expect(lastJson<{ code: string }>(e.stdout).code).toBe('MMBUS_E_CORRUPT');
  });

  it('a channel removed and re-created under its users: check() and the next wait say MMBUS_E_STALE', async () => {
    const ch = openChannel('again', Person, { dir });
    const sub = ch.subscribe();
    ch.check();
    unlinkChannel('again', dir);
    writeFileSync(join(dir, 'unrelated'), 'x');
    const fresh = openChannel('again', Person, { dir });
    expect(code(() => ch.check())).toMatch(/^MMBUS_E_STALE: .*removed or replaced/);
    await expect(sub.next()).rejects.toMatchObject({ code: 'MMBUS_E_STALE' });
    sub.close();
    ch.close();
    fresh.close();
  });
});
