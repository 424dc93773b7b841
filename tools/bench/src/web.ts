// The web gateway, measured (not a test): 100 WebSocket clients each asking 1,000 random points of
// the collector's 210,000 while collector-host publishes changes at a target rate (1 M/s by default).
// Reports the gateway's CPU, bytes received per client per second, and the time from the end of the
// burst (the channel's head last moved) until every client holds every final value of its points
// (checked against the collector's dump), and where that time went. Three processes besides this one:
// collector-host (C++), the gateway, the clients. Side by side, the same through Redis pub/sub: a
// publisher writing raw RESP (measured alone first: it must keep up with the rate) sends the same burst
// and changes to redis-server, a plain Node WebSocket relay subscribes (ioredis), keeps the latest
// record per point and sends each client its changed points at the same 20 frames/s in the same
// binary frames. WEBPERF_TRACE=1 prints the gateway's ticks around the end (when, how long).
//
//   npm run bench -w @mmbus/bench -- --only web
//   tsx src/web.ts [--clients 100] [--asked 1000] [--rate 1000000] [--duration 5] [--runs 3] [--only mmbus|redis] [--quick] [--no-write]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { startRedisServer } from './redis-server.ts';
import { median } from './stats.ts';

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
    only: { type: 'string' },
  },
});
const CLIENTS = Number(opts.clients ?? 100);
const ASKED = Number(opts.asked ?? 1000);
const RATE = Number(opts.rate ?? 1_000_000);
const DURATION = Number(opts.duration ?? (opts.quick ? 2 : 5));
/** How long the clients wait for every final value after the end before the run fails, ms. */
const FINAL_WAIT_MS = 30_000;
// each run measures mmbus then Redis, back to back; the table shows medians (end -> all final: min-max too)
const RUNS = Number(opts.runs ?? (opts.quick ? 1 : 3));
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
  const { inspectChannel } = await import('@mmbus/core');
  const { Gateway } = await import('@mmbus/web');
  const ticks: [number, number][] = [];
  if (process.env['WEBPERF_TRACE']) {
    const proto = Gateway.prototype as unknown as { tick: () => void };
    const orig = proto.tick;
    proto.tick = function (this: unknown) {
      const t = Date.now();
      orig.call(this);
      ticks.push([t, Date.now() - t]);
      if (ticks.length > 400) ticks.shift();
    };
  }
  const g = await startGateway({ dir: opts.dir!, port: 0 }); // the collector's channel describes its records
  process.stdout.write(`${JSON.stringify({ port: g.port })}\n`);
  // where the time goes: the last moment the gateway's own subscriber was seen behind the head
  let behindAt = 0;
  let insp: ReturnType<typeof inspectChannel> | null = null;
  setInterval(() => {
    insp ??= inspectChannel('points', opts.dir!);
    const me = insp.stats().subscribers.find((s) => s.pid === process.pid && s.state === 'active');
    if (me && me.lag > 0) behindAt = Date.now();
  }, 5).unref();
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'behind') {
      process.stdout.write(`${JSON.stringify({ behindAt, ticks })}\n`);
    } else if (l === 'cpu') {
      const u = process.cpuUsage();
      process.stdout.write(`${JSON.stringify({ cpuUs: u.user + u.system, rssBytes: process.memoryUsage().rss, ...g.stats() })}\n`);
    } else if (l === 'stop') {
      void g.close().then(() => process.exit(0));
    }
  });
}

