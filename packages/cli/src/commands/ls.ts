import { inspectChannel } from '@mmbus/core';
import pc from 'picocolors';

import { exactCounters, explainOpenError, formatBytes, hex64, listChannelFiles, table, toJson, render, type DirOption } from '../common.js';
import { channelDir } from './open.js';

export interface ChannelSummary {
  name: string;
  error?: string;
  schemaName?: string;
  fingerprint?: string;
  recordSize?: number;
  capacity?: number;
  policy?: string;
  head?: bigint;
  publishersAlive?: number;
  subscribersActive?: number;
  subscribersOffline?: number;
  subscribersDead?: number;
  maxLag?: bigint;
  fileSize?: number;
}

/** Opens each channel of the directory for a moment; a file that fails to open carries its error. */
export function summarize(dir: string): ChannelSummary[] {
  return listChannelFiles(dir).map((name) => {
    let ins;
    try {
      ins = inspectChannel(name, dir);
    } catch (err) {
      return { name, error: explainOpenError(err) };
    }
    try {
      const s = ins.statsExact();
      const i = ins.info;
      return {
        name,
        schemaName: i.schemaName,
        fingerprint: hex64(i.fingerprint),
        recordSize: i.recordSize,
        capacity: i.capacity,
        policy: i.policy,
        head: s.head,
        publishersAlive: s.publishersAlive,
        subscribersActive: s.subscribersActive,
        subscribersOffline: s.subscribersOffline,
        subscribersDead: s.subscribersDead,
        maxLag: s.maxLag,
        fileSize: i.fileSize,
      };
    } catch (err) {
      return { name, error: explainOpenError(err) };
    } finally {
      ins.close();
    }
  });
}

export function subscriberSummary(c: { subscribersActive?: number; subscribersOffline?: number; subscribersDead?: number }): string {
  const extra: string[] = [];
  if (c.subscribersOffline) extra.push(pc.yellow(`${c.subscribersOffline} offline`));
  if (c.subscribersDead) extra.push(pc.red(`${c.subscribersDead} dead`));
  return `${c.subscribersActive ?? 0}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

export function lsCommand(dirArg: string | undefined, opts: DirOption & { json?: boolean }): number {
  const dir = channelDir(opts, dirArg);
  const rows = summarize(dir);
  if (opts.json) {
    process.stdout.write(`${toJson({ dir, channels: exactCounters(rows) })}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write(`no channels in ${dir}\n`);
    return 0;
  }
  const t = table(['CHANNEL', 'SCHEMA', 'RECORD', 'CAPACITY', 'POLICY', 'PUBLISHED', 'PUBS', 'SUBS', 'WORST LAG', 'FILE']);
  const notes: string[] = [];
  for (const r of rows) {
    if (r.error !== undefined) {
      t.push([r.name, pc.red('unreadable (below)'), '', '', '', '', '', '', '', '']);
      notes.push(`${r.name}.db: ${pc.red('error:')} ${r.error}`);
      continue;
    }
    t.push([
      r.name,
      r.schemaName!,
      `${r.recordSize} B`,
      String(r.capacity),
      r.policy!,
      String(r.head),
      String(r.publishersAlive),
      subscriberSummary(r),
      r.maxLag! > 0n ? pc.yellow(String(r.maxLag)) : '0',
      formatBytes(r.fileSize!),
    ]);
  }
  process.stdout.write(`${dir}\n${render(t)}\n${notes.map((n) => `${n}\n`).join('')}`);
  return 0;
}
