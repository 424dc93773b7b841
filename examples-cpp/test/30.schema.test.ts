// A C++ program and a TS program opening one channel with different schemas both get the schema
// error, naming both schemas.
import { openChannel, MmbusError } from '@mmbus/core';
import { PointUpdate, Person } from '@mmbus/messages';
import { describe, expect, it } from 'vitest';

import { lastJson, runCpp, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

describe('schema mismatch across languages', () => {
  it('TS created a PointUpdate channel: the C++ Person programs get MMBUS_E_SCHEMA', async () => {
    const ch = openChannel('points', PointUpdate, { dir });
    try {
      for (const prog of ['person-subscriber', 'person-publisher']) {
        const e = await runCpp(prog, ['--dir', dir, '--channel', 'points', '--count', '10']).exited;
        expect(e.code).toBe(1);
        expect(e.stderr).toContain('MMBUS_E_SCHEMA');
        expect(e.stderr).toContain("'mmbus.PointUpdate'");
        expect(e.stderr).toContain("'mmbus.Person'");
      }
    } finally {
      ch.close();
    }
  });

  it('C++ created a Person channel: TS openChannel with PointUpdate throws MmbusError MMBUS_E_SCHEMA, and so does the collector', async () => {
    const pub = await runCpp('person-publisher', ['--dir', dir, '--channel', 'points', '--count', '0']).exited;
    expect(pub.code).toBe(0);
    let err: unknown;
    try {
      openChannel('points', PointUpdate, { dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MmbusError);
    expect((err as MmbusError).code).toBe('MMBUS_E_SCHEMA');
    expect((err as MmbusError).message).toContain('mmbus.Person');
    expect((err as MmbusError).message).toContain('mmbus.PointUpdate');
    openChannel('points', Person, { dir }).close(); // the right schema opens

    const host = await runCpp('collector-host', ['--dir', dir, '--devices', '1', '--points-per-device', '1']).exited;
    expect(host.code).toBe(1);
    const summary = lastJson<{ ok: boolean; error: string }>(host.stdout);
    expect(summary.ok).toBe(false);
    expect(summary.error).toContain('MMBUS_E_SCHEMA');
    expect(summary.error).toContain('mmbus.Person');
  });
});
