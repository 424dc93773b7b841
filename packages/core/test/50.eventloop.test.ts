// Waiting never blocks the event loop nor burns CPU; a process exits on its own once closed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import { openChannel } from '../src/index.js';
import { Person } from '@mmbus/messages';
import { childEnv, useScratchDir } from './helpers.js';

let dir: string;
useScratchDir((d) => (dir = d));

describe('waiting', () => {
  it('keeps the event loop responsive and uses next to no CPU while idle', async () => {
    const ch = openChannel('idle', Person, { dir });
    const sub = ch.subscribe();
    const waiting = sub.next();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const cpu0 = process.cpuUsage();
    const wall0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 1000));
    const cpu = process.cpuUsage(cpu0);
    const wallUs = Number(process.hrtime.bigint() - wall0) / 1000;
    clearInterval(timer);
    // ~100 ticks if the loop is free; a loop blocked by the wait would give none
    expect(ticks).toBeGreaterThan(50);
    // this whole process (vitest included) stays under 20% of a core while the subscriber waits
    expect((cpu.user + cpu.system) / wallUs).toBeLessThan(0.2);
    ch.publish({ index: 42n, name: 'wake' });
    const batch = await waiting;
    expect(batch!.get(0).indexNumber).toBe(42);
    sub.close();
    ch.close();
  });

  it('lets a process exit by itself once its channels are closed, and even when they are not', () => {
    const script = (close: boolean) => `
      import { openChannel } from ${JSON.stringify(join(import.meta.dirname, '../src/index.ts'))};
      import { Person } from '@mmbus/messages';
      const ch = openChannel('exit', Person, { dir: ${JSON.stringify(dir)} });
      const sub = ch.subscribe({ name: 'd' });
      ch.publish({ index: 1n });
      sub.poll();
      ${close ? 'sub.close(); ch.close();' : ''}
      console.log('done');
    `;
    for (const close of [true, false]) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(close)], {
        cwd: join(import.meta.dirname, '..'),
        encoding: 'utf8',
        timeout: 20000,
        env: childEnv(),
      });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('done');
      expect(r.status).toBe(0);
    }
    // the process that did not close left a durable slot that is not held by anyone alive
    const ch = openChannel('exit', Person, { dir });
    const sub = ch.subscribe({ name: 'd' }); // would be MMBUS_E_BUSY if the dead owner counted
    sub.close();
    ch.close();
  });

  it('works in worker threads, each with its own handles', async () => {
    const ch = openChannel('w', Person, { dir });
    const workers = [0, 1].map(
      () => new Worker(join(import.meta.dirname, 'fixtures/worker-entry.mjs'), { workerData: { dir } }),
    );
    const settle = (w: Worker, want: (m: unknown) => boolean) =>
      new Promise<unknown>((resolve, reject) => {
        w.on('message', (m) => want(m) && resolve(m));
        w.on('error', reject);
        w.on('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      });
    const results = workers.map((w) => settle(w, (m) => typeof m === 'object'));
    await Promise.all(workers.map((w) => settle(w, (m) => m === 'ready')));
    ch.publishBatch(1000, (r, i) => (r.indexNumber = i));
    for (const r of await Promise.all(results)) expect(r).toEqual({ n: 1000, sum: 499500 });
    await Promise.all(workers.map((w) => w.terminate()));
    ch.close();
  });
});
