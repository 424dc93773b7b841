import type { ChannelInspector } from '@mmbus/core';
import type { RecordLayout } from '@mmbus/runtime';
import pc from 'picocolors';

import { exactCounters, formatAge, formatBytes, formatCount, hex64, stateColor, table, toJson, render, type DirOption } from '../common.js';
import { channelRef, openInspector } from './open.js';

/** The fields a channel file describes, or why it describes none. */
function describedFields(layout: RecordLayout | undefined): string {
  if (!layout) return 'not in the file (made without one: decode with --schema)';
  return `in the file: ${layout.fields.map((f) => `${f.name}@${f.offset}`).join(' ')}`;
}

/** A keyed channel's keys: how many, the key field, and how many have a value; null when not keyed. */
export interface KeysSummary {
  count: number;
  /** The key field's name, when the file describes its layout; else null. */
  field: string | null;
  offset: number;
  size: number;
  withValue: number;
}

function keysSummary(ins: ChannelInspector): KeysSummary | null {
  const i = ins.info;
  if (i.keyCount === 0) return null;
  const field = ins.layout?.key ?? ins.layout?.fields.find((f) => f.offset === i.keyOffset)?.name ?? null;
  return { count: i.keyCount, field, offset: i.keyOffset, size: i.keySize, withValue: ins.keysWithValue() };
}

function describeKeys(k: KeysSummary | null): string {
  if (!k) return 'not keyed';
  const field = `${k.field ?? 'key field'}: ${k.size}-byte unsigned at offset ${k.offset}`;
  return `${formatCount(k.count)} (${field}); ${formatCount(k.withValue)} with a value`;
}

export function statCommand(channel: string, opts: DirOption & { json?: boolean }): number {
  const ref = channelRef(channel, opts);
  const ins = openInspector(ref);
  try {
    const i = ins.info;
    const s = ins.statsExact();
    const keys = keysSummary(ins);
    if (opts.json) {
      process.stdout.write(`${toJson({ info: { ...i, fingerprint: hex64(i.fingerprint) }, layout: ins.layout ?? null, keys, stats: exactCounters(s) })}\n`);
      return 0;
    }
    const oldest = s.head > BigInt(i.capacity) ? s.head - BigInt(i.capacity) : 0n;
    const lines: [string, string][] = [
      ['channel', i.name],
      ['file', `${i.dir}/${i.name}.db`],
      ['schema', i.schemaName],
      ['record layout', describedFields(ins.layout)],
      ['fingerprint', hex64(i.fingerprint)],
      ['format version', String(i.formatVersion)],
      ['record size', `${i.recordSize} B`],
      ['capacity', `${formatCount(i.capacity)} records`],
      ['keys', describeKeys(keys)],
      ['policy', i.policy],
      ['block timeout', `${formatCount(i.blockTimeoutMs)} ms`],
      ['heartbeat timeout', `${formatCount(i.heartbeatTimeoutMs)} ms`],
      ['unblock timeout', `${formatCount(i.unblockTimeoutMs)} ms`],
      ['max subscribers', String(i.maxSubscribers)],
      ['max publishers', String(i.maxPublishers)],
      ['file size', `${formatBytes(i.fileSize)} (${formatCount(i.fileSize)} bytes)`],
      ['created', i.createdAt.toISOString()],
      ['published (head)', formatCount(s.head)],
      ['oldest in ring', s.head === 0n ? '-' : formatCount(oldest)],
      ['publishers alive', String(s.publishersAlive)],
      [
        'subscribers',
        `${s.subscribersActive} active, ${s.subscribersOffline} offline, ${s.subscribersDead} dead`,
      ],
      ['worst lag', formatCount(s.maxLag)],
      ['claims given up', String(s.claimsRevoked)],
    ];
    const w = Math.max(...lines.map(([k]) => k.length));
    let out = lines.map(([k, v]) => `${pc.bold(k.padEnd(w))}  ${v}`).join('\n') + '\n';
    if (s.subscribers.length === 0) {
      out += '\nno subscribers\n';
    } else {
      const t = table(['SLOT', 'SUBSCRIBER', 'STATE', 'PID', 'CURSOR', 'LAG', 'LOST', 'HEARTBEAT']);
      for (const sub of s.subscribers) {
        t.push([
          String(sub.slot),
          sub.durable ? sub.name : pc.dim('(anonymous)'),
          stateColor(sub.state),
          String(sub.pid),
          formatCount(sub.cursor),
          sub.lag > 0n ? pc.yellow(formatCount(sub.lag)) : '0',
          sub.lost > 0n ? pc.red(formatCount(sub.lost)) : '0',
          sub.heartbeatAgeMs >= 0 ? `${formatAge(sub.heartbeatAgeMs)} ago` : '-',
        ]);
      }
      out += `\n${render(t)}\n`;
    }
    process.stdout.write(out);
    return 0;
  } finally {
    ins.close();
  }
}

