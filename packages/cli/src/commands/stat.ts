import pc from 'picocolors';

import { exactCounters, formatAge, formatBytes, hex64, stateColor, table, toJson, render, type DirOption } from '../common.js';
import { channelRef, openInspector } from './open.js';

export function statCommand(channel: string, opts: DirOption & { json?: boolean }): number {
  const ref = channelRef(channel, opts);
  const ins = openInspector(ref);
  try {
    const i = ins.info;
    const s = ins.statsExact();
    if (opts.json) {
      process.stdout.write(`${toJson({ info: { ...i, fingerprint: hex64(i.fingerprint) }, stats: exactCounters(s) })}\n`);
      return 0;
    }
    const oldest = s.head > BigInt(i.capacity) ? s.head - BigInt(i.capacity) : 0n;
    const lines: [string, string][] = [
      ['channel', i.name],
      ['file', `${i.dir}/${i.name}.db`],
      ['schema', i.schemaName],
      ['fingerprint', hex64(i.fingerprint)],
      ['format version', String(i.formatVersion)],
      ['record size', `${i.recordSize} B`],
      ['capacity', `${i.capacity} records`],
      ['policy', i.policy],
      ['block timeout', `${i.blockTimeoutMs} ms`],
      ['heartbeat timeout', `${i.heartbeatTimeoutMs} ms`],
      ['unblock timeout', `${i.unblockTimeoutMs} ms`],
      ['max subscribers', String(i.maxSubscribers)],
      ['max publishers', String(i.maxPublishers)],
      ['file size', `${formatBytes(i.fileSize)} (${i.fileSize} bytes)`],
      ['created', i.createdAt.toISOString()],
      ['published (head)', String(s.head)],
      ['oldest in ring', s.head === 0n ? '-' : String(oldest)],
      ['publishers alive', String(s.publishersAlive)],
      [
        'subscribers',
        `${s.subscribersActive} alive, ${s.subscribersOffline} offline, ${s.subscribersDead} dead`,
      ],
      ['worst lag', String(s.maxLag)],
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
          String(sub.cursor),
          sub.lag > 0n ? pc.yellow(String(sub.lag)) : '0',
          sub.lost > 0n ? pc.red(String(sub.lost)) : '0',
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

