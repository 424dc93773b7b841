// Shared by the benchmark's child processes: the 128-byte message layout used for every peer
// (int64 index at 0, uint64 send time at 8, CLOCK_MONOTONIC ns as process.hrtime), the checksum
// (+0 -1 +2 -3 ...), latency percentiles and the one-line JSON report each child prints at the end.
import { Checker, percentilesNs, type LatencyNs } from '../stats.ts';

export const MESSAGE_SIZE = 128;

export interface ChildConfig {
  mode: 'throughput' | 'latency' | 'idle';
  records: number;
  subscribers: number;
  /** mmbus: channel directory; redis: port; zeromq/uds: endpoint path */
  endpoint: string;
  name: string;
  /** latency mode: messages per second */
  rate: number;
  /** mmbus TS publisher: 'batch' | 'single' */
  variant?: string | undefined;
}

export function config(): ChildConfig {
  return JSON.parse(process.argv[2]!) as ChildConfig;
}

export const nowNs = (): number => Number(process.hrtime.bigint());
export const cpuUs = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/** A child ends when the harness goes away (stdin closes), whatever it is waiting for. */
export function exitWithParent(): void {
  process.stdin.on('end', () => process.exit(3));
  process.stdin.on('error', () => process.exit(3));
  process.stdin.resume();
}

export function ready(): void {
  process.stdout.write('ready\n');
}

export function report(obj: object): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reads the index of the message at `offset` of `buf`. */
export function indexAt(buf: Uint8Array, offset: number): number {
  const lo = buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24);
  const hi = buf[offset + 4]! | (buf[offset + 5]! << 8) | (buf[offset + 6]! << 16) | (buf[offset + 7]! << 24);
  return hi * 4294967296 + (lo >>> 0);
}

export function writeIndex(buf: Buffer, offset: number, index: number): void {
  buf.writeUInt32LE(index >>> 0, offset);
  buf.writeUInt32LE(Math.floor(index / 4294967296), offset + 4);
}

export function writeStamp(buf: Buffer, offset: number): void {
  buf.writeBigUInt64LE(process.hrtime.bigint(), offset + 8);
}

export function stampAt(buf: Buffer, offset: number): bigint {
  return buf.readBigUInt64LE(offset + 8);
}

/** What a subscriber collects in throughput and latency mode. */
export class Receiver {
  readonly check = new Checker();
  tFirst = 0;
  tLast = 0;
  private readonly lat: Float64Array | null;
  private readonly cpu0 = cpuUs();

  private readonly cfg: ChildConfig;

  constructor(cfg: ChildConfig) {
    this.cfg = cfg;
    this.lat = cfg.mode === 'latency' ? new Float64Array(cfg.records) : null;
  }

  get done(): boolean {
    return this.check.received >= this.cfg.records;
  }

  /** One message with index `index`; `latencyNs` in latency mode. */
  add(index: number, latencyNs = 0): void {
    if (this.check.received === 0) this.tFirst = nowNs();
    if (this.lat && this.check.received < this.lat.length) this.lat[this.check.received] = latencyNs;
    this.check.add(index);
  }

  /** The last message is handled. */
  mark(): void {
    this.tLast = nowNs();
  }

  result(): object {
    const out: Record<string, unknown> = { received: this.check.received, checksum: this.check.checksum, tFirst: this.tFirst, tLast: this.tLast, cpuUs: cpuUs() - this.cpu0 };
    if (this.lat) out['latNs'] = percentilesNs(this.lat.subarray(0, Math.min(this.check.received, this.lat.length))) satisfies LatencyNs;
    return out;
  }

  /** Prints the result and exits; also on SIGTERM (a lost message shows as a wrong count, not a hang). */
  finishOnTerm(cleanup: () => void = () => {}): void {
    process.on('SIGTERM', () => {
      report(this.result());
      cleanup();
      process.exit(0);
    });
  }
}

/** Idle mode: subscribed, nothing published; CPU used over 5 s. */
export async function idle(cleanup: () => Promise<void> | void): Promise<void> {
  const c0 = cpuUs();
  await sleep(5000);
  const cpu = cpuUs() - c0;
  await cleanup();
  report({ received: 0, seconds: 5, cpuUs: cpu });
  process.exit(0);
}

/** Publisher pacing in latency mode: each 1 ms timer tick sends the messages due by then, each stamped
 * when it is sent (Node timers do not go below 1 ms without spinning). */
export async function paced(cfg: ChildConfig, send: (i: number) => void | Promise<void>, flush: () => void | Promise<void> = () => {}): Promise<void> {
  const t0 = nowNs();
  let i = 0;
  while (i < cfg.records) {
    const due = Math.min(cfg.records, Math.floor(((nowNs() - t0) / 1e9) * cfg.rate) + 1);
    for (; i < due; i++) await send(i);
    await flush();
    if (i < cfg.records) await sleep(1);
  }
}

/** A message of a latency run: index i and its send time. */
export function stampedMessage(i: number): Buffer {
  const m = Buffer.alloc(MESSAGE_SIZE);
  writeIndex(m, 0, i);
  writeStamp(m, 0);
  return m;
}

/**
 * A publisher's measured part, the same for every system: idle mode only stays up (the harness ends
 * it); latency mode paces `sendOne(i)` at the configured rate, then `settle()`; throughput mode runs
 * `sendAll()`. Then reports the wall time and the CPU it took.
 */
export async function publisherRun(
  cfg: ChildConfig,
  sendOne: (i: number) => void | Promise<void>,
  sendAll: () => void | Promise<void>,
  settle: () => unknown = () => {},
): Promise<void> {
  if (cfg.mode === 'idle') {
    setInterval(() => {}, 1 << 30);
    return new Promise(() => {});
  }
  const c0 = cpuUs();
  const t0 = nowNs();
  if (cfg.mode === 'latency') {
    await paced(cfg, sendOne);
    await settle();
  } else {
    await sendAll();
  }
  report({ tStart: t0, tEnd: nowNs(), cpuUs: cpuUs() - c0 });
}