/** The clients: raw WebSockets that parse the binary values frames (docs/web.md) for point_id and value only. */
async function clientsRole(): Promise<void> {
  const { default: WebSocket } = await import('ws');
  const url = `ws://127.0.0.1:${opts.port}/ws`;
  const keys = Array.from({ length: CLIENTS }, (_, c) => pointsOf(c));
  const last = keys.map(() => new Map<number, number>());
  const bytes = new Array<number>(CLIENTS).fill(0);
  // where the time goes: when the last frame with values was built (its header's time) and received
  let lastBuilt = 0;
  let lastReceived = 0;
  let recordBytes = 0;
  let final: Float64Array | null = null;
  let endedAt = 0;
  let missing: Set<number>[] = [];
  let missingCount = -1;
  let reported = false;
  const allFinal = (): void => {
    if (reported) return;
    reported = true;
    process.stdout.write(`${JSON.stringify({ allFinalMs: Date.now() - endedAt, lastBuiltMs: lastBuilt - endedAt, lastReceivedMs: lastReceived - endedAt })}\n`);
    setTimeout(() => process.exit(0), 50);
  };
  function finalArrived(c: number, p: number, v: number): void {
    const m = missing[c]!;
    if (v === final![p]) {
      if (m.delete(p) && --missingCount === 0) allFinal();
    } else if (!m.has(p)) {
      m.add(p); // (not expected after the end: a value that is not the final one)
      missingCount++;
    }
  }
  await Promise.all(
    keys.map(
      (k, c) =>
        new Promise<void>((ok, ko) => {
          const ws = new WebSocket(url);
          ws.on('error', ko);
          ws.on('message', (d: Buffer, isBinary: boolean) => {
            bytes[c]! += d.length;
            if (!isBinary) {
              const m = JSON.parse(d.toString()) as { op: string; recordBytes?: number; code?: string; message?: string };
              if (m.op === 'hello') ws.send(JSON.stringify({ op: 'ask', id: 1, channel: 'points', keys: k }));
              else if (m.op === 'open') recordBytes = m.recordBytes!;
              else if (m.op === 'ok') ok();
              else if (m.op === 'dropped' || m.op === 'error') {
                // the run cannot end with every final value: fail it (the harness sees the exit), do not wait
                process.stderr.write(`web clients: client ${c} got ${m.op} ${m.code ?? ''}: ${m.message ?? ''}\n`);
                process.exit(1);
              }
              return;
            }
            if (d[0] !== 1) return;
            const n = d.readUInt32LE(4);
            lastBuilt = Math.max(lastBuilt, d.readDoubleLE(8));
            lastReceived = Date.now();
            const m = last[c]!;
            for (let i = 0; i < n; i++) {
              const at = 24 + i * recordBytes;
              const p = d.readUInt32LE(at + 16);
              const v = d.readDoubleLE(at + 8);
              m.set(p, v);
              if (final) finalArrived(c, p, v);
            }
          });
        }),
    ),
  );
  process.stdout.write('ready\n');
  let markBytes = [...bytes];
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'mark') {
      markBytes = [...bytes];
      process.stdout.write('marked\n');
    } else if (l === 'bytes') {
      process.stdout.write(`${JSON.stringify({ bytes: bytes.map((b, i) => b - markBytes[i]!) })}\n`);
    } else if (l.startsWith('final ')) {
      const [, file, t0] = l.split(' ');
      final = new Float64Array(readFileSync(file!).buffer.slice(0));
      endedAt = Number(t0);
      // what is still missing, counted once; each arriving value updates the count (no polling that
      // would compete with the frames for this thread)
      missing = keys.map((k, c) => new Set(k.filter((p) => last[c]!.get(p) !== final![p])));
      missingCount = missing.reduce((n, m) => n + m.size, 0);
      if (missingCount === 0) allFinal();
      // bounded: a value that never comes fails the run with what is missing, instead of a hung bench
      setTimeout(() => {
        if (reported) return;
        const short = missing.map((m, c) => [c, m.size] as const).filter(([, n]) => n > 0);
        process.stderr.write(`web clients: ${missingCount} final values still missing after ${FINAL_WAIT_MS} ms, in ${short.length} clients (first: ${JSON.stringify(short.slice(0, 5))})\n`);
        process.exit(2);
      }, FINAL_WAIT_MS);
    }
  });
}

const RECORD_BYTES = 89; // PointUpdate up to the end of its last field, as the gateway sends it
/** PUBLISH commands the Redis publisher has written and not yet seen answered, at most. */
const REDIS_IN_FLIGHT = 20_000;

/**
 * The Redis peer's publisher: the burst of every point, then changes at RATE for DURATION s. It writes
 * PUBLISH commands as raw RESP into one socket (records filled in place, a chunk per write, at most
 * REDIS_IN_FLIGHT commands not yet answered), so that it keeps up with the rate the collector is given:
 * ioredis' pipeline() topped out near 20,000 PUBLISH/s here, which measured the harness, not Redis.
 * `--only redis-pub` measures it alone (redis-server, no relay).
 */
