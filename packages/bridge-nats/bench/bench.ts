// The bridge's benchmark (not a test): records/s of 128-byte records through the bridge, mmbus → NATS
// core and → JetStream, and the bridge's CPU per record, side by side with a plain Node program
// publishing the same records to NATS directly. A real nats-server (JetStream in a temp dir) on a free
// loopback port; every record checked at the end (count, checksum, JetStream: order). Writes
// bench/results/<date>.json, latest.json and latest.md. Run by `npm run bench` (tools/bench) and:
//
//   npm run bench -w @mmbus/bridge-nats -- [--quick] [--records N] [--runs R] [--only case,...] [--no-write]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { openChannel } from '@mmbus/core';
import { Person } from '@mmbus/messages';
import { connect, type NatsConnection } from 'nats';

import { HEADER } from '../src/index.js';
import { NatsServer } from '../src/nats-server.js';
import { expectedChecksum, indexOf, nowNs, signed } from './peers/common.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    records: { type: 'string' },
    runs: { type: 'string' },
    only: { type: 'string', multiple: true },
    'no-write': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const CASES = [
  { id: 'direct-core-bare', label: 'plain Node → NATS core (no headers)', path: 'direct', mode: 'core-bare' },
  { id: 'direct-core', label: 'plain Node → NATS core (the bridge’s headers)', path: 'direct', mode: 'core' },
  { id: 'bridge-core', label: 'mmbus → bridge → NATS core', path: 'bridge', mode: 'core' },
  { id: 'direct-jetstream', label: 'plain Node → JetStream (js.publish, 1024 in flight)', path: 'direct', mode: 'jetstream' },
  { id: 'bridge-jetstream', label: 'mmbus → bridge → JetStream', path: 'bridge', mode: 'jetstream' },
] as const;
type Case = (typeof CASES)[number];
if (opts.help) {
  console.log(`npm run bench -w @mmbus/bridge-nats -- [--quick] [--records N] [--runs R] [--only ${CASES.map((c) => c.id).join(',')}] [--no-write]`);
  process.exit(0);
}
const RECORDS = Number(opts.records ?? (opts.quick ? 50_000 : 200_000));
const RUNS = Number(opts.runs ?? (opts.quick ? 1 : 3));
const ONLY = (opts.only ?? []).flatMap((s) => s.split(',')).filter(Boolean);
const selected = CASES.filter((c) => ONLY.length === 0 || ONLY.includes(c.id));
for (const [k, v] of [['records', RECORDS], ['runs', RUNS]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`bench: --${k} must be a positive integer`);
    process.exit(2);
  }
}
if (selected.length === 0) {
  console.error(`bench: --only matches no case (${CASES.map((c) => c.id).join(', ')})`);
  process.exit(2);
}

// ---- children ------------------------------------------------------------------------------------
const children = new Set<ChildProcess>();
let server: NatsServer | null = null;
let work = '';
function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  void server?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

/** What a peer reports on its last line (each peer its own fields: bench/peers/*.ts). */
interface PeerResult {
  received?: number;
  checksum?: number;
  tFirst?: number;
  tLast?: number;
  tStart?: number;
  tEnd?: number;
  cpuUs?: number;
}

interface Peer {
  proc: ChildProcess;
  ready: Promise<void>;
  result: Promise<PeerResult>;
  exited: Promise<void>;
}

function peer(file: string, args: string[]): Peer {
  const proc = spawn(process.execPath, ['--import', 'tsx', file, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  children.add(proc);
  let out = '';
  let err = '';
  let onReady!: () => void;
  let onResult!: (r: PeerResult) => void;
  let onFail!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    onReady = res;
    onFail = rej;
  });
  const result = new Promise<PeerResult>((res, rej) => {
    onResult = res;
    const prev = onFail;
    onFail = (e) => {
      prev(e);
      rej(e);
    };
  });
  ready.catch(() => {});
  result.catch(() => {});
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl).trim();
      out = out.slice(nl + 1);
      if (line === 'ready') onReady();
      else if (line.startsWith('{')) onResult(JSON.parse(line) as PeerResult);
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-2000)));
  proc.stdin!.on('error', () => {});
  const exited = new Promise<void>((res) =>
    proc.on('close', (code, signal) => {
      children.delete(proc);
      onFail(new Error(`${file.split('/').pop()} exited (${signal ?? code}): ${err.trim().split('\n').slice(-3).join(' | ')}`));
      res();
    }),
  );
  return { proc, ready, result, exited };
}

