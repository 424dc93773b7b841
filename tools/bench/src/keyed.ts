// Keyed channels, measured (not a test): what a keyed publish costs against a plain one (TypeScript and
// C), how long a new TypeScript subscriber takes to receive the snapshot of every point, and what a
// subscriber asking 1,000 of the points costs while the publisher sends changes of random points.
// Writes results/keyed-latest.json and prints a table. Every figure comes from a run whose records were
// checked (keys, values, counts).
//
//   npm run bench -w @mmbus/bench -- --only keyed        (as part of the whole bench)
//   tsx src/keyed.ts [--keys 210000] [--changes 10000000] [--runs 3] [--quick] [--no-write]
//                    [--part publish|snapshot|ask|c]   (one part alone; the others are left out, nothing written)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { openChannel } from '@mmbus/core';
import { PointUpdate } from '@mmbus/messages';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    keys: { type: 'string' },
    changes: { type: 'string' },
    runs: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    part: { type: 'string' },
    role: { type: 'string' }, // child processes of this script
    dir: { type: 'string' },
    asked: { type: 'string' },
    coalesce: { type: 'string' },
  },
});
const KEYS = Number(opts.keys ?? 210_000);
const CHANGES = Number(opts.changes ?? (opts.quick ? 1_000_000 : 10_000_000));
const RUNS = Number(opts.runs ?? (opts.quick ? 1 : 3));
const CAPACITY = 65536;
/** The asking subscriber's coalescing window, in its second run */
const ASK_COALESCE_US = 1000;
const PARTS = ['publish', 'snapshot', 'ask', 'c'] as const;
if (opts.part !== undefined && !(PARTS as readonly string[]).includes(opts.part)) {
  console.error(`--part ${opts.part}: one of ${PARTS.join(', ')}`);
  process.exit(2);
}
const runs = (part: (typeof PARTS)[number]): boolean => opts.part === undefined || opts.part === part;

/**
 * The key of change i: a fixed pseudo-random walk over the points, (i * 2654435761) mod KEYS as the C
 * bench computes it, in doubles (each product below 2^53): BigInt arithmetic here cost more than the
 * publish it was feeding.
 */
const WALK = 2654435761 % KEYS;
const keyOf = (i: number): number => ((i % KEYS) * WALK) % KEYS;

function fill(r: PointUpdate, key: number, value: number): void {
  r.pointId = key;
  r.deviceId = Math.floor(key / 3000);
  r.value = value;
}

/** The value of the publisher's last record (of point 0, which every sparse subscriber asks for). */
const END = -1;

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** CPU microseconds this process used (user + system) since `from`: a figure of one process alone must not count the time others had the core. */
const cpuUs = (from?: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(from);
  return u.user + u.system;
};

/**
 * ns (CPU time) per record of one TS publisher alone (no subscriber), in place: publish((r) => ...)
 * or publishBatch; the keys are a random walk, or (ordered) every key in turn, as a start-up burst.
 */
function publishCost(dir: string, keyed: boolean, batched: boolean, n: number, ordered = false): number {
  const name = `pub-${keyed ? 'k' : 'p'}-${batched ? 'b' : 's'}`;
  const ch = openChannel(name, PointUpdate, { dir, capacity: CAPACITY, ...(keyed ? { keys: KEYS } : {}) });
  const key = ordered ? (i: number): number => i % KEYS : keyOf;
  const publishAll = (count: number): void => {
    if (batched) {
      ch.publishBatch(count, (r, i) => fill(r, key(i), i), 64);
    } else {
      for (let i = 0; i < count; i++) ch.publish((r) => fill(r, key(i), i));
    }
  };
  // Warm first, untimed: a pass over every key and the whole ring. The first write to each page of a
  // mapping faults (in a VM with shadow paging ~10 µs a page), once per process and page, not per record.
  publishAll(Math.max(KEYS, CAPACITY));
  const cpu0 = process.cpuUsage();
  publishAll(n);
  const ns = (cpuUs(cpu0) * 1000) / n;
  if (keyed && ch.readLatest(key(n - 1), (r) => r.value) !== n - 1) throw new Error('keyed publish: the latest value is wrong');
  ch.close();
  rmSync(join(dir, `${name}.db`));
  return ns;
}

/** Child: a new subscriber asks for every point with a snapshot; the time until it has all of them, twice. */
function snapshotChild(dir: string): void {
  const ch = openChannel('snap', PointUpdate, { dir, create: false });
  const times: number[] = [];
  const cpu: number[] = [];
  for (let run = 0; run < 2; run++) {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const sub = ch.subscribe({ keys: 'all', snapshot: true });
    let n = 0;
    let bad = 0;
    for (let b = sub.poll(); b && b.snapshot; b = sub.poll()) {
      for (const r of b) {
        if (r.value !== r.pointId) bad++;
        n++;
      }
    }
    times.push(performance.now() - t0);
    cpu.push(cpuUs(cpu0) / 1000);
    sub.close();
    if (n !== KEYS || bad) throw new Error(`snapshot: ${n} values, ${bad} wrong`);
  }
  ch.close();
  process.stdout.write(`${JSON.stringify({ coldMs: times[0], warmMs: times[1], coldCpuMs: cpu[0], warmCpuMs: cpu[1] })}\n`);
}

