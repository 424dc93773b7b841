// The bridge's own counters: what each route forwarded, what NATS acknowledged, what was refused,
// written to a stats file while it runs and printed by `mmbus bridge stat`.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

import { BridgeError } from './errors.js';
import type { LinkStats } from './link.js';
import type { RefusalKind } from './refused.js';
import type { Encoding } from './wire.js';

/** A route that forwards a channel: to a subject ('out') or into a KV bucket ('kv'). */
export interface OutRouteStats {
  direction: 'out' | 'kv';
  channel: string;
  /** kv: `$KV.<bucket>.>` (each key's subject). */
  subject: string;
  encoding: Encoding;
  durable: string;
  /** JetStream stream (kv: the bucket's, `KV_<bucket>`), or null for core NATS. */
  stream: string | null;
  /** kv: the bucket; otherwise null. */
  bucket: string | null;
  /** Records handed to NATS (each once; sends again are `resent`). */
  forwarded: number;
  /** Records sent again after a time-out or a reconnect. */
  resent: number;
  /** Records NATS confirmed: JetStream acknowledgements (duplicates included), or core NATS flushes. */
  acked: number;
  /** Of those, records JetStream already had (a resend of a stored record, de-duplicated by its id). */
  duplicates: number;
  /** Records an `overwrite` publisher overwrote while the bridge read them: not forwarded (also in `lost`). */
  overwritten: number;
  /** Records the durable subscriber lost (lapped, or offline longer than the ring holds). */
  lost: number;
  /** Records in the channel the bridge has not finished yet (head − its cursor). */
  lag: number;
  /** Records of the batch being forwarded now. */
  inFlight: number;
  /**
   * Waiting for new records: everything before was confirmed by NATS. (A kv route's snapshot values
   * are not in `lag`: until the snapshot is done, this is false.)
   */
  waiting: boolean;
  /** Sequence number of the last record NATS confirmed (kv: the highest). */
  lastSeq: number | null;
  /** Set when a stop left the batch in flight unacknowledged (it is forwarded again at the next start). */
  held: boolean;
}

export interface InRouteStats {
  direction: 'in';
  channel: string;
  /** A bucket's route: `$KV.<bucket>.>`. */
  subject: string;
  /** The KV bucket the route reads, or null (a subject). */
  bucket: string | null;
  encoding: Encoding;
  /** NATS messages received. */
  received: number;
  /** Records published into the channel. */
  published: number;
  /** Messages refused, per kind (never published). */
  refused: Partial<Record<RefusalKind, number>>;
  /** Valid records not published: `full` (a reject channel was full), `timeout` (a block channel stayed full for its time-out), `backlog` (too many waiting). */
  dropped: { full: number; timeout: number; backlog: number };
  /** Records decoded and waiting to be published. */
  queued: number;
  /** Messages the NATS client holds for this subscription, not yet handed to the bridge. */
  lag: number;
}

export type RouteStats = OutRouteStats | InRouteStats;

export interface BridgeStats {
  name: string;
  pid: number;
  state: 'running' | 'stopped';
  startedAt: string;
  updatedAt: string;
  statsIntervalMs: number;
  nats: LinkStats;
  routes: RouteStats[];
}

export function refusedTotal(r: InRouteStats): number {
  return Object.values(r.refused).reduce((a, b) => a + (b ?? 0), 0);
}

/** Writes the stats file atomically (a reader never sees half a file). */
export function writeStatsFile(file: string, stats: BridgeStats): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(stats, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export function readStatsFile(file: string): BridgeStats {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new BridgeError('BRIDGE_E_STATS', missing ? `no bridge stats at ${file} (is the bridge running with this name and directory?)` : `cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as BridgeStats;
  } catch (err) {
    throw new BridgeError('BRIDGE_E_STATS', `${file} is not a bridge stats file: ${(err as Error).message}`);
  }
}

function age(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

function columns(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd()).join('\n');
}

/** Whether the bridge that wrote `s` looks alive: running, and its file rewritten recently. */
export function isLive(s: BridgeStats, now = Date.now()): boolean {
  return s.state === 'running' && now - Date.parse(s.updatedAt) <= 3 * s.statsIntervalMs + 1000;
}

/** The stats as `mmbus stat` prints a channel: facts, then one line per route, then refusals by kind. */
export function formatStats(s: BridgeStats, now = Date.now()): string {
  const updated = now - Date.parse(s.updatedAt);
  const state = s.state === 'stopped' ? 'stopped' : isLive(s, now) ? 'running' : `not updated for ${age(updated)} (dead?)`;
  const facts: [string, string][] = [
    ['bridge', s.name],
    ['state', `${state}, pid ${s.pid}`],
    ['started', s.startedAt],
    ['updated', `${age(updated)} ago`],
    ['nats', `${s.nats.connected ? 'connected to' : 'disconnected from'} ${s.nats.server ?? s.nats.servers.join(', ')}`],
    ['reconnects', `${s.nats.reconnects} (${s.nats.disconnects} disconnects)`],
  ];
  const w = Math.max(...facts.map(([k]) => k.length));
  let out = facts.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n\n';
  const rows = [['DIR', 'CHANNEL', 'SUBJECT', 'ENCODING', 'NATS', 'FORWARDED', 'ACKED', 'DUPLICATES', 'RESENT', 'REFUSED', 'DROPPED', 'LAG', 'LOST']];
  for (const r of s.routes) {
    if (r.direction !== 'in') {
      const nats = r.bucket !== null ? `KV ${r.bucket}` : r.stream ? `JetStream ${r.stream}` : 'core';
      rows.push([r.direction, r.channel, r.subject, r.encoding, nats, String(r.forwarded), String(r.acked), String(r.duplicates), String(r.resent), '-', '-', String(r.lag), String(r.lost)]);
    } else {
      const dropped = r.dropped.full + r.dropped.timeout + r.dropped.backlog;
      rows.push(['in', r.channel, r.subject, r.encoding, r.bucket !== null ? `KV ${r.bucket}` : 'core', String(r.published), '-', '-', '-', String(refusedTotal(r)), String(dropped), String(r.lag + r.queued), '-']);
    }
  }
  out += `${columns(rows)}\n`;
  const details: string[] = [];
  for (const r of s.routes) {
    if (r.direction === 'in') {
      const kinds = Object.entries(r.refused).filter(([, n]) => n);
      if (kinds.length) details.push(`${r.subject} → ${r.channel}: refused ${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}`);
      const d = Object.entries(r.dropped).filter(([, n]) => n);
      if (d.length) details.push(`${r.subject} → ${r.channel}: dropped ${d.map(([k, n]) => `${k} ${n}`).join(', ')}`);
      if (r.received) details.push(`${r.subject} → ${r.channel}: received ${r.received}`);
    } else {
      if (r.held) details.push(`${r.channel} → ${r.subject}: stopped with a batch NATS had not confirmed (forwarded again at the next start)`);
      if (r.overwritten) details.push(`${r.channel} → ${r.subject}: ${r.overwritten} records overwritten while read (not forwarded)`);
    }
  }
  if (details.length) out += `\n${details.join('\n')}\n`;
  return out;
}