async function redisPubRole(): Promise<void> {
  const { connect } = await import('node:net');
  const { PointUpdate, Quality } = await import('@mmbus/messages');
  const sock = connect(Number(opts.port), '127.0.0.1');
  sock.setNoDelay(true);
  await new Promise<void>((ok, ko) => sock.once('connect', ok).once('error', ko));
  let answered = 0; // replies (":<subscribers>\r\n", one line each)
  let waiter: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    let at = -1;
    while ((at = d.indexOf(10, at + 1)) >= 0) answered++;
    waiter?.();
  });
  const until = (cond: () => boolean): Promise<void> =>
    new Promise((ok) => {
      const check = (): void => {
        if (cond()) {
          waiter = null;
          ok();
        } else waiter = check;
      };
      check();
    });
  const prefix = Buffer.from(`*3\r\n$7\r\nPUBLISH\r\n$6\r\npoints\r\n$${RECORD_BYTES}\r\n`);
  const cmdBytes = prefix.length + RECORD_BYTES + 2;
  const fin = new Float64Array(POINTS);
  const scratch = new PointUpdate();
  const rec = new Uint8Array(scratch.view.buffer, 0, RECORD_BYTES);
  let published = 0;
  let changes = 0;
  const send = async (n: number, next: () => [number, number]): Promise<void> => {
    const chunk = Buffer.allocUnsafe(n * cmdBytes);
    const ts = process.hrtime.bigint();
    for (let j = 0; j < n; j++) {
      const [k, v] = next();
      scratch.timestampNs = ts;
      scratch.value = v;
      scratch.deviceId = Math.floor(k / 3000);
      scratch.pointId = k;
      scratch.quality = Quality.Good;
      fin[k] = v;
      const at = j * cmdBytes;
      prefix.copy(chunk, at);
      chunk.set(rec, at + prefix.length);
      chunk[at + cmdBytes - 2] = 13;
      chunk[at + cmdBytes - 1] = 10;
    }
    published += n;
    if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
    if (published - answered > REDIS_IN_FLIGHT) await until(() => published - answered <= REDIS_IN_FLIGHT);
  };
  let k0 = 0;
  while (k0 < POINTS) {
    const n = Math.min(1000, POINTS - k0);
    await send(n, () => [k0, (k0++ % 1000) + 0.5]);
  }
  const t0 = Date.now();
  let x = 12345;
  for (;;) {
    const elapsed = (Date.now() - t0) / 1000;
    if (elapsed >= DURATION) break;
    const due = Math.floor(elapsed * RATE) - changes;
    if (due <= 0) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    await send(Math.min(due, 1000), () => {
      // Math.imul: in doubles the product passes 2^53 and the sequence visited only 9,738 of 210,000 points
      x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
      changes++;
      return [x % POINTS, changes];
    });
  }
  const sendEnd = Date.now();
  await until(() => answered === published); // every PUBLISH done: handed to the subscriber's connection
  const endedAt = Date.now(); // the end of the burst: Redis has the last change
  writeFileSync(opts.dir!, new Uint8Array(fin.buffer));
  process.stdout.write(`${JSON.stringify({ published, changes, changesSec: (sendEnd - t0) / 1000, endedAt })}\n`);
  sock.end();
  process.exit(0);
}

