import type { ChannelInspector } from '@mmbus/core';
import pc from 'picocolors';

import { Exact, sleep, stopSignal, table, toJson, render, type DirOption } from '../common.js';
import { codecForChannel, type RecordCodec } from '../codec.js';
import { channelRef, openInspector } from './open.js';

export interface TailOptions extends DirOption {
  lines: number;
  follow?: boolean;
  json?: boolean;
  schema?: string;
  interval: number;
}

/** How long a claimed but uncommitted record is waited for before it is skipped (given up by its publisher). */
const UNCOMMITTED_PATIENCE_MS = 2000;

function cell(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return toJson(v);
}

class Printer {
  private widths: number[] | undefined;
  private readonly codec: RecordCodec;
  private readonly json: boolean;
  constructor(codec: RecordCodec, json: boolean) {
    this.codec = codec;
    this.json = json;
  }

  print(records: { seq: bigint; value: Record<string, unknown> }[], header: boolean): void {
    if (this.json) {
      let out = '';
      for (const r of records) out += `${toJson({ seq: new Exact(r.seq), record: r.value })}\n`;
      if (out) process.stdout.write(out);
      return;
    }
    const head = ['SEQ', ...this.codec.fields];
    const rows = records.map((r) => [String(r.seq), ...this.codec.fields.map((f) => cell(r.value[f]))]);
    if (!this.widths) {
      // fixed from the first batch, so rows printed later (-f) line up under the header
      this.widths = head.map((h, i) => Math.min(40, Math.max(h.length, 6, ...rows.map((row) => row[i]!.length))) + 2);
    }
    if (rows.length === 0 && !header) return;
    const t = table(head, this.widths);
    t.push(...rows);
    let text = render(t);
    if (!header) text = text.split('\n').slice(1).join('\n');
    if (text) process.stdout.write(`${text}\n`);
  }
}

/** Sequence numbers are 64-bit: exact bigints throughout (a double stops advancing past 2^53). */
function readRange(ins: ChannelInspector, codec: RecordCodec, from: bigint, to: bigint): { seq: bigint; value: Record<string, unknown> }[] {
  const out = [];
  const buf = new Uint8Array(codec.size);
  for (let seq = from; seq < to; seq++) {
    const bytes = ins.read(seq, buf);
    if (bytes) out.push({ seq, value: codec.decode(bytes) });
  }
  return out;
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);

export async function tailCommand(channel: string, opts: TailOptions): Promise<number> {
  const ref = channelRef(channel, opts);
  const ins = openInspector(ref);
  const stop = opts.follow ? stopSignal() : undefined;
  try {
    const codec = await codecForChannel(ins.info, opts.schema);
    const printer = new Printer(codec, !!opts.json);
    const head = ins.headExact();
    const capacity = BigInt(ins.info.capacity);
    const start = max(0n, max(head - BigInt(opts.lines), head - capacity));
    // records not yet committed (or given up) at the start are skipped: they are in flight
    printer.print(readRange(ins, codec, start, head), true);
    if (!stop) return 0;

    let next = head;
    let waitingSince = 0;
    const buf = new Uint8Array(codec.size);
    while (!stop.signal.aborted) {
      const h = ins.headExact();
      const batch: { seq: bigint; value: Record<string, unknown> }[] = [];
      if (h - next > capacity) {
        process.stderr.write(pc.yellow(`mmbus: skipped ${h - capacity - next} records overwritten before they could be read\n`));
        next = h - capacity;
      }
      while (next < h) {
        const bytes = ins.read(next, buf);
        if (bytes) {
          batch.push({ seq: next, value: codec.decode(bytes) });
          next++;
          waitingSince = 0;
          continue;
        }
        // not committed yet: wait a while for its publisher, then step over it (given up or overwritten)
        const now = Date.now();
        if (waitingSince === 0) waitingSince = now;
        if (now - waitingSince < UNCOMMITTED_PATIENCE_MS && next >= ins.headExact() - capacity) break;
        next++;
        waitingSince = 0;
      }
      printer.print(batch, false);
      await sleep(opts.interval, stop.signal);
    }
    return 0;
  } finally {
    stop?.dispose();
    ins.close();
  }
}
