import { statSync } from 'node:fs';
import { join } from 'node:path';

import { inspectChannel, type ChannelInspector, type ExactChannelStats } from '@mmbus/core';
import pc from 'picocolors';

import { explainOpenError, formatAge, listChannelFiles, sleep, stateColor, stopSignal, table, render, type DirOption } from '../common.js';
import { channelDir } from './open.js';
import { subscriberSummary } from './ls.js';

export interface WatchOptions extends DirOption {
  interval: number;
  once?: boolean;
  iterations?: number;
}

const BARS = '▁▂▃▄▅▆▇█';
const HISTORY = 20;

/** A sparkline of the rates, scaled to the largest one. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (max <= 0 ? BARS[0] : BARS[Math.min(BARS.length - 1, Math.round((v / max) * (BARS.length - 1)))])).join('');
}

interface Watched {
  ins?: ChannelInspector;
  ino?: number;
  error?: string;
  lastHead?: bigint;
  lastAt?: number;
  rates: number[];
}

function formatRate(r: number | undefined): string {
  if (r === undefined) return '-';
  if (r >= 1e6) return `${(r / 1e6).toFixed(1)}M`;
  if (r >= 1e4) return `${(r / 1e3).toFixed(1)}k`;
  return String(Math.round(r));
}

export async function watchCommand(dirArg: string | undefined, opts: WatchOptions): Promise<number> {
  const dir = channelDir(opts, dirArg);
  const iterations = opts.once ? 1 : (opts.iterations ?? Infinity);
  const tty = process.stdout.isTTY === true;
  const watched = new Map<string, Watched>();
  const stop = stopSignal();
  try {
    for (let frame = 0; frame < iterations && !stop.signal.aborted; frame++) {
      if (frame > 0) await sleep(opts.interval, stop.signal);
      if (stop.signal.aborted) break;
      const names = listChannelFiles(dir);
      for (const [name, w] of watched) {
        if (!names.includes(name)) {
          w.ins?.close();
          watched.delete(name);
        }
      }
      const now = Date.now();
      const channels = table(['CHANNEL', 'SCHEMA', 'PUBLISHED', 'RATE/s', `LAST ${HISTORY}`, 'PUBS', 'SUBS', 'WORST LAG']);
      const subs = table(['CHANNEL', 'SUBSCRIBER', 'STATE', 'PID', 'LAG', 'LOST', 'HEARTBEAT']);
      let subCount = 0;
      const notes: string[] = [];
      for (const name of names) {
        let w = watched.get(name);
        let ino: number | undefined;
        try {
          ino = statSync(join(dir, `${name}.db`)).ino;
        } catch {
          continue; // removed meanwhile
        }
        if (w && w.ino !== ino) {
          w.ins?.close(); // replaced by a new file
          w = undefined;
        }
        if (!w) {
          w = { ino, rates: [] };
          try {
            w.ins = inspectChannel(name, dir);
          } catch (err) {
            w.error = explainOpenError(err);
          }
          watched.set(name, w);
        }
        if (!w.ins) {
          channels.push([name, pc.red('unreadable'), '', '', '', '', '', '']);
          notes.push(`${name}.db: ${pc.red('error:')} ${w.error}`);
          continue;
        }
        let s: ExactChannelStats;
        try {
          s = w.ins.statsExact();
        } catch (err) {
          channels.push([name, pc.red('unreadable'), '', '', '', '', '', '']);
          notes.push(`${name}.db: ${pc.red('error:')} ${explainOpenError(err)}`);
          continue;
        }
        let rate: number | undefined;
        if (w.lastHead !== undefined && w.lastAt !== undefined && now > w.lastAt) {
          rate = (Number(s.head - w.lastHead) * 1000) / (now - w.lastAt);
          w.rates.push(rate);
          if (w.rates.length > HISTORY) w.rates.shift();
        }
        w.lastHead = s.head;
        w.lastAt = now;
        channels.push([
          name,
          w.ins.info.schemaName,
          String(s.head),
          formatRate(rate),
          pc.cyan(sparkline(w.rates)),
          String(s.publishersAlive),
          subscriberSummary(s),
          s.maxLag > 0n ? pc.yellow(String(s.maxLag)) : '0',
        ]);
        for (const sub of s.subscribers) {
          subCount++;
          subs.push([
            name,
            sub.durable ? sub.name : pc.dim('(anonymous)'),
            stateColor(sub.state),
            String(sub.pid),
            sub.lag > 0n ? pc.yellow(String(sub.lag)) : '0',
            String(sub.lost),
            sub.heartbeatAgeMs >= 0 ? `${formatAge(sub.heartbeatAgeMs)} ago` : '-',
          ]);
        }
      }
      let out = `${pc.bold('mmbus watch')} ${dir}  ${new Date(now).toISOString()}  every ${opts.interval} ms\n\n`;
      out += names.length ? `${render(channels)}\n` : 'no channels\n';
      for (const n of notes) out += `${n}\n`;
      if (subCount) out += `\n${render(subs)}\n`;
      // a terminal is redrawn in place; a pipe or file gets plain frames, one after the other
      process.stdout.write(tty ? `\x1b[H\x1b[2J${out}` : `${frame > 0 ? '\n' : ''}${out}`);
    }
    return 0;
  } finally {
    stop.dispose();
    for (const w of watched.values()) w.ins?.close();
  }
}