async function stop(p: Peer): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  p.proc.kill('SIGTERM');
  const t = setTimeout(() => p.proc.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms / 1000} s`)), ms)))]).finally(() => clearTimeout(t));
}

/** CPU time (ns) of a process so far, from /proc (clock ticks of 10 ms). */
function procCpuNs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 1e7;
}

// ---- one run -------------------------------------------------------------------------------------
interface Run {
  ok: boolean;
  error?: string;
  recordsPerSec: number;
  /** CPU ns per record: the program publishing to NATS (the plain program, or the bridge), the mmbus publisher, nats-server. */
  cpuNs: { publisher: number; bridge: number | null; mmbusPublisher: number | null; server: number };
}

let seq = 0;

/** Reads a whole stream (an ordered consumer): count, order of Mmbus-Seq, checksum of the indexes. */
async function verifyStream(nc: NatsConnection, stream: string, n: number): Promise<string | null> {
  const messages = await (await nc.jetstream().consumers.get(stream)).consume();
  let i = 0;
  let checksum = 0;
  for await (const m of messages) {
    if (m.headers?.get(HEADER.seq) !== String(i)) return `stream message ${m.seq}: Mmbus-Seq ${m.headers?.get(HEADER.seq)}, expected ${i}`;
    checksum += signed(indexOf(m.data));
    if (++i === n) break;
  }
  return checksum === expectedChecksum(n) ? null : `checksum ${checksum}, expected ${expectedChecksum(n)}`;
}

async function runOnce(c: Case, nc: NatsConnection): Promise<Run> {
  const id = `b${process.pid}x${++seq}`;
  const subject = `bench.${id}`;
  const stream = id.toUpperCase();
  const peers: Peer[] = [];
  const limit = 60_000 + (RECORDS / 5_000) * 1000;
  try {
    const jsm = await nc.jetstreamManager();
    if (c.mode === 'jetstream') await jsm.streams.add({ name: stream, subjects: [subject] });
    const sub = c.mode === 'jetstream' ? null : peer(join(here, 'peers/nats-subscriber.ts'), [server!.url, subject, String(RECORDS)]);
    if (sub) {
      peers.push(sub);
      await timeout(sub.ready, 30_000, 'subscriber start');
    }
    let bridge: Peer | null = null;
    let pub: Peer;
    if (c.path === 'bridge') {
      openChannel(id, Person, { dir: work, capacity: 1 << 16, policy: 'block' }).close();
      const cfg = join(work, `${id}.json`);
      writeFileSync(cfg, JSON.stringify({ name: id, dir: work, nats: { servers: server!.url }, routes: [{ direction: 'out', channel: id, subject, ...(c.mode === 'jetstream' ? { jetstream: { stream } } : {}) }] }));
      bridge = peer(join(here, '../src/main.ts'), [cfg]);
      peers.push(bridge);
      await timeout(bridge.ready, 30_000, 'bridge start');
      pub = peer(join(here, 'peers/mmbus-publisher.ts'), [work, id, String(RECORDS)]);
    } else {
      pub = peer(join(here, 'peers/nats-publisher.ts'), [server!.url, subject, String(RECORDS), c.mode]);
    }
    peers.push(pub);
    await timeout(pub.ready, 30_000, 'publisher start');
    const bridge0 = bridge ? procCpuNs(bridge.proc.pid!) : 0;
    const server0 = procCpuNs(server!.pid!);
    pub.proc.stdin!.write('go\n');
    let tEnd: number;
    if (sub) {
      const r = await timeout(sub.result, limit, `${c.id}: subscriber`);
      if (r.received !== RECORDS || r.checksum !== expectedChecksum(RECORDS)) return failed(`subscriber got ${r.received} records, checksum ${r.checksum}`);
      tEnd = r.tLast!;
    } else if (bridge) {
      const end = Date.now() + limit;
      for (;;) {
        if ((await jsm.streams.info(stream)).state.messages >= RECORDS) break;
        if (Date.now() > end) return failed('the stream did not fill in time');
        await new Promise((r) => setTimeout(r, 10));
      }
      tEnd = nowNs();
    } else {
      tEnd = (await timeout(pub.result, limit, `${c.id}: publisher`)).tEnd!;
    }
    const p = await timeout(pub.result, limit, `${c.id}: publisher`);
    const bridgeNs = bridge ? procCpuNs(bridge.proc.pid!) - bridge0 : 0;
    const serverNs = procCpuNs(server!.pid!) - server0;
    if (c.mode === 'jetstream') {
      const bad = await verifyStream(nc, stream, RECORDS);
      if (bad) return failed(bad);
    }
    const pubNs = (p.cpuUs! * 1000) / RECORDS;
    return {
      ok: true,
      recordsPerSec: RECORDS / ((tEnd - p.tStart!) / 1e9),
      cpuNs: {
        publisher: bridge ? bridgeNs / RECORDS : pubNs,
        bridge: bridge ? bridgeNs / RECORDS : null,
        mmbusPublisher: bridge ? pubNs : null,
        server: serverNs / RECORDS,
      },
    };
  } catch (err) {
    return failed((err as Error).message);
  } finally {
    await Promise.all(peers.map(stop));
    if (c.mode === 'jetstream') await (await nc.jetstreamManager()).streams.delete(stream).catch(() => false);
    rmSync(join(work, `${id}.db`), { force: true });
  }
}

function failed(error: string): Run {
  return { ok: false, error, recordsPerSec: NaN, cpuNs: { publisher: NaN, bridge: null, mmbusPublisher: null, server: NaN } };
}

// ---- summary ---------------------------------------------------------------------------------------
interface Summary {
  median: number;
  min: number;
  max: number;
}

function summarize(xs: number[]): Summary | null {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return { median: v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2, min: v[0]!, max: v[v.length - 1]! };
}

const rate = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} k`);
const ns = (x: number | undefined | null): string => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x >= 1000 ? `${(x / 1000).toFixed(1)} µs` : `${Math.round(x)} ns`);

