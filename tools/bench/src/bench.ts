// mmbus and the peers users would pick instead, side by side on one machine in one run (not a test):
// throughput 1→1, 1→2, 1→4 (every subscriber a process that checks count and checksum), one-way
// latency at a moderate rate, CPU per message, CPU of an idle subscriber. Writes results/<date>.json,
// latest.json, latest.md and latest.svg.
//
//   npm run bench -w @mmbus/bench -- [--quick] [--only mmbus,redis,zeromq,uds] [--records N] [--runs R]
// (--runs: every case R times; default 5 for the mmbus cases, 3 for the peers)
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import cliProgress from 'cli-progress';

import type { ChildConfig } from './peers/common.ts';
import { markdownReport, svgChart, terminalReport } from './report.ts';
import type { CpuNs, Goal, IdleCase, LatencyCase, LatencyRun, RatioRow, Results, ThroughputCase, ThroughputRun } from './results.ts';
import { startRedisServer } from './redis-server.ts';
import { pairedRatios, slowRuns, summarize, verify, type LatencyNs } from './stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    records: { type: 'string' },
    runs: { type: 'string' },
    'latency-samples': { type: 'string' },
    rate: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
/** Benchmarks with their own harness, run after the systems: each a script taking --quick, --runs, --no-write. */
const ALL_HARNESSES = [
  { id: 'keyed', script: join(here, 'keyed.ts') },
  // the NATS bridge's, next to the bridge (results in packages/bridge-nats/bench/results)
  { id: 'nats', script: join(here, '../../../packages/bridge-nats/bench/bench.ts') },
  { id: 'web', script: join(here, 'web.ts') },
];
const HARNESS_IDS = ALL_HARNESSES.map((h) => h.id);
if (opts.help) {
  console.log(`npm run bench -- [--quick] [--only mmbus|redis|zeromq|uds|${HARNESS_IDS.join('|')}|<case id>[,...]] [--records N] [--runs R] [--latency-samples N] [--rate msg/s] [--no-write] [--cpu-prof DIR]`);
  process.exit(0);
}
const QUICK = opts.quick;
const RECORDS = Number(opts.records ?? (QUICK ? 500_000 : 2_000_000));
// mmbus cases run 5 times by default (a run below half the median shows as a collapse), the peers 3.
const RUNS = Number(opts.runs ?? (QUICK ? 1 : 5));
const PEER_RUNS = opts.runs ? RUNS : Math.min(RUNS, 3);
const runsOf = (group: string): number => (group === 'mmbus' ? RUNS : PEER_RUNS);
const LAT_SAMPLES = Number(opts['latency-samples'] ?? (QUICK ? 20_000 : 100_000));
const LAT_RATE = Number(opts.rate ?? 100_000);
const ONLY = (opts.only ?? []).flatMap((s) => s.split(',')).filter(Boolean);
// every TS child writes a V8 CPU profile there (Node refuses --cpu-prof in NODE_OPTIONS)
const CPU_PROF_ARGS = opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${opts['cpu-prof']}`] : [];
const ORIGINAL = 2_000_000 / 1.3;
for (const [k, v] of [['records', RECORDS], ['runs', RUNS], ['latency-samples', LAT_SAMPLES], ['rate', LAT_RATE]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench: --${k} must be a positive integer, got ${String(v)}`);
    process.exit(2);
  }
}

// ---- child processes -----------------------------------------------------------------------------
const children = new Set<ChildProcess>();
let redisServer: ChildProcess | null = null;
let work = '';

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  if (redisServer && redisServer.exitCode === null) redisServer.kill('SIGKILL');
  if (work) rmSync(work, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    cleanup();
    process.stderr.write(`\nbench: stopped by ${sig}; every child process ended\n`);
    process.exit(130);
  });
}
process.on('exit', cleanup);

interface Launch {
  cmd: string;
  args: string[];
}

class Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  readonly result: Promise<Record<string, number> & { latNs?: LatencyNs }>;
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(l: Launch) {
    this.proc = spawn(l.cmd, l.args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    children.add(this.proc);
    let out = '';
    let onReady: () => void = () => {};
    let onResult: (v: Record<string, number>) => void = () => {};
    let onFail: (e: Error) => void = () => {};
    this.ready = new Promise((res, rej) => {
      onReady = res;
      onFail = rej;
    });
    this.result = new Promise((res, rej) => {
      onResult = res;
      const prev = onFail;
      onFail = (e) => {
        prev(e);
        rej(e);
      };
    });
    this.ready.catch(() => {});
    this.result.catch(() => {});
    this.proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl).trim();
        out = out.slice(nl + 1);
        if (line === 'ready') onReady();
        else if (line.startsWith('{')) onResult(JSON.parse(line) as Record<string, number>);
      }
    });
    this.proc.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr = (this.stderr + d).slice(-2000)));
    this.proc.stdin!.on('error', () => {});
    this.exited = new Promise((res) =>
      this.proc.on('close', (code, signal) => {
        children.delete(this.proc);
        onFail(new Error(`${l.cmd.split('/').pop()} ${l.args.slice(-1)[0]} exited (${signal ?? code}) ${this.stderr.trim().split('\n').slice(-3).join(' | ')}`));
        res(code);
      }),
    );
  }

  /** Ends the child: SIGTERM (subscribers print what they have), then SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: timed out after ${(ms / 1000).toFixed(0)} s`)), ms)))]).finally(() => clearTimeout(t));
}

// ---- systems -------------------------------------------------------------------------------------
const tsPeer = (file: string) => (cfg: ChildConfig, role: string): Launch => ({ cmd: process.execPath, args: [...CPU_PROF_ARGS, '--import', 'tsx', join(here, 'peers', file), JSON.stringify(cfg), role] });
let cPeerPath = '';
const cPeer = (batch: number) => (cfg: ChildConfig, role: string): Launch => ({
  cmd: cPeerPath,
  args: [role, cfg.mode, cfg.endpoint, cfg.name, String(cfg.records), String(cfg.subscribers), String(batch), String(cfg.rate)],
});

interface System {
  id: string;
  group: 'mmbus' | 'redis' | 'zeromq' | 'uds';
  label: string;
  pub: (cfg: ChildConfig, role: string) => Launch;
  sub: (cfg: ChildConfig, role: string) => Launch;
  variant?: string;
  throughput: boolean;
  latency?: string; // pacing note, if measured for latency
  idle?: string; // label, if measured idle
}

const SYSTEMS: System[] = [
  { id: 'mmbus-c2c', group: 'mmbus', label: 'mmbus C→C (batches of 64)', pub: cPeer(64), sub: cPeer(64), throughput: true, latency: 'C, clock_nanosleep to each send time', idle: 'mmbus, C subscriber' },
  { id: 'mmbus-c2ts', group: 'mmbus', label: 'mmbus C→TS', pub: cPeer(64), sub: tsPeer('mmbus.ts'), throughput: true },
  { id: 'mmbus-ts2ts-batch', group: 'mmbus', label: 'mmbus TS→TS (publishBatch)', pub: tsPeer('mmbus.ts'), sub: tsPeer('mmbus.ts'), variant: 'batch', throughput: true, latency: 'Node, 1 ms timer ticks', idle: 'mmbus, TS subscriber' },
  { id: 'mmbus-ts2ts-single', group: 'mmbus', label: 'mmbus TS→TS (publish one by one)', pub: tsPeer('mmbus.ts'), sub: tsPeer('mmbus.ts'), variant: 'single', throughput: true },
  { id: 'redis', group: 'redis', label: 'Redis pub/sub (ioredis, pipelined)', pub: tsPeer('redis.ts'), sub: tsPeer('redis.ts'), throughput: true, latency: 'Node, 1 ms timer ticks', idle: 'Redis, ioredis subscriber' },
  { id: 'zeromq', group: 'zeromq', label: 'ZeroMQ PUB/SUB ipc:// (zeromq.js)', pub: tsPeer('zeromq.ts'), sub: tsPeer('zeromq.ts'), throughput: true, latency: 'Node, 1 ms timer ticks', idle: 'ZeroMQ, zeromq.js subscriber' },
  { id: 'uds', group: 'uds', label: 'Unix socket stream (node:net)', pub: tsPeer('uds.ts'), sub: tsPeer('uds.ts'), throughput: true, latency: 'Node, 1 ms timer ticks', idle: 'Unix socket, node:net subscriber' },
];
const selected = SYSTEMS.filter((s) => ONLY.length === 0 || ONLY.some((o) => s.id === o || s.group === o));
/** The harnesses --only selects. */
const HARNESSES = ALL_HARNESSES.filter((h) => ONLY.length === 0 || ONLY.includes(h.id));
if (selected.length === 0 && HARNESSES.length === 0) {
  console.error(`bench: --only ${ONLY.join(',')} matches nothing; systems: mmbus, redis, zeromq, uds, ${HARNESS_IDS.join(', ')}, or ${SYSTEMS.map((s) => s.id).join(', ')}`);
  process.exit(2);
}