/** The Redis peer's relay: subscribes, keeps the latest record per point, sends each client its changed points 20 times a second. */
async function relayRole(): Promise<void> {
  const { Redis } = await import('ioredis');
  const { WebSocketServer } = await import('ws');
  const latest = new Uint8Array(POINTS * RECORD_BYTES);
  const changedAt = new Uint32Array(POINTS); // the tick in which each point last changed (0: never)
  let tick = 1;
  let skippedFrames = 0;
  const sub = new Redis({ host: '127.0.0.1', port: Number(opts.port), maxRetriesPerRequest: null });
  sub.on('messageBuffer', (_ch: Buffer, m: Buffer) => {
    const k = m.readUInt32LE(16);
    if (k >= POINTS || m.length !== RECORD_BYTES) return;
    latest.set(m, k * RECORD_BYTES);
    changedAt[k] = tick;
  });
  await sub.subscribe('points');
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/ws' });
  await new Promise((r) => wss.once('listening', r));
  const clients: { ws: import('ws').WebSocket; keys: number[]; sentTick: number }[] = [];
  wss.on('connection', (ws) => {
    const c = { ws, keys: [] as number[], sentTick: 0 };
    clients.push(c);
    ws.send(JSON.stringify({ op: 'hello' }));
    ws.on('message', (d) => {
      const r = JSON.parse(d.toString()) as { id: number; keys: number[] };
      c.keys = r.keys;
      c.sentTick = 0; // every asked point's current value next
      ws.send(JSON.stringify({ op: 'open', sid: 1, recordBytes: RECORD_BYTES }));
      ws.send(JSON.stringify({ op: 'ok', id: r.id }));
    });
  });
  setInterval(() => {
    const now = tick++;
    for (const c of clients) {
      if (c.ws.bufferedAmount >= 1 << 20) {
        skippedFrames++; // as the gateway does: a client that has not drained gets no frame now
        continue;
      }
      const keys = c.keys.filter((k) => changedAt[k]! > c.sentTick);
      c.sentTick = now;
      if (!keys.length) continue;
      const frame = Buffer.alloc(24 + keys.length * RECORD_BYTES);
      frame[0] = 1;
      frame.writeUInt32LE(keys.length, 4);
      frame.writeDoubleLE(Date.now(), 8);
      keys.forEach((k, i) => frame.set(latest.subarray(k * RECORD_BYTES, (k + 1) * RECORD_BYTES), 24 + i * RECORD_BYTES));
      c.ws.send(frame);
    }
  }, 50);
  process.stdout.write(`${JSON.stringify({ port: (wss.address() as { port: number }).port })}\n`);
  createInterface({ input: process.stdin }).on('line', (l) => {
    if (l === 'cpu') {
      const u = process.cpuUsage();
      process.stdout.write(`${JSON.stringify({ cpuUs: u.user + u.system, rssBytes: process.memoryUsage().rss, skippedFrames })}\n`);
    } else if (l === 'stop') process.exit(0);
  });
}

/** CPU time of another process so far, µs (utime + stime of /proc/<pid>/stat). */
function procCpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return ((Number(rest[11]) + Number(rest[12])) * 1e6) / 100;
}

function child(args: string[]): { proc: ChildProcess; next: (pred: (l: string) => boolean) => Promise<string>; send: (l: string) => void } {
  // WEBPERF_PROF=dir: the gateway and the clients write CPU profiles there (node --cpu-prof)
  const prof = process.env['WEBPERF_PROF'] && (args[1] === 'gateway' || args[1] === 'clients') ? ['--cpu-prof', `--cpu-prof-dir=${process.env['WEBPERF_PROF']}`] : [];
  const proc = spawn(process.execPath, [...prof, '--import', 'tsx', fileURLToPath(import.meta.url), ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const queue: string[] = [];
  const waiters: { pred: (l: string) => boolean; ok: (l: string) => void }[] = [];
  // a child that exits fails every wait for its lines, also those that start after it exited
  const gone = new Promise<never>((_, ko) => proc.once('exit', (code) => ko(new Error(`child ${args.join(' ')} exited (${code})`))));
  gone.catch(() => {});
  lines(proc, (l) => {
    const w = waiters.findIndex((x) => x.pred(l));
    if (w >= 0) waiters.splice(w, 1)[0]!.ok(l);
    else queue.push(l);
  });
  return {
    proc,
    send: (l) => void proc.stdin!.write(`${l}\n`),
    next: (pred) => {
      const i = queue.findIndex(pred);
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]!);
      return Promise.race([new Promise<string>((ok) => waiters.push({ pred, ok })), gone]);
    },
  };
}

