import { describe, expect, it } from 'vitest';

import { inspectChannel, MmbusError, openChannel } from '../src/index.js';
import { Person } from '@mmbus/messages';
import { useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

describe('inspectChannel', () => {
  it('reads header, stats and records of any schema without subscribing', () => {
    const ch = openChannel('seen', Person, { dir, capacity: 16, policy: 'overwrite' });
    const sub = ch.subscribe({ name: 'slow' });
    for (let i = 0; i < 20; i++) ch.publish({ index: BigInt(i), name: `p${i}` });
    const ins = inspectChannel('seen', dir);
    expect(ins.info).toMatchObject({ schemaName: 'mmbus.Person', recordSize: 128, capacity: 16, policy: 'overwrite' });
    expect(ins.head()).toBe(20);
    const bytes = ins.read(19)!;
    expect(new Person(new DataView(bytes.buffer)).name).toBe('p19');
    expect(ins.read(20)).toBeNull(); // not published yet
    expect(ins.read(2)).toBeNull(); // overwritten
    const stats = ins.stats();
    expect(stats.subscribers).toHaveLength(1); // the inspector did not join
    expect(stats.subscribers[0]).toMatchObject({ name: 'slow', durable: true });
    ins.close();
    expect(() => ins.head()).toThrow(MmbusError);
    sub.close();
    ch.close();
    expect(() => inspectChannel('missing', dir)).toThrow(expect.objectContaining({ code: 'MMBUS_E_NOENT' }));
  });
});
