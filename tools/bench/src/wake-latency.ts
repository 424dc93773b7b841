// Wake-up latency of an idle TS subscriber (not a test): a publisher in another process sends one
// PointUpdate every 20 ms carrying its send time; the subscriber, asleep in between (futex → native
// thread → event loop), measures how late it sees each. Throughput and the peers are in bench.ts.
//
//   npm run bench:wake -w @mmbus/bench -- [--samples N]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { openChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';

import { percentilesNs } from './stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { samples: { type: 'string', default: '200' } } });
const samples = Number(values.samples);
const dir = mkdtempSync(join(tmpdir(), 'mmbus-wake-'));
try {
  const ch = openChannel('wake', PointUpdate, { dir });
  const sub = ch.subscribe();
  const pub = spawn(process.execPath, ['--import', 'tsx', join(here, 'wake-publisher.ts'), dir, 'wake', String(samples), '20'], { stdio: 'inherit' });
  const publisherDone = new Promise<void>((resolve, reject) => pub.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher exited with ${code}`)))));
  const lat = new Float64Array(samples);
  let n = 0;
  for await (const b of sub) {
    const now = process.hrtime.bigint();
    for (let i = 0; i < b.length && n < samples; i++) lat[n++] = Number(now - b.get(i).timestampNs);
    if (n >= samples) break;
  }
  await publisherDone;
  sub.close();
  ch.close();
  const p = percentilesNs(lat);
  console.log(`idle TS subscriber wake-up: p50 ${(p.p50 / 1000).toFixed(0)} us, p99 ${(p.p99 / 1000).toFixed(0)} us (${samples} samples, 20 ms apart)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