interface Measured {
  publishedChangesPerSec: number;
  windowSec: number;
  /** The gateway (mmbus) or the relay (Redis), % of one core. */
  serverCpuPercent: number;
  /** Redis only: changes/s the harness's publisher reaches alone (redis-server, no subscriber) for 1 s. */
  publisherAlonePerSec?: number;
  /** redis-server, % of one core (Redis only). */
  brokerCpuPercent?: number;
  serverRssMiB: number;
  /** Frames the server held back because a client had not drained its socket (the clients could not keep up). */
  framesSkippedForSlowClients: number;
  bytesPerClientPerSec: { median: number; max: number };
  endToAllFinalMs: number;
  /** Where that time went, ms after the end: the server's subscriber last behind the head (mmbus), the last values frame built, and received. */
  breakdownMs: { serverBehindUntil?: number; lastFrameBuilt: number; lastFrameReceived: number };
}

/**
 * The measured part, the same for both: the clients join and ask, then `publish()` runs the burst and
 * the changes; from its end until every client holds every final value (the dump `values`).
 */
async function measure(server: ReturnType<typeof child>, port: number, values: string, publish: () => Promise<{ changes: number; endedAt: number }>, procs: ChildProcess[], brokerPid?: number): Promise<Measured> {
  const cl = child(['--role', 'clients', '--port', String(port), '--clients', String(CLIENTS), '--asked', String(ASKED)]);
  procs.push(cl.proc);
  await cl.next((l) => l === 'ready');
  server.send('cpu');
  const cpu0 = JSON.parse(await server.next((l) => l.startsWith('{'))) as { cpuUs: number; skippedFrames: number };
  const broker0 = brokerPid ? procCpuUs(brokerPid) : 0;
  cl.send('mark');
  await cl.next((l) => l === 'marked');
  const t0 = Date.now();
  const { changes, endedAt } = await publish();
  server.send('cpu');
  const cpu1 = JSON.parse(await server.next((l) => l.startsWith('{'))) as { cpuUs: number; rssBytes: number; skippedFrames: number };
  const broker1 = brokerPid ? procCpuUs(brokerPid) : 0;
  cl.send('bytes');
  const { bytes } = JSON.parse(await cl.next((l) => l.startsWith('{"bytes'))) as { bytes: number[] };
  const wall = (endedAt - t0) / 1000;
  cl.send(`final ${values} ${endedAt}`);
  const { allFinalMs, lastBuiltMs, lastReceivedMs } = JSON.parse(await cl.next((l) => l.startsWith('{"allFinalMs'))) as { allFinalMs: number; lastBuiltMs: number; lastReceivedMs: number };
  let behind: number | undefined;
  if (!brokerPid) {
    server.send('behind');
    const b = JSON.parse(await server.next((l) => l.startsWith('{"behindAt'))) as { behindAt: number; ticks: [number, number][] };
    behind = b.behindAt - endedAt;
    if (process.env['WEBPERF_TRACE']) console.error('ticks (ms after the end, ms taken):', JSON.stringify(b.ticks.filter(([t]) => t > endedAt - 300).map(([t, d]) => [t - endedAt, d])));
  }
  server.send('stop');
  if (process.env['WEBPERF_PROF']) {
    // let the profiled processes exit on their own (their profiles are written at exit)
    await Promise.race([new Promise((r) => server.proc.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
    await Promise.race([new Promise((r) => cl.proc.once('exit', r)), new Promise((r) => setTimeout(r, 5000))]);
  }
  const sorted = [...bytes].sort((a, b) => a - b);
  return {
    publishedChangesPerSec: Math.round(changes / DURATION),
    windowSec: Number(wall.toFixed(2)),
    serverCpuPercent: Number((((cpu1.cpuUs - cpu0.cpuUs) / 1e6 / wall) * 100).toFixed(1)),
    ...(brokerPid ? { brokerCpuPercent: Number((((broker1 - broker0) / 1e6 / wall) * 100).toFixed(1)) } : {}),
    serverRssMiB: Number((cpu1.rssBytes / 2 ** 20).toFixed(1)),
    framesSkippedForSlowClients: cpu1.skippedFrames - cpu0.skippedFrames,
    bytesPerClientPerSec: { median: Math.round(sorted[sorted.length >> 1]! / wall), max: Math.round(sorted[sorted.length - 1]! / wall) },
    endToAllFinalMs: allFinalMs,
    breakdownMs: { ...(behind !== undefined ? { serverBehindUntil: behind } : {}), lastFrameBuilt: lastBuiltMs, lastFrameReceived: lastReceivedMs },
  };
}

async function runMmbus(dir: string, procs: ChildProcess[]): Promise<Measured> {
  const collector = join(root, 'examples-cpp/build/collector-host');
  if (!existsSync(collector)) throw new Error(`${collector} missing: npx nx run examples-cpp:build`);
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
  return measure(gw, port, values, async () => {
    const host = spawn(collector, [...shape, '--rate', String(RATE), '--duration', String(DURATION), '--dump-values', values, '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(host);
    let out = '';
    host.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    // the end of the burst: when the channel's head last moved (sampled every 2 ms), not the collector's
    // exit, which comes later (it stops its thread, writes its dump, unmaps the channel)
    const { inspectChannel } = await import('@mmbus/core');
    const ins = inspectChannel('points', dir);
    let head = ins.head();
    let movedAt = Date.now();
    const sampler = setInterval(() => {
      const h = ins.head();
      if (h !== head) [head, movedAt] = [h, Date.now()];
    }, 2);
    await new Promise<void>((ok) => host.on('exit', () => ok()));
    clearInterval(sampler);
    if (ins.head() !== head) movedAt = Date.now();
    ins.close();
    return { changes: (JSON.parse(out.trim().split('\n').pop()!) as { changes: number }).changes, endedAt: movedAt };
  }, procs);
}

async function runRedis(dir: string, procs: ChildProcess[]): Promise<Measured> {
  const { proc: redis, port: redisPort } = await startRedisServer(dir, (p) => procs.push(p));
  const values = join(dir, 'redis-values.bin');
  // the harness first, alone (no subscriber): the publisher must reach the rate, or the comparison measures it
  const alone = child(['--role', 'redis-pub', '--port', String(redisPort), '--dir', join(dir, 'alone.bin'), '--rate', String(RATE), '--duration', '1']);
  procs.push(alone.proc);
  const publisherAlonePerSec = Math.round((JSON.parse(await alone.next((l) => l.startsWith('{'))) as { changes: number }).changes);
  const relay = child(['--role', 'relay', '--port', String(redisPort)]);
  procs.push(relay.proc);
  const { port } = JSON.parse(await relay.next((l) => l.startsWith('{'))) as { port: number };
  // the same start: every point has a value before the clients join
  const seed = child(['--role', 'redis-pub', '--port', String(redisPort), '--dir', join(dir, 'seed.bin'), '--rate', '0', '--duration', '0']);
  procs.push(seed.proc);
  await seed.next((l) => l.startsWith('{'));
  const m = await measure(relay, port, values, async () => {
    const pub = child(['--role', 'redis-pub', '--port', String(redisPort), '--dir', values, '--rate', String(RATE), '--duration', String(DURATION)]);
    procs.push(pub.proc);
    const r = JSON.parse(await pub.next((l) => l.startsWith('{'))) as { changes: number; endedAt: number };
    return { changes: r.changes, endedAt: r.endedAt };
  }, procs, redis.pid!);
  return { ...m, publisherAlonePerSec };
}

/** The median run's figures, field by field (every number the median of the runs'). */
function medianOf(runs: readonly Measured[]): Measured {
  const med = (f: (m: Measured) => number | undefined): number | undefined => {
    const v = runs.map(f).filter((x): x is number => x !== undefined);
    return v.length ? Number(median(v).toFixed(2)) : undefined;
  };
  const m: Measured = {
    ...runs[0]!,
    publishedChangesPerSec: med((r) => r.publishedChangesPerSec)!,
    windowSec: med((r) => r.windowSec)!,
    serverCpuPercent: med((r) => r.serverCpuPercent)!,
    serverRssMiB: med((r) => r.serverRssMiB)!,
    framesSkippedForSlowClients: med((r) => r.framesSkippedForSlowClients)!,
    bytesPerClientPerSec: { median: med((r) => r.bytesPerClientPerSec.median)!, max: med((r) => r.bytesPerClientPerSec.max)! },
    endToAllFinalMs: med((r) => r.endToAllFinalMs)!,
    breakdownMs: { lastFrameBuilt: med((r) => r.breakdownMs.lastFrameBuilt)!, lastFrameReceived: med((r) => r.breakdownMs.lastFrameReceived)! },
  };
  const behind = med((r) => r.breakdownMs.serverBehindUntil);
  if (behind !== undefined) m.breakdownMs = { serverBehindUntil: behind, ...m.breakdownMs };
  const broker = med((r) => r.brokerCpuPercent);
  if (broker !== undefined) m.brokerCpuPercent = broker;
  const alone = med((r) => r.publisherAlonePerSec);
  if (alone !== undefined) m.publisherAlonePerSec = alone;
  return m;
}

async function main(): Promise<void> {
  if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`web: --runs must be a positive integer, got ${String(opts.runs)}`);
  const runs: Record<string, Measured[]> = {};
  for (let r = 0; r < RUNS; r++) {
    for (const [name, run] of [['mmbus', runMmbus], ['redis', runRedis]] as const) {
      if (opts.only && opts.only !== name) continue;
      const dir = mkdtempSync(join(tmpdir(), `mmbus-bench-web-${name}-`));
      const procs: ChildProcess[] = [];
      try {
        const m = await run(dir, procs);
        (runs[name] ??= []).push(m);
        console.log(`[run ${r + 1}/${RUNS}] ${name}: end -> every client has every final value ${m.endToAllFinalMs} ms, ${m.publishedChangesPerSec.toLocaleString('en-US')} changes/s`);
      } finally {
        for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const results: Record<string, Measured> = {};
  for (const [name, list] of Object.entries(runs)) results[name] = medianOf(list);
  const config = { clients: CLIENTS, askedPerClient: ASKED, targetChangesPerSec: RATE, durationSec: DURATION, fps: 20, runs: RUNS };
  const spread = (name: string): string => {
    const v = runs[name]!.map((m) => m.endToAllFinalMs);
    return v.length > 1 ? ` (${Math.min(...v)}-${Math.max(...v)})` : '';
  };
  console.log(`web: ${CLIENTS} clients x ${ASKED} random points of ${POINTS}, target ${RATE.toLocaleString('en-US')} changes/s for ${DURATION} s, median of ${RUNS} run${RUNS > 1 ? 's' : ''}`);
  const names = Object.keys(results);
  const rows: [string, (m: Measured, name: string) => string][] = [
    ['changes/s published', (m) => m.publishedChangesPerSec.toLocaleString('en-US')],
    ['  the publisher alone (harness check)', (m) => (m.publisherAlonePerSec === undefined ? '-' : m.publisherAlonePerSec.toLocaleString('en-US'))],
    ['server CPU (gateway / relay)', (m) => `${m.serverCpuPercent} %`],
    ['redis-server CPU', (m) => (m.brokerCpuPercent === undefined ? '-' : `${m.brokerCpuPercent} %`)],
    ['server RSS', (m) => `${m.serverRssMiB} MiB`],
    ['frames held back (slow clients)', (m) => String(m.framesSkippedForSlowClients)],
    ['bytes/s per client (median, max)', (m) => `${m.bytesPerClientPerSec.median.toLocaleString('en-US')}, ${m.bytesPerClientPerSec.max.toLocaleString('en-US')}`],
    ['end -> every client has every final value', (m, name) => `${m.endToAllFinalMs} ms${spread(name)}`],
    ['  server subscriber behind until', (m) => (m.breakdownMs.serverBehindUntil === undefined ? '-' : `${m.breakdownMs.serverBehindUntil} ms`)],
    ['  last values frame built, received', (m) => `${m.breakdownMs.lastFrameBuilt}, ${m.breakdownMs.lastFrameReceived} ms`],
  ];
  console.log(`${''.padEnd(44)}${names.map((n) => n.padStart(22)).join('')}`);
  for (const [label, f] of rows) console.log(`${label.padEnd(44)}${names.map((n) => f(results[n]!, n).padStart(22)).join('')}`);
  if (!opts['no-write']) {
    mkdirSync(join(here, '../results'), { recursive: true });
    writeFileSync(join(here, '../results/web-latest.json'), `${JSON.stringify({ date: new Date().toISOString(), config, results, runs }, null, 2)}\n`);
  }
}

if (opts.role === 'gateway') await gatewayRole();
else if (opts.role === 'clients') await clientsRole();
else if (opts.role === 'redis-pub') await redisPubRole();
else if (opts.role === 'relay') await relayRole();
else await main();
