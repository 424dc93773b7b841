// The bridge: one NATS connection, its routes (mmbus → NATS and NATS → mmbus), their stats; and
// runBridge(), the process around it that `mmbus bridge run` is (stats file, signals, exit code).
import { nanos, StorageType, type JetStreamManager, type NatsError } from 'nats';

import { knownTypes } from './channels.js';
import { kvPrefix, type BridgeConfig, type OutRouteConfig } from './config.js';
import { BridgeError } from './errors.js';
import { InRoute } from './inbound.js';
import type { RecordClass } from './layout.js';
import { NatsLink } from './link.js';
import { OutRoute } from './outbound.js';
import { writeStatsFile, type BridgeStats } from './stats.js';

/** JetStream's "stream not found". */
const STREAM_NOT_FOUND = 10059;

export interface BridgeOptions {
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
  /** Message classes besides @mmbus/messages' (an embedding program's own schemas). */
  types?: RecordClass[];
}

/** Whether NATS subject `filter` (with * and > wildcards) matches `subject`. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

async function jetstreamManager(link: NatsLink, route: string): Promise<JetStreamManager> {
  try {
    return await link.nc.jetstreamManager();
  } catch (err) {
    throw new BridgeError('BRIDGE_E_NATS', `route ${route}: JetStream is not available on the server (${(err as Error).message}); start nats-server with -js`, { cause: err });
  }
}

/**
 * A kv route's bucket: an existing one must be a KV bucket's stream (KV_<bucket> capturing
 * $KV.<bucket>.>); a missing one is created (history 1, file storage) unless the route says not to.
 */