/** The C peer, built by CMake (c/CMakeLists.txt) against libmmbus as native/ builds it. */
function buildCPeer(): string {
  const build = join(here, '../build');
  execFileSync('cmake', ['-S', join(here, '../c'), '-B', build, '-DCMAKE_BUILD_TYPE=Release'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('cmake', ['--build', build, '-j', '2'], { stdio: ['ignore', 'ignore', 'inherit'] });
  return join(build, 'mmbus_peer');
}

// ---- redis-server ----------------------------------------------------------------------------------
async function startRedis(): Promise<{ port: number; pid: number; version: string }> {
  const { proc, port, version } = await startRedisServer(work, (p) => (redisServer = p));
  return { port, pid: proc.pid!, version };
}

async function stopRedis(): Promise<void> {
  if (!redisServer || redisServer.exitCode !== null) return;
  const p = new Promise((r) => redisServer!.once('exit', r));
  redisServer.kill('SIGTERM');
  const t = setTimeout(() => redisServer?.kill('SIGKILL'), 5000);
  await p;
  clearTimeout(t);
}

/** CPU time (ns) of a process so far, from /proc (clock ticks of 10 ms). */
function procCpuNs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 1e7;
}

// ---- measurements ---------------------------------------------------------------------------------
let redisInfo: { port: number; pid: number; version: string } | null = null;
let seq = 0;

function endpointFor(s: System, name: string): string {
  if (s.group === 'mmbus') return work;
  if (s.group === 'redis') return String(redisInfo!.port);
  return join(work, `${name}.sock`);
}

interface Outcome {
  pub: Record<string, number>;
  subs: (Record<string, number> & { latNs?: LatencyNs })[];
  brokerNs: number;
}

async function runOnce(s: System, mode: ChildConfig['mode'], subscribers: number, records: number, rate: number, limitMs: number): Promise<Outcome> {
  const name = `b${process.pid}x${++seq}`;
  const cfg: ChildConfig = { mode, records, subscribers, endpoint: endpointFor(s, name), name, rate, variant: s.variant };
  const all: Child[] = [];
  try {
    const pub = new Child(s.pub(cfg, 'pub'));
    all.push(pub);
    await timeout(pub.ready, 30_000, `${s.id} publisher start`);
    const subs = Array.from({ length: subscribers }, () => new Child(s.sub(cfg, 'sub')));
    all.push(...subs);
    await timeout(Promise.all(subs.map((c) => c.ready)), 30_000, `${s.id} subscribers start`);
    const broker0 = s.group === 'redis' ? procCpuNs(redisInfo!.pid) : 0;
    let subResults: Outcome['subs'];
    try {
      subResults = await timeout(Promise.all(subs.map((c) => c.result)), limitMs, `${s.id} ${mode} 1→${subscribers}`);
    } catch (e) {
      // Subscribers still waiting print what they got on SIGTERM: a loss shows as a count.
      await Promise.all(subs.map((c) => c.stop()));
      const partial = await Promise.all(subs.map((c) => c.result.catch(() => null)));
      const counts = partial.map((p) => (p ? `${p['received']}` : '?')).join(', ');
      throw new Error(`${(e as Error).message}; subscribers received ${counts} of ${records}`);
    }
    const pubResult = mode === 'idle' ? {} : await timeout(pub.result, 30_000, `${s.id} publisher report`);
    const brokerNs = s.group === 'redis' ? procCpuNs(redisInfo!.pid) - broker0 : 0;
    return { pub: pubResult, subs: subResults, brokerNs };
  } finally {
    await Promise.all(all.map((c) => c.stop()));
    if (s.group === 'mmbus') rmSync(join(work, `${name}.db`), { force: true });
    else rmSync(join(work, `${name}.sock`), { force: true });
  }
}

async function throughputRun(s: System, subscribers: number): Promise<ThroughputRun> {
  try {
    const o = await runOnce(s, 'throughput', subscribers, RECORDS, 0, 30_000 + (RECORDS / 20_000) * 1000 * Math.max(1, subscribers / 2));
    for (const r of o.subs) {
      const bad = verify(RECORDS, r as { received: number; checksum: number });
      if (bad) return { ok: false, error: `a subscriber: ${bad}`, msgPerSec: NaN };
    }
    const end = Math.max(...o.subs.map((r) => r['tLast']!));
    const seconds = (end - o.pub['tStart']!) / 1e9;
    const subCpu = o.subs.reduce((a, r) => a + r['cpuUs']!, 0) * 1000;
    const cpu: CpuNs = {
      pub: (o.pub['cpuUs']! * 1000) / RECORDS,
      sub: subCpu / subscribers / RECORDS,
      broker: o.brokerNs / RECORDS,
      total: (o.pub['cpuUs']! * 1000 + subCpu + o.brokerNs) / RECORDS,
    };
    return { ok: true, msgPerSec: RECORDS / seconds, cpuNsPerMsg: cpu };
  } catch (e) {
    return { ok: false, error: (e as Error).message, msgPerSec: NaN };
  }
}

async function latencyRun(s: System, rate: number, samples: number): Promise<LatencyRun> {
  try {
    const o = await runOnce(s, 'latency', 1, samples, rate, 30_000 + (samples / rate) * 3000);
    const r = o.subs[0]!;
    const bad = verify(samples, r as { received: number; checksum: number });
    if (bad) return { ok: false, error: bad };
    return { ok: true, latNs: r.latNs };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

const idleErrors: string[] = [];
/** Every idle subscriber at once (each with its idle publisher), 5 s; % of one core each. */
async function idleRun(list: System[]): Promise<number[]> {
  return Promise.all(
    list.map(async (s) => {
      try {
        const o = await runOnce(s, 'idle', 1, 0, 0, 20_000);
        return (o.subs[0]!['cpuUs']! / 5e6) * 100;
      } catch (e) {
        idleErrors.push(`${s.label}: ${(e as Error).message}`);
        return NaN;
      }
    }),
  );
}

// ---- main ------------------------------------------------------------------------------------------
async function main(): Promise<void> {
  work = mkdtempSync(join(tmpdir(), 'mmbus-bench-'));
  const loadStart = loadavg().map((v) => v.toFixed(2)).join(' ');
  const notes: string[] = [];
  cPeerPath = buildCPeer();
  let systems = selected;
  if (systems.some((s) => s.group === 'redis')) {
    try {
      redisInfo = await startRedis();
    } catch (e) {
      notes.push(`Redis left out: ${(e as Error).message}`);
      systems = systems.filter((s) => s.group !== 'redis');
    }
  }
  let zmqVersion: string | null = null;
  if (systems.some((s) => s.group === 'zeromq')) {
    try {
      zmqVersion = (await import('zeromq')).version;
    } catch (e) {
      notes.push(`ZeroMQ left out: the zeromq addon does not load (${(e as Error).message.split('\n')[0]})`);
      systems = systems.filter((s) => s.group !== 'zeromq');
    }
  }
  const fanouts = [1, 2, 4];
  const tCases: ThroughputCase[] = systems.filter((s) => s.throughput).flatMap((s) => fanouts.map((n) => ({ id: `${s.id}/1-${n}`, system: s.id, label: s.label, subscribers: n, runs: [], summary: null, cpuTotalNsPerMsg: null })));
  // Latency at the moderate rate, and at a tenth of it (where the slower peers are not near their limit).
  const rates: [number, number][] = [[LAT_RATE, LAT_SAMPLES], [LAT_RATE / 10, Math.max(1000, Math.round(LAT_SAMPLES / 5))]];
  const lPlan = rates.flatMap(([rate, samples]) => systems.filter((s) => s.latency).map((s) => ({ s, rate, samples })));
  const lCases: LatencyCase[] = lPlan.map(({ s, rate, samples }) => ({ id: `${s.id}@${rate}`, label: s.label.replace(/ \(.*\)$/, ''), rate, samples, pacing: s.latency!, runs: [], p50: null, p99: null, p999: null }));
  const iSystems = systems.filter((s) => s.idle);
  const iCases: IdleCase[] = iSystems.map((s) => ({ id: s.id, label: s.idle!, runs: [], summary: null }));

  const groupOf = (id: string) => systems.find((x) => x.id === id)!.group;
  const total =
    tCases.reduce((a, c) => a + runsOf(groupOf(c.system)), 0) + lPlan.reduce((a, l) => a + runsOf(l.s.group), 0) + (iCases.length ? PEER_RUNS : 0);
  const tty = process.stdout.isTTY;
  const bar = new cliProgress.SingleBar({ format: 'bench [{bar}] {value}/{total} steps | {eta_formatted} left | {step}', hideCursor: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
  if (tty) bar.start(total, 0, { step: 'starting' });
  let done = 0;
  const step = (what: string, result?: string) => {
    if (tty) bar.update(done, { step: what });
    else if (result) console.log(`[${done}/${total}] ${what}: ${result}`);
  };
  console.log(tty ? '' : `bench: ${RECORDS} messages × 128 B, ${RUNS} run(s) of mmbus, ${PEER_RUNS} of the peers, ${total} steps`);
  for (let run = 0; run < RUNS; run++) {
    for (const c of tCases) {
      const s = systems.find((x) => x.id === c.system)!;
      if (run >= runsOf(s.group)) continue;
      step(`run ${run + 1}/${RUNS} ${c.label} 1→${c.subscribers}`);
      const r = await throughputRun(s, c.subscribers);
      c.runs.push(r);
      done++;
      step(`run ${run + 1}/${RUNS} ${c.label} 1→${c.subscribers}`, r.ok ? `${(r.msgPerSec / 1e6).toFixed(3)} M msg/s` : `FAILED ${r.error}`);
    }
    for (let i = 0; i < lCases.length; i++) {
      if (run >= runsOf(lPlan[i]!.s.group)) continue;
      step(`run ${run + 1}/${RUNS} latency ${lCases[i]!.label} at ${lCases[i]!.rate} msg/s`);
      const r = await latencyRun(lPlan[i]!.s, lPlan[i]!.rate, lPlan[i]!.samples);
      lCases[i]!.runs.push(r);
      done++;
      step(`run ${run + 1}/${RUNS} latency ${lCases[i]!.label} at ${lCases[i]!.rate} msg/s`, r.ok ? `p50 ${r.latNs!.p50} ns, p99 ${r.latNs!.p99} ns` : `FAILED ${r.error}`);
    }
    if (iCases.length && run < PEER_RUNS) {
      step(`run ${run + 1}/${RUNS} idle subscribers, 5 s`);
      const v = await idleRun(iSystems);
      v.forEach((x, i) => iCases[i]!.runs.push(x));
      done++;
      step(`run ${run + 1}/${RUNS} idle subscribers, 5 s`, v.map((x) => x.toFixed(3)).join(' / '));
    }
  }
  if (tty) {
    bar.update(done, { step: 'done' });
    bar.stop();
  }
  await stopRedis();
  const loadEnd = loadavg().map((v) => v.toFixed(2)).join(' ');

  for (const c of tCases) {
    c.summary = summarize(c.runs.map((r) => r.msgPerSec));
    c.cpuTotalNsPerMsg = summarize(c.runs.map((r) => (r.ok ? r.cpuNsPerMsg!.total : NaN)));
    c.runs.forEach((r, i) => {
      if (!r.ok) notes.push(`${c.label} 1→${c.subscribers}, run ${i + 1} failed: ${r.error}`);
    });
    const slow = slowRuns(c.runs.map((r) => r.msgPerSec));
    if (slow.length) notes.push(`${c.label} 1→${c.subscribers}: ${slow.map((i) => `run ${i + 1} (${(c.runs[i]!.msgPerSec / 1e6).toFixed(2)} M msg/s)`).join(', ')} below half the median`);
  }
  for (const l of lCases) {
    const pick = (k: 'p50' | 'p99' | 'p999') => summarize(l.runs.map((r) => (r.ok ? r.latNs![k] : NaN)));
    l.p50 = pick('p50');
    l.p99 = pick('p99');
    l.p999 = pick('p999');
    l.runs.forEach((r, i) => {
      if (!r.ok) notes.push(`latency ${l.label}, run ${i + 1} failed: ${r.error}`);
    });
  }
  for (const i of iCases) i.summary = summarize(i.runs);
  for (const e of idleErrors) notes.push(`idle run failed: ${e}`);

  const goalsFor: Record<string, number> = { redis: 100, zeromq: 50, uds: 3 };
  const ratios: RatioRow[] = [];
  const goals: Goal[] = [];
  const find = (sys: string, n: number) => tCases.find((c) => c.system === sys && c.subscribers === n);
  for (const n of fanouts) {
    const m = find('mmbus-c2ts', n);
    if (!m) continue;
    for (const peer of ['redis', 'zeromq', 'uds']) {
      const p = find(peer, n);
      if (!p) continue;
      const rs = pairedRatios(m.runs.map((r) => r.msgPerSec), p.runs.map((r) => r.msgPerSec));
      const summary = summarize(rs);
      const goal = n <= 2 ? goalsFor[peer]! : null;
      const met = goal && summary ? summary.median >= goal : null;
      ratios.push({ subscribers: n, mmbus: 'mmbus C→TS', peer, peerLabel: p.label, goal, ratios: rs, summary, met });
      if (goal) goals.push({ text: `1→${n}: mmbus C→TS ≥ ${goal}× ${p.label}`, goal, measured: summary?.median ?? null, min: summary?.min ?? null, met });
    }
  }
  const cc = find('mmbus-c2c', 1);
  if (cc) {
    const rs = cc.runs.map((r) => r.msgPerSec / ORIGINAL);
    const summary = summarize(rs);
    goals.push({ text: 'mmbus C→C 1→1 ≥ 25× the original design’s published figure (1.54 M msg/s, not measured here)', goal: 25, measured: summary?.median ?? null, min: summary?.min ?? null, met: summary ? summary.median >= 25 : null });
  }
  notes.push(
    'Throughput is per subscriber: messages / (last message handled by the slowest subscriber − first message sent), on one CLOCK_MONOTONIC clock across processes. CPU/msg is the CPU time of all processes (publisher, every subscriber, and redis-server for Redis) per published message.',
    'Every subscriber reads the index of every message (an int64 at offset 0) and checks the count and the checksum (+0 −1 +2 −3 …); mmbus subscribers read it through the generated Person view.',
    `Latency: 1→1, ${LAT_SAMPLES.toLocaleString('en-US')} messages at ${LAT_RATE.toLocaleString('en-US')} msg/s and ${rates[1]![1].toLocaleString('en-US')} at ${rates[1]![0].toLocaleString('en-US')} msg/s, each stamped when sent (Node: process.hrtime, C: CLOCK_MONOTONIC, the same clock) and compared with the receiver's clock when it handles it; Node publishers send what is due on each 1 ms timer tick (bursts of ~${Math.round(LAT_RATE / 1000)}), the C publisher sleeps until each message's time. The mmbus latency records are PointUpdate (128 B, timestamp at offset 0).`,
    `Machine load average (1, 5, 15 min): ${loadStart} at start, ${loadEnd} at the end; other work was running on this 2-core machine.`,
  );

  const results: Results = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      memGiB: +(totalmem() / 2 ** 30).toFixed(1),
      os: `Linux ${release()}`,
      node: process.version,
      redis: redisInfo?.version ?? null,
      zeromq: zmqVersion,
      loadStart,
      loadEnd,
    },
    config: { records: RECORDS, runs: RUNS, peerRuns: PEER_RUNS, quick: QUICK, only: ONLY, latencySamples: LAT_SAMPLES, latencyRate: LAT_RATE, recordSize: 128 },
    reference: { label: 'original design, 1→1 (Windows release build)', msgPerSec: ORIGINAL, note: 'published figure: 2,000,000 × 128 B in about 1.3 s; not measured here' },
    throughput: tCases,
    ratios,
    latency: lCases,
    idle: iCases,
    goals,
    notes,
  };
  console.log(terminalReport(results));
  if (!opts['no-write']) {
    const dir = join(here, '../results');
    mkdirSync(dir, { recursive: true });
    const json = `${JSON.stringify(results, null, 2)}\n`;
    writeFileSync(join(dir, `${results.date.slice(0, 19).replace(/:/g, '-')}.json`), json);
    writeFileSync(join(dir, 'latest.json'), json);
    writeFileSync(join(dir, 'latest.md'), markdownReport(results));
    writeFileSync(join(dir, 'latest.svg'), svgChart(results));
    console.log(`\nwrote ${['latest.json', 'latest.md', 'latest.svg'].map((f) => join('tools/bench/results', f)).join(', ')}`);
  }
}

try {
  if (selected.length) await main();
  for (const h of HARNESSES) {
    const args = [...(QUICK ? ['--quick'] : []), ...(opts.runs ? ['--runs', opts.runs] : []), ...(opts['no-write'] ? ['--no-write'] : [])];
    const r = spawnSync(process.execPath, ['--import', 'tsx', h.script, ...args], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
  }
} catch (e) {
  console.error(`bench: ${(e as Error).stack ?? String(e)}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