function busiest(): string[] {
  try {
    const out = execFileSync('ps', ['-eo', 'pcpu,comm', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' });
    return out.trim().split('\n').slice(0, 6).map((l) => l.trim().replace(/\s+/, '% '));
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  work = mkdtempSync(join(tmpdir(), 'mmbus-bridge-bench-'));
  const loadStart = loadavg().map((v) => v.toFixed(2)).join(' ');
  const busyStart = busiest();
  server = await NatsServer.start();
  const version = execFileSync(server.bin, ['--version'], { encoding: 'utf8' }).trim();
  const nc = await connect({ servers: server.url });
  const results = selected.map((c) => ({ ...c, runs: [] as Run[] }));
  console.log(`bridge bench: ${RECORDS} records × 128 B, ${RUNS} run(s), ${version}`);
  for (let run = 0; run < RUNS; run++) {
    for (const r of results) {
      const o = await runOnce(r, nc);
      r.runs.push(o);
      console.log(`[run ${run + 1}/${RUNS}] ${r.label}: ${o.ok ? `${rate(o.recordsPerSec)} records/s, CPU/record ${ns(o.cpuNs.publisher)} (nats-server ${ns(o.cpuNs.server)})` : `FAILED ${o.error}`}`);
    }
  }
  await nc.close();
  await server.stop();
  const loadEnd = loadavg().map((v) => v.toFixed(2)).join(' ');
  const rows = results.map((r) => ({
    id: r.id,
    label: r.label,
    recordsPerSec: summarize(r.runs.map((x) => x.recordsPerSec)),
    cpuNsPerRecord: summarize(r.runs.map((x) => x.cpuNs.publisher)),
    serverCpuNsPerRecord: summarize(r.runs.map((x) => x.cpuNs.server)),
    mmbusPublisherCpuNsPerRecord: r.path === 'bridge' ? summarize(r.runs.map((x) => x.cpuNs.mmbusPublisher ?? NaN)) : null,
    failures: r.runs.filter((x) => !x.ok).map((x) => x.error),
    runs: r.runs,
  }));
  const head = '| case | records/s, median (min–max) | CPU/record of the program publishing to NATS | nats-server CPU/record |\n| --- | --- | --- | --- |';
  const table = rows
    .map((r) => `| ${r.label} | ${r.recordsPerSec ? `${rate(r.recordsPerSec.median)} (${rate(r.recordsPerSec.min)}–${rate(r.recordsPerSec.max)})` : 'failed'} | ${ns(r.cpuNsPerRecord?.median)}${r.mmbusPublisherCpuNsPerRecord ? ` (+ mmbus publisher ${ns(r.mmbusPublisherCpuNsPerRecord.median)})` : ''} | ${ns(r.serverCpuNsPerRecord?.median)} |`)
    .join('\n');
  const notes = [
    `${RECORDS.toLocaleString('en-US')} Person records (128 B) per run, ${RUNS} run(s); ${version}, JetStream file storage in a temp dir; Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}.`,
    'records/s: records / (last record received by a core NATS subscriber, or the stream holding them all for JetStream − first record published), one CLOCK_MONOTONIC clock across processes. Bridge cases: a TS publisher writes the records into a channel with publishBatch; the bridge (a separate process, batches of 1024) forwards them.',
    'CPU/record: of the bridge process for the bridge cases (the mmbus publisher’s share is shown apart), of the plain program for the direct ones; from /proc and process.cpuUsage.',
    'Every run is checked: the core subscriber counts the records and checks the checksum of their indexes; a JetStream stream is read back in order (Mmbus-Seq 0..N-1) with the same checksum.',
    `Load average (1, 5, 15 min): ${loadStart} at the start, ${loadEnd} at the end. Busiest processes at the start (ps %CPU over each one’s lifetime): ${busyStart.join(', ') || 'unknown'}.`,
  ];
  const md = `# mmbus ↔ NATS bridge benchmark\n\n${new Date().toISOString()}\n\n${head}\n${table}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`;
  console.log(`\n${head}\n${table}\n\n${notes.join('\n')}`);
  for (const r of rows) for (const f of r.failures) console.log(`FAILED ${r.label}: ${f}`);
  if (!opts['no-write']) {
    const dir = join(here, 'results');
    mkdirSync(dir, { recursive: true });
    const json = `${JSON.stringify({ date: new Date().toISOString(), records: RECORDS, runs: RUNS, server: version, loadStart, loadEnd, busyStart, rows }, null, 2)}\n`;
    writeFileSync(join(dir, `${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}.json`), json);
    writeFileSync(join(dir, 'latest.json'), json);
    writeFileSync(join(dir, 'latest.md'), md);
    console.log(`\nwrote ${join('packages/bridge-nats/bench/results', 'latest.md')} and latest.json`);
  }
  if (rows.some((r) => r.failures.length)) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  console.error(`bridge bench: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
