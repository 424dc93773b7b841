// The web gateway, measured (not a test): 100 WebSocket clients each asking 1,000 random points of
// the collector's 210,000 while collector-host publishes changes at a target rate (1 M/s by default).
// Reports the gateway's CPU, bytes received per client per second, and the time from the collector's
// end until every client holds every final value of its points (checked against the collector's dump).
// Three processes besides this one: collector-host (C++), the gateway, the clients.
//
//   npm run bench -w @mmbus/bench -- --only web
//   tsx src/web.ts [--clients 100] [--asked 1000] [--rate 1000000] [--duration 5] [--quick] [--no-write]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string' },
    asked: { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    role: { type: 'string' },
    dir: { type: 'string' },
    port: { type: 'string' },
  },
});
const CLIENTS = Number(opts.clients ?? 100);
const ASKED = Number(opts.asked ?? 1000);
const RATE = Number(opts.rate ?? 1_000_000);
const DURATION = Number(opts.duration ?? (opts.quick ? 2 : 5));
const POINTS = 210_000;

/** Client c's points: a fixed pseudo-random choice of ASKED distinct points. */
function pointsOf(c: number): number[] {
  const set = new Set<number>();
  let x = BigInt(c + 1) * 0x9e3779b97f4a7c15n;
  while (set.size < ASKED) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n);
    set.add(Number(x >> 33n) % POINTS);
  }
  return [...set];
}

function lines(proc: ChildProcess, on: (line: string) => void): void {
  createInterface({ input: proc.stdout! }).on('line', on);
}

async function gatewayRole(): Promise<void> {
  const { startGateway } = await import('@mmbus/web');
  const g = await startGateway({ dir: opts.dir!, port: 0, schemas: [join(root, 'schemas/point.fbs')] });
  process.stdout.write(`${JSON.stringify({ port: g.port })}\n`);
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'cpu') {
      const u = process.cpuUsage();
      process.stdout.write(`${JSON.stringify({ cpuUs: u.user + u.system, rssBytes: process.memoryUsage().rss, ...g.stats() })}\n`);
    } else if (l === 'stop') {
      void g.close().then(() => process.exit(0));
    }
  });
}

async function clientsRole(): Promise<void> {
  const { default: WebSocket } = await import('ws');
  const { MmbusWebClient } = await import('@mmbus/web/client');
  const url = `ws://127.0.0.1:${opts.port}/ws`;
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => MmbusWebClient.connect(url, { WebSocket })));
  const keys = clients.map((_, c) => pointsOf(c));
  const last = clients.map(() => new Map<number, number>());
  clients.forEach((cl, c) => {
    cl.channel('points').onValues = (records) => {
      const m = last[c]!;
      for (const r of records) m.set(r['point_id'] as number, r['value'] as number);
    };
  });
  await Promise.all(clients.map((cl, c) => cl.channel('points').ask(keys[c]!)));
  process.stdout.write('ready\n');
  let markBytes = clients.map((c) => c.bytesReceived);
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'mark') {
      markBytes = clients.map((c) => c.bytesReceived);
      process.stdout.write('marked\n');
    } else if (l === 'bytes') {
      const b = clients.map((c, i) => c.bytesReceived - markBytes[i]!);
      process.stdout.write(`${JSON.stringify({ bytes: b })}\n`);
    } else if (l.startsWith('final ')) {
      const [, file, t0] = l.split(' ');
      const fin = new Float64Array(readFileSync(file!).buffer.slice(0));
      const check = (): void => {
        const done = clients.every((_, c) => keys[c]!.every((k) => last[c]!.get(k) === fin[k]));
        if (done) {
          process.stdout.write(`${JSON.stringify({ allFinalMs: Date.now() - Number(t0) })}\n`);
          for (const cl of clients) cl.close();
          setTimeout(() => process.exit(0), 100);
        } else setTimeout(check, 2);
      };
      check();
    }
  });
}

