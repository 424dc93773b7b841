// mmbus core benchmark (not a test): C->TS and TS->TS throughput across processes, 2,000,000 records
// of 128 bytes, every subscriber reading two fields per record and checking count and checksum; and
// the wake-up latency of an idle TS subscriber. Prints a table; writes results/core-latest.json.
//
//   npm run bench:core -w @mmbus/bench -- [--records N] [--runs R]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { openChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const { values } = parseArgs({ options: { records: { type: 'string', default: '2000000' }, runs: { type: 'string', default: '3' } } });
const RECORDS = Number(values.records);
const RUNS = Number(values.runs);

function buildCPublisher(): string {
  const out = join(here, '../build/person_pub');
  mkdirSync(dirname(out), { recursive: true });
  const sources = ['channel.c', 'ring.c', 'error.c', 'os_linux.c'].map((f) => join(root, 'native/src', f));
  execFileSync('gcc', ['-O2', '-std=c11', '-I', join(root, 'native/include'), '-I', join(root, 'packages/messages/c'), join(here, '../c/person_pub.c'), ...sources, '-lpthread', '-o', out]);
  return out;
}

interface SubResult {
  received: number;
  checksum: number;
  seconds: number;
}

function run(cmd: string, args: string[]): { ready: Promise<void>; done: Promise<string> } {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((r) => (readyResolve = r));
  p.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.includes('ready')) readyResolve();
  });
  const done = new Promise<string>((resolve, reject) =>
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`)))),
  );
  return { ready, done };
}

const tsx = (file: string) => ['--import', 'tsx', join(here, file)];
const expected = RECORDS % 2 === 0 ? -(RECORDS / 2) : (RECORDS - 1) / 2;

async function throughput(dir: string, pub: 'c' | 'ts', subs: number, cPub: string, mode = 'batch'): Promise<number> {
  const name = `bench-${pub}-${subs}-${Math.random().toString(36).slice(2)}`;
  const subscribers = Array.from({ length: subs }, () => run(process.execPath, [...tsx('ts-subscriber.ts'), dir, name, String(RECORDS)]));
  await Promise.all(subscribers.map((s) => s.ready));
  const publisher = pub === 'c' ? run(cPub, [dir, name, String(RECORDS), '64', String(subs)]) : run(process.execPath, [...tsx('ts-publisher.ts'), dir, name, String(RECORDS), String(subs), mode]);
  await publisher.done;
  let worst = Infinity;
  for (const s of subscribers) {
    const lines = (await s.done).trim().split('\n');
    const r = JSON.parse(lines[lines.length - 1]!) as SubResult;
    if (r.received !== RECORDS || r.checksum !== expected) throw new Error(`a subscriber got ${r.received} records, checksum ${r.checksum}`);
    worst = Math.min(worst, r.received / r.seconds);
  }
  rmSync(join(dir, `${name}.db`), { force: true });
  return worst;
}

async function wakeLatency(dir: string, samples: number): Promise<number[]> {
  const ch = openChannel('wake', PointUpdate, { dir });
  const sub = ch.subscribe();
  const pub = run(process.execPath, [...tsx('wake-publisher.ts'), dir, 'wake', String(samples), '20']);
  const lat: number[] = [];
  for await (const b of sub) {
    const now = process.hrtime.bigint();
    for (let i = 0; i < b.length; i++) lat.push(Number(now - b.get(i).timestampNs) / 1000);
    if (lat.length >= samples) break;
  }
  await pub.done;
  sub.close();
  ch.close();
  return lat.sort((a, b) => a - b);
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const pct = (v: number[], p: number) => v[Math.min(v.length - 1, Math.floor((v.length * p) / 100))]!;

const dir = mkdtempSync(join(tmpdir(), 'mmbus-bench-'));
try {
  const cPub = buildCPublisher();
  const cases: [string, 'c' | 'ts', number, string][] = [
    ['C -> TS, 1 -> 1', 'c', 1, 'batch'],
    ['C -> TS, 1 -> 2', 'c', 2, 'batch'],
    ['TS -> TS, 1 -> 1 (batched)', 'ts', 1, 'batch'],
    ['TS -> TS, 1 -> 1 (one by one)', 'ts', 1, 'single'],
    ['TS -> TS, 1 -> 2 (batched)', 'ts', 2, 'batch'],
  ];
  const results: Record<string, { median: number; min: number; max: number }> = {};
  console.log(`mmbus core: ${RECORDS} records of 128 B, median of ${RUNS} runs, msg/s per subscriber (slowest subscriber)`);
  for (const [label, pub, subs, mode] of cases) {
    const v: number[] = [];
    for (let r = 0; r < RUNS; r++) v.push(await throughput(dir, pub, subs, cPub, mode));
    results[label] = { median: median(v), min: Math.min(...v), max: Math.max(...v) };
    console.log(`  ${label.padEnd(32)} ${(median(v) / 1e6).toFixed(1).padStart(6)} M/s  (min ${(Math.min(...v) / 1e6).toFixed(1)}, max ${(Math.max(...v) / 1e6).toFixed(1)})`);
  }
  const lat = await wakeLatency(dir, 200);
  const wake = { p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1]! };
  console.log(`  idle TS subscriber wake-up: p50 ${wake.p50.toFixed(0)} us, p99 ${wake.p99.toFixed(0)} us (200 samples, 20 ms apart)`);
  const resultsDir = join(here, '../results');
  if (!existsSync(resultsDir)) mkdirSync(resultsDir);
  writeFileSync(
    join(resultsDir, 'core-latest.json'),
    `${JSON.stringify({ date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, records: RECORDS, runs: RUNS, throughput: results, wakeUs: wake }, null, 2)}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
