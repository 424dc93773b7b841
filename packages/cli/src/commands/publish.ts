import { createInterface } from 'node:readline';

import { inspectChannel, MmbusError, openChannel, type Channel, type RecordView } from '@mmbus/core';

import { CliError, describeError, EXIT_USAGE, explainOpenError, type DirOption } from '../common.js';
import { channelRef } from './open.js';
import { codecByName, codecForChannel, type RecordCodec } from '../codec.js';

export interface PublishOptions extends DirOption {
  json?: string;
  schema?: string;
  type?: string;
  capacity?: number;
}

function parseJson(text: string, where: string, usage: boolean): unknown[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${where}: invalid JSON (${(err as Error).message})`, usage ? EXIT_USAGE : 1);
  }
  return Array.isArray(v) ? v : [v];
}

export async function publishCommand(channel: string, opts: PublishOptions): Promise<number> {
  const ref = channelRef(channel, opts);
  let codec: RecordCodec;
  let create = false;
  try {
    const ins = inspectChannel(ref.name, ref.dir);
    try {
      codec = await codecForChannel(ins.info, opts.schema);
    } finally {
      ins.close();
    }
  } catch (err) {
    if (!(err instanceof MmbusError)) throw err;
    if (err.code !== 'MMBUS_E_NOENT') throw new CliError(`channel '${ref.name}' in ${ref.dir}: ${explainOpenError(err)}`);
    if (!opts.type) throw new CliError(`no channel '${ref.name}' in ${ref.dir}; pass --type <schema name> to create it`);
    codec = await codecByName(opts.type, opts.schema);
    create = true;
  }
  if (opts.json === undefined && process.stdin.isTTY) {
    throw new CliError('give the record with --json \'{...}\' or JSON lines on stdin', EXIT_USAGE);
  }

  let ch: Channel<RecordView>;
  try {
    ch = openChannel(ref.name, codec.type, { dir: ref.dir, create, ...(opts.capacity ? { capacity: opts.capacity } : {}) });
  } catch (err) {
    throw new CliError(`opening channel '${ref.name}': ${describeError(err)}`);
  }
  let published = 0;
  const send = (json: unknown, where: string): void => {
    let input: Record<string, unknown>;
    try {
      input = codec.fromJson(json);
    } catch (err) {
      throw new CliError(`${where}: ${describeError(err)}${published ? ` (${published} published before)` : ''}`);
    }
    let ok: boolean;
    try {
      ok = ch.publish(input as never);
    } catch (err) {
      throw new CliError(`${where}: ${describeError(err)}${published ? ` (${published} published before)` : ''}`);
    }
    if (!ok) throw new CliError(`channel '${ref.name}' is full (reject policy): ${published} published`);
    published++;
  };
  try {
    if (opts.json !== undefined) {
      const records = parseJson(opts.json, '--json', true);
      records.forEach((r, i) => send(r, records.length > 1 ? `--json record ${i}` : '--json'));
    } else {
      const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
      let n = 0;
      for await (const line of lines) {
        n++;
        if (line.trim() === '') continue;
        for (const r of parseJson(line, `stdin line ${n}`, false)) send(r, `stdin line ${n}`);
      }
    }
  } finally {
    ch.close();
  }
  process.stdout.write(`published ${published} record${published === 1 ? '' : 's'} (${codec.name}) to '${ref.name}'\n`);
  return 0;
}