function child(args: string[]): { proc: ChildProcess; next: (pred: (l: string) => boolean) => Promise<string>; send: (l: string) => void } {
  const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const queue: string[] = [];
  const waiters: { pred: (l: string) => boolean; ok: (l: string) => void }[] = [];
  lines(proc, (l) => {
    const w = waiters.findIndex((x) => x.pred(l));
    if (w >= 0) waiters.splice(w, 1)[0]!.ok(l);
    else queue.push(l);
  });
  return {
    proc,
    send: (l) => void proc.stdin!.write(`${l}\n`),
    next: (pred) =>
      new Promise((ok, ko) => {
        const i = queue.findIndex(pred);
        if (i >= 0) return ok(queue.splice(i, 1)[0]!);
        waiters.push({ pred, ok });
        proc.once('exit', (code) => ko(new Error(`child ${args.join(' ')} exited (${code})`)));
      }),
  };
}

async function main(): Promise<void> {
  const collector = join(root, 'examples-cpp/build/collector-host');
  if (!existsSync(collector)) throw new Error(`${collector} missing: npx nx run examples-cpp:build`);
  const dir = mkdtempSync(join(tmpdir(), 'mmbus-bench-web-'));
  const procs: ChildProcess[] = [];
  try {
    const values = join(dir, 'values.bin');
    const shape = ['--dir', dir, '--devices', '70', '--points-per-device', '3000', '--policy', 'overwrite'];
    // a first run creates the channel with every point's value; the measured run starts once every
    // client has its snapshot: its start-up burst of 210,000, then changes at RATE for DURATION s
    const first = spawn(collector, [...shape, '--rate', '0', '--duration', '0', '--quiet'], { stdio: 'ignore' });
    procs.push(first);
    await new Promise((ok) => first.on('exit', ok));
    const gw = child(['--role', 'gateway', '--dir', dir]);
    procs.push(gw.proc);
    const { port } = JSON.parse(await gw.next((l) => l.startsWith('{'))) as { port: number };
    const cl = child(['--role', 'clients', '--port', String(port), '--clients', String(CLIENTS), '--asked', String(ASKED)]);
    procs.push(cl.proc);
    await cl.next((l) => l === 'ready');
    // the measured window: from here until the collector ends
    gw.send('cpu');
    const cpu0 = JSON.parse(await gw.next((l) => l.startsWith('{'))) as { cpuUs: number };
    cl.send('mark');
    await cl.next((l) => l === 'marked');
    const host = spawn(collector, [...shape, '--rate', String(RATE), '--duration', String(DURATION), '--dump-values', values, '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(host);
    let hostOut = '';
    host.stdout!.on('data', (d: Buffer) => (hostOut += d.toString()));
    const t0 = Date.now();
    const tEnd = await new Promise<number>((ok) => host.on('exit', () => ok(Date.now())));
    gw.send('cpu');
    const cpu1 = JSON.parse(await gw.next((l) => l.startsWith('{'))) as { cpuUs: number; rssBytes: number; skippedFrames: number };
    cl.send('bytes');
    const { bytes } = JSON.parse(await cl.next((l) => l.startsWith('{'))) as { bytes: number[] };
    const wall = (tEnd - t0) / 1000;
    cl.send(`final ${values} ${tEnd}`);
    const { allFinalMs } = JSON.parse(await cl.next((l) => l.startsWith('{"allFinalMs'))) as { allFinalMs: number };
    gw.send('stop');
    const summary = JSON.parse(hostOut.trim().split('\n').pop()!) as { changes: number; published: number };
    const sorted = [...bytes].sort((a, b) => a - b);
    const result = {
      clients: CLIENTS,
      askedPerClient: ASKED,
      targetRate: RATE,
      achievedChangesPerSec: Math.round(summary.changes / DURATION),
      published: summary.published,
      windowSec: Number(wall.toFixed(2)),
      gatewayCpuPercent: Number((((cpu1.cpuUs - cpu0.cpuUs) / 1e6 / wall) * 100).toFixed(1)),
      gatewayRssMiB: Number((cpu1.rssBytes / 2 ** 20).toFixed(1)),
      skippedFrames: cpu1.skippedFrames,
      bytesPerClientPerSec: { median: Math.round(sorted[sorted.length >> 1]! / wall), max: Math.round(sorted[sorted.length - 1]! / wall) },
      endToAllFinalMs: allFinalMs,
    };
    console.log('web gateway: %s', JSON.stringify(result, null, 2));
    if (!opts['no-write']) {
      mkdirSync(join(here, '../results'), { recursive: true });
      writeFileSync(join(here, '../results/web-latest.json'), `${JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2)}\n`);
    }
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (opts.role === 'gateway') await gatewayRole();
else if (opts.role === 'clients') await clientsRole();
else await main();
