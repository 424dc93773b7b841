// Runtimes that refuse external ArrayBuffers (Electron's V8 sandbox) get a copying path; it is forced
// here with MMBUS_COPY_BUFFERS=1 in a child process, and must behave exactly like the zero-copy path.
import { describe, expect, it } from 'vitest';

import { lastJson, runFixture, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

describe('copying mode (no external ArrayBuffers)', () => {
  it('publishes, subscribes, resumes and counts losses like the zero-copy path', async () => {
    const child = runFixture('copying-scenario', [dir], { MMBUS_COPY_BUFFERS: '1' });
    const r = await child.exited;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toEqual({
      copying: true,
      count: 102,
      seen: ['1:object', '2:in place', '10:batch-0'],
      resumed: '500:after',
      received: 16,
      lost: 84,
    });
  });

  it('interoperates with zero-copy processes: 200,000 records from a copying publisher', async () => {
    const sub = runFixture('person-subscriber', [dir, 'mixed', '200000']);
    await sub.line('ready');
    const pub = runFixture('person-publisher', [dir, 'mixed', '200000', '1', 'batch'], { MMBUS_COPY_BUFFERS: '1' });
    expect((await pub.exited).code).toBe(0);
    const r = await sub.exited;
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson(r.stdout)).toEqual({ received: 200000, checksum: -100000, badNames: 0, outOfOrder: 0, lost: 0 });
  });
});