/** Child: asks for `asked` evenly spread points and follows their changes until `changes` records have gone by. */
async function sparseChild(dir: string, asked: number, coalesceUs: number): Promise<void> {
  const ch = openChannel('sparse', PointUpdate, { dir, create: false });
  const step = Math.floor(KEYS / asked);
  const keys = Array.from({ length: asked }, (_, i) => i * step);
  const sub = ch.subscribe({ keys, snapshot: true, coalesceUs });
  process.stdout.write('ready\n');
  const cpu0 = process.cpuUsage();
  let delivered = 0;
  let bad = 0;
  loop: for await (const b of sub) {
    for (const r of b) {
      if (r.pointId === 0 && r.value === END) break loop; // the publisher's last record
      if (r.pointId % step !== 0 || (!b.snapshot && keyOf(r.value) !== r.pointId)) bad++;
      delivered++;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  sub.close();
  ch.close();
  process.stdout.write(`${JSON.stringify({ delivered, bad, cpuUs: cpu.user + cpu.system })}\n`);
}

interface Child {
  /** Resolves once the child printed `text` on a line of its own. */
  line(text: string): Promise<void>;
  done: Promise<{ lines: string[]; code: number | null }>;
}

function startChild(args: string[]): Child {
  const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  const waiting: { text: string; resolve: () => void }[] = [];
  let buf = '';
  p.stdout.on('data', (d: Buffer) => {
    const parts = (buf + d.toString()).split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
    for (const w of waiting.filter((x) => parts.includes(x.text))) w.resolve();
  });
  const done = new Promise<{ lines: string[]; code: number | null }>((resolve) => p.on('exit', (code) => resolve({ lines, code })));
  return {
    done,
    line: (text) => (lines.includes(text) ? Promise.resolve() : new Promise((resolve) => waiting.push({ text, resolve }))),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mmbus-keyed-bench-'));
  try {
    const n = Math.min(CHANGES, 2_000_000);
    const cost = (keyed: boolean, batched: boolean, ordered = false): number => {
      const v: number[] = [];
      for (let r = 0; r < RUNS; r++) v.push(publishCost(dir, keyed, batched, n, ordered));
      return median(v);
    };
    const pub = runs('publish')
      ? {
          plain_single: cost(false, false),
          keyed_single: cost(true, false),
          plain_batched: cost(false, true),
          keyed_batched: cost(true, true),
          keyed_in_key_order_single: cost(true, false, true),
          keyed_in_key_order_batched: cost(true, true, true),
          // the plain cost of the same record stream: key order is cheaper to compute than the walk
          plain_in_key_order_single: cost(false, false, true),
          plain_in_key_order_batched: cost(false, true, true),
        }
      : null;

    // the snapshot: the channel filled by this process, read by a fresh one
    const cold: number[] = [];
    const warm: number[] = [];
    const coldCpu: number[] = [];
    if (runs('snapshot')) {
      const snapCh = openChannel('snap', PointUpdate, { dir, capacity: CAPACITY, keys: KEYS });
      snapCh.publishBatch(KEYS, (r, i) => fill(r, i, i), 256);
      snapCh.close();
      for (let r = 0; r < RUNS; r++) {
        const c = await startChild(['--role', 'snapshot', '--dir', dir, '--keys', String(KEYS)]).done;
        if (c.code !== 0) throw new Error('the snapshot child failed');
        const res = JSON.parse(c.lines.at(-1)!) as { coldMs: number; warmMs: number; coldCpuMs: number };
        cold.push(res.coldMs);
        warm.push(res.warmMs);
        coldCpu.push(res.coldCpuMs);
      }
    }

    // 1,000 of the points asked while CHANGES changes of random points are published; as it comes,
    // and coalescing wake-ups (SubscribeOptions.coalesceUs)
    const asking = async (coalesceUs: number) => {
      const sparseCh = openChannel('sparse', PointUpdate, { dir, capacity: CAPACITY, keys: KEYS });
      sparseCh.publishBatch(KEYS, (r, i) => fill(r, i, i), 256); // every point has a value: the snapshot
      const child = startChild(['--role', 'sparse', '--dir', dir, '--keys', String(KEYS), '--asked', '1000', '--coalesce', String(coalesceUs)]);
      await child.line('ready');
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      sparseCh.publishBatch(CHANGES, (r, i) => fill(r, keyOf(i), i), 64);
      const publisherMs = performance.now() - t0;
      sparseCh.publish((r) => fill(r, 0, END));
      const publisherCpuMs = cpuUs(cpu0) / 1000;
      const sc = await child.done;
      sparseCh.close();
      rmSync(join(dir, 'sparse.db'));
      if (sc.code !== 0) throw new Error('the sparse subscriber failed');
      const sparse = JSON.parse(sc.lines.at(-1)!) as { delivered: number; bad: number; cpuUs: number };
      if (sparse.bad) throw new Error(`the sparse subscriber got ${sparse.bad} wrong records`);
      return {
        coalesceUs,
        delivered: sparse.delivered,
        subscriberCpuMs: sparse.cpuUs / 1000,
        subscriberNsPerDelivered: (sparse.cpuUs * 1000) / sparse.delivered,
        subscriberNsPerPublished: (sparse.cpuUs * 1000) / CHANGES,
        publisherMs,
        publisherCpuMs,
      };
    };
    const asked = runs('ask') ? [await asking(0), await asking(ASK_COALESCE_US)] : [];

    // the C side, from native/build/bench (npx nx run native:build)
    const cBench = join(here, '../../../native/build/bench/mmbus_bench_keyed');
    let c: unknown = null;
    if (runs('c') && existsSync(cBench)) {
      const r = spawnSync(cBench, ['--json', '--keys', String(KEYS), '--runs', String(RUNS), '--records', String(n)], { encoding: 'utf8' });
      if (r.status === 0) c = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    }

    const results = {
      date: new Date().toISOString(),
      keys: KEYS,
      changes: CHANGES,
      runs: RUNS,
      ts: {
        publishNsPerRecord: pub,
        keyedOverPlain: pub && {
          single: pub.keyed_single / pub.plain_single,
          batched: pub.keyed_batched / pub.plain_batched,
          inKeyOrderSingle: pub.keyed_in_key_order_single / pub.plain_in_key_order_single,
          inKeyOrderBatched: pub.keyed_in_key_order_batched / pub.plain_in_key_order_batched,
        },
        snapshotMs: cold.length ? { coldProcess: median(cold), coldProcessCpu: median(coldCpu), warm: median(warm), goalMs: 50 } : null,
        asking1000: asked[0] ?? null,
        asking1000Coalesced: asked[1] ?? null,
      },
      c,
    };
    const f = (x: number): string => x.toFixed(1);
    const x = (a: number, b: number): string => `x${(a / b).toFixed(2)}`;
    console.log(`\nkeyed channels, ${KEYS.toLocaleString('en-US')} keys (TypeScript; median of ${RUNS}; publish: CPU ns per record)`);
    if (pub) {
      console.log(`  publish in place, one record   plain ${f(pub.plain_single)} ns  keyed ${f(pub.keyed_single)} ns  (${x(pub.keyed_single, pub.plain_single)})`);
      console.log(`  publishBatch (64)              plain ${f(pub.plain_batched)} ns  keyed ${f(pub.keyed_batched)} ns  (${x(pub.keyed_batched, pub.plain_batched)})`);
      console.log(`  ...keys in key order (a burst) plain ${f(pub.plain_in_key_order_single)} ns  keyed ${f(pub.keyed_in_key_order_single)} ns  (${x(pub.keyed_in_key_order_single, pub.plain_in_key_order_single)}); batched ${f(pub.plain_in_key_order_batched)} / ${f(pub.keyed_in_key_order_batched)} ns  (${x(pub.keyed_in_key_order_batched, pub.plain_in_key_order_batched)})`);
    }
    if (cold.length) {
      console.log(`  a new subscriber's snapshot of every point: ${f(median(cold))} ms in a fresh process (${f(median(coldCpu))} ms CPU), ${f(median(warm))} ms warm (goal 50 ms)`);
    }
    for (const a of asked) {
      console.log(`  asking 1,000 points while ${CHANGES.toLocaleString('en-US')} changes go by${a.coalesceUs ? ` (coalesceUs ${a.coalesceUs})` : ''}: ${a.delivered.toLocaleString('en-US')} delivered, subscriber CPU ${f(a.subscriberCpuMs)} ms = ${f(a.subscriberNsPerDelivered)} ns per delivered, ${f(a.subscriberNsPerPublished)} ns per published; publisher ${f(a.publisherMs)} ms`);
    }
    if (c) console.log(`  C: ${JSON.stringify(c)}`);
    if (opts.part !== undefined) {
      console.log('(one part: tools/bench/results/keyed-latest.json, which holds whole runs, left as it was)');
    } else if (!opts['no-write']) {
      const out = join(here, '../results');
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'keyed-latest.json'), `${JSON.stringify(results, null, 2)}\n`);
      console.log('wrote tools/bench/results/keyed-latest.json');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (opts.role === 'snapshot') snapshotChild(opts.dir!);
else if (opts.role === 'sparse') await sparseChild(opts.dir!, Number(opts.asked), Number(opts.coalesce ?? 0));
else await main();