async function ensureBucket(link: NatsLink, r: { bucket: string; create: boolean }, route: string, log: (line: string) => void): Promise<void> {
  const jsm = await jetstreamManager(link, route);
  try {
    const info = await jsm.streams.info(`KV_${r.bucket}`);
    if (!info.config.subjects?.includes(`${kvPrefix(r.bucket)}.>`)) {
      throw new BridgeError('BRIDGE_E_NATS', `route ${route}: stream KV_${r.bucket} is not a KV bucket's (its subjects: ${(info.config.subjects ?? []).join(', ')})`);
    }
    if (info.config.duplicate_window <= 0) log(`route ${route}: bucket ${r.bucket} has no duplicate window: values resent after a restart are put again (the same values)`);
    return;
  } catch (err) {
    if (err instanceof BridgeError) throw err;
    if ((err as NatsError).api_error?.err_code !== STREAM_NOT_FOUND) {
      throw new BridgeError('BRIDGE_E_NATS', `route ${route}: bucket ${r.bucket}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!r.create) throw new BridgeError('BRIDGE_E_NATS', `route ${route}: bucket ${r.bucket} does not exist (and the route does not create it)`);
  try {
    await link.nc.jetstream().views.kv(r.bucket, { history: 1, storage: StorageType.File });
    log(`route ${route}: created bucket ${r.bucket} (history 1, file storage)`);
  } catch (err) {
    throw new BridgeError('BRIDGE_E_NATS', `route ${route}: cannot create bucket ${r.bucket}: ${(err as Error).message}`, { cause: err });
  }
}

async function ensureStream(link: NatsLink, r: OutRouteConfig, log: (line: string) => void): Promise<void> {
  const j = r.jetstream!;
  const jsm = await jetstreamManager(link, `${r.channel} → ${r.subject}`);
  try {
    const info = await jsm.streams.info(j.stream);
    if (!info.config.subjects?.some((f) => subjectMatches(f, r.subject))) {
      throw new BridgeError('BRIDGE_E_NATS', `route ${r.channel} → ${r.subject}: stream ${j.stream} does not capture that subject (its subjects: ${(info.config.subjects ?? []).join(', ')})`);
    }
    const dw = info.config.duplicate_window / 1e6;
    if (dw <= 0) log(`route ${r.channel} → ${r.subject}: stream ${j.stream} has no duplicate window: records resent after a restart may be stored twice`);
    return;
  } catch (err) {
    if (err instanceof BridgeError) throw err;
    if ((err as NatsError).api_error?.err_code !== STREAM_NOT_FOUND) {
      throw new BridgeError('BRIDGE_E_NATS', `route ${r.channel} → ${r.subject}: stream ${j.stream}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (!j.create) throw new BridgeError('BRIDGE_E_NATS', `route ${r.channel} → ${r.subject}: stream ${j.stream} does not exist (and the route does not create it)`);
  try {
    await jsm.streams.add({ name: j.stream, subjects: [r.subject], storage: StorageType.File, duplicate_window: nanos(j.duplicateWindowMs) });
    log(`route ${r.channel} → ${r.subject}: created stream ${j.stream} (file storage, duplicate window ${j.duplicateWindowMs} ms)`);
  } catch (err) {
    throw new BridgeError('BRIDGE_E_NATS', `route ${r.channel} → ${r.subject}: cannot create stream ${j.stream}: ${(err as Error).message}`, { cause: err });
  }
}

export class Bridge {
  readonly config: BridgeConfig;
  private readonly link: NatsLink;
  private readonly outs: OutRoute[];
  private readonly ins: InRoute[];
  private readonly running: Promise<void>[];
  private readonly startedAt = new Date();
  /** Rejects when a route fails (a channel removed under it, a broken file): the bridge then stops. */
  readonly failed: Promise<never>;
  private stopping: Promise<{ held: string[] }> | null = null;

  private constructor(config: BridgeConfig, link: NatsLink, outs: OutRoute[], ins: InRoute[]) {
    this.config = config;
    this.link = link;
    this.outs = outs;
    this.ins = ins;
    this.running = outs.map((r) => r.run());
    const outFailed = Promise.all(this.running).then(
      () => new Promise<never>(() => {}),
      (err: unknown) => Promise.reject(err instanceof Error ? err : new Error(String(err))),
    );
    this.failed = Promise.race([outFailed, ...ins.map((r) => r.failed)]);
    this.failed.catch(() => {});
  }

  /** Connects (waiting for a server that is not up yet), sets up streams, opens every route. */
  static async start(config: BridgeConfig, opts: BridgeOptions = {}): Promise<Bridge> {
    const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const types = knownTypes(opts.types);
    const link = await NatsLink.open(config.nats, config.name, log);
    const outs: OutRoute[] = [];
    const ins: InRoute[] = [];
    try {
      for (const r of config.routes) {
        if (r.direction === 'out' && r.jetstream) await ensureStream(link, r, log);
        if (r.direction === 'kv') await ensureBucket(link, r, `${r.channel} → KV ${r.bucket}`, log);
        if (r.direction === 'in' && r.bucket !== undefined) await ensureBucket(link, { bucket: r.bucket, create: r.create ?? true }, `KV ${r.bucket} → ${r.channel}`, log);
      }
      for (const r of config.routes) {
        if (r.direction !== 'in') {
          const route = new OutRoute(r, config, link, log);
          outs.push(route);
          route.open(types);
        } else {
          const route = new InRoute(r, config, link, log);
          ins.push(route);
          route.open(types);
        }
      }
      for (const r of ins) await r.start();
    } catch (err) {
      for (const r of outs) r.close();
      await Promise.all(ins.map((r) => r.stop()));
      await link.close();
      throw err;
    }
    return new Bridge(config, link, outs, ins);
  }

  stats(state: BridgeStats['state'] = 'running'): BridgeStats {
    return {
      name: this.config.name,
      pid: process.pid,
      state,
      startedAt: this.startedAt.toISOString(),
      updatedAt: new Date().toISOString(),
      statsIntervalMs: this.config.statsIntervalMs,
      nats: this.link.stats(),
      routes: this.config.routes.map((c) => (this.outs.find((r) => r.cfg === c) ?? this.ins.find((r) => r.cfg === c))!.stats()),
    };
  }

  /**
   * Stops: inbound routes publish what they took; outbound routes finish the batch in flight (up to
   * the drain time-out). `held` names the routes whose batch NATS did not confirm in time: their
   * subscriptions stay open and unacknowledged, and the process should exit (the next start resends).
   */
  stop(): Promise<{ held: string[] }> {
    this.stopping ??= (async () => {
      try {
        for (const r of this.outs) r.stop();
        await Promise.allSettled(this.running);
        for (const r of this.outs) r.close();
        await Promise.allSettled(this.ins.map((r) => r.stop()));
        return { held: this.outs.filter((r) => r.isHeld).map((r) => r.label) };
      } finally {
        await this.link.close(); // the connection is what keeps the process alive
      }
    })();
    return this.stopping;
  }
}

export interface RunIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Resolves when the bridge should stop (default: SIGINT or SIGTERM). */
  stop?: Promise<unknown>;
}

function signals(): { stop: Promise<string>; dispose: () => void } {
  let fire!: (s: string) => void;
  const stop = new Promise<string>((r) => (fire = r));
  const on = { SIGINT: () => fire('SIGINT'), SIGTERM: () => fire('SIGTERM') };
  process.once('SIGINT', on.SIGINT);
  process.once('SIGTERM', on.SIGTERM);
  return {
    stop,
    dispose: () => {
      process.off('SIGINT', on.SIGINT);
      process.off('SIGTERM', on.SIGTERM);
    },
  };
}

/**
 * Runs a bridge until SIGINT/SIGTERM (or io.stop): logs on stderr, `ready` on stdout once every route
 * is open, the stats file rewritten every statsIntervalMs, the final stats as one JSON line on stdout.
 * Resolves with the exit code: 0 after a clean stop, 1 if a route failed or a batch was held.
 */
export async function runBridge(config: BridgeConfig, io: RunIo, opts: Omit<BridgeOptions, 'log'> = {}): Promise<number> {
  const log = (line: string): void => io.stderr(`mmbus bridge ${config.name}: ${line}\n`);
  const sig = signals();
  let bridge: Bridge;
  try {
    const started = Bridge.start(config, { ...opts, log });
    const first = await Promise.race([started, sig.stop, io.stop ?? new Promise(() => {})]);
    if (!(first instanceof Bridge)) {
      // stopped while waiting for a first server: the nats client's first connect cannot be
      // cancelled (it retries forever), so the process ends here; nothing was forwarded yet
      log('stopped before connecting to NATS');
      process.exit(0);
    }
    bridge = first;
  } catch (err) {
    sig.dispose();
    throw err;
  }
  const write = (state: BridgeStats['state']): void => {
    try {
      writeStatsFile(config.statsFile, bridge.stats(state));
    } catch (err) {
      log(`cannot write ${config.statsFile}: ${(err as Error).message}`);
    }
  };
  write('running');
  const timer = setInterval(() => write('running'), config.statsIntervalMs);
  log(`${config.routes.length} route(s) open; stats in ${config.statsFile}`);
  io.stdout('ready\n');
  let code = 0;
  try {
    await Promise.race([sig.stop, io.stop ?? new Promise(() => {}), bridge.failed]);
  } catch (err) {
    const c = (err as { code?: unknown }).code;
    log(`stopping: ${(err as Error).message}${typeof c === 'string' ? ` [${c}]` : ''}`);
    code = 1;
  } finally {
    sig.dispose();
    clearInterval(timer);
  }
  const { held } = await bridge.stop();
  if (held.length) code = 1;
  const final = bridge.stats('stopped');
  write('stopped');
  io.stdout(`${JSON.stringify(final)}\n`);
  return code;
}
