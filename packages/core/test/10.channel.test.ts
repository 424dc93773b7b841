import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { MmbusError, openChannel, unlinkChannel } from '../src/index.js';
import { Person, PointUpdate } from '@mmbus/messages';
import { useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MmbusError);
    return (e as MmbusError).code;
  }
  throw new Error('expected an MmbusError');
}

describe('openChannel', () => {
  it('creates a channel file with the schema and options, and reports them', () => {
    const ch = openChannel('people', Person, { dir, capacity: 1024, policy: 'reject', timeoutMs: 250 });
    expect(ch.info).toMatchObject({
      name: 'people',
      dir,
      schemaName: 'mmbus.Person',
      fingerprint: Person.FINGERPRINT,
      recordSize: 128,
      capacity: 1024,
      policy: 'reject',
      blockTimeoutMs: 250,
      maxSubscribers: 64,
    });
    expect(statSync(join(dir, 'people.db')).mode & 0o777).toBe(0o600);
    expect(ch.info.createdAt.getTime()).toBeLessThanOrEqual(Date.now());
    ch.close();
    // reopening takes the file's settings
    const again = openChannel('people', Person, { dir });
    expect(again.info.capacity).toBe(1024);
    expect(again.info.policy).toBe('reject');
    again.close();
  });

  it('refuses another schema with an error naming both', () => {
    openChannel('points', PointUpdate, { dir }).close();
    let err: MmbusError | undefined;
    try {
      openChannel('points', Person, { dir });
    } catch (e) {
      err = e as MmbusError;
    }
    expect(err).toBeInstanceOf(MmbusError);
    expect(err!.code).toBe('MMBUS_E_SCHEMA');
    expect(err!.errno).toBe(-10);
    expect(err!.message).toContain('mmbus.PointUpdate');
    expect(err!.message).toContain('mmbus.Person');
    expect(err!.message).toContain(Person.FINGERPRINT.toString(16));
  });

  it('gives typed errors for bad names, directories, options and files', () => {
    expect(codeOf(() => openChannel('', Person, { dir }))).toBe('MMBUS_E_NAME');
    expect(codeOf(() => openChannel('../escape', Person, { dir }))).toBe('MMBUS_E_NAME');
    expect(codeOf(() => openChannel('a/b', Person, { dir }))).toBe('MMBUS_E_NAME');
    expect(codeOf(() => openChannel('nul\0byte', Person, { dir }))).toBe('MMBUS_E_NAME');
    expect(codeOf(() => openChannel('x'.repeat(129), Person, { dir }))).toBe('MMBUS_E_NAME');
    expect(codeOf(() => openChannel('ok', Person, { dir: join(dir, 'missing') }))).toBe('MMBUS_E_DIR');
    expect(codeOf(() => openChannel('ok', Person, { dir, capacity: 1000 }))).toBe('MMBUS_E_INVAL');
    expect(codeOf(() => openChannel('ok', Person, { dir, policy: 'drop' as 'block' }))).toBe('MMBUS_E_INVAL');
    expect(codeOf(() => openChannel('absent', Person, { dir, create: false }))).toBe('MMBUS_E_NOENT');
    openChannel('twice', Person, { dir }).close();
    expect(codeOf(() => openChannel('twice', Person, { dir, exclusive: true }))).toBe('MMBUS_E_EXIST');
    expect(codeOf(() => openChannel('twice', Person, { dir, capacity: 4096 }))).toBe('MMBUS_E_MISMATCH');
    expect(codeOf(() => openChannel('twice', Person, { dir, policy: 'overwrite' }))).toBe('MMBUS_E_MISMATCH');
    writeFileSync(join(dir, 'foreign.db'), 'this is not a channel file'.repeat(200));
    expect(codeOf(() => openChannel('foreign', Person, { dir }))).toBe('MMBUS_E_BADFILE');
    symlinkSync(join(dir, 'twice.db'), join(dir, 'link.db'));
    expect(codeOf(() => openChannel('link', Person, { dir }))).toBe('MMBUS_E_BADFILE');
    expect(codeOf(() => openChannel('ok', {} as typeof Person, { dir }))).toBe('MMBUS_E_INVAL');
  });

  it('unlinks channels, with typed errors', () => {
    openChannel('gone', Person, { dir }).close();
    unlinkChannel('gone', dir);
    expect(codeOf(() => unlinkChannel('gone', dir))).toBe('MMBUS_E_NOENT');
    expect(codeOf(() => unlinkChannel('../x', dir))).toBe('MMBUS_E_NAME');
  });

  it('uses $MMBUS_DIR, creating it, when no dir is given', () => {
    const sub = join(dir, 'default-dir');
    const saved = process.env['MMBUS_DIR'];
    process.env['MMBUS_DIR'] = sub;
    try {
      expect(codeOf(() => openChannel('d', Person))).toBe('MMBUS_E_DIR'); // only the built-in default is created
      mkdirSync(sub);
      const ch = openChannel('d', Person);
      expect(ch.info.dir).toBe(sub);
      ch.close();
    } finally {
      if (saved === undefined) delete process.env['MMBUS_DIR'];
      else process.env['MMBUS_DIR'] = saved;
    }
  });
});
