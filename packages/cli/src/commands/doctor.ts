import { inspectChannel } from '@mmbus/core';
import pc from 'picocolors';

import { explainOpenError, hex64, listChannelFiles, toJson, type DirOption } from '../common.js';
import { channelDir } from './open.js';
import { knownType } from '../codec.js';

export interface Finding {
  channel: string;
  level: 'error' | 'warning';
  message: string;
}

export function diagnose(dir: string): { channels: string[]; findings: Finding[] } {
  const channels = listChannelFiles(dir);
  const findings: Finding[] = [];
  for (const name of channels) {
    const add = (level: Finding['level'], message: string): void => void findings.push({ channel: name, level, message });
    let ins;
    try {
      ins = inspectChannel(name, dir); // validates the whole header
    } catch (err) {
      add('error', `cannot be opened: ${explainOpenError(err)}`);
      continue;
    }
    try {
      const i = ins.info;
      const known = knownType(i.schemaName, i.fingerprint);
      if (!known.byName) {
        add('warning', `schema ${i.schemaName} (fingerprint ${hex64(i.fingerprint)}) is not one of this repo's message types; decode it with --schema <file.fbs>`);
      } else if (!known.exact) {
        add('warning', `schema ${i.schemaName} has fingerprint ${hex64(i.fingerprint)}, but this repo's ${i.schemaName} has ${hex64(known.fingerprint!)}: the channel was made with another version of the schema`);
      }
      // what readers rely on: stamps, head, cursors, announced claims (libmmbus's mmbus_verify)
      const v = ins.verify();
      if (v.problems > 0) {
        add('error', `${v.problems} inconsistenc${v.problems === 1 ? 'y' : 'ies'} readers would trip on, first: ${v.first}`);
      }
      const s = ins.statsExact();
      if (s.claimsRevoked > 0) {
        add('warning', `${s.claimsRevoked} claim(s) given up after the unblock time-out still fence off ring slots: a publisher of this channel is stopped or stuck`);
      }
      const cap = BigInt(i.capacity);
      for (const sub of s.subscribers) {
        const who = sub.durable ? `subscriber '${sub.name}'` : `anonymous subscriber in slot ${sub.slot}`;
        if (sub.cursor > s.head) {
          add('error', `${who} (pid ${sub.pid}) has cursor ${sub.cursor}, beyond the last published record (head ${s.head}): the cursor is corrupt`);
        } else if (s.head - sub.cursor > cap) {
          // legitimate for a subscriber that was away (offline, dead, or silent), but it will lose records
          add('warning', `${who} (pid ${sub.pid}, ${sub.state === 'active' ? 'alive' : sub.state}) is ${s.head - sub.cursor} records behind, more than the ring holds (${i.capacity}): it has been lapped and loses at least ${s.head - sub.cursor - cap} records`);
        }
        if (sub.state === 'dead') {
          add('warning', `${who} belongs to process ${sub.pid}, which is gone; reclaim its slot with 'mmbus gc ${name}'`);
        }
      }
    } catch (err) {
      add('error', explainOpenError(err));
    } finally {
      ins.close();
    }
  }
  return { channels, findings };
}

export function doctorCommand(dirArg: string | undefined, opts: DirOption & { json?: boolean; strict?: boolean }): number {
  const dir = channelDir(opts, dirArg);
  const { channels, findings } = diagnose(dir);
  const errors = findings.filter((f) => f.level === 'error').length;
  const warnings = findings.length - errors;
  const failed = errors > 0 || (!!opts.strict && warnings > 0);
  if (opts.json) {
    process.stdout.write(`${toJson({ dir, channels: channels.length, errors, warnings, findings })}\n`);
    return failed ? 1 : 0;
  }
  let out = `checking ${channels.length} channel file${channels.length === 1 ? '' : 's'} in ${dir}\n`;
  for (const name of channels) {
    const mine = findings.filter((f) => f.channel === name);
    if (mine.length === 0) out += `${pc.green('ok')}       ${name}\n`;
    for (const f of mine) {
      out += `${f.level === 'error' ? pc.red('error  ') : pc.yellow('warning')}  ${name}: ${f.message}\n`;
    }
  }
  out += `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`;
  process.stdout.write(out);
  return failed ? 1 : 0;
}
