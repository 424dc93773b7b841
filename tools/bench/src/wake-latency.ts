// Wake-up latency of an idle TS subscriber (not a test), side by side with a Unix socket in Node: a
// publisher in another process sends one message every 20 ms carrying its send time; the subscriber,
// asleep in between, measures how late it sees each. mmbus: futex → native waiter thread → event loop;
// the socket: epoll in the event loop itself (one hop, the floor of any wake-up through libuv). Runs
// alternate between the two, so both see the same machine. Throughput and the peers are in bench.ts.
//
//   npm run bench:wake -w @mmbus/bench -- [--samples N] [--runs R]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { openChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';

import { median, percentilesNs } from './stats.js';

const GAP_MS = 20;
const GOAL_P50_US = 20;
const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { samples: { type: 'string', default: '200' }, runs: { type: 'string', default: '3' } } });
const samples = Number(values.samples);
const runs = Number(values.runs);
if (!(Number.isInteger(samples) && samples > 0 && Number.isInteger(runs) && runs > 0)) throw new Error('--samples and --runs take positive integers');

/** Starts the publisher; resolves when it has exited cleanly. */
function publisher(transport: 'mmbus' | 'uds', endpoint: string): Promise<void> {
  const pub = spawn(process.execPath, ['--import', 'tsx', join(here, 'wake-publisher.ts'), transport, endpoint, 'wake', String(samples), String(GAP_MS)], { stdio: 'inherit' });
  return new Promise<void>((resolve, reject) => pub.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${transport} publisher exited with ${code}`)))));
}

async function mmbusRun(dir: string): Promise<Float64Array> {
  const ch = openChannel('wake', PointUpdate, { dir });
  const sub = ch.subscribe();
  const done = publisher('mmbus', dir);
  const lat = new Float64Array(samples);
  let n = 0;
  for await (const b of sub) {
    const now = process.hrtime.bigint();
    for (let i = 0; i < b.length && n < samples; i++) lat[n++] = Number(now - b.get(i).timestampNs);
    if (n >= samples) break;
  }
  await done;
  sub.close();
  ch.close();
  return lat;
}

async function udsRun(dir: string): Promise<Float64Array> {
  const path = join(dir, 'wake.sock');
  const lat = new Float64Array(samples);
  let n = 0;
  const server = createServer((sock) => {
    sock.on('data', (b: Buffer) => {
      const now = process.hrtime.bigint();
      for (let o = 0; o + 8 <= b.length && n < samples; o += 8) lat[n++] = Number(now - b.readBigUInt64LE(o));
    });
  });
  server.listen(path);
  await once(server, 'listening');
  await publisher('uds', path);
  server.close();
  if (n !== samples) throw new Error(`the socket delivered ${n} of ${samples} stamps`);
  return lat;
}

const dir = mkdtempSync(join(tmpdir(), 'mmbus-wake-'));
const p50 = { mmbus: [] as number[], uds: [] as number[] };
try {
  for (let run = 0; run < runs; run++) {
    for (const [system, measure] of [['mmbus', mmbusRun], ['uds', udsRun]] as const) {
      const p = percentilesNs(await measure(dir));
      p50[system].push(p.p50 / 1000);
      console.log(`run ${run + 1}/${runs} ${system === 'mmbus' ? 'mmbus TS subscriber' : 'Unix socket (node:net)'}: p50 ${(p.p50 / 1000).toFixed(0)} us, p99 ${(p.p99 / 1000).toFixed(0)} us`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const range = (v: number[]) => `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}`;
console.log(`idle subscriber wake-up, ${samples} samples ${GAP_MS} ms apart, median p50 of ${runs} run(s):`);
console.log(`  mmbus TS subscriber     ${median(p50.mmbus).toFixed(0)} us (${range(p50.mmbus)}; goal ≤ ${GOAL_P50_US} us)`);
console.log(`  Unix socket (node:net)  ${median(p50.uds).toFixed(0)} us (${range(p50.uds)})`);
